/** report.md: the human-readable report, ready to paste into a pull request. */
import { describeStanding, formatFigure } from './assertions.js';
import { formatMarkdownTable } from './table.js';
import type { Report } from './report.js';

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
