/**
 * Backoff: Envoy's jittered exponential intervals exactly as its code computes them, their
 * distribution (chi-square per retry number), and gRPC A6's continuous backoff (KS test).
 */
import { describe, expect, it } from 'vitest';
import {
  backoffConfigSchema,
  createBackoff,
  EnvoyBackoff,
  envoyBackoffBounds,
  envoyBackoffInterval,
  GrpcBackoff,
  grpcBackoffCap,
  grpcBackoffDelay,
} from '../../../src/algorithms/failover/backoff.js';
import { rngStream } from '../../../src/core/rng.js';
import { scriptedRng } from './_retry-fixtures.js';

/** Upper α quantile of χ²(df), Wilson–Hilferty: df·(1 − 2/(9df) + z·√(2/(9df)))³ (z = 3.0902 for α = 0.001). */
function chiSquareCritical(df: number, z = 3.0902): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

describe('Envoy intervals (JitteredExponentialBackOffStrategy)', () => {
  it('default 25 ms / 250 ms: [0,25), [0,50), [0,100), [0,200), then [0,250)', () => {
    const b = new EnvoyBackoff(scriptedRng([0]));
    const intervals: number[] = [];
    for (let i = 0; i < 8; i++) {
      intervals.push(b.nextInterval);
      b.next();
    }
    expect(intervals).toEqual([25, 50, 100, 200, 250, 250, 250, 250]);
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => envoyBackoffInterval(n, 25, 250))).toEqual([25, 50, 100, 200, 250, 250, 250]);
  });

  it('doubles while the interval is below ⌊max/2⌋, then jumps to max', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => envoyBackoffInterval(n, 10, 100))).toEqual([10, 20, 40, 80, 100, 100]);
    expect([1, 2, 3].map((n) => envoyBackoffInterval(n, 25, 30))).toEqual([25, 30, 30]);
    expect([1, 2, 3].map((n) => envoyBackoffInterval(n, 25, 25))).toEqual([25, 25, 25]);
    expect([1, 2, 3, 4].map((n) => envoyBackoffInterval(n, 3, 13))).toEqual([3, 6, 13, 13]); // 6 < ⌊13/2⌋ = 6 is false: straight to max
  });

  it('draws whole ms from 0 to interval − 1: ⌊u · interval⌋', () => {
    const b = new EnvoyBackoff(scriptedRng([0, 0.999_999_9, 0.5, 0.02]));
    expect(b.next()).toBe(0); // [0,25)
    expect(b.next()).toBe(49); // [0,50)
    expect(b.next()).toBe(50); // [0,100)
    expect(b.next()).toBe(4); // [0,200)
  });

  it('reset starts over at the base', () => {
    const b = new EnvoyBackoff(scriptedRng([0]));
    b.next();
    b.next();
    expect(b.nextInterval).toBe(100);
    b.reset();
    expect(b.nextInterval).toBe(25);
  });

  it('uses whole ms as Envoy does: base ≥ 1 ms, fractions dropped, max defaults to 10 × base', () => {
    expect(envoyBackoffBounds(25)).toEqual({ base: 25, max: 250 });
    expect(envoyBackoffBounds(0.3)).toEqual({ base: 1, max: 10 });
    expect(envoyBackoffBounds(25.7, 99.9)).toEqual({ base: 25, max: 99 });
    expect(envoyBackoffBounds(100)).toEqual({ base: 100, max: 1000 });
    const b = new EnvoyBackoff(scriptedRng([0]), 40);
    expect([b.base, b.max]).toEqual([40, 400]);
  });

  it('retry n is uniform on 0 .. interval−1 and never exceeds max (chi-square, many draws)', () => {
    // M = 25 000 request sequences of 7 retries each. For retry n the delays should be
    // uniform on the interval's `I` whole-ms values: Pearson's χ² with I − 1 degrees of
    // freedom must stay below its 0.999 quantile (Wilson–Hilferty; e.g. 51.2 for df = 24,
    // 327.3 for df = 249). Expected counts per cell ≥ 100.
    const M = 25_000;
    const RETRIES = 7;
    const b = new EnvoyBackoff(rngStream(11, 'backoff/envoy'));
    const counts = Array.from({ length: RETRIES }, (_, n) => new Float64Array(envoyBackoffInterval(n + 1, 25, 250)));
    let outOfRange = 0;
    for (let m = 0; m < M; m++) {
      b.reset();
      for (let n = 0; n < RETRIES; n++) {
        const d = b.next();
        if (!(Number.isInteger(d) && d >= 0 && d < counts[n].length && d <= 250)) outOfRange++;
        else counts[n][d]++;
      }
    }
    expect(outOfRange).toBe(0);
    for (const cells of counts) {
      const expected = M / cells.length;
      let chi2 = 0;
      for (const c of cells) chi2 += (c - expected) ** 2 / expected;
      expect(chi2).toBeLessThan(chiSquareCritical(cells.length - 1));
    }
    // The mean of retry n is (I − 1)/2 (checked loosely: 6 standard errors).
    for (const cells of counts) {
      const I = cells.length;
      let sum = 0;
      cells.forEach((c, v) => (sum += c * v));
      const sd = Math.sqrt((I * I - 1) / 12 / M);
      expect(Math.abs(sum / M - (I - 1) / 2)).toBeLessThan(6 * sd);
    }
  });

  it('the chi-square critical values are right (against tabulated χ²₀.₉₉₉)', () => {
    expect(chiSquareCritical(24)).toBeCloseTo(51.18, 0);
    expect(chiSquareCritical(49)).toBeCloseTo(85.35, 0);
    expect(chiSquareCritical(99)).toBeCloseTo(148.23, 0);
  });
});

describe('gRPC A6 backoff', () => {
  it('caps retry n at min(initial · multiplier^(n−1), max)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => grpcBackoffCap(n, 100, 2, 1000))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3].map((n) => grpcBackoffCap(n, 1000, 0.5, 600))).toEqual([600, 500, 250]);
    expect(grpcBackoffDelay(3, 100, 2, 1000, 0.25)).toBe(100);
  });

  it('retry n is U(0, cap) (Kolmogorov–Smirnov per retry number)', () => {
    // M = 5000 sequences; D = sup|F_emp − F| of delay/cap against U(0,1) must stay below
    // the asymptotic 0.999 critical value 1.9495/√M ≈ 0.0276.
    const M = 5000;
    const b = new GrpcBackoff(rngStream(12, 'backoff/grpc'), 100, 2, 1000);
    const draws = Array.from({ length: 6 }, () => new Float64Array(M));
    let outOfRange = 0;
    for (let m = 0; m < M; m++) {
      b.reset();
      for (let n = 0; n < 6; n++) {
        const d = b.next();
        const cap = grpcBackoffCap(n + 1, 100, 2, 1000);
        if (!(d >= 0 && d < cap)) outOfRange++;
        draws[n][m] = d / cap;
      }
    }
    expect(outOfRange).toBe(0);
    for (const x of draws) {
      x.sort();
      let D = 0;
      for (let i = 0; i < M; i++) D = Math.max(D, (i + 1) / M - x[i], x[i] - i / M);
      expect(D).toBeLessThan(1.9495 / Math.sqrt(M));
    }
  });

  it('reset starts over', () => {
    const b = new GrpcBackoff(scriptedRng([0.5]), 100, 2, 1000);
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
    b.reset();
    expect(b.next()).toBe(50);
    expect(b.drawn).toBe(1);
  });
});

describe('backoff config', () => {
  it('defaults to Envoy and builds the matching strategy', () => {
    const envoy = backoffConfigSchema.parse({});
    expect(envoy).toEqual({ kind: 'envoy', base: 25 });
    const e = createBackoff(envoy, scriptedRng([0]));
    expect(e).toBeInstanceOf(EnvoyBackoff);
    expect((e as EnvoyBackoff).max).toBe(250);
    const grpc = backoffConfigSchema.parse({ kind: 'grpc', initial: '100ms', max: '1s', multiplier: 1.6 });
    expect(createBackoff(grpc, scriptedRng([0]))).toBeInstanceOf(GrpcBackoff);
  });

  it('validates', () => {
    const ok = (v: unknown) => backoffConfigSchema.safeParse(v).success;
    expect(ok({ base: '0s' })).toBe(false);
    expect(ok({ base: '50ms', max: '10ms' })).toBe(false);
    expect(ok({ kind: 'grpc', initial: '100ms', max: '1s' })).toBe(false); // multiplier required (A6 has no defaults)
    expect(ok({ kind: 'grpc', initial: '100ms', max: '1s', multiplier: 0 })).toBe(false);
    expect(ok({ kind: 'exponential' })).toBe(false);
  });
});
