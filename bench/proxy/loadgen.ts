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
import { performance } from 'node:perf_hooks';
import { connect, type Socket } from 'node:net';

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

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) {
    process.stderr.write(`loadgen: ${name} is required\n`);
    process.exit(2);
  }
  return v;
}
function positive(name: string, fallback?: string): number {
  const v = Number(arg(name, fallback));
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`loadgen: ${name} must be a positive number, got ${arg(name, fallback)}\n`);
    process.exit(2);
  }
  return v;
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

const url = new URL(arg('--url'));
if (url.hostname !== '127.0.0.1') {
  process.stderr.write(`loadgen: --url must be on 127.0.0.1 (loopback only), got ${url.hostname}\n`);
  process.exit(2);
}
const rate = positive('--rate');
const connections = Math.round(positive('--connections', '50'));
const duration = positive('--duration', '10');
const warmup = Number(arg('--warmup', '3'));
const grace = positive('--grace', '2');

const total = Math.ceil(rate * (warmup + duration));
const firstMeasured = Math.ceil(rate * warmup);
const intervalMs = 1000 / rate;
// More outstanding than this and the target is not keeping up: later requests are dropped
// (counted, and reported as +∞ latency) rather than queued without bound.
const cap = Math.max(connections * 20, Math.ceil(rate));

const sendLag = new Float64Array(total).fill(NaN);
const latency = new Float64Array(total).fill(NaN);
const service = new Float64Array(total).fill(NaN);
const status = new Uint16Array(total); // 0 = no answer (yet), 1 = error
const sentAt = new Float64Array(total);
let outstanding = 0; // sent or queued, not yet answered
let next = 0;
let dropped = 0;
let firstError: string | undefined;
let t0 = 0;

const REQUEST = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: meshsim-bench-loadgen\r\n\r\n`, 'latin1');

/** Requests due while every connection was busy, oldest first (a ring of request indices). */
const waiting = new Int32Array(total);
let waitHead = 0;
let waitTail = 0;

function finish(i: number, code: number): void {
  const now = performance.now();
  latency[i] = now - (t0 + i * intervalMs);
  service[i] = now - sentAt[i];
  status[i] = code;
  outstanding--;
}
function fail(i: number, error: Error | string): void {
  status[i] = 1;
  firstError ??= String(error);
  outstanding--;
}

/**
 * One keep-alive connection carrying one request at a time, with just enough of an
 * HTTP/1.1 response parser for this bench: status line, Content-Length or chunked body,
 * Connection: close. Answers of any size are read and thrown away.
 */
class Connection {
  private socket: Socket | undefined;
  private current = -1; // index of the request in flight, -1 when idle
  private head: Buffer | undefined; // header bytes seen so far (when split across reads)
  private code = 0;
  private bodyLeft = 0; // bytes of body (or of the current chunk + CRLF) still to skip
  private chunked = false;
  private chunkLine: Buffer | undefined; // partial chunk-size line
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
    return this.current < 0 && this.socket !== undefined && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  send(i: number): void {
    this.current = i;
    this.state = 'head';
    this.head = undefined;
    this.closeAfter = false;
    sentAt[i] = performance.now();
    this.socket!.write(REQUEST);
  }

  private lost(error: Error | string): void {
    if (this.socket === undefined) return;
    this.socket.removeAllListeners();
    this.socket.on('error', () => {});
    this.socket.destroy();
    this.socket = undefined;
    if (this.current >= 0) {
      fail(this.current, error);
      this.current = -1;
    }
    if (!stopping) {
      this.ready = this.connect().then(
        () => pump(),
        () => undefined,
      );
    }
  }

  private done(): void {
    const i = this.current;
    this.current = -1;
    finish(i, this.code);
    if (this.closeAfter) this.lost('connection: close');
    else takeWaiting(this);
  }

  private onData(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      if (this.current < 0) {
        this.lost('unexpected bytes after a complete response');
        return;
      }
      if (this.state === 'head') {
        const buf = this.head ? Buffer.concat([this.head, data.subarray(at)]) : data.subarray(at);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          this.head = Buffer.from(buf);
          return;
        }
        const consumed = end + 4 - (this.head ? this.head.length : 0);
        this.head = undefined;
        this.parseHead(buf.toString('latin1', 0, end));
        at += consumed;
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
      // chunk-size or trailers: line-oriented
      const nl = data.indexOf(10, at);
      const piece = data.subarray(at, nl < 0 ? data.length : nl + 1);
      at += piece.length;
      const line = this.chunkLine ? Buffer.concat([this.chunkLine, piece]) : piece;
      if (nl < 0) {
        this.chunkLine = Buffer.from(line);
        continue;
      }
      this.chunkLine = undefined;
      const text = line.toString('latin1').trim();
      if (this.state === 'chunk-size') {
        const size = parseInt(text, 16);
        if (!Number.isFinite(size)) {
          this.lost(`bad chunk size line ${JSON.stringify(text)}`);
          return;
        }
        if (size === 0) this.state = 'trailers';
        else {
          this.bodyLeft = size + 2; // data + CRLF
          this.state = 'chunk-data';
        }
      } else if (text === '') this.done(); // end of trailers
    }
  }

  private parseHead(head: string): void {
    this.code = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(lower);
    this.closeAfter = /\r\nconnection:\s*close/.test(lower);
    const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    if (this.chunked) this.state = 'chunk-size';
    else {
      this.bodyLeft = cl ? Number(cl[1]) : 0;
      this.state = 'body';
      if (this.bodyLeft === 0) this.done();
    }
  }
}

const pool: Connection[] = Array.from({ length: connections }, () => new Connection());
let stopping = false;

function takeWaiting(c: Connection): void {
  if (waitHead < waitTail) c.send(waiting[waitHead++]);
  else pump();
}

/** Sends every request whose intended time has come, on an idle connection or to the waiting line. */
function pump(): void {
  const now = performance.now();
  while (next < total && t0 + next * intervalMs <= now) {
    const i = next++;
    if (outstanding >= cap) {
      dropped += i >= firstMeasured ? 1 : 0;
      continue;
    }
    sendLag[i] = now - (t0 + i * intervalMs);
    outstanding++;
    const c = idleConnection();
    if (c) c.send(i);
    else waiting[waitTail++] = i;
  }
}
let rr = 0;
function idleConnection(): Connection | undefined {
  for (let k = 0; k < connections; k++) {
    const c = pool[(rr + k) % connections];
    if (c.idle) {
      rr = (rr + k + 1) % connections;
      return c;
    }
  }
  return undefined;
}

// Open every connection before the clock starts, so the first scheduled requests do not
// pay the TCP handshakes.
try {
  await Promise.all(pool.map((c) => c.ready));
} catch (e) {
  process.stderr.write(`loadgen: cannot connect to ${url.host}: ${(e as Error).message}\n`);
  process.exit(1);
}

t0 = performance.now() + 20;
let cpuAtWindow: NodeJS.CpuUsage | undefined;
let tWindow = 0;
const windowStart = setTimeout(() => {
  cpuAtWindow = process.cpuUsage();
  tWindow = performance.now();
}, 20 + warmup * 1000);
const ticker = setInterval(() => {
  pump();
  if (next >= total) clearInterval(ticker);
}, 1);

const end = t0 + (warmup + duration) * 1000;
const deadline = end + grace * 1000;
await new Promise<void>((resolve) => {
  const check = setInterval(() => {
    const now = performance.now();
    if ((next >= total && outstanding === 0 && now >= end) || now >= deadline) {
      clearInterval(check);
      resolve();
    }
  }, 5);
});
clearTimeout(windowStart);
stopping = true;
const cpu = process.cpuUsage(cpuAtWindow);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const windowSeconds = (Math.min(performance.now(), end) - tWindow) / 1000;

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
const result: LoadgenResult = {
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
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
