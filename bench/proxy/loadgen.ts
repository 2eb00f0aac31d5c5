/**
 * Open-loop, fixed-rate HTTP load generator of `npm run bench:proxy` (wrk2 is not
 * installable here; this follows wrk2's method). Request i is due at its intended send time
 * t0 + i/rate whatever happened to the ones before it, and its latency is measured from
 * that intended time to the end of its response, so a stall of the target shows as the
 * latency of every request that should have been sent during it (no coordinated
 * omission). Requests go out over `--connections` keep-alive connections, one request
 * at a time on each (no pipelining); a request due while every connection is busy waits
 * in line, and that wait counts.
 *
 * The client is a minimal HTTP/1.1 one on node:net (status line, Content-Length or
 * chunked bodies, Connection: close) rather than undici: on this 2-core machine, shared
 * with the backend and the proxy under test, an undici 7 Pool generator fell behind and
 * queued requests for hundreds of ms at 5–20k requests/s, where this one keeps up with a
 * fraction of a core (its CPU use is reported).
 *
 * Due requests are sent from a 1 ms interval timer and whenever a response completes,
 * so sends are late by at most ~1 ms without spinning a core; how late (the send lag) is
 * reported, to show what the generator itself adds. The first `--warmup` seconds run at
 * the same rate and are not counted.
 *
 * Usage: node --import tsx bench/proxy/loadgen.ts --url http://127.0.0.1:PORT/ --rate N
 *          [--connections 50] [--duration 10] [--warmup 3] [--grace 2]
 * Prints one JSON line (LoadgenResult) on stdout. 127.0.0.1 only; bounded in count
 * (rate × (warmup + duration)) and in time (+ grace); exits by itself.
 */
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface LoadgenResult {
  readonly url: string;
  readonly rate: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Requests due in the measured window, and what became of them. */
  readonly measured: { readonly due: number; readonly ok: number; readonly non2xx: number; readonly errors: number; readonly unanswered: number; readonly dropped: number };
  /** Completed responses in the window per second of the window. */
  readonly achievedRate: number;
  /** From intended send time to response end, ms; unanswered and dropped requests count as +∞. */
  readonly latencyMs: Percentiles;
  /** From the actual send to response end, ms (what a closed-loop tool would report). */
  readonly serviceMs: Percentiles;
  /** How late the generator sent requests after their intended time, ms. */
  readonly sendLagMs: Percentiles;
  /** CPU the generator used during the window, in cores (user + system). */
  readonly generatorCpuCores: number;
  /** True when more than `cap` requests were outstanding and later ones were dropped. */
  readonly overloaded: boolean;
  readonly firstError?: string;
}
export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadOptions {
  /** http://127.0.0.1:PORT/path — loopback only. */
  readonly url: string;
  /** Requests per second. */
  readonly rate: number;
  readonly connections: number;
  /** Measured seconds, after the warm-up. */
  readonly duration: number;
  /** Seconds at the same rate before the measurement, not counted. */
  readonly warmup: number;
  /** Seconds to wait for answers after the last request is due. */
  readonly grace: number;
}

/** Percentiles (nearest rank) of a sample; NaN entries are skipped, +∞ kept. */
export function percentiles(values: Float64Array): Percentiles {
  const xs = values.filter((x) => !Number.isNaN(x)).sort();
  const n = xs.length;
  if (n === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const at = (q: number) => xs[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (const x of xs) sum += x;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: xs[n - 1], mean: sum / n };
}

/** Runs the load and resolves with what was measured; rejects when it cannot connect. */
export async function runLoad(o: LoadOptions): Promise<LoadgenResult> {
  const url = new URL(o.url);
  if (url.hostname !== '127.0.0.1') throw new Error(`loadgen: the url must be on 127.0.0.1 (loopback only), got ${url.hostname}`);
  const { rate, connections, duration, warmup, grace } = o;
  const total = Math.ceil(rate * (warmup + duration));
  const firstMeasured = Math.ceil(rate * warmup);
  const intervalMs = 1000 / rate;
  // More outstanding than this and the target is not keeping up: later requests are
  // dropped (counted, and reported as +∞ latency) rather than queued without bound.
  const cap = Math.max(connections * 20, Math.ceil(rate));

  const sendLag = new Float64Array(total).fill(NaN);
  const latency = new Float64Array(total).fill(NaN);
  const service = new Float64Array(total).fill(NaN);
  const status = new Uint16Array(total); // 0 = no answer (yet), 1 = error, else the HTTP status
  const sentAt = new Float64Array(total);
  let outstanding = 0; // sent or waiting, not yet answered
  let next = 0;
  let dropped = 0;
  let firstError: string | undefined;
  let t0 = 0;
  let stopping = false;

  const REQUEST = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: meshsim-bench-loadgen\r\n\r\n`, 'latin1');

  // Requests due while every connection was busy, oldest first (indices, each once).
  const waiting = new Int32Array(total);
  let waitHead = 0;
  let waitTail = 0;

  const finish = (i: number, code: number): void => {
    const now = performance.now();
    latency[i] = now - (t0 + i * intervalMs);
    service[i] = now - sentAt[i];
    status[i] = code;
    outstanding--;
  };
  const fail = (i: number, error: Error | string): void => {
    status[i] = 1;
    firstError ??= String(error);
    outstanding--;
  };

  /**
   * One keep-alive connection carrying one request at a time, with just enough of an
   * HTTP/1.1 response parser for this bench: status line, Content-Length or chunked
   * body, Connection: close. Bodies of any size are read and thrown away.
   */
  class Connection {
    private socket: Socket | undefined;
    private current = -1; // index of the request in flight, -1 when idle
    private head: Buffer | undefined; // header bytes so far, when split across reads
    private code = 0;
    private bodyLeft = 0; // bytes of the body (or of the chunk + CRLF) still to skip
    private line: Buffer | undefined; // partial chunk-size or trailer line
    private closeAfter = false;
    private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'trailers' = 'head';
    ready: Promise<void>;

    constructor() {
      this.ready = this.connect();
    }

    private connect(): Promise<void> {
      return new Promise((resolveConnect, rejectConnect) => {
        const socket = connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true });
        this.socket = socket;
        socket.once('connect', () => resolveConnect());
        socket.on('data', (data: Buffer) => this.onData(data));
        socket.on('error', (e) => {
          rejectConnect(e);
          this.lost(e);
        });
        socket.on('close', () => this.lost('connection closed by the server'));
      });
    }

    get idle(): boolean {
      return this.current < 0 && this.socket !== undefined && this.socket.readyState === 'open';
    }

    send(i: number): void {
      this.current = i;
      this.state = 'head';
      this.head = undefined;
      this.closeAfter = false;
      sentAt[i] = performance.now();
      this.socket!.write(REQUEST);
    }

    close(): void {
      this.socket?.removeAllListeners();
      this.socket?.destroy();
      this.socket = undefined;
    }

    private lost(error: Error | string): void {
      if (this.socket === undefined) return;
      this.close();
      if (this.current >= 0) {
        fail(this.current, error);
        this.current = -1;
      }
      // Reconnect after a pause (a target that went away is not hammered in a tight loop).
      if (!stopping)
        this.ready = new Promise<void>((r) => setTimeout(r, 10))
          .then(() => (stopping ? undefined : this.connect()))
          .then(() => this.takeNext(), () => undefined);
    }

    private done(): void {
      const i = this.current;
      this.current = -1;
      finish(i, this.code);
      if (this.closeAfter) this.lost('connection: close');
      else this.takeNext();
    }

    /** Idle now: the oldest request waiting in line, if any, else whatever has come due. */
    takeNext(): void {
      if (!this.idle) return;
      if (waitHead < waitTail) this.send(waiting[waitHead++]);
      else pump();
    }

    private onData(data: Buffer): void {
      let at = 0;
      while (at < data.length) {
        if (this.current < 0) {
          this.lost('bytes after a complete response');
          return;
        }
        if (this.state === 'head') {
          const buf = this.head ? Buffer.concat([this.head, data.subarray(at)]) : data.subarray(at);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            this.head = Buffer.from(buf);
            return;
          }
          at += end + 4 - (this.head ? this.head.length : 0);
          this.head = undefined;
          this.parseHead(buf.toString('latin1', 0, end));
          continue;
        }
        if (this.state === 'body' || this.state === 'chunk-data') {
          const take = Math.min(this.bodyLeft, data.length - at);
          this.bodyLeft -= take;
          at += take;
          if (this.bodyLeft === 0) {
            if (this.state === 'body') this.done();
            else this.state = 'chunk-size';
          }
          continue;
        }
        // chunk-size and trailers: one line at a time
        const nl = data.indexOf(10, at);
        const piece = data.subarray(at, nl < 0 ? data.length : nl + 1);
        at += piece.length;
        const line = this.line ? Buffer.concat([this.line, piece]) : piece;
        if (nl < 0) {
          this.line = Buffer.from(line);
          continue;
        }
        this.line = undefined;
        const text = line.toString('latin1').trim();
        if (this.state === 'chunk-size') {
          const size = parseInt(text, 16);
          if (!Number.isFinite(size) || size < 0) {
            this.lost(`bad chunk size line ${JSON.stringify(text)}`);
            return;
          }
          if (size === 0) this.state = 'trailers';
          else {
            this.bodyLeft = size + 2; // data + CRLF
            this.state = 'chunk-data';
          }
        } else if (text === '') this.done(); // the empty line after the trailers
      }
    }

    private parseHead(head: string): void {
      this.code = Number(head.slice(9, 12)) || 1;
      const lower = head.toLowerCase();
      this.closeAfter = /\r\nconnection:[^\r]*close/.test(lower);
      if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) this.state = 'chunk-size';
      else {
        const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
        this.bodyLeft = cl ? Number(cl[1]) : 0;
        this.state = 'body';
        if (this.bodyLeft === 0) this.done();
      }
    }
  }

  const pool: Connection[] = Array.from({ length: connections }, () => new Connection());
  let rr = 0;
  const idleConnection = (): Connection | undefined => {
    for (let k = 0; k < connections; k++) {
      const c = pool[(rr + k) % connections];
      if (c.idle) {
        rr = (rr + k + 1) % connections;
        return c;
      }
    }
    return undefined;
  };

  /** Sends every request whose intended time has come: on an idle connection, or in line. */
  function pump(): void {
    const now = performance.now();
    while (next < total && t0 + next * intervalMs <= now) {
      const i = next++;
      if (outstanding >= cap) {
        if (i >= firstMeasured) dropped++;
        continue;
      }
      sendLag[i] = now - (t0 + i * intervalMs);
      outstanding++;
      const c = idleConnection();
      if (c) c.send(i);
      else waiting[waitTail++] = i;
    }
  }

  try {
    // Open every connection before the clock starts, so the first scheduled requests do
    // not pay the TCP handshakes.
    try {
      await Promise.all(pool.map((c) => c.ready));
    } catch (e) {
      throw new Error(`loadgen: cannot connect to ${url.host}: ${(e as Error).message}`);
    }

    t0 = performance.now() + 20;
    const end = t0 + (warmup + duration) * 1000;
    let cpuWindow: NodeJS.CpuUsage | undefined;
    let tWindow = 0;
    let cpuSeconds = NaN;
    let windowSeconds = NaN;
    const windowStart = setTimeout(() => {
      cpuWindow = process.cpuUsage();
      tWindow = performance.now();
    }, 20 + warmup * 1000);
    const windowEnd = setTimeout(() => {
      const cpu = process.cpuUsage(cpuWindow);
      cpuSeconds = (cpu.user + cpu.system) / 1e6;
      windowSeconds = (performance.now() - tWindow) / 1000;
    }, 20 + (warmup + duration) * 1000);
    const ticker = setInterval(() => {
      pump();
      if (next >= total) clearInterval(ticker);
    }, 1);

    const deadline = end + grace * 1000;
    await new Promise<void>((resolveDone) => {
      const check = setInterval(() => {
        const now = performance.now();
        if ((next >= total && outstanding === 0 && now >= end) || now >= deadline) {
          clearInterval(check);
          resolveDone();
        }
      }, 5);
    });
    clearInterval(ticker);
    clearTimeout(windowStart);
    clearTimeout(windowEnd);
    if (Number.isNaN(cpuSeconds) && cpuWindow !== undefined) {
      // The window's end timer did not fire before the last answer (a late timer on a busy machine).
      const cpu = process.cpuUsage(cpuWindow);
      cpuSeconds = (cpu.user + cpu.system) / 1e6;
      windowSeconds = (performance.now() - tWindow) / 1000;
    }

    let ok = 0;
    let non2xx = 0;
    let errors = 0;
    let unanswered = 0;
    for (let i = firstMeasured; i < total; i++) {
      const s = status[i];
      if (s === 0) {
        if (!Number.isNaN(sendLag[i])) unanswered++;
        latency[i] = Infinity; // unanswered or dropped: as late as can be
      } else if (s === 1) errors++;
      else if (s >= 200 && s < 300) ok++;
      else non2xx++;
    }
    const window = (a: Float64Array) => a.subarray(firstMeasured);
    return {
      url: url.href,
      rate,
      connections,
      durationSeconds: duration,
      warmupSeconds: warmup,
      measured: { due: total - firstMeasured, ok, non2xx, errors, unanswered, dropped },
      achievedRate: (ok + non2xx) / duration,
      latencyMs: percentiles(window(latency)),
      serviceMs: percentiles(window(service)),
      sendLagMs: percentiles(window(sendLag)),
      generatorCpuCores: windowSeconds > 0 ? cpuSeconds / windowSeconds : NaN,
      overloaded: dropped > 0,
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    stopping = true;
    for (const c of pool) c.close();
  }
}

class UsageError extends Error {}

function cliOptions(argv: readonly string[]): LoadOptions {
  const value = (name: string, fallback?: string): string => {
    const i = argv.indexOf(name);
    const v = i >= 0 ? argv[i + 1] : fallback;
    if (v === undefined) throw new UsageError(`loadgen: ${name} is required`);
    return v;
  };
  const num = (name: string, fallback: string | undefined, min: number): number => {
    const v = Number(value(name, fallback));
    if (!Number.isFinite(v) || v < min) throw new UsageError(`loadgen: ${name} must be a number ≥ ${min}, got ${value(name, fallback)}`);
    return v;
  };
  return {
    url: value('--url'),
    rate: num('--rate', undefined, 1),
    connections: Math.round(num('--connections', '50', 1)),
    duration: num('--duration', '10', 0.1),
    warmup: num('--warmup', '3', 0),
    grace: num('--grace', '2', 0),
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const result = await runLoad(cliOptions(process.argv.slice(2)));
    process.stdout.write(JSON.stringify(result) + '\n');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
