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
 * assumed unique within one array; with duplicates the first occurrence wins.
 */
export class EndpointCarry {
  private previous = new Map<string, number>();

  /** `carry[i]` = index of `endpoints[i]` in the previous array, or -1 when it is new. */
  next(endpoints: readonly Endpoint[]): Int32Array {
    const carry = new Int32Array(endpoints.length);
    const current = new Map<string, number>();
    for (let i = 0; i < endpoints.length; i++) {
      const id = endpoints[i].id;
      carry[i] = this.previous.get(id) ?? -1;
      if (!current.has(id)) current.set(id, i);
    }
    this.previous = current;
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
