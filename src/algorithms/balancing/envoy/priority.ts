/**
 * Priority load: how Envoy splits traffic between priority levels (P0 preferred, P1.. take
 * traffic on failover) from the health of each level.
 *
 * Follows Envoy's LoadBalancerBase::recalculatePerPriorityState / distributeLoad /
 * choosePriority (load_balancer_impl.cc), in the same unsigned integer arithmetic:
 *   health(P)   = min(100, ⌊factor·healthy/total⌋)      factor = 140 (overprovisioning 1.4)
 *   degraded(P) = min(100, ⌊factor·degraded/total⌋)
 *   NTA         = min(100, Σ health + Σ degraded)          (normalized total availability)
 *   healthy load: walk levels, load = min(remaining, ⌊health·100/NTA⌋); then degraded loads
 *   from what remains; any rounding leftover goes to the first level with healthy
 *   availability (else the first with degraded availability).
 *
 * Envoy's docs table lists 25%/25%/20% healthy → 36/36/28; Envoy's code (and this module)
 * gives 37/35/28 for those inputs (health 35/35/28, the 2-point rounding leftover goes to
 * P0, as in Envoy's own GentleFailoverWithExtraLevels test: 20/20/20 → 34/33/33). The docs
 * row is reproduced exactly when the health scores are 36/36/28. meshsim models the code.
 * meshsim has no "excluded" hosts, so total = all hosts of the level.
 */

/** Envoy's default overprovisioning factor, as its integer percentage (1.4 → 140). */
export const DEFAULT_OVERPROVISIONING_PERCENT = 140;

/** An overprovisioning factor such as 1.4 as Envoy's integer percentage (140). */
export function overprovisioningPercent(factor: number): number {
  return Math.round(factor * 100);
}

/**
 * Availability of one level for `count` healthy (or degraded) hosts out of `total`:
 * `min(100, ⌊percent·count/total⌋)`, 0 for an empty level.
 */
export function levelAvailability(count: number, total: number, percent = DEFAULT_OVERPROVISIONING_PERCENT): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.floor((percent * count) / total));
}

/** `min(100, Σ health + Σ degraded)`. */
export function normalizedTotalAvailability(health: ArrayLike<number>, degraded: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < health.length; i++) sum += health[i];
  for (let i = 0; i < degraded.length; i++) sum += degraded[i];
  return Math.min(100, sum);
}

/** Integer percentages of traffic per level, to its healthy and to its degraded hosts; they sum to 100. */
export interface PriorityLoad {
  readonly healthy: number[];
  readonly degraded: number[];
}

/** Envoy's distributeLoad: fills `out`, returns [first level with availability > 0 or -1, load left]. */
function distribute(out: number[], availability: ArrayLike<number>, totalLoad: number, nta: number): [number, number] {
  let first = -1;
  let remaining = totalLoad;
  for (let i = 0; i < availability.length; i++) {
    if (first < 0 && availability[i] > 0) first = i;
    out[i] = Math.min(remaining, Math.floor((availability[i] * 100) / nta));
    remaining -= out[i];
  }
  return [first, remaining];
}

/**
 * Healthy and degraded load per level from per-level health and degraded availability
 * (each 0..100). When NTA is 0 every load is 0 (Envoy leaves this case to panic handling,
 * see panic.ts).
 */
export function priorityLoad(health: ArrayLike<number>, degraded: ArrayLike<number>): PriorityLoad {
  const n = health.length;
  const healthy = new Array<number>(n).fill(0);
  const degradedLoad = new Array<number>(n).fill(0);
  const nta = normalizedTotalAvailability(health, degraded);
  if (nta === 0) return { healthy, degraded: degradedLoad };
  const [firstHealthy, leftAfterHealthy] = distribute(healthy, health, 100, nta);
  const [firstDegraded, left] = distribute(degradedLoad, degraded, leftAfterHealthy, nta);
  if (left !== 0) {
    if (firstHealthy !== -1) healthy[firstHealthy] += left;
    else degradedLoad[firstDegraded] += left;
  }
  return { healthy, degraded: degradedLoad };
}

/** Host counts of one priority level. */
export interface LevelCounts {
  readonly total: number;
  readonly healthy: number;
  readonly degraded: number;
}

/** Per-level health and degraded availability for the given overprovisioning percentage. */
export function levelAvailabilities(levels: readonly LevelCounts[], percent = DEFAULT_OVERPROVISIONING_PERCENT): { health: number[]; degraded: number[] } {
  return {
    health: levels.map((l) => levelAvailability(l.healthy, l.total, percent)),
    degraded: levels.map((l) => levelAvailability(l.degraded, l.total, percent)),
  };
}

/**
 * Envoy's choosePriority: `h` in 1..100 (Envoy: `hash % 100 + 1`) walks the cumulative
 * healthy loads, then the degraded ones. Returns the level, negated minus one (`-p-1`) when
 * the degraded hosts of level p were chosen, or `NO_PRIORITY` if the loads sum to less than h.
 */
export function choosePriority(h: number, healthyLoad: ArrayLike<number>, degradedLoad: ArrayLike<number>): number {
  let acc = 0;
  for (let p = 0; p < healthyLoad.length; p++) {
    acc += healthyLoad[p];
    if (h <= acc) return p;
  }
  for (let p = 0; p < degradedLoad.length; p++) {
    acc += degradedLoad[p];
    if (h <= acc) return -p - 1;
  }
  return NO_PRIORITY;
}

/** Returned by {@link choosePriority} when the loads do not add up to `h` (no hosts at all). */
export const NO_PRIORITY = -0x7fffffff;
