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
 * Remembers the ids of the last endpoint array and, for each new one, says where every
 * endpoint used to be (the `carry` that {@link LoadMetric.rebuild} takes). Ids are
 * assumed unique within one array; with duplicates, a moved set maps each to the first
 * occurrence, an unchanged set keeps each in place.
 */
export class EndpointCarry {
  private previous: string[] = [];

  /** `carry[i]` = index of `endpoints[i]` in the previous array, or -1 when it is new. */
  next(endpoints: readonly Endpoint[]): Int32Array {
    const n = endpoints.length;
    const carry = new Int32Array(n);
    const prev = this.previous;
    // Fast paths, for rebuilds are frequent and sets large (100 sidecars × 10,000
    // endpoints spent 0.4 s in Map building): a first build carries nothing, and a
    // health-only change keeps every id in place.
    let same = prev.length === n;
    for (let i = 0; same && i < n; i++) same = prev[i] === endpoints[i].id;
    if (prev.length === 0) carry.fill(-1);
    else if (same) for (let i = 0; i < n; i++) carry[i] = i;
    else {
      const before = new Map<string, number>();
      for (let i = 0; i < prev.length; i++) if (!before.has(prev[i])) before.set(prev[i], i);
      for (let i = 0; i < n; i++) carry[i] = before.get(endpoints[i].id) ?? -1;
    }
    this.previous = endpoints.map((e) => e.id);
    return carry;
  }
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
