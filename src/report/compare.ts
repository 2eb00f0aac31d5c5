/**
 * `meshsim compare A B [...]`: the variants of reports B, C… against the same-named variants
 * of report A (or, when each side has a single variant under different names, those two),
 * figure by figure, with the statistics of src/report/statistics.ts: paired by seed when
 * both sides ran the same seeds, else unpaired (delta-method t interval on B/A, two-sample permutation
 * test). Reports of different scenarios (name or sha256) are refused unless forced.
 */
import { z } from 'zod';
import { readReportDocument } from './read.js';
import {
  compareRuns,
  figureValue,
  FIGURE_LABEL,
  formatP,
  multipleComparisonsNote,
  comparisonsCount,
  notComparedGroups,
  sameOnEverySeed,
  STAT_FIGURES,
  tooFewSeeds,
  tooFewSeedsGroups,
  type ComparisonMethod,
  type FigureComparison,
  type SeededFigures,
  type StatFigure,
} from './statistics.js';

export const COMPARE_SCHEMA = 'meshsim/compare@1';

/** A report that cannot be compared: unreadable, not a report, or of another scenario. */
export class CompareError extends Error {}

const nullableNumber = z.number().nullable();
const figures = {
  successRate: nullableNumber,
  throughputPerSec: z.number(),
  latencyMs: z.object({ mean: nullableNumber, p50: nullableNumber, p90: nullableNumber, p99: nullableNumber, p999: nullableNumber }),
  attemptsPerRequest: nullableNumber,
};
/** The part of `meshsim/report@1` that compare reads. */
const ReportShape = z.object({
  schema: z.string(),
  scenario: z.object({ name: z.string(), sha256: z.string() }),
  plugins: z.array(z.object({ file: z.string(), sha256: z.string().nullable(), kinds: z.array(z.string()) })).optional(),
  seeds: z.array(z.number()),
  variants: z.array(z.object({ name: z.string(), summary: z.object(figures), runs: z.array(z.object({ seed: z.number(), ...figures })) })),
});
export type ComparedReport = z.infer<typeof ReportShape>;

export interface LoadedReport {
  /** As given on the command line. */
  readonly file: string;
  readonly report: ComparedReport;
}

/** Reads a report.json, or the report.json in a directory; errors name the file. */
export function loadReport(path: string): LoadedReport {
  const { file, json } = readReportDocument(path, (message) => new CompareError(message));
  const parsed = ReportShape.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CompareError(`${file}: invalid report at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return { file, report: parsed.data };
}

/** One figure of one pair: both pooled figures and the statistics of the difference. */
export interface ComparedFigure extends FigureComparison {
  /** The baseline's (A's) summary figure, and the other report's. */
  readonly a: number | null;
  readonly b: number | null;
}

export interface Pair {
  /** The report B's label (`B`, `C`…) and file. */
  readonly label: string;
  readonly file: string;
  /** The variant of A and of B compared. */
  readonly baselineVariant: string;
  readonly variant: string;
  readonly method: ComparisonMethod;
  readonly figures: { readonly [F in StatFigure]: ComparedFigure };
}

/** One report compared: its label, file, scenario, seeds, and the plugins its run loaded (when any). */
export interface ComparisonReportEntry {
  readonly label: string;
  readonly file: string;
  readonly scenario: { readonly name: string; readonly sha256: string };
  readonly plugins?: ComparedReport['plugins'];
  readonly seeds: readonly number[];
}

export interface Comparison {
  readonly schema: typeof COMPARE_SCHEMA;
  readonly scenario: { readonly name: string; readonly sha256: string };
  readonly reports: readonly ComparisonReportEntry[];
  readonly statistics: { readonly confidence: number; readonly paired: string; readonly welch: string };
  readonly pairs: readonly Pair[];
  /** Reports of other scenarios compared with --force, variants without a counterpart. */
  readonly warnings: readonly string[];
}

export const COMPARE_METHOD = {
  confidence: 0.95,
  paired:
    'same seeds on both sides: per seed ln(B/A), reported as exp(mean) − 1 (the geometric mean over seeds of B/A, − 1) with exp of a Student t 95% interval over the log ratios, − 1 (a figure that is 0 on some seed: (B − A)/mean(A) per seed, mean(B)/mean(A) − 1), p from an exact two-sided sign-flip permutation test (Monte Carlo, 20000 seeded draws, past 16 seeds)',
  welch:
    'different seeds: R − 1 = mean(B)/mean(A) − 1 of the per-seed values, a 95% delta-method interval on the ratio of means (se² = R²(va/mean(A)² + vb/mean(B)²), va and vb the squared standard errors of the means; t at Welch–Satterthwaite degrees of freedom), p from a two-sample permutation test on the difference of means (exact up to 200000 relabellings, else 20000 seeded draws)',
} as const;

const LABELS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const labelOf = (i: number): string => LABELS[i] ?? `R${i + 1}`;

/** Which variants of `b` to compare with which of `a`: same names, else the single variants. */
function matchVariants(a: ComparedReport, b: ComparedReport): { pairs: [string, string][]; unmatched: string[] } {
  const names = new Set(a.variants.map((v) => v.name));
  const pairs: [string, string][] = b.variants.filter((v) => names.has(v.name)).map((v) => [v.name, v.name]);
  if (pairs.length === 0 && a.variants.length === 1 && b.variants.length === 1) return { pairs: [[a.variants[0].name, b.variants[0].name]], unmatched: [] };
  return { pairs, unmatched: b.variants.filter((v) => !names.has(v.name)).map((v) => v.name) };
}

/** Compares reports[1..] with reports[0]; throws CompareError for other scenarios (unless `force`) or nothing to compare. */
export function compareReports(reports: readonly LoadedReport[], options: { readonly force?: boolean } = {}): Comparison {
  if (reports.length < 2) throw new CompareError('compare needs at least two reports');
  const [base, ...others] = reports;
  const warnings: string[] = [];
  for (const other of others) {
    const sa = base.report.scenario;
    const sb = other.report.scenario;
    if (sa.name === sb.name && sa.sha256 === sb.sha256) continue;
    const what = sa.name !== sb.name ? `scenario "${sa.name}" vs "${sb.name}"` : `the same name "${sa.name}" but different scenario files (sha256 ${sa.sha256.slice(0, 12)}… vs ${sb.sha256.slice(0, 12)}…)`;
    const message = `${base.file} and ${other.file} are reports of different scenarios: ${what}`;
    if (!options.force) throw new CompareError(`${message}; their figures are not comparable. Compare them anyway with --force`);
    warnings.push(`${message} (compared with --force)`);
  }
  const pairs: Pair[] = [];
  others.forEach((other, k) => {
    const label = labelOf(k + 1);
    const { pairs: matched, unmatched } = matchVariants(base.report, other.report);
    for (const name of unmatched) warnings.push(`${other.file}: variant ${name} has no counterpart in ${base.file}`);
    for (const [aName, bName] of matched) {
      const va = base.report.variants.find((v) => v.name === aName);
      const vb = other.report.variants.find((v) => v.name === bName);
      if (va === undefined || vb === undefined) continue;
      const names = { variant: `${bName} [${label}]`, baseline: `${aName} [A]` };
      const c = compareRuns(names, va.runs as readonly SeededFigures[], vb.runs as readonly SeededFigures[]);
      const figs: Partial<Record<StatFigure, ComparedFigure>> = {};
      for (const f of STAT_FIGURES) figs[f] = { a: figureValue(f, va.summary), b: figureValue(f, vb.summary), ...c.figures[f] };
      pairs.push({ label, file: other.file, baselineVariant: aName, variant: bName, method: c.method, figures: figs as Pair['figures'] });
    }
  });
  if (pairs.length === 0) {
    throw new CompareError(`no variant to compare: ${others.map((o) => o.file).join(', ')} share no variant name with ${base.file} (${base.report.variants.map((v) => v.name).join(', ')})`);
  }
  return {
    schema: COMPARE_SCHEMA,
    scenario: base.report.scenario,
    reports: reports.map((r, i) => ({
      label: labelOf(i),
      file: r.file,
      scenario: r.report.scenario,
      ...(r.report.plugins === undefined ? {} : { plugins: r.report.plugins }),
      seeds: r.report.seeds,
    })),
    statistics: COMPARE_METHOD,
    pairs,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------
// Output

const ms = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(3));
function formatValue(f: StatFigure, x: number | null): string {
  if (x === null) return '–';
  switch (f) {
    case 'successRate':
      return `${(x * 100).toFixed(3)}%`;
    case 'throughputPerSec':
      return `${x.toFixed(1)}/s`;
    case 'attemptsPerRequest':
      return x.toFixed(3);
    default:
      return `${ms(x)} ms`;
  }
}
const signedPct = (x: number): string => `${x >= 0 ? '+' : '−'}${Number(Math.abs(x * 100).toPrecision(3))}%`;

/** The cells of one pair's rows: figure, A, B, change, 95% CI, p, verdict. */
function rows(pair: Pair, mark: (s: string) => string): string[][] {
  return STAT_FIGURES.map((f) => {
    const c = pair.figures[f];
    const change = c.relative === null ? '–' : signedPct(c.relative);
    return [
      FIGURE_LABEL[f],
      formatValue(f, c.a),
      formatValue(f, c.b),
      c.significant ? mark(change) : change,
      c.ci === null ? '–' : `${signedPct(c.ci[0])} to ${signedPct(c.ci[1])}`,
      c.p === null ? '–' : formatP(c.p),
      c.relative === null
        ? 'not compared'
        : c.significant
          ? c.relative < 0
            ? 'lower'
            : 'higher'
          : sameOnEverySeed(c, pair.method)
            ? 'same'
            : tooFewSeeds(c, pair.method)
              ? 'too few seeds'
              : 'no sig. difference',
    ];
  });
}

/** `, plugins file (sha256 prefix)…` for a report whose run loaded plugins: tells a before/after of a plugin's code apart. */
function pluginsNote(r: ComparisonReportEntry, code: (s: string) => string): string {
  if (r.plugins === undefined || r.plugins.length === 0) return '';
  return `, plugin${r.plugins.length === 1 ? '' : 's'} ${r.plugins.map((p) => `${p.file} ${p.sha256 === null ? '(not a file)' : code(`${p.sha256.slice(0, 12)}…`)}`).join(', ')}`;
}

const methodLine = (pair: Pair): string => (pair.method === 'paired' ? 'paired by seed' : 'unpaired (different seeds): delta-method interval on B/A, Welch df');
const pairTitle = (pair: Pair): string => `${pair.variant} [${pair.label}] vs ${pair.baselineVariant} [A]`;

/**
 * What the change column is, for the footnote: not B/A − 1 of the A and B columns (the
 * pooled figures), but computed over the seeds, as the pairs' methods say.
 */
export function changeNote(c: Comparison): string {
  const methods = new Set(c.pairs.map((p) => p.method));
  const parts = [
    ...(methods.has('paired') ? [`${methods.size > 1 ? 'paired: ' : ''}the geometric mean over seeds of B/A, − 1 (mean(B)/mean(A) − 1 over the seeds for a figure that is 0 on some seed)`] : []),
    ...(methods.has('welch') ? [`${methods.size > 1 ? 'unpaired: ' : ''}mean(B)/mean(A) − 1 of the per-seed values`] : []),
  ];
  return `change: ${parts.join('; ')}; the A and B columns are the pooled figures, so change need not equal their ratio − 1.`;
}

/** The terminal table: a block per pair. */
export function formatComparisonTable(c: Comparison): string {
  const out: string[] = [`scenario ${c.scenario.name}`];
  for (const r of c.reports) out.push(`  ${r.label}: ${r.file} (${r.seeds.length} seed${r.seeds.length === 1 ? '' : 's'}: ${r.seeds.join(', ')})${pluginsNote(r, (s) => s)}`);
  for (const w of c.warnings) out.push(`warning: ${w}`);
  const header = ['figure', 'A', 'B', 'change', '95% CI', 'p', ''];
  for (const pair of c.pairs) {
    const body = rows(pair, (s) => `${s}*`);
    const head = [...header];
    head[2] = pair.label;
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
    const line = (r: readonly string[]): string =>
      r
        .map((cell, i) => (i === 0 || i === r.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join('  ')
        .trimEnd();
    out.push('', `${pairTitle(pair)} — ${methodLine(pair)}`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line));
  }
  out.push('', `* significant: p < 0.05 and the 95% CI excludes 0. ${changeNote(c)}`);
  const notes = [...new Set(c.pairs.flatMap((p) => tooFewSeedsGroups(p.figures, p.method).map((g) => g.note)))];
  for (const note of notes) out.push(`  ${note}: no change can be significant, whatever its 95% CI.`);
  const multiple = multipleComparisonsNote(comparisonsCount(c.pairs));
  if (multiple !== null) out.push(multiple);
  return out.join('\n') + '\n';
}

/** Markdown, ready for a pull-request comment. */
export function formatComparisonMarkdown(c: Comparison): string {
  const out: string[] = [`## meshsim compare: ${c.scenario.name}`, ''];
  for (const r of c.reports) out.push(`- **${r.label}**: \`${r.file}\` — ${r.seeds.length} seed${r.seeds.length === 1 ? '' : 's'} (${r.seeds.join(', ')}), scenario sha256 \`${r.scenario.sha256.slice(0, 12)}…\`${pluginsNote(r, (s) => `\`${s}\``)}`);
  for (const w of c.warnings) out.push(`- ⚠️ ${w}`);
  for (const pair of c.pairs) {
    out.push('', `### ${pairTitle(pair)}`, '', `${pair.method === 'paired' ? `Paired by seed (${COMPARE_METHOD.paired})` : `Unpaired (${COMPARE_METHOD.welch})`}.`, '');
    out.push(`| figure | A | ${pair.label} | change | 95% CI | p | |`, '| :-- | --: | --: | --: | --: | --: | :-- |');
    for (const r of rows(pair, (s) => `**${s}**`)) out.push(`| ${r.join(' | ')} |`);
    const findings = STAT_FIGURES.filter((f) => pair.figures[f].significant).map((f) => `- ${pair.figures[f].verdict}`);
    const few = tooFewSeedsGroups(pair.figures, pair.method).map((g) => `- ${g.note}: ${g.figures.map((f) => FIGURE_LABEL[f]).join(', ')}`);
    // Not compared at all (no seed with the figure on both sides…): not "no significant difference".
    const notCompared = notComparedGroups(pair.figures).map((g) => `- not compared (${g.reason}): ${g.figures.map((f) => FIGURE_LABEL[f]).join(', ')}`);
    const tested = STAT_FIGURES.some((f) => pair.figures[f].relative !== null);
    const none = findings.length + few.length === 0 && tested ? [`No significant difference${notCompared.length > 0 ? ' in the figures compared' : ''}.`] : [];
    out.push('', ...none, ...findings, ...few, ...(none.length > 0 && notCompared.length > 0 ? [''] : []), ...notCompared);
  }
  out.push('', `Bold: significant (p < 0.05 and the 95% CI excludes 0). ${changeNote(c)}`);
  const multiple = multipleComparisonsNote(comparisonsCount(c.pairs));
  if (multiple !== null) out.push('', multiple);
  return out.join('\n') + '\n';
}

export function comparisonJson(c: Comparison): string {
  return JSON.stringify(c, null, 2) + '\n';
}
