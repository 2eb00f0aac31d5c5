/** report.md: the human-readable report, ready to paste into a pull request. */
import { describeStanding, formatFigure } from './assertions.js';
import { formatMarkdownTable } from './table.js';
import type { Report } from './report.js';
import { FIGURE_LABEL, formatP, STAT_FIGURES, type StatFigure } from './statistics.js';

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
  const failed = results.filter((r) => !r.pass).length;
  return [failed === 0 ? `- assertions: all ${results.length} passed` : `- assertions: **${failed} of ${results.length} failed** (see Assertions below)`];
}

/** The `assert:` rules' results, one row per rule and variant. */
function assertionsSection(report: Report): string {
  const results = report.assertions;
  if (results === undefined) return '';
  const rows = results.map(
    (r) => `| ${r.pass ? '✅ pass' : '❌ **FAIL**'} | \`${r.rule}\` | ${r.variant} | ${r.actual === null ? '–' : formatFigure(r.metric, r.actual)} | ${describeStanding(r)} |`,
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
 * "Differences vs <baseline>": per variant, each significant difference as a sentence, and
 * the figures without one in a closing line.
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
      (n < 6 ? ` With ${n} seed${n === 1 ? '' : 's'} no difference can reach p < 0.05: run with \`--seeds 6\` or more.` : ''),
    '',
  ];
  for (const v of compared) {
    const figures = v.comparison?.figures;
    if (figures === undefined) continue;
    const significant = STAT_FIGURES.filter((f) => figures[f].significant);
    const rest = STAT_FIGURES.filter((f) => !figures[f].significant);
    lines.push(`- **${v.name}**`);
    for (const f of significant) lines.push(`  - ${figures[f].verdict}`);
    // An interval that excludes 0 with too few seeds for the test: show the estimate.
    const hint = (f: StatFigure): string => {
      const { relative, ci } = figures[f];
      if (relative === null || ci === null || (ci[0] <= 0 && ci[1] >= 0)) return FIGURE_LABEL[f];
      const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Number(Math.abs(x * 100).toPrecision(3))}%`;
      return `${FIGURE_LABEL[f]} (${signed(relative)}, 95% CI ${signed(ci[0])} to ${signed(ci[1])}, p = ${formatP(figures[f].p ?? 1)})`;
    };
    if (rest.length > 0) lines.push(`  - ${significant.length === 0 ? 'no significant difference' : 'no significant difference in'}: ${rest.map(hint).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}
