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
  readonly metadata: Readonly<Record<string, string>>;
}

/** How one attempt ended, as the client saw it. */
export type OutcomeKind = 'success' | 'error' | 'timeout' | 'reset' | 'connect-failure' | 'rejected';

export interface Outcome {
  readonly kind: OutcomeKind;
  /** HTTP status when a response arrived (e.g. 200, 503); 0 when none did. */
  readonly status: number;
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
  create(config: Config, ports: Ports): Instance;
}

export type BalancerDefinition<Config> = PolicyDefinition<Config, Balancer>;
