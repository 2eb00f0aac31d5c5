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
import type { HealthChecker } from '../algorithms/failover/health-check.js';

const NO_CONTEXT: PickContext = {};
const CANCELLED: Outcome = { kind: 'cancelled', status: 0 };
const TIMED_OUT: Outcome = { kind: 'timeout', status: 0 };

export interface SidecarOptions {
  /** Envoy outlier detection over this sidecar's view of the upstream hosts. */
  readonly outlierDetector?: OutlierDetector;
  /** Envoy active health checking of the same hosts (probes sent by the world). */
  readonly healthChecker?: HealthChecker;
}

export class Sidecar {
  private endpointList: readonly Endpoint[] = [];
  private readonly outliers: OutlierDetector | undefined;
  private readonly checker: HealthChecker | undefined;
  /** An ejection changed since the balancer last rebuilt (rebuilt lazily, at the next pick). */
  private viewStale = false;
  /** A health checker that has not yet heard of this sidecar's first attempt. */
  private checkerIdle: boolean;

  constructor(
    readonly name: string,
    private readonly balancer: Balancer,
    endpoints: readonly Endpoint[],
    options: SidecarOptions = {},
  ) {
    this.outliers = options.outlierDetector;
    this.checker = options.healthChecker;
    this.checkerIdle = this.checker !== undefined;
    const stale = (): void => {
      this.viewStale = true;
    };
    this.outliers?.onChange(stale);
    this.checker?.onChange(stale);
    // Envoy's successful_active_health_check_uneject_host: a passing check returns an ejected host.
    if (this.outliers && this.checker) {
      const od = this.outliers;
      this.checker.onCheck((i, ok, healthy) => {
        if (ok && healthy) od.onActiveHealthCheckSuccess(i);
      });
    }
    this.setEndpoints(endpoints);
  }

  get endpoints(): readonly Endpoint[] {
    return this.endpointList;
  }

  /** Replaces the endpoint set (a discovery update); the balancer rebuilds once here. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.endpointList = endpoints;
    if (this.outliers || this.checker) {
      const ids = endpoints.map((e) => e.id);
      this.outliers?.setHosts(ids);
      this.checker?.setHosts(ids);
    }
    this.rebuildView();
  }

  /** Chooses an endpoint index for an attempt, or -1 when none is available. */
  pick(ctx: PickContext = NO_CONTEXT): number {
    if (this.viewStale) this.rebuildView();
    return this.balancer.pick(ctx);
  }

  attemptStarted(index: number): void {
    this.balancer.onStart(index);
    if (this.checkerIdle) {
      // Envoy's no_traffic_interval ends with the cluster's first upstream connection.
      this.checkerIdle = false;
      this.checker?.noteTraffic();
    }
  }

  /**
   * An attempt ended with `outcome`: the balancer and outlier detection hear of it.
   * `toOutliers` false: outlier detection already recorded this attempt's timeout at its
   * soft per-try timeout ({@link attemptSoftTimeout}), and the route timeout that now ends
   * it is not recorded again (Envoy's outlierDetectionTimeoutRecorded).
   */
  attemptEnded(index: number, outcome: Outcome, latencyMs: number, toOutliers = true): void {
    this.balancer.onEnd(index, outcome, latencyMs);
    if (toOutliers) this.outliers?.onResult(index, outcome);
  }

  /**
   * An attempt's per-try timeout fired under hedge_on_per_try_timeout: the attempt goes on
   * (the balancer still counts it in flight), but outlier detection records a timeout (504)
   * now, as Envoy's router onSoftPerTryTimeout does. What the attempt does next is reported
   * as usual (a response or a reset through attemptEnded; nothing when it is cancelled),
   * except a route timeout, which passes `toOutliers` false.
   */
  attemptSoftTimeout(index: number): void {
    this.outliers?.onResult(index, TIMED_OUT);
  }

  /**
   * The client cancelled an attempt (a hedge lost, or the request ended): the balancer
   * stops counting it in flight (tower's dropped handle still records its latency), and
   * outlier detection hears nothing, as in Envoy, where a cancelled upstream request is
   * no outlier event.
   */
  attemptCancelled(index: number, latencyMs: number): void {
    this.balancer.onEnd(index, CANCELLED, latencyMs);
  }

  /**
   * Envoy's health view: a host failing active health checks, or ejected by outlier
   * detection, is unhealthy to the balancer until it passes or returns. An ejected host
   * also carries `healthWithoutEjection` (its health were it not ejected), as Envoy keeps
   * FAILED_OUTLIER_CHECK apart from FAILED_ACTIVE_HC: slow start, measured from the last
   * health-check pass, does not restart when an ejection ends.
   */
  private rebuildView(): void {
    this.viewStale = false;
    const od = this.outliers;
    const hc = this.checker;
    let view = this.endpointList;
    if (od || hc) {
      const ejected = (i: number): boolean => od !== undefined && od.isEjected(i);
      const failing = (i: number): boolean => hc !== undefined && !hc.isHealthy(i);
      let any = false;
      for (let i = 0; i < view.length; i++) if (ejected(i) || failing(i)) any = true;
      if (any) {
        view = view.map((e, i): Endpoint => {
          if (ejected(i)) return { ...e, health: 'unhealthy', healthWithoutEjection: failing(i) ? 'unhealthy' : e.health };
          return failing(i) ? { ...e, health: 'unhealthy' } : e;
        });
      }
    }
    this.balancer.rebuild(view);
  }
}
