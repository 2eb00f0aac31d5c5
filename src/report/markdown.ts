/** report.md: the human-readable report, ready to paste into a pull request. */
import { assertionCounts, assertionTally, describeStanding, formatFigure } from './assertions.js';
import { formatMarkdownTable, int, intervalCell, SUMMARY_COLUMNS } from './table.js';
import type { AssertionResult, InstanceReport, Report, VariantReport } from './report.js';
import {
  comparisonsCount,
  COUNTER_FIGURES,
  FIGURE_LABEL,
  formatP,
  multipleComparisonsNote,
  notComparedGroups,
  PAIRED_SEEDS_NEEDED,
  sameOnEverySeed,
  STAT_FIGURES,
  tooFewSeedsGroups,
  type CounterFigure,
  type StatFigure,
} from './statistics.js';

export function reportMarkdown(report: Report): string {
  const pct = (report.percentiles.relativeError * 100).toFixed(1);
  return [
    `# meshsim report: ${report.scenario.name}`,
    '',
    `- scenario sha256: \`${report.scenario.sha256}\``,
    ...pluginsLines(report),
    `- seeds: ${report.seeds.join(', ')} (${report.seeds.length} replication${report.seeds.length === 1 ? '' : 's'})`,
    `- generator: ${report.generator}, mode: ${report.mode}`,
    `- latency: client-observed, succeeded requests only, pooled over seeds; percentiles from a DDSketch (relative error ≤ ${pct}%)`,
    ...assertionsLine(report),
    '',
    formatMarkdownTable(report),
    report.variants.length > 1 ? 'Bold: best of the variants. max/mean: the busiest instance\'s request rate over the mean.\n' : '',
    intervalsSection(report),
    differencesSection(report),
    multipleComparisonsLine(report),
    assertionsSection(report),
    spreadSection(report),
    instancesSection(report),
    membershipSection(report),
  ].join('\n');
}

/** Below the differences: the tests are not corrected for multiple comparisons (no comparison: nothing). */
function multipleComparisonsLine(report: Report): string {
  const note = multipleComparisonsNote(comparisonsCount(report.variants.map((v) => v.comparison)));
  return note === null ? '' : `${note}\n`;
}

/** The plugins the run loaded, one line (none: no line). */
function pluginsLines(report: Report): string[] {
  const plugins = report.plugins;
  return plugins === undefined || plugins.length === 0 ? [] : [pluginsLine(plugins)];
}

/** `- plugins: file (kinds; sha256 …); …`: report.md's line, fidelity.md's too. */
export function pluginsLine(plugins: NonNullable<Report['plugins']>): string {
  return `- plugins: ${plugins.map((p) => `${p.file} (${p.kinds.join(', ')}; sha256 ${p.sha256 === null ? 'none: not a file' : `\`${p.sha256}\``})`).join('; ')}`;
}

function assertionsLine(report: Report): string[] {
  const results = report.assertions;
  if (results === undefined) return [];
  return [`- assertions: ${assertionTally(results, (s) => `**${s}**`)}${assertionCounts(results).failed === 0 ? '' : ' (see Assertions below)'}`];
}

const RESULT: Readonly<Record<'pass' | 'fail' | 'skip', string>> = { pass: '✅ pass', fail: '❌ **FAIL**', skip: '⏭️ skipped' };
const resultCell = (r: AssertionResult): string => RESULT[r.skipped === true ? 'skip' : r.pass ? 'pass' : 'fail'];

/** The `assert:` rules' results, one row per rule and variant (a skipped rule: one row, for the variant it names). */
function assertionsSection(report: Report): string {
  const results = report.assertions;
  if (results === undefined) return '';
  const rows = results.map(
    (r) => `| ${resultCell(r)} | \`${r.rule}\` | ${r.variant} | ${r.actual === null ? '–' : formatFigure(r.metric, r.actual)} | ${describeStanding(r)} |`,
  );
  const none = rows.length === 0 ? ['No rule applied to the variants that ran.', ''] : [];
  return ['## Assertions', '', ...none, ...(rows.length === 0 ? [] : ['| result | rule | variant | actual | against the threshold |', '| :-- | :-- | :-- | --: | :-- |', ...rows, ''])].join('\n');
}

function spreadSection(report: Report): string {
  const rows = report.variants.flatMap((v) => v.spread.map((s) => `| ${v.name} | ${s.service} | ${s.instances} | ${s.maxOverMean.toFixed(3)} | ${s.cv.toFixed(3)} |`));
  if (rows.length === 0) return '';
  return ['## Load spread across instances', '', '| variant | service | instances | max/mean | CV |', '| :-- | :-- | --: | --: | --: |', ...rows, ''].join('\n');
}


const COUNTER_TITLE: Readonly<Record<CounterFigure, string>> = {
  retries: 'retries',
  retryBudgetDenied: 'budget denied',
  hedges: 'hedges',
  hedgesWon: 'hedges won',
  throttled: 'throttled',
  ejections: 'ejections',
  healthCheckFailures: 'health-check failures',
  breakerOverflows: 'breaker overflows',
};

/**
 * "95% confidence intervals": the interval of each figure of the summary table, a row per
 * variant, in a table of its own so that the summary table keeps its shape (docs paste it);
 * then the failover counters the variants have, as totals with their intervals (the summary
 * table does not show them). Also printed under the table by `--format md` (two seeds or more).
 */
export function intervalsSection(report: Report): string {
  const n = report.seeds.length;
  const head = ['## 95% confidence intervals', ''];
  if (n < 2) return [...head, 'One seed: no confidence intervals (run with `--seeds 2` or more).', ''].join('\n');
  // A report written before these intervals were added has only those of STAT_FIGURES.
  const older = report.variants.some((v) => v.summary.ci.requests === undefined);
  const lines = [
    ...head,
    `Student's t over the per-seed values (${n} seeds), mean ± t(0.975, n−1)·s/√n; for the counts summed over seeds (requests, rejected, timed out, 5xx/conn, failover counters) it is the interval of the total (n × that of the per-seed count), and for max ms and max/mean that of a single run's maximum, which the pooled maximum (over all seeds, in the table above) can lie above; each interval is cut to its figure's range (success between 0 and 100%, max/mean from 1, every other figure from 0), which a t-interval over few disagreeing seeds can reach past.` +
      (older ? ' This report.json was written before the intervals of the counts and maxima were added: – for them.' : ''),
    '',
    `| variant | ${SUMMARY_COLUMNS.map((c) => c.title).join(' | ')} |`,
    `| :-- |${SUMMARY_COLUMNS.map(() => ' --: |').join('')}`,
    ...report.variants.map((v) => `| ${v.name} | ${SUMMARY_COLUMNS.map((c) => intervalCell(v.summary.ci[c.ci], c.format)).join(' | ')} |`),
    '',
  ];
  const counters = COUNTER_FIGURES.filter((c) => report.variants.some((v) => v.summary[c] !== undefined));
  if (counters.length > 0) {
    lines.push(
      'Failover counters, totals over seeds with their 95% intervals:',
      '',
      `| variant | ${counters.map((c) => COUNTER_TITLE[c]).join(' | ')} |`,
      `| :-- |${counters.map(() => ' --: |').join('')}`,
      ...report.variants.map((v) => `| ${v.name} | ${counters.map((c) => counterCell(v, c)).join(' | ')} |`),
      '',
    );
  }
  return lines.join('\n');
}

function counterCell(v: VariantReport, c: CounterFigure): string {
  const total = v.summary[c];
  if (total === undefined) return '–';
  const i = v.summary.ci[c];
  return i === null || i === undefined ? int(total) : `${int(total)} ${intervalCell(i, int)}`;
}

/** Services with more instances than this are folded in report.md ({@link foldInstances}). */
export const INSTANCES_SHOWN = 12;
/** How many of the busiest, and of the idlest, instances a folded service shows. */
export const FOLDED_SHOWN = 5;

/**
 * The instances of one service as rows: all of them in index order, or, past
 * {@link INSTANCES_SHOWN}, the {@link FOLDED_SHOWN} busiest and idlest by requests (busiest
 * first, ties by index) with the number left out between them, so that a fleet of hundreds
 * keeps report.md readable (report.json has every instance).
 */
export function foldInstances(xs: readonly InstanceReport[]): { readonly shown: readonly InstanceReport[]; readonly folded: number; readonly rest: readonly InstanceReport[] } {
  if (xs.length <= INSTANCES_SHOWN) return { shown: xs, folded: 0, rest: [] };
  const byLoad = [...xs].sort((a, b) => b.requests - a.requests || a.index - b.index);
  return { shown: byLoad.slice(0, FOLDED_SHOWN), folded: xs.length - 2 * FOLDED_SHOWN, rest: byLoad.slice(-FOLDED_SHOWN) };
}

/** "Requests per instance": `instances[]` of each variant and service, large services folded ({@link foldInstances}). */
function instancesSection(report: Report): string {
  const rows: string[] = [];
  let folding = false;
  const row = (v: VariantReport, x: InstanceReport): string =>
    `| ${v.name} | ${x.service} | ${x.index} | ${x.zone} | ${x.requests} | ${(x.share * 100).toFixed(2)}% | ${x.utilization === null ? '–' : `${(x.utilization * 100).toFixed(2)}%`} |`;
  for (const v of report.variants) {
    const services = [...new Set(v.instances.map((x) => x.service))];
    for (const service of services) {
      const { shown, folded, rest } = foldInstances(v.instances.filter((x) => x.service === service));
      rows.push(...shown.map((x) => row(v, x)));
      if (folded > 0) {
        folding = true;
        rows.push(`| ${v.name} | ${service} | … ${folded} more | | | | |`, ...rest.map((x) => row(v, x)));
      }
    }
  }
  if (rows.length === 0) return '';
  const intro =
    'Requests the balancers sent to each instance in the measurement window, summed over seeds; share: of its service’s requests; utilisation: busy slot-time over slots × time as a member (– for unbounded concurrency).' +
    (folding ? ` Services with more than ${INSTANCES_SHOWN} instances show their ${FOLDED_SHOWN} busiest and ${FOLDED_SHOWN} idlest, by requests, busiest first; report.json's \`instances\` has them all.` : '');
  return ['## Requests per instance', '', intro, '', '| variant | service | instance | zone | requests | share | utilisation |', '| :-- | :-- | --: | :-- | --: | --: | --: |', ...rows, ''].join('\n');
}

function membershipSection(report: Report): string {
  const rows = report.variants.flatMap((v) =>
    v.membership.map(
      (m) =>
        `| ${v.name} | ${(m.at / 1000).toFixed(3)} s | ${m.service} | ${m.added.join(', ') || '–'} | ${m.removed.join(', ') || '–'} | ${m.keysRemapped === undefined ? '–' : `${(m.keysRemapped * 100).toFixed(2)}%`} |`,
    ),
  );
  if (rows.length === 0) return '';
  return ['## Membership changes', '', '| variant | at | service | added | removed | keys remapped |', '| :-- | --: | :-- | :-- | :-- | --: |', ...rows, ''].join('\n');
}

/**
 * "Differences vs <baseline>": per variant, each significant difference as a sentence, then
 * the figures the test could not have found significant with so few seeds (saying so: "no
 * significant difference" beside an interval that excludes 0 reads as a contradiction), the
 * figures not compared at all (n 0: no seed where both have them; with the reason, as the
 * HTML page's cells say), those the same on every seed, and the figures without a
 * significant difference in a closing line.
 */
export function differencesSection(report: Report): string {
  const compared = report.variants.filter((v) => v.comparison !== undefined);
  if (compared.length === 0) return '';
  const baseline = report.statistics.baseline ?? report.variants[0].name;
  const n = report.seeds.length;
  const lines = [
    `## Differences vs ${baseline}`,
    '',
    `Paired by seed (${n} seed${n === 1 ? '' : 's'}, common random numbers): relative difference (geometric mean over seeds of variant/baseline, − 1) with its 95% confidence interval (Student t over the per-seed log ratios) and the p-value of an exact sign-flip permutation test; significant when p < 0.05 and the interval excludes 0.` +
      (n < PAIRED_SEEDS_NEEDED ? ` With ${n} seed${n === 1 ? '' : 's'} no difference can reach p < 0.05: run with \`--seeds ${PAIRED_SEEDS_NEEDED}\` or more.` : ''),
    '',
  ];
  for (const v of compared) {
    const comparison = v.comparison;
    if (comparison === undefined) continue;
    const { figures, method } = comparison;
    const significant = STAT_FIGURES.filter((f) => figures[f].significant);
    const few = tooFewSeedsGroups(figures, method);
    const tooFew = new Set(few.flatMap((g) => g.figures));
    const notCompared = notComparedGroups(figures);
    const same = STAT_FIGURES.filter((f) => sameOnEverySeed(figures[f], method));
    const apart = new Set([...tooFew, ...same, ...notCompared.flatMap((g) => g.figures)]);
    const rest = STAT_FIGURES.filter((f) => !figures[f].significant && !apart.has(f));
    lines.push(`- **${v.name}**`);
    for (const f of significant) lines.push(`  - ${figures[f].verdict}`);
    // An interval that excludes 0 without significance: show the estimate.
    const hint = (f: StatFigure): string => {
      const { relative, ci } = figures[f];
      if (relative === null || ci === null || (ci[0] <= 0 && ci[1] >= 0)) return FIGURE_LABEL[f];
      const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Number(Math.abs(x * 100).toPrecision(3))}%`;
      return `${FIGURE_LABEL[f]} (${signed(relative)}, 95% CI ${signed(ci[0])} to ${signed(ci[1])}, p = ${formatP(figures[f].p ?? 1)})`;
    };
    for (const g of few) lines.push(`  - ${g.note}: ${g.figures.map(hint).join(', ')}`);
    for (const g of notCompared) lines.push(`  - not compared with ${comparison.baseline} (${g.reason}): ${g.figures.map((f) => FIGURE_LABEL[f]).join(', ')}`);
    if (same.length > 0) lines.push(`  - the same on every seed: ${same.map((f) => FIGURE_LABEL[f]).join(', ')}`);
    const alone = significant.length === 0 && few.length === 0 && notCompared.length === 0 && same.length === 0;
    if (rest.length > 0) lines.push(`  - ${alone ? 'no significant difference' : 'no significant difference in'}: ${rest.map(hint).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
