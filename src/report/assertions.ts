/**
 * CI gates: a scenario's `assert:` rules evaluated against each variant's report summary
 * (every variant for a plain rule, the named one for `{ variant, rule }`).
 *
 * Figures are compared at the report's resolution (1e-6, the rounding of every figure in
 * report.json), so a threshold written as `99.9%` meets a success rate of exactly 0.999.
 * A rule on a figure the variant does not have (a latency when nothing succeeded, a
 * retry counter without a retry policy) fails, with the reason, rather than passing.
 *
 * `margin` is how far the figure is from the threshold, in the metric's unit, signed so
 * that positive is the passing side and negative the failing side: `threshold − actual`
 * for `<` and `<=`, `actual − threshold` for `>` and `>=`, `−|actual − threshold|` for
 * `==` and `|actual − threshold|` for `!=`. A margin of 0 sits on the threshold: it passes
 * `<=`, `>=` and `==`, and fails `<`, `>` and `!=`.
 */
import { ASSERT_METRICS } from '../scenario/assert.js';
import type { AssertMetric, AssertOp, AssertRule } from '../scenario/types.js';
import type { AssertionResult, Report, Summary } from './report.js';

export type { AssertionResult };

/** What a variant offers a rule: its name and summary. */
export interface AssertedVariant {
  readonly name: string;
  readonly summary: Summary;
}

/** Rounds to 1e-6, as report.ts does every figure. */
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6 + 0;

type Figure = { readonly value: number } | { readonly value: null; readonly reason: string };

const NO_LATENCY = 'no request succeeded, so there is no latency';
const NO_REQUESTS = 'no request was issued';

/** Which mechanism a counter comes with, for the reason it is missing. */
const COUNTER_MECHANISM: Partial<Record<AssertMetric, string>> = {
  retries: 'no retry policy',
  retryBudgetDenied: 'no retry policy',
  hedges: 'no hedging',
  hedgesWon: 'no hedging',
  throttled: 'no adaptive throttling',
  ejections: 'no outlier detection',
  healthCheckFailures: 'no health checking',
  breakerOverflows: 'no circuit breaker',
};

/** The variant's figure for `metric`, in the metric's unit. */
export function figureOf(metric: AssertMetric, summary: Summary): Figure {
  const orMissing = (value: number | null | undefined, reason: string): Figure => (value === null || value === undefined ? { value: null, reason } : { value });
  switch (metric) {
    case 'p50':
    case 'p90':
    case 'p99':
    case 'p999':
    case 'max':
    case 'mean':
      return orMissing(summary.latencyMs[metric], NO_LATENCY);
    case 'successRate':
      return orMissing(summary.successRate, NO_REQUESTS);
    case 'errorRate':
      return orMissing(summary.successRate === null ? null : round6(1 - summary.successRate), NO_REQUESTS);
    case 'throughput':
      return { value: summary.throughputPerSec };
    case 'attemptsPerRequest':
      return orMissing(summary.attemptsPerRequest, NO_REQUESTS);
    case 'requests':
      return { value: summary.requests.total };
    case 'failed':
    case 'rejected':
    case 'timedOut':
      return { value: summary.requests[metric] };
    default:
      return orMissing(summary[metric], `the variant has no ${metric} counter (${COUNTER_MECHANISM[metric] ?? 'not configured'} in its mesh)`);
  }
}

function compare(op: AssertOp, difference: number): { pass: boolean; margin: number } {
  switch (op) {
    case '<':
      return { pass: difference < 0, margin: -difference + 0 };
    case '<=':
      return { pass: difference <= 0, margin: -difference + 0 };
    case '>':
      return { pass: difference > 0, margin: difference };
    case '>=':
      return { pass: difference >= 0, margin: difference };
    case '==':
      return { pass: difference === 0, margin: -Math.abs(difference) + 0 };
    case '!=':
      return { pass: difference !== 0, margin: Math.abs(difference) };
  }
}

/** One rule against one variant. */
export function evaluateRule(rule: AssertRule, variant: AssertedVariant): AssertionResult {
  const threshold = round6(rule.value);
  const head = { rule: rule.text, variant: variant.name, metric: rule.metric, op: rule.op, threshold };
  const figure = figureOf(rule.metric, variant.summary);
  if (figure.value === null) return { ...head, actual: null, pass: false, margin: null, reason: figure.reason };
  const actual = figure.value;
  return { ...head, actual, ...compare(rule.op, round6(actual - threshold)) };
}

/**
 * Every rule against the variants it applies to, in rule order, then variant order. A rule
 * naming a variant that did not run (`--variant`) gives no result; see {@link skippedRules}.
 */
export function evaluateAssertions(rules: readonly AssertRule[], variants: readonly AssertedVariant[]): AssertionResult[] {
  return rules.flatMap((rule) => variants.filter((v) => rule.variant === undefined || rule.variant === v.name).map((v) => evaluateRule(rule, v)));
}

/**
 * The report with `assertions` (placed before `variants`, where people reading report.json
 * see it first); the report unchanged, byte for byte, when the scenario has no `assert`.
 */
export function withAssertions(report: Report, rules: readonly AssertRule[] | undefined): Report {
  if (rules === undefined) return report;
  const { variants, ...head } = report;
  return { ...head, assertions: evaluateAssertions(rules, variants), variants };
}

/** The rules for one variant that is not among those that ran. */
export function skippedRules(rules: readonly AssertRule[], ran: readonly string[]): AssertRule[] {
  return rules.filter((rule) => rule.variant !== undefined && !ran.includes(rule.variant));
}

// ---------------------------------------------------------------------------------------
// Text

/** Like the table's ms columns, trailing zeros dropped: `312.4`, `62.4`, `25.41`, `0.25`. */
const ms = (x: number): string => String(Number(x.toFixed(Math.abs(x) >= 100 ? 1 : Math.abs(x) >= 10 ? 2 : 3)));
const plain = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))));

/** A figure in its metric's unit, for people: `312.4 ms`, `99.950%`, `903.7/s`, `1.2`. */
export function formatFigure(metric: AssertMetric, x: number): string {
  switch (ASSERT_METRICS[metric].kind) {
    case 'latency':
      return `${ms(x)} ms`;
    case 'fraction':
      return `${(x * 100).toFixed(3)}%`;
    case 'rate':
      return `${x.toFixed(1)}/s`;
    case 'number':
      return plain(x);
  }
}

/** A difference between two figures: percentage points for fractions, else the figure's own unit. */
function formatDifference(metric: AssertMetric, x: number): string {
  return ASSERT_METRICS[metric].kind === 'fraction' ? `${(x * 100).toFixed(3)} points` : formatFigure(metric, x);
}

/** `62.4 ms over`, `0.050 points under`, `exactly at the threshold`, or why there is no figure. */
export function describeStanding(r: AssertionResult): string {
  if (r.actual === null) return `no value: ${r.reason ?? 'missing'}`;
  const difference = round6(r.actual - r.threshold);
  return difference === 0 ? 'exactly at the threshold' : `${formatDifference(r.metric, Math.abs(difference))} ${difference > 0 ? 'over' : 'under'}`;
}

/** `312.4 ms, 62.4 ms over` — the figure and how it stands against the threshold. */
export function describeOutcome(r: AssertionResult): string {
  return r.actual === null ? describeStanding(r) : `${formatFigure(r.metric, r.actual)}, ${describeStanding(r)}`;
}

/** `FAIL p99 < 250ms (variant round-robin): 312.4 ms, 62.4 ms over`. */
export function formatAssertion(r: AssertionResult): string {
  return `${r.pass ? 'PASS' : 'FAIL'} ${r.rule} (variant ${r.variant}): ${describeOutcome(r)}`;
}

/** The lines `meshsim run` prints: every result, skipped rules, and a closing count. */
export function assertionLines(results: readonly AssertionResult[], skipped: readonly AssertRule[] = []): string[] {
  const failed = results.filter((r) => !r.pass).length;
  const summary =
    failed === 0
      ? `assertions: all ${results.length} passed`
      : `assertions: ${failed} of ${results.length} failed`;
  return [
    ...results.map(formatAssertion),
    ...skipped.map((rule) => `SKIP ${rule.text} (variant ${rule.variant ?? ''}): the variant was not run`),
    summary + (skipped.length === 0 ? '' : `, ${skipped.length} skipped`),
  ];
}
