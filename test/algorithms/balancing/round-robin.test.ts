import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundRobin, roundRobinSeed } from '../../../src/algorithms/balancing/round-robin.js';
import { soloEnvironment } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { counts, endpoints, randomStartProperty, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports) => roundRobin.create(roundRobin.config.parse({}), ports, soloEnvironment());

describe('round-robin', () => {
  it('cycles through the healthy endpoints in order from a random start', () => {
    const lb = make(testWorld(3).ports);
    lb.rebuild(endpoints([{}, { health: 'unhealthy' }, {}, {}]));
    const picks = Array.from({ length: 6 }, () => lb.pick({}));
    const healthy = [0, 2, 3];
    const start = healthy.indexOf(picks[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(picks).toEqual(Array.from({ length: 6 }, (_, k) => healthy[(start + k) % 3]));
  });

  randomStartProperty(make);

  it('keeps its index across rebuilds, as Envoy keeps rr_indexes_', () => {
    const lb = make(testWorld(5).ports);
    lb.rebuild(endpoints(4));
    const first = lb.pick({});
    lb.rebuild(endpoints(4));
    expect(lb.pick({})).toBe((first + 1) % 4);
    lb.rebuild(endpoints(4));
    expect(lb.pick({})).toBe((first + 2) % 4);
  });

  it('serves exact 1/n shares even when the endpoint set is rebuilt every two picks', () => {
    // A rebuild per health change, ejection or slow-start refresh must not skew the shares:
    // with a start redrawn at every rebuild, 16 picks over 4 endpoints came out [6, 6, 2, 2].
    for (let seed = 0; seed < 20; seed++) {
      const lb = make(testWorld(seed).ports);
      const picks: number[] = [];
      for (let k = 0; k < 400; k++) {
        if (k % 2 === 0) lb.rebuild(endpoints(4));
        picks.push(lb.pick({}));
      }
      expect(counts(picks, 4)).toEqual([100, 100, 100, 100]);
    }
  });

  it('answers -1 with no healthy endpoint and starts from a random point once one appears', () => {
    const lb = make(testWorld(9).ports);
    lb.rebuild(endpoints([{ health: 'unhealthy' }, { health: 'unhealthy' }]));
    expect(lb.pick({})).toBe(-1);
    lb.rebuild(endpoints(3));
    const picks = Array.from({ length: 3 }, () => lb.pick({}));
    expect([...picks].sort()).toEqual([0, 1, 2]);
  });

  it('picks hosts[idx++ % n] after the set changes, idx never reset (Envoy)', () => {
    // One fixed draw u, so the seed is known: idx starts at roundRobinSeed(u, first n).
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.array(fc.record({ n: fc.integer({ min: 1, max: 40 }), picks: fc.integer({ min: 0, max: 60 }) }), { minLength: 1, maxLength: 8 }),
        (t, steps) => {
          const u = t / 2 ** 32;
          const lb = make({ ...testWorld(1).ports, rng: { next: () => u } });
          let idx = roundRobinSeed(u, steps[0].n);
          for (const { n, picks } of steps) {
            lb.rebuild(endpoints(n));
            for (let k = 0; k < picks; k++) expect(lb.pick({})).toBe(idx++ % n);
          }
        },
      ),
    );
  });

  it('draws a seed whose residue mod the first n is floor(u·n) and mod any later n is uniform', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 1, max: 10_000 }), (t, n) => {
        const u = t / 2 ** 32;
        const seed = roundRobinSeed(u, n);
        expect(Number.isSafeInteger(seed)).toBe(true);
        expect(seed % n).toBe(Math.floor(u * n));
        expect(seed).toBeLessThan(n * 2 ** 20);
      }),
    );
    // 10 endpoints first, then 20 (a fleet doubling): every client's next position mod 20.
    // A start below 10 would reach only half of the 20 positions. 40,000 clients: each
    // count is Binomial(40000, 1/20), sd ≈ 43.6; ±5 sd is a bound a correct seed misses
    // with probability < 10⁻⁵.
    const rng = testWorld(7).ports.rng;
    const hits = new Array<number>(20).fill(0);
    for (let c = 0; c < 40_000; c++) hits[roundRobinSeed(rng.next(), 10) % 20]++;
    for (const h of hits) expect(Math.abs(h - 2000)).toBeLessThan(5 * Math.sqrt(40_000 * (1 / 20) * (19 / 20)));
  });
});
