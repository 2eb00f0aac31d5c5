import { describe, expect, it } from 'vitest';
import { PeakEwmaLoad } from '../../../src/algorithms/balancing/load/peak-ewma.js';
import { P2cBalancer } from '../../../src/algorithms/balancing/p2c.js';
import { p2cPeakEwma } from '../../../src/algorithms/balancing/p2c-peak-ewma.js';
import { soloEnvironment } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { commonPolicyProperties, counts, endpoints, OK, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports, options: Record<string, unknown> = {}) => p2cPeakEwma.create(p2cPeakEwma.config.parse(options), ports, soloEnvironment()) as P2cBalancer;

describe('p2c-peak-ewma', () => {
  commonPolicyProperties((ports) => make(ports));

  it("has Linkerd's defaults and takes durations", () => {
    expect(p2cPeakEwma.config.parse({})).toEqual({ defaultRtt: 30, decay: 10_000 });
    expect(p2cPeakEwma.config.parse({ defaultRtt: '50ms', decay: '2s' })).toEqual({ defaultRtt: 50, decay: 2000 });
    expect(p2cPeakEwma.config.safeParse({ decay: '0s' }).success).toBe(false);
    expect(p2cPeakEwma.config.safeParse({ decay: 10 }).success).toBe(false); // a unit is required
    expect(p2cPeakEwma.config.safeParse({ tau: '1s' }).success).toBe(false);
  });

  it('is the same P2C picker as p2c, composed with PeakEwma', () => {
    const lb = make(testWorld().ports);
    expect(lb).toBeInstanceOf(P2cBalancer);
    expect(lb.metric).toBeInstanceOf(PeakEwmaLoad);
  });

  it('avoids an endpoint whose latency spiked until fresher observations of the others overtake it', () => {
    const world = testWorld(3);
    const lb = make(world.ports);
    lb.rebuild(endpoints(3));
    lb.onStart(2);
    world.advanceTo(1000);
    lb.onEnd(2, OK, 1000); // est 1000 ms vs 30 ms priors decaying
    for (let k = 0; k < 300; k++) expect(lb.pick({})).not.toBe(2);
    // Decay alone never reorders idle endpoints (every estimate shrinks by the same factor
    // e^(−Δt/τ)): 60 s later the spike is 1000·e^(−6) ≈ 2.5 ms against priors of ≈ 0.07 ms.
    world.advanceTo(61_000);
    expect(lb.metric.load(2)).toBeCloseTo(1000 * Math.exp(-6), 9);
    for (let k = 0; k < 300; k++) expect(lb.pick({})).not.toBe(2);
    // New observations do: once the others report 100 ms (a new peak for them), it wins again.
    for (const i of [0, 1]) {
      lb.onStart(i);
      lb.onEnd(i, OK, 100);
    }
    const picks = Array.from({ length: 100 }, () => lb.pick({}));
    // It wins every pair it is in: 2/3 of 100 picks, sd 4.7; the bound 50 is 3.5 sd below.
    expect(picks.filter((i) => i === 2).length).toBeGreaterThan(50);
  });

  it('spreads load by pending count when latencies are equal (cost = rtt × (pending + 1))', () => {
    const world = testWorld(4);
    const lb = make(world.ports);
    lb.rebuild(endpoints(4));
    // Start every pick and never end: P2C on pending keeps the counts within one of each other
    // (each pick goes to the less loaded of two, and equal priors make cost ∝ pending + 1).
    const picks: number[] = [];
    for (let k = 0; k < 400; k++) {
      const i = lb.pick({});
      lb.onStart(i);
      picks.push(i);
    }
    const c = counts(picks, 4);
    expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(3);
  });

  it('decay option: a shorter decay forgets a spike sooner', () => {
    const spikeCost = (decay: string) => {
      const world = testWorld(1);
      const lb = make(world.ports, { decay });
      lb.rebuild(endpoints(1));
      lb.onStart(0);
      world.advanceTo(500);
      lb.onEnd(0, OK, 500);
      world.advanceTo(1500);
      return lb.metric.load(0);
    };
    expect(spikeCost('10s')).toBeCloseTo(500 * Math.exp(-0.1), 9);
    expect(spikeCost('1s')).toBeCloseTo(500 * Math.exp(-1), 9);
  });

  it('defaultRtt option: the prior cost of a new endpoint', () => {
    const lb = make(testWorld().ports, { defaultRtt: '100ms' });
    lb.rebuild(endpoints(2));
    expect(lb.metric.load(1)).toBe(100);
  });
});
