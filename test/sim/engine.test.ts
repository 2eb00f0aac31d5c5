/**
 * The simulation kernel: run(until) semantics, timers (Timers port) and model events in
 * (time, seq) order, cancellation, and the clock never running backwards — checked against
 * a reference event list on random programs of events that schedule and cancel others.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Engine, FIRST_MODEL_KIND, type Model } from '../../src/sim/engine.js';
import { MAX_EVENTS_AT_ONE_TIME, RunLimitError } from '../../src/sim/limits.js';

const K = FIRST_MODEL_KIND;

/** An engine whose model records (time, kind, arg) of every event it receives. */
function recordingEngine(onEvent?: (kind: number, arg: number) => void): { engine: Engine; log: Array<[number, number, number]> } {
  const engine = new Engine();
  const log: Array<[number, number, number]> = [];
  const model: Model = {
    handle(kind, arg) {
      log.push([engine.now(), kind, arg]);
      onEvent?.(kind, arg);
    },
  };
  engine.setModel(model);
  return { engine, log };
}

describe('Engine.run(until)', () => {
  it('runs the events at or before `until`, leaves later ones pending, and reads `until` afterwards', () => {
    const { engine, log } = recordingEngine();
    engine.at(10, K, 1);
    engine.at(30, K, 3);
    engine.at(20, K, 2);
    engine.at(50, K, 5);
    engine.run(30);
    expect(log).toEqual([
      [10, K, 1],
      [20, K, 2],
      [30, K, 3],
    ]);
    expect(engine.now()).toBe(30);
    expect(engine.pending).toBe(1);
    expect(engine.eventsProcessed).toBe(3);
    engine.run(40);
    expect(engine.now()).toBe(40); // no event in (30, 40]: the clock still advances to `until`
    expect(log).toHaveLength(3);
    engine.run(100);
    expect(log[3]).toEqual([50, K, 5]);
    expect(engine.now()).toBe(100);
    expect(engine.pending).toBe(0);
    expect(engine.eventsProcessed).toBe(4);
  });

  it('on an empty queue, run(until) just moves the clock to `until`', () => {
    const { engine, log } = recordingEngine();
    engine.run(123.5);
    expect(engine.now()).toBe(123.5);
    expect(log).toEqual([]);
  });

  it('run() without `until` drains the queue and leaves the clock at the last event', () => {
    const { engine, log } = recordingEngine();
    engine.at(7, K, 0);
    engine.at(3, K, 1);
    engine.run();
    expect(log.map((e) => e[0])).toEqual([3, 7]);
    expect(engine.now()).toBe(7);
    expect(engine.pending).toBe(0);
  });

  it('events scheduled at exactly `until` before the call run; those scheduled at `until` during it wait', () => {
    const { engine, log } = recordingEngine((kind, arg) => {
      if (arg === 1) engine.at(100, K, 2); // at `until`, scheduled during run(100)
    });
    engine.at(100, K, 0);
    engine.at(50, K, 1);
    engine.run(100);
    expect(log).toEqual([
      [50, K, 1],
      [100, K, 0],
    ]);
    expect(engine.pending).toBe(1);
    engine.run(100);
    expect(log[2]).toEqual([100, K, 2]);
    expect(engine.now()).toBe(100);
  });

  it('throws without a model', () => {
    const engine = new Engine();
    expect(() => engine.run(10)).toThrow(/no model/);
  });

  it('never moves the clock backwards: run(until) with until < now is refused or a no-op', () => {
    // Bug (src/sim/engine.ts, run): `until` is pushed as a stop event without checking it
    // against the clock, and the clock is then set to `until` — so run(20) after run(100)
    // sets now() to 20 and lets model code schedule events in the past.
    const { engine } = recordingEngine();
    engine.at(150, K, 0);
    engine.run(100);
    expect(engine.now()).toBe(100);
    try {
      engine.run(20);
    } catch (e) {
      expect(e).toBeInstanceOf(RangeError);
    }
    expect(engine.now()).toBe(100);
    expect(() => engine.at(50, K, 1)).toThrow(RangeError);
  });

  it('after a handler throws, the next run(until) still processes every event up to `until`', () => {
    // Bug (src/sim/engine.ts, run): the stop event pushed for run(100) stays queued when a
    // handler throws; the next run(200) stops at that stale stop (time 100) yet sets the
    // clock to 200, skipping the event at 150 — which a later run then handles with the
    // clock reading 150, i.e. running backwards.
    const { engine, log } = recordingEngine((_kind, arg) => {
      if (arg === 1) throw new Error('model failure');
    });
    engine.at(5, K, 1);
    engine.at(150, K, 2);
    expect(() => engine.run(100)).toThrow('model failure');
    engine.run(200);
    expect(log.map((e) => e[0])).toEqual([5, 150]);
    expect(engine.now()).toBe(200);
  });

  it('never makes the clock NaN: run(NaN) is refused', () => {
    // Same bug: run(NaN) processes every pending event and then sets now() to NaN, after
    // which every at() throws.
    const { engine } = recordingEngine();
    engine.at(5, K, 0);
    expect(() => engine.run(NaN)).toThrow(RangeError);
    expect(Number.isNaN(engine.now())).toBe(false);
  });
});

describe('Engine: scheduling model events', () => {
  it('at() and after() return increasing sequence numbers; currentSeq names the event being handled', () => {
    const seqs: number[] = [];
    const { engine } = recordingEngine(() => seqs.push(engine.currentSeq));
    const a = engine.at(5, K, 0);
    const b = engine.after(5, K, 1);
    const c = engine.at(1, K, 2);
    expect(b).toBeGreaterThan(a);
    expect(c).toBeGreaterThan(b);
    engine.run();
    expect(seqs).toEqual([c, a, b]);
  });

  it('events at equal times run in the order they were scheduled', () => {
    const { engine, log } = recordingEngine();
    for (let i = 0; i < 100; i++) engine.at(i % 3 === 0 ? 5 : 10, K + (i % 4), i);
    engine.run();
    const fives = log.filter((e) => e[0] === 5).map((e) => e[2]);
    const tens = log.filter((e) => e[0] === 10).map((e) => e[2]);
    expect(fives).toEqual([...fives].sort((x, y) => x - y));
    expect(tens).toEqual([...tens].sort((x, y) => x - y));
    expect(log.slice(0, fives.length).every((e) => e[0] === 5)).toBe(true);
  });

  it('scheduling in the past throws a RangeError; now is allowed', () => {
    const { engine, log } = recordingEngine();
    engine.at(10, K, 0);
    engine.run(10);
    expect(() => engine.at(9.999, K, 1)).toThrow(RangeError);
    expect(() => engine.after(-0.001, K, 1)).toThrow(RangeError);
    expect(() => engine.at(NaN, K, 1)).toThrow(RangeError);
    expect(() => engine.after(NaN, K, 1)).toThrow(RangeError);
    engine.at(10, K, 2);
    engine.after(0, K, 3);
    engine.run(10);
    expect(log.map((e) => e[2])).toEqual([0, 2, 3]);
  });

  it('rejects an event in the past from inside a handler too', () => {
    let thrown: unknown;
    const { engine } = recordingEngine(() => {
      try {
        engine.at(engine.now() - 1, K, 9);
      } catch (e) {
        thrown = e;
      }
    });
    engine.at(5, K, 0);
    engine.run();
    expect(thrown).toBeInstanceOf(RangeError);
  });
});

describe('Engine: timers (the Timers port)', () => {
  it('fire at now + delay, in (time, scheduling order), interleaved with model events', () => {
    const fired: Array<[number, string]> = [];
    const { engine } = recordingEngine((_k, arg) => fired.push([engine.now(), `model${arg}`]));
    engine.schedule(30, () => fired.push([engine.now(), 'T30']));
    engine.schedule(10, () => fired.push([engine.now(), 'T10a']));
    engine.at(10, K, 1);
    engine.schedule(10, () => fired.push([engine.now(), 'T10b']));
    engine.schedule(0, () => fired.push([engine.now(), 'T0']));
    engine.run();
    expect(fired).toEqual([
      [0, 'T0'],
      [10, 'T10a'],
      [10, 'model1'],
      [10, 'T10b'],
      [30, 'T30'],
    ]);
    expect(engine.eventsProcessed).toBe(5);
  });

  it('a timer can schedule further timers, relative to the time it fires', () => {
    const fired: number[] = [];
    const { engine } = recordingEngine();
    const tick = (): void => {
      fired.push(engine.now());
      if (fired.length < 5) engine.schedule(2.5, tick);
    };
    engine.schedule(1, tick);
    engine.run(100);
    expect(fired).toEqual([1, 3.5, 6, 8.5, 11]);
  });

  it('a negative delay fires at the current time (clamped), never in the past', () => {
    const fired: number[] = [];
    const { engine } = recordingEngine();
    engine.run(40);
    engine.schedule(-5, () => fired.push(engine.now()));
    engine.run(50);
    expect(fired).toEqual([40]);
  });

  it('a cancelled timer never fires, and does not count as processed', () => {
    const fired: string[] = [];
    const { engine } = recordingEngine();
    const a = engine.schedule(10, () => fired.push('a'));
    engine.schedule(20, () => fired.push('b'));
    engine.cancel(a);
    engine.run();
    expect(fired).toEqual(['b']);
    expect(engine.eventsProcessed).toBe(1);
  });

  it('cancelling twice, cancelling an unknown handle, or a fired one is a no-op', () => {
    const fired: string[] = [];
    const { engine } = recordingEngine();
    const a = engine.schedule(10, () => fired.push('a'));
    const b = engine.schedule(20, () => fired.push('b'));
    engine.cancel(a);
    engine.cancel(a);
    engine.cancel(123456);
    engine.cancel(-1);
    engine.run(15);
    const c = engine.schedule(1, () => fired.push('c'));
    engine.run(17);
    engine.cancel(c); // already fired
    engine.run();
    expect(fired).toEqual(['c', 'b']);
    expect(b).not.toBe(a);
  });

  it('a timer cancelled by an earlier event at the same time does not fire', () => {
    const fired: string[] = [];
    const { engine } = recordingEngine();
    let victim = -1;
    engine.schedule(5, () => {
      fired.push('killer');
      engine.cancel(victim);
    });
    victim = engine.schedule(5, () => fired.push('victim'));
    engine.run();
    expect(fired).toEqual(['killer']);
  });

  it('cancelling a model event sequence number through the Timers port does not cancel the model event', () => {
    const { engine, log } = recordingEngine();
    const seq = engine.at(5, K, 7);
    engine.cancel(seq);
    engine.run();
    expect(log).toEqual([[5, K, 7]]);
  });
});

// --- random programs against a reference event list --------------------------------------

/** What a fired event does: schedule children (model events or timers) and cancel earlier timers. */
interface Action {
  readonly children: ReadonlyArray<{ readonly timer: boolean; readonly delay: number }>;
  /** Indices (mod the number of timers so far) of timers to cancel. */
  readonly cancels: readonly number[];
}

/** Delays with many exact ties (0, small integers) and spread-out values. */
const delay = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 5 }),
  fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true }).map(Math.abs),
  fc.double({ min: 0, max: 1e-6, noNaN: true, noDefaultInfinity: true }).map(Math.abs),
);

const action: fc.Arbitrary<Action> = fc.record({
  children: fc.array(fc.record({ timer: fc.boolean(), delay }), { maxLength: 3 }),
  cancels: fc.array(fc.nat(), { maxLength: 2 }),
});

const program = fc.record({
  /**
   * Events scheduled before the first run: up to 150 (the calendar re-buckets at 33, 65 and
   * 129 pending events, before anything is popped), at times base + u·spread.
   */
  initial: fc
    .record({
      base: fc.double({ min: 0, max: 1000, noNaN: true, noDefaultInfinity: true }).map(Math.abs),
      spread: fc.double({ min: 1e-3, max: 200, noNaN: true, noDefaultInfinity: true }),
      items: fc.array(fc.record({ timer: fc.boolean(), u: fc.integer({ min: 0, max: 1_000_000 }).map((k) => k / 1_000_000) }), { minLength: 1, maxLength: 150, size: 'max' }),
    })
    .map(({ base, spread, items }) => items.map((i) => ({ timer: i.timer, at: base + i.u * spread }))),
  actions: fc.array(action, { minLength: 1, maxLength: 50, size: 'max' }),
  /** run(until) calls, made in ascending order; a final run() drains the rest. */
  stops: fc.array(fc.double({ min: 0, max: 1400, noNaN: true, noDefaultInfinity: true }).map(Math.abs), { maxLength: 4 }),
  /** Total number of events the program may create (keeps runs finite). */
  budget: fc.integer({ min: 10, max: 600 }),
});

interface Scheduled {
  readonly time: number;
  /** Scheduling order over everything the engine queues, its stop events included. */
  readonly seq: number;
  readonly id: number;
}

type Program = typeof program extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs a program: initial events, then run(until) for each stop and a final draining run();
 * each fired event performs its action. Returns what was scheduled (in scheduling order),
 * what fired (in firing order, with the clock each handler saw), and which timers were
 * cancelled while still pending.
 */
function execute(p: Program): { scheduled: Scheduled[]; fired: Array<[number, number]>; cancelledPending: Set<number> } {
  const engine = new Engine();
  const scheduled: Scheduled[] = [];
  const fired: Array<[number, number]> = [];
  const firedIds = new Set<number>();
  const cancelledPending = new Set<number>();
  const timers: Array<{ handle: number; id: number }> = [];
  let seq = 0;

  const add = (timer: boolean, delayMs: number): void => {
    if (scheduled.length >= p.budget) return;
    const id = scheduled.length;
    const time = engine.now() + delayMs; // the engine's own arithmetic, so times compare exactly
    if (timer) timers.push({ handle: engine.schedule(delayMs, () => fire(id)), id });
    else engine.at(time, K, id);
    scheduled.push({ time, seq: seq++, id });
  };
  const fire = (id: number): void => {
    fired.push([engine.now(), id]);
    firedIds.add(id);
    const a = p.actions[id % p.actions.length];
    for (const c of a.children) add(c.timer, c.delay);
    for (const k of a.cancels) {
      if (timers.length === 0) break;
      const t = timers[k % timers.length];
      if (!firedIds.has(t.id)) cancelledPending.add(t.id);
      engine.cancel(t.handle);
    }
  };
  engine.setModel({ handle: (_kind, id) => fire(id) });

  for (const e of p.initial) add(e.timer, e.at);
  for (const until of [...p.stops].sort((x, y) => x - y)) {
    if (until < engine.now()) continue;
    seq++; // run(until) queues a stop event
    engine.run(until);
    if (engine.now() !== until) throw new Error(`after run(${until}) the clock reads ${engine.now()}`);
  }
  engine.run();
  if (engine.pending !== 0) throw new Error(`${engine.pending} events left after run()`);
  if (engine.eventsProcessed !== fired.length) throw new Error(`eventsProcessed ${engine.eventsProcessed}, handlers run ${fired.length}`);
  return { scheduled, fired, cancelledPending };
}

describe('Engine: random programs of events that schedule and cancel others', () => {
  it('the clock seen by every handler never decreases; events fire in (time, seq) order; exactly the uncancelled ones fire', () => {
    // Plain comparisons and short messages instead of expect(): on a failure, fast-check
    // shrinks through thousands of failing runs, and a deep-equality diff for each is slow.
    fc.assert(
      fc.property(program, (p) => {
        const { scheduled, fired, cancelledPending } = execute(p);
        for (let i = 1; i < fired.length; i++) {
          if (fired[i][0] < fired[i - 1][0]) throw new Error(`clock ran backwards: ${fired[i - 1][0]} then ${fired[i][0]}`);
        }
        const expected = scheduled.filter((e) => !cancelledPending.has(e.id)).sort((a, b) => a.time - b.time || a.seq - b.seq);
        if (expected.length !== fired.length) throw new Error(`${fired.length} events fired, expected ${expected.length}`);
        expected.forEach((e, i) => {
          if (e.id !== fired[i][1] || e.time !== fired[i][0]) throw new Error(`firing #${i}: got id ${fired[i][1]} at ${fired[i][0]}, expected id ${e.id} at ${e.time}`);
        });
      }),
      { numRuns: 300, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: true, seed: 2001 },
    );
  });
});

describe('Engine: time that stops advancing', () => {
  it('throws a RunLimitError past maxEventsAtOneTime events at one instant, and not before', () => {
    const loop = (limit: number, perInstant: number): Engine => {
      const engine = new Engine(limit);
      let n = 0;
      // Each event schedules the next at the same time until perInstant of them, then 1 ms later.
      engine.setModel({ handle: () => engine.after(++n % perInstant === 0 ? 1 : 0, K, 0) });
      engine.at(0, K, 0);
      return engine;
    };
    // 1,000 events at each instant: within a limit of 1,000, the run reaches its end.
    const fine = loop(1_000, 1_000);
    fine.run(5);
    expect(fine.now()).toBe(5);
    const stuck = loop(1_000, Infinity);
    expect(() => stuck.run(5)).toThrow(RunLimitError);
    expect(() => loop(1_000, Infinity).run(5)).toThrow('simulated time stopped advancing at 0 s: more than 1,000 events at that instant');
  });

  it('is 50,000,000 by default', () => {
    expect(MAX_EVENTS_AT_ONE_TIME).toBe(50_000_000);
  });
});
