/**
 * `meshsim report DIR`: re-renders a report's readable files — index.html, report.md and
 * charts/*.vl.json — from its report.json, without simulating (after upgrading meshsim, or
 * to restore a deleted page). Same report.json → byte-identical files.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { HTML_FILE, prepareHtmlReport } from '../../report/html/write.js';
import { reportMarkdown } from '../../report/markdown.js';
import { readReport, ReportFileError } from '../../report/read.js';
import { ScenarioError } from '../../scenario/errors.js';
import { readSource, STDIN, STDIN_NAME } from '../../scenario/load.js';
import { helpText } from '../help.js';
import { isFileSystemError, writeFilesHeld } from '../report-output.js';

/** What the command writes to (the CLI's io). */
export interface ReportCommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Exit code of bad input, as for every meshsim command. */
const EXIT_BAD_INPUT = 2;

interface ReportFlags {
  readonly scenario?: string;
}

/**
 * Renders everything first, touching no file (the charts take about a second: a Ctrl-C
 * meanwhile leaves the folder as it was), then writes the files in one burst of atomic
 * writes with signals held, index.html last, as `meshsim run` does. report.json is read,
 * never written.
 */
async function reportCommand(path: string, flags: ReportFlags, io: ReportCommandIO): Promise<number> {
  const { dir, report } = readReport(path);
  let stdin: string | undefined;
  if (flags.scenario !== undefined) {
    // Given on purpose: one that cannot be read is bad input, not a page without its scenario.
    try {
      const bytes = readSource(flags.scenario);
      if (flags.scenario === STDIN) stdin = bytes.toString('utf8'); // it cannot be read twice
    } catch (e) {
      if (e instanceof ScenarioError) throw new ReportFileError(`--scenario ${e.message}`);
      throw e;
    }
  }
  const fsError = (e: Error): Error => new ReportFileError(`cannot write into ${dir}: ${e.message}`);
  let page: Awaited<ReturnType<typeof prepareHtmlReport>>;
  try {
    // It reads the scenario (the file given, or the copy next to report.json).
    page = await prepareHtmlReport(dir, report, stdin !== undefined ? { scenarioSource: { file: STDIN_NAME, text: stdin } } : { scenarioFile: flags.scenario });
  } catch (e) {
    if (isFileSystemError(e)) throw fsError(e);
    throw e;
  }
  // page.files ends with index.html.
  await writeFilesHeld(dir, [{ path: 'report.md', content: reportMarkdown(report) }, ...page.files], page.stale, fsError);
  for (const w of page.warnings) io.stderr(`meshsim: warning: ${w}\n`);
  const specs = page.files.filter((f) => f.path.endsWith('.vl.json')).length;
  io.stderr(`wrote ${join(dir, HTML_FILE)}, report.md and ${specs} chart spec(s) in ${join(dir, 'charts')}\n`);
  io.stdout(`${join(dir, HTML_FILE)}\n`);
  return 0;
}

/** Registers `meshsim report` on `program`; `setExit` receives its exit code. */
export function registerReportCommand(program: Command, io: ReportCommandIO, setExit: (code: number) => void): void {
  program
    .command('report')
    .description('re-render index.html, report.md and the chart specs from a report.json, without simulating')
    .argument('<dir>', 'a report directory (as written by meshsim run --out), or its report.json')
    .option('--scenario <file>', 'the scenario file the report was made from, shown on the page if its sha256 matches (default: the scenario.yaml or scenario.json copy next to report.json)')
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim report reports/quickstart\n' +
          '  meshsim report /tmp/qs/report.json\n' +
          '  meshsim report reports/quickstart --scenario scenarios/quickstart.yaml\n' +
          '\nWrites next to report.json: index.html (one self-contained page: tables, charts as\n' +
          'inline SVG, the scenario; opens without network), report.md, and charts/<name>.vl.json\n' +
          '(each chart\'s Vega-Lite spec with its data inlined, to restyle). Prints the path of\n' +
          'index.html. Same report.json → byte-identical files.\n' +
          '\nExit codes:\n' +
          '  0   written\n' +
          '  2   bad input: no report.json, not JSON, another schema version, a malformed\n' +
          '      report, a --scenario file that cannot be read, or an output file that\n' +
          '      cannot be written\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action(async (path: string, flags: ReportFlags) => {
      try {
        setExit(await reportCommand(path, flags, io));
      } catch (e) {
        if (!(e instanceof ReportFileError)) throw e;
        io.stderr(`meshsim: ${e.message}\n`);
        setExit(EXIT_BAD_INPUT);
      }
    });
}
