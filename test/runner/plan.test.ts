/** The canonical run list and its shards: parsing `i/n`, and slices that partition the runs evenly. */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseShardSpec, planRuns, shardRuns, ShardSpecError } from '../../src/runner/plan.js';

describe('planRuns', () => {
  it('lists variants in order, seeds ascending, run k at position k', () => {
    expect(planRuns(2, [5, 6, 7])).toEqual([
      { index: 0, variant: 0, seed: 5 },
      { index: 1, variant: 0, seed: 6 },
      { index: 2, variant: 0, seed: 7 },
      { index: 3, variant: 1, seed: 5 },
      { index: 4, variant: 1, seed: 6 },
      { index: 5, variant: 1, seed: 7 },
    ]);
  });
});

describe('parseShardSpec', () => {
  it('reads i/n, 1-based', () => {
    expect(parseShardSpec('1/4')).toEqual({ index: 1, count: 4 });
    expect(parseShardSpec(' 4 / 4 ')).toEqual({ index: 4, count: 4 });
    expect(parseShardSpec('1/1')).toEqual({ index: 1, count: 1 });
  });

  it.each([
    ['', /expected i\/n, like 1\/4/],
    ['3', /expected i\/n/],
    ['1/2/3', /expected i\/n/],
    ['a/b', /expected i\/n/],
    ['-1/2', /expected i\/n/],
    ['1.5/2', /expected i\/n/],
    ['0/4', /between 1 and n = 4.*numbered from 1/],
    ['5/4', /between 1 and n = 4/],
    ['1/0', /count n must be at least 1/],
    ['1/99999999999999999999', /count n must be at most 9,007,199,254,740,991, got "1\/99999999999999999999"/],
    ['99999999999999999999/1', /between 1 and n = 1/],
  ])('refuses %j', (text, message) => {
    expect(() => parseShardSpec(text)).toThrow(ShardSpecError);
    expect(() => parseShardSpec(text)).toThrow(message);
  });
});

describe('shardRuns', () => {
  test.prop([fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 })])(
    'shards 1..n partition the runs, each in canonical order, sizes differing by at most one',
    (variants, seeds, n) => {
      const runs = planRuns(variants, Array.from({ length: seeds }, (_, k) => 1 + k));
      const shards = Array.from({ length: n }, (_, i) => shardRuns(runs, { index: i + 1, count: n }));
      const all = shards.flat().map((r) => r.index).sort((a, b) => a - b);
      expect(all).toEqual(runs.map((r) => r.index));
      for (const s of shards) expect(s.map((r) => r.index)).toEqual([...s.map((r) => r.index)].sort((a, b) => a - b));
      const sizes = shards.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      // Stable: shard i takes k ≡ i − 1 (mod n).
      shards.forEach((s, i) => s.forEach((r) => expect(r.index % n).toBe(i)));
    },
  );
});
