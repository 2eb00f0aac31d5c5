import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { distinctPair } from '../../../src/algorithms/balancing/_internals/p2c.js';
import { OutstandingRequests } from '../../../src/algorithms/balancing/load/outstanding.js';
import { PeakEwmaLoad } from '../../../src/algorithms/balancing/load/peak-ewma.js';
import type { LoadMetric } from '../../../src/algorithms/balancing/load/types.js';
import { p2c, P2cBalancer } from '../../../src/algorithms/balancing/p2c.js';
import { soloEnvironment, type Endpoint } from '../../../src/algorithms/types.js';
import type { Rng } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { commonPolicyProperties, endpoints, OK, testWorld } from './_weighted-load-fixtures.js';

/** A metric pinned to fixed loads (tower's tests pin load to a constant likewise). */
class PinnedLoad implements LoadMetric {
  constructor(public loads: number[]) {}
  rebuild(): void {}
  load(i: number): number {
    return this.loads[i];
  }
  onStart(): void {}
  onEnd(): void {}
}

/** The distinct pair two recorded draws `u`, `v` stand for over n. */
function pairFrom(u: number, v: number, n: number): [number, number] {
  const draws = [u, v];
  let q = 0;
  return distinctPair({ next: () => draws[q++] }, n);
}

/** An Rng that remembers its draws. */
function recording(rng: Rng): Rng & { draws: number[] } {
  const draws: number[] = [];
  return { draws, next: () => { const u = rng.next(); draws.push(u); return u; } };
}

describe('p2c', () => {
  commonPolicyProperties((ports) => p2c.create(p2c.config.parse({}), ports, soloEnvironment()));

  it('takes no options', () => {
    expect(p2c.config.parse({})).toEqual({});
    expect(p2c.config.safeParse({ choices: 3 }).success).toBe(false);
  });

  it('is the P2C picker composed with outstanding requests', () => {
    const lb = p2c.create({}, testWorld().ports, soloEnvironment());
    expect(lb).toBeInstanceOf(P2cBalancer);
    expect((lb as P2cBalancer).metric).toBeInstanceOf(OutstandingRequests);
  });

  it('picks the less loaded of the two distinct draws, ties to the first (checked against the recorded draws)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 20 }), fc.integer(), (loads, seed) => {
        const rng = recording(rngStream(seed, 'p2c/pair'));
        const lb = new P2cBalancer(rng, new PinnedLoad(loads));
        lb.rebuild(endpoints(loads.length));
        for (let k = 0; k < 50; k++) {
          const before = rng.draws.length;
          const picked = lb.pick({});
          const [u, v] = rng.draws.slice(before);
          const [a, b] = pairFrom(u, v, loads.length);
          expect(picked === a || picked === b).toBe(true);
          const other = picked === a ? b : a;
          expect(loads[picked]).toBeLessThanOrEqual(loads[other]); // never strictly worse than the other candidate
          if (loads[a] === loads[b]) expect(picked).toBe(a);
        }
      }),
      { seed: 41, numRuns: 200 },
    );
  });

  it('is never strictly worse than the other candidate under a live workload, for both metrics', () => {
    // Healthy endpoints are all eligible, so eligible slot k is endpoint k.
    const metrics: Array<[string, (w: ReturnType<typeof testWorld>) => LoadMetric]> = [
      ['outstanding', () => new OutstandingRequests()],
      ['peak-ewma', (w) => new PeakEwmaLoad(w.ports.clock, { defaultRttMs: 30, decayMs: 10_000 })],
    ];
    for (const [, makeMetric] of metrics) {
      const world = testWorld(5);
      const rng = recording(world.ports.rng);
      const metric = makeMetric(world);
      const lb = new P2cBalancer(rng, metric);
      const n = 7;
      lb.rebuild(endpoints(n));
      const inFlight: number[] = [];
      let t = 0;
      for (let k = 0; k < 3000; k++) {
        const before = rng.draws.length;
        const picked = lb.pick({});
        const [u, v] = rng.draws.slice(before, before + 2);
        const [a, b] = pairFrom(u, v, n);
        const other = picked === a ? b : a;
        // Loads read after the pick at the same instant equal those the pick compared.
        expect(metric.load(picked)).toBeLessThanOrEqual(metric.load(other));
        lb.onStart(picked);
        inFlight.push(picked);
        if (k % 3 === 0 && inFlight.length > 0) {
          t += 7;
          world.advanceTo(t);
          const i = inFlight.splice((k * 7919) % inFlight.length, 1)[0];
          lb.onEnd(i, OK, 5 + (i * 13) % 40);
        }
      }
    }
  });

  it('with two endpoints always picks the less loaded one', () => {
    const lb = new P2cBalancer(rngStream(1, 'p2c/two'), new PinnedLoad([3, 1]));
    lb.rebuild(endpoints(2));
    for (let k = 0; k < 100; k++) expect(lb.pick({})).toBe(1);
  });

  it('with one healthy endpoint picks it without drawing', () => {
    const rng = recording(rngStream(1, 'p2c/one'));
    const lb = new P2cBalancer(rng, new OutstandingRequests());
    lb.rebuild(endpoints([{ health: 'unhealthy' }, {}, { health: 'unhealthy' }]));
    expect(lb.pick({})).toBe(1);
    expect(rng.draws.length).toBe(0);
  });

  it('prefers low loads: mean load picked over loads 0..9 is E[min of a distinct pair] = 120/45', () => {
    // P(min ≥ k) = C(10 − k, 2)/C(10, 2), so E[min] = Σ_{k≥1} C(10 − k, 2)/45 = C(10, 3)/45 = 2.667
    // against 4.5 for random. sd of one pick ≈ 2.21, so the mean of 100,000 has sd ≈ 0.007;
    // tolerance 0.05 is > 7 sd.
    const loads = Array.from({ length: 10 }, (_, k) => k);
    const lb = new P2cBalancer(rngStream(3, 'p2c/mean'), new PinnedLoad(loads));
    lb.rebuild(endpoints(10));
    let sum = 0;
    const n = 100_000;
    for (let k = 0; k < n; k++) sum += loads[lb.pick({})];
    expect(sum / n).toBeCloseTo(120 / 45, 1);
    expect(Math.abs(sum / n - 120 / 45)).toBeLessThan(0.05);
  });

  it('never picks the most loaded endpoint (it loses every pair)', () => {
    const world = testWorld(9);
    const lb = p2c.create({}, world.ports, soloEnvironment());
    lb.rebuild(endpoints(5));
    lb.onStart(3);
    for (let k = 0; k < 500; k++) expect(lb.pick({})).not.toBe(3);
  });

  it('keeps outstanding counts across a rebuild for endpoints that stay', () => {
    const world = testWorld(2);
    const lb = p2c.create({}, world.ports, soloEnvironment()) as P2cBalancer;
    const before: Endpoint[] = endpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    lb.rebuild(before);
    lb.onStart(1);
    lb.onStart(1);
    const after: Endpoint[] = endpoints([{ id: 'b' }, { id: 'd' }, { id: 'c' }]);
    lb.rebuild(after);
    expect(lb.metric.load(0)).toBe(2);
    expect(lb.metric.load(1)).toBe(0);
    for (let k = 0; k < 300; k++) expect(lb.pick({})).not.toBe(0); // b is the most loaded
    lb.onEnd(0, OK, 1);
    expect(lb.metric.load(0)).toBe(1);
  });
});
