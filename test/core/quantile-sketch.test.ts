import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  QuantileSketch,
  SKETCH_MAX_VALUE,
  SKETCH_MIN_VALUE,
  type SketchJSON,
} from '../../src/core/quantile-sketch.js';
import { makeSampler } from '../../src/core/distributions.js';
import { rngStream } from '../../src/core/rng.js';

const sketchOf = (xs: readonly number[], alpha?: number): QuantileSketch => {
  const s = new QuantileSketch(alpha);
  for (const x of xs) s.add(x);
  return s;
};

/** The rank definition the sketch implements: 0-based rank ⌊q·(n−1)⌋ of the sorted sample. */
const exactQuantile = (xs: readonly number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))];
};

/** Bucket index of x, as DDSketch defines it: ⌈log_γ x⌉. */
const bucketIndex = (x: number, alpha: number): number => Math.ceil(Math.log(x) / Math.log((1 + alpha) / (1 - alpha)));

/**
 * Shewchuk's exact summation with correct final rounding (Python's math.fsum): an
 * independent oracle for the sketch's exact sum.
 */
function fsum(xs: readonly number[]): number {
  const partials: number[] = [];
  for (let x of xs) {
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/** Latency-like values across the supported range, with zeros and duplicates. */
const latency = fc.oneof(
  fc.double({ min: 1e-6, max: 1e9, noNaN: true }),
  fc.integer({ min: 1, max: 100_000 }),
  fc.constant(0),
);
/** Any finite value ≥ 0, including subnormals and values beyond the bucket range. */
const anyValue = fc.oneof(fc.double({ min: 0, max: 1e300, noNaN: true }), fc.integer({ min: 0, max: 1000 }));
const quantileQ = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 0.5, 0.9, 0.99, 0.999, 1));

describe('QuantileSketch: accuracy', () => {
  test.prop([fc.array(latency, { minLength: 1, maxLength: 400 }), quantileQ])(
    'quantile(q) is within α of the order statistic of rank ⌊q·(n−1)⌋',
    (xs, q) => {
      const s = sketchOf(xs);
      const exact = exactQuantile(xs, q);
      // 1e-9·α allows for rounding in log and exp at bucket boundaries.
      expect(Math.abs(s.quantile(q) - exact)).toBeLessThanOrEqual(0.005 * exact * (1 + 1e-9));
    },
  );

  test.prop([
    fc.array(latency, { minLength: 1, maxLength: 200 }),
    quantileQ,
    fc.constantFrom(0.0001, 0.001, 0.01, 0.05),
  ])('holds for other relative accuracies', (xs, q, alpha) => {
    const exact = exactQuantile(xs, q);
    expect(Math.abs(sketchOf(xs, alpha).quantile(q) - exact)).toBeLessThanOrEqual(alpha * exact * (1 + 1e-9));
  });

  it('returns the exact min and max for q = 0 and q = 1', () => {
    const s = sketchOf([3.3, 1.234567, 99.9, 7]);
    expect(s.quantile(0)).toBe(1.234567);
    expect(s.quantile(1)).toBe(99.9);
    expect(s.min).toBe(1.234567);
    expect(s.max).toBe(99.9);
    expect(sketchOf([42.42]).quantile(0.5)).toBe(42.42);
  });

  it('counts values below SKETCH_MIN_VALUE in the zero bucket', () => {
    const s = sketchOf([0, SKETCH_MIN_VALUE / 10, 5, 6]);
    expect(s.toJSON().zeroCount).toBe(2);
    expect(s.quantile(0.3)).toBe(0);
    expect(s.min).toBe(0);
  });

  it('caps values above SKETCH_MAX_VALUE into the top bucket but keeps max exact', () => {
    const s = sketchOf([1, 1e15, 1e15]);
    expect(s.max).toBe(1e15);
    expect(Math.abs(s.quantile(0.5) - SKETCH_MAX_VALUE)).toBeLessThanOrEqual(0.005 * SKETCH_MAX_VALUE * (1 + 1e-9));
  });

  it('tracks a lognormal within α at the usual quantiles', () => {
    const sample = makeSampler({ dist: 'lognormal', median: 20, p99: 150 }, rngStream(11, 'sketch'));
    const xs = Array.from({ length: 100_000 }, sample);
    const s = sketchOf(xs);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = exactQuantile(xs, q);
      expect(Math.abs(s.quantile(q) - exact)).toBeLessThanOrEqual(0.005 * exact * (1 + 1e-9));
    }
  });
});

describe('QuantileSketch: empty and invalid input', () => {
  it('is NaN when empty', () => {
    const s = new QuantileSketch();
    expect(s.count).toBe(0);
    expect(s.sum).toBe(0);
    expect(s.min).toBeNaN();
    expect(s.max).toBeNaN();
    expect(s.mean()).toBeNaN();
    expect(s.quantile(0.5)).toBeNaN();
    expect(s.quantile(1)).toBeNaN();
    expect(s.toJSON()).toEqual({
      relativeAccuracy: 0.005,
      count: 0,
      zeroCount: 0,
      min: null,
      max: null,
      sum: 0,
      sumExact: '0',
      offset: 0,
      bins: [],
    });
  });

  it('rejects negative, NaN and infinite values, and q outside [0, 1]', () => {
    const s = new QuantileSketch();
    for (const x of [-1, NaN, Infinity]) expect(() => s.add(x)).toThrow(RangeError);
    expect(s.count).toBe(0);
    s.add(1);
    expect(() => s.quantile(-0.1)).toThrow(RangeError);
    expect(() => s.quantile(NaN)).toThrow(RangeError);
  });

  it('rejects a relative accuracy outside [1e-4, 1)', () => {
    expect(() => new QuantileSketch(0)).toThrow(RangeError);
    expect(() => new QuantileSketch(1e-5)).toThrow(RangeError);
    expect(() => new QuantileSketch(1)).toThrow(RangeError);
  });
});

describe('QuantileSketch: exact sum', () => {
  it('rounds the exact sum once', () => {
    expect(sketchOf([2 ** 53, 1, 1]).sum).toBe(2 ** 53 + 2);
    expect(sketchOf([0.1, 0.2, 0.3]).sum).toBe(0.6); // 0.1 + 0.2 + 0.3 === 0.6000000000000001
    expect(sketchOf([1, 2, 3, 4]).mean()).toBe(2.5);
  });

  test.prop([fc.array(anyValue, { maxLength: 100 })])('equals math.fsum of the values', (xs) => {
    expect(sketchOf(xs).sum).toBe(fsum(xs));
  });

  it('stays exact across carry flushes', () => {
    const s = new QuantileSketch();
    const n = 1_200_000;
    for (let i = 0; i < n; i++) s.add(0.1);
    expect(s.sum).toBe(fsum(Array<number>(n).fill(0.1)));
  });
});

describe('QuantileSketch: merge and JSON', () => {
  test.prop([fc.array(anyValue, { maxLength: 200 }), fc.array(anyValue, { maxLength: 200 })])(
    'merge(a, b) serialises exactly like one sketch of a ++ b, in either order',
    (a, b) => {
      const whole = sketchOf([...a, ...b]).toJSON();
      const ab = sketchOf(a);
      ab.merge(sketchOf(b));
      const ba = sketchOf(b);
      ba.merge(sketchOf(a));
      expect(ab.toJSON()).toStrictEqual(whole);
      expect(JSON.stringify(ba.toJSON())).toBe(JSON.stringify(whole));
    },
  );

  test.prop([fc.array(fc.array(latency, { maxLength: 50 }), { minLength: 1, maxLength: 6 })])(
    'merging shards through JSON is exact',
    (shards) => {
      const merged = new QuantileSketch();
      for (const shard of shards) {
        merged.merge(QuantileSketch.fromJSON(JSON.parse(JSON.stringify(sketchOf(shard))) as SketchJSON));
      }
      expect(JSON.stringify(merged)).toBe(JSON.stringify(sketchOf(shards.flat())));
    },
  );

  test.prop([fc.array(anyValue, { maxLength: 200 }), fc.array(latency, { maxLength: 20 })])(
    'fromJSON(toJSON()) round-trips, and the copy keeps working',
    (xs, more) => {
      const s = sketchOf(xs);
      const copy = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(s.toJSON())) as SketchJSON);
      expect(copy.toJSON()).toStrictEqual(s.toJSON());
      for (const q of [0, 0.25, 0.5, 0.99, 1]) expect(copy.quantile(q)).toBe(s.quantile(q));
      expect(copy.sum).toBe(s.sum);
      for (const x of more) {
        s.add(x);
        copy.add(x);
      }
      expect(copy.toJSON()).toStrictEqual(s.toJSON());
    },
  );

  it('merges a sketch with itself', () => {
    const xs = [0, 1, 2.5, 1e6];
    const s = sketchOf(xs);
    s.merge(s);
    expect(s.toJSON()).toStrictEqual(sketchOf([...xs, ...xs]).toJSON());
  });

  it('refuses to merge different relative accuracies', () => {
    expect(() => new QuantileSketch(0.005).merge(new QuantileSketch(0.01))).toThrow(RangeError);
  });

  it('serialises compactly: bins span the first to the last non-empty bucket', () => {
    const j = sketchOf([10, 10, 11]).toJSON();
    expect(j.offset).toBe(bucketIndex(10, 0.005));
    expect(j.bins).toEqual([2, ...Array(bucketIndex(11, 0.005) - bucketIndex(10, 0.005) - 1).fill(0), 1]);
    expect(j.sumExact).toMatch(/^[0-9a-f]+p-?\d+$/);
  });

  it('rejects inconsistent JSON', () => {
    const good = sketchOf([1, 2, 3]).toJSON();
    const bad: Partial<Record<keyof SketchJSON, unknown>>[] = [
      { count: 4 },
      { bins: [-1] },
      { offset: 1e9 },
      { sumExact: 'oops' },
      { min: null },
      { min: 5, max: 1 },
      { relativeAccuracy: 2 },
      { count: 0, zeroCount: 0, bins: [], min: null, max: null },
    ];
    for (const patch of bad) {
      expect(() => QuantileSketch.fromJSON({ ...good, ...patch } as SketchJSON), JSON.stringify(patch)).toThrow(
        RangeError,
      );
    }
  });
});

describe('QuantileSketch: memory', () => {
  const alpha = 0.005;
  /** Bucket slots for the whole indexable range [SKETCH_MIN_VALUE, SKETCH_MAX_VALUE]. */
  const maxSlots = bucketIndex(SKETCH_MAX_VALUE, alpha) - bucketIndex(SKETCH_MIN_VALUE, alpha) + 1;

  it('is bounded by the value range, not the count', () => {
    // 10^6 values log-uniform over [1e-6, 1e9], the supported latency range.
    const rng = rngStream(5, 'sketch/memory');
    const s = new QuantileSketch(alpha);
    for (let i = 0; i < 1_000_000; i++) s.add(10 ** (-6 + 15 * rng.next()));
    expect(s.count).toBe(1_000_000);
    expect(s.bucketCapacity).toBeLessThanOrEqual(maxSlots);
    expect(s.toJSON().bins.length).toBeLessThanOrEqual(bucketIndex(1e9, alpha) - bucketIndex(1e-6, alpha) + 1);
  });

  it('allocates in proportion to the spread of the values', () => {
    const sample = makeSampler({ dist: 'lognormal', median: 20, p99: 150 }, rngStream(6, 'sketch/memory'));
    const s = new QuantileSketch(alpha);
    for (let i = 0; i < 1_000_000; i++) s.add(sample());
    const span = bucketIndex(s.max, alpha) - bucketIndex(s.min, alpha) + 1;
    // Growth pads each growing side by max(64, half the current size).
    expect(s.bucketCapacity).toBeLessThanOrEqual(2 * span + 128);
    expect(s.bucketCapacity).toBeLessThan(maxSlots / 2);
  });
});

describe('QuantileSketch.addLn', () => {
  it('is add with the logarithm supplied: identical sketches', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    for (const x of [0, 1e-9, 0.25, 1, 3.5, 250, 1e6]) {
      a.add(x);
      b.addLn(x, Math.log(x));
    }
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
    expect(() => b.addLn(-1, NaN)).toThrow(RangeError);
  });
});
