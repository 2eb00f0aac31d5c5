import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EDF_MAX_PREPICKS, EDF_PREPICK_EPSILON, EdfScheduler, edfDeadline } from '../../../../src/algorithms/balancing/_internals/edf.js';

/** A scheduler built the way Envoy's plain constructor + add() does it: time 0, no pre-picks. */
function fresh(weights: readonly number[]): EdfScheduler {
  const edf = new EdfScheduler(weights.length);
  weights.forEach((w, slot) => edf.add(slot, w));
  return edf;
}

function picks(edf: EdfScheduler, weights: readonly number[], count: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const slot = edf.peek();
    out.push(edf.pickAndAdd(weights[slot]));
  }
  return out;
}

function countsOf(seq: readonly number[], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const s of seq) c[s]++;
  return c;
}

describe('edfDeadline', () => {
  it('is current time + 1/weight', () => {
    expect(edfDeadline(0, 4)).toBe(0.25);
    expect(edfDeadline(2, 0.5)).toBe(4);
  });
});

describe('EdfScheduler', () => {
  it('is empty at first: peek, pop and pickAndAdd give -1', () => {
    const edf = new EdfScheduler(3);
    expect(edf.peek()).toBe(-1);
    expect(edf.pop()).toBe(-1);
    expect(edf.pickAndAdd(1)).toBe(-1);
    edf.build([]);
    expect(edf.size).toBe(0);
  });

  it('picks the earliest deadline and advances its current time to it', () => {
    const edf = fresh([1, 4]);
    expect(edf.deadlineOf(0)).toBe(1);
    expect(edf.deadlineOf(1)).toBe(0.25);
    expect(edf.pickAndAdd(4)).toBe(1);
    expect(edf.currentTime).toBe(0.25);
    expect(edf.deadlineOf(1)).toBe(0.5);
  });

  it('breaks deadline ties FIFO by insertion order (equal weights are plain round robin)', () => {
    const w = [2, 2, 2, 2];
    expect(picks(fresh(w), w, 12)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    // Re-inserted entries queue behind entries already waiting with the same deadline.
    const edf = new EdfScheduler(3);
    edf.add(2, 1);
    edf.add(0, 1);
    edf.add(1, 1);
    expect(picks(edf, [1, 1, 1], 6)).toEqual([2, 0, 1, 2, 0, 1]);
  });

  it('interleaves weights 1, 2, 3 as Envoy does', () => {
    // Deadlines: slot0 1; slot1 .5, 1; slot2 .333, .667, 1 → at time 1 the FIFO order is 0, 1, 2
    // (inserted at times 0, 0.5, 0.667).
    const w = [1, 2, 3];
    expect(picks(fresh(w), w, 6)).toEqual([2, 1, 2, 0, 1, 2]);
  });

  it('serves integer weights in exact proportion over every cycle of Σw picks from time 0', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 5 }), (w, cycles) => {
        const total = w.reduce((a, b) => a + b, 0);
        const seq = picks(fresh(w), w, total * cycles);
        for (let c = 0; c < cycles; c++) expect(countsOf(seq.slice(c * total, (c + 1) * total), w.length)).toEqual(w);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('serves real weights in proportion: |count_i − N·w_i/W| ≤ 1 + n·w_i/W after N picks', () => {
    // After N picks the time t is the last deadline picked: slot i has had ⌊t·w_i⌋ of its
    // deadlines k/w_i (one fewer if a tie at t is still queued), so t·w_i − 1 ≤ count_i ≤ t·w_i
    // and, summing, 0 ≤ t − N/W ≤ n/W; hence count_i − N·w_i/W ∈ [−1, n·w_i/W].
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 2000 }), (w, n) => {
        const total = w.reduce((a, b) => a + b, 0);
        const c = countsOf(picks(fresh(w), w, n), w.length);
        w.forEach((wi, i) => expect(Math.abs(c[i] - (n * wi) / total)).toBeLessThanOrEqual(1 + (w.length * wi) / total + 1e-9));
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it('uses the weight given at each pick (a changed weight takes effect when the entry is next picked)', () => {
    const edf = fresh([1, 1]);
    expect(edf.pickAndAdd(10)).toBe(0); // slot 0 re-queued at 1 + 0.1
    expect(edf.pickAndAdd(1)).toBe(1); // slot 1 at 2
    const seq = [];
    for (let k = 0; k < 10; k++) seq.push(edf.pickAndAdd(edf.peek() === 0 ? 10 : 1));
    expect(seq.filter((s) => s === 0).length).toBe(9);
  });

  it('drops an entry re-added with weight ≤ 0, and pop removes without re-adding', () => {
    const edf = fresh([1, 2, 3]);
    const first = edf.peek();
    expect(edf.pickAndAdd(0)).toBe(first);
    expect(edf.size).toBe(2);
    edf.pop();
    edf.pop();
    expect(edf.size).toBe(0);
    expect(edf.peek()).toBe(-1);
  });

  it('rejects invalid weights and slots', () => {
    const edf = new EdfScheduler(2);
    expect(() => edf.add(0, 0)).toThrow(RangeError);
    expect(() => edf.add(5, 1)).toThrow(RangeError);
    expect(() => edf.build([1, -1])).toThrow(RangeError);
    expect(() => edf.build([1, Infinity])).toThrow(RangeError);
  });

  describe('build (Envoy createWithPicks)', () => {
    it('with 0 pre-picks queues every slot at 1/(w + ε) from time 0 (Envoy augments weights by ε = 1e-13)', () => {
      const w = [3, 1, 2, 5];
      const built = new EdfScheduler();
      built.build(w, 0);
      expect(built.currentTime).toBe(0);
      expect(built.size).toBe(4);
      w.forEach((wi, slot) => expect(built.deadlineOf(slot)).toBe(1 / (wi + EDF_PREPICK_EPSILON)));
      expect(built.peek()).toBe(3);
    });

    it('matches P sequential picks: the next picks of each slot agree within 1 (ties may order differently)', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 0, max: 500 }),
          fc.integer({ min: 1, max: 200 }),
          (w, p, next) => {
            const sequential = fresh(w);
            picks(sequential, w, p);
            const built = new EdfScheduler();
            built.build(w, p);
            expect(built.currentTime).toBeCloseTo(sequential.currentTime, 9);
            const a = countsOf(picks(sequential, w, next), w.length);
            const b = countsOf(picks(built, w, next), w.length);
            a.forEach((ai, i) => expect(Math.abs(ai - b[i])).toBeLessThanOrEqual(1));
          },
        ),
        { seed: 13, numRuns: 300 },
      );
    });

    it('matches P sequential picks exactly for weights without ties', () => {
      // Mutually incommensurable weights: no two deadlines coincide, so the sequences agree.
      const w = [Math.SQRT2, Math.PI, Math.E, 1.7320508075688772];
      for (const p of [1, 7, 100, 12345]) {
        const sequential = fresh(w);
        picks(sequential, w, p);
        const built = new EdfScheduler();
        built.build(w, p);
        expect(picks(built, w, 50)).toEqual(picks(sequential, w, 50));
      }
    });

    it('takes pre-picks modulo 429496729 and handles huge counts in O(n log n)', () => {
      const w = [1, 2, 3];
      const a = new EdfScheduler();
      a.build(w, 7);
      const b = new EdfScheduler();
      b.build(w, EDF_MAX_PREPICKS + 7);
      expect(picks(b, w, 30)).toEqual(picks(a, w, 30));
      const big = new EdfScheduler();
      big.build(w, 4_000_000_000);
      expect(big.size).toBe(3);
      expect(big.currentTime).toBeGreaterThan(0);
    });

    it('after any pre-pick offset, every Σw consecutive picks hold each slot w_i ± 1 times (integer weights)', () => {
      // Not exact: the ε-augmented emulated deadlines and float accumulation break deadline
      // ties differently from cycle to cycle, which moves a pick across a window edge.
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }), fc.nat({ max: 1_000_000_000 }), (w, p) => {
          const total = w.reduce((a, b) => a + b, 0);
          const built = new EdfScheduler();
          built.build(w, p);
          const seq = picks(built, w, total * 3);
          for (let start = 0; start + total <= seq.length; start++) {
            const c = countsOf(seq.slice(start, start + total), w.length);
            c.forEach((ci, i) => expect(Math.abs(ci - w[i])).toBeLessThanOrEqual(1));
          }
        }),
        { seed: 14, numRuns: 500 },
      );
    });
  });
});
