/**
 * The comparison table, as aligned plain text for the terminal and as GitHub Markdown.
 * One row per variant; the best value of each latency and success column is marked.
 */
import type { Report, VariantReport } from './report.js';
import { tQuantile, type Interval } from './statistics.js';

/** A column of the summary table, shared by the terminal and Markdown tables, report.md's intervals and the HTML page. */
export interface SummaryColumn {
  readonly title: string;
  readonly value: (v: VariantReport) => number | null;
  readonly format: (x: number) => string;
  /** Which direction is better, for marking the best row; undefined = not ranked. */
  readonly better?: 'lower' | 'higher';
  /** The key in `summary.ci` of this figure's interval, printed like the value. */
  readonly ci: keyof VariantReport['summary']['ci'];
}

// Magnitudes decide the digits, so that an interval's negative bound (in a report.json
// written before intervals were cut to their range) reads like the figure.
const ms = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(3));
const pct = (x: number): string => `${(x * 100).toFixed(x === 1 ? 0 : 3)}%`;
export const int = (x: number): string => String(Math.round(x));

export const SUMMARY_COLUMNS: readonly SummaryColumn[] = [
  { title: 'requests', value: (v) => v.summary.requests.total, format: int, ci: 'requests' },
  { title: 'success', value: (v) => v.summary.successRate, format: pct, better: 'higher', ci: 'successRate' },
  { title: 'rejected', value: (v) => v.summary.requests.rejected, format: int, ci: 'rejected' },
  { title: 'timed out', value: (v) => v.summary.requests.timedOut, format: int, ci: 'timedOut' },
  {
    title: '5xx/conn',
    value: (v) => v.summary.requests.errors + v.summary.requests.resets + v.summary.requests.connectFailures,
    format: int,
    ci: 'errorsResetsConnectFailures',
  },
  { title: 'att/req', value: (v) => v.summary.attemptsPerRequest, format: (x) => x.toFixed(2), ci: 'attemptsPerRequest' },
  { title: 'thr/s', value: (v) => v.summary.throughputPerSec, format: (x) => x.toFixed(1), ci: 'throughputPerSec' },
  { title: 'mean ms', value: (v) => v.summary.latencyMs.mean, format: ms, better: 'lower', ci: 'mean' },
  { title: 'p50 ms', value: (v) => v.summary.latencyMs.p50, format: ms, better: 'lower', ci: 'p50' },
  { title: 'p90 ms', value: (v) => v.summary.latencyMs.p90, format: ms, better: 'lower', ci: 'p90' },
  { title: 'p99 ms', value: (v) => v.summary.latencyMs.p99, format: ms, better: 'lower', ci: 'p99' },
  { title: 'p99.9 ms', value: (v) => v.summary.latencyMs.p999, format: ms, better: 'lower', ci: 'p999' },
  { title: 'max ms', value: (v) => v.summary.latencyMs.max, format: ms, ci: 'max' },
  { title: 'max/mean', value: (v) => v.spread[0]?.maxOverMean ?? null, format: (x) => x.toFixed(2), better: 'lower', ci: 'maxOverMean' },
];

/**
 * The best of `values` as printed by `format`, to be marked on every row that prints it
 * (ties as printed, so two rows reading 1.00 are both best or neither); undefined when
 * nothing is ranked or every row prints the same value (a tie everywhere has no best).
 * The HTML report's summary table marks by the same rule.
 */
export function printedBest(values: readonly (number | null)[], format: (x: number) => string, better: 'lower' | 'higher' | undefined): string | undefined {
  if (better === undefined || values.length < 2) return undefined;
  const xs = values.filter((x): x is number => x !== null);
  if (xs.length === 0) return undefined;
  const top = format(better === 'lower' ? Math.min(...xs) : Math.max(...xs));
  return values.every((x) => x !== null && format(x) === top) ? undefined : top;
}

const printed = (c: SummaryColumn, x: number | null): string => (x === null ? '–' : c.format(x));

/** Cells as displayed, the best of each ranked column marked (see {@link printedBest}). */
function cells(report: Report, mark: (s: string) => string): string[][] {
  const shown = report.variants.map((v) => [v.name, ...SUMMARY_COLUMNS.map((c) => printed(c, c.value(v)))]);
  const best = SUMMARY_COLUMNS.map((c) => printedBest(report.variants.map(c.value), c.format, c.better));
  return shown.map((r) => r.map((s, i) => (i > 0 && best[i - 1] !== undefined && s === best[i - 1] ? mark(s) : s)));
}

/** Plain-text rows under a header and a rule: the first column left-aligned, the others right. */
function aligned(header: readonly string[], body: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

/** An interval as `[lo, hi]` in its figure's format; – when there is none. */
export const intervalCell = (i: Interval | null | undefined, format: (x: number) => string): string =>
  i === null || i === undefined ? '–' : `[${format(i[0])}, ${format(i[1])}]`;

export function formatTable(report: Report): string {
  const out = aligned(['variant', ...SUMMARY_COLUMNS.map((c) => c.title)], cells(report, (s) => `${s}*`));
  if (report.variants.length > 1) out.push('', '* best of the variants');
  const intervals = intervalLines(report);
  if (intervals.length > 0) out.push('', ...intervals);
  return out.join('\n') + '\n';
}

/** The columns whose intervals the terminal shows under the table (report.md has them all). */
const TERMINAL_INTERVALS: readonly string[] = ['success', 'att/req', 'thr/s', 'mean ms', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms'];

/**
 * The 95% confidence intervals of the headline figures, aligned like the table: empty with
 * one seed (no interval exists). The method is report.md's (Student t over the per-seed values).
 */
export function formatIntervalTable(report: Report): string {
  const lines = intervalLines(report);
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

function intervalLines(report: Report): string[] {
  const n = report.seeds.length;
  if (n < 2) return [];
  const columns = SUMMARY_COLUMNS.filter((c) => TERMINAL_INTERVALS.includes(c.title));
  const body = report.variants.map((v) => [v.name, ...columns.map((c) => intervalCell(v.summary.ci[c.ci], c.format))]);
  const t = tQuantile(0.975, n - 1).toFixed(2);
  return [`95% confidence intervals over ${n} seeds (Student t, t(0.975, ${n - 1}) = ${t}; every column and the method: report.md)`, ...aligned(['variant', ...columns.map((c) => c.title)], body)];
}

export function formatMarkdownTable(report: Report): string {
  const header = ['variant', ...SUMMARY_COLUMNS.map((c) => c.title)];
  const body = cells(report, (s) => `**${s}**`);
  const row = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  const align = `|${header.map((_, i) => (i === 0 ? ' :-- ' : ' --: ')).join('|')}|`;
  return [row(header), align, ...body.map(row)].join('\n') + '\n';
}
