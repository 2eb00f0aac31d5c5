/** report.md: the human-readable report, ready to paste into a pull request. */
import { assertionCounts, assertionTally, describeStanding, formatFigure } from './assertions.js';
import { formatMarkdownTable } from './table.js';
import type { AssertionResult, Report } from './report.js';
import { FIGURE_LABEL, formatP, PAIRED_SEEDS_NEEDED, STAT_FIGURES, tooFewSeedsGroups, type StatFigure } from './statistics.js';

export function reportMarkdown(report: Report): string {
  const pct = (report.percentiles.relativeError * 100).toFixed(1);
  return [
    `# meshsim report: ${report.scenario.name}`,
    '',
    `- scenario sha256: \`${report.scenario.sha256}\``,
    `- seeds: ${report.seeds.join(', ')} (${report.seeds.length} replication${report.seeds.length === 1 ? '' : 's'})`,
    `- generator: ${report.generator}, mode: ${report.mode}`,
    `- latency: client-observed, succeeded requests only, pooled over seeds; percentiles from a DDSketch (relative error ≤ ${pct}%)`,
    ...assertionsLine(report),
    '',
    formatMarkdownTable(report),
    report.variants.length > 1 ? 'Bold: best of the variants. max/mean: the busiest instance\'s request rate over the mean.\n' : '',
    differencesSection(report),
    assertionsSection(report),
    spreadSection(report),
    membershipSection(report),
  ].join('\n');
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
 * significant difference" beside an interval that excludes 0 reads as a contradiction), and
 * the figures without a significant difference in a closing line.
 */
export function differencesSection(report: Report): string {
  const compared = report.variants.filter((v) => v.comparison !== undefined);
  if (compared.length === 0) return '';
  const baseline = report.statistics.baseline ?? report.variants[0].name;
  const n = report.seeds.length;
  const lines = [
    `## Differences vs ${baseline}`,
    '',
    `Paired by seed (${n} seed${n === 1 ? '' : 's'}, common random numbers): relative difference with its 95% confidence interval (Student t over the per-seed ratios) and the p-value of an exact sign-flip permutation test; significant when p < 0.05 and the interval excludes 0.` +
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
    const rest = STAT_FIGURES.filter((f) => !figures[f].significant && !tooFew.has(f));
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
    if (rest.length > 0) lines.push(`  - ${significant.length === 0 && few.length === 0 ? 'no significant difference' : 'no significant difference in'}: ${rest.map(hint).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
