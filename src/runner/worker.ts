/**
 * A simulation worker thread (see pool.ts): receives the variants' scenarios once, then
 * simulates one (variant, seed) per message and posts back the result in its lossless JSON
 * form (sim/run-result-json.ts) with the thread's heap size, or the error it threw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Scenario } from '../scenario/types.js';
import { runResultToJSON } from '../sim/run-result-json.js';
import { simulate } from '../sim/world.js';
import type { WorkerInit, WorkerReply, WorkerTask } from './pool.js';

const port = parentPort;
if (port === null) throw new Error('runner/worker: must run in a worker thread (see runner/pool.ts)');
const scenarios: readonly Scenario[] = (workerData as WorkerInit).scenarios;

port.on('message', (task: WorkerTask) => {
  let reply: WorkerReply;
  try {
    const result = simulate(scenarios[task.variant], task.seed);
    reply = { position: task.position, result: runResultToJSON(result), heapBytes: process.memoryUsage().heapTotal };
  } catch (e) {
    reply = { position: task.position, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply);
});
