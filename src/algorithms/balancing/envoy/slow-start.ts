/**
 * Slow start: ramp a newly added (or newly healthy) endpoint's weight up over a window, so
 * a cold instance is not handed its full share at once.
 *
 * Follows Envoy's EdfLoadBalancerBase::applySlowStartFactor and recalculateHostsInSlowStart:
 *   w' = w · max(minWeightPercent, tf^(1/aggression)),   tf = max(1 ms, elapsed) / window
 * (aggression 1.0 and minWeightPercent 10% by default; no default window), the elapsed
 * time counted from the host's last health-check pass (Envoy's lastHcPassTime). An endpoint
 * enters slow start when it joins healthy (no active health check: its "last HC pass" is
 * the join time) or when it turns healthy again after being unhealthy; the factor applies
 * only while it is 'healthy' (not degraded) and until `window` has elapsed. An endpoint
 * that leaves and comes back is new again. An outlier ejection is not a failed health
 * check: an endpoint unhealthy only because it is ejected (`healthWithoutEjection` 'healthy'
 * or 'degraded', see {@link slowStartHealth}) keeps its start time, and comes back from
 * the ejection without a new ramp; one that fails its health checks and passes them while
 * still ejected enters slow start when it passes (Envoy sets lastHcPassTime then, and an
 * un-ejection does not touch it).
 *
 * In Envoy slow start exists only in ROUND_ROBIN and LEAST_REQUEST, and weights are
 * refreshed lazily: each pick re-inserts the picked host into the EDF with its current
 * weight, and the whole schedule is rebuilt on membership/health updates; no timer. meshsim
 * applies it in the layer wrapper to ANY inner policy by handing it time-varying endpoint
 * weights, recomputed at most every `refreshInterval` (on the first pick after it) while an
 * endpoint is in slow start; it changes picks only for inner policies that use weights.
 */
import type { Endpoint, Health } from '../../types.js';

export interface SlowStartOptions {
  /** Window in ms (> 0). */
  readonly window: number;
  /** Envoy's aggression (> 0), default 1.0. */
  readonly aggression: number;
  /** Floor of the factor, as a fraction (Envoy min_weight_percent 10% → 0.1). */
  readonly minWeight: number;
}

/** The slow-start factor for an endpoint that entered slow start `elapsedMs` ago (1 once the window is over). */
export function slowStartFactor(elapsedMs: number, options: SlowStartOptions): number {
  if (!(elapsedMs < options.window)) return 1;
  const tf = Math.max(1, elapsedMs) / options.window;
  const aggression = options.aggression > 0 && !Number.isNaN(options.aggression) ? options.aggression : 1;
  const ramp = aggression === 1 || tf === 1 ? tf : Math.pow(tf, 1 / aggression);
  return Math.max(ramp, options.minWeight);
}

/** `weight · slowStartFactor(elapsed)`. */
export function slowStartWeight(weight: number, elapsedMs: number, options: SlowStartOptions): number {
  return weight * slowStartFactor(elapsedMs, options);
}

/**
 * The health slow start goes by: the endpoint's health apart from an outlier ejection
 * (`healthWithoutEjection` when it is set on an unhealthy endpoint), since Envoy measures
 * slow start from the last health-check pass, which ejections do not touch.
 */
export function slowStartHealth(e: Endpoint): Health {
  return e.health === 'unhealthy' && e.healthWithoutEjection !== undefined ? e.healthWithoutEjection : e.health;
}

/**
 * Tracks when each endpoint (by id) entered slow start, across rebuilds. `observe` is
 * called with every rebuild's endpoints and their {@link slowStartHealth}; `startOf(id)` is
 * NaN for endpoints not in slow start.
 */
export class SlowStartTracker {
  /** id → time slow start began (NaN: not started); ids waiting to turn healthy map to NaN too. */
  private start = new Map<string, number>();
  private awaitingHealthy = new Set<string>();

  constructor(private readonly options: SlowStartOptions) {}

  /**
   * Records a rebuild at `now`, `health` being each endpoint's health apart from an outlier
   * ejection ({@link slowStartHealth}). Returns true if some endpoint is in its window.
   */
  observe(ids: readonly string[], health: readonly string[], now: number): boolean {
    const next = new Map<string, number>();
    const awaiting = new Set<string>();
    let any = false;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const known = this.start.has(id);
      let t = known ? this.start.get(id)! : NaN;
      const wasAwaiting = !known || this.awaitingHealthy.has(id);
      if (health[i] === 'healthy') {
        if (wasAwaiting) t = now;
      } else if (health[i] === 'unhealthy') {
        awaiting.add(id);
        t = NaN;
      } else if (wasAwaiting) {
        awaiting.add(id); // degraded: slow start begins when it turns healthy
      }
      next.set(id, t);
      if (now - t < this.options.window) any = true;
    }
    this.start = next;
    this.awaitingHealthy = awaiting;
    return any;
  }

  /** When `id` entered slow start (NaN if it has not). */
  startOf(id: string): number {
    return this.start.get(id) ?? NaN;
  }

  /** Whether `id` is inside its window at `now`. */
  inWindow(id: string, now: number): boolean {
    return now - this.startOf(id) < this.options.window;
  }
}
