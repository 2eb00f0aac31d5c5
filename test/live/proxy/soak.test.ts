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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, metrics, proxy, series, total } from './_harness.js';

const REQUESTS = 100_000;
const WARMUP = 5_000;
const CONNECTIONS = 32;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The backend: raw TCP answering every request (GETs without bodies: one per blank line)
 * with a fixed response, so that the proxy, not the backend, is what the run measures.
 */
const BACKEND = `
const { createServer } = require('node:net');
const { parentPort } = require('node:worker_threads');
const RESPONSE = 'HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: 11\\r\\n\\r\\nhello world';
const sockets = new Set();
const server = createServer((s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
  s.on('error', () => {});
  let tail = '';
  s.on('data', (chunk) => {
    const text = tail + chunk.toString('latin1');
    let n = 0, at = 0;
    for (;;) { const i = text.indexOf('\\r\\n\\r\\n', at); if (i < 0) break; n++; at = i + 4; }
    tail = text.slice(at);
    if (n > 0) s.write(n === 1 ? RESPONSE : RESPONSE.repeat(n));
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => { for (const s of sockets) s.destroy(); server.close(() => parentPort.postMessage('closed')); });
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

/**
 * The load: \`n\` GETs, one at a time on each of \`CONNECTIONS\` keep-alive connections, on a
 * thread of its own; raw TCP, counting the responses by their status lines.
 */
const CLIENT = `
const { connect } = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const REQUEST = 'GET /soak HTTP/1.1\\r\\nhost: soak\\r\\n\\r\\n';
const conns = [];
for (let i = 0; i < workerData.connections; i++) conns.push(connect(workerData.port, '127.0.0.1'));
let job = null;
const next = (c) => {
  if (job.sent === job.n) return;
  job.sent++;
  c.write(REQUEST);
};
for (const c of conns) {
  c.setNoDelay(true);
  c.on('error', (e) => { if (job) job.failed = job.failed || e.message; });
  let tail = '';
  c.on('data', (chunk) => {
    const text = tail + chunk.toString('latin1');
    let at = 0;
    for (;;) {
      const i = text.indexOf('HTTP/1.1 ', at);
      if (i < 0 || i + 12 > text.length) break;
      const status = text.slice(i + 9, i + 12);
      job.statuses[status] = (job.statuses[status] || 0) + 1;
      at = i + 12;
      if (++job.done === job.n) parentPort.postMessage({ statuses: job.statuses, ms: performance.now() - job.t0, failed: job.failed });
      else next(c);
    }
    tail = text.slice(Math.max(at, text.length - 11));
  });
}
parentPort.on('message', (n) => {
  if (n === 'close') { for (const c of conns) c.destroy(); parentPort.postMessage('closed'); return; }
  job = { n, sent: 0, done: 0, statuses: {}, failed: null, t0: performance.now() };
  for (const c of conns) next(c);
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
    const client = new Worker(CLIENT, { eval: true, workerData: { port: p.port, connections: CONNECTIONS } });
    expect((await load(client, WARMUP)).statuses).toEqual({ 200: WARMUP });
    const fdBefore = fds();
    const heapBefore = heapAfterGc();
    const cpu0 = process.cpuUsage();
    const run = await load(client, REQUESTS);
    const cpu = process.cpuUsage(cpu0);
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
        `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (all threads); fds ${fdBefore} → ${fdAfter}; heap after GC ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MB`,
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
