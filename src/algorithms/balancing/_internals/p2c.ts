/**
 * The unbiased draw of two distinct indices for power-of-two-choices balancing.
 * Follows Finagle's P2C (`a = rand(n)`, `b = rand(n − 1)`, `if b ≥ a then b++`): `a` is
 * uniform over n, `b` uniform over the other n − 1, so every ordered pair of distinct
 * indices has probability 1/(n(n − 1)) and no index is favoured. Stateless; two draws
 * from the caller's stream. Split into two functions so the hot path allocates no pair.
 */
import type { Rng } from '../../../core/ports.js';

/** `rand(n)`: a uniform index in [0, n) from one draw. */
export function drawIndex(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}

/** The first of a distinct pair over n ≥ 2: `rand(n)`. */
export function pairFirst(rng: Rng, n: number): number {
  return drawIndex(rng, n);
}

/** The second of a distinct pair over n ≥ 2 given the first `a`: `rand(n − 1)`, shifted past `a`. */
export function pairSecond(rng: Rng, n: number, a: number): number {
  const b = Math.floor(rng.next() * (n - 1));
  return b >= a ? b + 1 : b;
}

/** The pair as numbers (for tests and tools; allocates). */
export function distinctPair(rng: Rng, n: number): [number, number] {
  const a = pairFirst(rng, n);
  return [a, pairSecond(rng, n, a)];
}
