/**
 * The client-side pipeline a calling instance runs for each request: endpoint set →
 * health view (discovery health, outlier ejections) → balancer pick → transport, with
 * outcomes fed back to the balancer and the outlier detector. World-agnostic: the
 * simulator and the live proxy both drive it through the same methods, supplying the
 * transport themselves. Follows Envoy's router/cluster-manager split: the sidecar owns
 * the view of the endpoints and the policy state; the world moves the bytes.
 */
import type { Balancer, Endpoint, Outcome, PickContext } from '../algorithms/types.js';
import type { OutlierDetector } from '../algorithms/failover/outlier-detection.js';

const NO_CONTEXT: PickContext = {};

export interface SidecarOptions {
  /** Envoy outlier detection over this sidecar's view of the upstream hosts. */
  readonly outlierDetector?: OutlierDetector;
}

export class Sidecar {
  private endpointList: readonly Endpoint[] = [];
  private readonly outliers: OutlierDetector | undefined;
  /** An ejection changed since the balancer last rebuilt (rebuilt lazily, at the next pick). */
  private viewStale = false;

  constructor(
    readonly name: string,
    private readonly balancer: Balancer,
    endpoints: readonly Endpoint[],
    options: SidecarOptions = {},
  ) {
    this.outliers = options.outlierDetector;
    this.outliers?.onChange(() => {
      this.viewStale = true;
    });
    this.setEndpoints(endpoints);
  }

  get endpoints(): readonly Endpoint[] {
    return this.endpointList;
  }

  /** Replaces the endpoint set (a discovery update); the balancer rebuilds once here. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.endpointList = endpoints;
    this.outliers?.setHosts(endpoints.map((e) => e.id));
    this.rebuildView();
  }

  /** Chooses an endpoint index for an attempt, or -1 when none is available. */
  pick(ctx: PickContext = NO_CONTEXT): number {
    if (this.viewStale) this.rebuildView();
    return this.balancer.pick(ctx);
  }

  attemptStarted(index: number): void {
    this.balancer.onStart(index);
  }

  attemptEnded(index: number, outcome: Outcome, latencyMs: number): void {
    this.balancer.onEnd(index, outcome, latencyMs);
    this.outliers?.onResult(index, outcome);
  }

  /** Envoy's health view: an ejected host is unhealthy to the balancer until it returns. */
  private rebuildView(): void {
    this.viewStale = false;
    const od = this.outliers;
    let view = this.endpointList;
    if (od && od.size > 0) {
      let any = false;
      for (let i = 0; i < view.length; i++) if (od.isEjected(i)) any = true;
      if (any) view = view.map((e, i) => (od.isEjected(i) ? { ...e, health: 'unhealthy' } : e));
    }
    this.balancer.rebuild(view);
  }
}
