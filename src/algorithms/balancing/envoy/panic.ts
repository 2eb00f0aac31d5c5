/**
 * Panic threshold: when too few hosts of a priority level are available, Envoy stops
 * trusting health and balances over ALL hosts of that level, healthy or not.
 *
 * Follows Envoy's LoadBalancerBase::recalculatePerPriorityPanic / isHostSetInPanic /
 * recalculateLoadInTotalPanic (load_balancer_impl.cc):
 *   - a level panics only if NTA < 100 and 100·healthy/total + 100·degraded/total <
 *     threshold (default 50; an empty level counts as 0%);
 *   - when every level panics ("total panic") the priority load is by host count:
 *     ⌊100·hosts/Σhosts⌋, the rounding leftover to the first non-empty level;
 *   - threshold 0 with nothing available: P0 gets 100% (and nothing is picked).
 * Envoy's fail_traffic_on_panic is not modelled. The threshold is Envoy's integer percent
 * (a configured fraction is rounded to a whole percent, as PROTOBUF_PERCENT_TO_ROUNDED_INTEGER does).
 */
import {
  DEFAULT_OVERPROVISIONING_PERCENT,
  levelAvailabilities,
  normalizedTotalAvailability,
  priorityLoad,
  type LevelCounts,
} from './priority.js';

/** Envoy's default healthy_panic_threshold, in percent. */
export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

/** Whether one level is below the panic threshold (ignoring NTA; see {@link priorityState}). */
export function levelInPanic(level: LevelCounts, thresholdPercent = DEFAULT_PANIC_THRESHOLD_PERCENT): boolean {
  const threshold = Math.min(100, thresholdPercent);
  const healthyPercent = level.total === 0 ? 0 : (100 * level.healthy) / level.total;
  const degradedPercent = level.total === 0 ? 0 : (100 * level.degraded) / level.total;
  return healthyPercent + degradedPercent < threshold;
}

/** Priority load by host count, for total panic. */
export function totalPanicLoad(levels: readonly LevelCounts[]): number[] {
  const load = new Array<number>(levels.length).fill(0);
  let total = 0;
  for (const l of levels) total += l.total;
  if (total === 0) {
    if (load.length > 0) load[0] = 100;
    return load;
  }
  let left = 100;
  let firstNonEmpty = -1;
  for (let i = 0; i < levels.length; i++) {
    if (firstNonEmpty < 0 && levels[i].total !== 0) firstNonEmpty = i;
    load[i] = Math.floor((100 * levels[i].total) / total);
    left -= load[i];
  }
  load[firstNonEmpty] += left;
  return load;
}

/** Everything the pick path needs from the per-level host counts. */
export interface PriorityState {
  /** Percent of traffic to each level's healthy hosts (in panic: to all its hosts). */
  readonly healthyLoad: number[];
  /** Percent of traffic to each level's degraded hosts. */
  readonly degradedLoad: number[];
  readonly panic: boolean[];
  /** Normalized total availability (0..100). */
  readonly nta: number;
}

/**
 * Priority loads and panic flags for the levels P0..Pn (empty levels included, as Envoy's
 * priority set has them).
 */
export function priorityState(
  levels: readonly LevelCounts[],
  overprovisioningPercent = DEFAULT_OVERPROVISIONING_PERCENT,
  thresholdPercent = DEFAULT_PANIC_THRESHOLD_PERCENT,
): PriorityState {
  const { health, degraded } = levelAvailabilities(levels, overprovisioningPercent);
  const nta = normalizedTotalAvailability(health, degraded);
  const load = priorityLoad(health, degraded);
  const threshold = Math.min(100, thresholdPercent);
  const panic = new Array<boolean>(levels.length).fill(false);
  if (threshold === 0 && nta === 0) {
    if (load.healthy.length > 0) load.healthy[0] = 100;
    return { healthyLoad: load.healthy, degradedLoad: load.degraded, panic, nta };
  }
  let totalPanic = levels.length > 0;
  for (let i = 0; i < levels.length; i++) {
    panic[i] = nta === 100 ? false : levelInPanic(levels[i], threshold);
    totalPanic = totalPanic && panic[i];
  }
  if (totalPanic) {
    return { healthyLoad: totalPanicLoad(levels), degradedLoad: new Array<number>(levels.length).fill(0), panic, nta };
  }
  return { healthyLoad: load.healthy, degradedLoad: load.degraded, panic, nta };
}
