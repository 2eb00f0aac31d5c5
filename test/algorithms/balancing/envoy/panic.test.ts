/**
 * Panic: per-level panic only below NTA 100 and below the threshold; total panic loads by
 * host count. Cases are those of Envoy's LoadBalancerBaseTest.GentleFailover* tests.
 */
import { describe, expect, it } from 'vitest';
import { levelInPanic, priorityState, totalPanicLoad } from '../../../../src/algorithms/balancing/envoy/panic.js';
import type { LevelCounts } from '../../../../src/algorithms/balancing/envoy/priority.js';

const lv = (total: number, healthy: number, degraded = 0): LevelCounts => ({ total, healthy, degraded });

describe('levelInPanic', () => {
  it('healthy% + degraded% below the threshold (strictly)', () => {
    expect(levelInPanic(lv(10, 5))).toBe(false); // 50% is not < 50%
    expect(levelInPanic(lv(100, 49))).toBe(true);
    expect(levelInPanic(lv(10, 3, 2))).toBe(false); // 30% + 20%
    expect(levelInPanic(lv(10, 3, 1))).toBe(true);
    expect(levelInPanic(lv(0, 0))).toBe(true); // an empty level counts as 0%
    expect(levelInPanic(lv(10, 1), 10)).toBe(false);
    expect(levelInPanic(lv(10, 0), 0)).toBe(false);
  });
});

describe('priorityState (Envoy GentleFailover cases)', () => {
  it('all healthy: P0 takes everything, no panic', () => {
    const s = priorityState([lv(1, 1), lv(1, 1)]);
    expect(s.healthyLoad).toEqual([100, 0]);
    expect(s.panic).toEqual([false, false]);
  });

  it('50%/50%: 70/30, no panic (NTA 100)', () => {
    const s = priorityState([lv(2, 1), lv(2, 1)]);
    expect(s.healthyLoad).toEqual([70, 30]);
    expect(s.panic).toEqual([false, false]);
  });

  it('P0 below the threshold but NTA = 100: no panic', () => {
    const s = priorityState([lv(4, 1), lv(2, 2)]);
    expect(s.healthyLoad).toEqual([35, 65]);
    expect(s.panic).toEqual([false, false]);
    expect(priorityState([lv(4, 0), lv(4, 4)]).panic).toEqual([false, false]);
  });

  it('25%/25%: NTA 70, both panic, load normalized 50/50', () => {
    const s = priorityState([lv(4, 1), lv(4, 1)]);
    expect(s.healthyLoad).toEqual([50, 50]);
    expect(s.panic).toEqual([true, true]);
    expect(s.nta).toBe(70);
  });

  it('only the level below the threshold panics', () => {
    const s = priorityState([lv(10, 3), lv(10, 3), lv(10, 1)]); // health 42/42/14, NTA 98
    expect(s.panic).toEqual([true, true, true]);
    const t = priorityState([lv(10, 6), lv(10, 1)]); // health 84/14, NTA 98; 60% ok, 10% panics
    expect(t.panic).toEqual([false, true]);
    expect(t.healthyLoad).toEqual([86, 14]);
  });

  it('total panic: load by host count, leftover to the first non-empty level', () => {
    expect(priorityState([lv(5, 1), lv(5, 1), lv(5, 1)]).healthyLoad).toEqual([34, 33, 33]);
    const s = priorityState([lv(4, 0), lv(6, 1)]);
    expect(s.panic).toEqual([true, true]);
    expect(s.healthyLoad).toEqual([40, 60]);
    expect(s.degradedLoad).toEqual([0, 0]);
    expect(priorityState([lv(1, 0), lv(2, 0)]).healthyLoad).toEqual([34, 66]);
  });

  it('an empty level in total panic gets nothing', () => {
    const s = priorityState([lv(0, 0), lv(3, 0)]);
    expect(s.panic).toEqual([true, true]);
    expect(s.healthyLoad).toEqual([0, 100]);
  });

  it('threshold 0 and nothing available: P0 gets 100%, no panic', () => {
    const s = priorityState([lv(3, 0), lv(3, 0)], 140, 0);
    expect(s.panic).toEqual([false, false]);
    expect(s.healthyLoad).toEqual([100, 0]);
  });

  it('totalPanicLoad of no hosts at all puts 100 on P0', () => {
    expect(totalPanicLoad([lv(0, 0), lv(0, 0)])).toEqual([100, 0]);
  });
});
