/**
 * Weighted random: each pick independently chooses a healthy endpoint with probability
 * proportional to its weight, in O(1) by Walker's alias method (Vose's numerically
 * stable construction, O(n) per rebuild).
 * Follows the weighted random of Dubbo's RandomLoadBalance and of grpc-go's
 * weighted_target child choice (`wrr.NewRandom`): probability ∝ weight. Envoy's RANDOM
 * ignores weights; the `random` policy models that. Differs from Dubbo in the pick (an
 * alias table instead of a scan of cumulative weights): same distribution, different
 * draw-to-endpoint mapping. Two uniform draws per pick (column, then coin), so the coin
 * keeps full resolution however many endpoints there are.
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import { aliasDraw, buildAliasTable, type AliasTable } from '../../core/discrete.js';
import type { Balancer, BalancerDefinition, Endpoint, PickContext } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';

/** The alias method lives in core (the simulator's key sampler uses it too). */
export { aliasDraw, buildAliasTable, type AliasTable };

export class WeightedRandomBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private table: AliasTable = { prob: new Float64Array(0), alias: new Int32Array(0) };

  constructor(private readonly rng: Rng) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    const eligible = healthyIndices(endpoints);
    const weights = new Float64Array(eligible.length);
    let positive = false;
    for (let k = 0; k < eligible.length; k++) {
      const w = endpoints[eligible[k]].weight;
      weights[k] = w > 0 && Number.isFinite(w) ? w : 0;
      if (weights[k] > 0) positive = true;
    }
    // Weights are > 0 by contract; should none be usable, fall back to uniform.
    if (!positive) weights.fill(1);
    this.eligible = eligible;
    this.table = eligible.length > 0 ? buildAliasTable(weights) : { prob: new Float64Array(0), alias: new Int32Array(0) };
  }

  pick(_ctx?: PickContext): number {
    const n = this.eligible.length;
    if (n === 0) return -1;
    return this.eligible[aliasDraw(this.table, this.rng)];
  }

  onStart(): void {}
  onEnd(): void {}
}

export const weightedRandom: BalancerDefinition<Record<string, never>> = {
  kind: 'weighted-random',
  family: 'balancing',
  summary: 'A random healthy endpoint per request, with probability proportional to its weight (alias method, O(1) per pick).',
  follows:
    "Weighted random as in Dubbo's RandomLoadBalance (probability ∝ weight); Envoy's RANDOM ignores weights (see `random`). Walker/Vose alias table instead of a cumulative-weight scan: same distribution, different draws.",
  config: z.strictObject({}),
  create: (_config: Record<string, never>, ports: Ports) => new WeightedRandomBalancer(ports.rng),
};
