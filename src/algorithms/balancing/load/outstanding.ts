/**
 * Outstanding requests: the load of an endpoint is the number of attempts sent to it
 * that have not ended yet. Follows Finagle's least-loaded `Node.load` and tower's
 * `PendingRequests`, and is what Envoy's least-request calls `rq_active`.
 * Differs in one guard: tower counts with a handle dropped on completion, so the count is
 * exact by construction; here an `onEnd` without a matching `onStart` (e.g. an attempt
 * started before a rebuild that removed and re-added its endpoint) never drives the
 * count below 0.
 */
import type { Endpoint, Outcome } from '../../types.js';
import { carryInt32, type LoadMetric } from './types.js';

export class OutstandingRequests implements LoadMetric {
  private active: Int32Array = new Int32Array(0);

  rebuild(_endpoints: readonly Endpoint[], carry: Int32Array): void {
    this.active = carryInt32(this.active, carry, 0);
  }

  load(i: number): number {
    return this.active[i];
  }

  onStart(i: number): void {
    if (i >= 0 && i < this.active.length) this.active[i]++;
  }

  onEnd(i: number, _outcome?: Outcome, _latencyMs?: number): void {
    if (i >= 0 && i < this.active.length && this.active[i] > 0) this.active[i]--;
  }
}
