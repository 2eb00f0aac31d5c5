import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aliasDraw, buildAliasTable, weightedRandom, WeightedRandomBalancer } from '../../../src/algorithms/balancing/weighted-random.js';
import { soloEnvironment } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { commonPolicyProperties, counts, endpoints, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports) => weightedRandom.create(weightedRandom.config.parse({}), ports, soloEnvironment());

/** The exact probability of each column under an alias table. */
function aliasProbabilities(prob: Float64Array, alias: Int32Array): number[] {
  const n = prob.length;
  const p = new Array<number>(n).fill(0);
  for (let k = 0; k < n; k++) {
    p[k] += prob[k] / n;
    p[alias[k]] += (1 - prob[k]) / n;
  }
  return p;
}

describe('alias table (Vose)', () => {
  it('gives each column exactly w_k / Σw', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 50 }).filter((w) => w.some((x) => x > 1e-6)), (w) => {
        const { prob, alias } = buildAliasTable(w);
        const total = w.reduce((a, b) => a + b, 0);
        aliasProbabilities(prob, alias).forEach((p, k) => expect(p).toBeCloseTo(w[k] / total, 9));
        for (let k = 0; k < w.length; k++) {
          expect(prob[k]).toBeGreaterThanOrEqual(0);
          expect(prob[k]).toBeLessThanOrEqual(1);
          expect(alias[k]).toBeGreaterThanOrEqual(0);
          expect(alias[k]).toBeLessThan(w.length);
        }
      }),
      { seed: 81, numRuns: 500 },
    );
  });

  it('never draws a zero-weight column', () => {
    const table = buildAliasTable([0, 3, 0, 1]);
    const rng = rngStream(1, 'alias/zero');
    for (let k = 0; k < 5000; k++) expect([1, 3]).toContain(aliasDraw(table, rng));
  });

  it('rejects weights that sum to 0', () => {
    expect(() => buildAliasTable([0, 0])).toThrow(RangeError);
  });
});

describe('weighted-random', () => {
  commonPolicyProperties(make);

  it('takes no options', () => {
    expect(weightedRandom.config.parse({})).toEqual({});
    expect(weightedRandom.config.safeParse({ seed: 1 }).success).toBe(false);
  });

  it('picks in proportion to weight (binomial tolerance)', () => {
    // Weights 1, 2, 3, 4 (unhealthy 100 excluded) over 200,000 picks: count_i ~ Binomial(N, p_i),
    // sd ≤ √(N/4) ≈ 224; tolerance 5 sd.
    const lb = make(testWorld(5).ports);
    lb.rebuild(endpoints([{ weight: 1 }, { weight: 2 }, { weight: 100, health: 'unhealthy' }, { weight: 3 }, { weight: 4, health: 'degraded' }]));
    const n = 200_000;
    const c = counts(Array.from({ length: n }, () => lb.pick({})), 5);
    expect(c[2]).toBe(0);
    [1, 2, 0, 3, 4].forEach((w, i) => {
      const p = w / 10;
      expect(Math.abs(c[i] - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)) + 1);
    });
  });

  it('uses exactly two draws per pick', () => {
    let draws = 0;
    const base = rngStream(2, 'wr/draws');
    const lb = new WeightedRandomBalancer({ next: () => (draws++, base.next()) });
    lb.rebuild(endpoints([{ weight: 1 }, { weight: 5 }]));
    for (let k = 0; k < 10; k++) lb.pick({});
    expect(draws).toBe(20);
  });
});
