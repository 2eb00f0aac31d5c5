/**
 * `meshsim fidelity FILE`: simulation vs reality. Calibrates the simulator from a short
 * live measurement, simulates the scenario, runs it live, and writes fidelity.json
 * (`meshsim/fidelity@1`) and fidelity.md side by side, with both worlds' report.json too.
 */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { buildFidelityReport, fidelityJson, fidelityMarkdown } from '../../report/fidelity.js';
import { reportMarkdown } from '../../report/markdown.js';
import { buildReport, reportJson } from '../../report/report.js';
import { pluginIdentities } from '../../scenario/plugins.js';
import { loadScenario } from '../../scenario/load.js';
import { EXIT_INTERRUPTED, PLUGIN_HELP, pluginOption, scenarioFileArgument, usePlugins, wholeNumber, withInterrupt, type CommandContext } from './context.js';
import type { Layout } from '../../live/run.js';
import { checkLive, installExitHook, LAYOUT_OPTION } from './live.js';
import { writeFilesHeld } from '../report-output.js';
import { LIMITS } from '../../scenario/schema.js';
import { helpText } from '../help.js';

interface FidelityFlags {
  readonly variant?: string[];
  readonly seed?: number;
  readonly simSeeds?: number;
  readonly calibrate: boolean;
  readonly out?: string;
  readonly format: 'md' | 'json';
  readonly progress: boolean;
  readonly layout: Layout;
  readonly plugin?: string[];
}

async function fidelityCommand(file: string, flags: FidelityFlags, ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  await usePlugins(flags.plugin);
  const loaded = loadScenario(file);
  const dir = flags.out ?? join('reports', `${loaded.base.name}-fidelity`);
  await checkLive(loaded, flags.variant, dir, ctx);
  installExitHook();
  const { runFidelity } = await import('../../runner/fidelity.js');
  const started = performance.now();
  const out = await withInterrupt((signal) =>
    runFidelity(loaded, {
      variants: flags.variant,
      seed: flags.seed,
      simSeeds: flags.simSeeds,
      calibrate: flags.calibrate,
      layout: flags.layout,
      signal,
      onStage: flags.progress ? (m) => io.stderr(`${m}\n`) : undefined,
    }),
    io.stderr,
  );
  if (out.aborted) {
    io.stderr('meshsim: interrupted; every process of the run was stopped, nothing written\n');
    return EXIT_INTERRUPTED;
  }
  const meta = { name: loaded.base.name, sha256: loaded.sha256 };
  const plugins = pluginIdentities();
  const sim = buildReport(meta, out.sim, { plugins });
  const live = buildReport(meta, out.live, { mode: 'live', plugins });
  const twin = buildReport(meta, out.simLiveSeeds, { plugins });
  const fidelity = buildFidelityReport(sim, live, out.calibration, out.environment, twin);
  // Everything rendered first, then one burst of atomic writes with signals held,
  // fidelity.json last: a Ctrl-C never leaves the folder with files of two runs.
  const files = [
    { path: join('sim', 'report.md'), content: reportMarkdown(sim) },
    { path: join('sim', 'report.json'), content: reportJson(sim) },
    { path: join('live', 'report.md'), content: reportMarkdown(live) },
    { path: join('live', 'report.json'), content: reportJson(live) },
    { path: 'fidelity.md', content: fidelityMarkdown(fidelity) },
    { path: 'fidelity.json', content: fidelityJson(fidelity) },
  ];
  await writeFilesHeld(dir, files, [], (e) => ctx.usageError(`cannot write the fidelity report into ${dir}: ${e.message}`));
  io.stdout(flags.format === 'json' ? fidelityJson(fidelity) : fidelityMarkdown(fidelity));
  io.stderr(`wrote ${join(dir, 'fidelity.json')}, fidelity.md, sim/ and live/ reports (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
  return 0;
}

export function registerFidelityCommand(program: Command, ctx: CommandContext): void {
  program
    .command('fidelity')
    .description('simulation vs reality: run a scenario in the simulator and live, write fidelity.json and fidelity.md side by side')
    .usage('[options] <file>')
    .argument('[file]', 'scenario file (YAML or JSON, meshsim/scenario@1)')
    .option('--variant <name...>', 'only these variants (default: all)')
    .option('--seed <n>', "seed of the live runs (default: the scenario's `seed`)", wholeNumber(0, 'a seed'))
    .option('--sim-seeds <k>', "simulated replications (default: the scenario's `seeds`)", wholeNumber(1, 'a replication count', LIMITS.seeds))
    .option('--no-calibrate', "skip the calibration: the simulator keeps the scenario's own network latency")
    .option('--out <dir>', 'output directory (default: reports/<scenario name>-fidelity/)')
    .addOption(LAYOUT_OPTION())
    .addOption(new Option('--format <format>', 'what to print on stdout').choices(['md', 'json']).default('md'))
    .option('--no-progress', 'no progress lines on stderr')
    .option('--plugin <file>', `${PLUGIN_HELP}; the proxies load it too`, pluginOption)
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim fidelity scenarios/fidelity/balancers.yaml\n' +
          '  meshsim fidelity scenarios/fidelity/outlier-detection.yaml --format json \\\n' +
          '    --out /tmp/fid\n' +
          '  meshsim fidelity scenarios/fidelity/retry-budget.yaml --no-calibrate\n' +
          '\nFirst a calibration (≈ 8 s): round trips to one instance with a constant service time,\n' +
          'straight and through a sidecar proxy; half the proxied round trip minus the service time\n' +
          'becomes the simulator\'s network latency per hop (written into the report). Then the\n' +
          'simulation (the scenario\'s seeds), then each variant live for the scenario\'s duration.\n' +
          'Per variant: p50/p90/p99, success rate, attempts per request and per-instance traffic\n' +
          'share in both worlds with the simulation\'s error relative to live, against the targets\n' +
          '(success rate ±1 pt, p50/p90 ±10%, share ±3 pt), and whether both worlds rank the\n' +
          'variants alike on every headline metric. The live run draws from the random streams of\n' +
          'the simulation of its seed, and the verdicts compare the two; the estimate over all\n' +
          'seeds is shown beside, with its range over seeds. Writes <out>/fidelity.json\n' +
          '(meshsim/fidelity@1), fidelity.md, and the two reports under <out>/sim/ and <out>/live/\n' +
          '(for meshsim compare).\n' +
          'Live figures are measurements: a second run gives other bytes.\n' +
          '\nExit codes:\n' +
          '  0    compared (misses are reported in fidelity.md, not as a failure)\n' +
          '  2    bad input: an unreadable or invalid scenario, an unknown variant\n' +
          '  70   internal error (please report it)\n' +
          '  130  interrupted (SIGINT/SIGTERM): every process stopped, nothing written',
      ),
    )
    .action(async (arg: string | undefined, flags: FidelityFlags) => {
      const { file, variants } = scenarioFileArgument(arg, flags.variant, ctx.usageError);
      ctx.setExit(await fidelityCommand(file, { ...flags, variant: variants }, ctx));
    });
}
