/**
 * One measured run for bench/parallel.bench.ts, in its own process: every run of a
 * scenario on `workers` threads (1 = in-process) through the runner the CLI uses
 * (`executePlan`), then the report built and serialised as `meshsim run` does; one JSON
 * line on stdout with the wall time, the report's sha256 (equal for every worker count),
 * the simulated requests, each worker's peak V8 heap and the process's peak RSS.
 * `<modules>` is the directory of meshsim's modules: compiled JavaScript (as `npm run
 * demo` runs, workers start worker.js) or src/ (TypeScript: workers load tsx first).
 *
 *   node --import tsx bench/parallel-child.ts <scenario.yaml> <workers> <modules dir>
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as ReportModule from '../src/report/report.js';
import type * as RunModule from '../src/runner/run.js';
import type * as LoadModule from '../src/scenario/load.js';

export interface ParallelChildResult {
  readonly workers: number;
  /** Wall time: load the scenario, simulate every run, build and serialise the report, ms. */
  readonly wallMs: number;
  readonly runs: number;
  /** Requests issued over all runs (warm-up included). */
  readonly requests: number;
  readonly reportSha256: string;
  /** Per worker thread: runs done and peak heapTotal (MB); empty in-process. */
  readonly perWorker: readonly { readonly runs: number; readonly peakHeapMB: number }[];
  /** Peak RSS of the whole process (all threads), MB. */
  readonly maxRssMB: number;
  readonly heapUsedMB: number;
  readonly load1: number;
  /** CPU time of the process (all threads, user + system), ms: the work done, whatever the contention. */
  readonly cpuMs: number;
}

const [file, w, modules] = process.argv.slice(2);
const workers = Number(w);
if (!file || !(workers >= 1) || !modules) {
  process.stderr.write('usage: parallel-child.ts <scenario.yaml> <workers> <modules dir>\n');
  process.exit(2);
}
const ext = modules.endsWith('src') ? '.ts' : '.js';
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(modules, path + ext)).href) as Promise<T>;
const { buildReport, reportJson } = await load<typeof ReportModule>('report/report');
const { assembleOutput, executePlan } = await load<typeof RunModule>('runner/run');
const { loadScenario } = await load<typeof LoadModule>('scenario/load');
const t0 = performance.now();
const loaded = loadScenario(file);
const executed = await executePlan(loaded, { workers });
const json = reportJson(buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, assembleOutput(executed.plan, executed.runs.map((r) => r.result))));
const wallMs = performance.now() - t0;
const result: ParallelChildResult = {
  workers,
  wallMs,
  runs: executed.runs.length,
  requests: executed.runs.reduce((a, r) => a + r.result.conservation.issued, 0),
  reportSha256: createHash('sha256').update(json).digest('hex'),
  perWorker: executed.workers.map((s) => ({ runs: s.runs, peakHeapMB: s.peakHeapBytes / 2 ** 20 })),
  maxRssMB: process.resourceUsage().maxRSS / 1024,
  heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
  load1: loadavg()[0],
  cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
};
process.stdout.write(JSON.stringify(result) + '\n');
