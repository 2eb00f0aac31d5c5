/**
 * The scenario schema (`meshsim/scenario@1`): zod schemas for the document people write,
 * then cross-field checks and defaults that turn it into the resolved {@link Scenario}.
 * Strict throughout, in the manner of JSON Schema's `additionalProperties: false`: an
 * unknown key is an error with a "did you mean" hint, never silently ignored.
 *
 * Problems come back as {@link FieldIssue}s located by path only; the loader maps paths to
 * lines and columns.
 */
import { z } from 'zod';
import { balancerKinds, balancers, LAYER_KEYS, layerConfigSchema } from '../algorithms/registry.js';
import { outlierDetectionConfigSchema } from '../algorithms/failover/outlier-detection.js';
import { healthCheckConfigSchema } from '../algorithms/failover/health-check.js';
import { circuitBreakerConfigSchema } from '../algorithms/failover/circuit-breaker.js';
import { retryPolicyConfigSchema } from '../algorithms/failover/retry-policy.js';
import { retryBudgetConfigSchema, type RetryBudgetConfig } from '../algorithms/failover/retry-budget.js';
import { envoyRetryBudgetConfigSchema } from '../algorithms/failover/retry-budget-envoy.js';
import { GRPC_MAX_ATTEMPTS_LIMIT } from '../algorithms/failover/hedging.js';
import { adaptiveThrottlingConfigSchema } from '../algorithms/failover/adaptive-throttling.js';
import type { DistSpec, MixtureComponent } from '../core/distribution-spec.js';
import { distMean, validateDist } from '../core/distributions.js';
import { DURATION_EXPECTED, formatDuration, formatRate, zDuration, zPercent, zRate } from '../core/units.js';
import { describeValue, didYouMean, suggest } from './errors.js';
import { parseRule, RULE_EXPECTED } from './assert.js';
import {
  SCENARIO_SCHEMA,
  type ArrivalSpec,
  type AssertRule,
  type CallSpec,
  type FailoverSpec,
  type FaultSchedule,
  type FaultSpec,
  type InstanceOverride,
  type KeySpec,
  type MembershipChange,
  type MeshSpec,
  type PolicySpec,
  type RetriesSpec,
  type Scenario,
  type ServiceSpec,
  type WorkloadSpec,
} from './types.js';

export type PathSegment = string | number;

/** A problem in a scenario document, located by field path. */
export interface FieldIssue {
  readonly path: readonly PathSegment[];
  readonly message: string;
  /** What a valid value looks like, when known. */
  readonly expected?: string;
  /** The problem is the key at `path` itself (an unknown key, a bad name), not its value. */
  readonly atKey?: boolean;
}

export type Resolution = { readonly ok: true; readonly scenario: Scenario } | { readonly ok: false; readonly issues: readonly FieldIssue[] };

/** Default drain when no workload has a timeout, ms. */
export const DEFAULT_DRAIN_MS = 10_000;

const DIST_KINDS = ['constant', 'uniform', 'exponential', 'normal', 'lognormal', 'pareto', 'empirical', 'mixture'] as const;
const ARRIVAL_PROCESSES = ['poisson', 'constant', 'closed'] as const;
const DIST_EXPECTED = 'a distribution, like { dist: exponential, mean: 10ms }';

/** Service names appear in variant paths (`services.api.instances`), so no dots. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Variant names: letters, digits, '.', '-' and '_', starting with a letter or digit. */
export const VARIANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A sweep range written as one value (`0..3`, `10%..50% step 10%`; scenario/sweep.ts
 * expands it): as pattern text, since the JSON Schema of `sweep` needs it too, and so
 * without a case-insensitive flag, which JSON Schema patterns cannot have.
 */
export const SWEEP_RANGE_PATTERN =
  '^\\s*(-?\\d+(?:\\.\\d+)?)([A-Za-z%/]*)\\s*\\.\\.\\s*(-?\\d+(?:\\.\\d+)?)([A-Za-z%/]*)(?:\\s+[Ss][Tt][Ee][Pp]\\s+(\\d+(?:\\.\\d+)?)([A-Za-z%/]*))?\\s*$';

// ---------------------------------------------------------------------------------------
// Messages

type IssueInput = { readonly input?: unknown };

/** A zod error map: "missing; expected X" or "expected X; got Y". */
function expecting(expected: string): (issue: IssueInput) => string {
  return (issue) => (issue.input === undefined ? `missing; expected ${expected}` : `expected ${expected}; got ${describeValue(issue.input)}`);
}

/** Recovers the "expected ..." part of a message built by {@link expecting} and friends. */
function expectedOf(message: string): string | undefined {
  return /(?:^|; )expected (.+?)(?:; got .*)?$/.exec(message)?.[1];
}

// Unknown-key messages travel from a strict object's error map to `fromZod` inside the
// issue's message (zod keeps one message per issue, and one issue covers all unknown keys).
const UNKNOWN_KEYS_TAG = '\u0000unknown-keys:';

/** `[key, message, suggested key]` for each unknown key. */
type UnknownKey = [string, string, string | null];

function unknownKey(key: string, known: readonly string[]): UnknownKey {
  const guess = suggest(key, known);
  return [key, guess === undefined ? `unknown key; expected one of: ${known.join(', ')}` : `unknown key; did you mean '${guess}'?`, guess ?? null];
}

/** A strict object: unknown keys are errors, each with its own message and a suggestion. */
function strict<S extends z.core.$ZodLooseShape>(shape: S, expected: string) {
  const known = Object.keys(shape);
  const otherwise = expecting(expected);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? UNKNOWN_KEYS_TAG + JSON.stringify(issue.keys.map((key) => unknownKey(key, known)))
        : otherwise(issue),
  });
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
  null: 'nothing (null)',
};

type Shaped = { readonly _zod?: { readonly def?: { readonly shape?: Record<string, unknown> } } };

/**
 * The house style for schemas that bring no messages of their own (the failover
 * mechanisms' config schemas, shared with code that never reads a scenario file), given to
 * the parse as its error map: zod's default messages become "expected X; got Y", unknown
 * keys get a did-you-mean, unknown kinds list the known ones. A schema's own messages win.
 */
const houseStyle: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const shape = (issue.inst as Shaped | undefined)?._zod?.def?.shape;
      if (shape === undefined) return undefined;
      return UNKNOWN_KEYS_TAG + JSON.stringify(issue.keys.map((key) => unknownKey(key, Object.keys(shape))));
    }
    case 'invalid_type':
      return expecting(TYPE_NAMES[issue.expected] ?? issue.expected)(issue);
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      if (issue.origin === 'array') return expecting(small ? `at least ${bound} item${bound === 1 ? '' : 's'}` : `at most ${bound} item${bound === 1 ? '' : 's'}`)(issue);
      if (issue.origin === 'string') return expecting(small ? `at least ${bound} character${bound === 1 ? '' : 's'}` : `at most ${bound} characters`)(issue);
      if (issue.origin !== 'number' && issue.origin !== 'int') return undefined;
      if (!Number.isFinite(bound) || Math.abs(bound) >= Number.MAX_SAFE_INTEGER) return expecting('a finite number')(issue);
      const op = small ? (issue.inclusive === false ? '>' : '≥') : issue.inclusive === false ? '<' : '≤';
      return expecting(`a ${issue.origin === 'int' ? 'whole ' : ''}number ${op} ${bound}`)(issue);
    }
    case 'invalid_value': {
      const values = issue.values.map(String);
      const got = typeof issue.input === 'string' ? didYouMean(issue.input, values) : '';
      return `${expecting(values.length === 1 ? values[0] : `one of ${values.join(', ')}`)(issue)}${got}`;
    }
    case 'invalid_union': {
      const options = (issue as { readonly options?: readonly unknown[] }).options;
      if (issue.discriminator === undefined || options === undefined) return undefined;
      const field = issue.discriminator;
      const known = options.filter((o) => o !== undefined && o !== null).map(String);
      const value = isRecord(issue.input) ? issue.input[field] : undefined;
      if (typeof value !== 'string') return expecting(`${field}: one of ${known.join(', ')}`)({ input: value });
      return `unknown ${field} '${value}'${didYouMean(value, known)}; expected one of ${known.join(', ')}`;
    }
    default:
      return undefined;
  }
};

// ---------------------------------------------------------------------------------------
// Leaves

function wholeNumber(min: number, expected = `a whole number ≥ ${min}`) {
  const error = expecting(expected);
  return z.number({ error }).int({ error }).min(min, { error });
}

/**
 * The largest finite `concurrency` or `queue`: the simulator keeps an instance's slot count
 * and queue bound in 32-bit words (src/sim/world.ts), so a larger number would wrap (2^31
 * slots read as a negative count, 2^32 + 4 as 4). `unbounded` has no limit.
 */
export const MAX_SLOTS = 0x7fffffff;

/** The lowest Envoy priority level: Envoy refuses an endpoint priority above 128 (endpoint_components.proto, `lte: 128`). */
export const MAX_PRIORITY = 128;

/** 1,000,000: a number with thousands separators, as messages print limits. */
const grouped = (x: number): string => x.toLocaleString('en-US');

/** A whole number from min to {@link MAX_SLOTS}, or `unbounded` (Infinity). */
function wholeOrUnbounded(min: number) {
  const expected = `a whole number from ${min} to ${grouped(MAX_SLOTS)}, or unbounded (no limit)`;
  return z.union([wholeNumber(min, expected).max(MAX_SLOTS, { error: expecting(expected) }), z.literal('unbounded').transform(() => Infinity)], { error: expecting(expected) });
}

/** The most copies of one call a request makes at once (`parallel`): each is a call the simulator tracks (a 32-bit count of them). */
export const MAX_PARALLEL = 10_000;
const PARALLEL_EXPECTED = `a fan-out: a whole number from 1 to ${grouped(MAX_PARALLEL)}`;

/**
 * An error fault's status: a server error. The simulator counts its answers as errors, the
 * live fleet marks them so, and the live proxy takes any answer below 500 as a success, so
 * a 2xx–4xx here would mean two different things.
 */
const ERROR_STATUS_EXPECTED = 'a 5xx HTTP status code from 500 to 599, like 503 (an error fault answers with a server error)';

export const PRIORITY_EXPECTED = `a priority level: a whole number from 0 (preferred) to ${MAX_PRIORITY}, as in Envoy`;
const priorityLevel = () => wholeNumber(0, PRIORITY_EXPECTED).max(MAX_PRIORITY, { error: expecting(PRIORITY_EXPECTED) });

function text(expected: string) {
  const error = expecting(expected);
  return z.string({ error }).min(1, { error });
}

const plainNumber = (expected: string) => z.number({ error: expecting(expected) });

function positiveNumber(expected: string) {
  const error = expecting(expected);
  return z.number({ error }).positive({ error }).finite({ error });
}

const positiveDuration = zDuration.refine((ms) => ms > 0, {
  error: (issue) => `expected a duration > 0, like 250ms; got ${typeof issue.input === 'number' ? formatDuration(issue.input) : describeValue(issue.input)}`,
});

const positiveRate = zRate.refine((perSec) => perSec > 0, {
  error: (issue) => `expected a rate > 0, like 1500/s; got ${typeof issue.input === 'number' ? formatRate(issue.input) : describeValue(issue.input)}`,
});

// ---------------------------------------------------------------------------------------
// Distributions

type Weight = { weight?: number };

/** The members of the `dist` union; with `weighted`, each also takes the `weight` of a mixture component. */
function distUnion(weighted: boolean, of: z.ZodType<MixtureComponent[]>) {
  const weight = weighted ? { weight: z.number({ error: expecting('a weight: a number > 0') }).positive({ error: expecting('a weight: a number > 0') }) } : {};
  const member = <S extends z.core.$ZodLooseShape>(dist: string, fields: S, takes: string) =>
    strict({ ...weight, dist: z.literal(dist), ...fields }, `a ${dist} distribution: { dist: ${dist}, ${takes} }`);
  const lognormal = member(
    'lognormal',
    { median: zDuration.optional(), p99: zDuration.optional(), mu: plainNumber('mu: a number, the mean of ln(ms)').optional(), sigma: plainNumber('sigma: a number, the standard deviation of ln(ms)').optional() },
    'median, p99 } or { dist: lognormal, mu, sigma',
  ).transform((d, ctx): DistSpec & Weight => {
    const { weight: w0 } = d as Weight;
    const w: Weight = w0 === undefined ? {} : { weight: w0 };
    const byQuantiles = d.median !== undefined || d.p99 !== undefined;
    const byLog = d.mu !== undefined || d.sigma !== undefined;
    const either = 'lognormal takes either median and p99 (durations) or mu and sigma (numbers, of ln(ms))';
    if (byQuantiles && byLog) {
      ctx.addIssue({ code: 'custom', message: `${either}, not both`, input: d });
      return z.NEVER;
    }
    if (byLog) {
      if (d.mu === undefined) ctx.addIssue({ code: 'custom', message: `missing; ${either}`, path: ['mu'] });
      if (d.sigma === undefined) ctx.addIssue({ code: 'custom', message: `missing; ${either}`, path: ['sigma'] });
      if (d.mu === undefined || d.sigma === undefined) return z.NEVER;
      return { ...w, dist: 'lognormal', mu: d.mu, sigma: d.sigma };
    }
    if (d.median === undefined) ctx.addIssue({ code: 'custom', message: `missing; expected ${DURATION_EXPECTED} (${either})`, path: ['median'] });
    if (d.p99 === undefined) ctx.addIssue({ code: 'custom', message: `missing; expected ${DURATION_EXPECTED} (${either})`, path: ['p99'] });
    if (d.median === undefined || d.p99 === undefined) return z.NEVER;
    return { ...w, dist: 'lognormal', median: d.median, p99: d.p99 };
  });

  return z.discriminatedUnion(
    'dist',
    [
      member('constant', { value: zDuration }, 'value'),
      member('uniform', { min: zDuration, max: zDuration }, 'min, max'),
      member('exponential', { mean: zDuration }, 'mean'),
      member('normal', { mean: zDuration, stddev: zDuration }, 'mean, stddev'),
      lognormal,
      member('pareto', { scale: zDuration, shape: plainNumber('shape: a number (the tail index)') }, 'scale, shape'),
      member('empirical', { values: z.array(zDuration, { error: expecting('a list of durations, like [1ms, 2ms, 5ms]') }) }, 'values'),
      member('mixture', { of }, 'of: [{ weight, dist, ... }, ...]'),
    ],
    {
      error: (issue) => {
        if (issue.code !== 'invalid_union') return expecting(DIST_EXPECTED)(issue);
        const dist = (issue.input as { dist?: unknown } | undefined)?.dist;
        const kinds = DIST_KINDS.join(', ');
        if (typeof dist !== 'string') return expecting(`one of ${kinds}`)({ input: dist });
        return `unknown distribution '${dist}'${didYouMean(dist, DIST_KINDS)}; expected one of ${kinds}`;
      },
    },
  ) as unknown as z.ZodType<DistSpec & Weight>;
}

/** Runs the distribution library's own parameter checks (p99 > median, ...) on a converted spec. */
function checkedDist(union: z.ZodType<DistSpec>): z.ZodType<DistSpec> {
  return union.transform((spec, ctx) => {
    const problem = validateDist(spec);
    if (problem === undefined) return spec;
    // "p99 must be greater than median" is about p99: point there when the message names a field.
    const field = /^(\w+) /.exec(problem)?.[1];
    const path = field !== undefined && field !== 'dist' && Object.hasOwn(spec, field) ? [field] : [];
    ctx.addIssue({ code: 'custom', message: problem, input: spec, path });
    return z.NEVER;
  });
}

function distSchemas() {
  // The mixture's components refer back to the union they are members of.
  const components: z.ZodType<MixtureComponent[]> = z.array(
    z.lazy(() => component),
    { error: expecting('a list of components, like [{ weight: 0.99, dist: constant, value: 10ms }, ...]') },
  );
  const component = distUnion(true, components) as z.ZodType<MixtureComponent>;
  return checkedDist(distUnion(false, components) as z.ZodType<DistSpec>);
}

// ---------------------------------------------------------------------------------------
// Failover

const ENVOY_BUDGET_DEFAULTS = envoyRetryBudgetConfigSchema.parse({ kind: 'envoy-budget' });

/** Envoy's retry budget without `kind`: `{ percent: 20%, minConcurrency: 3 }`, the scenario shorthand. */
const budgetShorthand = strict(
  {
    kind: z.undefined().optional(),
    percent: zPercent.optional(),
    minConcurrency: wholeNumber(0, 'a number of retries always allowed at once: a whole number ≥ 0').optional(),
  },
  'a retry budget, like { percent: 20%, minConcurrency: 3 } (Envoy) or { kind: linkerd }',
).transform(
  (b): RetryBudgetConfig => ({
    kind: 'envoy-budget',
    budgetPercent: b.percent ?? ENVOY_BUDGET_DEFAULTS.budgetPercent,
    minRetryConcurrency: b.minConcurrency ?? ENVOY_BUDGET_DEFAULTS.minRetryConcurrency,
  }),
);

const retryBudgetSchema = z.discriminatedUnion('kind', [budgetShorthand, ...retryBudgetConfigSchema.options]);

/**
 * retries: the retry policy's own schema (its refinements kept), its budget also taking the
 * shorthand. The cast only widens the budget's input type; its output is the policy's.
 */
const retriesSchema = retryPolicyConfigSchema.safeExtend({
  budget: retryBudgetSchema.optional() as unknown as (typeof retryPolicyConfigSchema.shape)['budget'],
});

const HEDGE_ATTEMPTS = `a number of attempts, the first included: a whole number from 2 to ${GRPC_MAX_ATTEMPTS_LIMIT}`;

const hedgeSchema = strict(
  {
    delay: positiveDuration.optional(),
    maxAttempts: wholeNumber(2, HEDGE_ATTEMPTS).max(GRPC_MAX_ATTEMPTS_LIMIT, { error: expecting(HEDGE_ATTEMPTS) }).optional(),
    onPerTryTimeout: z.boolean({ error: expecting('true or false') }).optional(),
  },
  'a hedge, like { delay: 50ms } or { onPerTryTimeout: true }',
);

const failoverSchema = strict(
  {
    timeout: positiveDuration.optional(),
    perTryTimeout: positiveDuration.optional(),
    retries: retriesSchema.optional(),
    hedge: hedgeSchema.optional(),
    circuitBreaker: circuitBreakerConfigSchema.optional(),
    outlierDetection: outlierDetectionConfigSchema.optional(),
    healthCheck: healthCheckConfigSchema.optional(),
    adaptiveThrottling: adaptiveThrottlingConfigSchema.optional(),
  },
  'failover settings, like { timeout: 1s, retries: { max: 2, on: [5xx] }, outlierDetection: { consecutive5xx: 5 } }',
);

const callSchema = strict(
  {
    service: text('the name of a service'),
    parallel: wholeNumber(1, PARALLEL_EXPECTED).max(MAX_PARALLEL, { error: expecting(PARALLEL_EXPECTED) }).optional(),
    probability: zPercent.optional(),
    onFailure: z.enum(['fail', 'tolerate'], { error: expecting('fail or tolerate') }).optional(),
  },
  'a call, like { service: db, parallel: 2, probability: 50%, onFailure: tolerate }',
);

// ---------------------------------------------------------------------------------------
// Assertions (CI gates)

const ASSERT_ITEM_EXPECTED = "a rule like 'p99 < 250ms', or one for a single variant, like { variant: p2c, rule: 'attemptsPerRequest < 1.2' }";

/** `<metric> <op> <value>`, read by the rule parser of src/scenario/assert.ts. */
const ruleText = z.string({ error: expecting(RULE_EXPECTED) }).transform((text, ctx): AssertRule => {
  const parsed = parseRule(text);
  if (parsed.ok) return parsed.rule;
  ctx.addIssue({ code: 'custom', message: parsed.message, input: text });
  return z.NEVER;
});

const variantRule = strict(
  { variant: text('the name of a variant'), rule: ruleText },
  "a rule for one variant, like { variant: p2c, rule: 'attemptsPerRequest < 1.2' }",
).transform((r): AssertRule => ({ variant: r.variant, ...r.rule }));

const ASSERT_ITEM_JSON_SCHEMA = {
  description: "A CI gate: '<metric> <op> <value>' for every variant (e.g. 'p99 < 250ms', 'successRate >= 99.9%'), or { variant, rule } for one.",
  anyOf: [
    { type: 'string', examples: ['p99 < 250ms', 'successRate >= 99.9%'] },
    { type: 'object', properties: { variant: { type: 'string' }, rule: { type: 'string' } }, required: ['variant', 'rule'], additionalProperties: false },
  ],
};

/**
 * One `assert:` item: a rule string, or `{ variant, rule }`. Dispatched by type by hand,
 * since a zod union would hide its members' messages (the rule parser's included) behind
 * one "invalid input".
 */
const assertItem = z
  .unknown()
  .meta(ASSERT_ITEM_JSON_SCHEMA)
  .transform((input, ctx): AssertRule => {
    const schema = typeof input === 'string' ? ruleText : isRecord(input) ? variantRule : undefined;
    if (schema === undefined) {
      ctx.addIssue({ code: 'custom', message: expecting(ASSERT_ITEM_EXPECTED)({ input }), input });
      return z.NEVER;
    }
    const parsed = schema.safeParse(input, { reportInput: true, error: houseStyle });
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  });

// ---------------------------------------------------------------------------------------
// The document

function documentSchema(balancer: z.ZodType<PolicySpec>) {
  const dist = distSchemas();

  const override = strict(
    {
      instances: z.array(wholeNumber(0, 'an instance index: a whole number ≥ 0'), { error: expecting('a list of instance indices, like [0, 3]') }).min(1, { error: expecting('at least one instance index') }),
      serviceTime: dist.optional(),
      concurrency: wholeOrUnbounded(1).optional(),
      queue: wholeOrUnbounded(0).optional(),
      weight: positiveNumber('a weight: a number > 0').optional(),
      priority: priorityLevel().optional(),
      zone: text('a zone name').optional(),
    },
    'an override, like { instances: [3], serviceTime: { dist: constant, value: 1s } }',
  );

  const coldStart = strict(
    { for: positiveDuration, factor: z.number({ error: expecting('a slowdown factor ≥ 1') }).min(1, { error: expecting('a slowdown factor ≥ 1') }).finite() },
    'a cold start, like { for: 30s, factor: 3 }',
  );

  const service = strict(
    {
      instances: wholeNumber(1),
      zones: z.array(text('a zone name'), { error: expecting('a list of zone names, like [a, b]') }).min(1, { error: expecting('at least one zone') }).optional(),
      concurrency: wholeOrUnbounded(1).optional(),
      queue: wholeOrUnbounded(0).optional(),
      serviceTime: dist,
      weight: positiveNumber('a weight: a number > 0').optional(),
      priority: priorityLevel().optional(),
      localityWeights: z
        .record(z.string(), positiveNumber('a locality weight: a number > 0'), { error: expecting('locality weights by zone, like { a: 1, b: 2 }') })
        .optional(),
      coldStart: coldStart.optional(),
      overrides: z.array(override, { error: expecting('a list of overrides') }).optional(),
      calls: z.array(callSchema, { error: expecting('a list of calls, like [{ service: db }]') }).optional(),
      mesh: strict(
        { balancer: balancer.optional(), failover: failoverSchema.optional() },
        "this service's own sidecar config, like { failover: { retries: { max: 1, on: [5xx] } } }; it overrides the top-level mesh",
      ).optional(),
    },
    'a service, like { instances: 3, serviceTime: { dist: exponential, mean: 10ms } }',
  );

  const step = strict({ at: zDuration, rate: positiveRate }, 'a step, like { at: 20s, rate: 3000/s }');
  const arrival = z.discriminatedUnion(
    'process',
    [
      strict({ process: z.enum(['poisson', 'constant']), rate: positiveRate, steps: z.array(step, { error: expecting('a list of steps, like [{ at: 20s, rate: 3000/s }]') }).optional() }, 'an open arrival process, like { process: poisson, rate: 1500/s }'),
      strict({ process: z.literal('closed'), clients: wholeNumber(1), think: dist }, 'a closed loop, like { process: closed, clients: 50, think: { dist: exponential, mean: 10ms } }'),
    ],
    {
      error: (issue) => {
        if (issue.code !== 'invalid_union') return expecting('an arrival process, like { process: poisson, rate: 1500/s }')(issue);
        const process = (issue.input as { process?: unknown } | undefined)?.process;
        const kinds = ARRIVAL_PROCESSES.join(', ');
        if (typeof process !== 'string') return expecting(`one of ${kinds}`)({ input: process });
        return `unknown arrival process '${process}'${didYouMean(process, ARRIVAL_PROCESSES)}; expected one of ${kinds}`;
      },
    },
  );

  const key = z.discriminatedUnion(
    'dist',
    [
      strict({ dist: z.literal('zipf'), n: wholeNumber(1), s: z.number({ error: expecting('a Zipf exponent s ≥ 0') }).min(0, { error: expecting('a Zipf exponent s ≥ 0') }).finite() }, 'a Zipf key distribution, like { dist: zipf, n: 10000, s: 1.1 }'),
      strict({ dist: z.literal('uniform'), n: wholeNumber(1) }, 'a uniform key distribution, like { dist: uniform, n: 10000 }'),
    ],
    { error: expecting('a key distribution: { dist: zipf, n: 10000, s: 1.1 } or { dist: uniform, n: 10000 }') },
  );

  const workload = strict(
    {
      name: text('a workload name'),
      target: text('the name of a service'),
      zone: text('a zone of the target service').optional(),
      zones: z.array(text('a zone name'), { error: expecting('a list of zone names, like [a, b]') }).min(1, { error: expecting('at least one zone') }).optional(),
      sidecars: wholeNumber(1).optional(),
      key: key.optional(),
      arrival,
      timeout: positiveDuration.optional(),
    },
    'a workload, like { name: users, target: api, arrival: { process: poisson, rate: 100/s } }',
  );

  const target = strict(
    {
      service: text('a service name').optional(),
      instances: z.array(wholeNumber(0, 'an instance index: a whole number ≥ 0'), { error: expecting('a list of instance indices, like [0, 3]') }).min(1, { error: expecting('at least one instance index') }).optional(),
      fraction: zPercent.optional(),
      zone: text('a zone name').optional(),
      from: text('a workload name').optional(),
      to: text('a service name').optional(),
      fromZone: text('a zone name').optional(),
      toZone: text('a zone name').optional(),
    },
    'a fault target, like { service: api, instances: [0] }, { service: api, zone: b } or { from: users, to: api }',
  );
  const fault = strict(
    {
      kind: z.enum(['crash', 'hang', 'slow', 'error', 'pause', 'partition', 'flap'], { error: expecting('a fault kind: crash, hang, slow, error, pause, partition or flap') }),
      target,
      at: zDuration.optional(),
      for: positiveDuration.optional(),
      every: positiveDuration.optional(),
      mtbf: positiveDuration.optional(),
      mttr: positiveDuration.optional(),
      up: positiveDuration.optional(),
      down: positiveDuration.optional(),
      factor: z.number({ error: expecting('a slowdown factor > 0') }).positive({ error: expecting('a slowdown factor > 0') }).finite().optional(),
      serviceTime: dist.optional(),
      rate: zPercent.optional(),
      status: wholeNumber(500, ERROR_STATUS_EXPECTED).max(599, { error: expecting(ERROR_STATUS_EXPECTED) }).optional(),
      fast: z.boolean({ error: expecting('true or false') }).optional(),
      mode: z.enum(['drop', 'refuse'], { error: expecting('drop or refuse') }).optional(),
    },
    'a fault, like { kind: crash, target: { service: api, instances: [0] }, at: 20s, for: 10s }',
  );

  const variantOverrides = z.union([z.record(z.string(), z.unknown()), z.null()], {
    error: expecting('a mapping of overrides by dotted path, like { mesh.balancer: { kind: random } }'),
  });

  return strict(
    {
      schema: z.literal(SCENARIO_SCHEMA, { error: (issue) => `unsupported schema ${describeValue(issue.input)}; this version of meshsim reads ${SCENARIO_SCHEMA}` }).optional(),
      // The default output directory is reports/<name>: a name must not reach outside it.
      name: text('a scenario name').refine((name) => !/[/\\]/.test(name) && ![...name].some((c) => c.charCodeAt(0) < 32) && name !== '.' && name !== '..', {
        error: expecting('a scenario name without / or \\ or control characters, and not . or .. (it names the report directory reports/<name>)'),
      }),
      description: z.string({ error: expecting('a string') }).optional(),
      seed: wholeNumber(0),
      seeds: wholeNumber(1),
      duration: positiveDuration,
      warmup: zDuration,
      drain: zDuration.optional(),
      services: z
        .record(z.string().regex(SERVICE_NAME, { error: expecting('a service name of letters, digits, - and _') }), service, {
          error: expecting('a mapping of service names to services, like { api: { instances: 3, serviceTime: ... } }'),
        })
        .refine((all) => Object.keys(all).length > 0, { error: 'expected at least one service' }),
      network: strict({ latency: dist, crossZone: dist.optional() }, 'a network, like { latency: { dist: exponential, mean: 200us } }'),
      workload: z.array(workload, { error: expecting('a list of workloads') }).min(1, { error: 'expected at least one workload' }),
      mesh: strict({ balancer, failover: failoverSchema.optional() }, 'a mesh, like { balancer: { kind: round-robin } }'),
      membership: z
        .array(
          strict(
            {
              at: zDuration,
              service: text('the name of a service'),
              add: wholeNumber(1).optional(),
              remove: z.array(wholeNumber(0, 'an instance index: a whole number ≥ 0'), { error: expecting('a list of instance indices, like [0, 3]') }).min(1, { error: expecting('at least one instance index') }).optional(),
            },
            'a membership change, like { at: 30s, service: api, add: 2 } or { at: 30s, service: api, remove: [3] }',
          ),
          { error: expecting('a list of membership changes') },
        )
        .optional(),
      faults: z.array(fault, { error: expecting('a list of faults') }).optional(),
      assert: z.array(assertItem, { error: expecting("a list of rules, like ['p99 < 250ms', 'successRate >= 99.9%']") }).optional(),
      variants: z
        .record(z.string().regex(VARIANT_NAME, { error: expecting('a variant name of letters, digits, ., - and _') }), variantOverrides, {
          error: expecting('a mapping of variant names to overrides'),
        })
        .optional(),
      sweep: z
        .record(
          z.string(),
          z.array(z.unknown(), { error: expecting('a list of values to sweep over, like [0, 1, 2]') }).min(1, { error: 'an empty list; expected at least one value to sweep over' }),
          { error: expecting('a mapping of dotted paths to lists of values, like { mesh.failover.retries.max: [0, 1, 2] }') },
        )
        .refine((all) => Object.keys(all).length > 0, { error: 'an empty sweep; expected at least one dotted path with a list of values' })
        .optional(),
    },
    'a scenario: a mapping with name, seed, seeds, duration, warmup, services, network, workload and mesh',
  );
}

// ---------------------------------------------------------------------------------------
// Policies

/** `{ kind, ...options }`: the kind must be registered; the options are checked by the policy's own schema. */
const balancerSchema = z
  .looseObject({ kind: z.string({ error: expecting(`a balancer kind: one of ${balancerKinds().join(', ')}`) }) }, { error: expecting('a balancer, like { kind: round-robin }') })
  .transform((spec, ctx): PolicySpec => {
    const def = balancers.get(spec.kind);
    if (!def) {
      const known = balancerKinds();
      ctx.addIssue({ code: 'custom', path: ['kind'], input: spec.kind, message: `unknown balancer kind '${spec.kind}'${didYouMean(spec.kind, known)}; expected one of ${known.join(', ')}, or a plugin's kind (load it with --plugin FILE)` });
      return z.NEVER;
    }
    const { kind, ...options } = spec;
    // Envoy's layer options (panicThreshold, zoneAware, slowStart, ...) go to the layer
    // wrapper, the rest to the policy's own schema.
    const layerInput: Record<string, unknown> = {};
    const innerInput: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) ((LAYER_KEYS as readonly string[]).includes(k) ? layerInput : innerInput)[k] = v;
    const parsed = def.config.safeParse(innerInput, { reportInput: true, error: houseStyle });
    const layers = layerConfigSchema.safeParse(layerInput, { reportInput: true, error: houseStyle });
    if (parsed.success && layers.success) {
      const given = Object.fromEntries(Object.keys(layerInput).map((k) => [k, (layers.data as Record<string, unknown>)[k]]));
      return { ...(isRecord(parsed.data) ? parsed.data : {}), ...given, kind };
    }
    const optionNames = [...(def.config instanceof z.ZodObject ? Object.keys(def.config.shape) : []), ...LAYER_KEYS];
    const takes = `balancer '${kind}' takes: ${optionNames.join(', ')}`;
    for (const issue of [...(parsed.success ? [] : parsed.error.issues), ...(layers.success ? [] : layers.error.issues)]) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const guess = suggest(key, optionNames);
          const message = guess === undefined ? `unknown option; ${takes}` : `unknown option; did you mean '${guess}'?`;
          ctx.addIssue({ code: 'custom', path: [...issue.path, key], params: { atKey: true }, message });
        }
      } else {
        ctx.addIssue({ code: 'custom', path: issue.path, input: issue.input, message: issue.message });
      }
    }
    return z.NEVER;
  });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** For editors: one alternative per registered balancer, with its own options. */
function balancerJsonSchema(): z.ZodType<PolicySpec> {
  const layerShape = layerConfigSchema instanceof z.ZodObject ? layerConfigSchema.shape : {};
  const alternatives = [...balancers.values()].map((def) =>
    def.config instanceof z.ZodObject ? z.strictObject({ kind: z.literal(def.kind), ...def.config.shape, ...layerShape }) : z.looseObject({ kind: z.literal(def.kind) }),
  );
  return (alternatives.length === 1 ? alternatives[0] : z.union(alternatives)) as unknown as z.ZodType<PolicySpec>;
}

const scenarioDocument = documentSchema(balancerSchema);
type ScenarioDocument = z.output<typeof scenarioDocument>;

/** The keys a scenario file may have at its top level. */
export const SCENARIO_KEYS: readonly string[] = Object.keys(scenarioDocument.shape);

// ---------------------------------------------------------------------------------------
// From zod issues to field issues

function fromZod(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  // A key that is missing because it was misspelt is reported once, as the misspelling.
  const misspelt = new Set<string>();
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const tagged = issue.message.startsWith(UNKNOWN_KEYS_TAG) ? (JSON.parse(issue.message.slice(UNKNOWN_KEYS_TAG.length)) as UnknownKey[]) : undefined;
      for (const [key, message, guess] of tagged ?? issue.keys.map((k): UnknownKey => [k, 'unknown key', null])) {
        out.push({ path: [...path, key], message, atKey: true });
        if (guess !== null) misspelt.add([...path, guess].join('.'));
      }
    } else if (issue.code === 'invalid_key') {
      const message = issue.issues[0]?.message ?? issue.message;
      out.push({ path, message, expected: expectedOf(message), atKey: true });
    } else {
      const atKey = issue.code === 'custom' && issue.params?.atKey === true;
      out.push({ path, message: issue.message, expected: expectedOf(issue.message), ...(atKey ? { atKey } : {}) });
    }
  }
  return out.filter((issue) => !(issue.message.startsWith('missing;') && misspelt.has(issue.path.join('.'))));
}

// ---------------------------------------------------------------------------------------
// Cross-field checks and defaults

/**
 * Size limits, so that a scenario too big to simulate is refused with a message instead of
 * exhausting memory part-way: an instance costs ≈ 2 KB (1M instances: 1.8 GB peak RSS,
 * measured on a 2 s run; 5M exhausted Node's default heap), and each sidecar keeps
 * balancer state for every endpoint it can reach (a few bytes per sidecar × endpoint).
 */
export const LIMITS = {
  /** Replications of one variant. */
  seeds: 100_000,
  /** Instances in the whole scenario, counting those membership changes add. */
  instances: 1_000_000,
  /** Sum over caller groups of sidecars × instances of the target they call. */
  sidecarEndpoints: 20_000_000,
  /** Clients of one closed-loop workload (each keeps an event pending). */
  clients: 1_000_000,
  /** Distinct request keys of one workload (their hashes are kept, 8 bytes each). */
  keys: 10_000_000,
  /**
   * Requests of one run (a variant × seed), as expected from the file: each open workload's
   * rate × time (its steps included), each closed loop's clients × duration over its
   * shortest cycle (think time + two network hops), each times the downstream calls a
   * request makes. The simulator handles about a million requests a second, so this is
   * hours per run: more is almost surely a typo (`1000/us` for `1000/s`, `100000h`).
   */
  requests: 10_000_000_000,
  /** Health-check probes and outlier-detection sweeps of one run, per sidecar × endpoint (timers that run without traffic). */
  checks: 10_000_000_000,
  /** Fault windows of one run (each is kept in memory from the start): `every`, `up`/`down` and `mtbf`/`mttr` repeat a fault. */
  faultWindows: 1_000_000,
} as const;

/** A large count for a message: grouped digits, or 3 significant digits past 10^15 (`1.00e+303`). */
function approx(x: number): string {
  return x < 1e15 ? grouped(Math.round(x)) : x.toPrecision(3);
}

/** Expected arrivals of an open workload over [0, duration): its rate, then each step's from its time on. */
function openArrivals(rate: number, steps: readonly { at: number; rate: number }[], duration: number): number {
  let total = 0;
  let from = 0;
  let current = rate;
  for (const step of steps) {
    const at = Math.min(Math.max(step.at, from), duration);
    total += (current * (at - from)) / 1000;
    from = at;
    current = step.rate;
  }
  return total + (current * Math.max(0, duration - from)) / 1000;
}

/** What one run (a variant × seed) of a scenario would do, estimated from the file alone (see {@link LIMITS}). */
export interface RunWork {
  /** Per workload: expected arrivals, calls each request makes below its target, and both together. */
  readonly workloads: readonly { readonly arrivals: number; readonly fanOut: number; readonly requests: number }[];
  readonly requests: number;
  /** Periodic checks by the mesh whose settings make them (`service` undefined: the top-level mesh's, for the workloads). */
  readonly checks: readonly { readonly service: string | undefined; readonly mechanism: 'healthCheck' | 'outlierDetection'; readonly checks: number }[];
  readonly totalChecks: number;
  /** Per fault: the windows it opens. */
  readonly faultWindows: readonly number[];
  readonly totalFaultWindows: number;
}

/**
 * The work of one run of a resolved scenario: requests (each open workload's rate × time,
 * steps included; each closed loop's clients × duration over its think time and round trip;
 * each times the downstream calls a request makes), periodic checks (health-check probes
 * and outlier-detection sweeps: each interval, each sidecar × endpoint, over the run and its
 * drain) and fault windows (one per repetition).
 */
export function scenarioWork(s: Scenario): RunWork {
  const horizon = s.duration + s.drain;
  const size = new Map(Object.entries(s.services).map(([name, svc]) => [name, svc.instances]));
  for (const m of s.membership) size.set(m.service, (size.get(m.service) ?? 0) + m.add);
  // Calls per request served by a service, down the call graph (a cycle, refused elsewhere, counts once).
  const calls = new Map<string, number>();
  const downstream = (name: string, open: Set<string>): number => {
    const known = calls.get(name);
    if (known !== undefined) return known;
    if (open.has(name)) return 0;
    open.add(name);
    let total = 0;
    for (const c of s.services[name]?.calls ?? []) if (s.services[c.service] !== undefined) total += c.probability * c.parallel * (1 + downstream(c.service, open));
    open.delete(name);
    calls.set(name, total);
    return total;
  };
  const roundTrip = 2 * distMean(s.network.latency);
  const workloads = s.workload.map((w) => {
    const a = w.arrival;
    let arrivals: number;
    if (a.process === 'closed') {
      const cycle = distMean(a.think) + roundTrip;
      arrivals = cycle > 0 ? (a.clients * s.duration) / cycle : 0;
    } else {
      arrivals = openArrivals(a.rate, a.steps, s.duration);
    }
    const fanOut = s.services[w.target] === undefined ? 0 : downstream(w.target, new Set());
    return { arrivals, fanOut, requests: arrivals * (1 + fanOut) };
  });

  // Each sidecar checks each endpoint it can reach: a workload's sidecars the target's instances, a calling service's instances those it calls.
  const pools: { pairs: number; mesh: MeshSpec; service: string | undefined }[] = s.workload.map((w) => ({ pairs: w.sidecars * (size.get(w.target) ?? 0), mesh: s.mesh, service: undefined }));
  for (const [name, svc] of Object.entries(s.services)) {
    for (const target of new Set(svc.calls.map((c) => c.service))) pools.push({ pairs: (size.get(name) ?? 0) * (size.get(target) ?? 0), mesh: svc.mesh, service: name });
  }
  const checks: { service: string | undefined; mechanism: 'healthCheck' | 'outlierDetection'; checks: number }[] = [];
  const count = (service: string | undefined, mechanism: 'healthCheck' | 'outlierDetection', n: number): void => {
    const found = checks.find((c) => c.service === service && c.mechanism === mechanism);
    if (found) found.checks += n;
    else checks.push({ service, mechanism, checks: n });
  };
  for (const pool of pools) {
    const hc = pool.mesh.failover?.healthCheck;
    const od = pool.mesh.failover?.outlierDetection;
    if (hc !== undefined) {
      // The shortest of its waits: an upper bound on how often a sidecar probes an endpoint.
      const wait = Math.min(...[hc.interval, hc.unhealthyInterval, hc.unhealthyEdgeInterval, hc.healthyEdgeInterval].filter((x): x is number => x !== undefined));
      count(pool.service, 'healthCheck', (pool.pairs * horizon) / wait);
    }
    if (od !== undefined) count(pool.service, 'outlierDetection', (pool.pairs * horizon) / od.interval);
  }

  const faultWindows = s.faults.map((f) => {
    const sc = f.schedule;
    const period = 'mtbf' in sc ? sc.mtbf + sc.mttr : sc.every;
    return period === undefined ? 1 : Math.max(0, horizon - sc.at) / period;
  });
  const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);
  return {
    workloads,
    requests: sum(workloads.map((w) => w.requests)),
    checks,
    totalChecks: sum(checks.map((c) => c.checks)),
    faultWindows,
    totalFaultWindows: sum(faultWindows),
  };
}

/** The index of the largest of `xs` (the first of equals). */
function largest(xs: readonly number[]): number {
  return xs.reduce((best, x, i) => (x > xs[best] ? i : best), 0);
}

/** A resolved scenario's work past {@link LIMITS}, each problem at the field most to blame (the document says which field was written). */
function workIssues(doc: ScenarioDocument, s: Scenario): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const work = scenarioWork(s);
  const horizon = formatDuration(s.duration + s.drain);
  if (work.requests > LIMITS.requests) {
    const top = largest(work.workloads.map((w) => w.requests));
    const parts = work.workloads
      .map((w, i) => ({ ...w, name: s.workload[i].name }))
      .filter((w) => w.requests > 0)
      .map((w) => `${w.name}: ${approx(w.arrivals)}${w.fanOut > 0 ? ` × ${approx(1 + w.fanOut)} with the downstream calls each makes` : ''}`);
    issues.push({
      path: ['workload', top, 'arrival', s.workload[top].arrival.process === 'closed' ? 'clients' : 'rate'],
      message: `a run would make about ${approx(work.requests)} requests (${parts.join('; ')}), over the duration of ${formatDuration(s.duration)}; at most ${grouped(LIMITS.requests)} per run (hours of simulation at about a million requests a second): check the rate's unit (1000/us is a million times 1000/s) and the duration`,
    });
  }
  if (work.totalChecks > LIMITS.checks) {
    const top = work.checks[largest(work.checks.map((c) => c.checks))];
    const own = top.service !== undefined && doc.services[top.service]?.mesh?.failover?.[top.mechanism] !== undefined;
    issues.push({
      path: [...(own ? ['services', top.service as string, 'mesh', 'failover'] : ['mesh', 'failover']), top.mechanism, 'interval'],
      message: `a run would make about ${approx(work.totalChecks)} periodic checks (health-check probes and outlier-detection sweeps, each interval for each sidecar × endpoint, over ${horizon} with the drain); at most ${grouped(LIMITS.checks)} per run: a longer interval, fewer sidecars or a shorter duration`,
    });
  }
  if (work.totalFaultWindows > LIMITS.faultWindows) {
    const top = largest(work.faultWindows);
    const f = doc.faults?.[top];
    const field = f?.mtbf !== undefined ? 'mtbf' : f?.up !== undefined ? 'up' : 'every';
    issues.push({
      path: ['faults', top, field],
      message: `the faults would open about ${approx(work.totalFaultWindows)} windows in a run (one per repetition, over ${horizon} with the drain); at most ${grouped(LIMITS.faultWindows)} per run: repeat less often`,
    });
  }
  return issues;
}

function sizeCheck(doc: ScenarioDocument, add: (path: PathSegment[], message: string) => void): void {
  const n = (x: number): string => x.toLocaleString('en-US');
  if (doc.seeds > LIMITS.seeds) add(['seeds'], `at most ${n(LIMITS.seeds)} replications (got ${n(doc.seeds)})`);
  const size = new Map<string, number>();
  for (const [name, svc] of Object.entries(doc.services)) size.set(name, svc.instances);
  for (const m of doc.membership ?? []) if (size.has(m.service)) size.set(m.service, (size.get(m.service) ?? 0) + (m.add ?? 0));
  const instances = [...size.values()].reduce((a, n) => a + n, 0);
  if (instances > LIMITS.instances) {
    add(['services'], `at most ${n(LIMITS.instances)} instances in all, membership additions included (this scenario has ${n(instances)}; each costs ≈ 2 KB of memory)`);
    return;
  }
  doc.workload.forEach((w, i) => {
    if (w.arrival.process === 'closed' && w.arrival.clients > LIMITS.clients) add(['workload', i, 'arrival', 'clients'], `at most ${n(LIMITS.clients)} clients (got ${n(w.arrival.clients)})`);
    if (w.key !== undefined && w.key.n > LIMITS.keys) add(['workload', i, 'key', 'n'], `at most ${n(LIMITS.keys)} keys (got ${n(w.key.n)})`);
  });
  let pairs = 0;
  for (const w of doc.workload) pairs += (w.sidecars ?? 1) * (size.get(w.target) ?? 0);
  for (const [name, svc] of Object.entries(doc.services)) for (const c of svc.calls ?? []) pairs += (size.get(name) ?? 0) * (size.get(c.service) ?? 0);
  if (pairs > LIMITS.sidecarEndpoints) {
    add(['workload'], `too many sidecar × endpoint pairs: ${n(pairs)}, at most ${n(LIMITS.sidecarEndpoints)} (every sidecar, of a workload or of a calling service's instances, keeps balancer state for each instance of the service it calls)`);
  }
}

function crossCheck(doc: ScenarioDocument): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const add = (path: PathSegment[], message: string) => issues.push({ path, message });

  sizeCheck(doc, add);
  if (doc.warmup >= doc.duration) add(['warmup'], `warmup (${formatDuration(doc.warmup)}) must be shorter than duration (${formatDuration(doc.duration)})`);
  if (doc.seed + doc.seeds - 1 > Number.MAX_SAFE_INTEGER) add(['seed'], `seed + seeds - 1 must be at most ${Number.MAX_SAFE_INTEGER}`);

  const services = new Map(Object.entries(doc.services));
  // Instances added by membership changes continue each service's numbering.
  const added = new Map<string, number>();
  const removed = new Map<string, Set<number>>();
  (doc.membership ?? []).forEach((m, i) => {
    const svc = services.get(m.service);
    if (!svc) {
      const names = [...services.keys()];
      add(['membership', i, 'service'], `unknown service '${m.service}'${didYouMean(m.service, names)}; services: ${names.join(', ')}`);
      return;
    }
    if (i > 0 && m.at < (doc.membership ?? [])[i - 1].at) add(['membership', i, 'at'], 'membership changes must be in time order');
    if (m.at >= doc.duration) add(['membership', i, 'at'], `a change at ${formatDuration(m.at)} comes after the load ends (duration ${formatDuration(doc.duration)})`);
    if (m.add === undefined && m.remove === undefined) add(['membership', i], 'a membership change needs add or remove');
    const before = svc.instances + (added.get(m.service) ?? 0);
    const gone = removed.get(m.service) ?? new Set<number>();
    (m.remove ?? []).forEach((index, j) => {
      if (index >= before) add(['membership', i, 'remove', j], `instance ${index} does not exist at ${formatDuration(m.at)}: service '${m.service}' has instances 0 to ${before - 1}`);
      else if (gone.has(index)) add(['membership', i, 'remove', j], `instance ${index} of '${m.service}' is already removed`);
      gone.add(index);
    });
    removed.set(m.service, gone);
    added.set(m.service, (added.get(m.service) ?? 0) + (m.add ?? 0));
  });
  for (const [name, svc] of services) {
    const zones = svc.zones ?? [];
    zones.forEach((zone, i) => {
      if (zones.indexOf(zone) !== i) add(['services', name, 'zones', i], `zone '${zone}' is listed twice`);
    });
    for (const zone of Object.keys(svc.localityWeights ?? {})) {
      if (!zones.includes(zone) && !(zones.length === 0 && zone === 'default')) {
        add(['services', name, 'localityWeights', zone], `unknown zone '${zone}'${didYouMean(zone, zones)}; service '${name}' has zones: ${zones.join(', ') || 'default'}`);
      }
    }
    const total = svc.instances + (added.get(name) ?? 0);
    (svc.overrides ?? []).forEach((o, i) => {
      o.instances.forEach((index, j) => {
        if (index >= total) {
          add(['services', name, 'overrides', i, 'instances', j], `instance ${index} does not exist: service '${name}' has ${total} instance${total === 1 ? '' : 's'}, numbered 0 to ${total - 1}`);
        }
      });
      if (o.zone !== undefined && !zones.includes(o.zone) && !(zones.length === 0 && o.zone === 'default')) {
        add(['services', name, 'overrides', i, 'zone'], `unknown zone '${o.zone}'${didYouMean(o.zone, zones)}; service '${name}' has zones: ${zones.join(', ') || 'default'}`);
      }
    });
  }

  const workloadNames = new Map<string, number>();
  doc.workload.forEach((w, i) => {
    const first = workloadNames.get(w.name);
    if (first === undefined) workloadNames.set(w.name, i);
    else add(['workload', i, 'name'], `duplicate workload name '${w.name}' (also workload.${first})`);

    const target = services.get(w.target);
    if (!target) {
      const names = [...services.keys()];
      add(['workload', i, 'target'], `unknown service '${w.target}'${didYouMean(w.target, names)}; services: ${names.join(', ')}`);
    }
    if (w.zone !== undefined && w.zones !== undefined) add(['workload', i, 'zones'], 'give either zone or zones, not both');
    // Callers may sit in a zone the target is not in, but not in a zone no service has (a typo).
    const allZones = [...new Set([...services.values()].flatMap((svc) => svc.zones ?? ['default']))];
    const check = (zone: string, path: PathSegment[]): void => {
      if (!allZones.includes(zone)) add(path, `unknown zone '${zone}'${didYouMean(zone, allZones)}; zones of this scenario's services: ${allZones.join(', ')}`);
    };
    if (w.zone !== undefined) check(w.zone, ['workload', i, 'zone']);
    (w.zones ?? []).forEach((zone, k) => check(zone, ['workload', i, 'zones', k]));

    if (w.arrival.process === 'closed' && target) {
      // A closed loop whose cycle can take zero time (an instant rejection, refusal or error
      // answers without service) would never let the clock advance.
      const cycle = distMean(w.arrival.think) + 2 * distMean(doc.network.latency);
      if (cycle === 0) {
        add(['workload', i, 'arrival', 'think'], 'a closed loop needs time to pass between requests: give a think time or a network latency above zero');
      }
    }
    if (w.arrival.process !== 'closed') {
      const steps = w.arrival.steps ?? [];
      steps.forEach((s, k) => {
        if (k > 0 && !(s.at > steps[k - 1].at)) {
          add(['workload', i, 'arrival', 'steps', k, 'at'], `steps must be in increasing order of time: ${formatDuration(s.at)} does not come after ${formatDuration(steps[k - 1].at)}`);
        }
      });
    }
  });
  (doc.faults ?? []).forEach((f, i) => checkFault(f, i, doc, services, add));
  checkAsserts(doc, add);
  checkCalls(services, add);
  checkFailover(doc.mesh.failover, ['mesh', 'failover'], undefined, add);
  const inherited = perTryTimeoutOf(doc.mesh.failover);
  for (const [name, svc] of services) checkFailover(svc.mesh?.failover, ['services', name, 'mesh', 'failover'], inherited, add);
  return issues;
}

/** A rule for one variant names one the file has (a file without variants has one, `base`). */
function checkAsserts(doc: ScenarioDocument, add: (path: PathSegment[], message: string) => void): void {
  // A sweep's variant names are made when it is expanded; the loader checks rules against them.
  if (doc.sweep !== undefined) return;
  const declared = Object.keys(doc.variants ?? {});
  const names = declared.length > 0 ? declared : ['base'];
  (doc.assert ?? []).forEach((rule, i) => {
    if (rule.variant === undefined || names.includes(rule.variant)) return;
    add(['assert', i, 'variant'], `unknown variant '${rule.variant}'${didYouMean(rule.variant, names)}; variants: ${names.join(', ')}`);
  });
}

type ServiceDocument = ScenarioDocument['services'][string];
type FailoverDocument = NonNullable<ScenarioDocument['mesh']['failover']>;

/** Every called service exists and is not the caller; the call graph has no cycle. */
function checkCalls(services: Map<string, ServiceDocument>, add: (path: PathSegment[], message: string) => void): void {
  const names = [...services.keys()];
  for (const [name, svc] of services) {
    (svc.calls ?? []).forEach((call, i) => {
      const at: PathSegment[] = ['services', name, 'calls', i, 'service'];
      if (call.service === name) add(at, `service '${name}' calls itself; a service cannot call itself`);
      else if (!services.has(call.service)) {
        const others = names.filter((n) => n !== name);
        add(at, `unknown service '${call.service}'${didYouMean(call.service, others)}; services: ${names.join(', ')}`);
      }
    });
  }
  for (const cycle of callCycles(services)) add(['services', cycle.from, 'calls', cycle.index, 'service'], `call cycle ${cycle.names.join(' → ')}`);
}

interface CallCycle {
  /** The service whose call starts the cycle, and that call's index. */
  readonly from: string;
  readonly index: number;
  /** The services along the cycle, `from` first and last. */
  readonly names: readonly string[];
}

/** The cycles a depth-first walk of the call graph finds (self-calls and unknown services aside), each once. */
function callCycles(services: Map<string, ServiceDocument>): CallCycle[] {
  const state = new Map<string, 'open' | 'done'>();
  /** The calls taken from the walk's root to where it is. */
  const path: { readonly name: string; readonly index: number }[] = [];
  const cycles: CallCycle[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    state.set(name, 'open');
    (services.get(name)?.calls ?? []).forEach((call, index) => {
      const next = call.service;
      if (next === name || !services.has(next) || state.get(next) === 'done') return;
      if (state.get(next) === 'open') {
        const taken = [...path.slice(path.findIndex((step) => step.name === next)), { name, index }];
        const cycle = { from: taken[0].name, index: taken[0].index, names: [...taken.map((step) => step.name), next] };
        const key = `${cycle.index}\u0000${cycle.names.join('\u0000')}`;
        if (!seen.has(key)) cycles.push(cycle);
        seen.add(key);
        return;
      }
      path.push({ name, index });
      visit(next);
      path.pop();
    });
    state.set(name, 'done');
  };
  for (const name of services.keys()) if (!state.has(name)) visit(name);
  return cycles;
}

/** The per-try timeout a failover block gives, in either place. */
function perTryTimeoutOf(f: FailoverDocument | undefined): number | undefined {
  return f?.perTryTimeout ?? f?.retries?.perTryTimeout;
}

/**
 * One mesh's failover block (`at`): perTryTimeout given twice must agree; a hedge needs a
 * delay or onPerTryTimeout, and onPerTryTimeout a per-try timeout, its own or `inherited`
 * from the top-level mesh.
 */
function checkFailover(f: FailoverDocument | undefined, at: PathSegment[], inherited: number | undefined, add: (path: PathSegment[], message: string) => void): void {
  if (f === undefined) return;
  const where = at.map(String).join('.');
  const inRetries = f.retries?.perTryTimeout;
  if (f.perTryTimeout !== undefined && inRetries !== undefined && f.perTryTimeout !== inRetries) {
    add(
      [...at, 'retries', 'perTryTimeout'],
      `perTryTimeout ${formatDuration(inRetries)} differs from ${where}.perTryTimeout (${formatDuration(f.perTryTimeout)}); expected one per-try timeout: give it in one place (or the same value in both)`,
    );
  }
  const hedge = f.hedge;
  if (hedge === undefined) return;
  if (hedge.delay === undefined && hedge.onPerTryTimeout !== true) {
    add(
      [...at, 'hedge'],
      'a hedge needs delay or onPerTryTimeout: true; expected something like { delay: 50ms } (another attempt when none has answered within 50ms) or { onPerTryTimeout: true } (another attempt when a per-try timeout fires)',
    );
  }
  if (hedge.onPerTryTimeout === true && (perTryTimeoutOf(f) ?? inherited) === undefined) {
    const give = at[0] === 'services' ? `${where}.perTryTimeout or mesh.failover.perTryTimeout` : `${where}.perTryTimeout`;
    add([...at, 'hedge', 'onPerTryTimeout'], `onPerTryTimeout needs a per-try timeout, and there is none; expected ${give}, like perTryTimeout: 300ms`);
  }
}

type FaultDocument = NonNullable<ScenarioDocument['faults']>[number];

function checkFault(f: FaultDocument, i: number, doc: ScenarioDocument, services: Map<string, ScenarioDocument['services'][string]>, add: (path: PathSegment[], message: string) => void): void {
  const at = (...p: PathSegment[]): PathSegment[] => ['faults', i, ...p];
  const t = f.target;
  const stochastic = f.mtbf !== undefined || f.mttr !== undefined;
  const flapping = f.up !== undefined || f.down !== undefined;
  if (stochastic && (f.mtbf === undefined || f.mttr === undefined)) add(at(f.mtbf === undefined ? 'mtbf' : 'mttr'), 'a stochastic fault needs both mtbf and mttr');
  if (flapping && f.kind !== 'flap') add(at(f.up !== undefined ? 'up' : 'down'), 'up and down are for kind: flap');
  if (flapping && (f.up === undefined || f.down === undefined)) add(at(f.up === undefined ? 'up' : 'down'), 'a flap needs both up and down');
  if (stochastic && (f.for !== undefined || f.every !== undefined || flapping)) add(at('mtbf'), 'give either mtbf and mttr, or at/for/every (or up/down for a flap), not both');
  if (!stochastic && !flapping && f.at === undefined) add(at('at'), `missing; expected ${DURATION_EXPECTED} (when the fault starts)`);
  const end = doc.duration + drainOf(doc);
  if (f.at !== undefined && f.at >= end) {
    add(at('at'), `the fault would start at ${formatDuration(f.at)}, after the run ends at ${formatDuration(end)} (duration ${formatDuration(doc.duration)} + drain ${formatDuration(drainOf(doc))}), so it would never happen; expected a time before ${formatDuration(end)}`);
  }
  if (f.kind === 'flap' && !flapping && f.every === undefined && !stochastic) add(at('kind'), 'a flap needs up and down (or every and for)');
  if (f.every !== undefined && f.for === undefined) add(at('for'), `missing; a fault repeating every ${formatDuration(f.every)} needs \`for\` (how long each occurrence lasts)`);
  if (f.every !== undefined && f.for !== undefined && f.for >= f.every) add(at('for'), `for (${formatDuration(f.for)}) must be shorter than every (${formatDuration(f.every)})`);
  if (f.kind === 'slow' && f.factor === undefined && f.serviceTime === undefined) add(at('kind'), 'a slow fault needs factor or serviceTime');
  const only = (field: keyof FaultDocument, kinds: readonly string[]): void => {
    if (f[field] !== undefined && !kinds.includes(f.kind)) add(at(field), `${field} applies to ${kinds.join(' and ')} faults, not ${f.kind}`);
  };
  only('factor', ['slow']);
  only('serviceTime', ['slow']);
  only('rate', ['error']);
  only('status', ['error']);
  only('fast', ['error']);
  only('mode', ['partition']);
  const serviceNames = [...services.keys()];
  const checkService = (name: string | undefined, field: string): ScenarioDocument['services'][string] | undefined => {
    if (name === undefined) return undefined;
    const svc = services.get(name);
    if (!svc) add(at('target', field), `unknown service '${name}'${didYouMean(name, serviceNames)}; services: ${serviceNames.join(', ')}`);
    return svc;
  };
  if (f.kind === 'partition') {
    const byWorkload = t.from !== undefined || t.to !== undefined;
    const byZone = t.fromZone !== undefined || t.toZone !== undefined;
    if (byWorkload === byZone) add(at('target'), 'a partition targets a path: { from: <workload>, to: <service> } or { fromZone: a, toZone: b }');
    if (byZone) {
      const zonesKnown = [...new Set([...services.values()].flatMap((svc) => svc.zones ?? ['default']))];
      for (const key of ['fromZone', 'toZone'] as const) {
        const zone = t[key];
        if (zone === undefined) add(at('target', key), 'missing; a zone partition needs both fromZone and toZone');
        else if (!zonesKnown.includes(zone)) add(at('target', key), `unknown zone '${zone}'${didYouMean(zone, zonesKnown)}; zones of this scenario's services: ${zonesKnown.join(', ')}`);
      }
    }
    if (byWorkload) {
      // A caller: a workload, or a service that makes calls (its instances' sidecars).
      const names = [...doc.workload.map((w) => w.name), ...Object.entries(doc.services).filter(([, svc]) => (svc.calls ?? []).length > 0).map(([name]) => name)];
      if (t.from === undefined || !names.includes(t.from)) add(at('target', 'from'), `expected a caller: a workload or a calling service; callers: ${names.join(', ')}`);
      if (t.to === undefined) add(at('target', 'to'), 'missing; expected a service name');
      else checkService(t.to, 'to');
    }
    for (const key of ['service', 'instances', 'fraction', 'zone'] as const) if (t[key] !== undefined) add(at('target', key), 'a partition targets a path (from/to or fromZone/toZone), not instances');
    return;
  }
  for (const key of ['from', 'to', 'fromZone', 'toZone'] as const) if (t[key] !== undefined) add(at('target', key), `${key} is for partitions; a ${f.kind} fault targets a service's instances`);
  if (t.service === undefined) {
    add(at('target', 'service'), 'missing; expected the name of a service');
    return;
  }
  const svc = checkService(t.service, 'service');
  if (!svc) return;
  if ([t.instances, t.fraction, t.zone].filter((x) => x !== undefined).length > 1) add(at('target'), 'give at most one of instances, fraction and zone');
  (t.instances ?? []).forEach((index, j) => {
    if (index >= svc.instances) add(at('target', 'instances', j), `instance ${index} does not exist: service '${t.service}' has instances 0 to ${svc.instances - 1}`);
  });
  const zones = svc.zones ?? ['default'];
  if (t.zone !== undefined && !zones.includes(t.zone)) add(at('target', 'zone'), `unknown zone '${t.zone}'${didYouMean(t.zone, zones)}; service '${t.service}' has zones: ${zones.join(', ')}`);
}

function resolveFault(f: FaultDocument): FaultSpec {
  let schedule: FaultSchedule;
  if (f.mtbf !== undefined && f.mttr !== undefined) schedule = { at: f.at ?? 0, mtbf: f.mtbf, mttr: f.mttr };
  else if (f.up !== undefined && f.down !== undefined) schedule = { at: f.at ?? 0, for: f.down, every: f.up + f.down };
  else schedule = { at: f.at ?? 0, for: f.for ?? Infinity, ...(f.every === undefined ? {} : { every: f.every }) };
  const t = f.target;
  const target = Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));
  return {
    kind: f.kind,
    target,
    schedule,
    ...(f.factor === undefined ? {} : { factor: f.factor }),
    ...(f.serviceTime === undefined ? {} : { serviceTime: f.serviceTime }),
    ...(f.rate === undefined ? {} : { rate: f.rate }),
    ...(f.status === undefined ? {} : { status: f.status }),
    ...(f.fast === undefined ? {} : { fast: f.fast }),
    ...(f.mode === undefined ? {} : { mode: f.mode }),
  };
}

/** The keys a failover block gives, resolved; keys not given are absent. */
function resolveFailover(f: FailoverDocument | undefined): FailoverSpec {
  if (f === undefined) return {};
  const perTryTimeout = perTryTimeoutOf(f);
  const retries = f.retries === undefined ? undefined : (Object.fromEntries(Object.entries(f.retries).filter(([key]) => key !== 'perTryTimeout')) as RetriesSpec);
  const hedge = f.hedge;
  return {
    ...(f.timeout === undefined ? {} : { timeout: f.timeout }),
    ...(perTryTimeout === undefined ? {} : { perTryTimeout }),
    ...(retries === undefined ? {} : { retries }),
    ...(hedge === undefined ? {} : { hedge: { ...(hedge.delay === undefined ? {} : { delay: hedge.delay }), maxAttempts: hedge.maxAttempts ?? 2, onPerTryTimeout: hedge.onPerTryTimeout ?? false } }),
    ...(f.circuitBreaker === undefined ? {} : { circuitBreaker: f.circuitBreaker }),
    ...(f.outlierDetection === undefined ? {} : { outlierDetection: f.outlierDetection }),
    ...(f.healthCheck === undefined ? {} : { healthCheck: f.healthCheck }),
    ...(f.adaptiveThrottling === undefined ? {} : { adaptiveThrottling: f.adaptiveThrottling }),
  };
}

/** A mesh; a failover with no mechanism in it is no failover at all. */
function meshSpec(balancer: PolicySpec, failover: FailoverSpec): MeshSpec {
  return { balancer, ...(Object.keys(failover).length === 0 ? {} : { failover }) };
}

/** The drain a document resolves to: its own, else the longest workload timeout, else {@link DEFAULT_DRAIN_MS}. */
function drainOf(doc: ScenarioDocument): number {
  const timeouts = doc.workload.flatMap((w) => (w.timeout === undefined ? [] : [w.timeout]));
  return doc.drain ?? (timeouts.length > 0 ? Math.max(...timeouts) : DEFAULT_DRAIN_MS);
}

function resolve(doc: ScenarioDocument): Scenario {
  const topFailover = resolveFailover(doc.mesh.failover);
  const services: Record<string, ServiceSpec> = {};
  for (const [name, svc] of Object.entries(doc.services)) {
    services[name] = {
      instances: svc.instances,
      zones: svc.zones ?? ['default'],
      concurrency: svc.concurrency ?? 1,
      queue: svc.queue ?? Infinity,
      serviceTime: svc.serviceTime,
      weight: svc.weight ?? 1,
      priority: svc.priority ?? 0,
      ...(svc.localityWeights === undefined ? {} : { localityWeights: { ...svc.localityWeights } }),
      ...(svc.coldStart === undefined ? {} : { coldStart: { for: svc.coldStart.for, factor: svc.coldStart.factor } }),
      overrides: (svc.overrides ?? []).map(
        (o): InstanceOverride => ({
          instances: o.instances,
          ...(o.serviceTime === undefined ? {} : { serviceTime: o.serviceTime }),
          ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
          ...(o.queue === undefined ? {} : { queue: o.queue }),
          ...(o.weight === undefined ? {} : { weight: o.weight }),
          ...(o.priority === undefined ? {} : { priority: o.priority }),
          ...(o.zone === undefined ? {} : { zone: o.zone }),
        }),
      ),
      calls: (svc.calls ?? []).map((c): CallSpec => ({ service: c.service, parallel: c.parallel ?? 1, probability: c.probability ?? 1, onFailure: c.onFailure ?? 'fail' })),
      // This service's own mesh laid over the top-level one, key by key.
      mesh: meshSpec(svc.mesh?.balancer ?? doc.mesh.balancer, { ...topFailover, ...resolveFailover(svc.mesh?.failover) }),
    };
  }
  const workload = doc.workload.map((w): WorkloadSpec => {
    const arrival: ArrivalSpec =
      w.arrival.process === 'closed'
        ? { process: 'closed', clients: w.arrival.clients, think: w.arrival.think }
        : { process: w.arrival.process, rate: w.arrival.rate, steps: w.arrival.steps ?? [] };
    const zones = w.zones ?? [w.zone ?? services[w.target].zones[0]];
    const key: KeySpec | undefined = w.key === undefined ? undefined : w.key.dist === 'zipf' ? { dist: 'zipf', n: w.key.n, s: w.key.s } : { dist: 'uniform', n: w.key.n };
    return {
      name: w.name,
      target: w.target,
      zone: zones[0],
      sidecars: w.sidecars ?? 1,
      zones,
      ...(key === undefined ? {} : { key }),
      arrival,
      ...(w.timeout === undefined ? {} : { timeout: w.timeout }),
    };
  });
  return {
    name: doc.name,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    seed: doc.seed,
    seeds: doc.seeds,
    duration: doc.duration,
    warmup: doc.warmup,
    drain: drainOf(doc),
    services,
    network: { latency: doc.network.latency, ...(doc.network.crossZone === undefined ? {} : { crossZone: doc.network.crossZone }) },
    workload,
    mesh: meshSpec(doc.mesh.balancer, topFailover),
    membership: (doc.membership ?? []).map((m): MembershipChange => ({ at: m.at, service: m.service, add: m.add ?? 0, remove: m.remove ?? [] })),
    faults: (doc.faults ?? []).map(resolveFault),
    ...(doc.assert === undefined ? {} : { assert: doc.assert }),
    ...(doc.sweep === undefined ? {} : { sweep: doc.sweep }),
  };
}

/**
 * Validates a raw document (as parsed from YAML or JSON) and resolves it: units converted,
 * defaults filled in. Field errors are all reported together; cross-field checks (unknown
 * target service, warmup ≥ duration, ...) run once every field is individually valid.
 */
export function resolveScenario(raw: unknown): Resolution {
  if (isRecord(raw) && raw.schema !== undefined && raw.schema !== SCENARIO_SCHEMA) {
    return {
      ok: false,
      issues: [{ path: ['schema'], message: `unsupported schema ${describeValue(raw.schema)}; this version of meshsim reads ${SCENARIO_SCHEMA}`, expected: SCENARIO_SCHEMA }],
    };
  }
  const parsed = scenarioDocument.safeParse(raw, { reportInput: true, error: houseStyle });
  if (!parsed.success) return { ok: false, issues: fromZod(parsed.error.issues) };
  const issues = crossCheck(parsed.data);
  if (issues.length > 0) return { ok: false, issues };
  const scenario = resolve(parsed.data);
  const tooMuch = workIssues(parsed.data, scenario);
  if (tooMuch.length > 0) return { ok: false, issues: tooMuch };
  return { ok: true, scenario };
}

/** A resolved mesh, or the problems of one (paths start at `at`). */
export type MeshResolution = { readonly ok: true; readonly mesh: MeshSpec } | { readonly ok: false; readonly issues: readonly FieldIssue[] };

const meshDocument = strict({ balancer: balancerSchema, failover: failoverSchema.optional() }, 'a mesh, like { balancer: { kind: round-robin } }');

/**
 * Validates and resolves a `mesh` block on its own (as other meshsim formats embed it, e.g.
 * the proxy's config), with the scenario's schema, checks and defaults; `at` is its path.
 */
export function resolveMesh(raw: unknown, at: readonly PathSegment[] = ['mesh']): MeshResolution {
  const parsed = meshDocument.safeParse(raw, { reportInput: true, error: houseStyle });
  const prefix = (issue: FieldIssue): FieldIssue => ({ ...issue, path: [...at, ...issue.path] });
  if (!parsed.success) return { ok: false, issues: fromZod(parsed.error.issues).map(prefix) };
  const issues: FieldIssue[] = [];
  checkFailover(parsed.data.failover, [...at, 'failover'], undefined, (path, message) => issues.push({ path, message }));
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, mesh: meshSpec(parsed.data.balancer, resolveFailover(parsed.data.failover)) };
}

/**
 * Validates `raw` against another format's zod schema in the scenario's house style
 * ("expected X; got Y", did-you-mean for unknown keys), returning field issues.
 */
export function validateWith<T>(schema: z.ZodType<T>, raw: unknown): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly FieldIssue[] } {
  const parsed = schema.safeParse(raw, { reportInput: true, error: houseStyle });
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: fromZod(parsed.error.issues) };
}

/** A JSON Schema (draft 2020-12) of the scenario file format, for editor completion and validation. */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(documentSchema(balancerJsonSchema()), { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return { ...schema, properties: withSweepRanges(schema.properties), title: SCENARIO_SCHEMA };
}

/**
 * The properties with `sweep`'s values a list or a range string (`max: 0..3`). The zod
 * schema sees a sweep after its ranges are expanded (scenario/load.ts), so it has lists
 * only; the file as written, which the JSON Schema describes, may hold a range instead.
 */
function withSweepRanges(properties: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const sweep = properties?.sweep;
  if (properties === undefined || typeof sweep !== 'object' || sweep === null) return properties;
  const list = (sweep as { additionalProperties?: unknown }).additionalProperties;
  const range = { type: 'string', pattern: SWEEP_RANGE_PATTERN, description: 'a range: whole numbers with both ends included (0..3), or with a step in the ends\' unit (10%..50% step 10%)' };
  return { ...properties, sweep: { ...sweep, additionalProperties: { oneOf: [list, range] } } };
}
