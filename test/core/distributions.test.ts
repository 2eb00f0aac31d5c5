import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { MAX_MS, distMean, distQuantile, makeSampler, validateDist } from '../../src/core/distributions.js';
import type { DistSpec } from '../../src/core/distribution-spec.js';
import type { Rng } from '../../src/core/ports.js';
import { rngStream } from '../../src/core/rng.js';

/*
 * Tolerances: a sample mean is within 5 standard errors (5σ/√n) of the true mean; for an
 * empirical quantile, the number of draws ≤ Q(q) is Binomial(n, q), so Q(q) lies between the
 * order statistics of ranks nq ∓ 5·√(nq(1−q)). Seeds are fixed, so results are reproducible.
 */
const N = 200_000;
const Z = 5;

function draws(spec: DistSpec, purpose: string, n = N): Float64Array {
  const sample = makeSampler(spec, rngStream(2024, purpose));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = sample();
  return out;
}

function meanOf(xs: Float64Array): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

function expectMean(xs: Float64Array, mean: number, sd: number): void {
  expect(Math.abs(meanOf(xs) - mean)).toBeLessThanOrEqual((Z * sd) / Math.sqrt(xs.length));
}

function expectQuantiles(xs: Float64Array, spec: DistSpec, qs = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999]): void {
  const sorted = Float64Array.from(xs).sort();
  const n = sorted.length;
  for (const q of qs) {
    const truth = distQuantile(spec, q);
    if (truth === undefined) throw new Error(`no closed-form quantile for ${spec.dist}`);
    const k = Z * Math.sqrt(n * q * (1 - q));
    const lo = sorted[Math.max(0, Math.floor(n * q - k) - 1)];
    const hi = sorted[Math.min(n - 1, Math.ceil(n * q + k))];
    expect(truth, `q=${q}`).toBeGreaterThanOrEqual(lo);
    expect(truth, `q=${q}`).toBeLessThanOrEqual(hi);
  }
}

function range(xs: Float64Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return [min, max];
}

/** Proportion checks: each observed frequency within 5·√(p(1−p)/n) of p. */
function expectProportions(xs: Float64Array, expected: Map<number, number>): void {
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  expect([...counts.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
  for (const [value, p] of expected) {
    const freq = (counts.get(value) ?? 0) / xs.length;
    expect(Math.abs(freq - p), `value ${value}`).toBeLessThanOrEqual(Z * Math.sqrt((p * (1 - p)) / xs.length));
  }
}

/** Simpson's rule on [a, b] with m (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, m = 20_000): number {
  const h = (b - a) / m;
  let s = f(a) + f(b);
  for (let i = 1; i < m; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

describe('makeSampler: moments and quantiles', () => {
  it('constant', () => {
    const spec: DistSpec = { dist: 'constant', value: 7.5 };
    expect(range(draws(spec, 'c', 1000))).toEqual([7.5, 7.5]);
    expect(distMean(spec)).toBe(7.5);
    expect(distQuantile(spec, 0.3)).toBe(7.5);
  });

  it('uniform [min, max)', () => {
    const spec: DistSpec = { dist: 'uniform', min: 2, max: 10 };
    const xs = draws(spec, 'u');
    const [min, max] = range(xs);
    expect(min).toBeGreaterThanOrEqual(2);
    expect(max).toBeLessThan(10);
    expect(distMean(spec)).toBe(6);
    expectMean(xs, 6, 8 / Math.sqrt(12));
    expectQuantiles(xs, spec);
  });

  it('exponential', () => {
    const spec: DistSpec = { dist: 'exponential', mean: 10 };
    const xs = draws(spec, 'e');
    expect(range(xs)[0]).toBeGreaterThanOrEqual(0);
    expect(distMean(spec)).toBe(10);
    expectMean(xs, 10, 10);
    expectQuantiles(xs, spec);
    expect(distQuantile(spec, 0.5)).toBeCloseTo(10 * Math.LN2, 12);
    expect(distQuantile(spec, 1)).toBe(Infinity);
    expect(Object.is(distQuantile(spec, 0), 0)).toBe(true);
  });

  it('normal truncated at 0, far from 0', () => {
    const spec: DistSpec = { dist: 'normal', mean: 20, stddev: 5 };
    const xs = draws(spec, 'n');
    // μ + σ·φ(4)/Φ(4), with φ(4) and Φ(4) from tables.
    expect(distMean(spec)).toBeCloseTo(20 + (5 * 1.3383022576488537e-4) / 0.9999683287581669, 12);
    // Truncating a normal never raises its variance, so σ bounds the standard deviation.
    expectMean(xs, distMean(spec), 5);
    expect(distQuantile(spec, 0.5)).toBeUndefined();
  });

  it('normal truncated at 0 is never negative and has the exact truncated mean', () => {
    for (const [mean, stddev] of [
      [0, 10],
      [1, 3],
      [2, 1],
    ]) {
      const spec: DistSpec = { dist: 'normal', mean, stddev };
      const xs = draws(spec, `n/${mean}`);
      expect(range(xs)[0]).toBeGreaterThanOrEqual(0);
      const density = (x: number) => Math.exp(-0.5 * ((x - mean) / stddev) ** 2);
      const hi = mean + 12 * stddev;
      const exact = simpson((x) => x * density(x), 0, hi) / simpson(density, 0, hi);
      expect(distMean(spec)).toBeCloseTo(exact, 9);
      expectMean(xs, exact, stddev);
    }
    expect(distMean({ dist: 'normal', mean: 0, stddev: 10 })).toBeCloseTo(10 * Math.sqrt(2 / Math.PI), 12);
    expect(distMean({ dist: 'normal', mean: 3, stddev: 0 })).toBe(3);
  });

  it('lognormal by median and p99', () => {
    const spec: DistSpec = { dist: 'lognormal', median: 20, p99: 150 };
    const mu = Math.log(20);
    const sigma = (Math.log(150) - mu) / 2.3263478740408408;
    const mean = Math.exp(mu + (sigma * sigma) / 2);
    expect(distMean(spec)).toBeCloseTo(mean, 10);
    expect(distQuantile(spec, 0.5)).toBe(20);
    expect(distQuantile(spec, 0.99)).toBe(150);
    expect(distQuantile(spec, 0.9)).toBeCloseTo(Math.exp(mu + sigma * 1.2815515655446004), 6);
    const xs = draws(spec, 'ln');
    expectMean(xs, mean, mean * Math.sqrt(Math.expm1(sigma * sigma)));
    expectQuantiles(xs, spec);
  });

  it('lognormal by mu and sigma of ln(ms)', () => {
    const spec: DistSpec = { dist: 'lognormal', mu: 1, sigma: 0.5 };
    const mean = Math.exp(1 + 0.125);
    expect(distMean(spec)).toBeCloseTo(mean, 12);
    const xs = draws(spec, 'ln2');
    expectMean(xs, mean, mean * Math.sqrt(Math.expm1(0.25)));
    expectQuantiles(xs, spec);
    expect(range(draws({ dist: 'lognormal', mu: 2, sigma: 0 }, 'ln3', 10))).toEqual([Math.exp(2), Math.exp(2)]);
  });

  it('pareto type I', () => {
    const spec: DistSpec = { dist: 'pareto', scale: 2, shape: 3.5 };
    const a = 3.5;
    const xs = draws(spec, 'p');
    expect(range(xs)[0]).toBeGreaterThanOrEqual(2);
    expect(distMean(spec)).toBeCloseTo((a * 2) / (a - 1), 12);
    const variance = (4 * a) / ((a - 1) ** 2 * (a - 2));
    expectMean(xs, distMean(spec), Math.sqrt(variance));
    expectQuantiles(xs, spec);
    expect(distQuantile(spec, 0)).toBe(2);
    expect(distMean({ dist: 'pareto', scale: 1, shape: 1 })).toBe(Infinity);
    expect(distMean({ dist: 'pareto', scale: 1, shape: 0.5 })).toBe(Infinity);
  });

  it('empirical: uniform choice among the values', () => {
    const spec: DistSpec = { dist: 'empirical', values: [1, 2, 2, 10] };
    const xs = draws(spec, 'emp');
    expect(distMean(spec)).toBe(3.75);
    expectProportions(
      xs,
      new Map([
        [1, 0.25],
        [2, 0.5],
        [10, 0.25],
      ]),
    );
    expect(distQuantile(spec, 0.5)).toBeUndefined();
  });

  it('mixture: components in proportion to normalised weights (linear scan)', () => {
    const spec: DistSpec = {
      dist: 'mixture',
      of: [
        { weight: 1, dist: 'constant', value: 1 },
        { weight: 2, dist: 'constant', value: 2 },
        { weight: 7, dist: 'constant', value: 3 },
      ],
    };
    expectProportions(
      draws(spec, 'mix'),
      new Map([
        [1, 0.1],
        [2, 0.2],
        [3, 0.7],
      ]),
    );
    expect(distMean(spec)).toBeCloseTo(2.6, 12);
  });

  it('mixture: many components (binary search)', () => {
    const of = Array.from({ length: 12 }, (_, i) => ({ weight: i + 1, dist: 'constant' as const, value: i }));
    const total = (12 * 13) / 2;
    expectProportions(draws({ dist: 'mixture', of }, 'mix12'), new Map(of.map((c) => [c.value, c.weight / total])));
  });

  it('mixture: nested and continuous components', () => {
    const spec: DistSpec = {
      dist: 'mixture',
      of: [
        { weight: 1, dist: 'uniform', min: 0, max: 10 },
        { weight: 3, dist: 'exponential', mean: 10 },
        {
          weight: 1,
          dist: 'mixture',
          of: [
            { weight: 1, dist: 'constant', value: 100 },
            { weight: 1, dist: 'constant', value: 200 },
          ],
        },
      ],
    };
    // Mixture moments are weight-averages of the component moments.
    const mean = (5 + 3 * 10 + 150) / 5;
    const second = (100 / 3 + 3 * 200 + (100 ** 2 + 200 ** 2) / 2) / 5;
    expect(distMean(spec)).toBeCloseTo(mean, 12);
    expectMean(draws(spec, 'mixn'), mean, Math.sqrt(second - mean * mean));
  });

  it('is deterministic for a given stream', () => {
    const spec: DistSpec = { dist: 'lognormal', median: 5, p99: 50 };
    expect(draws(spec, 'det', 1000)).toEqual(draws(spec, 'det', 1000));
  });
});

describe('distQuantile', () => {
  it('rejects q outside [0, 1]', () => {
    expect(() => distQuantile({ dist: 'constant', value: 1 }, 1.5)).toThrow(RangeError);
    expect(() => distQuantile({ dist: 'constant', value: 1 }, NaN)).toThrow(RangeError);
  });

  it('is undefined without a closed form', () => {
    const mixture: DistSpec = { dist: 'mixture', of: [{ weight: 1, dist: 'constant', value: 1 }] };
    expect(distQuantile(mixture, 0.5)).toBeUndefined();
  });
});

describe('validateDist', () => {
  const cases: [DistSpec, string | RegExp][] = [
    [{ dist: 'constant', value: -1 }, /^value must be/],
    [{ dist: 'constant', value: NaN }, /^value must be/],
    [{ dist: 'uniform', min: 5, max: 2 }, 'max must be ≥ min'],
    [{ dist: 'exponential', mean: 0 }, 'mean must be > 0'],
    [{ dist: 'normal', mean: 1, stddev: -1 }, 'stddev must be ≥ 0'],
    [{ dist: 'normal', mean: -1, stddev: 1 }, /^mean must be/],
    [{ dist: 'lognormal', median: 20, p99: 10 }, 'p99 must be greater than median'],
    [{ dist: 'lognormal', median: 20, p99: 20 }, 'p99 must be greater than median'],
    [{ dist: 'lognormal', median: 0, p99: 10 }, /^median must be > 0/],
    [{ dist: 'lognormal', median: 1, p99: 1e12 }, /^p99\/median must be ≤/],
    [{ dist: 'lognormal', mu: 0, sigma: -1 }, 'sigma must be ≥ 0'],
    [{ dist: 'lognormal', mu: 40, sigma: 1 }, /^mu must be/],
    [{ dist: 'pareto', scale: 0, shape: 2 }, /^scale must be > 0/],
    [{ dist: 'pareto', scale: 1, shape: 0.05 }, /^shape must be ≥/],
    [{ dist: 'empirical', values: [] }, /^values must be non-empty and ≥ 0/],
    [{ dist: 'empirical', values: [1, -2] }, /^values must be non-empty and ≥ 0/],
    [{ dist: 'mixture', of: [] }, /at least one component/],
    [{ dist: 'mixture', of: [{ weight: 0, dist: 'constant', value: 1 }] }, 'weights must be positive'],
    [{ dist: 'mixture', of: [{ weight: 1, dist: 'normal', mean: 1, stddev: -1 }] }, 'of[0]: stddev must be ≥ 0'],
    [{ dist: 'uniform', min: 0, max: 2 * MAX_MS }, /^max must be/],
  ];

  it.each(cases)('rejects %j', (spec, message) => {
    const got = validateDist(spec);
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
    expect(() => makeSampler(spec, rngStream(1, 'x'))).toThrow(RangeError);
    expect(() => distMean(spec)).toThrow(RangeError);
  });

  it('names an unknown kind', () => {
    expect(validateDist({ dist: 'weibull' } as unknown as DistSpec)).toBe('unknown dist "weibull"');
  });

  it('accepts valid specs', () => {
    expect(validateDist({ dist: 'constant', value: 0 })).toBeUndefined();
    expect(validateDist({ dist: 'uniform', min: 3, max: 3 })).toBeUndefined();
    expect(validateDist({ dist: 'normal', mean: 0, stddev: 0 })).toBeUndefined();
    expect(validateDist({ dist: 'lognormal', mu: -5, sigma: 0 })).toBeUndefined();
  });
});

// --- property: every valid spec yields finite, non-negative samples ------------------------

const ms = fc.double({ min: 0, max: MAX_MS, noNaN: true });
const positiveMs = fc.double({ min: 1e-12, max: MAX_MS, noNaN: true });
const leaf: fc.Arbitrary<DistSpec> = fc.oneof(
  ms.map((value) => ({ dist: 'constant', value }) as const),
  fc.tuple(ms, ms).map(([a, b]) => ({ dist: 'uniform', min: Math.min(a, b), max: Math.max(a, b) }) as const),
  positiveMs.map((mean) => ({ dist: 'exponential', mean }) as const),
  fc.tuple(ms, ms).map(([mean, stddev]) => ({ dist: 'normal', mean, stddev }) as const),
  fc
    .tuple(positiveMs, fc.double({ min: 1.0001, max: 1e10, noNaN: true }))
    .map(([median, ratio]) => ({ dist: 'lognormal', median, p99: median * ratio }) as const),
  fc
    .tuple(fc.double({ min: -50, max: Math.log(MAX_MS), noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }))
    .map(([mu, sigma]) => ({ dist: 'lognormal', mu, sigma }) as const),
  fc
    .tuple(positiveMs, fc.double({ min: 0.1, max: 20, noNaN: true }))
    .map(([scale, shape]) => ({ dist: 'pareto', scale, shape }) as const),
  fc.array(ms, { minLength: 1, maxLength: 8 }).map((values) => ({ dist: 'empirical', values }) as const),
);
const mixtureOf = (inner: fc.Arbitrary<DistSpec>): fc.Arbitrary<DistSpec> =>
  fc
    .array(fc.tuple(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), inner), { minLength: 1, maxLength: 4 })
    .map((cs) => ({ dist: 'mixture', of: cs.map(([weight, spec]) => ({ ...spec, weight })) }));
const validSpec = fc
  .oneof(leaf, mixtureOf(leaf), mixtureOf(fc.oneof(leaf, mixtureOf(leaf))))
  .filter((spec) => validateDist(spec) === undefined);

/** Extreme uniforms (0, 0.5 and its neighbour, 1 − 2⁻⁵³) first, then an ordinary stream. */
const uniforms = fc.array(
  fc.oneof(
    fc.constantFrom(0, 2 ** -53, 0.5, 0.5 + 2 ** -53, 1 - 2 ** -53),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  ),
  { maxLength: 16 },
);
function adversarialRng(prefix: readonly number[]): Rng {
  const rest = rngStream(0, 'property');
  let i = 0;
  return { next: () => (i < prefix.length ? prefix[i++] : rest.next()) };
}

describe('makeSampler: properties', () => {
  test.prop([validSpec, uniforms], { numRuns: 300 })('any valid spec yields finite samples ≥ 0', (spec, prefix) => {
    const sample = makeSampler(spec, adversarialRng(prefix));
    for (let i = 0; i < 64; i++) {
      const x = sample();
      expect(Number.isFinite(x)).toBe(true);
      expect(x).toBeGreaterThanOrEqual(0);
    }
  });

  test.prop([validSpec])('distMean is ≥ 0 and not NaN', (spec) => {
    expect(distMean(spec)).toBeGreaterThanOrEqual(0);
  });
});
