/**
 * The load generator of a live run: one client per workload group, open loop (Poisson or
 * constant arrivals, rate steps) or closed loop (clients that think, then send), to
 * 127.0.0.1 only. Open-loop latency is measured from each request's *intended* send time,
 * as wrk2 does it (Gil Tene's coordinated omission): a late timer or a backed-up client
 * makes latency worse, never better. Arrival times come from the same seeded stream
 * (`arrivals/<group>`) and the same draws the simulator makes, so both worlds offer the
 * very same arrivals. Latency goes into the simulator's QuantileSketch; answers are
 * classified as the simulator classifies them (success, rejected, timed out, error,
 * reset, connect failure). Bounded in count (`maxRequests`, `maxInFlight`) and in time
 * (whatever is unanswered at `duration + drain` is abandoned and counted in flight).
 */
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import { keySampler, type KeyDistribution } from '../../core/discrete.js';
import { makeSampler, type Sampler } from '../../core/distributions.js';
import type { Rng } from '../../core/ports.js';
import { QuantileSketch } from '../../core/quantile-sketch.js';
import { rngStream } from '../../core/rng.js';
import type { ArrivalSpec } from '../../scenario/types.js';
import { CALLER_HEADER, CALLER_ZONE_HEADER, OUTCOME_HEADER } from '../fleet/instance.js';
import { timerMs } from '../realtime.js';

/** Relative error of the per-bucket sketches (the simulator's TIMELINE_ACCURACY). */
export const TIMELINE_ACCURACY = 0.01;

export interface LoadGroup {
  readonly name: string;
  /** The group's sidecar proxies (or any HTTP server): requests go to them round robin. */
  readonly ports: readonly number[];
  readonly zone: string;
  readonly arrival: ArrivalSpec;
  /** Client timeout, ms; absent = none. */
  readonly timeout?: number;
  /**
   * Request hash keys: each request carries a key drawn as the simulator draws the
   * workload's (stream `keys/<name>`, one draw per request issued) in the {@link KEY_HEADER}
   * header, for proxies configured with `hashKey: { header: x-meshsim-key }`.
   */
  readonly key?: KeyDistribution;
}

/** The header a request's hash key travels in (its decimal text, as the simulator hashes it). */
export const KEY_HEADER = 'x-meshsim-key';

export interface LoadOptions {
  readonly seed: number;
  /** Load is offered during [0, duration) ms of run time. */
  readonly duration: number;
  /** Requests intended before this are not measured. */
  readonly warmup: number;
  /** After `duration`, how long answers are still awaited, ms. */
  readonly drain: number;
  /** Timeline bucket width, ms. */
  readonly bucketMs: number;
  /** At most this many requests over the run, all groups together (default 5,000,000). */
  readonly maxRequests?: number;
  /** At most this many requests out at once; an arrival beyond it fails at once, counted `overflow` (default 20,000). */
  readonly maxInFlight?: number;
  /** The run clock: ms since the run's origin (default: since start()). */
  readonly now?: () => number;
  /** Stops the run early (Ctrl-C, an error elsewhere). */
  readonly signal?: AbortSignal;
}

export type Classification = 'success' | 'rejected' | 'timeout' | 'error' | 'reset' | 'connect-failure';

/** Counts of the requests intended in the measurement window [warmup, duration). */
export interface LoadCounts {
  total: number;
  succeeded: number;
  failed: number;
  rejected: number;
  timedOut: number;
  errors: number;
  resets: number;
  connectFailures: number;
  inFlight: number;
  /** Arrivals the load generator itself could not send (maxInFlight or maxRequests reached); counted failed. */
  overflow: number;
}

export interface GroupResult {
  readonly name: string;
  readonly window: LoadCounts;
  /** Over the whole run: issued = succeeded + failed + in flight. */
  readonly all: { issued: number; succeeded: number; failed: number; inFlight: number };
  /** Latency of the window's succeeded requests, ms, from intended send time (open loop) or send time (closed loop). */
  readonly latency: QuantileSketch;
  /** Per bucket of answer time: answers and successes of window requests, and their latency. */
  readonly timeline: { readonly requests: Float64Array; readonly succeeded: Float64Array; readonly latency: (QuantileSketch | undefined)[] };
  /** How late the timer fired on average behind intended send times, ms (open loop). */
  readonly meanSendLagMs: number;
}

/** Classifies an HTTP answer as the simulator classifies outcomes. */
export function classifyStatus(status: number, outcomeHeader: string | undefined): Classification {
  if (status >= 200 && status < 300) return 'success';
  if (outcomeHeader === 'rejected') return 'rejected';
  if (outcomeHeader === 'error') return 'error';
  // Answered by a proxy, not an instance: Envoy's codes.
  if (status === 504) return 'timeout';
  if (status === 503) return 'rejected';
  if (status === 502) return 'reset';
  return 'error';
}

/** The cause an Envoy-style local 503 body states, when it is a connection failure or reset. */
export function classifyLocalReply(body: string): Classification | undefined {
  if (body.includes('reset reason: connection failure')) return 'connect-failure';
  if (body.includes('reset reason: connection termination')) return 'reset';
  return undefined;
}

function classifyError(e: NodeJS.ErrnoException): Classification {
  if (e.code === 'ECONNREFUSED') return 'connect-failure';
  return 'reset';
}

class GroupRun {
  readonly window: LoadCounts = { total: 0, succeeded: 0, failed: 0, rejected: 0, timedOut: 0, errors: 0, resets: 0, connectFailures: 0, inFlight: 0, overflow: 0 };
  readonly all = { issued: 0, succeeded: 0, failed: 0, inFlight: 0 };
  readonly latency = new QuantileSketch();
  readonly tRequests: Float64Array;
  readonly tSucceeded: Float64Array;
  readonly tLatency: (QuantileSketch | undefined)[];
  private nextPort = 0;
  private readonly arrivals: Rng | undefined;
  private readonly think: Sampler | undefined;
  private readonly keys: (() => number) | undefined;
  private rate: number;
  /** Constant arrivals: the rate per second in force, when it took effect, and the arrivals since. */
  private perSecond: number;
  private phaseStart = 0;
  private phaseCount = 0;
  private stepIndex = 0;
  private nextStepAt: number;
  private timer: NodeJS.Timeout | undefined;
  readonly outstanding = new Set<ClientRequest>();
  lagSum = 0;
  lagCount = 0;
  /** The run is over: answers still coming are not counted (their requests stay in flight). */
  abandoned = false;

  constructor(
    readonly group: LoadGroup,
    private readonly opts: Required<Pick<LoadOptions, 'duration' | 'warmup' | 'bucketMs' | 'maxRequests' | 'maxInFlight'>> & { readonly seed: number },
    private readonly agent: Agent,
    private readonly clock: () => number,
    private readonly budget: { left: number },
  ) {
    const a = group.arrival;
    this.arrivals = a.process === 'closed' ? undefined : rngStream(opts.seed, `arrivals/${group.name}`);
    this.think = a.process === 'closed' ? makeSampler(a.think, rngStream(opts.seed, `think/${group.name}`)) : undefined;
    this.keys = group.key === undefined ? undefined : keySampler(group.key, rngStream(opts.seed, `keys/${group.name}`));
    this.rate = a.process === 'closed' ? 0 : a.rate / 1000;
    this.perSecond = a.process === 'closed' ? 0 : a.rate;
    this.nextStepAt = a.process === 'closed' || a.steps.length === 0 ? Infinity : a.steps[0].at;
    const n = Math.ceil((opts.duration + 1) / opts.bucketMs) + 1;
    this.tRequests = new Float64Array(n);
    this.tSucceeded = new Float64Array(n);
    this.tLatency = new Array<QuantileSketch | undefined>(n).fill(undefined);
  }

  start(): void {
    const a = this.group.arrival;
    if (a.process === 'closed') {
      for (let c = 0; c < a.clients; c++) this.later((this.think as Sampler)(), () => this.closedIssue());
      return;
    }
    this.openNext(0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const t of this.closedTimers) clearTimeout(t);
    this.closedTimers.clear();
  }

  // ---- Open loop: a timer walks the intended send times, sending every one that is due.

  /**
   * The next arrival after `from`, honouring rate steps, as the simulator schedules it:
   * Poisson gaps are memoryless (a step redraws from its time); a constant process at rate
   * r sends at s + k·1000/r from the time s its rate took effect (0, or the step's time).
   */
  private nextArrival(from: number): number {
    let t = from;
    for (;;) {
      let next: number;
      if (this.group.arrival.process === 'poisson') next = this.rate > 0 ? t + -Math.log(1 - (this.arrivals as Rng).next()) / this.rate : Infinity;
      else next = this.perSecond > 0 ? this.phaseStart + (this.phaseCount++ * 1000) / this.perSecond : Infinity;
      if (next < this.nextStepAt) return next;
      if (this.nextStepAt >= this.opts.duration) return Infinity;
      const a = this.group.arrival as Extract<ArrivalSpec, { process: 'poisson' | 'constant' }>;
      t = this.nextStepAt;
      this.rate = a.steps[this.stepIndex].rate / 1000;
      this.perSecond = a.steps[this.stepIndex++].rate;
      this.phaseStart = t;
      this.phaseCount = 0;
      this.nextStepAt = this.stepIndex < a.steps.length ? a.steps[this.stepIndex].at : Infinity;
    }
  }

  private due = 0;

  private openNext(from: number): void {
    this.due = this.nextArrival(from);
    this.schedule();
  }

  private schedule(): void {
    if (this.due >= this.opts.duration) return;
    this.timer = setTimeout(() => this.tick(), timerMs(this.due - this.clock()));
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.clock();
    while (this.due <= now && this.due < this.opts.duration) {
      this.lagSum += now - this.due;
      this.lagCount++;
      this.send(this.due);
      this.due = this.nextArrival(this.due);
    }
    this.schedule();
  }

  // ---- Closed loop: each client sends, waits for the answer, thinks, sends again.

  private readonly closedTimers = new Set<NodeJS.Timeout>();

  private later(delay: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.closedTimers.delete(t);
      fn();
    }, timerMs(delay));
    this.closedTimers.add(t);
  }

  private closedIssue(): void {
    const now = this.clock();
    if (now >= this.opts.duration) return;
    this.send(now, () => this.later((this.think as Sampler)(), () => this.closedIssue()));
  }

  // ---- One request.

  private send(intended: number, then?: () => void): void {
    const measured = intended >= this.opts.warmup && intended < this.opts.duration;
    // Drawn for every request issued, sent or not, as the simulator draws one per request.
    const key = this.keys?.();
    this.all.issued++;
    if (measured) this.window.total++;
    if (this.budget.left <= 0 || this.outstanding.size >= this.opts.maxInFlight) {
      if (measured) this.window.overflow++;
      this.conclude(measured, 'connect-failure', 0);
      then?.();
      return;
    }
    this.budget.left--;
    this.all.inFlight++;
    if (measured) this.window.inFlight++;
    const port = this.group.ports[this.nextPort];
    this.nextPort = this.nextPort + 1 === this.group.ports.length ? 0 : this.nextPort + 1;
    let done = false;
    let deadline: NodeJS.Timeout | undefined;
    const finish = (c: Classification): void => {
      if (done || this.abandoned) return;
      done = true;
      if (deadline) clearTimeout(deadline);
      this.outstanding.delete(req);
      this.all.inFlight--;
      if (measured) this.window.inFlight--;
      this.conclude(measured, c, this.clock() - intended);
      then?.();
    };
    const headers: Record<string, string> = { [CALLER_HEADER]: this.group.name, [CALLER_ZONE_HEADER]: this.group.zone };
    if (key !== undefined) headers[KEY_HEADER] = String(key);
    const req = request(
      { host: '127.0.0.1', port, path: '/', method: 'GET', agent: this.agent, headers },
      (res: IncomingMessage) => {
        const outcome = res.headers[OUTCOME_HEADER];
        const status = res.statusCode ?? 0;
        let c = classifyStatus(status, typeof outcome === 'string' ? outcome : undefined);
        // A proxy's own 503 says in its body why (Envoy's wording): a connect failure or a reset upstream.
        let body = '';
        if (c === 'rejected' && outcome === undefined) res.on('data', (d: Buffer) => (body += d.length < 200 ? d.toString() : ''));
        else res.resume();
        res.on('end', () => {
          if (body !== '') c = classifyLocalReply(body) ?? c;
          finish(c);
        });
        res.on('error', () => finish('reset'));
      },
    );
    this.outstanding.add(req);
    req.on('error', (e: NodeJS.ErrnoException) => finish(classifyError(e)));
    if (this.group.timeout !== undefined) {
      // The client's own deadline counts from the intended send time, like its latency. It
      // takes effect on the next check phase (setImmediate), after the poll phase has read
      // the sockets: Node runs expired timers first, so after a pause of this thread a
      // response already received would otherwise count as timed out (as in the proxy's router).
      deadline = setTimeout(
        () =>
          setImmediate(() => {
            if (done) return; // answered meanwhile: its socket stays in the pool
            finish('timeout');
            req.destroy();
          }),
        timerMs(intended + this.group.timeout - this.clock()),
      );
    }
    req.end();
  }

  private conclude(measured: boolean, c: Classification, latency: number): void {
    const ok = c === 'success';
    if (ok) this.all.succeeded++;
    else this.all.failed++;
    if (!measured) return;
    const b = Math.min(Math.floor(this.clock() / this.opts.bucketMs), this.tRequests.length - 1);
    if (b >= 0) {
      this.tRequests[b]++;
      if (ok) {
        this.tSucceeded[b]++;
        (this.tLatency[b] ??= new QuantileSketch(TIMELINE_ACCURACY)).add(Math.max(latency, 1e-6));
      }
    }
    const w = this.window;
    if (ok) {
      w.succeeded++;
      this.latency.add(Math.max(latency, 1e-6));
      return;
    }
    w.failed++;
    if (c === 'rejected') w.rejected++;
    else if (c === 'timeout') w.timedOut++;
    else if (c === 'error') w.errors++;
    else if (c === 'reset') w.resets++;
    else w.connectFailures++;
  }

  result(): GroupResult {
    return {
      name: this.group.name,
      window: { ...this.window },
      all: { ...this.all },
      latency: this.latency,
      timeline: { requests: this.tRequests, succeeded: this.tSucceeded, latency: this.tLatency },
      meanSendLagMs: this.lagCount > 0 ? this.lagSum / this.lagCount : 0,
    };
  }
}

/**
 * Offers the groups' load for `duration` ms, waits up to `drain` ms more for answers, and
 * returns what each group measured. Resolves early (with what was measured) when `signal` aborts.
 */
export async function generateLoad(groups: readonly LoadGroup[], options: LoadOptions): Promise<GroupResult[]> {
  const origin = performance.now();
  const clock = options.now ?? (() => performance.now() - origin);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 1000 });
  const budget = { left: options.maxRequests ?? 5_000_000 };
  const opts = {
    seed: options.seed,
    duration: options.duration,
    warmup: options.warmup,
    bucketMs: options.bucketMs,
    maxRequests: options.maxRequests ?? 5_000_000,
    maxInFlight: options.maxInFlight ?? 20_000,
  };
  for (const g of groups) {
    if (g.ports.length === 0) throw new Error(`load group ${g.name}: no port to send to`);
  }
  const runs = groups.map((g) => new GroupRun(g, opts, agent, clock, budget));
  for (const r of runs) r.start();
  await new Promise<void>((resolve) => {
    const end = options.duration + options.drain;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', finish);
      resolve();
    };
    // Done when the load has been offered and every answer is in, or at the end of the drain.
    const check = (): void => {
      const now = clock();
      const quiet = now >= options.duration && runs.every((r) => r.outstanding.size === 0);
      if (quiet || now >= end) finish();
      else timer = setTimeout(check, Math.min(50, Math.max(1, (now < options.duration ? options.duration : end) - now)));
    };
    if (options.signal?.aborted) return finish();
    options.signal?.addEventListener('abort', finish);
    check();
  });
  // What is still unanswered is abandoned: counted in flight, as the simulator counts it.
  for (const r of runs) {
    r.stop();
    r.abandoned = true;
    for (const req of r.outstanding) req.destroy();
  }
  const results = runs.map((r) => r.result());
  agent.destroy();
  return results;
}
