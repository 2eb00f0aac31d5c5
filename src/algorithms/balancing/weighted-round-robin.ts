/**
 * Weighted round robin by earliest-deadline-first scheduling.
 * Follows Envoy's ROUND_ROBIN (`RoundRobinLoadBalancer` on `EdfLoadBalancerBase`):
 * - a seed is drawn once per balancer; with all healthy weights equal (or ≤ 1 endpoint)
 *   no schedule is built and the pick is plain RR, `hosts[idx++ % n]`, idx starting at
 *   the seed and kept across rebuilds (Envoy keeps its per-source index);
 * - otherwise every rebuild builds an EDF schedule over the healthy endpoints' weights,
 *   fast-forwarded by `seed mod 429496729` picks (Envoy's `createWithPicks(hosts, w,
 *   seed_)`) so clients do not march in step, and each pick pops and re-queues at
 *   `t + 1/w`.
 * Proportions: endpoint i gets w_i / Σw of the picks. With integer weights any Σw
 * consecutive picks of one schedule hold every endpoint w_i ± 1 times (exactly w_i for
 * an EDF started at time 0, but the fast-forward and float rounding let deadlines that
 * tie in exact arithmetic fall either side of a window edge); `smooth-weighted-round-robin`
 * is the policy that is exact per cycle.
 * Differs from Envoy: no slow start, no locality/priority layers (those live in the
 * Envoy layer wrapper); healthy and degraded endpoints form one host list; the seed is
 * 32 bits (Envoy's 64-bit seed is truncated to 32 for the pre-picks anyway).
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import type { Balancer, BalancerDefinition, Endpoint, PickContext } from '../types.js';
import { EdfScheduler } from './_internals/edf.js';
import { healthyIndices } from './_internals/healthy.js';

/** Envoy's per-balancer seed: one 32-bit draw (Envoy draws 64 bits and truncates to 32 for pre-picks). */
export function drawEnvoySeed(rng: Rng): number {
  return Math.floor(rng.next() * 0x1_0000_0000);
}

/** Whether all `weights` at `indices` are equal (Envoy's hostWeightsAreEqual). */
export function weightsEqual(endpoints: readonly Endpoint[], indices: Int32Array): boolean {
  for (let k = 1; k < indices.length; k++) if (endpoints[indices[k]].weight !== endpoints[indices[0]].weight) return false;
  return true;
}

export class WeightedRoundRobinBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private weights: Float64Array = new Float64Array(0);
  private readonly edf = new EdfScheduler();
  private weighted = false;
  /** Envoy's rr index: starts at the seed, never reset. */
  private rrIndex: number;

  constructor(private readonly seed: number) {
    this.rrIndex = seed;
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const eligible = healthyIndices(endpoints);
    this.eligible = eligible;
    this.weighted = eligible.length > 1 && !weightsEqual(endpoints, eligible);
    if (!this.weighted) return;
    const weights = new Float64Array(eligible.length);
    for (let k = 0; k < eligible.length; k++) weights[k] = endpoints[eligible[k]].weight;
    this.weights = weights;
    this.edf.build(weights, this.seed);
  }

  pick(_ctx?: PickContext): number {
    const n = this.eligible.length;
    if (n === 0) return -1;
    if (this.weighted) {
      const slot = this.edf.peek();
      this.edf.pickAndAdd(this.weights[slot]);
      return this.eligible[slot];
    }
    return this.eligible[this.rrIndex++ % n];
  }

  onStart(): void {}
  onEnd(): void {}
}

export const weightedRoundRobin: BalancerDefinition<Record<string, never>> = {
  kind: 'weighted-round-robin',
  family: 'balancing',
  summary: 'Round robin in proportion to endpoint weights (earliest-deadline-first schedule); plain round robin when weights are equal.',
  follows:
    'Envoy ROUND_ROBIN with weights: EDF deadline t + 1/w, FIFO ties, schedule rebuilt on every host change and fast-forwarded by the per-balancer random seed; equal weights → hosts[idx++ % n] from a random start. No slow start here.',
  config: z.strictObject({}),
  create: (_config: Record<string, never>, ports: Ports) => new WeightedRoundRobinBalancer(drawEnvoySeed(ports.rng)),
};
