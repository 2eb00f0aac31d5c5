/**
 * Contracts every algorithm is written against: the endpoint set as data, request
 * outcomes, and the definition a policy registers under its name.
 *
 * Follows Envoy's split of interface from implementation (`LoadBalancer::chooseHost`)
 * and tower's discovery-as-changes: a balancer rebuilds on membership change, not per pick.
 */
import type { z } from 'zod';
import type { Ports } from '../core/ports.js';

export type Health = 'healthy' | 'degraded' | 'unhealthy';

/** One upstream endpoint, as data. */
export interface Endpoint {
  /** Stable identity across membership changes (e.g. "api-3"). */
  readonly id: string;
  /** Network address ("10.0.0.3:8080" in the simulator, a real host:port live). */
  readonly address: string;
  readonly zone: string;
  /** Relative weight, > 0; default 1. */
  readonly weight: number;
  readonly health: Health;
  /**
   * Set on an endpoint that outlier detection has ejected (its `health` is then
   * 'unhealthy'): the health it has apart from the ejection, so 'healthy' (or 'degraded')
   * when the ejection alone keeps it out, 'unhealthy' when it also fails its active health
   * checks. Absent on endpoints not ejected, and from producers that do not tell. Envoy
   * keeps the two apart (FAILED_OUTLIER_CHECK, FAILED_ACTIVE_HC): its slow start, for one,
   * restarts when a host passes a health check, not when an ejection ends. meshsim's
   * sidecar sets it, in the simulator and the live proxy; a balancer may ignore it.
   */
  readonly healthWithoutEjection?: Health;
  /** Envoy priority level: 0 is the most preferred; higher levels take traffic on failover. */
  readonly priority: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * How one attempt ended, as the client saw it. 'cancelled': the client itself gave up on
 * the attempt (another attempt of the request won, or the request ended); no result came,
 * so only the balancer's in-flight accounting hears of it, never outlier detection.
 */
export type OutcomeKind = 'success' | 'error' | 'timeout' | 'reset' | 'connect-failure' | 'rejected' | 'cancelled';

export interface Outcome {
  readonly kind: OutcomeKind;
  /** HTTP status when a response arrived (e.g. 200, 503); 0 when none did. */
  readonly status: number;
  /**
   * Utilisation the server reported with its response (an ORCA-style load report,
   * busy slots / slots, ≥ 0), when it reports one.
   */
  readonly utilization?: number;
}

/** What a request tells the balancer; every field optional (a pick works without any). */
export interface PickContext {
  /** A hash key (e.g. a user id), for hashing policies. */
  readonly hashKey?: number;
  /** 0 for the first attempt, 1.. for retries. */
  readonly attempt?: number;
}

/**
 * A load balancer over an endpoint array. Indices refer to the array last passed to
 * `rebuild`; `pick` returns -1 when nothing can be picked.
 */
export interface Balancer {
  rebuild(endpoints: readonly Endpoint[]): void;
  pick(ctx: PickContext): number;
  /** An attempt was sent to endpoint `index`. */
  onStart(index: number): void;
  /** An attempt to endpoint `index` ended after `latencyMs`. */
  onEnd(index: number, outcome: Outcome, latencyMs: number): void;
}

/**
 * Where a balancer instance runs: which client (sidecar) of how many, in which zone, and
 * how the calling service's own instances spread over zones (Envoy's "local cluster",
 * used by zone-aware routing; Finagle's aperture uses the client index and count).
 */
export interface BalancerEnvironment {
  readonly localZone: string;
  /** 0-based index of this client among `clientCount` peers of the same caller. */
  readonly clientIndex: number;
  readonly clientCount: number;
  /** Number of calling-service instances (sidecars) per zone. */
  readonly localZoneSizes: ReadonlyMap<string, number>;
  /**
   * How many priority levels the endpoints this client will ever see span (1: all at one
   * level), when the caller knows it; absent means unknown. A policy outside Envoy's kinds
   * is wrapped in Envoy's priority layer unless this is 1 and no layer option is set,
   * which spares it a forwarding layer on every pick (p2c's pick cycle at 10,000
   * endpoints measured 23 ns bare against 35 ns wrapped).
   */
  readonly priorityLevels?: number;
}

/** The environment of a lone client in one zone (tests, and the live proxy by default). */
export function soloEnvironment(zone = 'default'): BalancerEnvironment {
  return { localZone: zone, clientIndex: 0, clientCount: 1, localZoneSizes: new Map([[zone, 1]]) };
}

export type AlgorithmFamily = 'balancing' | 'discovery' | 'failover' | 'monitoring';

/** A policy as registered by name: its documentation, config schema and factory. */
export interface PolicyDefinition<Config, Instance> {
  readonly kind: string;
  readonly family: AlgorithmFamily;
  /** One line: what it does. */
  readonly summary: string;
  /** Which production system's semantics it follows, and where meshsim differs. */
  readonly follows: string;
  /** Validates and resolves the options written next to `kind` (kind itself excluded). */
  readonly config: z.ZodType<Config>;
  create(config: Config, ports: Ports, env: BalancerEnvironment): Instance;
}

export type BalancerDefinition<Config> = PolicyDefinition<Config, Balancer>;
