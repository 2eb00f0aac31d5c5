/**
 * One backend instance of a live run: a real HTTP/1.1 server on 127.0.0.1 that behaves as
 * the simulator's instance model does (src/sim/world.ts, the server side): `slots` worker
 * slots, a FIFO wait queue bounded at `queue` (503 at once when full), service times drawn
 * from the scenario's distribution with the instance's own seeded stream, then the
 * service's downstream calls (in order, `parallel` copies at once, each with its
 * probability) while the slot stays held, and the scheduled faults:
 *
 * - crash (and flap): the listener closes and every open socket is reset; what the
 *   instance held is gone; when the window ends it listens again on the same port, empty;
 * - hang: accepts and never answers (what it held is never answered either);
 * - slow: service time × factor, plus extra drawn work;
 * - cold start (an instance joining by a membership change): service time × a factor that
 *   falls back to 1 linearly, as the simulator models it;
 * - error: a fraction of answers carry the fault's status (at once with `fast`);
 * - pause: a stopped world: nothing starts, nothing finishes, work in progress stops (and
 *   goes on for what it had left when the pause ends), arrivals wait (beyond the bound)
 *   until the pause ends, then what the bound cannot hold is answered 503;
 * - partition (on requests tagged with their caller, see CALLER_HEADER): `drop` swallows
 *   the request (never answered), `refuse` resets its connection (the proxy sees a reset:
 *   a loopback listener cannot refuse one caller and accept another).
 *
 * Health-check probes (GET HEALTH_PATH) meet the same faults — refused when crashed,
 * swallowed by a hang or a dropping partition, held by a pause, failed by an error fault —
 * but are answered without taking a worker slot, as the simulator answers them.
 *
 * Every answer says what it was in OUTCOME_HEADER, so the load generator classifies
 * rejections and fault errors as the simulator does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { makeSampler, type Sampler } from '../../core/distributions.js';
import type { DistSpec } from '../../core/distribution-spec.js';
import type { Rng } from '../../core/ports.js';
import { rngStream } from '../../core/rng.js';
import { timerDelay } from '../realtime.js';

/** Who sent a request (a workload group or a calling service), for partitions. */
export const CALLER_HEADER = 'x-meshsim-from';
/** The caller's zone, for zone partitions. */
export const CALLER_ZONE_HEADER = 'x-meshsim-zone';
/** What an answer was: ok, rejected (full queue), error (a fault or a failed dependency). */
export const OUTCOME_HEADER = 'x-meshsim-outcome';
/** Which instance answered: `<service>/<index>`. */
export const INSTANCE_HEADER = 'x-meshsim-instance';

/** The path active health checks probe (the proxy's default). */
export const HEALTH_PATH = '/healthz';

/** Status of an answer whose downstream call failed (as the simulator's). */
export const DEPENDENCY_FAILED_STATUS = 503;

/** A downstream call step, as the scenario's `calls` gives it. */
export interface InstanceCall {
  readonly service: string;
  readonly parallel: number;
  readonly probability: number;
  readonly onFailure: 'fail' | 'tolerate';
}

export interface InstanceConfig {
  readonly service: string;
  readonly index: number;
  readonly zone: string;
  /** Worker slots; Infinity = unbounded. */
  readonly slots: number;
  /** Wait-queue bound; Infinity = unbounded, 0 = no queue. */
  readonly queue: number;
  readonly serviceTime: DistSpec;
  /** The run's seed: service times come from stream `service/<service>/<index>`. */
  readonly seed: number;
  readonly calls?: readonly InstanceCall[];
  /**
   * It joins the service at run time `joinAt` (a membership change) cold: a service time
   * starting then is `factor`× its draw, back to 1× linearly over `for` ms (the simulator's
   * cold start). Absent: warm from the start.
   */
  readonly coldStart?: { readonly factor: number; readonly for: number; readonly joinAt: number };
}

/** Makes one downstream call to `service`; resolves true when it succeeded. */
export type CallFn = (service: string) => Promise<boolean>;

/** A fault acting on this instance now. */
export type InstanceFault =
  | { readonly kind: 'crash' | 'hang' | 'pause' }
  | { readonly kind: 'slow'; readonly factor?: number; readonly extra?: Sampler }
  | { readonly kind: 'error'; readonly rate: number; readonly status: number; readonly fast: boolean; readonly rng: Rng }
  | { readonly kind: 'partition'; readonly mode: 'drop' | 'refuse'; readonly matches: (caller: string | undefined, zone: string | undefined) => boolean };

export interface InstanceStats {
  readonly service: string;
  readonly index: number;
  /** Requests that reached the instance (its listener was up). */
  readonly arrivals: number;
  /** Requests whose service completed (downstream calls included). */
  readonly served: number;
  /** Their total time holding a slot, ms. */
  readonly busyMs: number;
  readonly rejected: number;
  readonly errors: number;
  /** Requests lost to crashes (reset) and hangs/drops (never answered). */
  readonly reset: number;
  readonly lost: number;
}

interface Job {
  readonly res: ServerResponse;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  /** When its work is due (run time, ms), while `timer` is pending. */
  dueAt: number;
  /** Work left when a pause froze it (ms), or −1. */
  left: number;
  gone: boolean;
}

interface InstanceStreams {
  readonly sample: Sampler;
  readonly calls: Rng;
}

/** An instance's random streams from their start, named as the simulator names them. */
function instanceStreams(config: InstanceConfig): InstanceStreams {
  return {
    sample: makeSampler(config.serviceTime, rngStream(config.seed, `service/${config.service}/${config.index}`)),
    calls: rngStream(config.seed, `calls/${config.service}/${config.index}`),
  };
}

export class BackendInstance {
  private server: Server | undefined;
  private portNumber = 0;
  private readonly sockets = new Set<Socket>();
  /** Its random streams: service times, and which downstream calls it makes (see {@link instanceStreams}). */
  private streams: InstanceStreams;
  private busy = 0;
  private readonly queue: Job[] = [];
  private readonly held = new Set<Job>();
  /** Answers never to be given (hang, drop); destroyed on close. */
  private readonly limbo = new Set<ServerResponse>();
  /** Jobs whose work a pause stopped (their work left in `left`), resumed when it ends. */
  private frozen: Job[] = [];
  /** Work done during a pause (its calls not made yet, or made: `failed` known), carried on when it ends. */
  private readonly deferred: { readonly job: Job; readonly failed?: boolean }[] = [];
  private readonly faults: InstanceFault[] = [];
  private down = 0;
  /** Probes that arrived during a pause, answered when it ends. */
  private heldProbes: ServerResponse[] = [];
  private closed = false;
  private counts = { arrivals: 0, served: 0, busyMs: 0, rejected: 0, errors: 0, reset: 0, lost: 0 };

  constructor(
    readonly config: InstanceConfig,
    private readonly call: CallFn = () => Promise.resolve(true),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.streams = instanceStreams(config);
  }

  /**
   * Its random streams from the start again (the run starts: the warm-up's requests drew
   * service times the simulator's twin of the run never draws).
   */
  restartStreams(): void {
    this.streams = instanceStreams(this.config);
  }

  get port(): number {
    return this.portNumber;
  }

  get address(): string {
    return `127.0.0.1:${this.portNumber}`;
  }

  /** Requests in service and waiting. */
  get load(): { readonly busy: number; readonly queued: number } {
    return { busy: this.busy, queued: this.queue.length };
  }

  stats(): InstanceStats {
    return { service: this.config.service, index: this.config.index, ...this.counts };
  }

  /**
   * Zeroes the counters (the run starts: warm-up requests are not the run's); busy time is
   * counted from then on within `window` (run time, ms), everywhere without one.
   */
  resetStats(window: { readonly from: number; readonly to: number } = { from: -Infinity, to: Infinity }): void {
    this.counts = { arrivals: 0, served: 0, busyMs: 0, rejected: 0, errors: 0, reset: 0, lost: 0 };
    this.window = window;
  }

  private window: { readonly from: number; readonly to: number } = { from: -Infinity, to: Infinity };

  /** Starts listening (on an ephemeral port the first time, on the same port after a crash). */
  async listen(): Promise<void> {
    const server = createServer({ keepAlive: true, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 120_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_e, s: Socket) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.portNumber, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portNumber = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** A fault window opens on this instance. */
  async faultOn(fault: InstanceFault): Promise<void> {
    this.faults.push(fault);
    if (fault.kind === 'crash') {
      if (this.down++ === 0) await this.crash();
    } else if (fault.kind === 'hang' && this.faults.filter((f) => f.kind === 'hang').length === 1) {
      this.dropHeld();
    } else if (fault.kind === 'pause' && this.faults.filter((f) => f.kind === 'pause').length === 1) {
      this.freezeWork();
    }
  }

  /** The window of `fault` closes. */
  async faultOff(fault: InstanceFault): Promise<void> {
    const i = this.faults.indexOf(fault);
    if (i < 0) return;
    this.faults.splice(i, 1);
    if (fault.kind === 'crash') {
      if (--this.down === 0 && !this.closed) await this.restart();
    } else if (fault.kind === 'pause' && !this.has('pause')) {
      // The work the pause stopped goes on for what it had left (a job a crash or hang took meanwhile is gone).
      for (const job of this.frozen.splice(0)) {
        if (job.gone || !this.held.has(job)) continue;
        const left = job.left;
        job.left = -1;
        this.workFor(job, left);
      }
      for (const d of this.deferred.splice(0)) {
        if (d.failed === undefined) this.afterWork(d.job);
        else this.finish(d.job, d.failed);
      }
      while (this.queue.length > 0 && this.busy < this.config.slots) this.start(this.queue.shift() as Job);
      while (this.queue.length > this.config.queue) this.answer((this.queue.pop() as Job).res, 503, 'rejected');
      for (const res of this.heldProbes.splice(0)) this.answerProbe(res);
    }
  }

  private has(kind: InstanceFault['kind']): boolean {
    return this.faults.some((f) => f.kind === kind);
  }

  private topError(): Extract<InstanceFault, { kind: 'error' }> | undefined {
    for (let i = this.faults.length - 1; i >= 0; i--) {
      const f = this.faults[i];
      if (f.kind === 'error') return f;
    }
    return undefined;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // bodies are read and discarded
    if (this.closed || this.down > 0) {
      req.socket.destroy();
      return;
    }
    const probe = req.url === HEALTH_PATH;
    if (!probe) this.counts.arrivals++;
    for (const f of this.faults) {
      if (f.kind !== 'partition') continue;
      const caller = req.headers[CALLER_HEADER];
      const zone = req.headers[CALLER_ZONE_HEADER];
      if (!f.matches(typeof caller === 'string' ? caller : undefined, typeof zone === 'string' ? zone : undefined)) continue;
      if (f.mode === 'drop') {
        if (!probe) this.counts.lost++;
        this.limbo.add(res);
        res.on('close', () => this.limbo.delete(res));
      } else {
        if (!probe) this.counts.reset++;
        req.socket.resetAndDestroy();
      }
      return;
    }
    if (this.has('hang')) {
      if (!probe) this.counts.lost++;
      this.limbo.add(res);
      res.on('close', () => this.limbo.delete(res));
      return;
    }
    if (probe) {
      if (this.has('pause')) this.heldProbes.push(res);
      else this.answerProbe(res);
      return;
    }
    const job: Job = { res, startedAt: 0, timer: undefined, dueAt: 0, left: -1, gone: false };
    if (this.has('pause')) {
      this.queue.push(job);
      return;
    }
    const err = this.topError();
    if (err?.fast && (err.rate >= 1 || err.rng.next() < err.rate)) {
      this.answer(res, err.status, 'error');
      return;
    }
    if (this.busy < this.config.slots) this.start(job);
    else if (this.queue.length < this.config.queue) this.queue.push(job);
    else this.answer(res, 503, 'rejected');
  }

  private start(job: Job): void {
    this.busy++;
    this.held.add(job);
    const now = this.now();
    job.startedAt = now;
    let work = this.streams.sample();
    const cold = this.config.coldStart;
    if (cold !== undefined && now >= cold.joinAt && now < cold.joinAt + cold.for) work *= 1 + (cold.factor - 1) * ((cold.joinAt + cold.for - now) / cold.for);
    for (const f of this.faults) {
      if (f.kind !== 'slow') continue;
      if (f.factor !== undefined) work *= f.factor;
      if (f.extra) work += f.extra();
    }
    // Rounded to a whole millisecond, as Node's timers tick (see timerDelay).
    this.workFor(job, timerDelay(work));
  }

  /** Arms `job`'s work timer: its work is done `ms` from now. */
  private workFor(job: Job, ms: number): void {
    job.dueAt = this.now() + ms;
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (this.has('pause')) this.deferred.push({ job });
      else this.afterWork(job);
    }, ms);
  }

  /**
   * A pause begins: the work in progress stops, as the simulator's does (a stopped world):
   * each job's timer is cleared and the work it had left kept, to go on when the pause ends.
   */
  private freezeWork(): void {
    const now = this.now();
    for (const job of this.held) {
      if (job.timer === undefined) continue;
      clearTimeout(job.timer);
      job.timer = undefined;
      job.left = Math.max(0, job.dueAt - now);
      this.frozen.push(job);
    }
  }

  /** The job's own work is done: make its downstream calls, then answer. */
  private afterWork(job: Job): void {
    const calls = this.config.calls ?? [];
    if (calls.length === 0) {
      this.finish(job, false);
      return;
    }
    void this.runCalls(job, calls).then((failed) => {
      if (job.gone) return;
      // Paused while its calls were out: it answers when the pause ends.
      if (this.has('pause')) this.deferred.push({ job, failed });
      else this.finish(job, failed);
    });
  }

  private async runCalls(job: Job, calls: readonly InstanceCall[]): Promise<boolean> {
    for (const step of calls) {
      if (job.gone) return false;
      if (step.probability < 1 && this.streams.calls.next() >= step.probability) continue;
      const results = await Promise.all(Array.from({ length: step.parallel }, () => this.call(step.service).catch(() => false)));
      if (step.onFailure === 'fail' && results.some((ok) => !ok)) return true;
    }
    return false;
  }

  private finish(job: Job, dependencyFailed: boolean): void {
    if (job.gone) return;
    this.held.delete(job);
    this.busy--;
    this.counts.served++;
    // The part of its service within the measurement window (the simulator counts it so too).
    const from = Math.max(job.startedAt, this.window.from);
    const to = Math.min(this.now(), this.window.to);
    if (to > from) this.counts.busyMs += to - from;
    if (this.queue.length > 0 && this.busy < this.config.slots) this.start(this.queue.shift() as Job);
    if (dependencyFailed) {
      this.answer(job.res, DEPENDENCY_FAILED_STATUS, 'error');
      return;
    }
    const err = this.topError();
    if (err && !err.fast && (err.rate >= 1 || err.rng.next() < err.rate)) this.answer(job.res, err.status, 'error');
    else this.answer(job.res, 200, 'ok');
  }

  /** A health-check probe: no slot, but an error fault fails it. */
  private answerProbe(res: ServerResponse): void {
    const err = this.topError();
    if (err && (err.rate >= 1 || err.rng.next() < err.rate)) this.answer(res, err.status, 'error', false);
    else this.answer(res, 200, 'ok', false);
  }

  private answer(res: ServerResponse, status: number, outcome: 'ok' | 'rejected' | 'error', count = true): void {
    if (count && outcome === 'rejected') this.counts.rejected++;
    else if (count && outcome === 'error') this.counts.errors++;
    if (res.destroyed || res.writableEnded) return;
    const body = outcome === 'ok' ? 'ok\n' : `${outcome}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain',
      'content-length': body.length,
      [OUTCOME_HEADER]: outcome,
      [INSTANCE_HEADER]: `${this.config.service}/${this.config.index}`,
    });
    res.end(body);
  }

  /** Every job the instance holds: in service (those done during a pause too) and waiting. */
  private everything(): Job[] {
    return [...this.held, ...this.queue];
  }

  /** A hang starts: what the instance holds is never answered, and it starts empty. */
  private dropHeld(): void {
    for (const job of this.everything()) {
      if (job.timer) clearTimeout(job.timer);
      job.gone = true;
      this.counts.lost++;
      this.limbo.add(job.res);
      job.res.on('close', () => this.limbo.delete(job.res));
    }
    this.held.clear();
    this.queue.length = 0;
    this.deferred.length = 0;
    this.busy = 0;
  }

  /** A crash: stop listening, reset every connection, forget everything held. */
  private async crash(): Promise<void> {
    for (const job of this.everything()) {
      if (job.timer) clearTimeout(job.timer);
      job.gone = true;
      this.counts.reset++;
    }
    this.held.clear();
    this.queue.length = 0;
    this.deferred.length = 0;
    this.busy = 0;
    this.limbo.clear();
    this.heldProbes = [];
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async restart(): Promise<void> {
    // The same port, so the proxies' upstream addresses stay valid; retried briefly in
    // case the port is still in TIME_WAIT or was handed to another socket meanwhile.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.listen();
        return;
      } catch (e) {
        if (attempt >= 20 || this.closed) throw e;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /** Stops the instance for good: timers cancelled, every socket destroyed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.everything()) {
      if (job.timer) clearTimeout(job.timer);
      job.gone = true;
    }
    this.held.clear();
    this.queue.length = 0;
    this.deferred.length = 0;
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
