/**
 * The pool's shared task queue (src/runner/pool.ts): which thread takes which run. Taking is
 * exercised here in one thread through interleavings chosen by fast-check; the threads
 * themselves are covered by run.test.ts and pool.test.ts (byte-identical reports).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { affinityOrder, TaskQueue } from '../../src/runner/pool.js';
import type { Scenario } from '../../src/scenario/types.js';

/** A scenario stub with one service whose mesh is `mesh` (affinityOrder reads nothing else). */
function withMesh(mesh: Scenario['services'][string]['mesh']): Scenario {
  return { services: { api: { mesh } } } as unknown as Scenario;
}

describe('TaskQueue', () => {
  it('gives each block its own contiguous part of the order, front first', () => {
    const queue = new TaskQueue(TaskQueue.create([10, 11, 12, 13, 14, 15], 2));
    expect([queue.take(0), queue.take(0), queue.take(1), queue.take(0)]).toEqual([10, 11, 13, 12]);
    // Block 0 is empty: it steals from the back of block 1, whose owner keeps its front.
    expect(queue.take(0)).toBe(15);
    expect(queue.take(1)).toBe(14);
    expect([queue.take(0), queue.take(1)]).toEqual([-1, -1]);
  });

  it('steals from the block with the most left', () => {
    const queue = new TaskQueue(TaskQueue.create([0, 1, 2, 3, 4, 5, 6, 7, 8], 3));
    expect(queue.take(1)).toBe(3);
    expect([queue.take(2), queue.take(2), queue.take(2)]).toEqual([6, 7, 8]);
    // Block 0 has 3 left, block 1 has 2: block 2 steals block 0's last.
    expect(queue.take(2)).toBe(2);
  });

  it('takes nothing after close()', () => {
    const queue = new TaskQueue(TaskQueue.create([0, 1, 2, 3], 2));
    expect(queue.take(1)).toBe(2);
    queue.close();
    expect([queue.take(0), queue.take(1)]).toEqual([-1, -1]);
  });

  it('handles more blocks than tasks, and no tasks', () => {
    const queue = new TaskQueue(TaskQueue.create([7], 3));
    expect([queue.take(0), queue.take(1), queue.take(2)].sort()).toEqual([-1, -1, 7]);
    expect(new TaskQueue(TaskQueue.create([], 2)).take(0)).toBe(-1);
    expect(() => TaskQueue.create([1], 0)).toThrow(/block count/);
  });

  test.prop([fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { maxLength: 200 })])(
    'every task is taken exactly once, whatever the interleaving of the blocks',
    (n, blockCount, choices) => {
      const order = Array.from({ length: n }, (_, i) => n - 1 - i);
      const queue = new TaskQueue(TaskQueue.create(order, blockCount));
      const taken: number[] = [];
      const byBlock: number[][] = Array.from({ length: blockCount }, () => []);
      for (const c of choices) {
        const b = c % blockCount;
        const t = queue.take(b);
        if (t >= 0) {
          taken.push(t);
          byBlock[b].push(t);
        }
      }
      for (let b = 0; b < blockCount; b++) for (let t = queue.take(b); t >= 0; t = queue.take(b)) taken.push(t);
      expect([...taken].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      // What a block takes of its own range is that range's front, in order (steals take from the back).
      const at = new Map(order.map((t, i) => [t, i]));
      for (let b = 0; b < blockCount; b++) {
        const start = Math.floor((n * b) / blockCount);
        const end = Math.floor((n * (b + 1)) / blockCount);
        const own = byBlock[b].map((t) => at.get(t) ?? -1).filter((i) => i >= start && i < end);
        expect(own).toEqual(own.map((_, k) => start + k));
      }
    },
  );
});

describe('affinityOrder', () => {
  const p2c = withMesh({ balancer: { kind: 'p2c' } });
  const rr = withMesh({ balancer: { kind: 'round-robin' } });
  const rrRetry = withMesh({ balancer: { kind: 'round-robin' }, failover: { retries: { max: 2 } } } as unknown as Scenario['services'][string]['mesh']);

  it('puts runs of the same policies side by side, keeping the given order within a group', () => {
    const scenarios = [rr, p2c, rrRetry, rr];
    const tasks = [0, 1, 2, 3].flatMap((variant) => [1, 2].map((seed) => ({ variant, seed })));
    const order = affinityOrder(scenarios, tasks);
    expect(order.map((i) => tasks[i].variant)).toEqual([1, 1, 2, 2, 0, 0, 3, 3]);
    expect(order.map((i) => tasks[i].seed)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
  });

  test.prop([fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 40 })])('is a permutation of the task positions', (variants) => {
    const tasks = variants.map((variant, i) => ({ variant, seed: i }));
    const order = affinityOrder([p2c, rr, rrRetry], tasks);
    expect([...order].sort((a, b) => a - b)).toEqual(tasks.map((_, i) => i));
  });
});
