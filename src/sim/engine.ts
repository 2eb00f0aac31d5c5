/**
 * The simulation kernel: a virtual clock and the future-event list, implementing the
 * Clock and Timers ports in virtual time. Follows SimPy's Environment
 * (schedule/step/run on a (time, seq) heap) with one change for speed: model events are
 * (kind, integer argument) pairs dispatched to a single model object, so the hot path
 * allocates nothing; closures are only for the Timers port that algorithms use.
 */
import type { Clock, TimerHandle, Timers } from '../core/ports.js';
import { EventQueue } from './event-queue.js';
import { MAX_EVENTS_AT_ONE_TIME, RunLimitError } from './limits.js';

/** The model an engine drives: it receives every event of a kind ≥ FIRST_MODEL_KIND. */
export interface Model {
  handle(kind: number, arg: number): void;
}

const KIND_STOP = 0;
const KIND_TIMER = 1;
/** Event kinds below this are the engine's own. */
export const FIRST_MODEL_KIND = 2;

export class Engine implements Clock, Timers {
  private readonly queue = new EventQueue(1024);
  private readonly timerFns = new Map<number, () => void>();
  private model: Model | undefined;
  private nowMs = 0;
  private processed = 0;

  /** `maxEventsAtOneTime`: events at one instant beyond which run() throws (limits.ts; tests lower it). */
  constructor(private readonly maxEventsAtOneTime = MAX_EVENTS_AT_ONE_TIME) {}

  now(): number {
    return this.nowMs;
  }

  /** Events processed so far (model events and timers). */
  get eventsProcessed(): number {
    return this.processed;
  }

  /** Events waiting in the queue. */
  get pending(): number {
    return this.queue.size;
  }

  setModel(model: Model): void {
    this.model = model;
  }

  /** Schedules a model event at absolute time `t` (≥ now); returns its sequence number. */
  at(t: number, kind: number, arg: number): number {
    if (!(t >= this.nowMs)) throw new RangeError(`cannot schedule at ${t} ms: now is ${this.nowMs} ms`);
    return this.queue.push(t, kind, arg);
  }

  /** Schedules a model event `delay` ms from now. */
  after(delay: number, kind: number, arg: number): number {
    return this.at(this.nowMs + delay, kind, arg);
  }

  /** Sequence number of the event being handled (for lazily-cancelled model events). */
  get currentSeq(): number {
    return this.queue.topSeq;
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const seq = this.at(this.nowMs + Math.max(0, delayMs), KIND_TIMER, 0);
    this.timerFns.set(seq, fn);
    return seq;
  }

  cancel(handle: TimerHandle): void {
    this.timerFns.delete(handle);
  }

  /**
   * Processes events in (time, seq) order until the clock would pass `until` or no event
   * is left; the clock then reads `until` (or the last event's time if the queue ran dry
   * earlier and `until` is Infinity). Events scheduled at exactly `until` before this call
   * run; those scheduled at `until` during it wait for the next call.
   */
  run(until = Infinity): void {
    const model = this.model;
    if (!model) throw new Error('Engine.run: no model set');
    if (!(until >= this.nowMs)) throw new RangeError(`cannot run until ${until} ms: now is ${this.nowMs} ms`);
    const q = this.queue;
    const stopSeq = until !== Infinity ? q.push(until, KIND_STOP, 0) : -1;
    let n = 0;
    // Events at the current instant: time that stops advancing is a loop (limits.ts).
    let same = 0;
    try {
      while (q.pop()) {
        const t = q.topTime;
        if (t !== this.nowMs) {
          this.nowMs = t;
          same = 0;
        } else if (++same > this.maxEventsAtOneTime) {
          throw new RunLimitError(`simulated time stopped advancing at ${(t / 1000).toLocaleString('en-US', { maximumFractionDigits: 6 })} s: more than ${this.maxEventsAtOneTime.toLocaleString('en-US')} events at that instant`);
        }
        const kind = q.topKind;
        if (kind >= FIRST_MODEL_KIND) {
          n++;
          model.handle(kind, q.topArg);
        } else if (kind === KIND_TIMER) {
          const fn = this.timerFns.get(q.topSeq);
          if (fn !== undefined) {
            n++;
            this.timerFns.delete(q.topSeq);
            fn();
          }
        } else if (q.topSeq === stopSeq) {
          break;
        }
        // A stale stop event (from a run a handler's exception cut short) is skipped.
      }
      if (until !== Infinity) this.nowMs = until;
    } finally {
      this.processed += n;
    }
  }
}
