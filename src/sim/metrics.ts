/**
 * Streaming metrics of one replication: request counters (measurement window and whole
 * run), a DDSketch of client-observed latency, and per-instance work. Memory is fixed by
 * the number of instances and the sketch's value range, never by the request count.
 */
import type { Outcome } from '../algorithms/types.js';
import { QuantileSketch } from '../core/quantile-sketch.js';
import type { FaultWindow } from './faults.js';

/** Counters of the failover mechanisms, each present only when the mesh configures it. */
export interface FailoverCounts {
  /** Outlier ejections enforced, over all sidecars. */
  readonly ejections?: number;
  /** Failed active health checks, over all sidecars. */
  readonly healthCheckFailures?: number;
  /** Requests refused at once by an open circuit breaker. */
  readonly breakerOverflows?: number;
  /** Retries sent, over all callers (with a retry policy). */
  readonly retries?: number;
  /** Retries and hedges a retry budget (or max_retries breaker) refused. */
  readonly retryBudgetDenied?: number;
  /** Hedges sent, and hedges whose answer was the one returned (with hedging). */
  readonly hedges?: number;
  readonly hedgesWon?: number;
  /** Requests adaptive throttling rejected locally. */
  readonly throttled?: number;
}

/**
 * One caller → target layer of the call graph (a workload's client sidecars, or the
 * sidecars of a calling service's instances), over the calls issued in the measurement
 * window: how many calls, how many attempts they took (retry amplification), and what
 * the failover machinery did.
 */
export interface LayerStats {
  readonly caller: string;
  readonly target: string;
  /** True for a workload's (client-facing) layer. */
  readonly client: boolean;
  readonly calls: number;
  readonly attempts: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retries: number;
  readonly hedges: number;
  readonly hedgesWon: number;
  readonly perTryTimeouts: number;
  /** Calls ended by their overall deadline (the sidecar's route timeout or the client's own). */
  readonly deadlines: number;
  /** Attempts refused by the circuit breaker. */
  readonly overflows: number;
  /** Attempts with no healthy endpoint to go to. */
  readonly noEndpoint: number;
  readonly budgetDenied: number;
  readonly throttled: number;
}

/** Answers per time bucket: counts and a latency sketch of the succeeded ones. */
export interface Timeline {
  readonly bucketMs: number;
  readonly requests: Float64Array;
  readonly succeeded: Float64Array;
  readonly latency: readonly (QuantileSketch | undefined)[];
}

/** Timeline buckets: 1 s, or coarser so a run never has more than ~600 of them. */
export function timelineBucketMs(runMs: number): number {
  return Math.max(1000, Math.ceil(runMs / 600 / 1000) * 1000);
}

/** Relative error of the per-bucket sketches (coarser than the summary's, to stay small). */
export const TIMELINE_ACCURACY = 0.01;

/** A fault window as it happened (instance indices are per service). */
export interface FaultRecord {
  readonly fault: number;
  readonly kind: string;
  readonly start: number;
  readonly end: number;
  readonly service?: string;
  readonly instances: readonly number[];
  /** What the fault did and how fast the mesh reacted (instance faults only). */
  readonly effect?: FaultEffect;
}

/**
 * The mesh's reaction to one fault window on instances. "Detected": the first outlier
 * ejection or failed-health transition of one of its instances, by any sidecar, while the
 * window is open. "Recovered": the first successful answer from one of its instances after
 * the window closed (the instance is back in rotation).
 */
export interface FaultEffect {
  /** Fault start → detection, ms; null when no sidecar noticed while the fault lasted. */
  readonly detectedMs: number | null;
  readonly detectedBy: 'outlier-detection' | 'health-check' | null;
  /** Fault end → first success from its instances, ms; null when none came (or it never ended). */
  readonly recoveredMs: number | null;
  /** Attempts sent to its instances while it lasted, and how many of them failed. */
  readonly attempts: number;
  readonly failed: number;
  /** The same, between its start and its detection (all of it when undetected): the cost of not knowing. */
  readonly attemptsBeforeDetection: number;
  readonly failedBeforeDetection: number;
  /**
   * Attempts per second per surviving instance of the service while it lasted, over the same
   * before it started: the extra load the survivors took on (null when it started at 0 or had no survivors).
   */
  readonly survivorLoad: number | null;
}

/** What a membership change did (instance indices are per service). */
export interface MembershipEffect {
  readonly at: number;
  readonly service: string;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** Fraction of a keyed workload's keys that moved to another endpoint (keyed workloads only). */
  readonly keysRemapped?: number;
}

export interface RequestCounts {
  /** Requests issued in the measurement window [warmup, duration). */
  readonly total: number;
  readonly succeeded: number;
  /** Everything that did not succeed: rejected, timed out, errors. */
  readonly failed: number;
  /** Answered 503 by a full queue (or no endpoint available). */
  readonly rejected: number;
  readonly timedOut: number;
  /** 5xx answers from error faults. */
  readonly errors: number;
  /** Connections reset (an instance crashed mid-request). */
  readonly resets: number;
  /** Connections refused (instance down, partition refusing). */
  readonly connectFailures: number;
  /** Still without an answer when the run ended. */
  readonly inFlight: number;
}

export interface InstanceStats {
  readonly service: string;
  readonly index: number;
  readonly zone: string;
  /** Worker slots (Infinity = unbounded). */
  readonly slots: number;
  /** Requests of the measurement window that balancers sent to this instance. */
  readonly requests: number;
  /** Requests whose service completed during the run (warm-up included). */
  readonly served: number;
  /** Service time (ms) its slots spent within the measurement window [warmup, duration), a request's clipped to it. */
  readonly busyMs: number;
  /** Time (ms) the instance was a member of its service within the measurement window [warmup, duration). */
  readonly memberMs: number;
}

export interface RunResult {
  readonly seed: number;
  readonly requests: RequestCounts;
  /** Client-observed latency of succeeded requests in the window (ms). */
  readonly latency: QuantileSketch;
  /** Length of the measurement window (ms). */
  readonly windowMs: number;
  /** Simulated end time (ms). */
  readonly endTimeMs: number;
  readonly eventsProcessed: number;
  readonly instances: readonly InstanceStats[];
  /** Membership changes as they happened (instance indices are per service). */
  readonly membership: readonly MembershipEffect[];
  /** Fault windows of this replication. */
  readonly faults: readonly FaultRecord[];
  /** Counters of the configured failover mechanisms (present only for those configured). */
  readonly failover: FailoverCounts;
  /** Every caller → target layer, workloads' first. */
  readonly layers: readonly LayerStats[];
  /** Per-bucket answers by the time the client got them (requests issued in the window only). */
  readonly timeline: Timeline;
  /** Conservation over the whole run: issued = succeeded + failed + in flight. */
  readonly conservation: { readonly issued: number; readonly succeeded: number; readonly failed: number; readonly inFlight: number };
}

export class RunMetrics {
  private total = 0;
  private succeeded = 0;
  private failed = 0;
  private rejected = 0;
  private timedOut = 0;
  private errors = 0;
  private resets = 0;
  private connectFailures = 0;
  private faultRecords: FaultRecord[] = [];
  private failoverCounts: FailoverCounts = {};
  private layers: readonly LayerStats[] = [];
  private timelineBucket = 1000;
  private tRequests = new Float64Array(0);
  private tSucceeded = new Float64Array(0);
  private tLatency: (QuantileSketch | undefined)[] = [];
  private allIssued = 0;
  private allSucceeded = 0;
  private allFailed = 0;
  private readonly latency = new QuantileSketch();
  /**
   * Per instance, side by side (stride 4): attempts sent to it, served, busy ms. One cache
   * line per instance instead of three arrays: the request path touches them twice.
   */
  private readonly work: Float64Array;
  private readonly joinedAt: Float64Array;
  private readonly memberMs: Float64Array;

  constructor(
    private readonly seed: number,
    private readonly instanceService: readonly string[],
    private readonly instanceIndex: readonly number[],
    private readonly instanceZone: readonly string[],
    private readonly instanceSlots: ArrayLike<number>,
  ) {
    const n = instanceService.length;
    this.work = new Float64Array(n * 4);
    this.joinedAt = new Float64Array(n).fill(NaN);
    this.memberMs = new Float64Array(n);
  }

  /**
   * The measurement window [from, to) (warm-up to duration): busy and membership time are
   * counted within it, as requests are, so that utilisation (busy ÷ member time) is that of
   * the window, not diluted by the drain or a warm-up, and a joiner is not understated.
   */
  private windowFrom = 0;
  private windowTo = Infinity;

  setWindow(from: number, to: number): void {
    this.windowFrom = from;
    this.windowTo = to;
  }

  /** The length of [a, b) within the measurement window. */
  private inWindow(a: number, b: number): number {
    const from = a > this.windowFrom ? a : this.windowFrom;
    const to = b < this.windowTo ? b : this.windowTo;
    return to > from ? to - from : 0;
  }

  joined(instance: number, at: number): void {
    this.joinedAt[instance] = at;
  }

  left(instance: number, at: number): void {
    this.memberMs[instance] += this.inWindow(this.joinedAt[instance], at);
    this.joinedAt[instance] = NaN;
  }

  /** Sizes the timeline for a run of `runMs` ms. */
  setRunLength(runMs: number): void {
    this.timelineBucket = timelineBucketMs(runMs);
    const n = Math.ceil(runMs / this.timelineBucket) + 1;
    this.tRequests = new Float64Array(n);
    this.tSucceeded = new Float64Array(n);
    this.tLatency = new Array<QuantileSketch | undefined>(n).fill(undefined);
  }

  /** A measured request got its answer at `now`. */
  private toTimeline(now: number, ok: boolean, latencyMs: number, lnLatency: number): void {
    const b = Math.min(Math.floor(now / this.timelineBucket), this.tRequests.length - 1);
    if (b < 0) return;
    this.tRequests[b]++;
    if (!ok) return;
    this.tSucceeded[b]++;
    (this.tLatency[b] ??= new QuantileSketch(TIMELINE_ACCURACY)).addLn(latencyMs, lnLatency);
  }

  setFailoverCounts(counts: FailoverCounts): void {
    this.failoverCounts = counts;
  }

  /** Effects of the fault windows, by position in the windows given to setFaultWindows. */
  setFaultEffects(effects: readonly (FaultEffect | undefined)[]): void {
    this.faultRecords = this.faultRecords.map((r, i) => {
      const effect = effects[i];
      return effect === undefined ? r : { ...r, effect };
    });
  }

  setLayers(layers: readonly LayerStats[]): void {
    this.layers = layers;
  }

  setFaultWindows(windows: readonly FaultWindow[]): void {
    this.faultRecords = windows.map((w) => {
      const service = w.fault.kind === 'partition' ? w.fault.target.to : w.fault.target.service;
      return {
        fault: w.index,
        kind: w.fault.kind,
        start: w.start,
        end: w.end,
        ...(service === undefined ? {} : { service }),
        instances: [...w.instances].map((i) => this.instanceIndex[i]).sort((a, b) => a - b),
      };
    });
  }

  sent(instance: number): void {
    this.work[instance * 4]++;
  }

  issued(measured: boolean): void {
    this.allIssued++;
    if (measured) this.total++;
  }

  concluded(measured: boolean, outcome: Outcome, latencyMs: number, now: number): void {
    const ok = outcome.kind === 'success';
    if (ok) this.allSucceeded++;
    else this.allFailed++;
    if (!measured) return;
    // One logarithm for both sketches (the run's and the timeline bucket's).
    const ln = ok ? Math.log(latencyMs) : NaN;
    if (this.tRequests.length > 0) this.toTimeline(now, ok, latencyMs, ln);
    if (ok) {
      this.succeeded++;
      this.latency.addLn(latencyMs, ln);
      return;
    }
    this.failed++;
    if (outcome.kind === 'rejected') this.rejected++;
    else if (outcome.kind === 'timeout') this.timedOut++;
    else if (outcome.kind === 'error') this.errors++;
    else if (outcome.kind === 'reset') this.resets++;
    else if (outcome.kind === 'connect-failure') this.connectFailures++;
  }

  /** A request's service at `instance` ran from `start` to `end` (ms). */
  served(instance: number, start: number, end: number): void {
    const o = instance * 4;
    this.work[o + 1]++;
    this.work[o + 2] += this.inWindow(start, end);
  }

  /**
   * Closes the run. `inFlight` and `allInFlight` are counted independently by the world
   * (requests still unanswered in its pool), so the conservation check is a real check.
   */
  finish(
    clock: { now(): number; readonly eventsProcessed: number },
    windowMs: number,
    inFlight: number,
    allInFlight: number,
    membership: readonly MembershipEffect[],
  ): RunResult {
    if (this.allIssued !== this.allSucceeded + this.allFailed + allInFlight || this.total !== this.succeeded + this.failed + inFlight) {
      throw new Error(
        `conservation violated: issued ${this.allIssued} ≠ succeeded ${this.allSucceeded} + failed ${this.allFailed} + in flight ${allInFlight}` +
          ` (window: ${this.total} vs ${this.succeeded} + ${this.failed} + ${inFlight})`,
      );
    }
    const end = clock.now();
    const instances: InstanceStats[] = [];
    for (let i = 0; i < this.instanceService.length; i++) {
      const stillMember = this.joinedAt[i] === this.joinedAt[i];
      instances.push({
        service: this.instanceService[i],
        index: this.instanceIndex[i],
        zone: this.instanceZone[i],
        slots: this.instanceSlots[i],
        requests: this.work[i * 4],
        served: this.work[i * 4 + 1],
        busyMs: this.work[i * 4 + 2],
        memberMs: this.memberMs[i] + (stillMember ? this.inWindow(this.joinedAt[i], end) : 0),
      });
    }
    return {
      seed: this.seed,
      requests: {
        total: this.total,
        succeeded: this.succeeded,
        failed: this.failed,
        rejected: this.rejected,
        timedOut: this.timedOut,
        errors: this.errors,
        resets: this.resets,
        connectFailures: this.connectFailures,
        inFlight,
      },
      latency: this.latency,
      windowMs,
      endTimeMs: clock.now(),
      eventsProcessed: clock.eventsProcessed,
      instances,
      membership,
      faults: this.faultRecords,
      failover: this.failoverCounts,
      layers: this.layers,
      timeline: { bucketMs: this.timelineBucket, requests: this.tRequests, succeeded: this.tSucceeded, latency: this.tLatency },
      conservation: { issued: this.allIssued, succeeded: this.allSucceeded, failed: this.allFailed, inFlight: allInFlight },
    };
  }
}
