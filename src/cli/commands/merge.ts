/**
 * `meshsim merge DIR|FILE... [--out DIR]`: combines the shard reports of a sharded run
 * (`meshsim run FILE --shard i/n`, report/shard.ts) into the report a single run would
 * have written — byte-identical report.json and report.md, through the same writer as
 * `meshsim run` — after checking the shards are the n shards of one run, each once.
 */
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { findShardFiles, mergeShards, readShardFile } from '../../report/shard.js';
import { pluginIdentities, type PluginIdentity } from '../../scenario/plugins.js';
import type { RunOutput } from '../../runner/run.js';
import type { LoadedScenario } from '../../scenario/types.js';
import type { WriteHtmlOptions } from '../../report/html/write.js';
import { helpText } from '../help.js';
import { pluginOption, usePlugins } from './context.js';

type Format = 'table' | 'md' | 'json';

/** What merge borrows from program.ts (passed in, so the modules do not import each other). */
export interface MergeContext {
  readonly formats: readonly Format[];
  readonly setExit: (code: number) => void;
  /** Fails when `dir` exists and is not a directory. */
  readonly checkOutputDir: (dir: string) => void;
  /** program.ts's report writer (`run` uses the same): writes and prints; returns the exit code. */
  readonly emitReport: (
    dir: string,
    loaded: LoadedScenario,
    output: RunOutput,
    flags: { readonly format: Format; readonly html: boolean },
    started: number,
    scenario: WriteHtmlOptions,
    plugins: readonly PluginIdentity[],
  ) => Promise<number>;
  readonly stderr: (text: string) => void;
}

interface MergeFlags {
  readonly out?: string;
  readonly plugin?: string[];
  readonly format: Format;
  readonly html: boolean;
}

export async function mergeCommand(paths: readonly string[], flags: MergeFlags, ctx: MergeContext): Promise<number> {
  const started = performance.now();
  await usePlugins(flags.plugin);
  const files = findShardFiles(paths).map(readShardFile);
  const merged = mergeShards(files, pluginIdentities());
  const dir = flags.out ?? join('reports', merged.loaded.base.name);
  ctx.checkOutputDir(dir);
  ctx.stderr(`merging ${merged.shards} shard(s) of ${merged.loaded.base.name} (${files.length} file(s))\n`);
  return ctx.emitReport(dir, merged.loaded, merged.output, flags, started, { scenarioSource: { file: merged.loaded.file, text: merged.source } }, merged.plugins);
}

export function registerMergeCommand(program: Command, ctx: MergeContext): void {
  program
    .command('merge')
    .description('combine the shard reports of `meshsim run FILE --shard i/n` into the report one run would have written')
    .argument('<shards...>', 'shard reports (shard-<i>-of-<n>.json), or directories holding them')
    .option('--out <dir>', 'output directory (default: reports/<scenario name>/)')
    .addOption(new Option('--format <format>', 'what to print on stdout').choices(ctx.formats).default('table'))
    .option('--no-html', "write no index.html, chart specs or scenario copy, and remove an earlier run's index.html, chart specs and scenario copy (of another scenario; as `meshsim run --no-html`)")
    .option('--plugin <file>', 'a plugin the shards ran with (the same file: its sha256 is checked; repeatable)', pluginOption)
    // Accepted so that a `run` command line edited into a `merge` one works: merging shows no progress.
    .addOption(new Option('--no-progress', 'accepted for symmetry with `run`; merge shows no progress bar').hideHelp())
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim run scenarios/sweep-retries.yaml --shard 1/2 --out shards  # machine 1\n' +
          '  meshsim run scenarios/sweep-retries.yaml --shard 2/2 --out shards  # machine 2\n' +
          '  meshsim merge shards --out reports/sweep-retries\n' +
          '  meshsim merge a/shard-1-of-2.json b/shard-2-of-2.json --format json > out.json\n' +
          '  meshsim merge shards --plugin my-policy.mjs   # shards run with that plugin\n' +
          '\nThe merged report.json, report.md and index.html are byte-identical to what `meshsim run FILE`\n' +
          'with the same options writes: the shards carry the scenario, the options and each\n' +
          "run's lossless result. The scenario's assert: rules are checked here, as run does.\n" +
          '\nRefused (exit 2): shards of different scenarios, options, plugins or meshsim versions,\n' +
          'a missing or duplicate shard, an unknown shard format version, a corrupt file, shards\n' +
          'run with a plugin that --plugin does not give (same sha256).\n' +
          '\nExit codes:\n' +
          '  0   merged (every assert: rule passed)\n' +
          '  1   an assert: rule failed (report.json and report.md are written anyway)\n' +
          '  2   bad input: unreadable, corrupt, mismatched, missing or duplicate shards\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action(async (paths: string[], flags: MergeFlags) => ctx.setExit(await mergeCommand(paths, flags, ctx)));
}
