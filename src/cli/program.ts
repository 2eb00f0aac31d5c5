/**
 * The `meshsim` command. Exit codes: 0 success, 1 a run's `assert:` rules failed (the
 * report is written all the same), 2 bad input (unreadable or invalid scenario, unknown
 * option or variant). Bad input never prints a stack trace; an unexpected internal error
 * does, with exit code 70.
 */
import { Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withAssertions } from '../report/assertions.js';
import { CompareError, compareReports, comparisonJson, formatComparisonMarkdown, formatComparisonTable, loadReport } from '../report/compare.js';
import { buildReport } from '../report/report.js';
import type { WriteHtmlOptions } from '../report/html/write.js';
import { outputDirProblem, writeFileAtomic } from '../report/write.js';
import { ShardError } from '../report/shard.js';
import { parseShardSpec, ShardSpecError, type ShardSpec } from '../runner/plan.js';
import { assembleOutput, executePlan, selectVariants, UnknownVariantError, type RunOutput } from '../runner/run.js';
import { loadedPlugins, pluginIdentities, PluginError, type PluginIdentity } from '../scenario/plugins.js';
import { balancerKinds } from '../algorithms/registry.js';
import { ScenarioError } from '../scenario/errors.js';
import { RunStopError } from '../core/run-stop.js';
import { loadScenario } from '../scenario/load.js';
import { identicalVariants, identicalVariantsWarning, parseSweepOption, type SweepAxis } from '../scenario/sweep.js';
import { scenarioWarnings } from '../scenario/warnings.js';
import { LIMITS, scenarioJsonSchema } from '../scenario/schema.js';
import type { LoadedScenario } from '../scenario/types.js';
import { VERSION } from '../version.js';
import { registerReportCommand } from './commands/report.js';
import { registerMergeCommand } from './commands/merge.js';
import { writeShardReport } from './commands/shard.js';
import { PLUGIN_HELP, pluginOption, scenarioFileArgument, scenarioOf, usePlugins, wholeNumber } from './commands/context.js';
import { policiesText } from './policies.js';
import { ProgressLine } from './progress.js';
import { printReport, writeReportFolder, wroteReportText } from './report-output.js';
import { registerFidelityCommand } from './commands/fidelity.js';
import { registerLiveCommand } from './commands/live.js';
import { registerProxyCommand } from './commands/proxy.js';
import { helpText } from './help.js';

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

/** `--shard i/n`. */
function shardOption(value: string): ShardSpec {
  try {
    return parseShardSpec(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

const SWEEP_HELP =
  'sweep a dotted path over values, like the scenario\'s `sweep:` (repeatable; replaces the ' +
  "file's sweep of the same path). VALUES is a YAML flow sequence, brackets optional:\n" +
  "mesh.failover.retries.max=0,1,2 or 'mesh.balancer={kind: p2c},{kind: random}'; a range\n" +
  // PATH is always the whole dotted path (a last segment alone is not found): the range
  // examples too, or they fail when copied. A percentage range's path is too long for this
  // column, so it is in the examples below instead.
  'stands for its values: mesh.failover.retries.max=0..3 (more in the examples)';

const FORMATS = ['table', 'md', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** What the report writer needs of the flags (`run` and `merge`). */
export interface ReportFlags {
  readonly format: Format;
  /** Write index.html, the chart specs and the scenario copy (`--no-html`: not). */
  readonly html: boolean;
}

interface RunFlags extends ReportFlags {
  readonly seed?: number;
  readonly seeds?: number;
  readonly variant?: string[];
  readonly sweep?: SweepAxis[];
  readonly out?: string;
  readonly progress: boolean;
  readonly workers?: number;
  readonly shard?: ShardSpec;
  readonly plugin?: string[];
}

/** Fails before simulating when files cannot be written into `dir` (see outputDirProblem). */
function checkOutputDir(dir: string): void {
  const problem = outputDirProblem(dir);
  if (problem !== undefined) throw new UsageError(`--out ${dir}: ${problem}`);
}

function writeReport(path: string, content: string): void {
  try {
    writeFileAtomic(path, content);
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function runCommand(file: string, flags: RunFlags, io: CliIO): Promise<number> {
  await usePlugins(flags.plugin);
  const loaded = loadScenario(file, { sweep: flags.sweep });
  warnScenario(loaded, io);
  // Fail fast, before simulating: unknown variant names, seed overflow, unusable output path.
  selectVariants(loaded, flags.variant);
  const seed = flags.seed ?? loaded.base.seed;
  const seeds = flags.seeds ?? loaded.base.seeds;
  if (seed + seeds - 1 > Number.MAX_SAFE_INTEGER) throw new UsageError(`seed + seeds - 1 must be at most ${Number.MAX_SAFE_INTEGER} (got seed ${seed}, seeds ${seeds})`);
  const dir = flags.out ?? join('reports', loaded.base.name);
  checkOutputDir(dir);
  const started = performance.now();
  const progress = flags.progress && io.isTTY ? new ProgressLine(io.stderr) : undefined;
  const executed = await executePlan(loaded, {
    seed: flags.seed,
    seeds: flags.seeds,
    variants: flags.variant,
    workers: flags.workers,
    shard: flags.shard,
    onRun: progress ? (done, total, _variant, _seed, result) => progress.update(done, total, result.conservation.issued) : undefined,
  });
  if (flags.shard !== undefined) return writeShardReport(loaded, flags, flags.shard, executed, dir, io, started, writeReport, pluginIdentities());
  const output = assembleOutput(executed.plan, executed.runs.map((r) => r.result));
  return emitReport(dir, loaded, output, flags, io, started, scenarioOf(loaded), pluginIdentities());
}

/**
 * Builds the report of a whole run, writes report.json, report.md and (unless --no-html) the
 * HTML report, prints it: `run` and `merge` alike. `scenario` says where the scenario's text
 * is (shown on the page and copied next to the report when it hashes to the report's sha256);
 * `plugins`, which plugin modules made the figures (recorded in the report).
 * The files are all rendered before any is written, report.json last (writeReportFolder), so
 * that an interrupted run leaves the folder's earlier report whole.
 */
async function emitReport(
  dir: string,
  loaded: LoadedScenario,
  output: RunOutput,
  flags: ReportFlags,
  io: CliIO,
  started: number,
  scenario: WriteHtmlOptions,
  plugins: readonly PluginIdentity[],
): Promise<number> {
  const rules = loaded.base.assert;
  const report = withAssertions(buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, output, { plugins }), rules);
  const removed = await writeReportFolder(dir, report, flags.html ? scenario : undefined, io, (m) => new UsageError(m));
  const failed = printReport(report, rules, flags.format, `${loaded.base.name}: ${report.variants.length} variant(s) × ${report.seeds.length} seed(s)`, io);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  io.stderr(`${wroteReportText(dir, flags.html, removed)} (${seconds} s)\n`);
  return failed ? EXIT_ASSERTIONS : EXIT_OK;
}

/**
 * Warns (stderr) about a valid scenario that likely is not what was meant: variants that
 * resolve to the same scenario (identical results, likely a sweep overriding the variants),
 * and settings that cannot take effect with the policy they are given to (scenario/warnings.ts).
 */
function warnScenario(loaded: LoadedScenario, io: CliIO): void {
  const warning = identicalVariantsWarning(identicalVariants(loaded.variants), loaded.variants.length);
  if (warning !== undefined) io.stderr(`meshsim: warning: ${warning}\n`);
  for (const w of scenarioWarnings(loaded.variants)) io.stderr(`meshsim: warning: ${loaded.file}: ${w}\n`);
}

async function validateCommand(file: string, flags: { readonly sweep?: SweepAxis[]; readonly plugin?: string[] }, io: CliIO): Promise<number> {
  await usePlugins(flags.plugin);
  const loaded = loadScenario(file, { sweep: flags.sweep });
  warnScenario(loaded, io);
  const s = loaded.base;
  const instances = Object.values(s.services).reduce((a, svc) => a + svc.instances, 0);
  io.stdout(
    `${loaded.file}: ok — scenario "${s.name}", ${Object.keys(s.services).length} service(s), ${instances} instance(s), ` +
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
  io.stdout(policiesText());
  return EXIT_OK;
}

/**
 * `meshsim policies --check`: the balancer contract (src/testing.ts) on the plugins'
 * balancers, or on every balancer when no plugin is given; one line per kind, the whole
 * failure for a kind that breaks it; exit 1 when one does.
 */
async function checkPoliciesCommand(io: CliIO, runs: number, pluginKinds: readonly string[]): Promise<number> {
  const { BalancerCheckError, checkBalancer } = await import('../testing.js');
  const kinds = pluginKinds.length > 0 ? pluginKinds : balancerKinds();
  let failed = 0;
  for (const kind of kinds) {
    try {
      const r = checkBalancer(kind, { runs });
      io.stdout(`${kind}: keeps the balancer contract (${r.properties.join(', ')}; ${r.runs} cases each)\n`);
    } catch (e) {
      if (!(e instanceof BalancerCheckError)) throw e;
      failed++;
      io.stdout(`${kind}: FAILS ${e.message.slice(kind.length + 2)}\n`);
    }
  }
  io.stdout(`${kinds.length - failed} of ${kinds.length} balancer(s) keep the contract${failed === 0 ? '' : `; ${failed} break${failed === 1 ? 's' : ''} it`}\n`);
  return failed === 0 ? EXIT_OK : EXIT_ASSERTIONS;
}

export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command('meshsim')
    .description(
      'Simulate service-mesh algorithms (discovery, load balancing, failover, monitoring) ' +
        'against reproducible scenario files, and compare them side by side.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // run, live and fidelity declare their file optional only to catch `--variant a FILE`
    // (see scenarioFileArgument); the command list shows it required, as their usage does.
    .configureHelp({ subcommandTerm: (cmd) => new Help().subcommandTerm(cmd).replace(' [file]', ' <file>') })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .addHelpText(
      'after',
      helpText(
        '\nGetting started:\n' +
          '  meshsim run scenarios/quickstart.yaml   # simulate, write reports/quickstart/\n' +
          '  meshsim validate my-scenario.yaml       # check a scenario you wrote\n' +
          '  meshsim policies                        # the balancers and failover policies\n' +
          '  meshsim compare reports/before reports/after --format md\n' +
          '  meshsim <command> --help                # options, examples and exit codes\n' +
          '\nScenario files: scenarios/ (each says what question it answers) and `meshsim schema`\n' +
          'for editor completion. Exit codes: 0 ok, 1 an assert: rule failed, 2 bad input,\n' +
          '70 internal error, 130 interrupted.',
      ),
    );

  program
    .command('run')
    .description('simulate every variant × seed of a scenario; write report.json, report.md and index.html')
    .usage('[options] <file>')
    .argument('[file]', 'scenario file (YAML or JSON, meshsim/scenario@1); - reads standard input')
    .option('--seed <n>', 'base seed (overrides the scenario\'s `seed`; run k uses seed + k)', wholeNumber(0, 'a seed'))
    .option('--seeds <k>', 'number of replications (overrides `seeds`)', wholeNumber(1, 'a replication count', LIMITS.seeds))
    .option('--variant <name...>', 'run only these variants (default: all; a sweep\'s variants by their names)')
    .option('--sweep <path=values>', SWEEP_HELP, sweepOption)
    .option('--out <dir>', 'output directory (default: reports/<scenario name>/)')
    .addOption(new Option('--format <format>', 'what to print on stdout').choices(FORMATS).default('table'))
    .option('--no-progress', 'no progress bar on stderr (shown only when stderr is a terminal)')
    .option('--no-html', "write no index.html, chart specs or scenario copy, and remove an earlier run's index.html, chart specs and scenario copy (of another scenario) from the folder (saves ~1 s; `meshsim report DIR --scenario FILE` makes them later)")
    .option('--workers <n>', 'simulations at a time: this thread and n - 1 worker threads; 1 = no threads (default: all cores, or 1 for a run too small to gain)', wholeNumber(1, 'a worker count', 1024))
    .option('--shard <i/n>', 'run only shard i of n (1-based) of the variant × seed runs and write <out>/shard-<i>-of-<n>.json for `meshsim merge` (which takes --format; a shard refuses it)', shardOption)
    .option('--plugin <file>', PLUGIN_HELP, pluginOption)
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim run scenarios/quickstart.yaml\n' +
          '  meshsim run scenarios/quickstart.yaml --workers 1            # no threads\n' +
          '  meshsim run scenarios/sweep-retries.yaml --shard 2/4 --out shards  # 2 of 4\n' +
          '  meshsim merge shards           # once shards/ holds parts 1/4 to 4/4\n' +
          '  meshsim run scenarios/quickstart.yaml --seeds 10 --variant random round-robin\n' +
          '  meshsim run scenarios/quickstart.yaml --format json --out /tmp/qs > qs.json\n' +
          '  meshsim run scenarios/sweep-retries.yaml \\\n' +
          '    --sweep mesh.failover.retries.max=0,1,2,3\n' +
          '  meshsim run scenarios/sweep-retries.yaml \\\n' +
          "    --sweep 'mesh.balancer={kind: p2c},{kind: random}'   # 6 × 2 variants\n" +
          '  meshsim run scenarios/sweep-retries.yaml \\\n' +
          '    --sweep mesh.failover.retries.max=0..3 \\\n' +
          "    --sweep 'mesh.failover.retries.budget.budgetPercent=10%..50% step 10%'\n" +
          '  meshsim run examples/plugin/scenario.yaml \\\n' +
          '    --plugin examples/plugin/fewest-active.mjs   # a balancer of your own\n' +
          '\nA sweep (`sweep:` in the file, or --sweep) runs every point of its grid as a variant\n' +
          '(on top of each named variant, if the file has `variants:`), named from its values,\n' +
          'like max-2_budgetPercent-20pct; `meshsim validate FILE` lists the names.\n' +
          '\nSame scenario file and seeds give a byte-identical report.json on any machine, with any\n' +
          'number of --workers, and sharded (--shard i/n on n machines, then meshsim merge).\n' +
          'Shard i of n runs the variant × seed runs k (0-based, variants in file order, seeds\n' +
          'ascending) with k mod n = i - 1; it writes no report.json and checks no assert: rules.\n' +
          '\nThe scenario\'s `assert:` rules (CI gates, e.g. `p99 < 250ms`) are checked after the run:\n' +
          'a PASS or FAIL line each (on stderr with --format json or md), results in report.json.\n' +
          '\nCtrl-C leaves the output folder as it was: every file of the report is rendered before\n' +
          'any is written, then each is written atomically in one quick burst, report.json last.\n' +
          '\nExit codes:\n' +
          '  0   success (every assert: rule passed)\n' +
          '  1   an assert: rule failed (report.json and report.md are written anyway)\n' +
          '  2   bad input: an unreadable or invalid scenario, an unknown option or variant\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action(async (arg: string | undefined, flags: RunFlags, command: Command) => {
      // A shard prints no report (merge does, and takes --format): a format asked for would be silently lost.
      // (--no-html is no loss: a shard renders no HTML either.)
      if (flags.shard !== undefined && command.getOptionValueSource('format') === 'cli') {
        const { index, count } = flags.shard;
        throw new UsageError(`--format cannot go with --shard: a shard prints no report and writes only shard-${index}-of-${count}.json; give --format to meshsim merge, which makes the report`);
      }
      const { file, variants } = scenarioFileArgument(arg, flags.variant, (m) => new UsageError(m));
      setExit(await runCommand(file, { ...flags, variant: variants }, io));
    });

  program
    .command('validate')
    .description('check a scenario file and list its variants, without simulating')
    .argument('<file>', 'scenario file; - reads standard input')
    .option('--sweep <path=values>', SWEEP_HELP, sweepOption)
    .option('--plugin <file>', PLUGIN_HELP, pluginOption)
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim validate scenarios/quickstart.yaml\n' +
          '  meshsim validate scenarios/quickstart.yaml --sweep services.api.instances=4,8\n' +
          '  meshsim validate scenarios/sweep-retries.yaml \\\n' +
          "    --sweep 'mesh.failover.retries.budget.budgetPercent=10%..50% step 10%'\n" +
          '\nChecks the file as `run` would (schema, units, references between fields, every ' +
          "variant's and sweep point's overrides) and prints its services, workloads and variant " +
          'names. Warns on stderr when two variants are the same scenario.\n' +
          '\nExit codes:\n' +
          '  0   valid\n' +
          '  2   invalid: each problem as file:line:column: field: what was expected\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action(async (file: string, flags: { sweep?: SweepAxis[]; plugin?: string[] }) => setExit(await validateCommand(file, flags, io)));

  program
    .command('compare')
    .description('compare reports: each variant of B, C… against the same-named variant of A, with 95% CIs and p-values')
    .argument('<reports...>', 'report.json files, or directories holding one (the first is the baseline, A)')
    .addOption(new Option('--format <format>', 'output: terminal table, Markdown (a pull-request comment) or JSON').choices(FORMATS).default('table'))
    .option('--force', 'compare reports of different scenarios (name or sha256) anyway')
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim compare reports/before reports/after\n' +
          '  meshsim compare main/report.json pr/report.json --format md > comment.md\n' +
          '  meshsim compare reports/rr reports/p2c --format json\n' +
          '  meshsim compare old/report.json new/report.json --force   # scenario edited\n' +
          '\nEach variant of B (C, …) is compared with the variant of the same name in A; when each\n' +
          'report has a single variant under different names, those two. Per figure: the change\n' +
          'of B from A over the seeds, its 95% confidence interval and a p-value. Same seeds: paired\n' +
          'by seed (geometric mean over seeds of B/A, − 1; Student t over the log ratios, exact\n' +
          'sign-flip permutation test); different seeds: unpaired (mean(B)/mean(A) − 1,\n' +
          'delta-method t interval on the ratio, two-sample permutation test). Significant:\n' +
          'p < 0.05 and the interval excludes 0 (paired, that needs at least 6 differing seeds).\n' +
          '\nReports of different scenarios (name or sha256) are refused unless --force.\n' +
          '\nExit codes:\n' +
          '  0   compared\n' +
          '  2   bad input: a missing or invalid report, different scenarios without\n' +
          '      --force, or no variant in common\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action((paths: string[], flags: CompareFlags) => setExit(compareCommand(paths, flags, io)));

  registerReportCommand(program, io, setExit);
  registerMergeCommand(program, {
    formats: FORMATS,
    setExit,
    checkOutputDir,
    emitReport: (dir, loaded, output, flags, started, scenario, plugins) => emitReport(dir, loaded, output, flags, io, started, scenario, plugins),
    stderr: io.stderr,
  });
  registerLiveCommand(program, { io, setExit, usageError: (m) => new UsageError(m) });
  registerFidelityCommand(program, { io, setExit, usageError: (m) => new UsageError(m) });

  program
    .command('policies')
    .description('list the algorithms scenario files can name, and which system each follows')
    .option('--plugin <file>', 'list the balancers of this plugin too (repeatable)', pluginOption)
    .option('--check', "instead of listing: check the contract every balancer must keep (meshsim/testing's checkBalancer) on the plugins' balancers, or on all without --plugin")
    .option('--runs <n>', 'with --check: generated cases per property (default 50)', wholeNumber(1, 'a case count', 100_000))
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim policies\n' +
          '  meshsim policies | grep -A3 p2c\n' +
          '  meshsim policies --check --plugin examples/plugin/fewest-active.mjs\n' +
          '\nLists the balancers (mesh.balancer.kind), the failover mechanisms (keys of ' +
          'mesh.failover), the retry budgets and the backoffs, each with the system it follows. ' +
          'Their options and defaults: docs/balancing.md and docs/failover.md, or `meshsim schema`.\n' +
          '\nWith --check, each balancer is property-tested with its default options: valid picks ' +
          'through rebuilds, -1 with nothing to pick, the same picks for a seed, no real clock, ' +
          "timer or Math.random (docs/writing-a-policy.md). A failure prints fast-check's shrunk " +
          'counterexample and the seed that replays it.\n' +
          '\nExit codes:\n' +
          '  0   listed; with --check, every balancer checked keeps the contract\n' +
          '  1   with --check: a balancer breaks it\n' +
          '  2   a missing or broken plugin',
      ),
    )
    .action(async (flags: { plugin?: string[]; check?: boolean; runs?: number }) => {
      const kinds = await usePlugins(flags.plugin);
      if (flags.check !== true && flags.runs !== undefined) throw new UsageError('--runs goes with --check');
      setExit(flags.check === true ? await checkPoliciesCommand(io, flags.runs ?? 50, kinds) : policiesCommand(io));
    });

  program
    .command('schema')
    .description('print the JSON Schema of scenario files (for editor completion and validation)')
    .option('--plugin <file>', "include this plugin's balancers and their options (repeatable)", pluginOption)
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim schema > meshsim-scenario.schema.json\n' +
          '  # then, first line of a scenario, for the YAML language server (VS Code etc.):\n' +
          '  # yaml-language-server: $schema=./meshsim-scenario.schema.json\n' +
          '\nThe schema (JSON Schema draft 2020-12) describes the file as written: durations, ' +
          'rates and percentages as strings with units. It cannot express every rule: ' +
          '`meshsim validate` checks the rest (references between fields, limits).\n' +
          '\nExit codes:\n' +
          '  0   printed\n' +
          '  2   a missing or broken plugin (--plugin)\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action(async (flags: { plugin?: string[] }) => {
      await usePlugins(flags.plugin);
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
    // `meshsim nosuch --help` is an unknown command, not a request for the top-level help
    // (which commander would print, exiting 0): without its options, commander says so.
    const known = new Set(['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])]);
    const args = !argv[0].startsWith('-') && !known.has(argv[0]) ? [argv[0]] : [...argv];
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are "errors" to commander; they are successes to us.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_BAD_INPUT;
    }
    if (e instanceof ScenarioError || e instanceof RunStopError) {
      io.stderr(`meshsim: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof UnknownVariantError || e instanceof UsageError || e instanceof CompareError || e instanceof ShardError || e instanceof ShardSpecError || e instanceof PluginError) {
      io.stderr(`meshsim: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    const plugins = loadedPlugins();
    const where = plugins.length > 0 ? `internal error, in meshsim or in a plugin (${plugins.map((u) => fileURLToPath(u)).join(', ')})` : 'internal error (please report it)';
    io.stderr(`meshsim: ${where}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_INTERNAL;
  }
}
