/** Shared test helpers for failover mechanisms: virtual time from the simulator's engine, outcomes. */
import type { Outcome, OutcomeKind } from '../../../src/algorithms/types.js';
import type { Rng } from '../../../src/core/ports.js';
import { Engine } from '../../../src/sim/engine.js';

export interface VirtualTime {
  readonly engine: Engine;
  /** Advance the clock to absolute time `t` ms. */
  advanceTo(t: number): void;
  /** Advance the clock by `dt` ms. */
  advance(dt: number): void;
}

export function virtualTime(): VirtualTime {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  return {
    engine,
    advanceTo: (t) => engine.run(t),
    advance: (dt) => engine.run(engine.now() + dt),
  };
}

export function outcome(kind: OutcomeKind, status = 0): Outcome {
  return { kind, status };
}

export const OK = outcome('success', 200);

/** An Rng that returns the given values in turn (then repeats the last). */
export function scriptedRng(values: readonly number[]): Rng {
  let i = 0;
  return { next: () => values[Math.min(i++, values.length - 1)] };
}
