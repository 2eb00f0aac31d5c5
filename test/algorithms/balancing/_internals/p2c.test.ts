import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { distinctPair, drawIndex, pairFirst, pairSecond } from '../../../../src/algorithms/balancing/_internals/p2c.js';
import type { Rng } from '../../../../src/core/ports.js';
import { rngStream } from '../../../../src/core/rng.js';

/** An Rng replaying fixed draws. */
function replay(...draws: number[]): Rng {
  let k = 0;
  return { next: () => draws[k++] };
}

describe('distinct pair draw (Finagle P2C)', () => {
  it('maps draws as a = rand(n), b = rand(n − 1), b ≥ a → b + 1', () => {
    expect(distinctPair(replay(0, 0), 5)).toEqual([0, 1]);
    expect(distinctPair(replay(0.5, 0.5), 5)).toEqual([2, 3]); // b = ⌊0.5·4⌋ = 2 ≥ 2 → 3
    expect(distinctPair(replay(0.5, 0.25), 5)).toEqual([2, 1]);
    expect(distinctPair(replay(0.99, 0.99), 5)).toEqual([4, 3]);
    expect(distinctPair(replay(0.7, 0.2), 2)).toEqual([1, 0]);
  });

  it('always gives two distinct indices in [0, n)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, u, v) => {
        const [a, b] = distinctPair(replay(u, v), n);
        expect(a).not.toBe(b);
        for (const x of [a, b]) {
          expect(Number.isInteger(x)).toBe(true);
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThan(n);
        }
      }),
      { seed: 21, numRuns: 1000 },
    );
  });

  it('is unbiased: every ordered pair exactly once over a grid of draws', () => {
    // With u = (i + ½)/n and v = (j + ½)/(n − 1) each (a, b) with a ≠ b appears exactly once.
    for (const n of [2, 3, 5, 8]) {
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n - 1; j++) {
          const key = distinctPair(replay((i + 0.5) / n, (j + 0.5) / (n - 1)), n).join(',');
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      expect(seen.size).toBe(n * (n - 1));
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
    }
  });

  it('draws each index uniformly (chi-square, seeded)', () => {
    // n = 10, 100,000 pairs → 200,000 indices, 20,000 expected per index. Pearson χ² with 9
    // degrees of freedom: the 1e-6 upper quantile is ≈ 44; fixed seed, so not flaky either way.
    const n = 10;
    const rng = rngStream(7, 'p2c/uniform');
    const c = new Array<number>(n).fill(0);
    for (let k = 0; k < 100_000; k++) {
      const a = pairFirst(rng, n);
      c[a]++;
      c[pairSecond(rng, n, a)]++;
    }
    const chi2 = c.reduce((s, x) => s + (x - 20_000) ** 2 / 20_000, 0);
    expect(chi2).toBeLessThan(44);
  });

  it('rand(n) is ⌊u·n⌋', () => {
    expect(drawIndex(replay(0.999), 3)).toBe(2);
    expect(drawIndex(replay(0), 3)).toBe(0);
  });
});
