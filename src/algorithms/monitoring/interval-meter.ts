/**
 * Interval meter: counts request outcomes and emits one sample per fixed interval
 * (requests, successes, mean latency), the building block of per-second timelines and of
 * windowed detectors (success-rate ejection, retry budgets, SLO burn rates). Follows the
 * fixed-interval sampling of Envoy's stats flush and Prometheus-style counters; time
 * comes only from the Clock and Timers ports, so it runs unchanged in virtual or real time.
 */
import type { Clock, TimerHandle, Timers } from '../../core/ports.js';

export interface IntervalSample {
  /** Interval start and end, ms on the meter's clock. */
  readonly start: number;
  readonly end: number;
  readonly requests: number;
  readonly successes: number;
  /** Mean latency of the interval's requests in ms; NaN when there were none. */
  readonly meanLatencyMs: number;
}

export class IntervalMeter {
  private start: number;
  private requests = 0;
  private successes = 0;
  private latencySum = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly intervalMs: number,
    private readonly onSample: (s: IntervalSample) => void,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`interval must be > 0 ms, got ${intervalMs}`);
    this.start = clock.now();
    this.arm();
  }

  record(success: boolean, latencyMs: number): void {
    this.requests++;
    if (success) this.successes++;
    this.latencySum += latencyMs;
  }

  /** Emits the partial interval and stops the meter. */
  stop(): void {
    if (this.timer === undefined) return;
    this.timers.cancel(this.timer);
    this.timer = undefined;
    this.flush(this.clock.now());
  }

  private arm(): void {
    this.timer = this.timers.schedule(this.start + this.intervalMs - this.clock.now(), () => {
      this.flush(this.start + this.intervalMs);
      this.arm();
    });
  }

  private flush(end: number): void {
    this.onSample({
      start: this.start,
      end,
      requests: this.requests,
      successes: this.successes,
      meanLatencyMs: this.requests > 0 ? this.latencySum / this.requests : NaN,
    });
    this.start = end;
    this.requests = 0;
    this.successes = 0;
    this.latencySum = 0;
  }
}
