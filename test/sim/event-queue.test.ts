/**
 * The calendar queue against a reference model: whatever is pushed must come out in
 * (time, seq) order — a stable sort of the pushes by time — whatever the distribution of
 * times (clustered, all equal, far-future outliers, tiny and huge magnitudes), whether
 * pushes and pops interleave (the hold model), and across growth, shrinking, retuning,
 * emptying and reuse.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventQueue } from '../../src/sim/event-queue.js';

interface Ev {
  readonly time: number;
  readonly seq: number;
  readonly kind: number;
  readonly arg: number;
}

/** The obviously correct future-event list: an array, popped by linear scan for the least (time, seq). */
class ReferenceQueue {
  private readonly events: Ev[] = [];
  push(e: Ev): void {
    this.events.push(e);
  }
  pop(): Ev | undefined {
    if (this.events.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < this.events.length; i++) {
      const a = this.events[i];
      const b = this.events[best];
      if (a.time < b.time || (a.time === b.time && a.seq < b.seq)) best = i;
    }
    return this.events.splice(best, 1)[0];
  }
  get size(): number {
    return this.events.length;
  }
}

const top = (q: EventQueue): Ev => ({ time: q.topTime, seq: q.topSeq, kind: q.topKind, arg: q.topArg });

function drain(q: EventQueue): Ev[] {
  const out: Ev[] = [];
  while (q.pop()) out.push(top(q));
  return out;
}

/** Stable sort by time: equal times keep push order, which is seq order. */
const stableSorted = (evs: readonly Ev[]): Ev[] => [...evs].sort((a, b) => a.time - b.time);

function pushAll(q: EventQueue, times: readonly number[]): Ev[] {
  return times.map((time, i) => {
    const expectedSeq = q.sequence;
    const kind = 2 + (i % 7);
    const arg = i;
    const seq = q.push(time, kind, arg);
    expect(seq).toBe(expectedSeq);
    return { time, seq, kind, arg };
  });
}

// --- time distributions ----------------------------------------------------------------

/** Magnitudes from subnormal-adjacent to near the top of the double range. */
const SCALES = [1e-300, 1e-12, 1e-3, 1, 1e3, 1e9, 1e15, 1e290] as const;

const unit = fc.double({ min: 0, max: 1, noNaN: true, noDefaultInfinity: true }).map(Math.abs);

/** A non-negative offset in units of the scale, from one of several shapes. */
const offsetShape = fc.constantFrom('uniform', 'clustered', 'outliers', 'equal', 'integers', 'geometric');
type Shape = 'uniform' | 'clustered' | 'outliers' | 'equal' | 'integers' | 'geometric';

function offsetArb(shape: Shape): fc.Arbitrary<number> {
  switch (shape) {
    case 'uniform':
      return unit.map((u) => u * 1000);
    case 'clustered':
      // A few cluster centres, tiny jitter: many near-equal times in few days.
      return fc.tuple(fc.integer({ min: 0, max: 3 }), unit).map(([c, u]) => c * 100 + u * 1e-6);
    case 'outliers':
      // Mostly small, sometimes a billion times further out.
      return fc.tuple(unit, fc.integer({ min: 0, max: 19 })).map(([u, k]) => (k === 0 ? 1e9 * (1 + u) : u));
    case 'equal':
      return fc.constant(0);
    case 'integers':
      return fc.integer({ min: 0, max: 5 });
    case 'geometric':
      // Spread over twelve decades.
      return fc.tuple(unit, fc.integer({ min: -6, max: 6 })).map(([u, e]) => u * 10 ** e);
  }
}

const shapedTimes = (maxLength: number) =>
  fc
    .record({ scale: fc.constantFrom(...SCALES), shape: offsetShape, base: unit })
    .chain(({ scale, shape, base }) =>
      fc.array(offsetArb(shape as Shape), { minLength: 0, maxLength }).map((offs) => offs.map((o) => scale * (base * 1000 + o))),
    );

// --- properties --------------------------------------------------------------------------

describe('EventQueue: push everything, then pop everything', () => {
  it('pops a stable sort by time of everything pushed, whatever the distribution of times', () => {
    fc.assert(
      fc.property(shapedTimes(400), fc.integer({ min: 1, max: 2048 }), (times, capacity) => {
        const q = new EventQueue(capacity);
        const pushed = pushAll(q, times);
        expect(q.size).toBe(times.length);
        const popped = drain(q);
        expect(popped).toEqual(stableSorted(pushed));
        expect(q.size).toBe(0);
        expect(q.pop()).toBe(false);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1001 },
    );
  });

  it('handles arbitrary non-negative doubles, including 0, subnormals and near-MAX_VALUE', () => {
    const anyTime = fc.double({ min: 0, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }).map(Math.abs);
    fc.assert(
      fc.property(fc.array(anyTime, { maxLength: 300 }), (times) => {
        const q = new EventQueue(16);
        const pushed = pushAll(q, times);
        expect(drain(q)).toEqual(stableSorted(pushed));
      }),
      { numRuns: 200, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1002 },
    );
  });

  it('orders a new earliest event pushed after the calendar has grown, before the first pop', () => {
    // 40 pushes re-bucket the calendar (more than 2 × 16 events), which starts the scan at the
    // day of the earliest event so far; a later push may still be earlier than that.
    const q = new EventQueue(16);
    const times = [...Array.from({ length: 40 }, (_, i) => 100 + i), 50, 5, 99.5];
    const pushed = pushAll(q, times);
    expect(drain(q).map((e) => e.time)).toEqual(stableSorted(pushed).map((e) => e.time));
  });

  it('keeps push order among thousands of events at one time (FIFO ties)', () => {
    const q = new EventQueue(16);
    const pushed = pushAll(q, Array.from({ length: 3000 }, () => 42.5));
    const popped = drain(q);
    expect(popped.map((e) => e.arg)).toEqual(pushed.map((e) => e.arg));
    expect(popped.map((e) => e.seq)).toEqual(pushed.map((e) => e.seq));
  });
});

type Op = { readonly op: 'push'; readonly offset: number } | { readonly op: 'pop' };

describe('EventQueue: interleaved pushes and pops (times ≥ the last popped)', () => {
  const ops = fc
    .record({ scale: fc.constantFrom(...SCALES), shape: offsetShape, popWeight: fc.integer({ min: 1, max: 4 }) })
    .chain(({ scale, shape, popWeight }) =>
      fc.array(
        fc.oneof(
          { weight: 5, arbitrary: offsetArb(shape as Shape).map((o): Op => ({ op: 'push', offset: o * scale })) },
          { weight: popWeight, arbitrary: fc.constant<Op>({ op: 'pop' }) },
        ),
        { maxLength: 600 },
      ),
    );

  it('every pop returns the reference minimum, and size tracks the reference', () => {
    fc.assert(
      fc.property(ops, fc.integer({ min: 1, max: 64 }), (program, capacity) => {
        const q = new EventQueue(capacity);
        const ref = new ReferenceQueue();
        let last = 0;
        let i = 0;
        for (const step of program) {
          if (step.op === 'push') {
            const time = last + step.offset;
            const seq = q.push(time, 2, i);
            ref.push({ time, seq, kind: 2, arg: i });
            i++;
          } else {
            const want = ref.pop();
            const got = q.pop();
            expect(got).toBe(want !== undefined);
            if (want) {
              expect(top(q)).toEqual(want);
              last = want.time;
            }
          }
          expect(q.size).toBe(ref.size);
        }
        // Whatever is left drains in order too.
        for (let want = ref.pop(); want !== undefined; want = ref.pop()) {
          expect(q.pop()).toBe(true);
          expect(top(q)).toEqual(want);
        }
        expect(q.pop()).toBe(false);
        expect(q.size).toBe(0);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1003 },
    );
  });

  it('survives long hold-model runs whose increment distribution shifts by orders of magnitude (retuning)', () => {
    // The hold model at a fixed population, with increments changing scale every few
    // thousand operations: day widths must be re-estimated (grow, shrink and retune paths).
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 50, max: 3000 }), (seed, population) => {
        let s = seed >>> 0;
        const rand = (): number => {
          // xorshift32: a cheap deterministic stream for the test's own draws.
          s ^= s << 13;
          s >>>= 0;
          s ^= s >>> 17;
          s ^= s << 5;
          s >>>= 0;
          return s / 2 ** 32;
        };
        const q = new EventQueue(16);
        const ref = new ReferenceHeap();
        let now = 0;
        let seqCheck = 0;
        const push = (t: number): void => {
          const seq = q.push(t, 3, seqCheck);
          ref.push(t, seq, seqCheck);
          seqCheck++;
        };
        for (let k = 0; k < population; k++) push(rand() * 10);
        const phases = [1, 1e-6, 1e6, 0, 1e-3, 50];
        for (const scale of phases) {
          for (let k = 0; k < 5000; k++) {
            const got = q.pop();
            const want = ref.pop();
            // One expect per mismatch only: expect() in a 30k-iteration loop dominates the run time.
            if (!got || q.topTime !== want.time || q.topSeq !== want.seq || q.topArg !== want.arg) {
              expect({ got, time: q.topTime, seq: q.topSeq, arg: q.topArg }).toEqual({ got: true, ...want });
            }
            now = q.topTime;
            // Exponential increments, with an occasional burst of exact ties.
            const inc = rand() < 0.1 ? 0 : -Math.log(1 - rand()) * scale;
            push(now + inc);
          }
          expect(q.size).toBe(population);
        }
        // Shrink to empty: the bucket count halves repeatedly on the way down.
        while (ref.size > 0) {
          const got = q.pop();
          const want = ref.pop();
          if (!got || q.topTime !== want.time || q.topSeq !== want.seq) {
            expect({ got, time: q.topTime, seq: q.topSeq }).toEqual({ got: true, time: want.time, seq: want.seq });
          }
        }
        expect(q.size).toBe(0);
      }),
      { numRuns: 8, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1004 },
    );
  });
});

/** A binary heap on (time, seq): the reference for the long hold-model runs, where a linear scan is too slow. */
class ReferenceHeap {
  private readonly t: number[] = [];
  private readonly s: number[] = [];
  private readonly a: number[] = [];
  get size(): number {
    return this.t.length;
  }
  private less(i: number, j: number): boolean {
    return this.t[i] < this.t[j] || (this.t[i] === this.t[j] && this.s[i] < this.s[j]);
  }
  private swap(i: number, j: number): void {
    [this.t[i], this.t[j]] = [this.t[j], this.t[i]];
    [this.s[i], this.s[j]] = [this.s[j], this.s[i]];
    [this.a[i], this.a[j]] = [this.a[j], this.a[i]];
  }
  push(time: number, seq: number, arg: number): void {
    this.t.push(time);
    this.s.push(seq);
    this.a.push(arg);
    let i = this.t.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { time: number; seq: number; arg: number } {
    const out = { time: this.t[0], seq: this.s[0], arg: this.a[0] };
    const last = this.t.length - 1;
    this.swap(0, last);
    this.t.pop();
    this.s.pop();
    this.a.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.t.length && this.less(l, m)) m = l;
      if (r < this.t.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return out;
  }
}

describe('EventQueue: size, sequence numbers, growth', () => {
  it('starts empty: size 0, pop() false, peekTime() Infinity', () => {
    const q = new EventQueue();
    expect(q.size).toBe(0);
    expect(q.pop()).toBe(false);
    expect(q.peekTime()).toBe(Infinity);
    expect(q.sequence).toBe(0);
  });

  it('hands out unique, increasing sequence numbers that survive pops', () => {
    const q = new EventQueue(16);
    expect(q.push(5, 2, 0)).toBe(0);
    expect(q.push(1, 2, 0)).toBe(1);
    expect(q.pop()).toBe(true);
    expect(q.topSeq).toBe(1);
    expect(q.push(3, 2, 0)).toBe(2);
    expect(q.sequence).toBe(3);
  });

  it('grows far past its initial capacity without losing or reordering events', () => {
    const q = new EventQueue(16);
    const times = Array.from({ length: 50_000 }, (_, i) => ((i * 7919) % 10007) * 0.5);
    const pushed = pushAll(q, times);
    expect(q.size).toBe(50_000);
    expect(drain(q)).toEqual(stableSorted(pushed));
  });

  it('peekTime() is the earliest pending time, and does not remove it', () => {
    fc.assert(
      fc.property(shapedTimes(200).filter((ts) => ts.length > 0), (times) => {
        const q = new EventQueue(16);
        pushAll(q, times);
        const min = Math.min(...times);
        expect(q.peekTime()).toBe(min);
        expect(q.size).toBe(times.length);
        expect(q.pop()).toBe(true);
        expect(q.topTime).toBe(min);
      }),
      { numRuns: 100, seed: 1005 },
    );
  });

  it('carries kind and integer argument through unchanged', () => {
    const q = new EventQueue(16);
    q.push(2, 7, -5);
    q.push(1, 123456, 2 ** 31 - 1);
    expect(q.pop()).toBe(true);
    expect(top(q)).toEqual({ time: 1, seq: 1, kind: 123456, arg: 2 ** 31 - 1 });
    expect(q.pop()).toBe(true);
    expect(top(q)).toEqual({ time: 2, seq: 0, kind: 7, arg: -5 });
  });
});

describe('EventQueue: emptying and reuse', () => {
  it('works again after being drained by pops (later times)', () => {
    fc.assert(
      fc.property(shapedTimes(300), shapedTimes(300), (first, second) => {
        const q = new EventQueue(16);
        const a = pushAll(q, first);
        const poppedA = drain(q);
        expect(poppedA).toEqual(stableSorted(a));
        const last = poppedA.length > 0 ? poppedA[poppedA.length - 1].time : 0;
        const b = pushAll(
          q,
          second.map((t) => last + t),
        );
        expect(drain(q)).toEqual(stableSorted(b));
      }),
      { numRuns: 150, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1006 },
    );
  });

  it('after clear(), holds nothing and orders fresh events correctly, even earlier ones', () => {
    // clear() forgets everything, including the last popped time, so times earlier than
    // before are legal again.
    const q = new EventQueue(16);
    for (let i = 0; i < 100; i++) q.push(1000 + i, 2, i);
    for (let i = 0; i < 50; i++) q.pop();
    q.clear();
    expect(q.size).toBe(0);
    expect(q.pop()).toBe(false);
    // Times chosen to fall in different "years" of the calendar left behind by the first use.
    const times = [120, 282, 5, 19, 3, 35, 700, 64];
    const pushed = pushAll(q, times);
    expect(drain(q).map((e) => e.time)).toEqual(stableSorted(pushed).map((e) => e.time));
  });

  it('after clear(), orders fresh events correctly (property)', () => {
    fc.assert(
      fc.property(shapedTimes(300), shapedTimes(100), fc.integer({ min: 0, max: 300 }), (first, second, pops) => {
        const q = new EventQueue(16);
        pushAll(q, first);
        for (let k = 0; k < pops; k++) q.pop();
        q.clear();
        expect(q.size).toBe(0);
        const b = pushAll(q, second);
        expect(drain(q)).toEqual(stableSorted(b));
      }),
      { numRuns: 200, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 1007 },
    );
  });

  it('accepts times below zero before anything was popped (the contract only forbids times before the last pop)', () => {
    const q = new EventQueue(16);
    const pushed = pushAll(q, [3, -0.5, 7, -20, 0]);
    expect(drain(q).map((e) => e.time)).toEqual(stableSorted(pushed).map((e) => e.time));
  });
});
