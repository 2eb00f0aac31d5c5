/**
 * The "hold" benchmark of the future-event list (Jones, "An empirical comparison of
 * priority-queue and event-set implementations", CACM 29(4), 1986; Brown 1988): pre-fill
 * the queue with N events at Exp(1) times, then repeat hold = pop the earliest event and
 * push one Exp(1) later than the popped time, so the queue stays at N pending events. For
 * exponential increments the pre-filled state is already the stationary one.
 *
 * Measures src/sim/event-queue.ts (`EventQueue`, a calendar queue over typed arrays)
 * against the obvious alternative written here as the baseline: a binary heap of plain JS
 * objects {time, seq, kind, arg}, one allocated per push, ordered by (time, seq).
 *
 * Both run the same increments: a table of 2^20 Exp(1) variates drawn once from a seeded
 * xorshift, cycled through, so random-number generation is not part of the figure. Each
 * size: pre-fill, a check that events come out in (time, seq) order, a timed warm-up that
 * also sizes the repetitions (≈ 0.25 s each), then the median of the repetitions.
 *
 *   node --import tsx bench/event-queue.bench.ts [--sizes 1000,100000,1000000] [--reps 5] [--json]
 */
import { EventQueue } from '../src/sim/event-queue.js';
import { benchMain, figure, fmt, gc, log, median, spread, table, timed, type BenchResult, type Figure } from './lib.js';

const TABLE_BITS = 20;
const TABLE_MASK = (1 << TABLE_BITS) - 1;
const TARGET_MEPS = 8;
const TARGET_SIZE = 100_000;
const REP_SECONDS = 0.25;
const WARMUP_HOLDS = 500_000;

/** 2^20 Exp(1) variates from a seeded xorshift32 (deterministic, no RNG in the timed loops). */
function expTable(seed = 12345): Float64Array {
  const t = new Float64Array(TABLE_MASK + 1);
  let x = seed | 0 || 1;
  for (let i = 0; i < t.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = ((x >>> 0) + 0.5) / 4294967296; // (0, 1)
    t[i] = -Math.log(u);
  }
  return t;
}

// ---------------------------------------------------------------------------------------
// Baseline: a textbook binary heap of plain objects

interface HeapEvent {
  time: number;
  seq: number;
  kind: number;
  arg: number;
}

function before(a: HeapEvent, b: HeapEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

export class ObjectHeap {
  private readonly a: HeapEvent[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.a.length;
  }

  push(time: number, kind: number, arg: number): number {
    const e: HeapEvent = { time, seq: this.nextSeq++, kind, arg };
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, a[p])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = e;
    return e.seq;
  }

  pop(): HeapEvent | undefined {
    const a = this.a;
    const n = a.length;
    if (n === 0) return undefined;
    const top = a[0];
    const last = a.pop() as HeapEvent;
    if (n > 1) {
      const m = n - 1;
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && before(a[c + 1], a[c])) c++;
        if (!before(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

// ---------------------------------------------------------------------------------------
// Hold loops: one function per implementation, so each stays monomorphic.

function fillCalendar(q: EventQueue, n: number, inc: Float64Array): void {
  for (let i = 0; i < n; i++) q.push(inc[i & TABLE_MASK], 0, i);
}

function holdCalendar(q: EventQueue, holds: number, inc: Float64Array, k0: number): number {
  let k = k0;
  for (let i = 0; i < holds; i++) {
    q.pop();
    q.push(q.topTime + inc[k], q.topKind, q.topArg);
    k = (k + 1) & TABLE_MASK;
  }
  return k;
}

function fillHeap(h: ObjectHeap, n: number, inc: Float64Array): void {
  for (let i = 0; i < n; i++) h.push(inc[i & TABLE_MASK], 0, i);
}

function holdHeap(h: ObjectHeap, holds: number, inc: Float64Array, k0: number): number {
  let k = k0;
  for (let i = 0; i < holds; i++) {
    const e = h.pop() as HeapEvent;
    h.push(e.time + inc[k], e.kind, e.arg);
    k = (k + 1) & TABLE_MASK;
  }
  return k;
}

/** Hold `holds` times checking (time, seq) order; returns the table position. */
function checkOrder(holds: number, inc: Float64Array, k0: number, pop: () => { time: number; seq: number; kind: number; arg: number }, push: (t: number, kind: number, arg: number) => number, impl: string): number {
  let k = k0;
  let lastTime = -Infinity;
  let lastSeq = -1;
  for (let i = 0; i < holds; i++) {
    const e = pop();
    if (e.time < lastTime || (e.time === lastTime && e.seq <= lastSeq)) throw new Error(`${impl}: events out of order at hold ${i}: (${e.time}, ${e.seq}) after (${lastTime}, ${lastSeq})`);
    lastTime = e.time;
    lastSeq = e.seq;
    push(e.time + inc[k], e.kind, e.arg);
    k = (k + 1) & TABLE_MASK;
  }
  return k;
}

interface SizeResult {
  readonly pending: number;
  readonly impl: 'calendar' | 'object-heap';
  readonly prefillSeconds: number;
  readonly holdsPerRep: number;
  readonly repsMeps: readonly number[];
  readonly medianMeps: number;
}

function measure(impl: SizeResult['impl'], pending: number, reps: number, inc: Float64Array): SizeResult {
  gc();
  let k = 0;
  let hold: (holds: number) => void;
  const t0 = performance.now();
  if (impl === 'calendar') {
    const q = new EventQueue();
    fillCalendar(q, pending, inc);
    k = pending & TABLE_MASK;
    const t1 = performance.now();
    k = checkOrder(20_000, inc, k, () => (q.pop(), { time: q.topTime, seq: q.topSeq, kind: q.topKind, arg: q.topArg }), (t, kind, arg) => q.push(t, kind, arg), impl);
    if (q.size !== pending) throw new Error(`calendar: size ${q.size} ≠ ${pending}`);
    hold = (holds) => {
      k = holdCalendar(q, holds, inc, k);
    };
    return run(t1 - t0);
  }
  const h = new ObjectHeap();
  fillHeap(h, pending, inc);
  k = pending & TABLE_MASK;
  const t1 = performance.now();
  k = checkOrder(20_000, inc, k, () => h.pop() as HeapEvent, (t, kind, arg) => h.push(t, kind, arg), impl);
  if (h.size !== pending) throw new Error(`object heap: size ${h.size} ≠ ${pending}`);
  hold = (holds) => {
    k = holdHeap(h, holds, inc, k);
  };
  return run(t1 - t0);

  function run(prefillMs: number): SizeResult {
    const w0 = performance.now();
    hold(WARMUP_HOLDS);
    const warmRate = WARMUP_HOLDS / ((performance.now() - w0) / 1000);
    const holdsPerRep = Math.max(200_000, Math.min(5_000_000, Math.round((warmRate * REP_SECONDS) / 100_000) * 100_000));
    const repsMeps: number[] = [];
    for (let r = 0; r < reps; r++) {
      const s = performance.now();
      hold(holdsPerRep);
      repsMeps.push(holdsPerRep / ((performance.now() - s) / 1000) / 1e6);
    }
    return { pending, impl, prefillSeconds: prefillMs / 1000, holdsPerRep, repsMeps, medianMeps: median(repsMeps) };
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function runHold(options: { sizes?: readonly number[]; reps?: number } = {}): Promise<BenchResult> {
  const sizes = options.sizes ?? (arg('--sizes')?.split(',').map(Number) || [1_000, 100_000, 1_000_000]);
  const reps = options.reps ?? Number(arg('--reps') ?? 5);
  return timed('hold', 'event queue: hold model', async () => {
    const inc = expTable();
    const results: SizeResult[] = [];
    for (const n of sizes) {
      for (const impl of ['calendar', 'object-heap'] as const) {
        const r = measure(impl, n, reps, inc);
        log(`hold  ${impl.padEnd(11)} ${String(n).padStart(8)} pending: ${r.medianMeps.toFixed(2)} M holds/s (reps ${spread(r.repsMeps)}, ${r.holdsPerRep} holds each; pre-fill ${r.prefillSeconds.toFixed(2)} s)`);
        results.push(r);
      }
    }
    const rows = sizes.map((n) => {
      const c = results.find((r) => r.pending === n && r.impl === 'calendar') as SizeResult;
      const h = results.find((r) => r.pending === n && r.impl === 'object-heap') as SizeResult;
      return { pending: n, calendar: c, heap: h, ratio: c.medianMeps / h.medianMeps };
    });
    log(
      '\n' +
        table(
          ['pending', 'EventQueue M/s', 'reps', 'object heap M/s', 'reps', 'ratio', 'pre-fill EQ s', 'pre-fill heap s'],
          rows.map((r) => [String(r.pending), fmt(r.calendar.medianMeps), spread(r.calendar.repsMeps), fmt(r.heap.medianMeps), spread(r.heap.repsMeps), `${r.ratio.toFixed(2)}×`, r.calendar.prefillSeconds.toFixed(3), r.heap.prefillSeconds.toFixed(3)]),
          [true, true, false, true, false, true, true, true],
        ),
    );
    const figures: Figure[] = [];
    for (const r of rows) {
      const label = r.pending >= 1_000_000 ? `${r.pending / 1_000_000}M` : `${r.pending / 1000}k`;
      figures.push(
        figure(`EventQueue @ ${label} pending`, r.calendar.medianMeps, 'M holds/s', r.pending === TARGET_SIZE ? { kind: 'min', value: TARGET_MEPS } : undefined, `reps ${spread(r.calendar.repsMeps)}`),
        figure(`object heap @ ${label} pending`, r.heap.medianMeps, 'M holds/s', undefined, `baseline; EventQueue ${r.ratio.toFixed(2)}× it`),
      );
    }
    return { figures, data: { reps, expTableSize: TABLE_MASK + 1, warmupHolds: WARMUP_HOLDS, sizes: rows.map((r) => ({ pending: r.pending, ratio: r.ratio, calendar: r.calendar, objectHeap: r.heap })) } };
  });
}

await benchMain(import.meta.url, () => runHold());
