/**
 * Bounded load internals against Envoy's facts: MT19937 as std::mt19937, the probe order
 * Envoy's bounded_load_hlb_test.cc lists for seeds 2, 6 and 7, the slot formula, and the
 * re-pick rules (first host within bound in probe order, else the least overloaded).
 */
import { describe, expect, it } from 'vitest';
import {
  BoundedLoad,
  boundedLoadSlots,
  HostListSnapshot,
  Mt19937,
  normalizeHostWeights,
  probeOrder,
  uniformInt,
} from '../../../../src/algorithms/balancing/_internals/bounded-load.js';
import type { Endpoint } from '../../../../src/algorithms/types.js';

const endpoints = (n: number, weight = (_i: number) => 1): Endpoint[] =>
  Array.from({ length: n }, (_, i) => ({ id: `h${i}`, address: `127.0.0.1${i}:90`, zone: 'z', weight: weight(i), health: 'healthy', priority: 0, metadata: {} }));

/** A BoundedLoad over n equal hosts with the given active counts. */
function loaded(factor: number, active: number[]): BoundedLoad {
  const eps = endpoints(active.length);
  const b = new BoundedLoad(factor);
  b.rebuild(eps, Int32Array.from(eps.keys()), normalizeHostWeights(eps.map((e) => e.weight)).normalized);
  active.forEach((n, i) => {
    for (let k = 0; k < n; k++) b.onStart(i);
  });
  return b;
}

describe('Mt19937', () => {
  it('is std::mt19937: the 10000th output for the default seed 5489 is 4123659995 (C++ [rand.predef])', () => {
    const m = new Mt19937();
    let x = 0;
    for (let i = 0; i < 10_000; i++) x = m.next();
    expect(x).toBe(4123659995);
  });

  it('re-seeding restarts the sequence, and uniformInt stays in [0, k)', () => {
    const m = new Mt19937(2);
    const a = Array.from({ length: 5 }, () => m.next());
    m.seed(2);
    expect(Array.from({ length: 5 }, () => m.next())).toEqual(a);
    for (const k of [1, 2, 3, 7, 1000, 2 ** 31 + 1]) for (let i = 0; i < 200; i++) expect(uniformInt(m, k)).toBeLessThan(k);
  });
});

describe('probe order', () => {
  it("matches Envoy's shuffles of 5 hosts: seed 2 → 2 1 0 4 3, seed 6 → 4 0 2 3 1, seed 7 → 0 1 4 3 2", () => {
    expect(probeOrder(2, 5)).toEqual([2, 1, 0, 4, 3]);
    expect(probeOrder(6, 5)).toEqual([4, 0, 2, 3, 1]);
    expect(probeOrder(7, 5)).toEqual([0, 1, 4, 3, 2]);
  });
});

describe('boundedLoadSlots', () => {
  it('is max(ceil(ceil((active+1)·factor/100)·w), 1)', () => {
    expect(boundedLoadSlots(0, 150, 0.25)).toBe(1); // ceil(1.5) = 2 total slots; 2·0.25 → 1
    expect(boundedLoadSlots(9, 150, 0.25)).toBe(4); // 15 total; 3.75 → 4
    expect(boundedLoadSlots(10, 125, 0.1)).toBe(2); // ceil(13.75) = 14; 1.4 → 2
    expect(boundedLoadSlots(99, 100, 1 / 3)).toBe(34);
    expect(boundedLoadSlots(0, 100, 1e-9)).toBe(1);
  });
});

describe('BoundedLoad.choose / probe (Envoy bounded_load_hlb_test.cc scenarios)', () => {
  // With factor 1 (as Envoy's tests configure) and few active requests, total slots is 1 and
  // every host's slot count is 1: a host with 2 active requests is overloaded.
  it('keeps a host that is within its bound', () => {
    const b = loaded(1, [0, 0, 1, 0, 0]);
    expect(b.choose(2, 12345)).toBe(2);
  });

  it('ActualHostOverloaded: host 2 overloaded, seed 2 probes 2 1 … → host 1', () => {
    expect(loaded(1, [0, 0, 2, 0, 0]).probe(2, 2)).toBe(1);
  });

  it('MultipleHostOverloaded: hosts 0, 1, 2 overloaded, seed 2 probes 2 1 0 4 → host 4', () => {
    expect(loaded(1, [2, 2, 2, 0, 0]).probe(2, 2)).toBe(4);
  });

  it('MultipleHashSameHostOverloaded: host 3 overloaded; seeds 6 and 7 pick hosts 4 and 0', () => {
    const b = loaded(1, [0, 0, 0, 2, 0]);
    expect(b.probe(3, 6)).toBe(4);
    expect(b.probe(3, 7)).toBe(0);
  });

  it('all hosts overloaded: the least overloaded, the first chosen on ties', () => {
    expect(loaded(1, [3, 2, 4]).probe(0, 0)).toBe(1);
    expect(loaded(1, [2, 2, 2]).probe(1, 0)).toBe(1);
  });

  it('seeds the probe with the low 32 bits of the 64-bit hash h·2^11', () => {
    const b = loaded(1, [2, 2, 0, 0, 0, 0, 0, 2]);
    for (const h of [1, 12345, 2 ** 40 + 3, 2 ** 53 - 1]) expect(b.choose(0, h)).toBe(b.probe(0, Number((BigInt(h) << 11n) & 0xffffffffn)));
  });

  it('tracks active requests by endpoint id across rebuilds and never goes negative', () => {
    const eps = endpoints(3);
    const b = new BoundedLoad(150);
    const w = normalizeHostWeights([1, 1, 1]).normalized;
    b.rebuild(eps, Int32Array.from([0, 1, 2]), w);
    b.onStart(0);
    b.onStart(2);
    b.onStart(2);
    const reordered = [eps[2], eps[0]]; // h1 left; h2 now at index 0
    b.rebuild(reordered, Int32Array.from([0, 1]), normalizeHostWeights([1, 1]).normalized);
    expect([b.activeOn(0), b.activeOn(1), b.totalActive]).toEqual([2, 1, 3]);
    b.onEnd(1);
    b.onEnd(1);
    b.onEnd(7);
    expect([b.activeOn(1), b.totalActive]).toEqual([0, 2]);
  });
});

describe('normalizeHostWeights and HostListSnapshot', () => {
  it('normalises like Envoy and reports the extremes', () => {
    const { normalized, min, max } = normalizeHostWeights([1, 2, 5]);
    expect(Array.from(normalized)).toEqual([1 / 8, 2 / 8, 5 / 8]);
    expect([min, max]).toEqual([1 / 8, 5 / 8]);
  });

  it('matches only the same addresses with the same weights in the same order', () => {
    const eps = endpoints(3);
    const snap = new HostListSnapshot();
    const all = Int32Array.from([0, 1, 2]);
    expect(snap.matches(eps, all)).toBe(false);
    snap.update(eps, all);
    expect(snap.matches(eps.map((e) => ({ ...e, zone: 'x' })), all)).toBe(true);
    expect(snap.matches(eps, Int32Array.from([0, 2, 1]))).toBe(false);
    expect(snap.matches(eps.map((e, i) => (i === 1 ? { ...e, weight: 3 } : e)), all)).toBe(false);
  });
});
