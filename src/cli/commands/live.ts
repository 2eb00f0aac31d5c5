/**
 * `meshsim live FILE`: runs a scenario for real — a backend fleet, the sidecar proxies and
 * an open-loop load generator on 127.0.0.1 (src/live) — and writes the same report.json /
 * report.md as `meshsim run`, with `mode: "live"`, so `meshsim compare` and every other
 * report tool work on both.
 */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { killAllChildren } from '../../live/process.js';
import type { Layout } from '../../live/run.js';
import { withAssertions } from '../../report/assertions.js';
import { buildReport } from '../../report/report.js';
import { outputDirProblem } from '../../report/write.js';
import { selectVariants } from '../../runner/run.js';
import { pluginIdentities } from '../../scenario/plugins.js';
import { loadScenario } from '../../scenario/load.js';
import type { LoadedScenario } from '../../scenario/types.js';
import { EXIT_INTERRUPTED, PLUGIN_HELP, pluginOption, scenarioFileArgument, scenarioOf, usePlugins, wholeNumber, withInterrupt, type CommandContext } from './context.js';
import { printReport, writeReportFolder, wroteReportText } from '../report-output.js';
import { LIMITS } from '../../scenario/schema.js';
import { helpText } from '../help.js';

const FORMATS = ['table', 'md', 'json'] as const;

interface LiveFlags {
  readonly seed?: number;
  readonly seeds?: number;
  readonly variant?: string[];
  readonly out?: string;
  readonly format: (typeof FORMATS)[number];
  readonly progress: boolean;
  readonly layout: Layout;
  readonly plugin?: string[];
  readonly html: boolean;
}

/** `--layout split|single`: where the fleet, the proxies and the load generator run. */
export const LAYOUT_OPTION = (): Option =>
  new Option('--layout <layout>', 'split: fleet and proxies in child processes, load generator here; single: all in this process (one event loop; fewer process hops on a crowded machine)')
    .choices(['split', 'single'])
    .default('split');

/** Checks before anything starts: the variants asked for exist, the output directory can be one. */
export async function checkLive(loaded: LoadedScenario, variants: readonly string[] | undefined, out: string, ctx: CommandContext): Promise<void> {
  selectVariants(loaded, variants);
  const problem = outputDirProblem(out);
  if (problem !== undefined) throw ctx.usageError(`--out ${out}: ${problem}`);
}

/** Kills this process's children if it exits without stopping them (a last resort; runs stop them normally). */
let exitHook = false;
export function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', killAllChildren);
}

async function liveCommand(file: string, flags: LiveFlags, ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  await usePlugins(flags.plugin);
  const loaded = loadScenario(file);
  const dir = flags.out ?? join('reports', `${loaded.base.name}-live`);
  await checkLive(loaded, flags.variant, dir, ctx);
  installExitHook();
  const { runScenarioLive } = await import('../../runner/live.js');
  const started = performance.now();
  const output = await withInterrupt((signal) =>
    runScenarioLive(loaded, {
      seed: flags.seed,
      seeds: flags.seeds,
      variants: flags.variant,
      layout: flags.layout,
      signal,
      onRun: flags.progress
        ? (k, total, variant, seed) =>
            io.stderr(`[${k + 1}/${total}] ${variant} seed ${seed}: live for ${((loaded.variants.find((v) => v.name === variant)?.scenario.duration ?? 0) / 1000).toFixed(1)} s\n`)
        : undefined,
    }),
    io.stderr,
  );
  if (output.aborted) {
    io.stderr('meshsim: interrupted; every process of the run was stopped, nothing written\n');
    return EXIT_INTERRUPTED;
  }
  const rules = loaded.base.assert;
  const report = withAssertions(buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, output, { mode: 'live', plugins: pluginIdentities() }), rules);
  // Rendered first, then written in one burst, report.json last: the folder never mixes two runs.
  const removed = await writeReportFolder(dir, report, flags.html ? scenarioOf(loaded) : undefined, io, ctx.usageError);
  const failed = printReport(report, rules, flags.format, `${loaded.base.name} (live): ${report.variants.length} variant(s) × ${report.seeds.length} run(s)`, io);
  io.stderr(`${wroteReportText(dir, flags.html, removed)} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  return failed ? 1 : 0;
}

export function registerLiveCommand(program: Command, ctx: CommandContext): void {
  program
    .command('live')
    .description('run a scenario for real: backend fleet, sidecar proxies and load generator on 127.0.0.1; write report.json (mode: live)')
    .usage('[options] <file>')
    .argument('[file]', 'scenario file (YAML or JSON, meshsim/scenario@1)')
    .option('--variant <name...>', 'run only these variants (default: all, one after another)')
    .option('--seed <n>', "seed of the live run (default: the scenario's `seed`)", wholeNumber(0, 'a seed'))
    .option('--seeds <k>', 'live runs per variant, seeds seed, seed + 1, … (default 1)', wholeNumber(1, 'a run count', LIMITS.seeds))
    .option('--out <dir>', 'output directory (default: reports/<scenario name>-live/)')
    .addOption(LAYOUT_OPTION())
    .addOption(new Option('--format <format>', 'what to print on stdout').choices(FORMATS).default('table'))
    .option('--no-progress', 'no progress lines on stderr')
    .option('--plugin <file>', `${PLUGIN_HELP}; the proxies load it too`, pluginOption)
    .option('--no-html', "write no index.html, chart specs or scenario copy, and remove an earlier run's index.html, chart specs and scenario copy (of another scenario)")
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim live scenarios/fidelity/balancers.yaml\n' +
          '  meshsim live scenarios/fidelity/balancers.yaml --variant p2c-peak-ewma \\\n' +
          '    --out /tmp/ewma\n' +
          '  meshsim run scenarios/fidelity/balancers.yaml --seeds 1 --out /tmp/sim\n' +
          '  meshsim compare /tmp/sim reports/fidelity-balancers-live\n' +
          '\nEach variant runs for the scenario\'s `duration` (+ drain) of real time: one HTTP server per\n' +
          'instance (slots, queue bound, service times, faults, downstream calls), the sidecar proxies\n' +
          '(the same algorithm objects the simulator runs) in a second process, and an open-loop load\n' +
          'generator measuring latency from each request\'s intended send time (no coordinated omission).\n' +
          'Before the load, a warm-up sends 200 requests through each client proxy, 4 at a time, so\n' +
          'pools exist and code is compiled (about 50 × the mean service time: seconds with slow\n' +
          'instances); the algorithms then start afresh.\n' +
          'The network is the real loopback: the scenario\'s `network` latency is not added.\n' +
          'Workloads with `key:` send each request\'s key (drawn as the simulation draws it) in the\n' +
          'x-meshsim-key header, which their proxies hash for ring-hash and maglev. Instances that\n' +
          '`membership` adds start with the fleet and join the proxies\' endpoint sets at their time\n' +
          '(cold, as `coldStart` says); removed ones finish what they hold.\n' +
          'Live reports are measurements: two runs never give byte-identical files. Every process the\n' +
          'run starts is stopped when it ends, fails or is interrupted (Ctrl-C; a second Ctrl-C\n' +
          'stops at once).\n' +
          '\nExit codes:\n' +
          '  0    success (every assert: rule passed)\n' +
          '  1    an assert: rule failed (the reports are written all the same)\n' +
          '  2    bad input: an unreadable or invalid scenario, an unknown variant\n' +
          '  70   internal error (please report it)\n' +
          '  130  interrupted (SIGINT/SIGTERM): every process stopped, nothing written',
      ),
    )
    .action(async (arg: string | undefined, flags: LiveFlags) => {
      const { file, variants } = scenarioFileArgument(arg, flags.variant, ctx.usageError);
      ctx.setExit(await liveCommand(file, { ...flags, variant: variants }, ctx));
    });
}
