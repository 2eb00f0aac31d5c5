/**
 * A sidecar's policy objects, built from a scenario's `mesh` (MeshSpec): the balancer from
 * the registry, Envoy's outlier detector and active health checker around the Sidecar, the
 * circuit breaker, the cross-request retry limiter, the SRE book's adaptive throttle, and
 * the router settings (route timeout, per-try timeout, retry policy, backoff, hedging) in
 * the form Envoy's router applies them. The one place both worlds construct them: the
 * simulator (src/sim/world.ts) and the live proxy (src/live/proxy) call these functions,
 * so the same MeshSpec yields the same objects with the same defaults in both.
 */
import { createBalancer } from '../algorithms/registry.js';
import type { BalancerEnvironment, Endpoint } from '../algorithms/types.js';
import { OutlierDetector, type EjectionListener } from '../algorithms/failover/outlier-detection.js';
import { HealthChecker, type HealthListener, type HealthProbe } from '../algorithms/failover/health-check.js';
import { CircuitBreaker } from '../algorithms/failover/circuit-breaker.js';
import { AdaptiveThrottle } from '../algorithms/failover/adaptive-throttling.js';
import { envoyBackoffBounds, envoyBackoffInterval, grpcBackoffDelay } from '../algorithms/failover/backoff.js';
import { RetryPolicy } from '../algorithms/failover/retry-policy.js';
import { createRetryLimiter } from '../algorithms/failover/retry-budget.js';
import { EnvoyRetryBudget } from '../algorithms/failover/retry-budget-envoy.js';
import { UNLIMITED_RETRIES, type RetryLimiter } from '../algorithms/failover/retry-limiter.js';
import type { Clock, Rng, Timers } from '../core/ports.js';
import type { OutlierDetectionConfig } from '../algorithms/failover/outlier-detection.js';
import type { HealthCheckConfig } from '../algorithms/failover/health-check.js';
import type { CircuitBreakerConfig } from '../algorithms/failover/circuit-breaker.js';
import type { AdaptiveThrottlingConfig } from '../algorithms/failover/adaptive-throttling.js';
import type { RetryPolicyConfig } from '../algorithms/failover/retry-policy.js';
import { Sidecar } from './sidecar.js';

/**
 * The failover block of a mesh as the scenario resolves it (src/scenario/types.ts
 * FailoverSpec is this shape; restated here because the mesh layer sits below the scenario).
 */
export interface FailoverPolicySpec {
  readonly timeout?: number;
  readonly perTryTimeout?: number;
  readonly retries?: Omit<RetryPolicyConfig, 'perTryTimeout'>;
  readonly hedge?: { readonly delay?: number; readonly maxAttempts: number; readonly onPerTryTimeout: boolean };
  readonly adaptiveThrottling?: AdaptiveThrottlingConfig;
  readonly outlierDetection?: OutlierDetectionConfig;
  readonly healthCheck?: HealthCheckConfig;
  readonly circuitBreaker?: CircuitBreakerConfig;
}

/** A sidecar's config (the scenario's MeshSpec): a balancer `{ kind, ...options }` and its failover. */
export interface MeshPolicySpec {
  readonly balancer: { readonly kind: string; readonly [option: string]: unknown };
  readonly failover?: FailoverPolicySpec;
}

/** A sidecar's failover settings, resolved for the request path (Envoy's route and retry policy). */
export interface RouterSettings {
  /** Overall deadline from issue, ms (Infinity: none), and whether it is the mesh's route timeout. */
  readonly deadline: number;
  readonly deadlineIsMesh: boolean;
  readonly perTry: number;
  readonly retry: RetryPolicy | undefined;
  /** Retries plus hedges a call may make. */
  readonly maxRetries: number;
  readonly hedgeDelay: number;
  readonly hedgeMax: number;
  readonly hedgeOnPerTry: boolean;
  readonly reselect: number;
  /** Remember the instances each call tried (host reselection, hedging). */
  readonly trackTried: boolean;
  /** Backoff before the n-th retry (1-based), ms, drawing from `rng`. */
  readonly backoff: ((n: number, rng: Rng) => number) | undefined;
  /** Any retries, hedges or per-try timeouts at all (else the plain path). */
  readonly any: boolean;
}

/** A sidecar's router settings; `clientTimeout` is the caller's own deadline (a workload's timeout), if any. */
export function resolveRouter(f: FailoverPolicySpec | undefined, clientTimeout: number | undefined): RouterSettings {
  const mesh = f?.timeout ?? Infinity;
  const client = clientTimeout ?? Infinity;
  const retries = f?.retries;
  const hedge = f?.hedge;
  const retry = retries ? new RetryPolicy({ ...retries, perTryTimeout: undefined }) : undefined;
  const hedgeMax = hedge ? hedge.maxAttempts : 1;
  // Hedges count against retries.max when there is a retry policy (Envoy); else only maxAttempts bounds them.
  const maxRetries = retry ? retry.max : hedge ? hedgeMax - 1 : 0;
  let backoff: RouterSettings['backoff'];
  const b = retries?.backoff;
  if (b && b.kind === 'grpc') {
    backoff = (n, rng) => grpcBackoffDelay(n, b.initial, b.multiplier, b.max, rng.next());
  } else if (retry || hedge?.onPerTryTimeout) {
    const bounds = envoyBackoffBounds(b?.base ?? 25, b?.max);
    backoff = (n, rng) => Math.floor(rng.next() * envoyBackoffInterval(n, bounds.base, bounds.max));
  }
  const perTry = f?.perTryTimeout ?? Infinity;
  return {
    deadline: Math.min(mesh, client),
    deadlineIsMesh: mesh < client,
    perTry,
    retry,
    maxRetries,
    hedgeDelay: hedge?.delay ?? Infinity,
    hedgeMax,
    hedgeOnPerTry: hedge?.onPerTryTimeout === true,
    reselect: retries?.hostReselection ? retries.hostReselection.maxAttempts : 0,
    trackTried: retries?.hostReselection !== undefined || hedge !== undefined,
    backoff,
    any: retry !== undefined || hedge !== undefined || perTry !== Infinity,
  };
}

/** The random streams a sidecar's policies draw from, one per purpose. */
export type PolicyStream = 'balancer' | 'outliers' | 'healthcheck' | 'throttle' | 'backoff';

/** What the policies of one sidecar are built with. */
export interface PolicyContext {
  readonly clock: Clock;
  readonly timers: Timers;
  /** A fresh random stream for `purpose` (each purpose is asked at most once per sidecar). */
  stream(purpose: PolicyStream): Rng;
  /** Where the sidecar runs (zone-aware routing, aperture). */
  readonly env: BalancerEnvironment;
  /** Sends one health-check probe (the world's transport); needed when the mesh checks health. */
  readonly probe?: HealthProbe;
  /** Listens to ejections, registered before the sidecar's own listener. */
  readonly onEjection?: EjectionListener;
  /** Listens to health flips, registered before the sidecar's own listener. */
  readonly onHealth?: HealthListener;
}

/** One sidecar's policy objects; a mechanism the mesh does not configure is absent. */
export interface SidecarPolicies {
  readonly sidecar: Sidecar;
  readonly router: RouterSettings;
  readonly outlierDetector: OutlierDetector | undefined;
  readonly healthChecker: HealthChecker | undefined;
  readonly breaker: CircuitBreaker | undefined;
  /** The cross-request limit on retries and hedges; present whenever a call may retry or hedge. */
  readonly limiter: RetryLimiter | undefined;
  readonly throttle: AdaptiveThrottle | undefined;
  /** The backoff jitter stream, when retries back off. */
  readonly jitter: Rng | undefined;
}

/**
 * Builds one sidecar's policies for `mesh`, over `endpoints`. `router` is the sidecar's
 * resolved settings (resolveRouter; shared by the sidecars of one caller). The streams are
 * asked in a fixed order (balancer, outliers, healthcheck, throttle, backoff), each only
 * when its mechanism is configured.
 */
export function createSidecarPolicies(name: string, mesh: MeshPolicySpec, router: RouterSettings, endpoints: readonly Endpoint[], ctx: PolicyContext): SidecarPolicies {
  const f = mesh.failover;
  const balancer = createBalancer(mesh.balancer, { clock: ctx.clock, timers: ctx.timers, rng: ctx.stream('balancer') }, ctx.env);
  const outlierDetector = f?.outlierDetection ? new OutlierDetector(f.outlierDetection, { clock: ctx.clock, timers: ctx.timers, rng: ctx.stream('outliers') }) : undefined;
  if (outlierDetector && ctx.onEjection) outlierDetector.onChange(ctx.onEjection);
  let healthChecker: HealthChecker | undefined;
  if (f?.healthCheck) {
    const probe = ctx.probe;
    if (probe === undefined) throw new Error(`sidecar ${name}: the mesh checks health, but no probe transport was given`);
    healthChecker = new HealthChecker(f.healthCheck, { clock: ctx.clock, timers: ctx.timers, rng: ctx.stream('healthcheck') }, probe);
    if (ctx.onHealth) healthChecker.onChange(ctx.onHealth);
  }
  const sidecar = new Sidecar(name, balancer, endpoints, {
    ...(outlierDetector ? { outlierDetector } : {}),
    ...(healthChecker ? { healthChecker } : {}),
  });
  const budget = f?.retries?.budget;
  const limiter =
    router.maxRetries > 0
      ? budget
        ? createRetryLimiter(budget, ctx.clock)
        : f?.circuitBreaker
          ? new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: f.circuitBreaker.maxRetries })
          : UNLIMITED_RETRIES
      : undefined;
  const throttle = f?.adaptiveThrottling ? new AdaptiveThrottle(f.adaptiveThrottling, ctx.clock, ctx.stream('throttle')) : undefined;
  const jitter = router.backoff ? ctx.stream('backoff') : undefined;
  const breaker = f?.circuitBreaker ? new CircuitBreaker(f.circuitBreaker) : undefined;
  return { sidecar, router, outlierDetector, healthChecker, breaker, limiter, throttle, jitter };
}
