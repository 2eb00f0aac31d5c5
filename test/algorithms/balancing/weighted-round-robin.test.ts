import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drawEnvoySeed, weightedRoundRobin, WeightedRoundRobinBalancer, weightsEqual } from '../../../src/algorithms/balancing/weighted-round-robin.js';
import { soloEnvironment } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { commonPolicyProperties, counts, endpoints, randomStartProperty, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports) => weightedRoundRobin.create(weightedRoundRobin.config.parse({}), ports, soloEnvironment());

describe('weighted-round-robin', () => {
  commonPolicyProperties(make);

  it('takes no options', () => {
    expect(weightedRoundRobin.config.parse({})).toEqual({});
    expect(weightedRoundRobin.config.safeParse({ slowStart: '1s' }).success).toBe(false);
  });

  it('weightsEqual compares the healthy subset only', () => {
    const eps = endpoints([{ weight: 2 }, { weight: 5, health: 'unhealthy' }, { weight: 2 }]);
    expect(weightsEqual(eps, new Int32Array([0, 2]))).toBe(true);
    expect(weightsEqual(eps, new Int32Array([0, 1, 2]))).toBe(false);
  });

  describe('equal weights: plain round robin from a random start (Envoy)', () => {
    it('cycles through the healthy endpoints in order, starting at seed mod n', () => {
      const lb = new WeightedRoundRobinBalancer(7);
      lb.rebuild(endpoints([{ weight: 3 }, { weight: 3, health: 'unhealthy' }, { weight: 3 }, { weight: 3, health: 'degraded' }]));
      // Healthy list [0, 2, 3]; index starts at 7 → 7 % 3 = 1.
      expect(Array.from({ length: 6 }, () => lb.pick({}))).toEqual([2, 3, 0, 2, 3, 0]);
    });

    it('keeps its index across rebuilds (Envoy never resets rr_indexes_)', () => {
      const lb = new WeightedRoundRobinBalancer(0);
      lb.rebuild(endpoints(4));
      expect([lb.pick({}), lb.pick({})]).toEqual([0, 1]);
      lb.rebuild(endpoints(4));
      expect(lb.pick({})).toBe(2);
      lb.rebuild(endpoints(3)); // index 3 % 3 = 0
      expect(lb.pick({})).toBe(0);
    });

    randomStartProperty(make);

    it('draws one 32-bit seed per balancer', () => {
      const s = drawEnvoySeed(rngStream(1, 'x'));
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 32);
    });
  });

  describe('unequal weights: EDF fast-forwarded by the seed', () => {
    it('without pre-picks follows the EDF schedule from time 0', () => {
      const lb = new WeightedRoundRobinBalancer(0);
      lb.rebuild(endpoints([{ weight: 5 }, { weight: 1 }, { weight: 2 }]));
      // Deadlines: a .2 .4 .6 .8 1; b 1; c .5 1. The three at time 1 differ in the last bits:
      // b's 1/(1 + ε) < c's 1/(2 + ε) + .5 < a's 1/(5 + ε) + 4 × .2, so b, c, then a.
      expect(Array.from({ length: 8 }, () => lb.pick({}))).toEqual([0, 0, 2, 0, 0, 1, 2, 0]);
    });

    it('every Σw consecutive picks hold each endpoint w_i ± 1 times; long runs are exact to ±1', () => {
      // Exactness per cycle holds for the pure EDF from time 0 (see the EDF tests) and for
      // smooth-weighted-round-robin; Envoy's random fast-forward lets float ties land on
      // either side of a window edge, so here the guarantee is ±1.
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 2, maxLength: 8 }), fc.integer({ min: 0, max: 10_000 }), (w, seed) => {
          const lb = make(testWorld(seed).ports);
          lb.rebuild(endpoints(w.map((weight) => ({ weight }))));
          const total = w.reduce((a, b) => a + b, 0);
          const seq = Array.from({ length: total * 20 }, () => lb.pick({}));
          for (let start = 0; start + total <= seq.length; start += 7) {
            counts(seq.slice(start, start + total), w.length).forEach((c, i) => expect(Math.abs(c - w[i])).toBeLessThanOrEqual(1));
          }
          counts(seq, w.length).forEach((c, i) => expect(Math.abs(c - 20 * w[i])).toBeLessThanOrEqual(1));
        }),
        { seed: 61, numRuns: 200 },
      );
    });

    it('skips unhealthy endpoints and reweights over the healthy ones', () => {
      const lb = make(testWorld(3).ports);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 100, health: 'unhealthy' }, { weight: 3 }]));
      const c = counts(Array.from({ length: 400 }, () => lb.pick({})), 3);
      expect(c[1]).toBe(0);
      expect(Math.abs(c[0] - 100)).toBeLessThanOrEqual(1);
      expect(Math.abs(c[2] - 300)).toBeLessThanOrEqual(1);
    });

    it('rebuilds the schedule at the same seed offset (Envoy rebuilds on every host change)', () => {
      const lb = make(testWorld(4).ports);
      const eps = endpoints([{ weight: 2 }, { weight: 7 }, { weight: 3 }]);
      lb.rebuild(eps);
      const first = Array.from({ length: 12 }, () => lb.pick({}));
      lb.rebuild(eps);
      expect(Array.from({ length: 12 }, () => lb.pick({}))).toEqual(first);
    });
  });
});
