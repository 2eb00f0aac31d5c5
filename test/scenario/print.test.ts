import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveThrottlingConfigSchema } from '../../src/algorithms/failover/adaptive-throttling.js';
import { healthCheckConfigSchema } from '../../src/algorithms/failover/health-check.js';
import { outlierDetectionConfigSchema } from '../../src/algorithms/failover/outlier-detection.js';
import { RETRY_ON, retryPolicyConfigSchema } from '../../src/algorithms/failover/retry-policy.js';
import type { DistSpec, MixtureComponent } from '../../src/core/distribution-spec.js';
import { distMean } from '../../src/core/distributions.js';
import { formatDuration, formatPercent, formatRate } from '../../src/core/units.js';
import { ASSERT_METRICS, ASSERT_OPS, METRIC_NAMES } from '../../src/scenario/assert.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { printScenario } from '../../src/scenario/print.js';
import { LIMITS, scenarioWork } from '../../src/scenario/schema.js';
import type { ArrivalSpec, AssertMetric, AssertOp, AssertRule, CallSpec, FailoverSpec, HedgeSpec, InstanceOverride, MeshSpec, PolicySpec, RetriesSpec, Scenario, ServiceSpec, WorkloadSpec } from '../../src/scenario/types.js';
import { ISSUE_4, MINIMAL, QUICKSTART } from './_fixtures.js';

// ---------------------------------------------------------------------------------------
// Valid scenarios, with parameters across the whole range the distribution library allows.

const MAX_MS = 1e12;
const noNegZero = (x: number): number => x + 0;
/** Durations in [0, MAX_MS]: every magnitude, subnormals included. */
const ms = fc.double({ min: 0, max: MAX_MS, noNaN: true }).map(noNegZero);
const positiveMs = fc.double({ min: Number.MIN_VALUE, max: MAX_MS, noNaN: true });
const number = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map(noNegZero);

const leafDist: fc.Arbitrary<DistSpec> = fc.oneof(
  ms.map((value): DistSpec => ({ dist: 'constant', value })),
  fc.tuple(ms, ms).map(([a, b]): DistSpec => ({ dist: 'uniform', min: Math.min(a, b), max: Math.max(a, b) })),
  positiveMs.map((mean): DistSpec => ({ dist: 'exponential', mean })),
  fc.tuple(ms, ms).map(([mean, stddev]): DistSpec => ({ dist: 'normal', mean, stddev })),
  fc.tuple(number(1e-3, 1e6), number(1.001, 1e6)).map(([median, ratio]): DistSpec => ({ dist: 'lognormal', median, p99: median * ratio })),
  fc.tuple(number(-50, 27), number(0, 10)).map(([mu, sigma]): DistSpec => ({ dist: 'lognormal', mu, sigma })),
  fc.tuple(positiveMs, number(0.1, 100)).map(([scale, shape]): DistSpec => ({ dist: 'pareto', scale, shape })),
  fc.array(ms, { minLength: 1, maxLength: 4 }).map((values): DistSpec => ({ dist: 'empirical', values })),
);

const dist: fc.Arbitrary<DistSpec> = fc.oneof(
  { arbitrary: leafDist, weight: 4 },
  {
    arbitrary: fc
      .array(fc.tuple(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), leafDist), { minLength: 1, maxLength: 3 })
      .map((parts): DistSpec => ({ dist: 'mixture', of: parts.map(([weight, d]): MixtureComponent => ({ weight, ...d })) })),
    weight: 1,
  },
);

const name = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
/** A scenario name: it names the report directory, so no path separators, control characters, . or .. */
const scenarioName = name.filter((n) => !/[/\\]/.test(n) && ![...n].some((c) => c.charCodeAt(0) < 32) && n !== '.' && n !== '..');
const serviceName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,7}$/);
const slots = (min: number) => fc.oneof(fc.integer({ min, max: 1000 }), fc.constant(Infinity));
const rate = fc.double({ min: 1e-9, max: 1e9, noNaN: true });

/** A service without its calls and mesh (they depend on the other services and the top-level mesh). */
type BareService = Omit<ServiceSpec, 'calls' | 'mesh'>;

const service: fc.Arbitrary<BareService> = fc.integer({ min: 1, max: 20 }).chain((instances) =>
  fc.record({
    instances: fc.constant(instances),
    zones: fc.uniqueArray(name, { minLength: 1, maxLength: 3 }),
    concurrency: slots(1),
    queue: slots(0),
    serviceTime: dist,
    weight: fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
    priority: fc.nat(3),
    overrides: fc.array(
      fc.record(
        {
          instances: fc.uniqueArray(fc.nat(instances - 1), { minLength: 1, maxLength: 3 }),
          serviceTime: dist,
          concurrency: slots(1),
          queue: slots(0),
          weight: fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
          priority: fc.nat(3),
        },
        { requiredKeys: ['instances'] },
      ) as fc.Arbitrary<InstanceOverride>,
      { maxLength: 2 },
    ),
  }),
);

const arrival: fc.Arbitrary<ArrivalSpec> = fc.oneof(
  fc.record({
    process: fc.constantFrom('poisson' as const, 'constant' as const),
    rate,
    steps: fc.uniqueArray(ms, { maxLength: 3 }).chain((ats) => fc.tuple(...ats.sort((a, b) => a - b).map((at) => rate.map((r) => ({ at, rate: r }))))),
  }),
  fc.record({ process: fc.constant('closed' as const), clients: fc.integer({ min: 1, max: 1000 }), think: dist }),
);

// ---------------------------------------------------------------------------------------
// Call graphs and failover settings. Mechanism configs are drawn as written and resolved by
// their own schemas, so they carry every default the loader fills in.

const duration = positiveMs.map(formatDuration);
const percent = number(0, 1);
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const retries: fc.Arbitrary<RetriesSpec> = fc
  .record({
    max: fc.nat(5),
    on: fc.subarray([...RETRY_ON], { minLength: 1 }),
    codes: optional(fc.uniqueArray(fc.integer({ min: 100, max: 599 }), { minLength: 1, maxLength: 3 })),
    backoff: fc.oneof(
      fc.tuple(positiveMs, optional(ms)).map(([base, extra]) => ({ base: formatDuration(base), ...(extra === undefined ? {} : { max: formatDuration(base + extra) }) })),
      fc.record({ kind: fc.constant('grpc'), initial: duration, max: duration, multiplier: number(0.01, 10).filter((m) => m > 0) }),
    ),
    budget: optional(
      fc.oneof(
        fc.record({ kind: fc.constant('envoy-budget'), budgetPercent: percent, minRetryConcurrency: fc.nat(10) }),
        fc.record({ kind: fc.constant('envoy-max-retries'), maxRetries: fc.nat(10) }),
        fc.constantFrom({ kind: 'finagle' }, { kind: 'linkerd' }, { kind: 'grpc-throttling' }),
      ),
    ),
    hostReselection: optional(fc.record({ maxAttempts: fc.nat(5) })),
  })
  .map(({ codes, on, budget, hostReselection, ...rest }) =>
    retryPolicyConfigSchema.parse({
      ...rest,
      on: codes === undefined || on.includes('retriable-status-codes') ? on : [...on, 'retriable-status-codes'],
      ...(codes === undefined ? {} : { retriableStatusCodes: codes }),
      ...(budget === undefined ? {} : { budget }),
      ...(hostReselection === undefined ? {} : { hostReselection }),
    }),
  );

const hedge: fc.Arbitrary<HedgeSpec> = fc.record(
  { delay: positiveMs, maxAttempts: fc.integer({ min: 2, max: 5 }), onPerTryTimeout: fc.boolean() },
  { requiredKeys: ['maxAttempts', 'onPerTryTimeout'] },
);

/** Any subset of the failover keys (hedges made valid by {@link validHedge}). */
const failoverKeys: fc.Arbitrary<FailoverSpec> = fc.record(
  {
    timeout: positiveMs,
    perTryTimeout: positiveMs,
    retries,
    hedge,
    circuitBreaker: fc.record({ maxConnections: fc.nat(2000), maxPendingRequests: fc.nat(2000), maxRequests: fc.nat(2000), maxRetries: fc.nat(10) }),
    outlierDetection: fc
      .record({ consecutive5xx: fc.nat(10), interval: duration, maxEjectionPercent: percent, enforcingSuccessRate: percent }, { requiredKeys: [] })
      .map((input) => outlierDetectionConfigSchema.parse(input)),
    healthCheck: fc
      .record({ interval: duration, timeout: duration, unhealthyThreshold: fc.integer({ min: 1, max: 5 }), healthyThreshold: fc.integer({ min: 1, max: 5 }), intervalJitterPercent: percent })
      .map((input) => healthCheckConfigSchema.parse(input)),
    adaptiveThrottling: fc
      .record({ k: number(0.1, 10), window: positiveMs.map((w) => formatDuration(w + 1000)), buckets: fc.integer({ min: 1, max: 200 }) }, { requiredKeys: [] })
      .map((input) => adaptiveThrottlingConfigSchema.parse(input)),
  },
  { requiredKeys: [] },
);

/** `f` with its hedge valid: onPerTryTimeout only with a per-try timeout (its own or `inherited`), and a delay or onPerTryTimeout. */
function validHedge(f: FailoverSpec, inherited?: number): FailoverSpec {
  if (f.hedge === undefined) return f;
  const onPerTryTimeout = f.hedge.onPerTryTimeout && (f.perTryTimeout ?? inherited) !== undefined;
  const { hedge: h, ...rest } = f;
  if (h.delay === undefined && !onPerTryTimeout) return rest;
  return { ...rest, hedge: { ...h, onPerTryTimeout } };
}

const meshOf = (balancer: PolicySpec, failover: FailoverSpec): MeshSpec => ({ balancer, ...(Object.keys(failover).length === 0 ? {} : { failover }) });
const balancer = fc.constantFrom<PolicySpec>({ kind: 'round-robin' }, { kind: 'random' });

/** A service's own mesh block: maybe a balancer, maybe some failover keys. */
const ownMesh = fc.record({ balancer: optional(balancer), failover: optional(failoverKeys) });

const call = (names: readonly string[]): fc.Arbitrary<CallSpec> =>
  fc.record({ service: fc.constantFrom(...names), parallel: fc.integer({ min: 1, max: 20 }), probability: percent, onFailure: fc.constantFrom('fail' as const, 'tolerate' as const) });

/**
 * Services with calls and merged meshes: a service calls only services after it in key
 * order (no cycles), and its mesh is the top-level one with its own laid over it.
 */
const servicesWith = (bare: Record<string, BareService>, top: MeshSpec): fc.Arbitrary<Record<string, ServiceSpec>> => {
  const names = Object.keys(bare);
  const inherited = top.failover?.perTryTimeout;
  return fc.tuple(
    ...names.map((name, i) =>
      fc.tuple(names.length > i + 1 ? fc.array(call(names.slice(i + 1)), { maxLength: 3 }) : fc.constant([]), optional(ownMesh)).map(([calls, own]): [string, ServiceSpec] => {
        const failover = { ...(top.failover ?? {}), ...validHedge(own?.failover ?? {}, inherited) };
        return [name, { ...bare[name], calls, mesh: meshOf(own?.balancer ?? top.balancer, failover) }];
      }),
    ),
  ).map((entries) => Object.fromEntries(entries));
};

/**
 * An `assert:` rule as the loader resolves it, its text written from its value; rules for
 * one variant name `base`, the one variant of a printed scenario.
 */
const assertRule: fc.Arbitrary<AssertRule> = fc
  .tuple(fc.constantFrom(...METRIC_NAMES), fc.constantFrom(...ASSERT_OPS), fc.boolean())
  .chain(([metric, op, forOne]: [AssertMetric, AssertOp, boolean]) => {
    const kind = ASSERT_METRICS[metric].kind;
    const value: fc.Arbitrary<[number, string]> =
      kind === 'latency'
        ? ms.map((x) => [x, formatDuration(x)])
        : kind === 'fraction'
          ? percent.map((x) => [x, formatPercent(x)])
          : kind === 'rate'
            ? number(0, 1e9).map((x) => [x, formatRate(x)])
            : number(-1e9, 1e9).map((x) => [x, String(x)]);
    return value.map(([v, written]): AssertRule => ({ ...(forOne ? { variant: 'base' } : {}), metric, op, value: v, text: `${metric} ${op} ${written}` }));
  });

const scenario: fc.Arbitrary<Scenario> = fc
  .tuple(fc.dictionary(serviceName, service, { minKeys: 1, maxKeys: 3 }), balancer, optional(failoverKeys))
  .chain(([bare, topBalancer, topFailover]) => {
    const mesh = meshOf(topBalancer, validHedge(topFailover ?? {}));
    return servicesWith(bare, mesh).map((services) => ({ mesh, services }));
  })
  .chain(({ mesh, services }) => {
    const workload = fc.uniqueArray(
      fc.record({ name, target: fc.constantFrom(...Object.keys(services)), arrival, timeout: fc.option(positiveMs, { nil: undefined }) }).chain(({ target, timeout, ...w }) =>
        fc
          .tuple(fc.uniqueArray(fc.constantFrom(...services[target].zones), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 8 }), fc.option(fc.oneof(fc.record({ dist: fc.constant('zipf' as const), n: fc.integer({ min: 1, max: 100000 }), s: fc.double({ min: 0, max: 3, noNaN: true }) }), fc.record({ dist: fc.constant('uniform' as const), n: fc.integer({ min: 1, max: 100000 }) })), { nil: undefined }))
          .map(([zones, sidecars, key]): WorkloadSpec => ({ ...w, target, zone: zones[0], zones, sidecars, ...(key === undefined ? {} : { key }), ...(timeout === undefined ? {} : { timeout }) })),
      ),
      { minLength: 1, maxLength: 3, selector: (w) => w.name },
    );
    return fc.record(
      {
        name: scenarioName,
        description: fc.string({ maxLength: 40, unit: 'grapheme' }),
        seed: fc.nat({ max: 2 ** 40 }),
        seeds: fc.integer({ min: 1, max: 100 }),
        times: fc.tuple(ms, positiveMs).filter(([a, b]) => a < b),
        drain: ms,
        services: fc.constant(services),
        network: fc.record({ latency: dist, crossZone: dist }, { requiredKeys: ['latency'] }),
        workload,
        mesh: fc.constant(mesh),
        membership: fc.constant([]),
        faults: fc.constant([]),
        assert: fc.array(assertRule, { maxLength: 4 }),
      },
      { requiredKeys: ['name', 'seed', 'seeds', 'times', 'drain', 'services', 'network', 'workload', 'mesh', 'membership', 'faults'] },
    );
  })
  // structuredClone: fast-check builds records without a prototype; scenarios are plain objects.
  .map(({ times: [warmup, duration], ...rest }) => structuredClone({ ...rest, warmup, duration }))
  // A closed loop whose cycle takes no time is refused (the clock could never advance).
  .filter((s) => s.workload.every((w) => w.arrival.process !== 'closed' || distMean(w.arrival.think) + 2 * distMean(s.network.latency) > 0))
  // So is a run with more work than the limits allow (a rate of 1e9/s for 1e12 ms, say).
  .filter((s) => {
    const work = scenarioWork(s);
    return work.requests <= LIMITS.requests && work.totalChecks <= LIMITS.checks && work.totalFaultWindows <= LIMITS.faultWindows;
  });

// ---------------------------------------------------------------------------------------

describe('printScenario', () => {
  it('prints units, defaults and unbounded', () => {
    const text = printScenario(parseScenarioText(MINIMAL, 'm.yaml').base);
    expect(text).toBe(`schema: meshsim/scenario@1
name: minimal
seed: 0
seeds: 1
duration: 10s
warmup: 0s
drain: 10s
services:
  api:
    instances: 1
    zones: [ default ]
    concurrency: 1
    queue: unbounded
    serviceTime: { dist: constant, value: 1ms }
    weight: 1
    priority: 0
network:
  latency: { dist: constant, value: 0s }
workload:
  - name: w
    target: api
    zones: [ default ]
    sidecars: 1
    arrival: { process: constant, rate: 10/s }
mesh:
  balancer: { kind: random }
`);
  });

  it('prints assert rules one a line, as written (spacing normalised), and reads them back', () => {
    const text = `${MINIMAL}assert:\n  - p99<250ms\n  - "  successRate >=   99.9% "\n  - { variant: base, rule: errorRate != 0.5 }\n`;
    const base = parseScenarioText(text, 'm.yaml').base;
    const printed = printScenario(base);
    expect(printed).toMatch(/\nassert:\n {2}- p99 < 250ms\n {2}- successRate >= 99.9%\n {2}- \{ variant: base, rule: errorRate != 0.5 \}\n$/);
    expect(parseScenarioText(printed, 'm.yaml').base).toStrictEqual(base);
  });

  it('round-trips the example scenarios', () => {
    const gated = `${MINIMAL}assert:\n  - p99 < 250ms\n  - successRate >= 99.9%\n  - throughput > 900/s\n  - { variant: base, rule: attemptsPerRequest < 1.2 }\n`;
    for (const text of [QUICKSTART, MINIMAL, ISSUE_4, gated]) {
      const base = parseScenarioText(text, 'x.yaml').base;
      expect(parseScenarioText(printScenario(base), 'x.yaml').base).toStrictEqual(base);
    }
  });

  it('parse(print(s)) is s for generated valid scenarios', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const printed = printScenario(s);
        expect(parseScenarioText(printed, 'generated.yaml').base).toStrictEqual(s);
      }),
      { numRuns: 300 },
    );
  });
});
