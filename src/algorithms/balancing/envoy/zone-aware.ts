/**
 * Zone-aware routing: keep traffic in the caller's own zone as far as the upstream's
 * capacity there allows, and send the rest to the zones with spare capacity.
 *
 * Follows Envoy's ZoneAwareLoadBalancerBase (regenerateLocalityRoutingStructures,
 * earlyExitNonLocalityRouting, calculateLocalityPercentages, tryChooseLocalLocalityHosts),
 * locality_basis HEALTHY_HOSTS_NUM, localities matched by name. Priority 0 only. In units
 * of 1/10000:
 *   local%(z) = ⌊10000·callers_z/Σcallers⌋      up%(z) = ⌊10000·healthy_z/Σhealthy⌋
 *   (an upstream zone without healthy hosts counts 0/0)
 *   - up%(local) > 0 and up%(local) ≥ local%(local) → all traffic stays local;
 *   - else stay local with probability ⌊up%(local)·10000/local%(local)⌋ / 10000, and send
 *     the residual to the other zones ∝ max(0, up% − local%) (uniformly over all zones if no
 *     zone has any residual capacity; Envoy's "rounding" fallback).
 * Skipped (plain balancing over the level) when the upstream P0 has < 2 zones, the callers
 * are in < 2 zones, no caller is in the local zone, or P0 has < minClusterSize (6) healthy
 * hosts. The wrapper also skips it when P0 panics.
 * When the caller's own zone has no healthy upstream host (or no upstream host at all),
 * routing is residual with local percent 0: every request goes to the other zones, in
 * proportion to their residual capacity. That is current Envoy (regenerateLocalityRoutingStructures:
 * "Local percent can be 0% if there are no upstream hosts in the local locality"; its early
 * exit looks at the LOCAL cluster's local locality, not the upstream's). Envoy releases
 * before about 1.26 exited early instead when the upstream's local locality was empty
 * (plain balancing over the level). meshsim's "local cluster" is
 * `env.localZoneSizes` (callers per zone, all counted healthy) and `env.localZone`.
 * Envoy's routing_enabled runtime percentage and fail_traffic_on_panic are not modelled.
 */
import type { Rng } from '../../../core/ports.js';

/** Envoy's default zone_aware_lb_config.min_cluster_size. */
export const DEFAULT_MIN_CLUSTER_SIZE = 6;

export type ZoneRoutingMode = 'none' | 'direct' | 'residual';

/** The routing structure of one rebuild. Zone indices refer to the `zones` passed in. */
export interface ZoneRouting {
  readonly mode: ZoneRoutingMode;
  /** Index of the local zone among the upstream zones, or -1 if the upstream has none there. */
  readonly localIndex: number;
  /** Probability ×10000 of staying local (residual mode). */
  readonly localPercentToRoute: number;
  /** Cumulative residual capacity per zone (residual mode); the local zone adds nothing. */
  readonly residualCapacity: Float64Array;
}

export interface ZoneRoutingInput {
  /** The upstream P0 zones (every zone with a P0 host, healthy or not). */
  readonly zones: readonly string[];
  /** Healthy P0 hosts per zone, aligned with `zones`. */
  readonly healthy: ArrayLike<number>;
  readonly localZone: string;
  /** Callers (the local cluster) per zone. */
  readonly localZoneSizes: ReadonlyMap<string, number>;
  readonly minClusterSize?: number;
}

const NONE: ZoneRouting = { mode: 'none', localIndex: -1, localPercentToRoute: 0, residualCapacity: new Float64Array(0) };

/** Builds the routing structure (Envoy's regenerateLocalityRoutingStructures). */
export function zoneRouting(input: ZoneRoutingInput): ZoneRouting {
  const { zones, healthy, localZone, localZoneSizes } = input;
  const minClusterSize = input.minClusterSize ?? DEFAULT_MIN_CLUSTER_SIZE;
  const n = zones.length;
  if (n < 2) return NONE;
  let localZones = 0;
  let totalLocal = 0;
  for (const size of localZoneSizes.values()) {
    if (size > 0) {
      localZones++;
      totalLocal += size;
    }
  }
  if (localZones < 2) return NONE;
  if (!((localZoneSizes.get(localZone) ?? 0) > 0)) return NONE;
  let totalHealthy = 0;
  for (let i = 0; i < n; i++) totalHealthy += healthy[i];
  if (totalHealthy < minClusterSize) return NONE;

  const localPct = new Float64Array(n);
  const upPct = new Float64Array(n);
  let localIndex = -1;
  for (let i = 0; i < n; i++) {
    if (zones[i] === localZone) localIndex = i;
    if (healthy[i] === 0) continue; // Envoy: no hosts to read the locality from → {0, 0}
    localPct[i] = Math.floor((10000 * (localZoneSizes.get(zones[i]) ?? 0)) / totalLocal);
    upPct[i] = Math.floor((10000 * healthy[i]) / totalHealthy);
  }
  if (localIndex >= 0 && upPct[localIndex] > 0 && upPct[localIndex] >= localPct[localIndex]) {
    return { mode: 'direct', localIndex, localPercentToRoute: 10000, residualCapacity: new Float64Array(n) };
  }
  const localPercentToRoute = localIndex >= 0 && localPct[localIndex] > 0 ? Math.floor((upPct[localIndex] * 10000) / localPct[localIndex]) : 0;
  const residualCapacity = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    if (i !== localIndex && upPct[i] > localPct[i]) acc += upPct[i] - localPct[i];
    residualCapacity[i] = acc;
  }
  return { mode: 'residual', localIndex, localPercentToRoute, residualCapacity };
}

/** Picks a zone index (Envoy's tryChooseLocalLocalityHosts); mode must not be 'none'. */
export function chooseZone(routing: ZoneRouting, rng: Rng): number {
  if (routing.mode === 'direct') return routing.localIndex;
  if (Math.floor(rng.next() * 10000) < routing.localPercentToRoute) return routing.localIndex;
  const cum = routing.residualCapacity;
  const n = cum.length;
  const total = cum[n - 1];
  if (total === 0) return Math.floor(rng.next() * n);
  const threshold = Math.floor(rng.next() * total);
  let i = 0;
  while (threshold >= cum[i]) i++;
  return i;
}

/** The expected share of traffic each zone gets under {@link chooseZone} (fractions summing to 1). */
export function zoneShares(routing: ZoneRouting): number[] {
  const n = routing.residualCapacity.length;
  const shares = new Array<number>(n).fill(0);
  if (routing.mode === 'none') return shares;
  if (routing.mode === 'direct') {
    shares[routing.localIndex] = 1;
    return shares;
  }
  const stay = Math.min(10000, routing.localPercentToRoute) / 10000;
  if (routing.localIndex >= 0) shares[routing.localIndex] += stay;
  const cum = routing.residualCapacity;
  const total = cum[n - 1];
  for (let i = 0; i < n; i++) {
    const part = total === 0 ? 1 / n : (cum[i] - (i > 0 ? cum[i - 1] : 0)) / total;
    shares[i] += (1 - stay) * part;
  }
  return shares;
}
