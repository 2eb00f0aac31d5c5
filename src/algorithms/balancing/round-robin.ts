/**
 * Round robin over healthy endpoints, starting at a random offset.
 * Follows Envoy's RoundRobinLoadBalancer with equal weights: a pick is `hosts[idx++ % n]`,
 * where idx starts at a random seed (so a fleet of clients does not march in lock-step)
 * and is never reset: later rebuilds (health changes, ejections, membership, slow-start
 * refreshes) keep it, as Envoy keeps its `rr_indexes_`, and the next pick is idx modulo the
 * new count. Redrawing the start on every rebuild would skew the 1/n shares whenever the
 * endpoint set changes often; resetting the index to 0 would send every client to the
 * same endpoint after a change.
 *
 * The seed is drawn from one uniform u at the first rebuild with an endpoint (n of them):
 * `floor(u·n) + n·floor(frac(u·n)·2^20)`. Its residue modulo that first n is `floor(u·n)`, a
 * uniform start; spread over n·2^20 values, its residue modulo any later n is uniform too,
 * as that of Envoy's 64-bit seed is.
 */
import { z } from 'zod';
import type { Rng, Ports } from '../../core/ports.js';
import type { Balancer, BalancerDefinition, Endpoint } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';

export class RoundRobinBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  /** Envoy's rr index: picks so far plus the seed. */
  private index = 0;
  /** index mod eligible.length, kept in step so a pick needs no division. */
  private slot = 0;
  private seeded = false;

  constructor(private readonly rng: Rng) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    this.eligible = healthyIndices(endpoints);
    const n = this.eligible.length;
    if (n === 0) return;
    if (!this.seeded) {
      this.seeded = true;
      this.index = roundRobinSeed(this.rng.next(), n);
    }
    this.slot = this.index % n;
  }

  pick(): number {
    const n = this.eligible.length;
    if (n === 0) return -1;
    const e = this.eligible[this.slot];
    this.index++;
    this.slot = this.slot + 1 === n ? 0 : this.slot + 1;
    return e;
  }

  onStart(): void {}
  onEnd(): void {}
}

/** How many multiples of the first n the seed spreads over. */
const SEED_SPREAD = 2 ** 20;

/** The starting rr index for a draw `u` in [0, 1) over `n` ≥ 1 endpoints (see the file's comment). */
export function roundRobinSeed(u: number, n: number): number {
  const x = u * n;
  const start = Math.floor(x);
  return start + n * Math.floor((x - start) * SEED_SPREAD);
}

export const roundRobin: BalancerDefinition<Record<string, never>> = {
  kind: 'round-robin',
  family: 'balancing',
  summary: 'Each healthy endpoint in turn, from a random starting point.',
  follows: 'Envoy ROUND_ROBIN with equal weights (random start); endpoint weights are ignored.',
  config: z.strictObject({}),
  create: (_config: Record<string, never>, ports: Ports) => new RoundRobinBalancer(ports.rng),
};
