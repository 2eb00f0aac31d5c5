/**
 * A small pool of worker threads (node:worker_threads) for replications: N workers are the
 * calling thread and N − 1 threads. Every thread gets the variants' scenarios and the task
 * list once, then takes the next (variant, seed) itself from a cursor shared by all threads
 * (an Int32 in a SharedArrayBuffer, advanced with Atomics.add), so runs of uneven length
 * keep every thread busy and no thread ever holds a run another could start: the calling
 * thread, busy simulating, never has to hand out work. Results come back in their lossless
 * JSON form (sim/run-result-json.ts) and are placed by position, so the output is in the
 * order asked for whatever order the threads finish in. The calling thread simulating too
 * saves a thread's start-up and JIT warm-up (≈ 0.3 s of CPU each, measured on 2 cores).
 *
 * Dispatch by message (each thread kept one run queued, as the calling thread cannot answer
 * while it simulates) left the calling thread idle for the last ≈ 1.5 runs of a sweep; with
 * the shared cursor the 32-run sweep of bench/parallel.bench.ts took ≈ 4% less wall time
 * on 2 workers (interleaved pairs, compiled form).
 *
 * Our own ~150 lines rather than piscina: we need a fixed batch, not a long-lived service;
 * a worker entry that runs both compiled (dist/runner/worker.js) and from TypeScript
 * sources (src/runner/worker.ts, under vitest or tsx: the thread first registers tsx's
 * loader); per-worker heap figures; and every worker stopped on the first error.
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

/** One replication to simulate: a variant (index into the scenarios) and a seed. */
export interface WorkerTask {
  readonly variant: number;
  readonly seed: number;
}

/** What a worker receives when it starts: everything it needs to take runs by itself. */
export interface WorkerInit {
  readonly scenarios: readonly Scenario[];
  readonly tasks: readonly WorkerTask[];
  /**
   * One Int32 shared by every thread: the position of the next task to take. A thread
   * takes a task with `Atomics.add(cursor, 0, 1)`; a position ≥ tasks.length means none is
   * left (the calling thread pushes it past the end to stop every thread after an error).
   */
  readonly cursor: SharedArrayBuffer;
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
  /**
   * Whether the calling thread simulates too (default true). False leaves every run to
   * the worker threads (`workers − 1` of them, at least one): the calling thread stays free
   * for its event loop, and every result crosses threads (what the tests of that path want).
   */
  readonly callerSimulates?: boolean;
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

/** Takes the next task position from the shared cursor (≥ `count` when none is left). */
export function takeTask(cursor: Int32Array): number {
  return Atomics.add(cursor, 0, 1);
}

/**
 * Simulates `tasks` (variant index into `scenarios`, seed) with `options.workers`
 * simulations at a time: the calling thread is one of them (it is idle otherwise, and
 * already has the simulator loaded), the other `workers − 1` are worker threads. All of
 * them take runs from one shared cursor; between two of its own runs the calling thread
 * yields, so the threads' results are taken in.
 */
export function runOnWorkers(scenarios: readonly Scenario[], tasks: readonly WorkerTask[], options: PoolOptions): Promise<PoolOutput> {
  const results = new Array<RunResult | undefined>(tasks.length);
  const callerSimulates = options.callerSimulates ?? true;
  // Executors: the calling thread (index 0, which may not simulate) and count − 1 threads.
  const count = callerSimulates ? Math.max(1, Math.min(options.workers, tasks.length)) : Math.max(2, Math.min(options.workers, tasks.length + 1));
  // stats[0] is the calling thread, stats[i] worker thread i.
  const stats = Array.from({ length: count }, () => ({ runs: 0, peakHeapBytes: 0 }));
  if (tasks.length === 0) return Promise.resolve({ results: [], workers: [] });
  const shared = new SharedArrayBuffer(4);
  const cursor = new Int32Array(shared);
  const init: WorkerInit = { scenarios, tasks: tasks.map((t) => ({ variant: t.variant, seed: t.seed })), cursor: shared };
  return new Promise<PoolOutput>((resolve, reject) => {
    const workers: Worker[] = [];
    let received = 0;
    let settled = false;
    // Threads still running, and whether the calling thread has stopped taking runs: when
    // both are done every result must be in (a thread posts each result before it exits).
    let running = count - 1;
    let ownDone = false;
    const checkComplete = (): void => {
      if (!settled && ownDone && running === 0 && received < tasks.length) {
        fail(new WorkerError(`the worker threads stopped with ${tasks.length - received} of ${tasks.length} runs not done`));
      }
    };
    const stopAll = (): void => {
      Atomics.store(cursor, 0, tasks.length); // no thread starts another run
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
    for (let i = 1; i < count; i++) {
      const w = startWorker(init);
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
        accept(reply.position, result, i, reply.heapBytes);
      });
      w.on('error', (e) => fail(new WorkerError(`a worker thread failed: ${e.stack ?? e.message}`)));
      w.on('exit', (code) => {
        running--;
        if (code !== 0) fail(new WorkerError(`a worker thread exited with code ${code} before its runs were done`));
        else checkComplete();
      });
    }
    const yieldToEvents = (): Promise<void> => new Promise((r) => setImmediate(r));
    const ownRuns = async (): Promise<void> => {
      if (!callerSimulates) {
        ownDone = true;
        return;
      }
      for (let position = takeTask(cursor); !settled && position < tasks.length; position = takeTask(cursor)) {
        const t = tasks[position];
        let result: RunResult;
        try {
          result = simulate(scenarios[t.variant], t.seed);
        } catch (e) {
          fail(new WorkerError(`simulating variant #${t.variant} seed ${t.seed} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
          return;
        }
        if (!accept(position, result, 0, process.memoryUsage().heapTotal)) return;
        await yieldToEvents();
      }
      ownDone = true;
      checkComplete();
    };
    void ownRuns();
  });
}
