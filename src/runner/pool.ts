/**
 * A small pool of worker threads (node:worker_threads) for replications: N workers are the
 * calling thread and N − 1 threads; each thread gets the variants' scenarios once, then one
 * (variant, seed) at a time from a shared cursor — the next as soon as it posts a result,
 * so runs of uneven length keep every worker busy. Results come back in their lossless
 * JSON form (sim/run-result-json.ts) and are placed by position, so the output is in the
 * order asked for whatever order the workers finish in. The calling thread simulating too
 * saves a thread's start-up and JIT warm-up (≈ 0.3 s of CPU each, measured on 2 cores).
 *
 * Our own ~150 lines rather than piscina: we need a fixed batch, not a long-lived service;
 * a worker entry that runs both compiled (dist/runner/worker.js) and from TypeScript
 * sources (src/runner/worker.ts, under vitest or tsx: the thread first registers tsx's
 * loader); per-worker heap figures; and every worker terminated on the first error.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Scenario } from '../scenario/types.js';
import type { RunResult } from '../sim/metrics.js';
import { runResultFromJSON, type RunResultJSON } from '../sim/run-result-json.js';
import { simulate } from '../sim/world.js';

/** What a worker receives when it starts. */
export interface WorkerInit {
  readonly scenarios: readonly Scenario[];
}

/** One replication to simulate: `position` in the caller's list, a variant (index into the scenarios) and a seed. */
export interface WorkerTask {
  readonly position: number;
  readonly variant: number;
  readonly seed: number;
}

/** A worker's answer to a task. */
export type WorkerReply =
  | { readonly position: number; readonly result: RunResultJSON; readonly heapBytes: number }
  | { readonly position: number; readonly error: string };

/** What one worker did (the first is the calling thread). */
export interface WorkerStats {
  readonly runs: number;
  /** Largest V8 heap (heapTotal) of the thread's isolate seen after a run. */
  readonly peakHeapBytes: number;
}

export interface PoolOptions {
  /** Simulations at a time (at most one per run): the calling thread and `workers − 1` threads. */
  readonly workers: number;
  /** Called as each run's result arrives (in completion order). */
  readonly onResult?: (position: number, result: RunResult) => void;
}

export interface PoolOutput {
  /** Results by position. */
  readonly results: readonly RunResult[];
  readonly workers: readonly WorkerStats[];
}

/** Thrown when a worker thread fails (a simulation threw, or the thread died). */
export class WorkerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

/** tsx's ESM API, resolved from this module (only needed when running from .ts sources). */
function tsxApiUrl(from: string): string {
  const require = createRequire(from);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
  const entry = pkg.exports?.['./esm/api']?.import?.default;
  if (entry === undefined) throw new WorkerError(`cannot find tsx's ./esm/api export in ${pkgFile}`);
  return pathToFileURL(join(dirname(pkgFile), entry)).href;
}

/** Starts a worker thread running worker.js next to this module, or worker.ts through tsx. */
function startWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (/\.ts$/.test(new URL(here).pathname)) {
    const entry = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(tsxApiUrl(here))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true, workerData: init });
  }
  return new Worker(new URL('./worker.js', here), { workerData: init });
}

/**
 * Simulates `tasks` (variant index into `scenarios`, seed) with `options.workers`
 * simulations at a time: the calling thread is one of them (it is idle otherwise, and
 * already has the simulator loaded), the other `workers − 1` are worker threads. Between
 * two of its own runs the calling thread yields, so the threads' results are taken in and
 * they get their next run; each thread keeps one run queued behind the one it is
 * simulating, so it never waits for the calling thread to finish a run.
 */
export function runOnWorkers(
  scenarios: readonly Scenario[],
  tasks: readonly { readonly variant: number; readonly seed: number }[],
  options: PoolOptions,
): Promise<PoolOutput> {
  const results = new Array<RunResult | undefined>(tasks.length);
  const count = Math.max(1, Math.min(options.workers, tasks.length));
  // stats[0] is the calling thread, stats[i] worker thread i.
  const stats = Array.from({ length: count }, () => ({ runs: 0, peakHeapBytes: 0 }));
  if (tasks.length === 0) return Promise.resolve({ results: [], workers: [] });
  return new Promise<PoolOutput>((resolve, reject) => {
    const workers: Worker[] = [];
    let next = 0;
    let received = 0;
    let settled = false;
    const stopAll = (): void => {
      for (const w of workers) void w.terminate();
    };
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      stopAll();
      reject(error);
    };
    /** Files a result; false once the pool has settled (failed, or this was the last). */
    const accept = (position: number, result: RunResult, executor: number, heapBytes: number): boolean => {
      results[position] = result;
      stats[executor].runs++;
      stats[executor].peakHeapBytes = Math.max(stats[executor].peakHeapBytes, heapBytes);
      received++;
      try {
        options.onResult?.(position, result);
      } catch (e) {
        fail(e as Error);
        return false;
      }
      if (received === tasks.length) {
        settled = true; // later exits are expected
        stopAll();
        resolve({ results: results as RunResult[], workers: stats });
        return false;
      }
      return true;
    };
    const dispatch = (w: Worker): void => {
      if (next >= tasks.length) return;
      const position = next++;
      const task: WorkerTask = { position, variant: tasks[position].variant, seed: tasks[position].seed };
      w.postMessage(task);
    };
    for (let i = 1; i < count; i++) {
      const w = startWorker({ scenarios });
      workers.push(w);
      w.on('message', (reply: WorkerReply) => {
        if (settled) return;
        if ('error' in reply) {
          const t = tasks[reply.position];
          fail(new WorkerError(`simulating variant #${t.variant} seed ${t.seed} failed in a worker thread: ${reply.error}`));
          return;
        }
        let result: RunResult;
        try {
          result = runResultFromJSON(reply.result);
        } catch (e) {
          fail(e as Error);
          return;
        }
        if (accept(reply.position, result, i, reply.heapBytes)) dispatch(w);
      });
      w.on('error', (e) => fail(new WorkerError(`a worker thread failed: ${e.stack ?? e.message}`)));
      w.on('exit', (code) => fail(new WorkerError(`a worker thread exited (code ${code}) before its runs were done`)));
      // One to simulate, one queued.
      dispatch(w);
      dispatch(w);
    }
    const yieldToEvents = (): Promise<void> => new Promise((r) => setImmediate(r));
    const ownRuns = async (): Promise<void> => {
      await yieldToEvents(); // let the threads start first
      while (!settled && next < tasks.length) {
        const position = next++;
        const t = tasks[position];
        let result: RunResult;
        try {
          result = simulate(scenarios[t.variant], t.seed);
        } catch (e) {
          fail(e as Error);
          return;
        }
        if (!accept(position, result, 0, process.memoryUsage().heapTotal)) return;
        await yieldToEvents();
      }
    };
    void ownRuns();
  });
}
