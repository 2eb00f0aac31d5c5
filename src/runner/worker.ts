/**
 * A simulation worker thread (see pool.ts): receives the variants' scenarios, the task
 * list, the shared queue and the plugin modules to load once, then takes runs from the
 * queue until none is left, posting back each result in its lossless JSON form
 * (sim/run-result-json.ts) with the thread's heap size, or the error it threw (and stops:
 * the calling thread ends the pool).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runResultToJSON } from '../sim/run-result-json.js';
import { RunLimitError, simulate } from '../sim/world.js';
import { BalancerContractError } from '../algorithms/registry.js';
import { loadPlugins } from '../scenario/plugins.js';
import { TaskQueue, type WorkerInit, type WorkerReply } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('runner/worker: must run in a worker thread (see runner/pool.ts)');
const { scenarios, tasks, queue: queueInit, block, plugins, maxInFlight } = workerData as WorkerInit;
// The calling thread loaded these already, so they load here too; a failure ends the pool.
await loadPlugins(plugins);
const queue = new TaskQueue(queueInit);

for (let position = queue.take(block); position >= 0; position = queue.take(block)) {
  const task = tasks[position];
  let reply: WorkerReply;
  try {
    const result = simulate(scenarios[task.variant], task.seed, { maxInFlight });
    reply = { position, result: runResultToJSON(result), heapBytes: process.memoryUsage().heapTotal };
  } catch (e) {
    const reply: WorkerReply =
      e instanceof RunLimitError || e instanceof BalancerContractError
        ? { position, error: e.message, kind: e instanceof RunLimitError ? 'RunLimitError' : 'BalancerContractError' }
        : { position, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
    port.postMessage(reply);
    break;
  }
  port.postMessage(reply);
}
