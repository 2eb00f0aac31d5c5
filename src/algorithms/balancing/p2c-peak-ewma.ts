/**
 * P2C + Peak EWMA: Linkerd's default balancer. The same picker as `p2c`
 * ({@link P2cBalancer}) composed with the {@link PeakEwmaLoad} metric, so an endpoint's
 * load is its decayed peak latency estimate × (pending + 1).
 * Follows linkerd2-proxy / tower `p2c::Balance<PeakEwmaDiscover>` with Linkerd's defaults
 * (default RTT 30 ms, decay 10 s). Differs only as `p2c` does: unhealthy endpoints are
 * excluded before the draw (tower draws among ready endpoints), weights are ignored.
 */
import { z } from 'zod';
import type { Ports } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { BalancerDefinition } from '../types.js';
import { PeakEwmaLoad } from './load/peak-ewma.js';
import { P2cBalancer } from './p2c.js';

export interface P2cPeakEwmaConfig {
  /** Prior RTT for an endpoint not yet observed, ms. */
  readonly defaultRtt: number;
  /** Decay time constant of the estimate, ms. */
  readonly decay: number;
}

export const p2cPeakEwma: BalancerDefinition<P2cPeakEwmaConfig> = {
  kind: 'p2c-peak-ewma',
  family: 'balancing',
  summary: 'Power of two choices on peak-EWMA latency × (pending + 1): the lower-cost of two distinct random healthy endpoints.',
  follows:
    'Linkerd (linkerd2-proxy / tower P2C + PeakEwma): default RTT 30 ms, decay 10 s, estimate decayed on every read, peaks adopted at once, every ended attempt (errors too) feeds its latency. No Finagle cold-start penalty. Unhealthy endpoints excluded before the draw; weights ignored.',
  config: z.strictObject({
    defaultRtt: zDuration.default(30),
    decay: zDuration.refine((ms) => ms > 0, { message: 'decay must be longer than 0s' }).default(10_000),
  }),
  create: (config: P2cPeakEwmaConfig, ports: Ports) =>
    new P2cBalancer(ports.rng, new PeakEwmaLoad(ports.clock, { defaultRttMs: config.defaultRtt, decayMs: config.decay })),
};
