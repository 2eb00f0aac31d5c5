/**
 * What `meshsim run`, `merge` and `live` do alike once a report is built: write the
 * report's folder (report.json, report.md and the HTML report) so that it never mixes two
 * runs, and print the report (table, Markdown or JSON) with the results of its `assert:`
 * rules.
 */
import { join } from 'node:path';
import { assertionCounts, assertionLines } from '../report/assertions.js';
import { htmlReportFilesIn, prepareHtmlReport, SCENARIO_COPIES, staleScenarioCopies, type WriteHtmlOptions } from '../report/html/write.js';
import { intervalsSection, reportMarkdown } from '../report/markdown.js';
import { reportJson, type Report } from '../report/report.js';
import { formatMarkdownTable, formatTable } from '../report/table.js';
import { replaceFiles, type FileToWrite } from '../report/write.js';
import type { AssertRule } from '../scenario/types.js';
import { holdSignals } from './commands/context.js';

interface Out {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/**
 * Writes `report` into `dir`: report.md, report.json and, given `html` (where the scenario
 * is), index.html, charts/*.vl.json and the scenario copy. Everything is rendered first
 * (the charts take about a second), with no file touched: a Ctrl-C meanwhile ends the
 * process with the folder as it was. Then one burst of atomic writes, signals held
 * (holdSignals), report.json last; without `html`, the index.html and chart specs of an
 * earlier run are removed, so that they are not taken for this run's, and so is an earlier
 * run's scenario copy (staleScenarioCopies), with or without `html`. Vega's warnings go
 * to stderr; a file-system error becomes `usageError` (exit 2). Returns the files of an
 * earlier run it removed (relative to `dir`).
 */
export async function writeReportFolder(dir: string, report: Report, html: WriteHtmlOptions | undefined, out: Out, usageError: (message: string) => Error): Promise<string[]> {
  const files: FileToWrite[] = [];
  let remove: readonly string[];
  let removed: string[] = [];
  if (html !== undefined) {
    const page = await prepareHtmlReport(dir, report, html);
    for (const w of page.warnings) out.stderr(`meshsim: warning: ${w}\n`);
    files.push(...page.files);
    remove = page.stale;
  } else {
    remove = removed = htmlReportFilesIn(dir);
  }
  // An earlier run's scenario copy goes in the same write (all or nothing): another
  // scenario's, or the other format's when this run writes its own copy.
  const copy = files.find((f) => (SCENARIO_COPIES as readonly string[]).includes(f.path))?.path;
  const staleCopies = staleScenarioCopies(dir, report.scenario.sha256, copy, html?.scenarioFile ?? html?.scenarioSource?.file);
  remove = [...remove, ...staleCopies];
  removed = [...removed, ...staleCopies];
  files.push({ path: 'report.md', content: reportMarkdown(report) }, { path: 'report.json', content: reportJson(report) });
  await writeFilesHeld(dir, files, remove, (e) => usageError(`cannot write the report into ${dir}: ${e.message}`));
  return removed;
}

/**
 * The write burst of every command that writes a report folder: `files` atomically, in
 * order (the last one is the folder's index, written last), `remove` deleted, with
 * SIGINT/SIGTERM held until the burst ends (holdSignals). A file-system error (one with an
 * errno `code`) becomes the error `fsError` makes of it (the command's exit 2).
 */
export async function writeFilesHeld(dir: string, files: readonly FileToWrite[], remove: readonly string[], fsError: (e: Error) => Error): Promise<void> {
  try {
    await holdSignals(() => replaceFiles(dir, files, remove));
  } catch (e) {
    if (isFileSystemError(e)) throw fsError(e);
    throw e;
  }
}

/** An error of the file system (it carries an errno `code`, like ENOENT or EACCES). */
export function isFileSystemError(e: unknown): e is Error & { readonly code: string } {
  return e instanceof Error && 'code' in e && typeof e.code === 'string';
}

/** The "wrote …" line of `run`, `merge` and `live` (without the time), naming the files of an earlier run it removed. */
export function wroteReportText(dir: string, html: boolean, removed: readonly string[]): string {
  const cleaned = removed.length > 0 ? `; removed an earlier run's ${removed.join(', ')}` : '';
  return `wrote ${join(dir, 'report.json')}, report.md${html ? ' and index.html' : ''}${cleaned}`;
}

/**
 * Prints `report` on stdout as `format` (the table under `headline`), and the PASS/FAIL/SKIP
 * line of each `assert:` rule: with the table, for people; on stderr otherwise, so that
 * stdout stays machine-readable. Returns whether a rule failed (a skipped one does not).
 */
export function printReport(report: Report, rules: readonly AssertRule[] | undefined, format: 'table' | 'md' | 'json', headline: string, out: Out): boolean {
  if (format === 'json') out.stdout(reportJson(report));
  else if (format === 'md') out.stdout(formatMarkdownTable(report) + (report.seeds.length >= 2 ? `\n${intervalsSection(report)}` : ''));
  else out.stdout(`${headline}\n\n${formatTable(report)}`);
  const results = report.assertions;
  if (rules === undefined || results === undefined) return false;
  const lines = assertionLines(results).join('\n') + '\n';
  if (format === 'table') out.stdout(`\n${lines}`);
  else out.stderr(lines);
  return assertionCounts(results).failed > 0;
}
