/**
 * Seeded random streams, one per purpose, for common random numbers (Law & Kelton, ch. 11):
 * each stream depends only on (scenario seed, purpose), so changing one part of a scenario
 * does not reshuffle the draws of another. Generator: Brent's xor4096 (xorgens, 2010)
 * from seedrandom, period 2^4128 − 2^32, seeded by string.
 */
import seedrandom from 'seedrandom';
import type { Rng } from './ports.js';

/**
 * The seed string for (seed, purpose). JSON of the pair is injective (no two pairs share
 * it) and contains no NUL: xor4096 cycles `seed + '\0'` through its state, so a seed
 * string containing NUL could collide with a shorter periodic one.
 */
function seedString(seed: number, purpose: string): string {
  assertSeed(seed);
  return JSON.stringify([seed, purpose]);
}

function assertSeed(seed: number): void {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
}

/**
 * An independent stream of uniform draws in [0, 1) (32-bit resolution) for `purpose`,
 * e.g. "arrivals/users", "service/api/3", "balancer/users/0".
 * `next` is the generator itself, so a draw is one call.
 */
export function rngStream(seed: number, purpose: string): Rng {
  return { next: seedrandom.xor4096(seedString(seed, purpose)) };
}

/** Hands out one stream per purpose from a scenario seed; asking twice for a purpose throws. */
export class RngStreams {
  private readonly issued = new Set<string>();

  constructor(readonly seed: number) {
    assertSeed(seed);
  }

  stream(purpose: string): Rng {
    if (this.issued.has(purpose)) {
      throw new Error(`rng stream "${purpose}" requested twice; every consumer needs its own purpose`);
    }
    this.issued.add(purpose);
    return rngStream(this.seed, purpose);
  }
}
