/**
 * The client-side pipeline a calling instance runs for each request: endpoint set →
 * balancer pick → transport, with outcomes fed back to the balancer. World-agnostic:
 * the simulator and the live proxy both drive it through the same methods, supplying
 * the transport themselves. Follows Envoy's router/cluster-manager split: the sidecar
 * owns the view of the endpoints and the policy state; the world moves the bytes.
 */
import type { Balancer, Endpoint, Outcome, PickContext } from '../algorithms/types.js';

const NO_CONTEXT: PickContext = {};

export class Sidecar {
  private endpointList: readonly Endpoint[] = [];

  constructor(
    readonly name: string,
    private readonly balancer: Balancer,
    endpoints: readonly Endpoint[],
  ) {
    this.setEndpoints(endpoints);
  }

  get endpoints(): readonly Endpoint[] {
    return this.endpointList;
  }

  /** Replaces the endpoint set (a discovery update); the balancer rebuilds once here. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.endpointList = endpoints;
    this.balancer.rebuild(endpoints);
  }

  /** Chooses an endpoint index for an attempt, or -1 when none is available. */
  pick(ctx: PickContext = NO_CONTEXT): number {
    return this.balancer.pick(ctx);
  }

  attemptStarted(index: number): void {
    this.balancer.onStart(index);
  }

  attemptEnded(index: number, outcome: Outcome, latencyMs: number): void {
    this.balancer.onEnd(index, outcome, latencyMs);
  }
}
