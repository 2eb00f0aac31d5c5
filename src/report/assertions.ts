/**
 * CI gates: a scenario's `assert:` rules evaluated against each variant's report summary
 * (every variant for a plain rule, the named one for `{ variant, rule }`).
 *
 * Figures are compared at the report's resolution (1e-6, the rounding of every figure in
 * report.json), so a threshold written as `99.9%` meets a success rate of exactly 0.999.
 * A rule on a figure the variant does not have (a latency when nothing succeeded, a
 * retry counter without a retry policy) fails, with the reason, rather than passing.
 * A rule for a variant that did not run (`--variant`) is recorded as skipped, so that the
 * report holds every rule: `pass: true` and `skipped: true`, since it fails nothing (the
 * run exits 0 for it) and readers that gate on `pass` must keep agreeing with the exit code.
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

/** The `reason` of a skipped rule, and the end of its SKIP line. */
export const NOT_RUN = 'the variant was not run';

/** A `{ variant, rule }` whose variant did not run: recorded, not checked, failing nothing. */
export function skippedRule(rule: AssertRule & { readonly variant: string }): AssertionResult {
  return { rule: rule.text, variant: rule.variant, metric: rule.metric, op: rule.op, threshold: round6(rule.value), actual: null, pass: true, margin: null, reason: NOT_RUN, skipped: true };
}

/**
 * Every rule against the variants it applies to, in rule order, then variant order. A rule
 * naming a variant that did not run (`--variant`) gives one skipped result in its place.
 */
export function evaluateAssertions(rules: readonly AssertRule[], variants: readonly AssertedVariant[]): AssertionResult[] {
  return rules.flatMap((rule) => {
    const { variant } = rule;
    if (variant !== undefined && !variants.some((v) => v.name === variant)) return [skippedRule({ ...rule, variant })];
    return variants.filter((v) => variant === undefined || variant === v.name).map((v) => evaluateRule(rule, v));
  });
}

/** How many results were checked (skipped ones aside), how many of those failed, and how many were skipped. */
export function assertionCounts(results: readonly AssertionResult[]): { readonly checked: number; readonly failed: number; readonly skipped: number } {
  const skipped = results.filter((r) => r.skipped === true).length;
  return { checked: results.length - skipped, failed: results.filter((r) => !r.pass && r.skipped !== true).length, skipped };
}

/**
 * `all 3 passed`, `1 of 3 failed`, `… , 1 skipped`, `none checked, 1 skipped`: the closing
 * count of the terminal, report.md and the HTML page; `strong` marks the failed part.
 */
export function assertionTally(results: readonly AssertionResult[], strong: (s: string) => string = (s) => s): string {
  const { checked, failed, skipped } = assertionCounts(results);
  const head = checked === 0 && skipped > 0 ? 'none checked' : failed === 0 ? `all ${checked} passed` : strong(`${failed} of ${checked} failed`);
  return head + (skipped === 0 ? '' : `, ${skipped} skipped`);
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

/** `62.4 ms over`, `0.050 points under`, `exactly at the threshold`, why there is no figure, or why the rule was skipped. */
export function describeStanding(r: AssertionResult): string {
  if (r.skipped === true) return r.reason ?? NOT_RUN;
  if (r.actual === null) return `no value: ${r.reason ?? 'missing'}`;
  const difference = round6(r.actual - r.threshold);
  return difference === 0 ? 'exactly at the threshold' : `${formatDifference(r.metric, Math.abs(difference))} ${difference > 0 ? 'over' : 'under'}`;
}

/** `312.4 ms, 62.4 ms over` — the figure and how it stands against the threshold. */
export function describeOutcome(r: AssertionResult): string {
  return r.actual === null ? describeStanding(r) : `${formatFigure(r.metric, r.actual)}, ${describeStanding(r)}`;
}

/** `PASS`, `FAIL` or `SKIP`. */
export function assertionOutcome(r: AssertionResult): 'PASS' | 'FAIL' | 'SKIP' {
  return r.skipped === true ? 'SKIP' : r.pass ? 'PASS' : 'FAIL';
}

/** `FAIL p99 < 250ms (variant round-robin): 312.4 ms, 62.4 ms over`; `SKIP … (variant p2c): the variant was not run`. */
export function formatAssertion(r: AssertionResult): string {
  return `${assertionOutcome(r)} ${r.rule} (variant ${r.variant}): ${describeOutcome(r)}`;
}

/** The lines `meshsim run` prints: every result, skipped ones included, in report order, and a closing count. */
export function assertionLines(results: readonly AssertionResult[]): string[] {
  return [...results.map(formatAssertion), `assertions: ${assertionTally(results)}`];
}
