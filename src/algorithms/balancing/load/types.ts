/**
 * Load metrics: how loaded an endpoint looks, kept apart from the rule that picks among
 * endpoints, so a balancer is a composition (selection rule × metric).
 * Follows tower's `Load` trait and Finagle's `Node.load` × `Distributor` split: P2C
 * composed with outstanding requests is Finagle's least-loaded P2C, composed with
 * PeakEwma it is Linkerd's balancer. Where they differ from meshsim: tower attaches a
 * metric to each service object and Finagle to each node; here one metric object holds
 * typed arrays indexed like the balancer's endpoint array, re-indexed (by endpoint id)
 * on every rebuild, so state follows the endpoint, not its position.
 */
import type { Endpoint, Outcome } from '../../types.js';

/**
 * Per-endpoint load, lower is better. Indices are those of the endpoint array last
 * passed to {@link LoadMetric.rebuild}.
 */
export interface LoadMetric {
  /**
   * The endpoint array changed. `carry[i]` is the index endpoint `i` (same id) had in the
   * previous array, or -1 for a newcomer: its state carries over, a newcomer starts fresh,
   * and endpoints that left are forgotten.
   */
  rebuild(endpoints: readonly Endpoint[], carry: Int32Array): void;
  /** The current load of endpoint `i` (may update time-decayed state, as tower's does). */
  load(i: number): number;
  /** An attempt was sent to endpoint `i`. */
  onStart(i: number): void;
  /** An attempt to endpoint `i` ended after `latencyMs`. */
  onEnd(i: number, outcome: Outcome, latencyMs: number): void;
}

/**
 * Remembers the last endpoint array and, for each new one, says where every endpoint
 * used to be by id (the `carry` that {@link LoadMetric.rebuild} takes). Ids are assumed
 * unique within one array (with duplicates, which earlier state a duplicate inherits is
 * unspecified). A frozen array is kept as it is (nobody can change it), any other is
 * copied: the simulator freezes the endpoint list a pool's sidecars share, so 100
 * sidecars over 10,000 endpoints keep one list instead of 100 copies (bench/fleet10k's
 * start-up spent more time copying and collecting them than building the world).
 */
export class EndpointCarry {
  private previous: readonly Endpoint[] = [];

  /** `carry[i]` = index of `endpoints[i]` in the previous array, or -1 when it is new. */
  next(endpoints: readonly Endpoint[]): Int32Array {
    const carry = carryIndices(this.previous, endpoints);
    this.previous = kept(endpoints);
    return carry;
  }
}

/**
 * `carry[i]` = index in `prev` of the endpoint with the id of `endpoints[i]`, or -1 when
 * `prev` has none (what {@link EndpointCarry} computes between two successive arrays).
 */
export function carryIndices(prev: readonly Endpoint[], endpoints: readonly Endpoint[]): Int32Array {
  const n = endpoints.length;
  const carry = new Int32Array(n);
  if (prev.length === 0) {
    // A first build: every endpoint is new.
    carry.fill(-1);
    return carry;
  }
  // Walks both arrays in step, as discovery keeps endpoints in order and a change moves
  // few of them: a health-only change matches every position, one endpoint leaving
  // shifts the rest by one. An id found at neither position waits; afterwards the waiting
  // ids are looked up among the previous ids nothing matched, which after a typical change
  // are few. (A map of every old id on each rebuild that replaced one endpoint made
  // 10,000-endpoint rebuilds 50× the 1,000-endpoint ones in bench/balancers.bench.ts; this
  // way they are 11×.) With unique ids every position has one answer, so the order of the
  // lookups cannot change it.
  let waiting: number[] | undefined;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const id = endpoints[i].id;
    if (j < prev.length && prev[j].id === id) {
      carry[i] = j++;
    } else if (j + 1 < prev.length && prev[j + 1].id === id) {
      carry[i] = j + 1;
      j += 2;
    } else {
      carry[i] = -1;
      (waiting ??= []).push(i);
    }
  }
  if (waiting !== undefined) lookUp(prev, endpoints, carry, waiting);
  return carry;
}

/** Resolves the `waiting` positions of `carry` among the `prev` ids no position matched. */
function lookUp(prev: readonly Endpoint[], endpoints: readonly Endpoint[], carry: Int32Array, waiting: readonly number[]): void {
  const matched = new Uint8Array(prev.length);
  for (let i = 0; i < carry.length; i++) if (carry[i] >= 0) matched[carry[i]] = 1;
  const unmatched = new Map<string, number>();
  for (let k = 0; k < prev.length; k++) if (matched[k] === 0 && !unmatched.has(prev[k].id)) unmatched.set(prev[k].id, k);
  if (unmatched.size === 0) return;
  for (const i of waiting) {
    const k = unmatched.get(endpoints[i].id);
    if (k !== undefined) carry[i] = k;
  }
}

/** `endpoints` itself when frozen, else a copy of it (its elements are immutable). */
function kept(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  return Object.isFrozen(endpoints) ? endpoints : endpoints.slice();
}

/** A copy of `prev` re-indexed by `carry`; newcomers get `fresh`. */
export function carryFloat64(prev: Float64Array, carry: Int32Array, fresh: number): Float64Array {
  const out = new Float64Array(carry.length);
  for (let i = 0; i < carry.length; i++) {
    const j = carry[i];
    out[i] = j >= 0 && j < prev.length ? prev[j] : fresh;
  }
  return out;
}

/** A copy of `prev` re-indexed by `carry`; newcomers get `fresh`. */
export function carryInt32(prev: Int32Array, carry: Int32Array, fresh: number): Int32Array {
  const out = new Int32Array(carry.length);
  for (let i = 0; i < carry.length; i++) {
    const j = carry[i];
    out[i] = j >= 0 && j < prev.length ? prev[j] : fresh;
  }
  return out;
}
