/**
 * The ports in real time: the monotonic high-resolution clock and Node's timers. The live
 * proxy hands these to the same algorithm objects the simulator drives in virtual time
 * (SimPy's RealtimeEnvironment idea: model code unchanged, only the clock differs).
 */
import type { Clock, Ports, Rng, TimerHandle, Timers } from '../core/ports.js';

export const realClock: Clock = {
  now: () => performance.now(),
};

/**
 * The delay to give setTimeout for `ms`: rounded to a whole millisecond. Node's timers tick
 * in whole milliseconds and a timer for d ms fires after ⌊d⌋ ms plus its lateness, so a
 * fractional delay (a drawn service time, a jittered backoff or interval) would fire half a
 * millisecond early on average; rounded, it fires at its drawn time plus the lateness on
 * average, the lateness the fidelity calibration measures with a whole-millisecond service
 * time (measured, 300 timers each: asked 5 → +0.33 ms, 5.5 → −0.17, 5.75 → −0.40).
 */
export function timerDelay(ms: number): number {
  return timerMs(Math.round(ms));
}

/** The longest delay Node's timers hold: 2^31 − 1 ms (≈ 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The delay to give setTimeout for `ms`, as it is but within [0, MAX_TIMER_MS]. Node fires a
 * timer of a longer delay after 1 ms (with a TimeoutOverflowWarning), which turned a
 * 720-hour timeout into a 1 ms one; in live mode a longer delay acts as 24.8 days.
 */
export function timerMs(ms: number): number {
  return ms > 0 ? (ms < MAX_TIMER_MS ? ms : MAX_TIMER_MS) : 0;
}

export class RealTimers implements Timers {
  private readonly pending = new Map<TimerHandle, NodeJS.Timeout>();
  private nextHandle = 1;

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const handle = this.nextHandle++;
    const t = setTimeout(
      () => {
        this.pending.delete(handle);
        fn();
      },
      timerDelay(delayMs),
    );
    this.pending.set(handle, t);
    return handle;
  }

  cancel(handle: TimerHandle): void {
    const t = this.pending.get(handle);
    if (t !== undefined) {
      clearTimeout(t);
      this.pending.delete(handle);
    }
  }

  /** Cancels every pending timer (shutdown). */
  cancelAll(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}

/** Real-time ports around a (seeded or not) random stream. */
export function realPorts(rng: Rng): Ports & { readonly timers: RealTimers } {
  return { clock: realClock, rng, timers: new RealTimers() };
}
