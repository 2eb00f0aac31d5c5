/**
 * Active health checking: every host is probed on a schedule; consecutive failures mark it
 * unhealthy, consecutive successes healthy again.
 *
 * Follows Envoy's HealthCheckerImplBase / ActiveHealthCheckSession
 * (health_checker_base_impl.cc). interval, timeout, unhealthy_threshold and
 * healthy_threshold are required. A new host starts unhealthy and is probed at once (or
 * after a draw from initial_jitter); its FIRST result, if a success, marks it healthy; after
 * that it takes healthy_threshold consecutive successes. unhealthy_threshold consecutive
 * network failures — connection failures, resets and timeouts (no answer within `timeout`,
 * the probe then counts as failed and a late answer is ignored) — mark a healthy host
 * unhealthy; a response with an unexpected status marks it unhealthy at once. The next probe
 * is scheduled when a probe ends (so probes are `rtt + wait` apart), the wait being
 * `interval` (unhealthy_interval after a failure, healthy_edge_interval /
 * unhealthy_edge_interval while a transition is pending; all default to `interval`) plus
 * jitter: `random % (interval_jitter_percent·wait/100)` and `random % interval_jitter` whole
 * ms (both default 0), at least 1 ms.
 *
 * Where meshsim differs: the checker sends nothing itself; it asks the `probe` callback, and
 * the world answers (a real request travelling to the instance and back in the simulator or
 * live). No degraded state, no retriable-status list, no event log. A new host's first probe
 * goes through a 0 ms timer rather than inside `setHosts`. no_traffic_interval (Envoy: 60 s
 * until the cluster has seen its first upstream connection) is opt-in: set
 * `noTrafficInterval`, and `noteTraffic()` is called on the first attempt (the Sidecar does
 * it); left unset, the checker behaves as a cluster with traffic. With successful_active_health_check_uneject_host (an
 * outlier detection option, default true) every passing check of a host the checker holds
 * healthy returns it from ejection: wire `onCheck` to OutlierDetector.onActiveHealthCheckSuccess.
 */
import { z } from 'zod';
import type { Clock, Ports, Rng, TimerHandle, Timers } from '../../core/ports.js';
import { zDuration, zPercent } from '../../core/units.js';

const positiveDuration = (what: string) => zDuration.refine((ms) => ms > 0, { message: `${what} must be longer than 0s` });
const threshold = (what: string) => z.number({ error: `${what} must be a whole number ≥ 1` }).int().min(1);

export const healthCheckConfigSchema = z.strictObject({
  /** Wait between the end of a probe and the next one (Envoy interval, required). */
  interval: positiveDuration('interval'),
  /** A probe not answered within this fails (Envoy timeout, required). */
  timeout: positiveDuration('timeout'),
  /** Consecutive network failures that mark a healthy host unhealthy (required). */
  unhealthyThreshold: threshold('unhealthyThreshold'),
  /** Consecutive successes that mark an unhealthy host healthy, after its first check (required). */
  healthyThreshold: threshold('healthyThreshold'),
  /** Extra wait drawn from [0, this) whole ms (Envoy interval_jitter). */
  intervalJitter: zDuration.default(0),
  /** Extra wait drawn from [0, this × wait) whole ms (Envoy interval_jitter_percent). */
  intervalJitterPercent: zPercent.default(0),
  /** A new host's first probe waits a draw from [0, this) whole ms (Envoy initial_jitter). */
  initialJitter: zDuration.default(0),
  /** Wait after a failed check (Envoy unhealthy_interval; default interval). */
  unhealthyInterval: positiveDuration('unhealthyInterval').optional(),
  /** Wait after a failure that did not yet flip a healthy host (default unhealthyInterval). */
  unhealthyEdgeInterval: positiveDuration('unhealthyEdgeInterval').optional(),
  /** Wait after a success that did not yet flip an unhealthy host (default interval). */
  healthyEdgeInterval: positiveDuration('healthyEdgeInterval').optional(),
  /** Wait while the cluster has had no traffic (Envoy no_traffic_interval, 60 s there); unset = not modelled. */
  noTrafficInterval: positiveDuration('noTrafficInterval').optional(),
  /** Wait for a healthy host while there is no traffic (default noTrafficInterval). */
  noTrafficHealthyInterval: positiveDuration('noTrafficHealthyInterval').optional(),
});

export type HealthCheckConfig = z.output<typeof healthCheckConfigSchema>;
export type HealthCheckInput = z.input<typeof healthCheckConfigSchema>;

/**
 * How a failed probe failed: 'network' (connection refused or reset; counts towards
 * unhealthyThreshold, the default) or 'status' (an answer with an unexpected status: the
 * host is marked unhealthy at once). Timeouts are detected by the checker.
 */
export type ProbeFailure = 'network' | 'status';

/** Report of one probe; calls after the first, or after the timeout fired, are ignored. */
export type ProbeDone = (ok: boolean, failure?: ProbeFailure) => void;

/** Sends one health-check request to host `index` (id `id`) and calls `done` with its result. */
export type HealthProbe = (index: number, done: ProbeDone, id: string) => void;

/** A host's health flipped. */
export type HealthListener = (index: number, healthy: boolean) => void;

/** A check completed (`ok`), leaving the host `healthy` (after any transition). */
export type CheckListener = (index: number, ok: boolean, healthy: boolean) => void;

/** Envoy's HealthTransition. */
const UNCHANGED = 0;
const CHANGED = 1;
const PENDING = 2;

class Session {
  healthy = false;
  firstCheck = true;
  numHealthy = 0;
  numUnhealthy = 0;
  /** Probe sequence number: a `done` or timeout of an older probe is ignored. */
  seq = 0;
  inFlight = false;
  intervalTimer: TimerHandle | undefined;
  timeoutTimer: TimerHandle | undefined;
  removed = false;

  constructor(
    readonly id: string,
    public index: number,
  ) {}
}

export interface HealthCheckStats {
  /** Probes sent (Envoy health_check.attempt). */
  readonly attempts: number;
  readonly successes: number;
  /** All failed checks, timeouts included (health_check.failure). */
  readonly failures: number;
  /** Network failures and timeouts (health_check.network_failure). */
  readonly networkFailures: number;
  readonly timeouts: number;
}

/** Envoy-style percentage (0–100) from a fraction, rounded so that `29%` is exactly 29. */
function percent(fraction: number): number {
  return Math.round(fraction * 1e8) / 1e6;
}

/**
 * An active health checker over a set of hosts identified by id. Hosts are addressed by their
 * index in the last `setHosts` array; `isHealthy` is O(1). The checker allocates one closure
 * per probe (probes are per host per interval, not per request).
 */
export class HealthChecker {
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly timers: Timers;
  private readonly unhealthyInterval: number;
  private readonly unhealthyEdgeInterval: number;
  private readonly healthyEdgeInterval: number;
  private readonly jitterPercent: number;
  private sessions: Session[] = [];
  private byId = new Map<string, Session>();
  private healthyMask = new Uint8Array(0);
  private trafficSeen = false;
  private stopped = false;
  private changeListeners: HealthListener[] = [];
  private checkListeners: CheckListener[] = [];
  private counts = { attempts: 0, successes: 0, failures: 0, networkFailures: 0, timeouts: 0 };

  constructor(
    readonly config: HealthCheckConfig,
    ports: Pick<Ports, 'clock' | 'rng' | 'timers'>,
    private readonly probe: HealthProbe,
    ids: readonly string[] = [],
  ) {
    this.clock = ports.clock;
    this.rng = ports.rng;
    this.timers = ports.timers;
    this.unhealthyInterval = config.unhealthyInterval ?? config.interval;
    this.unhealthyEdgeInterval = config.unhealthyEdgeInterval ?? this.unhealthyInterval;
    this.healthyEdgeInterval = config.healthyEdgeInterval ?? config.interval;
    this.jitterPercent = percent(config.intervalJitterPercent);
    this.setHosts(ids);
  }

  /**
   * Replaces the host set. Known ids keep their state (and schedule); new ids start
   * unhealthy and are probed at once (after initialJitter); removed ids stop being probed
   * and a probe of theirs in flight is ignored. No listener is called.
   */
  setHosts(ids: readonly string[]): void {
    const byId = new Map<string, Session>();
    const sessions = new Array<Session>(ids.length);
    const mask = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      if (byId.has(ids[i])) throw new Error(`health check: duplicate host id "${ids[i]}"`);
      let s = this.byId.get(ids[i]);
      if (s === undefined) {
        s = new Session(ids[i], i);
        if (!this.stopped) this.start(s);
      }
      s.index = i;
      byId.set(ids[i], s);
      sessions[i] = s;
      mask[i] = s.healthy ? 1 : 0;
    }
    for (const [id, s] of this.byId) if (!byId.has(id)) this.end(s);
    this.byId = byId;
    this.sessions = sessions;
    this.healthyMask = mask;
  }

  /** Whether host `index` passes active health checking. O(1). */
  isHealthy(index: number): boolean {
    return this.healthyMask[index] === 1;
  }

  /** Whether host `id` passes (false for unknown ids). */
  isHealthyId(id: string): boolean {
    return this.byId.get(id)?.healthy === true;
  }

  /** Index of host `id`, or -1. */
  indexOf(id: string): number {
    return this.byId.get(id)?.index ?? -1;
  }

  get size(): number {
    return this.sessions.length;
  }

  /** Subscribes to health transitions; returns the unsubscribe function. */
  onChange(listener: HealthListener): () => void {
    this.changeListeners.push(listener);
    return () => {
      this.changeListeners = this.changeListeners.filter((l) => l !== listener);
    };
  }

  /** Subscribes to every completed check (Envoy's addHostCheckCompleteCb); returns the unsubscribe function. */
  onCheck(listener: CheckListener): () => void {
    this.checkListeners.push(listener);
    return () => {
      this.checkListeners = this.checkListeners.filter((l) => l !== listener);
    };
  }

  /** The cluster has seen traffic: leave the no-traffic interval (from the next wait on). */
  noteTraffic(): void {
    this.trafficSeen = true;
  }

  /** Stops all probing for good: timers cancelled, answers of probes in flight ignored. */
  stop(): void {
    this.stopped = true;
    for (const s of this.sessions) this.cancelTimers(s);
  }

  stats(): HealthCheckStats {
    return { ...this.counts };
  }

  private start(s: Session): void {
    const j = Math.floor(this.config.initialJitter);
    const delay = j > 0 ? Math.max(1, Math.floor(this.rng.next() * j)) : 0;
    s.intervalTimer = this.timers.schedule(delay, () => this.send(s));
  }

  private end(s: Session): void {
    s.removed = true;
    this.cancelTimers(s);
  }

  private cancelTimers(s: Session): void {
    if (s.intervalTimer !== undefined) this.timers.cancel(s.intervalTimer);
    if (s.timeoutTimer !== undefined) this.timers.cancel(s.timeoutTimer);
    s.intervalTimer = undefined;
    s.timeoutTimer = undefined;
    s.inFlight = false;
  }

  private send(s: Session): void {
    s.intervalTimer = undefined;
    if (this.stopped || s.removed) return;
    const seq = ++s.seq;
    s.inFlight = true;
    this.counts.attempts++;
    s.timeoutTimer = this.timers.schedule(this.config.timeout, () => {
      s.timeoutTimer = undefined;
      if (!s.inFlight || s.seq !== seq) return;
      this.counts.timeouts++;
      this.complete(s, false, 'network');
    });
    this.probe(s.index, (ok, failure) => {
      if (this.stopped || s.removed || !s.inFlight || s.seq !== seq) return;
      this.complete(s, ok, failure ?? 'network');
    }, s.id);
  }

  private complete(s: Session, ok: boolean, failure: ProbeFailure): void {
    s.inFlight = false;
    if (s.timeoutTimer !== undefined) this.timers.cancel(s.timeoutTimer);
    s.timeoutTimer = undefined;
    let changed = UNCHANGED;
    if (ok) {
      this.counts.successes++;
      s.numUnhealthy = 0;
      if (!s.healthy) {
        if (s.firstCheck || ++s.numHealthy === this.config.healthyThreshold) {
          s.healthy = true;
          changed = CHANGED;
        } else {
          changed = PENDING;
        }
      }
    } else {
      this.counts.failures++;
      if (failure === 'network') this.counts.networkFailures++;
      s.numHealthy = 0;
      if (s.healthy) {
        if (failure === 'status' || ++s.numUnhealthy === this.config.unhealthyThreshold) {
          s.healthy = false;
          changed = CHANGED;
        } else {
          changed = PENDING;
        }
      }
    }
    s.firstCheck = false;
    if (changed === CHANGED) {
      this.healthyMask[s.index] = s.healthy ? 1 : 0;
      for (const l of this.changeListeners) l(s.index, s.healthy);
    }
    for (const l of this.checkListeners) l(s.index, ok, s.healthy);
    if (!this.stopped && !s.removed) s.intervalTimer = this.timers.schedule(this.nextWait(ok, changed), () => this.send(s));
  }

  /** Envoy's interval(state, changed_state) with jitter; `ok` is the check's result. */
  private nextWait(ok: boolean, changed: number): number {
    const c = this.config;
    let base: number;
    if (c.noTrafficInterval !== undefined && !this.trafficSeen) {
      base = ok && changed !== PENDING ? (c.noTrafficHealthyInterval ?? c.noTrafficInterval) : c.noTrafficInterval;
    } else if (!ok) {
      base = changed === PENDING ? this.unhealthyEdgeInterval : this.unhealthyInterval;
    } else {
      base = changed === PENDING ? this.healthyEdgeInterval : c.interval;
    }
    return this.withJitter(base);
  }

  private withJitter(base: number): number {
    let wait = base;
    const byPercent = Math.floor((this.jitterPercent * base) / 100);
    if (byPercent > 0) wait += Math.floor(this.rng.next() * byPercent);
    const j = Math.floor(this.config.intervalJitter);
    if (j > 0) wait += Math.floor(this.rng.next() * j);
    return Math.max(1, wait);
  }
}
