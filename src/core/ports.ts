/**
 * Ports: the only windows an algorithm has onto the world.
 *
 * Follows the SimPy/Envoy split (TimeSource and RandomGenerator come in through
 * constructors): the simulator implements these in virtual time, the live proxy with
 * the real clock, and algorithm code runs unchanged in both.
 */

/** Milliseconds as a float, monotonically non-decreasing. */
export interface Clock {
  now(): number;
}

/** A seeded stream of uniform draws in [0, 1). */
export interface Rng {
  next(): number;
}

/** Opaque handle returned by {@link Timers.schedule}. */
export type TimerHandle = number;

export interface Timers {
  /** Run `fn` once, `delayMs` from now (virtual or real). */
  schedule(delayMs: number, fn: () => void): TimerHandle;
  /** Cancel a pending timer; cancelling a fired or unknown handle is a no-op. */
  cancel(handle: TimerHandle): void;
}

/** Everything an algorithm may be given at construction. */
export interface Ports {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly timers: Timers;
}
