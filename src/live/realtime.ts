/**
 * The ports in real time: the monotonic high-resolution clock and Node's timers. The live
 * proxy hands these to the same algorithm objects the simulator drives in virtual time
 * (SimPy's RealtimeEnvironment idea: model code unchanged, only the clock differs).
 */
import type { Clock, Ports, Rng, TimerHandle, Timers } from '../core/ports.js';

export const realClock: Clock = {
  now: () => performance.now(),
};

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
      // Rounded, not truncated as Node's timers do with a fractional delay: a jittered
      // interval then fires at its drawn time on average (see fleet/instance.ts).
      Math.max(0, Math.round(delayMs)),
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
