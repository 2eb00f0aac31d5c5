/**
 * Soak: 100,000 requests through the proxy (plus a warm-up), 32 keep-alive client
 * connections; backend, proxy and load each on a thread of its own. Afterwards the process holds no more file
 * descriptors than before the run (no socket leaks), the heap after a full GC has grown by
 * less than 16 MB (no per-request leak: 100,000 leaked requests of even 200 bytes would be
 * 20 MB), and the metrics count every request exactly once.
 *
 * Prints its figures (time, requests/s, fds, heap) to the test log.
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, metrics, proxy, series, total } from './_harness.js';

const REQUESTS = 100_000;
const WARMUP = 5_000;
const CONNECTIONS = 32;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const BACKEND = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const server = createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end('hello world'); });
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => { server.closeAllConnections(); server.close(() => parentPort.postMessage('closed')); });
`;

let worker: Worker;
let backendPort = 0;

beforeAll(async () => {
  worker = new Worker(BACKEND, { eval: true });
  backendPort = await new Promise<number>((resolve) => worker.once('message', resolve));
});

afterAll(async () => {
  await closeAll();
  worker.postMessage('close');
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
});

/** The load: `n` GETs, `CONNECTIONS` at a time over keep-alive connections, on a thread of its own. */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { Pool } = require(workerData.undici);
const pool = new Pool('http://127.0.0.1:' + workerData.port, { connections: workerData.connections, pipelining: 1 });
parentPort.on('message', (n) => {
  if (n === 'close') { pool.close().then(() => parentPort.postMessage('closed')); return; }
  const statuses = {};
  let sent = 0, done = 0, failed = null;
  const t0 = performance.now();
  const next = () => {
    if (sent === n) return;
    sent++;
    let status = 0;
    pool.dispatch({ path: '/soak', method: 'GET' }, {
      onConnect() {},
      onHeaders(s) { status = s; return true; },
      onData() { return true; },
      onComplete() {
        statuses[status] = (statuses[status] || 0) + 1;
        if (++done === n) parentPort.postMessage({ statuses, ms: performance.now() - t0, failed });
        else next();
      },
      onError(e) {
        failed = failed || e.message;
        statuses[0] = (statuses[0] || 0) + 1;
        if (++done === n) parentPort.postMessage({ statuses, ms: performance.now() - t0, failed });
        else next();
      },
    });
  };
  for (let i = 0; i < workerData.connections; i++) next();
});
`;

interface LoadResult {
  readonly statuses: Record<string, number>;
  readonly ms: number;
  readonly failed: string | null;
}

function load(client: Worker, n: number): Promise<LoadResult> {
  client.postMessage(n);
  return new Promise((resolve) => client.once('message', resolve));
}

const fds = (): number => readdirSync('/proc/self/fd').length;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe('soak', () => {
  it(`${REQUESTS.toLocaleString('en')} requests: no socket or memory leak, each request counted once`, async () => {
    const p = await proxy([`127.0.0.1:${backendPort}`]);
    const client = new Worker(CLIENT, { eval: true, workerData: { port: p.port, connections: CONNECTIONS, undici: createRequire(import.meta.url).resolve('undici') } });
    expect((await load(client, WARMUP)).statuses).toEqual({ 200: WARMUP });
    const fdBefore = fds();
    const heapBefore = heapAfterGc();
    const run = await load(client, REQUESTS);
    const seconds = run.ms / 1000;
    expect(run.failed).toBeNull();
    expect(run.statuses).toEqual({ 200: REQUESTS });
    const heapAfter = heapAfterGc();
    const fdAfter = fds();
    client.postMessage('close');
    await new Promise((resolve) => client.once('message', resolve));
    await client.terminate();
    const m = await metrics(p);
    console.log(
      `soak: ${REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(REQUESTS / seconds)} req/s; backend, proxy and client each on a thread of its own); ` +
        `fds ${fdBefore} → ${fdAfter}; heap after GC ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MB`,
    );
    expect(fdAfter).toBeLessThanOrEqual(fdBefore);
    expect(heapAfter - heapBefore).toBeLessThan(16 * 2 ** 20);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(WARMUP + REQUESTS);
    expect(series(m, 'meshsim_proxy_requests_total{code="200"}')).toBe(WARMUP + REQUESTS);
    expect(series(m, 'meshsim_proxy_requests_active')).toBe(0);
    expect(p.stats()).toMatchObject({ requests: WARMUP + REQUESTS, succeeded: WARMUP + REQUESTS, failed: 0, attempts: WARMUP + REQUESTS });
    // After the client has gone, its connections are closed on the proxy's side too.
    await p.close({ drainMs: 1_000 });
    expect(fds()).toBeLessThan(fdBefore);
  });
});
