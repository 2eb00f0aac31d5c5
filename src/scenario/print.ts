/**
 * Scenario printing: a resolved {@link Scenario} back to a `meshsim/scenario@1` YAML file,
 * with units and every default spelt out, such that loading the text gives the same
 * scenario bit for bit (durations and rates are printed exactly, see core/units).
 */
import { isDeepStrictEqual } from 'node:util';
import { Document, isPair, isScalar, visit } from 'yaml';
import { balancers, LAYER_KEYS, layerConfigSchema } from '../algorithms/registry.js';
import { outlierDetectionConfigSchema } from '../algorithms/failover/outlier-detection.js';
import { healthCheckConfigSchema } from '../algorithms/failover/health-check.js';
import { retryPolicyConfigSchema } from '../algorithms/failover/retry-policy.js';
import { adaptiveThrottlingConfigSchema } from '../algorithms/failover/adaptive-throttling.js';
import type { DistSpec, MixtureComponent } from '../core/distribution-spec.js';
import { formatDuration, formatPercent, formatRate } from '../core/units.js';
import {
  SCENARIO_SCHEMA,
  type ArrivalSpec,
  type AssertRule,
  type CallSpec,
  type FailoverSpec,
  type FaultSpec,
  type InstanceOverride,
  type MeshSpec,
  type PolicySpec,
  type Scenario,
  type ServiceSpec,
  type WorkloadSpec,
} from './types.js';

type Plain = string | number | boolean | null | readonly Plain[] | { readonly [key: string]: Plain };

const unbounded = (n: number): number | string => (n === Infinity ? 'unbounded' : n);

function dist(spec: DistSpec): Record<string, Plain> {
  switch (spec.dist) {
    case 'constant':
      return { dist: spec.dist, value: formatDuration(spec.value) };
    case 'uniform':
      return { dist: spec.dist, min: formatDuration(spec.min), max: formatDuration(spec.max) };
    case 'exponential':
      return { dist: spec.dist, mean: formatDuration(spec.mean) };
    case 'normal':
      return { dist: spec.dist, mean: formatDuration(spec.mean), stddev: formatDuration(spec.stddev) };
    case 'lognormal':
      return 'median' in spec
        ? { dist: spec.dist, median: formatDuration(spec.median), p99: formatDuration(spec.p99) }
        : { dist: spec.dist, mu: spec.mu, sigma: spec.sigma };
    case 'pareto':
      return { dist: spec.dist, scale: formatDuration(spec.scale), shape: spec.shape };
    case 'empirical':
      return { dist: spec.dist, values: spec.values.map(formatDuration) };
    case 'mixture':
      return { dist: spec.dist, of: spec.of.map((c: MixtureComponent) => ({ weight: c.weight, ...dist(c) })) };
  }
}

function override(o: InstanceOverride): Record<string, Plain> {
  return {
    instances: o.instances,
    ...(o.serviceTime === undefined ? {} : { serviceTime: dist(o.serviceTime) }),
    ...(o.concurrency === undefined ? {} : { concurrency: unbounded(o.concurrency) }),
    ...(o.queue === undefined ? {} : { queue: unbounded(o.queue) }),
    ...(o.weight === undefined ? {} : { weight: o.weight }),
    ...(o.priority === undefined ? {} : { priority: o.priority }),
    ...(o.zone === undefined ? {} : { zone: o.zone }),
  };
}

function call(c: CallSpec): Record<string, Plain> {
  return { service: c.service, parallel: c.parallel, probability: c.probability, onFailure: c.onFailure };
}

function service(s: ServiceSpec, top: MeshSpec): Record<string, Plain> {
  const own = serviceMesh(s.mesh, top);
  return {
    instances: s.instances,
    zones: s.zones,
    concurrency: unbounded(s.concurrency),
    queue: unbounded(s.queue),
    serviceTime: dist(s.serviceTime),
    weight: s.weight,
    priority: s.priority,
    ...(s.localityWeights === undefined ? {} : { localityWeights: { ...s.localityWeights } }),
    ...(s.coldStart === undefined ? {} : { coldStart: { for: formatDuration(s.coldStart.for), factor: s.coldStart.factor } }),
    ...(s.overrides.length === 0 ? {} : { overrides: s.overrides.map(override) }),
    ...(s.calls.length === 0 ? {} : { calls: s.calls.map(call) }),
    ...(own === undefined ? {} : { mesh: own }),
  };
}

function arrival(a: ArrivalSpec): Record<string, Plain> {
  if (a.process === 'closed') return { process: a.process, clients: a.clients, think: dist(a.think) };
  return {
    process: a.process,
    rate: formatRate(a.rate),
    ...(a.steps.length === 0 ? {} : { steps: a.steps.map((s) => ({ at: formatDuration(s.at), rate: formatRate(s.rate) })) }),
  };
}

function workload(w: WorkloadSpec): Record<string, Plain> {
  return {
    name: w.name,
    target: w.target,
    zones: w.zones,
    sidecars: w.sidecars,
    ...(w.key === undefined ? {} : { key: w.key.dist === 'zipf' ? { dist: w.key.dist, n: w.key.n, s: w.key.s } : { dist: w.key.dist, n: w.key.n } }),
    arrival: arrival(w.arrival),
    ...(w.timeout === undefined ? {} : { timeout: formatDuration(w.timeout) }),
  };
}

/** A policy's options as written: encoded back through its own config schema (so durations get units). */
function policy(spec: PolicySpec): Record<string, unknown> {
  const { kind, ...options } = spec;
  const def = balancers.get(kind);
  const layers: Record<string, unknown> = {};
  const inner: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) ((LAYER_KEYS as readonly string[]).includes(k) ? layers : inner)[k] = v;
  const encode = (schema: { encode(v: never): unknown } | undefined, value: Record<string, unknown>): Record<string, unknown> => {
    if (!schema || Object.keys(value).length === 0) return value;
    try {
      const written = schema.encode(value as never);
      return typeof written === 'object' && written !== null ? (written as Record<string, unknown>) : value;
    } catch {
      // A config schema that cannot encode (a one-way transform) gets its options as they are.
      return value;
    }
  };
  // Layer options are encoded with their defaults filled in, then only those given are kept.
  const encodedLayers = Object.keys(layers).length === 0 ? {} : encode(layerConfigSchema, { ...(layerConfigSchema.parse({}) as Record<string, unknown>), ...layers });
  const givenLayers = Object.fromEntries(Object.keys(layers).map((k) => [k, encodedLayers[k]]));
  return { kind, ...encode(def?.config, inner), ...givenLayers };
}

const encoded = (schema: { encode(value: never): unknown }, value: unknown): Record<string, Plain> => schema.encode(value as never) as Record<string, Plain>;

/** A failover block with every key of `f` (all, or those in `only`). */
function failover(f: FailoverSpec, only?: ReadonlySet<string>): Record<string, Plain> {
  const has = (key: keyof FailoverSpec): boolean => f[key] !== undefined && (only === undefined || only.has(key));
  const h = f.hedge;
  return {
    ...(has('timeout') ? { timeout: formatDuration(f.timeout as number) } : {}),
    ...(has('perTryTimeout') ? { perTryTimeout: formatDuration(f.perTryTimeout as number) } : {}),
    ...(has('retries') ? { retries: encoded(retryPolicyConfigSchema, f.retries) } : {}),
    ...(has('hedge') && h ? { hedge: { ...(h.delay === undefined ? {} : { delay: formatDuration(h.delay) }), maxAttempts: h.maxAttempts, onPerTryTimeout: h.onPerTryTimeout } } : {}),
    ...(has('circuitBreaker') ? { circuitBreaker: { ...f.circuitBreaker } as Record<string, Plain> } : {}),
    ...(has('outlierDetection') ? { outlierDetection: encoded(outlierDetectionConfigSchema, f.outlierDetection) } : {}),
    ...(has('healthCheck') ? { healthCheck: encoded(healthCheckConfigSchema, f.healthCheck) } : {}),
    ...(has('adaptiveThrottling') ? { adaptiveThrottling: encoded(adaptiveThrottlingConfigSchema, f.adaptiveThrottling) } : {}),
  };
}

function mesh(m: MeshSpec): Record<string, Plain> {
  return { balancer: policy(m.balancer) as Record<string, Plain>, ...(m.failover === undefined ? {} : { failover: failover(m.failover) }) };
}

/**
 * A service's own `mesh` as written: what its merged mesh has that the top-level one does
 * not (a merge only ever replaces keys, so loading it lays the same keys over the same
 * top-level mesh). Undefined when there is nothing of its own.
 */
function serviceMesh(m: MeshSpec, top: MeshSpec): Record<string, Plain> | undefined {
  const mine = m.failover ?? {};
  const theirs: FailoverSpec = top.failover ?? {};
  const differ = new Set((Object.keys(mine) as (keyof FailoverSpec)[]).filter((key) => !isDeepStrictEqual(mine[key], theirs[key])));
  const sameBalancer = isDeepStrictEqual(m.balancer, top.balancer);
  if (differ.size === 0 && sameBalancer) return undefined;
  return {
    ...(sameBalancer ? {} : { balancer: policy(m.balancer) as Record<string, Plain> }),
    ...(differ.size === 0 ? {} : { failover: failover(mine, differ) }),
  };
}

function fault(f: FaultSpec): Record<string, Plain> {
  const sch = f.schedule;
  const schedule: Record<string, Plain> =
    'mtbf' in sch
      ? { at: formatDuration(sch.at), mtbf: formatDuration(sch.mtbf), mttr: formatDuration(sch.mttr) }
      : { at: formatDuration(sch.at), ...(sch.for === Infinity ? {} : { for: formatDuration(sch.for) }), ...(sch.every === undefined ? {} : { every: formatDuration(sch.every) }) };
  return {
    kind: f.kind,
    target: { ...f.target, ...(f.target.fraction === undefined ? {} : { fraction: formatPercent(f.target.fraction) }) } as Record<string, Plain>,
    ...schedule,
    ...(f.factor === undefined ? {} : { factor: f.factor }),
    ...(f.serviceTime === undefined ? {} : { serviceTime: dist(f.serviceTime) }),
    ...(f.rate === undefined ? {} : { rate: formatPercent(f.rate) }),
    ...(f.status === undefined ? {} : { status: f.status }),
    ...(f.fast === undefined ? {} : { fast: f.fast }),
    ...(f.mode === undefined ? {} : { mode: f.mode }),
  };
}

/** An `assert:` item: the rule's text, or `{ variant, rule }` for one variant. */
function assertRule(r: AssertRule): Plain {
  return r.variant === undefined ? r.text : { variant: r.variant, rule: r.text };
}

/**
 * YAML for `s` that {@link parseScenarioText} reads back as exactly `s`, its `sweep` included. (Variants are not
 * printed, so `assert` rules naming a variant other than `base` read back only once the
 * variants they name are added to the text.)
 */
export function printScenario(s: Scenario): string {
  const body = {
    schema: SCENARIO_SCHEMA,
    name: s.name,
    ...(s.description === undefined ? {} : { description: s.description }),
    seed: s.seed,
    seeds: s.seeds,
    duration: formatDuration(s.duration),
    warmup: formatDuration(s.warmup),
    drain: formatDuration(s.drain),
    services: Object.fromEntries(Object.entries(s.services).map(([name, svc]) => [name, service(svc, s.mesh)])),
    network: { latency: dist(s.network.latency), ...(s.network.crossZone === undefined ? {} : { crossZone: dist(s.network.crossZone) }) },
    workload: s.workload.map(workload),
    mesh: mesh(s.mesh),
    ...(s.membership.length === 0
      ? {}
      : {
          membership: s.membership.map((m) => ({
            at: formatDuration(m.at),
            service: m.service,
            ...(m.add === 0 ? {} : { add: m.add }),
            ...(m.remove.length === 0 ? {} : { remove: m.remove }),
          })),
        }),
    ...(s.faults.length === 0 ? {} : { faults: s.faults.map(fault) }),
    ...(s.assert === undefined ? {} : { assert: s.assert.map(assertRule) }),
    // As written: a sweep's values are overrides of the document, read again the same way.
    ...(s.sweep === undefined ? {} : { sweep: s.sweep as Record<string, Plain> }),
  };
  const doc = new Document(body);
  // Small leaves on one line: distributions, arrival processes, steps and lists of scalars.
  visit(doc, {
    Map(_, node) {
      if (node.items.some((p) => isScalar(p.key) && ['dist', 'process', 'at', 'kind', 'for', 'service', 'rule'].includes(String(p.key.value)))) node.flow = true;
    },
    Seq(_, node, path) {
      // Rules read best one a line.
      const parent = path[path.length - 1];
      if (isPair(parent) && isScalar(parent.key) && parent.key.value === 'assert') return;
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}
