/**
 * Zone-aware routing: the routing structure (direct / residual / none), its skip
 * conditions, sampled frequencies against the formula (5σ binomial bounds), and the
 * property it exists for: summed over the callers' zones, every upstream zone receives its
 * share of the upstream's healthy hosts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseZone, zoneRouting, zoneShares, type ZoneRoutingInput } from '../../../../src/algorithms/balancing/envoy/zone-aware.js';
import { rngStream } from '../../../../src/core/rng.js';
import { tol } from './_fixtures.js';

const sizes = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries));

describe('zoneRouting', () => {
  it('local 2 zones equal, upstream 3:1: the 3-zone caller stays local, the 1-zone caller keeps half', () => {
    const base = { zones: ['a', 'b'], healthy: [6, 2], localZoneSizes: sizes({ a: 5, b: 5 }) };
    const inA = zoneRouting({ ...base, localZone: 'a' });
    expect(inA.mode).toBe('direct');
    expect(zoneShares(inA)).toEqual([1, 0]);
    // From b the order is Envoy's: local zone first.
    const inB = zoneRouting({ zones: ['b', 'a'], healthy: [2, 6], localZoneSizes: sizes({ a: 5, b: 5 }), localZone: 'b' });
    expect(inB.mode).toBe('residual');
    expect(inB.localPercentToRoute).toBe(5000); // up% 2500 · 10000 / local% 5000
    expect(zoneShares(inB)).toEqual([0.5, 0.5]);
  });

  it("Envoy's comment example: local 40/40/20 %, upstream 25/50/25 % → 62.5% local, residual 2:1", () => {
    const r = zoneRouting({ zones: ['x', 'y', 'z'], healthy: [25, 50, 25], localZone: 'x', localZoneSizes: sizes({ x: 40, y: 40, z: 20 }) });
    expect(r.mode).toBe('residual');
    expect(r.localPercentToRoute).toBe(6250);
    expect([...r.residualCapacity]).toEqual([0, 1000, 1500]);
    const s = zoneShares(r);
    expect(s[0]).toBeCloseTo(0.625, 12);
    expect(s[1]).toBeCloseTo(0.25, 12);
    expect(s[2]).toBeCloseTo(0.125, 12);
  });

  it('is skipped for < 2 upstream zones, < 2 caller zones, no caller in the local zone, or < minClusterSize healthy', () => {
    const ok: ZoneRoutingInput = { zones: ['a', 'b'], healthy: [3, 3], localZone: 'a', localZoneSizes: sizes({ a: 1, b: 1 }) };
    expect(zoneRouting(ok).mode).toBe('direct');
    expect(zoneRouting({ ...ok, zones: ['a'], healthy: [6] }).mode).toBe('none');
    expect(zoneRouting({ ...ok, localZoneSizes: sizes({ a: 4 }) }).mode).toBe('none');
    expect(zoneRouting({ ...ok, localZoneSizes: sizes({ a: 4, b: 0 }) }).mode).toBe('none');
    expect(zoneRouting({ ...ok, localZone: 'c', localZoneSizes: sizes({ a: 1, b: 1 }) }).mode).toBe('none');
    expect(zoneRouting({ ...ok, healthy: [3, 2] }).mode).toBe('none'); // 5 < 6
    expect(zoneRouting({ ...ok, healthy: [3, 2], minClusterSize: 5 }).mode).toBe('direct');
  });

  it('with no healthy upstream host in the local zone, everything goes to the residual zones', () => {
    const r = zoneRouting({ zones: ['a', 'b', 'c'], healthy: [0, 6, 2], localZone: 'a', localZoneSizes: sizes({ a: 2, b: 1, c: 1 }) });
    expect(r.mode).toBe('residual');
    expect(r.localPercentToRoute).toBe(0);
    // up% b 7500 − local% 2500 = 5000; c 2500 − 2500 = 0.
    expect(zoneShares(r)).toEqual([0, 1, 0]);
  });

  it('with the upstream absent from the local zone, routes by residual capacity', () => {
    const r = zoneRouting({ zones: ['b', 'c'], healthy: [4, 4], localZone: 'a', localZoneSizes: sizes({ a: 2, b: 1, c: 1 }) });
    expect(r.mode).toBe('residual');
    expect(r.localIndex).toBe(-1);
    expect(zoneShares(r)).toEqual([0.5, 0.5]);
  });

  it('sampled zones match the formula within 5σ', () => {
    const r = zoneRouting({ zones: ['x', 'y', 'z'], healthy: [25, 50, 25], localZone: 'x', localZoneSizes: sizes({ x: 40, y: 40, z: 20 }) });
    const rng = rngStream(11, 'zone-aware/sample');
    const n = 200_000;
    const counts = [0, 0, 0];
    for (let k = 0; k < n; k++) counts[chooseZone(r, rng)]++;
    const expected = zoneShares(r);
    for (let z = 0; z < 3; z++) expect(Math.abs(counts[z] / n - expected[z])).toBeLessThan(tol(expected[z], n));
  });

  it('summed over the caller zones, each upstream zone gets its healthy share (up to 1/10000 rounding)', () => {
    const arb = fc
      .array(fc.record({ callers: fc.integer({ min: 1, max: 20 }), healthy: fc.integer({ min: 0, max: 20 }) }), { minLength: 2, maxLength: 5 })
      .filter((zs) => zs.reduce((a, z) => a + z.healthy, 0) >= 6);
    fc.assert(
      fc.property(arb, (zs) => {
        const names = zs.map((_, i) => `z${i}`);
        const localZoneSizes = new Map(names.map((n, i) => [n, zs[i].callers]));
        const totalCallers = zs.reduce((a, z) => a + z.callers, 0);
        const totalHealthy = zs.reduce((a, z) => a + z.healthy, 0);
        const received = new Array<number>(zs.length).fill(0);
        for (let c = 0; c < zs.length; c++) {
          // Envoy orders the caller's own zone first.
          const order = [c, ...names.map((_, i) => i).filter((i) => i !== c)];
          const r = zoneRouting({ zones: order.map((i) => names[i]), healthy: order.map((i) => zs[i].healthy), localZone: names[c], localZoneSizes });
          expect(r.mode).not.toBe('none');
          const shares = zoneShares(r);
          order.forEach((i, k) => (received[i] += (zs[c].callers / totalCallers) * shares[k]));
        }
        expect(received.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        for (let i = 0; i < zs.length; i++) expect(Math.abs(received[i] - zs[i].healthy / totalHealthy)).toBeLessThan(zs.length * 2e-4 + 1e-9);
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});
