/**
 * The resolved scenario (`meshsim/scenario@1`): what the loader produces after parsing,
 * schema validation, unit conversion and defaults. Durations are milliseconds, rates are
 * per second, `Infinity` stands for `unbounded`.
 */
import type { KeyDistribution } from '../core/discrete.js';
import type { DistSpec } from '../core/distribution-spec.js';
import type { OutlierDetectionConfig } from '../algorithms/failover/outlier-detection.js';
import type { HealthCheckConfig } from '../algorithms/failover/health-check.js';
import type { CircuitBreakerConfig } from '../algorithms/failover/circuit-breaker.js';
import type { RetryPolicyConfig } from '../algorithms/failover/retry-policy.js';
import type { AdaptiveThrottlingConfig } from '../algorithms/failover/adaptive-throttling.js';

export const SCENARIO_SCHEMA = 'meshsim/scenario@1';

export interface InstanceOverride {
  /** Instance indices (0-based, instances added by `membership` continue the numbering). */
  readonly instances: readonly number[];
  readonly serviceTime?: DistSpec;
  readonly concurrency?: number;
  readonly queue?: number;
  readonly weight?: number;
  readonly priority?: number;
  readonly zone?: string;
}

/** A cold instance: service times start `factor`× slower and recover linearly over `for` ms after it joins. */
export interface ColdStartSpec {
  readonly for: number;
  readonly factor: number;
}

/**
 * A downstream call a service makes while serving a request. A service's calls run in list
 * order, each once the one before has ended; an instance holds its worker slot meanwhile.
 */
export interface CallSpec {
  /** The called service (never the caller itself; calls form no cycle). */
  readonly service: string;
  /** Copies of the call sent at once (fan-out); the call ends when all of them have ended. Default 1. */
  readonly parallel: number;
  /** Chance in [0, 1] that a request makes this call (one draw per request for all its copies). Default 1. */
  readonly probability: number;
  /** A failed copy fails the request being served (`fail`, the default) or is ignored (`tolerate`). */
  readonly onFailure: 'fail' | 'tolerate';
}

export interface ServiceSpec {
  readonly instances: number;
  /** Zones instances are placed in, round-robin: instance i is in zones[i % zones.length]. */
  readonly zones: readonly string[];
  /** Parallel worker slots per instance; Infinity = infinite server. Default 1. */
  readonly concurrency: number;
  /** Bound of the FIFO wait queue; Infinity = unbounded (default). 0 = no queue. */
  readonly queue: number;
  readonly serviceTime: DistSpec;
  /** Endpoint weight balancers see (default 1). */
  readonly weight: number;
  /** Envoy priority level (default 0, the most preferred). */
  readonly priority: number;
  /**
   * Envoy's per-locality `load_balancing_weight`, by zone: read by the `localityWeighted`
   * balancer layer (endpoint metadata `localityWeight`); zones left out weigh 1.
   */
  readonly localityWeights?: Readonly<Record<string, number>>;
  /** Applies to instances that join after t = 0 (see `membership`). */
  readonly coldStart?: ColdStartSpec;
  readonly overrides: readonly InstanceOverride[];
  /** Downstream calls per request served, in order (default none). */
  readonly calls: readonly CallSpec[];
  /**
   * The sidecar config of this service's instances when they make their calls: the
   * scenario's top-level `mesh` with this service's own `mesh` laid over it (its balancer,
   * and each failover key it gives, replace the top-level ones). Always present.
   */
  readonly mesh: MeshSpec;
}

export interface NetworkSpec {
  /** One-way latency, applied once on the request hop and once on the response hop. */
  readonly latency: DistSpec;
  /** Extra one-way latency added on each hop when caller and instance zones differ. */
  readonly crossZone?: DistSpec;
}

export interface RateStep {
  readonly at: number;
  readonly rate: number;
}

export type ArrivalSpec =
  | { readonly process: 'poisson' | 'constant'; readonly rate: number; readonly steps: readonly RateStep[] }
  | { readonly process: 'closed'; readonly clients: number; readonly think: DistSpec };

/** Where request hash keys come from: key k in [0, n), Zipf(s) or uniform. */
export type KeySpec = KeyDistribution;

export interface WorkloadSpec {
  readonly name: string;
  readonly target: string;
  /** Zone of the first sidecar (= zones[0]). */
  readonly zone: string;
  /** Client sidecars of this group, each with its own balancer state (default 1). */
  readonly sidecars: number;
  /** Zones of the sidecars, round-robin: sidecar i is in zones[i % zones.length]. Default: the target's first zone. */
  readonly zones: readonly string[];
  /** Request hash keys, for hashing balancers; absent = requests carry no key. */
  readonly key?: KeySpec;
  readonly arrival: ArrivalSpec;
  /** Client-side request timeout in ms; absent = no timeout. */
  readonly timeout?: number;
}

/** A policy reference: `kind` names a registered algorithm, the rest are its options. */
export interface PolicySpec {
  readonly kind: string;
  readonly [option: string]: unknown;
}

/**
 * A retry policy (src/algorithms/failover/retry-policy.ts) as a scenario resolves it: its
 * per-try timeout lives in {@link FailoverSpec.perTryTimeout}, wherever it was written.
 */
export type RetriesSpec = Omit<RetryPolicyConfig, 'perTryTimeout'>;

/**
 * Hedging: more than one attempt of a request out at once, the first good answer wins and
 * the others are cancelled; hedges count against retry budgets like retries.
 */
export interface HedgeSpec {
  /** Send another attempt when none has answered after this long (ms), again every `delay` until `maxAttempts` are out (gRPC hedgingDelay). Absent = no timed hedges. */
  readonly delay?: number;
  /** Attempts out at once at most, the first included: 2 to 5 (gRPC's client cap). Default 2. */
  readonly maxAttempts: number;
  /** Envoy hedge_on_per_try_timeout: when an attempt's per-try timeout fires, keep it and send another. Default false; needs a perTryTimeout. */
  readonly onPerTryTimeout: boolean;
}

/** Failover mechanisms of a caller's sidecar. Absent keys: the mechanism is off. */
export interface FailoverSpec {
  /** Overall request timeout (Envoy's route timeout), ms, over all attempts, retries and backoffs. */
  readonly timeout?: number;
  /** Per-attempt timeout, ms (Envoy per_try_timeout); written here or as retries.perTryTimeout. */
  readonly perTryTimeout?: number;
  /** Retry policy; absent = no retries. */
  readonly retries?: RetriesSpec;
  /** Request hedging; absent = none. */
  readonly hedge?: HedgeSpec;
  /** The SRE book's client-side adaptive throttling (src/algorithms/failover/adaptive-throttling.ts). */
  readonly adaptiveThrottling?: AdaptiveThrottlingConfig;
  /** Envoy outlier detection, resolved (see src/algorithms/failover/outlier-detection.ts). */
  readonly outlierDetection?: OutlierDetectionConfig;
  /** Envoy active health checking; probes travel to the instances like requests do. */
  readonly healthCheck?: HealthCheckConfig;
  /** Envoy circuit breakers; meshsim enforces maxRequests (active requests per sidecar) so far. */
  readonly circuitBreaker?: CircuitBreakerConfig;
}

/** A sidecar's config: the scenario's `mesh` (workload clients) or a service's merged `mesh` (its outbound calls). */
export interface MeshSpec {
  readonly balancer: PolicySpec;
  readonly failover?: FailoverSpec;
}

/** Instances joining or leaving a service at a given time. */
export interface MembershipChange {
  readonly at: number;
  readonly service: string;
  /** Number of instances added (they take the next indices). */
  readonly add: number;
  /** Indices of instances removed (they finish what they hold, then are gone). */
  readonly remove: readonly number[];
}

export type FaultKind = 'crash' | 'hang' | 'slow' | 'error' | 'pause' | 'partition' | 'flap';

/**
 * What a fault hits. Instance faults name a `service` and optionally narrow it to
 * `instances` (indices), a `fraction` of its instances (chosen by the fault's seeded
 * stream among the members at each window's start) or a `zone`. Partitions name a path: `from` a workload `to` a service, or
 * `fromZone` → `toZone`.
 */
export interface FaultTarget {
  readonly service?: string;
  readonly instances?: readonly number[];
  readonly fraction?: number;
  readonly zone?: string;
  readonly from?: string;
  readonly to?: string;
  readonly fromZone?: string;
  readonly toZone?: string;
}

/**
 * When a fault is active: from `at` for `for` ms (Infinity = to the end); with `every`,
 * again every `every` ms; or stochastic, exponential time to failure (`mtbf`) and to
 * repair (`mttr`) from `at` on.
 */
export type FaultSchedule =
  | { readonly at: number; readonly for: number; readonly every?: number }
  | { readonly at: number; readonly mtbf: number; readonly mttr: number };

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly target: FaultTarget;
  readonly schedule: FaultSchedule;
  /** slow: service time multiplied by this factor. */
  readonly factor?: number;
  /** slow: extra service time drawn from this distribution (added). */
  readonly serviceTime?: DistSpec;
  /** error: fraction of responses that are errors (default 1). */
  readonly rate?: number;
  /** error: the status of those responses (default 503). */
  readonly status?: number;
  /** error: answer at once, without doing the work (default false). */
  readonly fast?: boolean;
  /** partition: `drop` (requests vanish; only timeouts end them) or `refuse` (connection refused at once). */
  readonly mode?: 'drop' | 'refuse';
}

/** The comparisons an `assert:` rule may make. */
export type AssertOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/**
 * The summary figures an `assert:` rule may test (see src/scenario/assert.ts for their
 * units): latencies, success and error rates, throughput, attempts per request, request
 * counts, and the failover counters a variant has when the mechanism is configured.
 */
export type AssertMetric =
  | 'p50'
  | 'p90'
  | 'p99'
  | 'p999'
  | 'max'
  | 'mean'
  | 'successRate'
  | 'errorRate'
  | 'throughput'
  | 'attemptsPerRequest'
  | 'requests'
  | 'failed'
  | 'rejected'
  | 'timedOut'
  | 'retries'
  | 'retryBudgetDenied'
  | 'hedges'
  | 'hedgesWon'
  | 'throttled'
  | 'ejections'
  | 'healthCheckFailures'
  | 'breakerOverflows';

/**
 * A CI gate (`assert:`): `<metric> <op> <value>` over each variant's report summary, or over
 * one variant's. `meshsim run` exits 1 when a rule fails.
 */
export interface AssertRule {
  /** The variant the rule is for; absent = every variant that runs. */
  readonly variant?: string;
  readonly metric: AssertMetric;
  readonly op: AssertOp;
  /**
   * The threshold in the metric's unit: ms for latencies, a fraction in [0, 1] for
   * successRate and errorRate, per second for throughput, a plain number otherwise.
   */
  readonly value: number;
  /** The rule as written, spacing normalised: `p99 < 250ms`. */
  readonly text: string;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  /** Base seed; replication k uses seed + k. */
  readonly seed: number;
  /** Number of replications. */
  readonly seeds: number;
  /** Simulated time during which load is offered, ms. */
  readonly duration: number;
  /** Requests issued before this time (ms) are left out of the statistics. */
  readonly warmup: number;
  /** After `duration`, how long (ms) in-flight requests may still finish; default: the longest workload timeout, or 10 s. */
  readonly drain: number;
  readonly services: Readonly<Record<string, ServiceSpec>>;
  readonly network: NetworkSpec;
  readonly workload: readonly WorkloadSpec[];
  readonly mesh: MeshSpec;
  /** Membership changes in time order (default none). */
  readonly membership: readonly MembershipChange[];
  /** Injected faults (default none). */
  readonly faults: readonly FaultSpec[];
  /**
   * CI gates, in file order; present only when the file has `assert:`. A file-level
   * section: the base scenario carries it, variants' scenarios do not (rules name variants
   * instead, and a variant cannot override `assert`).
   */
  readonly assert?: readonly AssertRule[];
  /**
   * The parameter grid (src/scenario/sweep.ts), values as written, keys in file order;
   * present only when the file (or `--sweep`) has one. Like `assert`, a file-level section:
   * the base scenario carries it, the variants it expands into do not.
   */
  readonly sweep?: Readonly<Record<string, readonly unknown[]>>;
}

/** One variant of a scenario: its name and the fully resolved scenario it runs. */
export interface Variant {
  readonly name: string;
  readonly scenario: Scenario;
}

/** A loaded scenario file. */
export interface LoadedScenario {
  /** Path as given by the user. */
  readonly file: string;
  /** sha256 (hex) of the file's bytes. */
  readonly sha256: string;
  /** The base scenario (variants not applied). */
  readonly base: Scenario;
  /** Variants in file order; a file without `variants` has one named `base`. */
  readonly variants: readonly Variant[];
  /** The file's text, when it cannot be read again (standard input, `-`). */
  readonly source?: string;
}
