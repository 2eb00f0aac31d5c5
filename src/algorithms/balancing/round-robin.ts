/**
 * Round robin over healthy endpoints, starting at a random offset.
 * Follows Envoy's RoundRobinLoadBalancer with equal weights (`hosts[idx++ % n]`, idx
 * seeded at random so a fleet of clients does not march in lock-step). The offset is drawn
 * once, at the first rebuild, and the index carries over later rebuilds (health changes,
 * ejections, membership, slow-start refreshes), as Envoy keeps its `rr_indexes_`: drawing
 * it again on every rebuild would skew the 1/n shares whenever the endpoint set changes often.
 */
import { z } from 'zod';
import type { Rng, Ports } from '../../core/ports.js';
import type { Balancer, BalancerDefinition, Endpoint } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';

export class RoundRobinBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private next = 0;
  private seeded = false;

  constructor(private readonly rng: Rng) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    this.eligible = healthyIndices(endpoints);
    if (!this.seeded && this.eligible.length > 0) {
      this.seeded = true;
      this.next = Math.floor(this.rng.next() * this.eligible.length);
    }
  }

  pick(): number {
    const n = this.eligible.length;
    if (n === 0) return -1;
    if (this.next >= n) this.next = 0;
    return this.eligible[this.next++];
  }

  onStart(): void {}
  onEnd(): void {}
}

export const roundRobin: BalancerDefinition<Record<string, never>> = {
  kind: 'round-robin',
  family: 'balancing',
  summary: 'Each healthy endpoint in turn, from a random starting point.',
  follows: 'Envoy ROUND_ROBIN with equal weights (random start); endpoint weights are ignored.',
  config: z.strictObject({}),
  create: (_config: Record<string, never>, ports: Ports) => new RoundRobinBalancer(ports.rng),
};
