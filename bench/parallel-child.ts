/**
 * One measured run for bench/parallel.bench.ts, in its own process: every run of a
 * scenario on `workers` threads (1 = in-process) through the runner the CLI uses
 * (`executePlan`), then the report built and serialised as `meshsim run` does; one JSON
 * line on stdout with the wall time, the report's sha256 (equal for every worker count),
 * the simulated requests, each worker's peak V8 heap and the process's peak RSS.
 *
 *   node --import tsx bench/parallel-child.ts <scenario.yaml> <workers>
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { buildReport, reportJson } from '../src/report/report.js';
import { assembleOutput, executePlan } from '../src/runner/run.js';
import { loadScenario } from '../src/scenario/load.js';

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
}

const [file, w] = process.argv.slice(2);
const workers = Number(w);
if (!file || !(workers >= 1)) {
  process.stderr.write('usage: parallel-child.ts <scenario.yaml> <workers>\n');
  process.exit(2);
}
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
};
process.stdout.write(JSON.stringify(result) + '\n');
