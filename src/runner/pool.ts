/**
 * A small pool of worker threads (node:worker_threads) for replications: N workers are the
 * calling thread and N − 1 threads. Every thread gets the variants' scenarios and the task
 * list once, then takes its next (variant, seed) itself from a queue shared by all threads
 * (a SharedArrayBuffer, updated with Atomics), so runs of uneven length keep every thread
 * busy and no thread ever holds a run another could start: the calling thread, busy
 * simulating, never has to hand out work. Results come back in their lossless JSON form
 * (sim/run-result-json.ts) and are placed by position, so the output is in the order asked
 * for whatever order the threads finish in. The calling thread simulating too saves a
 * thread's start-up and JIT warm-up (≈ 0.3 s of CPU each, measured on 2 cores).
 *
 * Which thread runs what ({@link TaskQueue}): the runs are ordered so that runs of the same
 * policies sit side by side, the order is cut into one contiguous block per thread, and a
 * thread takes runs from the front of its own block, then steals from the back of the
 * fullest other one. A thread therefore meets as few different balancers and failover
 * setups as it can: each new one under the same call sites makes V8 deoptimise and
 * recompile the world's handlers, and every thread's isolate pays that on its own, on the
 * cores the simulations need (bench/README.md, `parallel`). One shared cursor over the
 * canonical order gave every thread every policy of a sweep.
 *
 * Dispatch by message (each thread kept one run queued, as the calling thread cannot answer
 * while it simulates) left the calling thread idle for the last ≈ 1.5 runs of a sweep; with
 * a shared queue the 32-run sweep of bench/parallel.bench.ts took ≈ 4% less wall time on
 * 2 workers (interleaved pairs, compiled form).
 *
 * Our own ~200 lines rather than piscina: we need a fixed batch, not a long-lived service;
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
import { RunLimitError, simulate } from '../sim/world.js';
import { BalancerContractError } from '../algorithms/registry.js';
import { RunStopError } from '../core/run-stop.js';

/** The RunStopErrors a worker thread reports by name (structured clone keeps no class). */
export const STOP_ERRORS = { RunLimitError, BalancerContractError } as const;
import { loadedPlugins, threadOnlyKinds } from '../scenario/plugins.js';

/** One replication to simulate: a variant (index into the scenarios) and a seed. */
export interface WorkerTask {
  readonly variant: number;
  readonly seed: number;
}

/** What a worker receives when it starts: everything it needs to take runs by itself. */
export interface WorkerInit {
  readonly scenarios: readonly Scenario[];
  readonly tasks: readonly WorkerTask[];
  /** The queue shared by every thread (see {@link TaskQueue}). */
  readonly queue: TaskQueueInit;
  /** This thread's own block of the queue. */
  readonly block: number;
  /** Plugin modules to load before simulating (file URLs; see plugins.ts). */
  readonly plugins: readonly string[];
  /** Requests in flight a run may hold (simulate's option; default MAX_IN_FLIGHT). */
  readonly maxInFlight?: number;
}

/** What it takes to open a {@link TaskQueue} in another thread. */
export interface TaskQueueInit {
  /** Task positions in the order they are taken (runs of the same policies adjacent). */
  readonly order: readonly number[];
  /** One 64-bit word per block: (end << 32) | next, positions into `order`. */
  readonly blocks: SharedArrayBuffer;
}

/**
 * Task positions shared by the threads of one pool: `order` is cut into one contiguous
 * block per thread; a thread takes from the front of its own block and, once that is
 * empty, from the back of the block with the most left. Each block is one BigInt64 word
 * (end << 32 | next) changed only by compare-and-swap, so a take is lock-free and no two
 * threads ever get the same task.
 */
export class TaskQueue {
  private readonly blocks: BigInt64Array;
  private readonly order: readonly number[];

  constructor(init: TaskQueueInit) {
    this.blocks = new BigInt64Array(init.blocks);
    this.order = init.order;
  }

  /** A queue over `order` (task positions) cut into `blockCount` contiguous blocks. */
  static create(order: readonly number[], blockCount: number): TaskQueueInit {
    if (!Number.isSafeInteger(blockCount) || blockCount < 1) throw new RangeError(`TaskQueue: block count must be a positive integer, got ${blockCount}`);
    if (order.length > 0x7fffffff) throw new RangeError(`TaskQueue: too many tasks (${order.length})`);
    const blocks = new BigInt64Array(new SharedArrayBuffer(8 * blockCount));
    for (let b = 0; b < blockCount; b++) {
      const start = Math.floor((order.length * b) / blockCount);
      const end = Math.floor((order.length * (b + 1)) / blockCount);
      blocks[b] = pack(start, end);
    }
    return { order, blocks: blocks.buffer as SharedArrayBuffer };
  }

  /** The next task position for the thread owning `block`, or -1 when none is left. */
  take(block: number): number {
    const own = this.takeFront(block);
    if (own >= 0) return own;
    for (;;) {
      // Steal from the back of the fullest block (its front is what its owner takes next).
      let victim = -1;
      let most = 0;
      for (let b = 0; b < this.blocks.length; b++) {
        const v = Atomics.load(this.blocks, b);
        const left = endOf(v) - nextOf(v);
        if (left > most) {
          most = left;
          victim = b;
        }
      }
      if (victim < 0) return -1;
      const v = Atomics.load(this.blocks, victim);
      const next = nextOf(v);
      const end = endOf(v);
      if (next >= end) continue;
      if (Atomics.compareExchange(this.blocks, victim, v, pack(next, end - 1)) === v) return this.order[end - 1];
    }
  }

  /** Empties every block: no thread starts another task. */
  close(): void {
    for (let b = 0; b < this.blocks.length; b++) {
      for (;;) {
        const v = Atomics.load(this.blocks, b);
        if (Atomics.compareExchange(this.blocks, b, v, pack(endOf(v), endOf(v))) === v) break;
      }
    }
  }

  private takeFront(block: number): number {
    for (;;) {
      const v = Atomics.load(this.blocks, block);
      const next = nextOf(v);
      const end = endOf(v);
      if (next >= end) return -1;
      if (Atomics.compareExchange(this.blocks, block, v, pack(next + 1, end)) === v) return this.order[next];
    }
  }
}

function pack(next: number, end: number): bigint {
  return (BigInt(end) << 32n) | BigInt(next);
}

function nextOf(v: bigint): number {
  return Number(v & 0xffffffffn);
}

function endOf(v: bigint): number {
  return Number(v >> 32n);
}

/**
 * The order in which a pool's threads take `tasks`: runs whose variants have the same
 * sidecar policies (every service's balancer kind, then the whole of its `mesh`) side by
 * side, otherwise in the order given. Which thread runs a task never changes its result.
 */
export function affinityOrder(scenarios: readonly Scenario[], tasks: readonly WorkerTask[]): number[] {
  const keys = scenarios.map((s) => {
    const meshes = Object.values(s.services).map((svc) => svc.mesh);
    return `${meshes.map((m) => m.balancer.kind).join(',')}\u0000${JSON.stringify(meshes)}`;
  });
  const order = tasks.map((_, i) => i);
  order.sort((a, b) => {
    const ka = keys[tasks[a].variant];
    const kb = keys[tasks[b].variant];
    return ka < kb ? -1 : ka > kb ? 1 : a - b;
  });
  return order;
}

/** A worker's answer to a task. */
export type WorkerReply =
  | { readonly position: number; readonly result: RunResultJSON; readonly heapBytes: number }
  | {
      readonly position: number;
      readonly error: string;
      /** The RunStopError it was (the scenario's or a plugin's fault: its message; the stack otherwise). */
      readonly kind?: keyof typeof STOP_ERRORS;
    };

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
  /** Requests in flight a run may hold (simulate's option; default MAX_IN_FLIGHT). */
  readonly maxInFlight?: number;
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
 * already has the simulator loaded), the other `workers − 1` are worker threads. All of
 * them take runs from one shared {@link TaskQueue}; between two of its own runs the calling thread
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
  const threadOnly = threadOnlyKinds();
  if (threadOnly.length > 0) {
    return Promise.reject(
      new WorkerError(
        `balancer kinds registered in this thread only (${threadOnly.join(', ')}) cannot run in worker threads: ` +
          'load them from a module with loadPlugins() (as `--plugin` does), or run with workers: 1',
      ),
    );
  }
  const plugins = loadedPlugins();
  // One block per simulating executor: the calling thread's is block 0 when it simulates.
  const firstBlock = callerSimulates ? 0 : 1;
  const queueInit = TaskQueue.create(affinityOrder(scenarios, tasks), count - firstBlock);
  const queue = new TaskQueue(queueInit);
  const plainTasks = tasks.map((t) => ({ variant: t.variant, seed: t.seed }));
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
      queue.close(); // no thread starts another run
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
      const w = startWorker({ scenarios, tasks: plainTasks, queue: queueInit, block: i - firstBlock, plugins, maxInFlight: options.maxInFlight });
      workers.push(w);
      w.on('message', (reply: WorkerReply) => {
        if (settled) return;
        if ('error' in reply) {
          const t = tasks[reply.position];
          if (reply.kind !== undefined) {
            fail(new STOP_ERRORS[reply.kind](reply.error, { variant: t.variant, seed: t.seed }));
            return;
          }
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
      for (let position = queue.take(0); !settled && position >= 0; position = queue.take(0)) {
        const t = tasks[position];
        let result: RunResult;
        try {
          result = simulate(scenarios[t.variant], t.seed, { maxInFlight: options.maxInFlight });
        } catch (e) {
          if (e instanceof RunStopError) {
            fail(e.at(e.message, { variant: t.variant, seed: t.seed }));
            return;
          }
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
