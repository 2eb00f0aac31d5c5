/**
 * Uniform random choice among healthy endpoints.
 * Follows Envoy's RandomLoadBalancer (`rand % n`), drawing from the policy's seeded stream.
 */
import { z } from 'zod';
import type { Rng, Ports } from '../../core/ports.js';
import type { Balancer, BalancerDefinition, Endpoint } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';

export class RandomBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  /** Every endpoint is eligible (the usual case): eligible[i] = i, so the pick skips that lookup (as P2C does). */
  private allEligible = true;

  constructor(private readonly rng: Rng) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    this.eligible = healthyIndices(endpoints);
    this.allEligible = this.eligible.length === endpoints.length;
  }

  pick(): number {
    const n = this.eligible.length;
    if (n === 0) return -1;
    const i = Math.floor(this.rng.next() * n);
    return this.allEligible ? i : this.eligible[i];
  }

  onStart(): void {}
  onEnd(): void {}
}

export const random: BalancerDefinition<Record<string, never>> = {
  kind: 'random',
  family: 'balancing',
  summary: 'A uniformly random healthy endpoint per request.',
  follows: 'Envoy RANDOM (uniform, weights ignored).',
  config: z.strictObject({}),
  create: (_config: Record<string, never>, ports: Ports) => new RandomBalancer(ports.rng),
};
