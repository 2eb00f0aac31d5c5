/**
 * Priority load: Envoy's integer arithmetic, the published examples (priority.rst) and
 * Envoy's own unit-test cases, and the invariants (loads sum to 100, leftover to the first
 * healthy level, choosePriority walks healthy then degraded loads).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  choosePriority,
  levelAvailabilities,
  levelAvailability,
  NO_PRIORITY,
  normalizedTotalAvailability,
  overprovisioningPercent,
  priorityLoad,
  type LevelCounts,
} from '../../../../src/algorithms/balancing/envoy/priority.js';

/** Healthy loads for levels given as [total, healthy] host counts (no degraded). */
function loadsFor(levels: Array<[number, number]>, factor = 1.4): number[] {
  const counts: LevelCounts[] = levels.map(([total, healthy]) => ({ total, healthy, degraded: 0 }));
  const { health, degraded } = levelAvailabilities(counts, overprovisioningPercent(factor));
  return priorityLoad(health, degraded).healthy;
}

describe('level availability', () => {
  it('is min(100, ⌊140·healthy/total⌋)', () => {
    expect(levelAvailability(71, 100)).toBe(99);
    expect(levelAvailability(72, 100)).toBe(100); // 100.8
    expect(levelAvailability(50, 100)).toBe(70);
    expect(levelAvailability(1, 4)).toBe(35);
    expect(levelAvailability(1, 5)).toBe(28);
    expect(levelAvailability(0, 0)).toBe(0);
    expect(levelAvailability(2, 4, 100)).toBe(50); // overprovisioning factor 1.0
  });

  it('normalized total availability is capped at 100', () => {
    expect(normalizedTotalAvailability([20, 30], [0, 0])).toBe(50);
    expect(normalizedTotalAvailability([70, 70], [10, 0])).toBe(100);
  });
});

describe('priority load: published examples', () => {
  it('P0 71% healthy, P1 100% → 99/1', () => {
    expect(loadsFor([[100, 71], [100, 100]])).toEqual([99, 1]);
  });

  it('health {20, 30} → 40/60 (normalized by NTA 50)', () => {
    expect(priorityLoad([20, 30], [0, 0]).healthy).toEqual([40, 60]);
  });

  it('three levels whose health is 36/36/28 → 36/36/28 (the docs row "25%/25%/20% → 36/36/28")', () => {
    // 18 of 70 healthy → ⌊140·18/70⌋ = 36; 1 of 5 → 28. NTA = 100, no rounding.
    expect(loadsFor([[70, 18], [70, 18], [5, 1]])).toEqual([36, 36, 28]);
    expect(priorityLoad([36, 36, 28], [0, 0]).healthy).toEqual([36, 36, 28]);
  });

  it('exactly 25%/25%/20% healthy: Envoy code gives 37/35/28 (health 35/35/28, leftover 2 to P0), not the docs 36/36/28', () => {
    expect(loadsFor([[4, 1], [4, 1], [5, 1]])).toEqual([37, 35, 28]);
  });

  it('the other rows of the docs tables', () => {
    expect(loadsFor([[100, 100], [100, 100]])).toEqual([100, 0]);
    expect(loadsFor([[100, 72], [100, 100]])).toEqual([100, 0]);
    expect(loadsFor([[2, 1], [1, 1]])).toEqual([70, 30]);
    expect(loadsFor([[4, 1], [1, 1]])).toEqual([35, 65]);
    expect(loadsFor([[4, 0], [1, 1]])).toEqual([0, 100]);
    expect(loadsFor([[4, 1], [4, 1]])).toEqual([50, 50]);
    expect(loadsFor([[100, 71], [100, 71], [1, 1]])).toEqual([99, 1, 0]);
    expect(loadsFor([[2, 1], [2, 1], [1, 1]])).toEqual([70, 30, 0]);
    expect(loadsFor([[4, 1], [4, 1], [1, 1]])).toEqual([35, 35, 30]);
  });

  it("Envoy's own test cases: 20%/20%/20% → 34/33/33, overprovisioning 1.0 → proportional", () => {
    expect(loadsFor([[5, 1], [5, 1], [5, 1]])).toEqual([34, 33, 33]);
    expect(loadsFor([[4, 2], [4, 2]])).toEqual([70, 30]);
    expect(loadsFor([[4, 2], [4, 2]], 1.0)).toEqual([50, 50]);
  });

  it("degraded load takes what healthy leaves; rounding goes to the first healthy level (Envoy's 10/20/10 + 20/10/0 example)", () => {
    const load = priorityLoad([10, 20, 10], [20, 10, 0]);
    expect(load.healthy).toEqual([16, 28, 14]);
    expect(load.degraded).toEqual([28, 14, 0]);
  });

  it('with no healthy level, the leftover goes to the first degraded level', () => {
    const load = priorityLoad([0, 0], [20, 10]);
    expect(load.healthy).toEqual([0, 0]);
    expect(load.degraded).toEqual([67, 33]);
  });

  it('nothing available: all loads 0', () => {
    expect(priorityLoad([0, 0], [0, 0])).toEqual({ healthy: [0, 0], degraded: [0, 0] });
  });

  it('loads are ≥ 0 and sum to 100 whenever anything is available (random levels)', () => {
    const level = fc.record({ total: fc.integer({ min: 0, max: 50 }), healthy: fc.nat(), degraded: fc.nat() }).map(({ total, healthy, degraded }) => {
      const h = total === 0 ? 0 : healthy % (total + 1);
      const d = total === 0 ? 0 : degraded % (total - h + 1);
      return { total, healthy: h, degraded: d };
    });
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), fc.integer({ min: 100, max: 300 }), (levels, percent) => {
        const { health, degraded } = levelAvailabilities(levels, percent);
        const load = priorityLoad(health, degraded);
        const sum = [...load.healthy, ...load.degraded].reduce((a, b) => a + b, 0);
        for (const x of [...load.healthy, ...load.degraded]) expect(x).toBeGreaterThanOrEqual(0);
        expect(sum).toBe(normalizedTotalAvailability(health, degraded) === 0 ? 0 : 100);
        // A level with no healthy hosts gets no healthy load, and likewise for degraded.
        levels.forEach((l, i) => {
          if (l.healthy === 0) expect(load.healthy[i]).toBe(0);
          if (l.degraded === 0) expect(load.degraded[i]).toBe(0);
        });
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe('choosePriority', () => {
  it('walks the cumulative healthy loads, then the degraded ones (h in 1..100)', () => {
    const healthy = [30, 20, 0];
    const degraded = [0, 40, 10];
    expect(choosePriority(1, healthy, degraded)).toBe(0);
    expect(choosePriority(30, healthy, degraded)).toBe(0);
    expect(choosePriority(31, healthy, degraded)).toBe(1);
    expect(choosePriority(50, healthy, degraded)).toBe(1);
    expect(choosePriority(51, healthy, degraded)).toBe(-2); // degraded hosts of P1
    expect(choosePriority(90, healthy, degraded)).toBe(-2);
    expect(choosePriority(91, healthy, degraded)).toBe(-3);
    expect(choosePriority(100, healthy, degraded)).toBe(-3);
  });

  it('returns NO_PRIORITY when the loads do not reach h', () => {
    expect(choosePriority(1, [0], [0])).toBe(NO_PRIORITY);
  });
});
