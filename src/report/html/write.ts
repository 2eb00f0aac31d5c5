/**
 * The HTML report's files next to report.json: index.html (the page, self-contained),
 * charts/<name>.vl.json (each chart's Vega-Lite spec with its data inlined) and a copy of
 * the scenario as loaded (scenario.yaml or .json, checked against the report's sha256), from
 * which `meshsim report DIR` shows it again. Everything is rendered before the first file is
 * touched; then each file is written atomically, index.html last.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from '../report.js';
import { replaceFiles } from '../write.js';
import { ScenarioError } from '../../scenario/errors.js';
import { readSource } from '../../scenario/load.js';
import { renderPage, type PageChart, type ScenarioSource } from './page.js';
import { renderSvg } from './render.js';
import { buildCharts, CHART_NAMES } from './specs.js';

export const HTML_FILE = 'index.html';
export const CHARTS_DIR = 'charts';
/** Names of the scenario copy, by the loaded file's format. */
export const SCENARIO_COPIES = ['scenario.yaml', 'scenario.json'] as const;

export const specFile = (name: string): string => `${CHARTS_DIR}/${name}.vl.json`;

/**
 * The HTML report's files of an earlier run found in `dir`: the chart specs (their names
 * are meshsim's) and index.html when it is a meshsim page (a page of the user's own is
 * kept). Not the scenario copy: it may be the very scenario file being run, and it is
 * only ever shown when its sha256 is the report's ({@link staleScenarioCopies} says which
 * copies go).
 */
export function htmlReportFilesIn(dir: string): string[] {
  const found = CHART_NAMES.map(specFile).filter((path) => existsSync(join(dir, path)));
  let page = '';
  try {
    page = readFileSync(join(dir, HTML_FILE), 'utf8');
  } catch {
    // none, or unreadable: nothing of ours to remove
  }
  if (page.startsWith('<!DOCTYPE html>') && page.includes('<title>meshsim report: ')) found.push(HTML_FILE);
  return found;
}

/**
 * The scenario copies in `dir` (relative to it) that a report written there now must not
 * keep beside it, so that the folder never mixes two runs: when this write puts a copy
 * there (`written`), the other name (an earlier run of a scenario in the other format left
 * it); else any copy whose sha256 is not the report's (an earlier run of another scenario).
 * A copy with the report's sha256 reproduces this run and stays when nothing replaces it;
 * so does `input`, the scenario file being run, should it be one of them
 * (`meshsim run DIR/scenario.yaml --out DIR`). Only regular files: a folder or a symlink of
 * that name is the user's.
 */
export function staleScenarioCopies(dir: string, reportSha256: string, written: string | undefined, input: string | undefined): string[] {
  const stale: string[] = [];
  for (const name of SCENARIO_COPIES) {
    if (name === written) continue;
    const path = join(dir, name);
    try {
      if (!lstatSync(path).isFile()) continue;
      if (input !== undefined && samePath(path, input)) continue;
      if (written === undefined && sha256(readFileSync(path)) === reportSha256) continue;
    } catch {
      continue; // none, or unreadable: nothing we can tell is stale
    }
    stale.push(name);
  }
  return stale;
}

/** Whether `a` and `b` name the same file (through symlinks too); false when either is not there. */
function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

export interface HtmlReportFile {
  /** Relative to the report's directory. */
  readonly path: string;
  readonly content: string;
}

export interface HtmlReport {
  /** In write order: the chart specs, then index.html. */
  readonly files: readonly HtmlReportFile[];
  /** Problems worth telling the user (a Vega warning, a scenario that cannot be shown). */
  readonly warnings: readonly string[];
}

/** The scenario shown on the page, or why there is none. */
export type ScenarioText = ScenarioSource | { readonly missing: string };

/** Builds the page and the spec files of `report` (no file is touched). */
export async function buildHtmlReport(report: Report, scenario: ScenarioText): Promise<HtmlReport> {
  const charts = buildCharts(report);
  const warnings: string[] = [];
  const rendered: PageChart[] = [];
  for (const c of charts) {
    const { svg, warnings: w } = await renderSvg(c.spec, `${c.name}-svg`);
    for (const message of w) warnings.push(`chart ${c.name}: ${message}`);
    rendered.push({ name: c.name, title: c.title, caption: c.caption, svg, specFile: specFile(c.name) });
  }
  const files: HtmlReportFile[] = charts.map((c) => ({ path: specFile(c.name), content: JSON.stringify(c.spec, null, 2) + '\n' }));
  files.push({ path: HTML_FILE, content: renderPage({ report, charts: rendered, scenario }) });
  return { files, warnings };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Reads the scenario `file` for the page when its bytes are the ones the report was made
 * from (same sha256); otherwise says why it is not shown.
 */
export function scenarioText(file: string, expectedSha256: string): ScenarioText {
  let bytes: Buffer;
  try {
    bytes = readSource(file); // capped, and never a device
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    return { missing: `The scenario is not shown: ${e.message}.` };
  }
  if (sha256(bytes) !== expectedSha256) return { missing: `The scenario is not shown: ${file} is not the file this report was made from (its sha256 differs).` };
  return { file, text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes) };
}

/** A scenario's text given directly, shown when it is the one the report was made from. */
function checkedSource(source: ScenarioSource, expectedSha256: string): ScenarioText {
  if (sha256(Buffer.from(source.text, 'utf8')) !== expectedSha256) return { missing: `The scenario is not shown: the text of ${source.file} given is not the file this report was made from (its sha256 differs).` };
  return source;
}

/** The copy of the scenario kept next to a report (written by `meshsim run`), if one matches it. */
export function scenarioCopy(dir: string, expectedSha256: string): ScenarioText {
  for (const name of SCENARIO_COPIES) {
    const found = scenarioText(join(dir, name), expectedSha256);
    if ('text' in found) return found;
  }
  return { missing: `The scenario is not shown: no ${SCENARIO_COPIES.join(' or ')} with sha256 ${expectedSha256} next to the report (meshsim report --scenario FILE gives it).` };
}

export interface WriteHtmlOptions {
  /**
   * The scenario file the report was made from: shown on the page and copied next to the
   * report when its sha256 matches. Default: the copy already in `dir`.
   */
  readonly scenarioFile?: string;
  /** The scenario's path and text when the file itself is elsewhere (`meshsim merge`: from the shards). */
  readonly scenarioSource?: ScenarioSource;
}

/** The HTML report of a run, rendered and ready to write into its directory. */
export interface PreparedHtmlReport {
  /** In write order: the scenario copy (when it is at hand), the chart specs, index.html. */
  readonly files: readonly HtmlReportFile[];
  /** Chart specs to remove: the report has no such chart (anymore). */
  readonly stale: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Renders index.html, charts/*.vl.json and the scenario copy for `dir` without writing
 * anything (it reads the scenario: the file given, or the copy in `dir`), so that the
 * caller can write them together with the rest of the report in one quick burst.
 */
export async function prepareHtmlReport(dir: string, report: Report, options: WriteHtmlOptions = {}): Promise<PreparedHtmlReport> {
  const sha = report.scenario.sha256;
  const given = options.scenarioSource;
  const scenario: ScenarioText =
    given !== undefined ? checkedSource(given, sha) : options.scenarioFile === undefined ? scenarioCopy(dir, sha) : scenarioText(options.scenarioFile, sha);
  const page = await buildHtmlReport(report, 'text' in scenario ? { file: scenario.file, text: scenario.text } : scenario);
  const warnings = [...page.warnings];
  if ('missing' in scenario) warnings.push(scenario.missing);
  const files: HtmlReportFile[] = [];
  if ((options.scenarioFile !== undefined || given !== undefined) && 'text' in scenario) {
    files.push({ path: /\.json$/i.test(scenario.file) ? SCENARIO_COPIES[1] : SCENARIO_COPIES[0], content: scenario.text });
  }
  files.push(...page.files);
  const written = new Set(files.map((f) => f.path));
  const stale = CHART_NAMES.map(specFile).filter((path) => !written.has(path));
  return { files, stale, warnings };
}

/**
 * Writes index.html, charts/*.vl.json and the scenario copy into `dir` (all rendered
 * first, then each written atomically; chart specs that no longer apply are removed).
 * Returns the files written (relative to `dir`) and the warnings.
 */
export async function writeHtmlReport(dir: string, report: Report, options: WriteHtmlOptions = {}): Promise<{ files: string[]; warnings: string[] }> {
  const { files, stale, warnings } = await prepareHtmlReport(dir, report, options);
  replaceFiles(dir, files, stale);
  return { files: files.map((f) => f.path), warnings: [...warnings] };
}
