/**
 * Locality-weighted load balancing: pick a locality (zone) first, in proportion to its
 * configured weight scaled down by its availability, then an endpoint inside it.
 *
 * Follows Envoy's HostSetImpl::effectiveLocalityWeight and the locality EDF scheduler
 * (LocalityWrr, built with createWithPicks from a random seed):
 *   eff_w(L) = w_L · min(1, factor · available_L / total_L)     (factor 1.4; 0 when total_L = 0)
 * where "available" is the locality's healthy hosts (or degraded hosts, for the degraded
 * scheduler). Localities with eff_w = 0 are left out of the schedule; with none left the
 * pick falls through to the whole level. Example: X w=1, Y w=2, X 50% healthy →
 * 0.7 : 2 → 26% / 74%.
 *
 * meshsim's locality is `Endpoint.zone`. Its weight (Envoy: LocalityLbEndpoints
 * load_balancing_weight) comes from endpoint metadata `localityWeight` (a number as text,
 * e.g. "2"); the first endpoint of the zone (in rebuild order) that carries a valid one
 * sets it, otherwise the weight is 1. A weight of 0 removes the locality from the schedule.
 */
import type { Rng } from '../../../core/ports.js';
import type { Endpoint } from '../../types.js';
import { EDF_MAX_PREPICKS, EdfScheduler } from '../_internals/edf.js';

/** Metadata key carrying a locality's weight. */
export const LOCALITY_WEIGHT_KEY = 'localityWeight';

/** `w · min(1, factor · available/total)`; 0 for an empty locality. */
export function effectiveLocalityWeight(weight: number, available: number, total: number, overprovisioningFactor = 1.4): number {
  if (total <= 0) return 0;
  return weight * Math.min(1, (overprovisioningFactor * available) / total);
}

/** The locality weight an endpoint declares (metadata `localityWeight`), or undefined. */
export function declaredLocalityWeight(endpoint: Endpoint): number | undefined {
  const text = endpoint.metadata[LOCALITY_WEIGHT_KEY];
  if (text === undefined) return undefined;
  const w = Number(text);
  return Number.isFinite(w) && w >= 0 && text.trim() !== '' ? w : undefined;
}

/**
 * EDF over localities by effective weight (Envoy's locality scheduler). Built on every
 * rebuild; a pick is O(log k) for k localities with positive weight.
 */
export class LocalityScheduler {
  private readonly edf = new EdfScheduler();
  /** EDF slot → locality index, and the weight of each slot. */
  private localityOf = new Int32Array(0);
  private weightOf = new Float64Array(0);

  /** Rebuilds over `weights` (one per locality; ≤ 0 left out), phase-shifted by `seedPicks` picks. */
  build(weights: ArrayLike<number>, seedPicks: number): void {
    let k = 0;
    for (let i = 0; i < weights.length; i++) if (weights[i] > 0) k++;
    this.localityOf = new Int32Array(k);
    this.weightOf = new Float64Array(k);
    k = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] > 0) {
        this.localityOf[k] = i;
        this.weightOf[k++] = weights[i];
      }
    }
    this.edf.build(this.weightOf, seedPicks);
  }

  /** A locality index, or -1 when no locality has positive weight. */
  pick(): number {
    const slot = this.edf.peek();
    if (slot < 0) return -1;
    this.edf.pickAndAdd(this.weightOf[slot]);
    return this.localityOf[slot];
  }

  get size(): number {
    return this.localityOf.length;
  }
}

/** A random EDF phase, as Envoy seeds its locality scheduler with `random()`. */
export function randomSeedPicks(rng: Rng): number {
  return Math.floor(rng.next() * EDF_MAX_PREPICKS);
}
