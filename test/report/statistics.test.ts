/**
 * Statistics across seeds: Student's t quantiles against published tables, the t interval's
 * coverage over many simulated normal samples, the sign-flip and two-sample permutation
 * tests on hand-worked examples, the Welch interval, and what the report carries (intervals,
 * comparisons with the baseline, the Differences section) on real scenarios.
 */
import { resolve } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { rngStream } from '../../src/core/rng.js';
import { reportMarkdown } from '../../src/report/markdown.js';
import { buildReport, reportJson } from '../../src/report/report.js';
import {
  compareRuns,
  COUNTER_FIGURES,
  countIntervals,
  EXACT_LIMIT,
  EXACT_SIGN_FLIP_MAX,
  incompleteBeta,
  pairedFigure,
  MAXIMUM_FIGURES,
  MONTE_CARLO_DRAWS,
  multipleComparisonsNote,
  PAIRED_SEEDS_NEEDED,
  signFlipMinP,
  signFlipPValue,
  STAT_FIGURES,
  summaryIntervals,
  tCdf,
  tInterval,
  tooFewSeeds,
  tooFewSeedsGroups,
  tooFewSeedsNote,
  TOTAL_FIGURES,
  totalInterval,
  tQuantile,
  twoSampleMinP,
  ALPHA,
  twoSamplePValue,
  UNPAIRED_SEEDS_NEEDED,
  welchFigure,
  wilsonInterval,
  type CountSource,
  type SeededFigures,
} from '../../src/report/statistics.js';
import { runScenario } from '../../src/runner/run.js';
import { loadScenario, parseScenarioText } from '../../src/scenario/load.js';
import { tinyScenario } from '../_tiny-scenario.js';

/** t(0.975, df) for df 1..30, as printed in every statistics textbook (3 decimals). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06,
  2.056, 2.052, 2.048, 2.045, 2.042,
];

describe("Student's t", () => {
  it('the 0.975 quantile matches the table for df 1..30', () => {
    T975.forEach((t, i) => expect(tQuantile(0.975, i + 1)).toBeCloseTo(t, 3));
  });

  it('matches six-decimal values, other levels, large df and the normal limit', () => {
    const cases: [number, number, number][] = [
      [0.975, 1, 12.706205],
      [0.975, 2, 4.302653],
      [0.975, 5, 2.570582],
      [0.975, 10, 2.228139],
      [0.975, 30, 2.042272],
      [0.975, 40, 2.021075],
      [0.975, 120, 1.97993],
      [0.995, 1, 63.656741],
      [0.995, 5, 4.032143],
      [0.995, 10, 3.169273],
      [0.95, 10, 1.812461],
      [0.9, 3, 1.637744],
    ];
    for (const [p, df, t] of cases) expect(Math.abs(tQuantile(p, df) - t)).toBeLessThan(2e-6);
    expect(Math.abs(tQuantile(0.975, Infinity) - 1.959964)).toBeLessThan(5e-6);
    expect(tQuantile(0.025, 7)).toBeCloseTo(-tQuantile(0.975, 7), 12);
    expect(tQuantile(0.5, 3)).toBe(0);
  });

  it('fractional degrees of freedom (Welch) lie between their neighbours', () => {
    const t = tQuantile(0.975, 4.5);
    expect(t).toBeLessThan(tQuantile(0.975, 4));
    expect(t).toBeGreaterThan(tQuantile(0.975, 5));
  });

  it('the CDF: Cauchy (df 1) in closed form, symmetry, and the incomplete beta on known values', () => {
    for (const x of [-3, -0.5, 0.2, 1, 7]) expect(tCdf(x, 1)).toBeCloseTo(0.5 + Math.atan(x) / Math.PI, 12);
    expect(tCdf(1.3, 6) + tCdf(-1.3, 6)).toBeCloseTo(1, 12);
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(incompleteBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 12); // Σ_{j=2..4} C(4,j) 0.3^j 0.7^(4−j)
  });

  it('refuses nonsense', () => {
    expect(() => tQuantile(1, 3)).toThrow(RangeError);
    expect(() => tCdf(1, 0)).toThrow(RangeError);
  });
});

/** Standard normal draws (Box–Muller) from a fixed stream. */
function normals(seed: number): () => number {
  const rng = rngStream(seed, 'test/normals');
  return () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

describe('tInterval', () => {
  it('covers the true mean ~95% of the time over simulated normal samples', () => {
    for (const n of [3, 5, 12]) {
      const draw = normals(n);
      const trials = 4000;
      let covered = 0;
      for (let k = 0; k < trials; k++) {
        const xs = Array.from({ length: n }, () => 10 + 3 * draw());
        const ci = tInterval(xs);
        if (ci !== null && ci[0] <= 10 && 10 <= ci[1]) covered++;
      }
      // Binomial σ of the coverage at 95%: √(0.95·0.05/4000) ≈ 0.0034; allow 4σ.
      const sigma = Math.sqrt((0.95 * 0.05) / trials);
      expect(Math.abs(covered / trials - 0.95)).toBeLessThan(4 * sigma);
    }
  });

  it('a known data set: mean ± t·s/√n', () => {
    // xs = 1..5: mean 3, s = √2.5, t(0.975, 4) = 2.776445 → half-width 1.963243.
    const ci = tInterval([1, 2, 3, 4, 5]);
    expect(ci?.[0]).toBeCloseTo(3 - 1.963243, 5);
    expect(ci?.[1]).toBeCloseTo(3 + 1.963243, 5);
  });

  it('no interval from one value; a point from identical values', () => {
    expect(tInterval([4])).toBeNull();
    expect(tInterval([])).toBeNull();
    expect(tInterval([2, 2, 2])).toEqual([2, 2]);
  });
});

describe('summaryIntervals', () => {
  /** A run with the given success rate and p50, the other figures fixed. */
  const run = (successRate: number, p50: number) => ({ successRate, throughputPerSec: 100, latencyMs: { mean: p50, p50, p90: p50, p99: p50, p999: p50 }, attemptsPerRequest: 1 });

  it("cuts an interval to its figure's range: a fraction for the success rate, 0 for the rest", () => {
    // Two seeds far apart: t(0.975, 1) = 12.7 makes the raw intervals reach past 0 and 1.
    const runs = [run(0.999, 0.2), run(0.9, 4)];
    const raw = { success: tInterval([0.999, 0.9]), p50: tInterval([0.2, 4]) };
    expect(raw.success?.[1]).toBeGreaterThan(1);
    expect(raw.p50?.[0]).toBeLessThan(0);
    const ci = summaryIntervals(runs);
    expect(ci.successRate?.[1]).toBe(1);
    expect(ci.successRate?.[0]).toBeCloseTo(Math.max(0, raw.success?.[0] ?? NaN), 6);
    expect(ci.p50?.[0]).toBe(0);
    expect(ci.p50?.[1]).toBeCloseTo(raw.p50?.[1] ?? NaN, 6);
    // Inside the range nothing changes.
    const calm = summaryIntervals([run(0.5, 10), run(0.52, 11), run(0.51, 10.5)]);
    expect(calm.p50?.[0]).toBeCloseTo(tInterval([10, 11, 10.5])?.[0] ?? NaN, 6);
    expect(calm.successRate?.[1]).toBeCloseTo(tInterval([0.5, 0.52, 0.51])?.[1] ?? NaN, 6);
  });
});

describe('the success rate interval: t across seeds joined with Wilson on the pooled counts', () => {
  const counted = (succeeded: number, total: number) => ({
    requests: { total, succeeded },
    successRate: succeeded / total,
    throughputPerSec: 100,
    latencyMs: { mean: 1, p50: 1, p90: 1, p99: 1, p999: 1 },
    attemptsPerRequest: 1,
  });

  it('Wilson by hand: 990 of 1000 is [0.98169, 0.99456]; all of N is [N/(N + z²), 1]', () => {
    const [lo, hi] = wilsonInterval(990, 1000);
    expect(lo).toBeCloseTo(0.981691, 5);
    expect(hi).toBeCloseTo(0.994559, 5);
    // p̂ = 1: centre and half-width both (1 + z²/2N)/(1 + z²/N) − …, lower = N/(N + z²), z² = 3.841459.
    expect(wilsonInterval(1000, 1000)[0]).toBeCloseTo(1000 / (1000 + 3.841459), 6);
    expect(wilsonInterval(1000, 1000)[1]).toBe(1);
    expect(wilsonInterval(0, 50)[0]).toBe(0);
  });

  it('every seed at 100%: not a point at 1 but [3000/(3000 + z²), 1] for 3 × 1000 requests', () => {
    const ci = summaryIntervals([counted(1000, 1000), counted(1000, 1000), counted(1000, 1000)]).successRate;
    expect(ci?.[0]).toBeCloseTo(0.998721, 6);
    expect(ci?.[1]).toBe(1);
    // Seeds that disagree: the t interval is the wider, and is kept.
    const spread = summaryIntervals([counted(900, 1000), counted(990, 1000), counted(950, 1000)]).successRate;
    const t = tInterval([0.9, 0.99, 0.95]);
    expect(spread?.[0]).toBeCloseTo(t?.[0] ?? NaN, 6);
    expect(spread?.[1]).toBe(1);
  });

  it('covers a rare failure rate: 3 seeds of 5000 requests at 99.99%, coverage ≥ 95% − 3 sd (the t interval alone: ~74%)', () => {
    const rng = rngStream(3, 'test/wilson');
    // Failures per seed ~ Poisson(0.5): often 0 on every seed, where the t interval is the point 1.
    const poisson = (lambda: number): number => {
      let k = 0;
      let p = Math.exp(-lambda);
      let sum = p;
      const u = rng.next();
      while (u > sum) {
        k++;
        p *= lambda / k;
        sum += p;
      }
      return k;
    };
    const R = 2000;
    const truth = 1 - 1e-4;
    let covered = 0;
    for (let i = 0; i < R; i++) {
      const ci = summaryIntervals([1, 2, 3].map(() => counted(5000 - poisson(0.5), 5000))).successRate;
      if (ci !== null && ci[0] <= truth && truth <= ci[1]) covered++;
    }
    expect(covered / R).toBeGreaterThan(0.95 - 3 * Math.sqrt((0.95 * 0.05) / R));
  });
});

describe('the intervals of totals and maxima', () => {
  it('a total over n seeds: n × the interval of the per-seed mean', () => {
    // xs = 1..5: 5 × (3 ± 1.963243).
    const ci = totalInterval([1, 2, 3, 4, 5]);
    expect(ci?.[0]).toBeCloseTo(5 * (3 - 1.963243), 5);
    expect(ci?.[1]).toBeCloseTo(5 * (3 + 1.963243), 5);
    expect(totalInterval([7])).toBeNull();
    expect(totalInterval([100, 100, 100])).toEqual([300, 300]);
  });

  /** One seed's counts (errors, resets and connect failures as given), latency max and failover counters. */
  const seed = (c: { total: number; rejected: number; timedOut: number; errors: number; resets: number; connectFailures: number }, max: number | null, counters: Partial<CountSource> = {}): CountSource => ({
    requests: c,
    latencyMs: { max },
    ...counters,
  });

  it('hand-worked: counts as totals, maxima per run, failover counters only when the summary has them', () => {
    // Three seeds, t(0.975, 2) = 4.302653; two seeds (max/mean), t(0.975, 1) = 12.706205.
    const runs = [
      seed({ total: 100, rejected: 2, timedOut: 0, errors: 1, resets: 0, connectFailures: 0 }, 10, { retries: 5 }),
      seed({ total: 100, rejected: 4, timedOut: 1, errors: 0, resets: 1, connectFailures: 1 }, 12, { retries: 7 }),
      seed({ total: 100, rejected: 6, timedOut: 2, errors: 2, resets: 0, connectFailures: 1 }, 14),
    ];
    const ci = countIntervals(runs, [1.1, null, 1.3], ['retries']);
    expect(Object.keys(ci)).toEqual([...TOTAL_FIGURES, ...MAXIMUM_FIGURES, 'retries']);
    // Requests identical on every seed (a constant load): a degenerate interval, the total.
    expect(ci.requests).toEqual([300, 300]);
    // rejected 2, 4, 6: mean 4, s = 2, half-width 4.302653·2/√3 = 4.968275; × 3 seeds.
    // The t-interval [-2.904826, 26.904826] is cut at 0: a count cannot be negative.
    expect(ci.rejected).toEqual([0, 26.904826]);
    // timed out 0, 1, 2: mean 1, s = 1, half-width 2.484138; × 3.
    expect(ci.timedOut).toEqual([0, 10.452413]);
    // 5xx/conn = errors + resets + connect failures: 1, 2, 3; × 3.
    expect(ci.errorsResetsConnectFailures).toEqual([0, 13.452413]);
    // max 10, 12, 14: one run's maximum, not scaled: 12 ± 4.968275.
    expect(ci.max).toEqual([7.031725, 16.968275]);
    // max/mean 1.1 and 1.3 (the seed without requests left out): 1.2 ± 12.706205·√0.02/√2.
    // max/mean is at least 1: [-0.07062, 2.47062] is cut there.
    expect(ci.maxOverMean).toEqual([1, 2.47062]);
    // retries 5, 7 and 0 (the run without the counter counts 0, as in the summed figure): mean 4, s = √13.
    expect(ci.retries).toEqual([0, 38.870058]);
    expect(ci.hedges).toBeUndefined();
  });

  it('one seed, or a maximum no seed has: null', () => {
    const one = countIntervals([seed({ total: 5, rejected: 1, timedOut: 0, errors: 0, resets: 0, connectFailures: 0 }, 3)], [1], [...COUNTER_FIGURES]);
    for (const v of Object.values(one)) expect(v).toBeNull();
    expect(Object.keys(one)).toEqual([...TOTAL_FIGURES, ...MAXIMUM_FIGURES, ...COUNTER_FIGURES]);
    const none = countIntervals([seed({ total: 5, rejected: 5, timedOut: 0, errors: 0, resets: 0, connectFailures: 0 }, null), seed({ total: 5, rejected: 5, timedOut: 0, errors: 0, resets: 0, connectFailures: 0 }, null)], [], []);
    expect(none.max).toBeNull();
    expect(none.maxOverMean).toBeNull();
    expect(none.rejected).toEqual([10, 10]);
  });
});

describe('signFlipPValue (paired permutation test)', () => {
  it('is exact on hand-worked examples', () => {
    // ±1 ±2 ±3: sums 6 4 2 0 0 −2 −4 −6; |sum| ≥ 6 for 2 of the 8 assignments.
    expect(signFlipPValue([1, 2, 3])).toBe(0.25);
    // 2 ±1 ±1 → 4 2 2 0 and −2 ±1 ±1 → 0 −2 −2 −4: |sum| ≥ 2 for 6 of 8.
    expect(signFlipPValue([2, -1, 1])).toBe(0.75);
    // Six differences of one sign: only all-plus and all-minus are as extreme, 2/64.
    expect(signFlipPValue([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])).toBe(2 / 64);
  });

  it('gives p = 1 for identical variants', () => {
    expect(signFlipPValue([0, 0, 0, 0])).toBe(1);
    expect(signFlipPValue([])).toBe(1);
  });

  it('goes Monte Carlo past 16 seeds, deterministically', () => {
    const d = Array.from({ length: EXACT_SIGN_FLIP_MAX + 4 }, (_, i) => 1 + i / 10);
    const p = signFlipPValue(d);
    expect(p).toBe(signFlipPValue(d));
    expect(p).toBeLessThan(0.001); // exact: 2/2^20
    const mixed = d.map((x, i) => (i % 2 === 0 ? x : -x));
    expect(signFlipPValue(mixed)).toBeGreaterThan(0.5);
  });
});

describe('twoSamplePValue (unpaired permutation test)', () => {
  it('is exact on a hand-worked example', () => {
    // A ⊂ {1,2,3,4} of size 2: |mean B − mean A| = 2 1 0 0 1 2 for {1,2} {1,3} {1,4} {2,3} {2,4} {3,4}.
    expect(twoSamplePValue([1, 2], [3, 4])).toBeCloseTo(2 / 6, 12);
    expect(twoSamplePValue([5, 5, 5], [5, 5, 5])).toBe(1);
  });
});

describe('the smallest p-value a permutation test can give', () => {
  /** `n` differences of one sign, or two samples far apart: the most extreme data there is. */
  const oneSign = (n: number): number[] => Array.from({ length: n }, (_, i) => 1 + i / 7);
  const apart = (na: number, nb: number): [number[], number[]] => [Array.from({ length: na }, (_, i) => i / 10), Array.from({ length: nb }, (_, i) => 100 + i)];

  it('sign-flip: 2/2^n exact, 1/(1 + draws) past 16 seeds, 1 without seeds', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => signFlipMinP(n))).toEqual([1, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]);
    expect(signFlipMinP(EXACT_SIGN_FLIP_MAX)).toBe(2 / 2 ** EXACT_SIGN_FLIP_MAX);
    expect(signFlipMinP(EXACT_SIGN_FLIP_MAX + 1)).toBe(1 / (1 + MONTE_CARLO_DRAWS));
    expect(signFlipMinP(20, 99)).toBe(0.01);
  });

  it('sign-flip: attained by differences of one sign, never undercut by any data', () => {
    for (let n = 1; n <= 10; n++) expect(signFlipPValue(oneSign(n))).toBe(signFlipMinP(n));
    const draw = normals(5);
    for (let k = 0; k < 200; k++) {
      const d = Array.from({ length: 1 + (k % 8) }, () => draw() + 0.5);
      expect(signFlipPValue(d)).toBeGreaterThanOrEqual(signFlipMinP(d.length));
    }
  });

  it('two-sample: 2/C(na + nb, na) for equal sizes, 1/C otherwise, 1/(1 + draws) past the exact limit, 1 with an empty side', () => {
    expect(twoSampleMinP(1, 1)).toBe(1);
    expect(twoSampleMinP(1, 2)).toBeCloseTo(1 / 3, 15);
    expect(twoSampleMinP(2, 2)).toBeCloseTo(2 / 6, 15);
    expect(twoSampleMinP(3, 3)).toBeCloseTo(2 / 20, 15);
    expect(twoSampleMinP(4, 4)).toBeCloseTo(2 / 70, 15);
    expect(twoSampleMinP(3, 5)).toBeCloseTo(1 / 56, 15);
    expect(twoSampleMinP(1, 19)).toBeCloseTo(1 / 20, 15);
    // 1 against 19 seeds can reach p = 0.05 at best: not below the level, so never significant
    // (with ALPHA = 1 − 0.95, which is 0.050000000000000044, it passed).
    expect(ALPHA).toBe(0.05);
    expect(twoSampleMinP(1, 19) < ALPHA).toBe(false);
    expect(twoSampleMinP(0, 3)).toBe(1);
    expect(twoSampleMinP(12, 12)).toBe(1 / (1 + MONTE_CARLO_DRAWS)); // C(24, 12) = 2,704,156 > EXACT_LIMIT
    expect(EXACT_LIMIT).toBeLessThan(2_704_156);
  });

  it('two-sample: attained by samples far apart, never undercut by any data', () => {
    for (const [na, nb] of [[1, 1], [1, 2], [2, 1], [2, 2], [2, 3], [3, 3], [1, 5], [3, 4], [4, 4]]) {
      const [a, b] = apart(na, nb);
      expect(twoSamplePValue(a, b)).toBeCloseTo(twoSampleMinP(na, nb), 12);
    }
    const draw = normals(6);
    for (let k = 0; k < 100; k++) {
      const a = Array.from({ length: 1 + (k % 4) }, () => draw());
      const b = Array.from({ length: 1 + ((k >> 2) % 5) }, () => draw() + 1);
      expect(twoSamplePValue(a, b)).toBeGreaterThanOrEqual(twoSampleMinP(a.length, b.length) - 1e-12);
    }
  });

  it('the fewest seeds that can reach p < 0.05: 6 paired (2/64), 4 on each side unpaired (2/70)', () => {
    expect(PAIRED_SEEDS_NEEDED).toBe(6);
    expect(UNPAIRED_SEEDS_NEEDED).toBe(4);
    expect(tooFewSeedsNote('paired', 0.25, '3 seeds')).toBe('too few seeds for the permutation test (smallest possible p = 0.250 with 3 seeds; 6 paired seeds reach 0.031)');
    expect(tooFewSeedsNote('welch', 0.1)).toBe('too few seeds for the permutation test (smallest possible p = 0.100; 4 seeds on each side reach 0.029)');
  });
});

const run = (seed: number, p99: number, extra: Partial<SeededFigures> = {}): SeededFigures => ({
  seed,
  successRate: 1,
  throughputPerSec: 100,
  latencyMs: { mean: p99 / 4, p50: p99 / 8, p90: p99 / 2, p99, p999: p99 * 2 },
  attemptsPerRequest: 1,
  ...extra,
});

describe('comparisons', () => {
  const names = { variant: 'fast', baseline: 'slow' };

  it('paired: geometric mean of the per-seed ratios, exp of the t interval over the log ratios, sign-flip p, a sentence', () => {
    const base = [1, 2, 3, 4, 5, 6].map((s) => run(s, 100 + s));
    const fast = base.map((r, i) => run(r.seed, (100 + r.seed) * (0.6 + [0.01, -0.01, 0.02, -0.02, 0.0, 0.005][i])));
    const c = compareRuns(names, base, fast);
    expect(c.method).toBe('paired');
    const p99 = c.figures.p99;
    const logs = [0.01, -0.01, 0.02, -0.02, 0.0, 0.005].map((x) => Math.log(0.6 + x));
    const ci = tInterval(logs);
    expect(p99.relative).toBeCloseTo(Math.exp(logs.reduce((a, b) => a + b) / 6) - 1, 6);
    expect(p99.ci?.[0]).toBeCloseTo(Math.exp(ci?.[0] ?? NaN) - 1, 6);
    expect(p99.ci?.[1]).toBeCloseTo(Math.exp(ci?.[1] ?? NaN) - 1, 6);
    expect(p99.p).toBeCloseTo(2 / 64, 6);
    expect(p99.significant).toBe(true);
    expect(p99.verdict).toMatch(/^fast p99 is 39\.\d% lower than slow \(95% CI 38\.\d–41\.\d%, p = 0\.031\)$/);
    expect(c.figures.successRate.verdict).toBe('fast success rate: the same as slow on every seed');
    expect(c.figures.successRate.p).toBe(1);
  });

  it('paired, interchangeable variants: 100/200 against 200/100 is no difference either way (the mean of v/b − 1 said +25% both ways)', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => run(s, s % 2 === 0 ? 200 : 100));
    const b = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => run(s, s % 2 === 0 ? 100 : 200));
    for (const [x, y] of [[a, b], [b, a]]) expect(compareRuns(names, x, y).figures.p99).toMatchObject({ relative: 0, p: 1, significant: false });
  });

  // Swapping baseline and variant negates every log ratio: the estimate goes to 1/(1 + x) − 1
  // (opposite sign), the interval to the reciprocal one, the p-value stays.
  test.prop([fc.array(fc.tuple(fc.double({ min: 1, max: 1000, noNaN: true }), fc.double({ min: 1, max: 1000, noNaN: true })), { minLength: 2, maxLength: 10 })], { numRuns: 200, seed: 20261129 })(
    'paired: swapping baseline and variant inverts the ratio, flips the sign, keeps p',
    (pairs) => {
      const a = pairs.map(([x], i) => run(i + 1, x));
      const b = pairs.map(([, y], i) => run(i + 1, y));
      const ab = compareRuns(names, a, b).figures.p99;
      const ba = compareRuns(names, b, a).figures.p99;
      const [x, y] = [ab.relative ?? NaN, ba.relative ?? NaN];
      // Up to the rounding of each to 6 decimals (±5e-7 each).
      expect(Math.abs((1 + x) * (1 + y) - 1)).toBeLessThanOrEqual(5e-7 * (2 + x + y) + 1e-12);
      if (Math.abs(x) > 1e-5) expect(Math.sign(x)).toBe(-Math.sign(y));
      expect(ab.p).toBeCloseTo(ba.p ?? NaN, 6);
      // The interval maps to the reciprocal one (up to the 6-decimal rounding of tiny bounds).
      const [lo, hi] = [1 + (ab.ci?.[0] ?? NaN), 1 + (ba.ci?.[1] ?? NaN)];
      if (lo > 0.01) expect(Math.abs(lo * hi - 1)).toBeLessThan(1e-3);
    },
  );

  it('paired, identically distributed variants: the estimate is above 0 about half the time (binomial bound), as a symmetric test needs', () => {
    // 400 draws of 8 seeds, each side log-normal (σ = 0.4) around 100 ms. Median-unbiased: the
    // count of positive estimates is Binomial(400, ½), within 0.5 ± 3·√(¼/400) = 0.5 ± 0.075.
    // The mean of v/b − 1 is biased upward (E = e^{σ²} − 1 ≈ +17%): positive ~75% of the time.
    const rng = rngStream(7, 'test/interchangeable');
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const R = 400;
    let positive = 0;
    let significant = 0;
    for (let k = 0; k < R; k++) {
      const a = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => run(s, 100 * Math.exp(0.4 * gauss())));
      const b = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => run(s, 100 * Math.exp(0.4 * gauss())));
      const c = pairedFigure('p99', names, a, b);
      if ((c.relative ?? 0) > 0) positive++;
      if (c.significant) significant++;
    }
    expect(Math.abs(positive / R - 0.5)).toBeLessThan(3 * Math.sqrt(0.25 / R));
    // Type I error at most 5% (+3 binomial standard deviations).
    expect(significant / R).toBeLessThan(0.05 + 3 * Math.sqrt((0.05 * 0.95) / R));
  });

  it('paired, a figure that is 0 on some seed: differences over the baseline mean, mean(v)/mean(b) − 1', () => {
    const base = [1, 2, 3, 4, 5, 6].map((s) => run(s, 100, { throughputPerSec: [10, 0, 10, 10, 10, 10][s - 1] }));
    const other = [1, 2, 3, 4, 5, 6].map((s) => run(s, 100, { throughputPerSec: [12, 12, 12, 12, 0, 12][s - 1] }));
    const c = pairedFigure('throughputPerSec', names, base, other);
    expect(c.n).toBe(6);
    expect(c.relative).toBeCloseTo(60 / 50 - 1, 6);
    const d = [2, 12, 2, 2, -10, 2].map((x) => x / (50 / 6));
    const ci = tInterval(d);
    expect(c.ci?.[0]).toBeCloseTo(ci?.[0] ?? NaN, 6);
    expect(c.ci?.[1]).toBeCloseTo(ci?.[1] ?? NaN, 6);
    expect(c.p).toBeCloseTo(signFlipPValue(d), 6);
    // The baseline at 0 on every seed: nothing to scale by.
    const dead = [1, 2, 3].map((s) => run(s, 100, { successRate: 0 }));
    expect(pairedFigure('successRate', names, dead, base.slice(0, 3))).toMatchObject({ relative: null, n: 3 });
    expect(pairedFigure('successRate', names, dead, base.slice(0, 3)).verdict).toContain('not compared with slow (the baseline’s is 0 on every seed where both have it)');
  });

  it('identical variants: p = 1, nothing significant', () => {
    const base = [1, 2, 3].map((s) => run(s, 100 + s));
    const c = compareRuns(names, base, base);
    for (const f of STAT_FIGURES) expect(c.figures[f]).toMatchObject({ relative: 0, p: 1, significant: false });
  });

  it('few seeds: says the test is out of reach, not "no significant difference", and keeps the interval', () => {
    const base = [1, 2, 3].map((s) => run(s, 100 + s));
    const slower = base.map((r, i) => run(r.seed, (100 + r.seed) * [2.3, 2.45, 2.55][i]));
    const p99 = compareRuns(names, base, slower).figures.p99;
    expect(p99).toMatchObject({ n: 3, p: 0.25, minP: 0.25, significant: false });
    expect(p99.ci?.[0]).toBeGreaterThan(1); // the interval is far from 0 …
    expect(p99.verdict).not.toContain('no significant difference'); // … so that would read as a contradiction
    expect(p99.verdict).toMatch(
      /^fast p99: \+143% vs slow \(95% CI \+1\d\d% to \+1\d\d%, p = 0\.250\), too few seeds for the permutation test \(smallest possible p = 0\.250 with 3 seeds; 6 paired seeds reach 0\.031\)$/,
    );
  });

  it('few seeds but no difference at all (mean 0, p = 1): "no significant difference", more seeds would not change it', () => {
    const base = [1, 2].map((s) => run(s, 100));
    const p99 = compareRuns(names, base, [run(1, 110), run(2, 10000 / 110)]).figures.p99;
    expect(p99).toMatchObject({ relative: 0, p: 1, minP: 0.5, significant: false });
    expect(tooFewSeeds(p99, 'paired')).toBe(false);
    expect(p99.verdict).toMatch(/^fast p99: no significant difference from slow \(/);
  });

  it('tied seeds cannot move the sign-flip test: minP counts the seeds that differ, and says "too few differing seeds to tell"', () => {
    // 8 seeds, success rate 100% on both sides on 4 of them: only 4 differ, p ≥ 2/2⁴ = 0.125.
    const rate = (xs: number[]): SeededFigures[] => xs.map((x, i) => run(i + 1, 100, { successRate: x }));
    const c = compareRuns(names, rate([1, 1, 1, 1, 0.99, 0.99, 0.99, 0.99]), rate([1, 1, 1, 1, 0.999, 0.999, 0.999, 0.999]));
    const sr = c.figures.successRate;
    expect(sr).toMatchObject({ n: 8, p: 0.125, minP: 0.125, significant: false });
    expect(tooFewSeeds(sr, 'paired')).toBe(true);
    expect(sr.verdict).not.toContain('no significant difference');
    const note =
      'too few differing seeds to tell (smallest possible p = 0.125 with 4 of 8 seeds differing; seeds with the same value on both sides cannot move the sign-flip test, 6 differing seeds reach 0.031)';
    expect(sr.verdict).toMatch(/^fast success rate: \+0\.\d+% vs slow \(95% CI .*, p = 0\.125\), /);
    expect(sr.verdict.endsWith(note)).toBe(true);
    // report.md and the compare output group it under the same note (worked out from minP).
    expect(tooFewSeedsGroups(c.figures, 'paired')).toEqual([{ note, figures: ['successRate'] }]);
    // Six of eight differing: the test can reach 2/64, the verdict is an ordinary one.
    const six = compareRuns(names, rate([1, 1, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99]), rate([1, 1, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999])).figures.successRate;
    expect(six).toMatchObject({ n: 8, minP: 0.03125, p: 0.03125, significant: true });
  });

  it('enough seeds for the test, but no difference: still "no significant difference"', () => {
    const base = [1, 2, 3, 4, 5, 6].map((s) => run(s, 100 + s));
    const mixed = base.map((r, i) => run(r.seed, (100 + r.seed) * (1 + [0.02, -0.03, 0.01, -0.01, 0.03, -0.02][i])));
    const p99 = compareRuns(names, base, mixed).figures.p99;
    expect(p99).toMatchObject({ n: 6, minP: 0.03125, significant: false });
    expect(p99.verdict).toMatch(/^fast p99: no significant difference from slow \(/);
    expect(p99.verdict).not.toContain('too few seeds');
  });

  it('unpaired, 3 seeds a side: too few for the two-sample test (2/20), said with both counts', () => {
    const a = [1, 2, 3].map((x, i) => run(i + 1, 100 + x));
    const b = [1, 2, 3].map((x, i) => run(i + 10, 200 + x));
    const p99 = compareRuns(names, a, b).figures.p99;
    expect(p99).toMatchObject({ p: 0.1, minP: 0.1, significant: false });
    expect(p99.verdict).toMatch(/too few seeds for the permutation test \(smallest possible p = 0\.100 with 3 seeds on each side; 4 seeds on each side reach 0\.029\)$/);
    const uneven = compareRuns(names, a, b.slice(0, 2)).figures.p99;
    expect(uneven.minP).toBe(0.1);
    expect(uneven.verdict).toContain('with 3 and 2 seeds;');
  });

  it('seeds where a side lacks the figure are left out; none left: not compared', () => {
    const base = [1, 2].map((s) => run(s, 100));
    const broken = [1, 2].map((s) => run(s, 100, { latencyMs: { mean: null, p50: null, p90: null, p99: null, p999: null } }));
    const c = compareRuns(names, base, broken);
    expect(c.figures.p99).toMatchObject({ n: 0, relative: null, ci: null, p: null, minP: null, significant: false });
    expect(c.figures.p99.verdict).toContain('not compared');
  });

  it('unpaired (different seeds): delta-method interval on the ratio of means, Welch–Satterthwaite df', () => {
    // a = 1,2,3 and b = 2,3,4: R = 3/2, squared standard errors of the means 1/3 each;
    // se² = R²·(1/3)/2² + (1/3)/2² = 0.1875 + 0.083333 = 0.270833;
    // df = se⁴ / (0.1875²/2 + 0.083333²/2) = 3.48454.
    const a = [1, 2, 3].map((x, i) => run(i + 1, x));
    const b = [2, 3, 4].map((x, i) => run(i + 10, x));
    const c = compareRuns(names, a, b);
    expect(c.method).toBe('welch');
    const se2 = 0.1875 + 1 / 12;
    const df = se2 ** 2 / (0.1875 ** 2 / 2 + (1 / 12) ** 2 / 2);
    expect(df).toBeCloseTo(3.48454, 4);
    const half = tQuantile(0.975, df) * Math.sqrt(se2);
    expect(c.figures.p99.relative).toBe(0.5);
    expect(c.figures.p99.ci?.[0]).toBeCloseTo(0.5 - half, 5);
    expect(c.figures.p99.ci?.[1]).toBeCloseTo(0.5 + half, 5);
    expect(c.figures.p99.p).toBeCloseTo(twoSamplePValue([1, 2, 3], [2, 3, 4]), 6);
    expect(welchFigure('p99', names, a, b)).toEqual(c.figures.p99);
  });
});

describe('unpaired relative interval: coverage', () => {
  it('covers the true ratio B/A = 2 at 95% (4 seeds a side, cv 0.3; within 3 binomial sd; the Welch difference over mean(A) gave ~90%)', () => {
    const rng = rngStream(5, 'test/welch-ratio');
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const R = 1000;
    let covered = 0;
    for (let k = 0; k < R; k++) {
      const a = [1, 2, 3, 4].map((s) => run(s, 100 * (1 + 0.3 * gauss())));
      const b = [1, 2, 3, 4].map((s) => run(s + 10, 200 * (1 + 0.3 * gauss())));
      const ci = welchFigure('p99', { variant: 'b', baseline: 'a' }, a, b).ci;
      if (ci !== null && ci[0] <= 1 && 1 <= ci[1]) covered++;
    }
    expect(covered / R).toBeGreaterThan(0.95 - 3 * Math.sqrt((0.95 * 0.05) / R));
  });
});

describe('multiple comparisons', () => {
  it('states the expected count of chance findings, 0.05 × N; nothing with no comparison', () => {
    expect(multipleComparisonsNote(14)).toBe(
      'Each comparison is tested at 5%, not corrected for multiple comparisons: with 14 comparisons, about 0.7 (0.05 × 14) may be flagged significant by chance even where nothing differs.',
    );
    expect(multipleComparisonsNote(1)).toContain('with 1 comparison, about 0.05 (0.05 × 1)');
    expect(multipleComparisonsNote(0)).toBeNull();
  });
});

describe('the report', () => {
  const TINY = tinyScenario({
    seeds: 4,
    variants: { rr: '{}', same: '{ mesh.balancer: { kind: round-robin } }', rand: '{ mesh.balancer: { kind: random } }' },
  });

  it('states its method, gives every summary figure an interval and every later variant a comparison', () => {
    const loaded = parseScenarioText(TINY, 'tiny.yaml');
    const report = buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded));
    expect(report.statistics).toMatchObject({ confidence: 0.95, baseline: 'rr' });
    expect(report.statistics.interval).toContain("Student's t");
    expect(report.statistics.comparison).toContain('sign-flip');
    expect(report.statistics.totals).toContain('n × the Student t interval of the per-seed count');
    expect(report.statistics.maxima).toContain("an interval for one run's maximum");
    for (const v of report.variants) {
      // The intervals of STAT_FIGURES first, as before; then the totals and maxima (no failover here).
      expect(Object.keys(v.summary.ci)).toEqual([...STAT_FIGURES, ...TOTAL_FIGURES, ...MAXIMUM_FIGURES]);
      const ci = v.summary.ci;
      expect(Object.fromEntries(STAT_FIGURES.map((f) => [f, ci[f]]))).toEqual(summaryIntervals(v.runs));
      const p99 = ci.p99;
      expect(p99).not.toBeNull();
      expect(p99?.[0]).toBeLessThanOrEqual(p99?.[1] ?? NaN);
      // The interval of the total holds the total itself here; the one of max is of one run's maximum.
      const requests = totalInterval(v.runs.map((r) => r.requests.total));
      expect(ci.requests).toEqual(requests === null ? null : requests.map((x) => Math.round(x * 1e6) / 1e6));
      const maxima = v.runs.map((r) => r.latencyMs.max as number);
      expect(ci.max).toEqual(countIntervals(v.runs, [], []).max);
      expect(v.summary.latencyMs.max).toBe(Math.max(...maxima));
      expect(ci.maxOverMean).not.toBeNull();
    }
    // The same balancer on the same seeds: the same per-run max/mean, so the same interval.
    expect(report.variants[1].summary.ci.maxOverMean).toEqual(report.variants[0].summary.ci.maxOverMean);
    expect(report.variants[0].comparison).toBeUndefined();
    // The same balancer on the same seeds (common random numbers): identical on every seed.
    const same = report.variants[1].comparison;
    expect(same?.method).toBe('paired');
    for (const f of STAT_FIGURES) expect(same?.figures[f]).toMatchObject({ relative: 0, p: 1, significant: false });
    expect(report.variants[2].comparison?.baseline).toBe('rr');
    // Existing fields unchanged: `ci` comes last in the summary, `comparison` right after it.
    expect(Object.keys(report.variants[2])).toEqual(['name', 'summary', 'comparison', 'layers', 'runs', 'instances', 'spread', 'membership', 'timeline', 'faults', 'latencyDistribution']);
    expect(Object.keys(report.variants[2].summary).at(-1)).toBe('ci');
    const md = reportMarkdown(report);
    expect(md).toContain('## Differences vs rr');
    expect(md).toContain('- **same**');
    expect(md).toContain('With 4 seeds no difference can reach p < 0.05');
    // Four seeds: the sign-flip test cannot reach p < 0.05 (2/16), and the section says so,
    // apart from the figures with no difference at all, which are the same on every seed.
    expect(md).toContain('- **same**\n  - the same on every seed: success rate, throughput, mean latency, p50, p90, p99, p99.9, attempts per request\n');
    expect(md).toMatch(/^- \*\*rand\*\*\n {2}- too few seeds for the permutation test \(smallest possible p = 0\.125 with 4 seeds; 6 paired seeds reach 0\.031\): mean latency[ ,]/m);
    expect(md).toContain('  - the same on every seed: success rate, throughput, attempts per request\n');
    expect(md).not.toContain('no significant difference');
    // 8 figures × 2 variants against the baseline, each at 5%, uncorrected: said below the differences.
    expect(md).toContain(
      '\nEach comparison is tested at 5%, not corrected for multiple comparisons: with 16 comparisons, about 0.8 (0.05 × 16) may be flagged significant by chance even where nothing differs.\n',
    );
    // p90 and p99 of rand tie with rr's on one seed (the same sketch bucket): only 3 seeds differ.
    expect(md).toMatch(/^ {2}- too few differing seeds to tell \(smallest possible p = 0\.250 with 3 of 4 seeds differing; .*\): p90, p99$/m);
    // A report written before `minP` was added reads the same (worked out again from n, which
    // cannot know of ties: those figures join the plain too-few-seeds line).
    const old = JSON.parse(reportJson(report), (key: string, value: unknown) => (key === 'minP' ? undefined : value)) as typeof report;
    expect(reportJson(old)).not.toContain('minP');
    const tooFewLines = (s: string): string => s.replace(/^ {2}- too few .*\n/gm, '');
    expect(tooFewLines(reportMarkdown(old))).toBe(tooFewLines(md));
  });

  it('failover counters: an interval of each total the summary has, no other; reports of a scenario without them unchanged in key order', () => {
    const tail = 'faults:\n  - { kind: error, target: { service: api, instances: [1] }, at: 0s, rate: 20%, status: 503 }\n';
    const variants = { retries: '{ mesh.failover.retries: { max: 2, on: [5xx] } }', budget: '{ mesh.failover.retries: { max: 2, on: [5xx], budget: { percent: 20% } } }' };
    const loaded = parseScenarioText(tinyScenario({ seeds: 3, variants, tail }), 'tiny.yaml');
    const report = buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded));
    for (const v of report.variants) {
      const counters = COUNTER_FIGURES.filter((c) => v.summary[c] !== undefined);
      expect(counters).toContain('retries');
      expect(Object.keys(v.summary.ci)).toEqual([...STAT_FIGURES, ...TOTAL_FIGURES, ...MAXIMUM_FIGURES, ...counters]);
      const retries = totalInterval(v.runs.map((r) => r.retries ?? 0));
      expect(v.summary.ci.retries).toEqual(retries?.map((x) => Math.round(x * 1e6) / 1e6));
      expect(v.summary.retries).toBeGreaterThan(0);
    }
  });

  it('is byte-identical when built twice', () => {
    const loaded = parseScenarioText(TINY, 'tiny.yaml');
    const once = reportJson(buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded)));
    const twice = reportJson(buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded)));
    expect(twice).toBe(once);
  });

  it('one seed: no intervals, comparisons without one', () => {
    const loaded = parseScenarioText(TINY, 'tiny.yaml');
    const report = buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded, { seeds: 1 }));
    for (const f of STAT_FIGURES) expect(report.variants[0].summary.ci[f]).toBeNull();
    for (const f of [...TOTAL_FIGURES, ...MAXIMUM_FIGURES]) expect(report.variants[0].summary.ci[f]).toBeNull();
    expect(report.variants[2].comparison?.figures.p99.ci).toBeNull();
    expect(report.variants[2].comparison?.figures.p99.significant).toBe(false);
  });

  it('quickstart, 6 seeds: least-request p99 is significantly higher than round-robin (it queues behind the slow instance)', () => {
    // Least-request keeps every request alive (≈100% success vs 90%), so the requests
    // round robin loses to rejections and timeouts become least-request's slow tail:
    // p99 ≈ 390 ms vs ≈ 160 ms on each of the seeds. Six seeds are the fewest that let a
    // sign-flip test reach p < 0.05 (2/64).
    const loaded = loadScenario(resolve(__dirname, '../../scenarios/quickstart.yaml'));
    const output = runScenario(loaded, { seeds: 6, variants: ['round-robin', 'least-request'] });
    const report = buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, output);
    const c = report.variants[1].comparison;
    expect(c?.baseline).toBe('round-robin');
    const p99 = c?.figures.p99;
    expect(p99?.significant).toBe(true);
    expect(p99?.p).toBeCloseTo(2 / 64, 6);
    expect(p99?.relative).toBeGreaterThan(1);
    expect(p99?.ci?.[0]).toBeGreaterThan(0.5);
    expect(p99?.verdict).toMatch(/^least-request p99 is \d+% higher than round-robin \(95% CI \d+–\d+%, p = 0\.031\)$/);
    expect(c?.figures.successRate.significant).toBe(true);
    expect(c?.figures.successRate.relative).toBeGreaterThan(0.1);
  });
});
