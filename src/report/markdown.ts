/** report.md: the human-readable report, ready to paste into a pull request. */
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
    '',
    formatMarkdownTable(report),
    report.variants.length > 1 ? 'Bold: best of the variants.\n' : '',
  ].join('\n');
}
