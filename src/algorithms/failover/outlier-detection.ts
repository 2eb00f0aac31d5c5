/**
 * Outlier detection: passive health checking. Every attempt's result feeds per-host
 * counters; a host that fails N times in a row, or whose success rate is a statistical (or
 * fixed) outlier, is ejected from load balancing for a while that grows on repeated ejection.
 *
 * Follows Envoy's Upstream::Outlier::DetectorImpl / DetectorHostMonitorImpl
 * (outlier_detection_impl.cc), with its defaults:
 * - a 5xx bumps consecutive_5xx; 502/503/504 also bump consecutive_gateway_failure (any other
 *   5xx resets it); any other code resets both. A detector fires when its counter EQUALS its
 *   threshold (5 and 5); it is then reset, ejected or not. A counter that reaches its threshold
 *   while the host is already ejected is left alone (it keeps counting, no longer equal).
 * - locally-originated results map to codes as Envoy's router reports them without
 *   split_external_local_origin_errors: timeout → 504, connect failure and reset → 503, a
 *   response → its status; a local rejection (circuit-breaker overflow) is not reported.
 * - ejection (any detector): allowed only if 100·(active+1)/hosts ≤ max_ejection_percent
 *   (10%; Envoy ≥ 1.27, so by default nothing is ejected below 10 hosts unless
 *   alwaysEjectOneHost), else ejections_overflow++. Then enforcement is rolled
 *   (enforcing_consecutive_5xx 100%, _gateway_failure 0%, _success_rate 100%,
 *   _failure_percentage 0%). On ejection the backoff multiplier grows by one while
 *   backoff·base < max + base, and a jitter in [0, max_ejection_time_jitter] ms is drawn.
 * - every interval (10 s), first per host: an ejected host is returned when
 *   min(base·backoff, max) + jitter ≤ now − lastEjection (base 30 s, max max(300 s, base)),
 *   which resets its consecutive counters; a host not ejected, returned at least one
 *   interval ago, has its backoff decremented (not below 0). Then the per-host success
 *   counts of the interval just ended are evaluated: success rate over non-ejected hosts
 *   with ≥ 100 requests, ejected below mean − 1.9·σ (population σ) if ≥ 5 such hosts;
 *   failure percentage: ejected when 100 − rate ≥ 85 among ≥ 5 hosts with ≥ 50 requests.
 * - successful_active_health_check_uneject_host (true): a passing active health check of a
 *   host the checker considers healthy returns it at once ({@link onActiveHealthCheckSuccess}).
 *
 * Where meshsim differs: consecutive-error ejections happen synchronously in
 * {@link onResult} (Envoy posts them to the main thread); hosts are visited in index order
 * (Envoy: hash-map order), which decides who is ejected when max_ejection_percent caps a
 * burst; the failure-percentage pass skips a host the success-rate pass just ejected (Envoy
 * would eject it twice); no split of local/external errors, no extension monitors, no
 * runtime overrides; percentages may be fractional. The interval ticks on the Timers port,
 * from construction.
 */
import { z } from 'zod';
import type { Clock, Ports, Rng, TimerHandle, Timers } from '../../core/ports.js';
import { zDuration, zPercent } from '../../core/units.js';
import type { Outcome } from '../types.js';

const count = (what: string) => z.number({ error: `${what} must be a whole number ≥ 0` }).int().min(0);

export const outlierDetectionConfigSchema = z
  .strictObject({
    /** Consecutive 5xx before ejection (Envoy consecutive_5xx). */
    consecutive5xx: count('consecutive5xx').default(5),
    /** Consecutive 502/503/504 before ejection (Envoy consecutive_gateway_failure). */
    consecutiveGatewayFailure: count('consecutiveGatewayFailure').default(5),
    /** Time between ejection sweeps (Envoy interval). */
    interval: zDuration.refine((ms) => ms > 0, { message: 'interval must be longer than 0s' }).default(10_000),
    /** Ejection time per backoff step (Envoy base_ejection_time). */
    baseEjectionTime: zDuration.default(30_000),
    /** Cap on the ejection time (Envoy max_ejection_time); default max(300s, baseEjectionTime). */
    maxEjectionTime: zDuration.optional(),
    /** Extra ejection time drawn per ejection from [0, this] whole ms (Envoy max_ejection_time_jitter). */
    maxEjectionTimeJitter: zDuration.default(0),
    /** Most hosts ejected at once, as a share of all hosts (Envoy max_ejection_percent). */
    maxEjectionPercent: zPercent.default(0.1),
    /** Allow one ejection even when it exceeds maxEjectionPercent (Envoy always_eject_one_host). */
    alwaysEjectOneHost: z.boolean().default(false),
    enforcingConsecutive5xx: zPercent.default(1),
    enforcingConsecutiveGatewayFailure: zPercent.default(0),
    enforcingSuccessRate: zPercent.default(1),
    enforcingFailurePercentage: zPercent.default(0),
    successRateMinimumHosts: count('successRateMinimumHosts').default(5),
    successRateRequestVolume: count('successRateRequestVolume').default(100),
    /** σ multiplier of the success-rate threshold (Envoy success_rate_stdev_factor 1900 / 1000). */
    successRateStdevFactor: z.number().min(0).default(1.9),
    /** Failure share at or above which a host is ejected (Envoy failure_percentage_threshold). */
    failurePercentageThreshold: zPercent.default(0.85),
    failurePercentageMinimumHosts: count('failurePercentageMinimumHosts').default(5),
    failurePercentageRequestVolume: count('failurePercentageRequestVolume').default(50),
    /** A passing active health check returns an ejected host (Envoy successful_active_health_check_uneject_host). */
    successfulActiveHealthCheckUnejectHost: z.boolean().default(true),
  })
  .refine((c) => c.maxEjectionTime === undefined || c.maxEjectionTime >= c.baseEjectionTime, {
    message: "maxEjectionTime cannot be smaller than baseEjectionTime (Envoy rejects such a config)",
    path: ['maxEjectionTime'],
  });

export type OutlierDetectionConfig = z.output<typeof outlierDetectionConfigSchema>;
export type OutlierDetectionInput = z.input<typeof outlierDetectionConfigSchema>;

/** Envoy's default max_ejection_time, used when it is not set and larger than base. */
export const DEFAULT_MAX_EJECTION_TIME = 300_000;

/** The effective max ejection time: as configured, else max(300 s, base). */
export function resolveMaxEjectionTime(config: Pick<OutlierDetectionConfig, 'maxEjectionTime' | 'baseEjectionTime'>): number {
  return config.maxEjectionTime ?? Math.max(DEFAULT_MAX_EJECTION_TIME, config.baseEjectionTime);
}

export const EJECTION_TYPES = ['consecutive-5xx', 'consecutive-gateway-failure', 'success-rate', 'failure-percentage'] as const;
export type EjectionType = (typeof EJECTION_TYPES)[number];

const C5XX = 0;
const GATEWAY = 1;
const SUCCESS_RATE = 2;
const FAILURE_PERCENTAGE = 3;

/**
 * The HTTP code Envoy's router reports to outlier detection for an attempt's outcome, or 0
 * when it reports nothing (a local rejection such as circuit-breaker overflow).
 * timeout → 504 (LocalOriginTimeout, timeout_response_code), connect failure and reset → 503
 * (LocalOriginConnectFailed), a response → its status, success/error without one → 200/500,
 * a cancelled attempt → 0.
 */
export function outlierResponseCode(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'timeout':
      return 504;
    case 'connect-failure':
    case 'reset':
      return 503;
    case 'rejected':
      return outcome.status > 0 ? outcome.status : 0;
    case 'cancelled':
      return 0; // the client gave up: no outlier event
    case 'success':
      return outcome.status > 0 ? outcome.status : 200;
    case 'error':
      return outcome.status > 0 ? outcome.status : 500;
  }
}

export interface SuccessRateThreshold {
  /** Mean success rate (percent) of the hosts considered. */
  readonly mean: number;
  /** mean − factor·σ (population standard deviation); hosts strictly below are outliers. */
  readonly threshold: number;
}

/**
 * Envoy's DetectorImpl::successRateEjectionThreshold: success rates in percent (the first
 * `n` of `rates`) → mean and mean − factor·σ, σ the population standard deviation.
 * {50, 100, 100, 100, 100} with factor 1.9 → mean 90, σ 20, threshold 52.
 */
export function successRateEjectionThreshold(rates: ArrayLike<number>, factor: number, n = rates.length): SuccessRateThreshold {
  if (!(n > 0)) return { mean: NaN, threshold: NaN };
  let sum = 0;
  for (let k = 0; k < n; k++) sum += rates[k];
  const mean = sum / n;
  let variance = 0;
  for (let k = 0; k < n; k++) variance += (rates[k] - mean) ** 2;
  variance /= n;
  return { mean, threshold: mean - factor * Math.sqrt(variance) };
}

/** Envoy-style percentage (0–100) from a fraction, rounded so that `29%` is exactly 29. */
function percent(fraction: number): number {
  return Math.round(fraction * 1e8) / 1e6;
}

/** Counters in Envoy's outlier_detection.* stats terms. */
export interface OutlierDetectionStats {
  /** ejections_enforced_total */
  readonly ejectionsEnforcedTotal: number;
  /** ejections_overflow: ejections refused by maxEjectionPercent. */
  readonly ejectionsOverflow: number;
  /** ejections_active (gauge). */
  readonly ejectionsActive: number;
  /** ejections_detected_<type>: detector fired (ejected or not). */
  readonly detected: Readonly<Record<EjectionType, number>>;
  /** ejections_enforced_<type>. */
  readonly enforced: Readonly<Record<EjectionType, number>>;
}

/** Called when a host is ejected (`ejected` true, with the detector) or returned (false, type null). */
export type EjectionListener = (index: number, ejected: boolean, type: EjectionType | null) => void;

/**
 * Envoy outlier detection over a set of hosts identified by id; hosts are addressed by their
 * index in the last `setHosts` array. Per-result cost O(1), no allocation.
 */
export class OutlierDetector {
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly timers: Timers;
  private readonly maxEjectionTime: number;
  private readonly maxEjectionPct: number;
  private readonly enforcingPct: Float64Array;
  private readonly failurePctThreshold: number;
  private readonly jitterMax: number;

  private ids: string[] = [];
  private indexById = new Map<string, number>();
  private ejected = new Uint8Array(0);
  private c5xx = new Uint32Array(0);
  private cGateway = new Uint32Array(0);
  private curTotal = new Uint32Array(0);
  private curSuccess = new Uint32Array(0);
  private prevTotal = new Uint32Array(0);
  private prevSuccess = new Uint32Array(0);
  private backoff = new Uint32Array(0);
  private ejections = new Uint32Array(0);
  private lastEjection = new Float64Array(0);
  private lastUnejection = new Float64Array(0);
  private jitter = new Float64Array(0);
  private rate = new Float64Array(0);
  /** Scratch for the interval sweep. */
  private srHosts = new Int32Array(0);
  private srRates = new Float64Array(0);
  private fpHosts = new Int32Array(0);

  private active = 0;
  private enforcedTotal = 0;
  private overflow = 0;
  private readonly detectedBy = new Float64Array(4);
  private readonly enforcedBy = new Float64Array(4);
  private srMean = -1;
  private srThreshold = -1;
  private version = 0;
  private listeners: EjectionListener[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    readonly config: OutlierDetectionConfig,
    ports: Ports,
    ids: readonly string[] = [],
  ) {
    this.clock = ports.clock;
    this.rng = ports.rng;
    this.timers = ports.timers;
    this.maxEjectionTime = resolveMaxEjectionTime(config);
    if (this.maxEjectionTime < config.baseEjectionTime) throw new RangeError("outlier detection: maxEjectionTime cannot be smaller than baseEjectionTime");
    this.maxEjectionPct = percent(config.maxEjectionPercent);
    this.enforcingPct = Float64Array.of(
      percent(config.enforcingConsecutive5xx),
      percent(config.enforcingConsecutiveGatewayFailure),
      percent(config.enforcingSuccessRate),
      percent(config.enforcingFailurePercentage),
    );
    this.failurePctThreshold = percent(config.failurePercentageThreshold);
    this.jitterMax = Math.floor(config.maxEjectionTimeJitter);
    this.setHosts(ids);
    this.arm();
  }

  /**
   * Replaces the host set (on membership change). State is kept by id; new hosts start
   * clean; removed hosts are forgotten (an ejected one leaves the active count). No
   * listener is called.
   */
  setHosts(ids: readonly string[]): void {
    const n = ids.length;
    const indexById = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      if (indexById.has(ids[i])) throw new Error(`outlier detection: duplicate host id "${ids[i]}"`);
      indexById.set(ids[i], i);
    }
    const old = this.indexById;
    const ejected = new Uint8Array(n);
    const c5xx = new Uint32Array(n);
    const cGateway = new Uint32Array(n);
    const curTotal = new Uint32Array(n);
    const curSuccess = new Uint32Array(n);
    const prevTotal = new Uint32Array(n);
    const prevSuccess = new Uint32Array(n);
    const backoff = new Uint32Array(n);
    const ejections = new Uint32Array(n);
    const lastEjection = new Float64Array(n).fill(NaN);
    const lastUnejection = new Float64Array(n).fill(NaN);
    const jitter = new Float64Array(n);
    const rate = new Float64Array(n).fill(-1);
    let active = 0;
    for (let i = 0; i < n; i++) {
      const j = old.get(ids[i]);
      if (j === undefined) continue;
      ejected[i] = this.ejected[j];
      active += ejected[i];
      c5xx[i] = this.c5xx[j];
      cGateway[i] = this.cGateway[j];
      curTotal[i] = this.curTotal[j];
      curSuccess[i] = this.curSuccess[j];
      prevTotal[i] = this.prevTotal[j];
      prevSuccess[i] = this.prevSuccess[j];
      backoff[i] = this.backoff[j];
      ejections[i] = this.ejections[j];
      lastEjection[i] = this.lastEjection[j];
      lastUnejection[i] = this.lastUnejection[j];
      jitter[i] = this.jitter[j];
      rate[i] = this.rate[j];
    }
    this.ejected = ejected;
    this.c5xx = c5xx;
    this.cGateway = cGateway;
    this.curTotal = curTotal;
    this.curSuccess = curSuccess;
    this.prevTotal = prevTotal;
    this.prevSuccess = prevSuccess;
    this.backoff = backoff;
    this.ejections = ejections;
    this.lastEjection = lastEjection;
    this.lastUnejection = lastUnejection;
    this.jitter = jitter;
    this.rate = rate;
    this.ids = ids.slice();
    this.indexById = indexById;
    this.active = active;
    this.srHosts = new Int32Array(n);
    this.srRates = new Float64Array(n);
    this.fpHosts = new Int32Array(n);
  }

  /** Number of hosts. */
  get size(): number {
    return this.ids.length;
  }

  /** Index of host `id` in the current set, or -1. */
  indexOf(id: string): number {
    return this.indexById.get(id) ?? -1;
  }

  /** Whether host `index` is ejected. O(1). */
  isEjected(index: number): boolean {
    return this.ejected[index] === 1;
  }

  /** Increases on every ejection and return: compare to decide whether to rebuild lazily. */
  get generation(): number {
    return this.version;
  }

  /** Subscribes to ejections and returns; returns the unsubscribe function. */
  onChange(listener: EjectionListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** An attempt to host `index` ended with `outcome` (see {@link outlierResponseCode}). O(1). */
  onResult(index: number, outcome: Outcome): void {
    const code = outlierResponseCode(outcome);
    if (code !== 0) this.putHttpResponseCode(index, code);
  }

  /** Host `id` (looked up) ended an attempt; ignored if it is no longer in the set. */
  onResultById(id: string, outcome: Outcome): void {
    const i = this.indexById.get(id);
    if (i !== undefined) this.onResult(i, outcome);
  }

  /** Envoy's DetectorHostMonitorImpl::putHttpResponseCode. */
  putHttpResponseCode(index: number, code: number): void {
    if (index < 0 || index >= this.ids.length) return;
    this.curTotal[index]++;
    if (code >= 500 && code < 600) {
      if (code === 502 || code === 503 || code === 504) {
        if (++this.cGateway[index] === this.config.consecutiveGatewayFailure) this.consecutiveError(index, GATEWAY);
      } else {
        this.cGateway[index] = 0;
      }
      if (++this.c5xx[index] === this.config.consecutive5xx) this.consecutiveError(index, C5XX);
    } else {
      this.curSuccess[index]++;
      this.c5xx[index] = 0;
      this.cGateway[index] = 0;
    }
  }

  /**
   * An active health check of host `index` passed and the checker holds it healthy: return
   * it now if it is ejected and successfulActiveHealthCheckUnejectHost is on. Returns whether
   * it was returned.
   */
  onActiveHealthCheckSuccess(index: number): boolean {
    if (!this.config.successfulActiveHealthCheckUnejectHost || this.ejected[index] !== 1) return false;
    this.uneject(index, this.clock.now());
    return true;
  }

  /** Stops the interval timer (the detector keeps answering but no longer returns hosts). */
  stop(): void {
    if (this.timer !== undefined) this.timers.cancel(this.timer);
    this.timer = undefined;
  }

  /** A snapshot of the counters. */
  stats(): OutlierDetectionStats {
    const byType = (a: Float64Array) => Object.fromEntries(EJECTION_TYPES.map((t, k) => [t, a[k]])) as Record<EjectionType, number>;
    return {
      ejectionsEnforcedTotal: this.enforcedTotal,
      ejectionsOverflow: this.overflow,
      ejectionsActive: this.active,
      detected: byType(this.detectedBy),
      enforced: byType(this.enforcedBy),
    };
  }

  /** Active ejections. */
  get ejectionsActive(): number {
    return this.active;
  }

  /** Times host `index` was ejected. */
  numEjections(index: number): number {
    return this.ejections[index];
  }

  /** Host `index`'s ejection-time multiplier (Envoy eject_time_backoff). */
  ejectTimeBackoff(index: number): number {
    return this.backoff[index];
  }

  /** Host `index`'s success rate (percent) at the last sweep, -1 if it had too little traffic. */
  successRate(index: number): number {
    return this.rate[index];
  }

  /** The last sweep's mean success rate and ejection threshold (percent), -1 when not computed. */
  successRateStats(): SuccessRateThreshold {
    return { mean: this.srMean, threshold: this.srThreshold };
  }

  private arm(): void {
    this.timer = this.timers.schedule(this.config.interval, () => this.onInterval());
  }

  private consecutiveError(index: number, type: number): void {
    if (this.ejected[index] === 1) return;
    this.detectedBy[type]++;
    this.ejectHost(index, type, this.clock.now());
    if (type === C5XX) this.c5xx[index] = 0;
    else this.cGateway[index] = 0;
  }

  private ejectHost(index: number, type: number, now: number): void {
    const n = this.ids.length;
    let allowed = (100 * (this.active + 1)) / n <= this.maxEjectionPct;
    if (this.config.alwaysEjectOneHost && this.active === 0) allowed = true;
    if (!allowed) {
      this.overflow++;
      return;
    }
    if (!(this.rng.next() * 100 < this.enforcingPct[type])) return;
    this.active++;
    this.enforcedTotal++;
    this.enforcedBy[type]++;
    this.ejected[index] = 1;
    this.ejections[index]++;
    this.lastEjection[index] = now;
    this.jitter[index] = Math.floor(this.rng.next() * (this.jitterMax + 1));
    const base = this.config.baseEjectionTime;
    if (this.backoff[index] * base < this.maxEjectionTime + base) this.backoff[index]++;
    this.version++;
    for (const l of this.listeners) l(index, true, EJECTION_TYPES[type]);
  }

  private uneject(index: number, now: number): void {
    this.active--;
    this.ejected[index] = 0;
    this.c5xx[index] = 0;
    this.cGateway[index] = 0;
    this.lastUnejection[index] = now;
    this.version++;
    for (const l of this.listeners) l(index, false, null);
  }

  private onInterval(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const n = this.ids.length;
    const base = this.config.baseEjectionTime;
    // Envoy's onIntervalTimer: checkHostForUneject for every host (un-eject the ejected ones
    // whose time is up; a host not ejected, whose last return is an interval old or more,
    // has its backoff step taken down by one) and only then the success-rate and
    // failure-percentage sweep, so a host that sweep ejects is ejected from a backoff
    // already decremented.
    for (let i = 0; i < n; i++) {
      if (this.ejected[i] === 1) {
        if (Math.min(base * this.backoff[i], this.maxEjectionTime) + this.jitter[i] <= now - this.lastEjection[i]) this.uneject(i, now);
      } else if (this.backoff[i] > 0 && now - this.lastUnejection[i] >= this.config.interval) {
        this.backoff[i]--;
      }
      this.prevTotal[i] = this.curTotal[i];
      this.prevSuccess[i] = this.curSuccess[i];
      this.curTotal[i] = 0;
      this.curSuccess[i] = 0;
      this.rate[i] = -1;
    }
    this.sweepSuccessRates(now);
    this.arm();
  }

  /** Envoy's processSuccessRateEjections (external origin), over the interval just ended. */
  private sweepSuccessRates(now: number): void {
    const c = this.config;
    const n = this.ids.length;
    this.srMean = -1;
    this.srThreshold = -1;
    if (n < c.successRateMinimumHosts && n < c.failurePercentageMinimumHosts) return;
    const minVolume = Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume);
    let srCount = 0;
    let fpCount = 0;
    for (let i = 0; i < n; i++) {
      const total = this.prevTotal[i];
      if (this.ejected[i] === 1 || total === 0) continue;
      const rate = (this.prevSuccess[i] * 100) / total;
      if (total >= minVolume) this.rate[i] = rate;
      if (total >= c.successRateRequestVolume) {
        this.srHosts[srCount] = i;
        this.srRates[srCount++] = rate;
      }
      if (total >= c.failurePercentageRequestVolume) this.fpHosts[fpCount++] = i;
    }
    if (srCount > 0 && srCount >= c.successRateMinimumHosts) {
      const { mean, threshold } = successRateEjectionThreshold(this.srRates, c.successRateStdevFactor, srCount);
      this.srMean = mean;
      this.srThreshold = threshold;
      for (let k = 0; k < srCount; k++) {
        if (this.srRates[k] < threshold) {
          this.detectedBy[SUCCESS_RATE]++;
          this.ejectHost(this.srHosts[k], SUCCESS_RATE, now);
        }
      }
    }
    if (fpCount > 0 && fpCount >= c.failurePercentageMinimumHosts) {
      for (let k = 0; k < fpCount; k++) {
        const i = this.fpHosts[k];
        if (this.ejected[i] === 1) continue;
        if (100 - (this.prevSuccess[i] * 100) / this.prevTotal[i] >= this.failurePctThreshold) {
          this.detectedBy[FAILURE_PERCENTAGE]++;
          this.ejectHost(i, FAILURE_PERCENTAGE, now);
        }
      }
    }
  }
}
