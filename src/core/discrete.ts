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

/** An alias table over n columns: pick column k uniformly, keep it with probability `prob[k]`, else take `alias[k]`. */
export interface AliasTable {
  readonly prob: Float64Array;
  readonly alias: Int32Array;
}

/**
 * Vose's alias table for non-negative `weights` (not all 0). Column k's share
 * `prob[k]/n` plus the shares other columns alias to it equals `w_k / Σw`.
 */
export function buildAliasTable(weights: ArrayLike<number>): AliasTable {
  const n = weights.length;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += weights[k];
  if (!(sum > 0) || !Number.isFinite(sum)) throw new RangeError(`alias table needs finite weights with a positive sum, got sum ${sum}`);
  const scaled = new Float64Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let ns = 0;
  let nl = 0;
  for (let k = 0; k < n; k++) {
    scaled[k] = (weights[k] * n) / sum;
    if (scaled[k] < 1) small[ns++] = k;
    else large[nl++] = k;
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
  // What is left is 1 up to rounding.
  while (nl > 0) {
    const l = large[--nl];
    prob[l] = 1;
    alias[l] = l;
  }
  while (ns > 0) {
    const s = small[--ns];
    prob[s] = 1;
    alias[s] = s;
  }
  return { prob, alias };
}

/** One alias-method draw: a column index in [0, n). */
export function aliasDraw(table: AliasTable, rng: Rng): number {
  const n = table.prob.length;
  const k = Math.floor(rng.next() * n);
  return rng.next() < table.prob[k] ? k : table.alias[k];
}

/** A sampler of index i with probability weights[i] / Σ weights (weights ≥ 0, not all 0). */
export function aliasSampler(weights: ArrayLike<number>, rng: Rng): () => number {
  for (let i = 0; i < weights.length; i++) {
    if (!(weights[i] >= 0) || !Number.isFinite(weights[i])) throw new RangeError(`aliasSampler: weight ${i} is ${weights[i]}`);
  }
  const table = buildAliasTable(weights);
  return () => aliasDraw(table, rng);
}

/** Where request hash keys come from: key k in [0, n), Zipf(s) (rank k+1 has weight (k+1)^−s) or uniform. */
export type KeyDistribution = { readonly dist: 'zipf'; readonly n: number; readonly s: number } | { readonly dist: 'uniform'; readonly n: number };

/**
 * Draws request keys from `rng`, one draw per key. The simulator's workloads and the live
 * load generator both draw their keys through it, from the stream `keys/<workload>`, so a
 * live run sends the keys its simulation drew.
 */
export function keySampler(spec: KeyDistribution, rng: Rng): () => number {
  if (spec.dist === 'uniform') return () => Math.floor(rng.next() * spec.n);
  return aliasSampler(zipfWeights(spec.n, spec.s), rng);
}
