/**
 * The `meshsim` command. Exit codes: 0 success, 1 a run's `assert:` rules failed (the
 * report is written all the same), 2 bad input (unreadable or invalid scenario, unknown
 * option or variant). Bad input never prints a stack trace; an unexpected internal error
 * does, with exit code 70.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { balancers } from '../algorithms/registry.js';
import { assertionLines, skippedRules, withAssertions } from '../report/assertions.js';
import { CompareError, compareReports, comparisonJson, formatComparisonMarkdown, formatComparisonTable, loadReport } from '../report/compare.js';
import { buildReport, reportJson } from '../report/report.js';
import { reportMarkdown } from '../report/markdown.js';
import { formatMarkdownTable, formatTable } from '../report/table.js';
import { writeFileAtomic } from '../report/write.js';
import { runScenario, selectVariants, UnknownVariantError } from '../runner/run.js';
import { ScenarioError } from '../scenario/errors.js';
import { loadScenario } from '../scenario/load.js';
import { parseSweepOption, type SweepAxis } from '../scenario/sweep.js';
import { scenarioJsonSchema } from '../scenario/schema.js';
import { VERSION } from '../version.js';
import { registerProxyCommand } from './commands/proxy.js';

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is an interactive terminal (progress output). */
  readonly isTTY: boolean;
}

export const EXIT_OK = 0;
/** `meshsim run`: at least one `assert:` rule failed. */
export const EXIT_ASSERTIONS = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL = 70;

/** A user error: printed as `meshsim: <message>` and exit code 2. */
export class UsageError extends Error {}

function integer(min: number, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected ${what} (an integer ≥ ${min}), got "${value}"`);
    }
    return n;
  };
}

/** `--sweep PATH=VALUES`, repeatable: one axis each, no path twice. */
function sweepOption(value: string, previous: readonly SweepAxis[] = []): SweepAxis[] {
  let axis: SweepAxis;
  try {
    axis = parseSweepOption(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (previous.some((a) => a.key === axis.key)) throw new InvalidArgumentError(`${axis.key} is swept twice; give its values in one --sweep`);
  return [...previous, axis];
}

const SWEEP_HELP =
  'sweep a dotted path over values, like the scenario\'s `sweep:` (repeatable; replaces the ' +
  "file's sweep of the same path). VALUES is a YAML flow sequence, brackets optional:\n" +
  "mesh.failover.retries.max=0,1,2 or 'mesh.balancer={kind: p2c},{kind: random}'";

const FORMATS = ['table', 'md', 'json'] as const;
type Format = (typeof FORMATS)[number];

interface RunFlags {
  readonly seed?: number;
  readonly seeds?: number;
  readonly variant?: string[];
  readonly sweep?: SweepAxis[];
  readonly out?: string;
  readonly format: Format;
  readonly progress: boolean;
}

/** Fails before simulating when `dir` exists and is not a directory. */
function checkOutputDir(dir: string): void {
  let isDir = true;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return; // does not exist yet: created when the report is written
  }
  if (!isDir) throw new UsageError(`--out ${dir}: exists and is not a directory`);
}

function writeReport(path: string, content: string): void {
  try {
    writeFileAtomic(path, content);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function runCommand(file: string, flags: RunFlags, io: CliIO): number {
  const loaded = loadScenario(file, { sweep: flags.sweep });
  // Fail fast, before simulating: unknown variant names, seed overflow, unusable output path.
  selectVariants(loaded, flags.variant);
  const seed = flags.seed ?? loaded.base.seed;
  const seeds = flags.seeds ?? loaded.base.seeds;
  if (seed + seeds - 1 > Number.MAX_SAFE_INTEGER) throw new UsageError(`seed + seeds - 1 must be at most ${Number.MAX_SAFE_INTEGER} (got seed ${seed}, seeds ${seeds})`);
  const dir = flags.out ?? join('reports', loaded.base.name);
  checkOutputDir(dir);
  const showProgress = flags.progress && io.isTTY;
  const started = performance.now();
  const output = runScenario(loaded, {
    seed: flags.seed,
    seeds: flags.seeds,
    variants: flags.variant,
    onRun: showProgress
      ? (done, total, variant, seed) => io.stderr(`\r[${done}/${total}] ${variant} seed ${seed}        ${done === total ? '\n' : ''}`)
      : undefined,
  });
  const rules = loaded.base.assert;
  const report = withAssertions(buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, output), rules);
  writeReport(join(dir, 'report.json'), reportJson(report));
  writeReport(join(dir, 'report.md'), reportMarkdown(report));
  if (flags.format === 'json') io.stdout(reportJson(report));
  else if (flags.format === 'md') io.stdout(formatMarkdownTable(report));
  else {
    io.stdout(`${loaded.base.name}: ${report.variants.length} variant(s) × ${report.seeds.length} seed(s)\n\n`);
    io.stdout(formatTable(report));
  }
  const results = report.assertions;
  if (rules !== undefined && results !== undefined) {
    // With the table, for people; otherwise stdout stays machine-readable.
    const lines = assertionLines(results, skippedRules(rules, report.variants.map((v) => v.name))).join('\n') + '\n';
    if (flags.format === 'table') io.stdout(`\n${lines}`);
    else io.stderr(lines);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  io.stderr(`wrote ${join(dir, 'report.json')} and report.md (${seconds} s)\n`);
  return results?.some((r) => !r.pass) ? EXIT_ASSERTIONS : EXIT_OK;
}

function validateCommand(file: string, flags: { readonly sweep?: SweepAxis[] }, io: CliIO): number {
  const loaded = loadScenario(file, { sweep: flags.sweep });
  const s = loaded.base;
  const instances = Object.values(s.services).reduce((a, svc) => a + svc.instances, 0);
  io.stdout(
    `${file}: ok — scenario "${s.name}", ${Object.keys(s.services).length} service(s), ${instances} instance(s), ` +
      `${s.workload.length} workload group(s), ${loaded.variants.length} variant(s): ${loaded.variants.map((v) => v.name).join(', ')}\n`,
  );
  return EXIT_OK;
}

interface CompareFlags {
  readonly format: Format;
  readonly force?: boolean;
}

function compareCommand(paths: readonly string[], flags: CompareFlags, io: CliIO): number {
  if (paths.length < 2) throw new UsageError(`compare needs at least two reports (got ${paths.length}): meshsim compare A B [...]`);
  const comparison = compareReports(paths.map(loadReport), { force: flags.force });
  if (flags.format === 'json') io.stdout(comparisonJson(comparison));
  else if (flags.format === 'md') io.stdout(formatComparisonMarkdown(comparison));
  else io.stdout(formatComparisonTable(comparison));
  if (flags.format !== 'table') for (const w of comparison.warnings) io.stderr(`meshsim: warning: ${w}\n`);
  return EXIT_OK;
}

function policiesCommand(io: CliIO): number {
  for (const def of balancers.values()) {
    io.stdout(`${def.kind.padEnd(28)} ${def.summary}\n${' '.repeat(29)}follows: ${def.follows}\n`);
  }
  return EXIT_OK;
}

export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command('meshsim')
    .description(
      'Simulate service-mesh algorithms (discovery, load balancing, failover, monitoring)\n' +
        'against reproducible scenario files, and compare them side by side.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  program
    .command('run')
    .description('simulate every variant × seed of a scenario; write report.json and report.md')
    .argument('<file>', 'scenario file (YAML or JSON, meshsim/scenario@1)')
    .option('--seed <n>', 'base seed (overrides the scenario\'s `seed`; run k uses seed + k)', integer(0, 'a seed'))
    .option('--seeds <k>', 'number of replications (overrides `seeds`)', integer(1, 'a replication count'))
    .option('--variant <name...>', 'run only these variants (default: all; a sweep\'s variants by their names)')
    .option('--sweep <path=values>', SWEEP_HELP, sweepOption)
    .option('--out <dir>', 'output directory (default: reports/<scenario name>/)')
    .addOption(new Option('--format <format>', 'what to print on stdout').choices(FORMATS).default('table'))
    .option('--no-progress', 'no progress line on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  meshsim run scenarios/quickstart.yaml\n' +
        '  meshsim run scenarios/quickstart.yaml --seeds 10 --variant random round-robin\n' +
        '  meshsim run scenarios/quickstart.yaml --format json --out /tmp/qs > qs.json\n' +
        '  meshsim run scenarios/sweep-retries.yaml --sweep mesh.failover.retries.max=0,1,2,3\n' +
        "  meshsim run scenarios/quickstart.yaml --sweep 'mesh.balancer={kind: p2c},{kind: random}'\n" +
        '\nA sweep (`sweep:` in the file, or --sweep) runs every point of its grid as a variant\n' +
        '(on top of each named variant, if the file has `variants:`), named from its values,\n' +
        'like max-2_budgetPercent-20pct; `meshsim validate FILE` lists the names.\n' +
        '\nSame scenario file and seeds give a byte-identical report.json on any machine.\n' +
        '\nThe scenario\'s `assert:` rules (CI gates, e.g. `p99 < 250ms`) are checked after the run:\n' +
        'a PASS or FAIL line each (on stderr with --format json or md), results in report.json.\n' +
        '\nExit codes:\n' +
        '  0   success (every assert: rule passed)\n' +
        '  1   an assert: rule failed (report.json and report.md are written all the same)\n' +
        '  2   bad input: an unreadable or invalid scenario, an unknown option or variant\n' +
        '  70  internal error (please report it)',
    )
    .action((file: string, flags: RunFlags) => setExit(runCommand(file, flags, io)));

  program
    .command('validate')
    .description('check a scenario file and list its variants, without simulating')
    .argument('<file>', 'scenario file')
    .option('--sweep <path=values>', SWEEP_HELP, sweepOption)
    .action((file: string, flags: { sweep?: SweepAxis[] }) => setExit(validateCommand(file, flags, io)));

  program
    .command('compare')
    .description('compare reports: each variant of B, C… against the same-named variant of A, with 95% CIs and p-values')
    .argument('<reports...>', 'report.json files, or directories holding one (the first is the baseline, A)')
    .addOption(new Option('--format <format>', 'output: terminal table, Markdown (a pull-request comment) or JSON').choices(FORMATS).default('table'))
    .option('--force', 'compare reports of different scenarios (name or sha256) anyway')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  meshsim compare reports/before reports/after\n' +
        '  meshsim compare main/report.json pr/report.json --format md > comment.md\n' +
        '  meshsim compare reports/rr reports/p2c --format json\n' +
        '  meshsim compare old/report.json new/report.json --force   # the scenario file changed\n' +
        '\nEach variant of B (C, …) is compared with the variant of the same name in A; when each\n' +
        'report has a single variant under different names, those two. Per figure: the change\n' +
        'B/A − 1 with its 95% confidence interval and a p-value. Same seeds on both sides: paired\n' +
        'by seed (Student t over per-seed ratios, exact sign-flip permutation test); different\n' +
        'seeds: unpaired (Welch t interval, two-sample permutation test). Significant: p < 0.05\n' +
        'and the interval excludes 0 (paired, that needs at least 6 seeds).\n' +
        '\nReports of different scenarios (name or sha256) are refused unless --force.\n' +
        '\nExit codes:\n' +
        '  0   compared\n' +
        '  2   bad input: a missing or invalid report, different scenarios without --force,\n' +
        '      no variant in common\n' +
        '  70  internal error (please report it)',
    )
    .action((paths: string[], flags: CompareFlags) => setExit(compareCommand(paths, flags, io)));

  program
    .command('policies')
    .description('list the algorithms scenario files can name, and which system each follows')
    .action(() => setExit(policiesCommand(io)));

  program
    .command('schema')
    .description('print the JSON Schema of scenario files (for editor completion and validation)')
    .action(() => {
      io.stdout(JSON.stringify(scenarioJsonSchema(), null, 2) + '\n');
      setExit(EXIT_OK);
    });

  registerProxyCommand(program, { io, setExit, usageError: (m) => new UsageError(m) });
  return program;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_BAD_INPUT;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to us.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_BAD_INPUT;
    }
    if (e instanceof ScenarioError) {
      io.stderr(`meshsim: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof UnknownVariantError || e instanceof UsageError || e instanceof CompareError) {
      io.stderr(`meshsim: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr(`meshsim: internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_INTERNAL;
  }
}
