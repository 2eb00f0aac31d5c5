// The open-loop load generator of `npm run bench:proxy` (bench/proxy/loadgen.ts): its
// percentiles, and its minimal HTTP/1.1 client against a real 127.0.0.1 server answering
// with Content-Length, chunked bodies, Connection: close, 503s, or not at all. Counts
// only: no assertion depends on timing (every request is accounted exactly once).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentiles, runLoad } from '../../../bench/proxy/loadgen.js';

describe('percentiles', () => {
  it('takes the nearest rank, skips NaN and keeps +∞', () => {
    const xs = Float64Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, shuffled order
    expect(percentiles(xs)).toMatchObject({ p50: 50, p90: 90, p99: 99, p999: 100, max: 100, mean: 50.5 });
    const withGaps = Float64Array.from([NaN, 3, 1, Infinity, 2, NaN]);
    expect(percentiles(withGaps)).toMatchObject({ p50: 2, max: Infinity });
    expect(percentiles(new Float64Array(0)).p50).toBeNaN();
  });
});

describe('runLoad', () => {
  let server: Server;
  let port = 0;
  const sockets = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const mode = req.url ?? '/';
      if (mode === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
        res.write('hello ');
        setImmediate(() => res.end('world\n'));
      } else if (mode === '/close') {
        res.writeHead(200, { 'content-length': '2', connection: 'close' });
        res.end('ok');
      } else if (mode === '/503') {
        res.writeHead(503, { 'content-length': '4' });
        res.end('busy');
      } else if (mode === '/hang') {
        // never answers; the socket is closed in afterAll
      } else {
        res.writeHead(200, { 'content-length': '12' });
        res.end('hello world\n');
      }
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const load = (path: string, extra: Partial<Parameters<typeof runLoad>[0]> = {}) =>
    runLoad({ url: `http://127.0.0.1:${port}${path}`, rate: 400, connections: 4, duration: 0.5, warmup: 0.1, grace: 2, ...extra });

  it('sends rate × duration requests in the window and accounts each once (Content-Length)', async () => {
    const r = await load('/');
    expect(r.measured).toEqual({ due: 200, ok: 200, non2xx: 0, errors: 0, unanswered: 0, dropped: 0 });
    expect(r.achievedRate).toBe(400);
    expect(Number.isFinite(r.latencyMs.max)).toBe(true);
    expect(r.latencyMs.p50).toBeGreaterThanOrEqual(0);
  });

  it('reads chunked bodies', async () => {
    const r = await load('/chunked');
    expect(r.measured).toMatchObject({ due: 200, ok: 200, errors: 0, unanswered: 0 });
  });

  it('reconnects after Connection: close, and sends the requests that waited meanwhile', async () => {
    const r = await load('/close');
    expect(r.measured).toMatchObject({ due: 200, ok: 200, errors: 0, unanswered: 0, dropped: 0 });
  });

  it('counts non-2xx answers apart', async () => {
    const r = await load('/503');
    expect(r.measured).toMatchObject({ due: 200, ok: 0, non2xx: 200, errors: 0 });
  });

  it('counts requests never answered, and drops beyond its bound of outstanding requests, as +∞ latency', async () => {
    // At most max(4 connections × 20, 1 s of requests) = 80 outstanding: the rest is dropped.
    const r = await load('/hang', { rate: 50, duration: 2, warmup: 0, grace: 0.2 });
    expect(r.measured.due).toBe(100);
    expect(r.measured.unanswered + r.measured.dropped).toBe(100);
    expect(r.measured.dropped).toBe(100 - 80);
    expect(r.latencyMs.p50).toBe(Infinity);
    expect(r.overloaded).toBe(true);
  });

  it('refuses anything but 127.0.0.1', async () => {
    await expect(runLoad({ url: 'http://localhost:1/', rate: 1, connections: 1, duration: 1, warmup: 0, grace: 0 })).rejects.toThrow(/127\.0\.0\.1/);
  });
});
