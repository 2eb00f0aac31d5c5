/**
 * Discrete distributions over {0, …, n−1}: Walker's alias method (Vose's numerically
 * stable construction, 1991) for O(1) draws after O(n) set-up, and Zipf weights
 * (rank k+1 has weight (k+1)^−s) for hot-key request keys.
 */
import type { Rng } from './ports.js';

/** Zipf(s) weights for ranks 1..n, as a Float64Array indexed from 0. */
export function zipfWeights(n: number, s: number): Float64Array {
  const w = new Float64Array(n);
  for (let k = 0; k < n; k++) w[k] = Math.pow(k + 1, -s);
  return w;
}

/** A sampler of index i with probability weights[i] / Σ weights (weights ≥ 0, not all 0). */
export function aliasSampler(weights: ArrayLike<number>, rng: Rng): () => number {
  const n = weights.length;
  if (n === 0) throw new RangeError('aliasSampler: no weights');
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!(weights[i] >= 0) || !Number.isFinite(weights[i])) throw new RangeError(`aliasSampler: weight ${i} is ${weights[i]}`);
    total += weights[i];
  }
  if (!(total > 0)) throw new RangeError('aliasSampler: weights sum to 0');
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = new Float64Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < n; i++) {
    scaled[i] = (weights[i] * n) / total;
    if (scaled[i] < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[--nl];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  while (nl > 0) prob[large[--nl]] = 1;
  while (ns > 0) prob[small[--ns]] = 1; // rounding leftovers
  return () => {
    const u = rng.next() * n;
    const i = Math.floor(u);
    return u - i < prob[i] ? i : alias[i];
  };
}
