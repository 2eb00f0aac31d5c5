/**
 * `assert:` rules, the CI gates of a scenario (like k6 thresholds): `<metric> <op> <value>`,
 * such as `p99 < 250ms`, `successRate >= 99.9%` or `attemptsPerRequest < 1.2`. Read by a
 * small hand-written scanner (metric, comparison, threshold; no eval), the threshold by the
 * unit parser its metric needs: a latency needs a duration, a rate a `/s`, a success rate
 * a percentage or fraction, everything else a plain number.
 */
import { DURATION_EXPECTED, PERCENT_EXPECTED, RATE_EXPECTED, UnitError, parseDuration, parsePercent, parseRate } from '../core/units.js';
import { describeValue, didYouMean } from './errors.js';
import type { AssertMetric, AssertOp, AssertRule } from './types.js';

/** How a metric's threshold is written and compared. */
export type MetricKind = 'latency' | 'fraction' | 'rate' | 'number';

export interface MetricInfo {
  readonly kind: MetricKind;
  /** What the metric is, for messages and docs. */
  readonly about: string;
}

const latency = (about: string): MetricInfo => ({ kind: 'latency', about });
const count = (about: string): MetricInfo => ({ kind: 'number', about });

/** What a metric of each kind is, in a message: `p99 is a latency`. */
const KIND_NOUN: Readonly<Record<MetricKind, string>> = { latency: 'a latency', fraction: 'a fraction', rate: 'a rate', number: 'a plain number' };

/** Every metric a rule can name, in the order the docs list them. */
export const ASSERT_METRICS: Readonly<Record<AssertMetric, MetricInfo>> = {
  p50: latency('the median latency of succeeded requests'),
  p90: latency('the 90th percentile latency'),
  p99: latency('the 99th percentile latency'),
  p999: latency('the 99.9th percentile latency'),
  max: latency('the slowest succeeded request'),
  mean: latency('the mean latency of succeeded requests'),
  successRate: { kind: 'fraction', about: 'succeeded / issued requests' },
  errorRate: { kind: 'fraction', about: '1 − successRate' },
  throughput: { kind: 'rate', about: 'succeeded requests per second' },
  attemptsPerRequest: { kind: 'number', about: 'attempts the client sidecars sent per request' },
  requests: count('requests issued in the measurement window, all seeds'),
  failed: count('failed requests, all seeds'),
  rejected: count('requests rejected by a full queue, all seeds'),
  timedOut: count('requests that timed out, all seeds'),
  retries: count('retries sent (with a retry policy)'),
  retryBudgetDenied: count('retries and hedges a budget refused (with a retry policy)'),
  hedges: count('hedges sent (with hedging)'),
  hedgesWon: count('hedges whose answer won (with hedging)'),
  throttled: count('requests adaptive throttling rejected (with adaptive throttling)'),
  ejections: count('outlier ejections (with outlier detection)'),
  healthCheckFailures: count('failed health checks (with health checking)'),
  breakerOverflows: count('requests an open circuit breaker refused (with circuit breakers)'),
};

export const METRIC_NAMES = Object.keys(ASSERT_METRICS) as AssertMetric[];

/** The comparisons, two-character ones first (the scanner takes the longest match). */
export const ASSERT_OPS: readonly AssertOp[] = ['<=', '>=', '==', '!=', '<', '>'];

export const RULE_EXPECTED = "a rule like 'p99 < 250ms' or 'successRate >= 99.9%'";
const OPS_EXPECTED = '<, <=, >, >=, == or !=';
const NUMBER_EXPECTED = 'a plain number, like 1.2';

/** Common ways of writing a comparison that are not one of ours. */
const OP_TYPOS: Readonly<Record<string, AssertOp>> = { '=': '==', '===': '==', '!==': '!=', '=<': '<=', '=>': '>=', '<>': '!=', '≤': '<=', '≥': '>=', '≠': '!=' };

const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What a threshold of this kind looks like. */
export function expectedFor(kind: MetricKind): string {
  switch (kind) {
    case 'latency':
      return DURATION_EXPECTED;
    case 'fraction':
      return PERCENT_EXPECTED;
    case 'rate':
      return RATE_EXPECTED;
    case 'number':
      return NUMBER_EXPECTED;
  }
}

function parsePlainNumber(text: string): number {
  const trimmed = text.trim();
  const n = Number(trimmed);
  if (!PLAIN_NUMBER.test(trimmed) || !Number.isFinite(n)) throw new UnitError(`expected ${NUMBER_EXPECTED}; got ${describeValue(text)}`, NUMBER_EXPECTED);
  return n;
}

const PARSERS: Readonly<Record<MetricKind, (text: string) => number>> = {
  latency: parseDuration,
  fraction: parsePercent,
  rate: parseRate,
  number: parsePlainNumber,
};

export type RuleParse = { readonly ok: true; readonly rule: AssertRule } | { readonly ok: false; readonly message: string };

const fail = (message: string): RuleParse => ({ ok: false, message });

/**
 * Reads `<metric> <op> <value>` (spaces around the comparison optional). Problems come back
 * as messages in the house style: what was expected, what was found, and a did-you-mean
 * for a misspelt metric or comparison.
 */
export function parseRule(input: string, variant?: string): RuleParse {
  const text = input.trim();
  if (text === '') return fail(`expected ${RULE_EXPECTED}; got ${describeValue(input)}`);

  // The metric: everything up to a space or a comparison character.
  const metricText = /^[^\s<>=!≤≥≠]*/.exec(text)?.[0] ?? '';
  if (metricText === '') return fail(`expected a metric before the comparison, like 'p99 < 250ms'; got ${describeValue(text)}`);
  if (!Object.hasOwn(ASSERT_METRICS, metricText)) {
    const hint = /^[\d.]/.test(metricText) ? " (the metric comes first, like 'p99 < 250ms')" : didYouMean(metricText, METRIC_NAMES);
    return fail(`unknown metric '${metricText}'${hint}; expected one of ${METRIC_NAMES.join(', ')}`);
  }
  const metric = metricText as AssertMetric;
  const info = ASSERT_METRICS[metric];

  // The comparison.
  const afterMetric = text.slice(metricText.length).trimStart();
  const opText = /^[<>=!≤≥≠]*/.exec(afterMetric)?.[0] ?? '';
  const op = ASSERT_OPS.find((candidate) => candidate === opText);
  if (op === undefined) {
    const typo = OP_TYPOS[opText];
    const found = opText !== '' ? `'${opText}'${typo === undefined ? '' : ` (did you mean '${typo}'?)`}` : afterMetric === '' ? 'nothing' : describeValue(afterMetric);
    return fail(`expected a comparison after '${metric}' (${OPS_EXPECTED}); got ${found}`);
  }

  // The threshold, in the unit its metric needs.
  const valueText = afterMetric.slice(opText.length).trim();
  const expected = expectedFor(info.kind);
  if (valueText === '') return fail(`missing threshold after '${metric} ${op}'; expected ${expected}`);
  let value: number;
  try {
    value = PARSERS[info.kind](valueText);
  } catch (error) {
    if (!(error instanceof UnitError)) throw error;
    const oneComparison = /[<>=!]/.test(valueText) ? '; one comparison per rule: give each its own list item' : '';
    return fail(`${error.message}; ${metric} is ${KIND_NOUN[info.kind]}${oneComparison}`);
  }
  return { ok: true, rule: { ...(variant === undefined ? {} : { variant }), metric, op, value, text: `${metric} ${op} ${valueText}` } };
}
