/**
 * What `meshsim run`, `merge` and `live` do alike once a report is built: write the HTML
 * report next to report.json, and print the report (table, Markdown or JSON) with the
 * results of its `assert:` rules.
 */
import { assertionLines, skippedRules } from '../report/assertions.js';
import { writeHtmlReport, type WriteHtmlOptions } from '../report/html/write.js';
import { reportJson, type Report } from '../report/report.js';
import { formatMarkdownTable, formatTable } from '../report/table.js';
import type { AssertRule } from '../scenario/types.js';

interface Out {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/**
 * index.html, charts/*.vl.json and the scenario copy (src/report/html); a file-system error
 * becomes `usageError` (exit 2), Vega's warnings go to stderr.
 */
export async function writeHtmlFiles(dir: string, report: Report, scenario: WriteHtmlOptions, out: Out, usageError: (message: string) => Error): Promise<void> {
  try {
    const { warnings } = await writeHtmlReport(dir, report, scenario);
    for (const w of warnings) out.stderr(`meshsim: warning: ${w}\n`);
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof e.code === 'string') throw usageError(`cannot write the HTML report into ${dir}: ${e.message}`);
    throw e;
  }
}

/**
 * Prints `report` on stdout as `format` (the table under `headline`), and the PASS/FAIL line
 * of each `assert:` rule: with the table, for people; on stderr otherwise, so that stdout
 * stays machine-readable. Returns whether a rule failed.
 */
export function printReport(report: Report, rules: readonly AssertRule[] | undefined, format: 'table' | 'md' | 'json', headline: string, out: Out): boolean {
  if (format === 'json') out.stdout(reportJson(report));
  else if (format === 'md') out.stdout(formatMarkdownTable(report));
  else out.stdout(`${headline}\n\n${formatTable(report)}`);
  const results = report.assertions;
  if (rules === undefined || results === undefined) return false;
  const lines = assertionLines(results, skippedRules(rules, report.variants.map((v) => v.name))).join('\n') + '\n';
  if (format === 'table') out.stdout(`\n${lines}`);
  else out.stderr(lines);
  return results.some((r) => !r.pass);
}
