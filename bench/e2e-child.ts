/**
 * One end-to-end run for bench/e2e.bench.ts, in its own process: `meshsim run` through the
 * CLI's own code path (`main` of src/cli/program.ts, in-process: load and validate the
 * scenario, simulate, build the report, write report.json and report.md), then one JSON
 * line on stdout with the wall time of `main`, the simulated requests from report.json and
 * the process's peak RSS. `[modules dir]` is the directory of meshsim's modules: src/ by
 * default (TypeScript: run under tsx), or compiled JavaScript (the benches' default form,
 * bench/lib.ts `compiledMeshsim`, run with plain node as users run dist/cli/main.js).
 *
 *   node --import tsx bench/e2e-child.ts <scenario.yaml> <variant> <out-dir> [modules dir]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as ProgramModule from '../src/cli/program.js';

export interface E2eChildResult {
  readonly variant: string;
  readonly exitCode: number;
  /** Wall time of main(['run', ...]), ms. */
  readonly wallMs: number;
  /** report.json: variants[0].summary.requests.total. */
  readonly requests: number;
  readonly succeeded: number;
  readonly meanLatencyMs: number | null;
  /** Peak resident set size of this process, KB (process.resourceUsage().maxRSS). */
  readonly maxRssKB: number;
  readonly heapUsedMB: number;
  /** Time from process start to calling main (node + loader + module graph), ms. */
  readonly startupMs: number;
}

/** A child's result as the parent keeps it: with its rate, peak RSS in MB and process wall time. */
export interface MeasuredRun extends E2eChildResult {
  readonly rate: number;
  readonly rssMB: number;
  readonly childWallMs: number;
}

interface ReportShape {
  variants: { name: string; summary: { requests: { total: number; succeeded: number }; latencyMs: { mean: number | null } } }[];
}

const [file, variant, out, modulesArg] = process.argv.slice(2);
if (!file || !variant || !out) {
  process.stderr.write('usage: e2e-child.ts <scenario.yaml> <variant> <out-dir> [modules dir]\n');
  process.exit(2);
}
// meshsim is imported only from here (the imports above from ../src are types): compiled,
// this file runs from a scratch package where ../src does not exist.
const modules = modulesArg ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const ext = modules.endsWith('src') ? '.ts' : '.js';
const { main } = (await import(pathToFileURL(join(modules, 'cli', 'program' + ext)).href)) as typeof ProgramModule;

const startupMs = performance.now();
let stderr = '';
const t0 = performance.now();
const exitCode = await main(['run', file, '--variant', variant, '--out', out, '--format', 'json', '--no-progress', '--no-html'], {
  stdout: () => {}, // the report on stdout is not needed: report.json is read below
  stderr: (text) => {
    stderr += text;
  },
  isTTY: false,
});
const wallMs = performance.now() - t0;
if (exitCode !== 0) {
  process.stderr.write(stderr);
  process.exit(exitCode);
}
const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReportShape;
const summary = report.variants[0].summary;
const result: E2eChildResult = {
  variant: report.variants[0].name,
  exitCode,
  wallMs,
  requests: summary.requests.total,
  succeeded: summary.requests.succeeded,
  meanLatencyMs: summary.latencyMs.mean,
  maxRssKB: process.resourceUsage().maxRSS,
  heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  startupMs,
};
process.stdout.write(JSON.stringify(result) + '\n');
