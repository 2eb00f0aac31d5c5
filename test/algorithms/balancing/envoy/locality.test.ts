/**
 * Locality weighting: effective weight = w · min(1, 1.4·available/total), EDF over the
 * localities (the docs example X w1 / Y w2 / X 50% healthy → 26%/74%), and the metadata
 * convention for locality weights.
 */
import { describe, expect, it } from 'vitest';
import { declaredLocalityWeight, effectiveLocalityWeight, LocalityScheduler } from '../../../../src/algorithms/balancing/envoy/locality.js';
import { hosts } from './_fixtures.js';

describe('effectiveLocalityWeight', () => {
  it('scales the weight by availability × overprovisioning, capped at the weight', () => {
    expect(effectiveLocalityWeight(1, 1, 2)).toBeCloseTo(0.7, 12);
    expect(effectiveLocalityWeight(2, 10, 10)).toBe(2);
    expect(effectiveLocalityWeight(2, 8, 10)).toBe(2); // 80% · 1.4 ≥ 1
    expect(effectiveLocalityWeight(3, 0, 10)).toBe(0);
    expect(effectiveLocalityWeight(3, 0, 0)).toBe(0);
    expect(effectiveLocalityWeight(1, 1, 2, 1.0)).toBe(0.5);
  });
});

describe('LocalityScheduler', () => {
  it('X w1 50% healthy, Y w2 healthy → 0.7 : 2, i.e. 26% / 74% (exact over whole EDF periods)', () => {
    const s = new LocalityScheduler();
    s.build([effectiveLocalityWeight(1, 5, 10), effectiveLocalityWeight(2, 10, 10)], 12345);
    const counts = [0, 0];
    for (let k = 0; k < 2700; k++) counts[s.pick()]++;
    // 0.7/2.7 = 25.93%: 700 of 2700 (one pick of slack for floating-point deadline ties).
    expect(Math.abs(counts[0] - 700)).toBeLessThanOrEqual(1);
    expect(Math.round((100 * counts[0]) / 2700)).toBe(26);
    expect(Math.round((100 * counts[1]) / 2700)).toBe(74);
  });

  it('leaves out localities with zero effective weight, and returns -1 when none is left', () => {
    const s = new LocalityScheduler();
    s.build([0, 3, 0, 1], 0);
    const counts = [0, 0, 0, 0];
    for (let k = 0; k < 400; k++) counts[s.pick()]++;
    expect(counts).toEqual([0, 300, 0, 100]);
    s.build([0, 0], 0);
    expect(s.pick()).toBe(-1);
    expect(s.size).toBe(0);
  });
});

describe('locality weight from metadata', () => {
  it('reads `localityWeight` as a number; anything else is undefined (the wrapper then uses 1)', () => {
    const [a, b, c, d, e] = hosts([
      { metadata: { localityWeight: '2' } },
      { metadata: { localityWeight: '0.5' } },
      { metadata: { localityWeight: 'heavy' } },
      { metadata: { localityWeight: '' } },
      {},
    ]);
    expect(declaredLocalityWeight(a)).toBe(2);
    expect(declaredLocalityWeight(b)).toBe(0.5);
    expect(declaredLocalityWeight(c)).toBeUndefined();
    expect(declaredLocalityWeight(d)).toBeUndefined();
    expect(declaredLocalityWeight(e)).toBeUndefined();
    expect(declaredLocalityWeight(hosts([{ metadata: { localityWeight: '-1' } }])[0])).toBeUndefined();
  });
});
