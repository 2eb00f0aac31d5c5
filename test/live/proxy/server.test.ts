/**
 * The proxy under client abuse, on real sockets: malformed requests, oversized headers and
 * bodies, clients closing early, thousands of idle connections, CONNECT. It stays up,
 * answers each client correctly, and counts every request exactly once. Also: the admin
 * listener and graceful shutdown.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveMesh } from '../../../src/scenario/schema.js';
import type { MeshSpec } from '../../../src/scenario/types.js';
import { closeAll, eventually, httpBackend, metrics, proxy, raw, send, series, sleep, tcpBackend, total, type Backend } from './_harness.js';

afterEach(closeAll);

const ok = () => httpBackend((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

describe('client abuse', () => {
  it('a malformed request gets 400, and the proxy serves the next client', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const reply = await raw(p.port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const garbage = await raw(p.port, '\x00\x01\x02 nonsense\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    // Well-formed, but a target no upstream can be asked for (asterisk-form): the proxy's own 400.
    const asterisk = await raw(p.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(asterisk).toMatch(/^HTTP\/1\.1 400 [^]*x-meshsim-local-reply: bad-request/);
    expect((await send(p.port)).status).toBe(200);
    expect(b.requests).toHaveLength(1);
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="400"}')).toBe(3);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(4);
    expect(series(m, 'meshsim_proxy_rejected_by_limits_total')).toBe(3);
  });

  it('headers over the limit get 431; a body over the limit gets 413 (declared or chunked)', async () => {
    const b = await ok();
    const p = await proxy([b.address], undefined, { limits: { maxHeaderBytes: 2048, maxBodyBytes: 1000 } });
    expect((await send(p.port, { headers: { 'x-big': 'a'.repeat(4000) } })).status).toBe(431);
    const declared = await send(p.port, { method: 'POST', body: 'b'.repeat(1001) });
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe('close');
    const chunked = await send(p.port, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, body: 'c'.repeat(5000) });
    expect(chunked.status).toBe(413);
    const fits = await send(p.port, { method: 'POST', body: 'd'.repeat(1000) });
    expect(fits.status).toBe(200);
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="431"}')).toBe(1);
    expect(series(m, 'meshsim_proxy_requests_total{code="413"}')).toBe(2);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(4);
    expect(series(m, 'meshsim_proxy_rejected_by_limits_total')).toBe(3);
    // The proxy's own answers are failures in its stats; only upstream answers succeed.
    // (The chunked body was already being streamed upstream when it passed the limit: 2 attempts.)
    expect(p.stats()).toMatchObject({ requests: 4, succeeded: 1, failed: 3, attempts: 2 });
  });

  it('Expect: 100-continue: a body declared over the limit gets 413 without a 100 Continue first', async () => {
    const b = await ok();
    const p = await proxy([b.address], undefined, { limits: { maxBodyBytes: 1000 } });
    const over = await raw(p.port, 'POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n', 2000);
    expect(over).toMatch(/^HTTP\/1\.1 413 /);
    expect(over).not.toContain('100 Continue');
    const fits = await raw(p.port, 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n', 300);
    expect(fits).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
  });

  it('a client closing early: the upstream request is cancelled, counted once as client_closed', async () => {
    let cut = 0;
    const b = await httpBackend((_req, res) => {
      const t = setTimeout(() => res.end('late'), 5_000);
      res.on('close', () => {
        clearTimeout(t);
        if (!res.writableFinished) cut++;
      });
    });
    const p = await proxy([b.address]);
    const s = await open(p.port);
    s.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => b.requests.length === 1);
    s.destroy();
    await eventually(() => cut === 1);
    await eventually(() => p.stats().failed === 1);
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="client_closed"}')).toBe(1);
    expect(m).toMatch(/outcome="cancelled"\} 1/);
    // Cancelled: outlier detection heard nothing, the balancer no longer counts it in flight.
    expect(total(m, 'meshsim_proxy_requests_active')).toBe(0);
  });

  it('client timeouts from limits: a slow head and a slow body get 408 (the upstream request cancelled), keep-alive says the configured time', async () => {
    let cut = 0;
    const b = await httpBackend((req, res) => {
      req.on('close', () => {
        if (!req.complete) cut++;
      });
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const p = await proxy([b.address], undefined, { limits: { keepAliveTimeoutMs: 7_000, headersTimeoutMs: 1_000, requestReadTimeoutMs: 1_000 } });
    // With retries, a small body is buffered before anything goes upstream: a late one is never sent.
    const retrying = resolveMesh({ balancer: { kind: 'round-robin' }, failover: { retries: { max: 1, on: ['5xx'] } } });
    if (!retrying.ok) throw new Error(JSON.stringify(retrying.issues));
    const buffering = await proxy([b.address], retrying.mesh, { limits: { requestReadTimeoutMs: 1_000 } });
    const fine = await raw(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 300);
    expect(fine).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\nkeep-alive: timeout=7\r\n\r\nok$/);
    const since = Date.now();
    const slowUpload = 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it';
    const [slowHead, slowBody, slowBuffered] = await Promise.all([raw(p.port, 'GET / HTTP/1.1\r\nHost: x\r\n', 4_000), raw(p.port, slowUpload, 4_000), raw(buffering.port, slowUpload, 4_000)]);
    // The sweep runs once a second: each timeout acts between 1 and 2 s after it began, and both connections close after their answer.
    expect(Date.now() - since).toBeLessThan(3_500);
    expect(slowHead).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(slowBody).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(slowBody).toContain('x-meshsim-local-reply: request-timeout');
    expect(slowBody).toContain('connection: close');
    expect(slowBody.endsWith('request timeout')).toBe(true);
    expect(slowBuffered).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*x-meshsim-local-reply: request-timeout/);
    await eventually(() => cut === 1);
    expect(b.requests).toHaveLength(2); // the fine request and the streamed upload; the buffered one never left
    const mb = await metrics(buffering);
    expect(series(mb, 'meshsim_proxy_requests_total{code="408"}')).toBe(1);
    expect(total(mb, 'meshsim_proxy_requests_total')).toBe(1);
    expect(buffering.stats()).toMatchObject({ requests: 1, attempts: 0 });
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="408"}')).toBe(2);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(3);
    expect(series(m, 'meshsim_proxy_rejected_by_limits_total')).toBe(2);
    expect(total(m, 'meshsim_proxy_requests_active')).toBe(0);
  });

  it('2,000 idle connections: the proxy still serves, and counts no request for them', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 2000; i += 100) idle.push(...(await Promise.all(Array.from({ length: 100 }, () => open(p.port)))));
      for (let i = 0; i < 20; i++) expect((await send(p.port)).status).toBe(200);
      // Half of them send a partial request line and wait: still no effect on others.
      for (const s of idle.slice(0, 1000)) s.write('GET /partial HT');
      await sleep(50);
      expect((await send(p.port)).status).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
    }
    await sleep(100);
    expect((await send(p.port)).status).toBe(200);
    const m = await metrics(p);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(22);
    expect(b.requests).toHaveLength(22);
  });

  it('CONNECT is refused (405): the proxy never becomes a tunnel', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const reply = await raw(p.port, `CONNECT ${b.address} HTTP/1.1\r\nHost: ${b.address}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 405 /);
    expect(b.requests).toHaveLength(0);
    expect(series(await metrics(p), 'meshsim_proxy_requests_total{code="405"}')).toBe(1);
  });

  it('an absolute-form target with a foreign host goes to the configured upstream (raw request line)', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const reply = await raw(p.port, 'GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(b.requests.map((r) => r.url)).toEqual(['/latest/meta-data']);
    // Host comes from the absolute-form target, not the client's header (RFC 9112 §3.2.2).
    await raw(p.port, 'GET http://a.example:8080/x HTTP/1.1\r\nHost: client.example\r\nConnection: close\r\n\r\n');
    expect(b.requests.map((r) => r.headers.host)).toEqual(['169.254.169.254', 'a.example:8080']);
    const star = await raw(p.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(star).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('admin listener and shutdown', () => {
  it('serves /metrics (Prometheus text), /ready and /stats on 127.0.0.1 only', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    await send(p.port);
    const m = await send(p.adminPort as number, { path: '/metrics' });
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toContain('# TYPE meshsim_proxy_request_duration_seconds histogram');
    expect(series(m.body, 'meshsim_proxy_request_duration_seconds_count')).toBe(1);
    expect(m.body).toMatch(/meshsim_proxy_upstream_attempt_duration_seconds_count\{upstream="[^"]+",address="[^"]+"\} 1/);
    expect((await send(p.adminPort as number, { path: '/ready' })).status).toBe(200);
    expect(JSON.parse((await send(p.adminPort as number, { path: '/stats' })).body)).toMatchObject({ requests: 1, succeeded: 1 });
    expect((await send(p.adminPort as number, { path: '/nope' })).status).toBe(404);
  });

  it('close(): stops accepting, lets the request in flight finish, then closes', async () => {
    const b = await httpBackend((_req, res) => setTimeout(() => res.end('finished'), 200));
    const p = await proxy([b.address]);
    const inFlight = send(p.port);
    await eventually(() => b.requests.length === 1);
    const closing = p.close({ drainMs: 5_000 });
    await sleep(20);
    const refused = await send(p.port);
    expect(refused.status).toBe(0); // connection refused: no longer accepting
    expect(await inFlight).toMatchObject({ status: 200, body: 'finished' });
    await closing;
    expect(p.stats()).toMatchObject({ requests: 1, succeeded: 1 });
  });

  it('close() does not wait for a stuck admin client (connected, half a request sent)', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const stuck = connect(p.adminPort as number, '127.0.0.1');
    stuck.on('error', () => undefined);
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.write('GET /metrics HTTP/1.1\r\nhost: x\r\n'); // the headers never end
    await sleep(50);
    const started = performance.now();
    await p.close({ drainMs: 0 });
    expect(performance.now() - started).toBeLessThan(2_000); // it waited for the client until Node's own timeout
    stuck.destroy();
  });

  it('close() with a drain shorter than a request: the request is cut off, counted, and close still ends', async () => {
    const b = await httpBackend((_req, res) => setTimeout(() => res.end('too late'), 3_000));
    const p = await proxy([b.address]);
    const inFlight = send(p.port);
    await eventually(() => b.requests.length === 1);
    await p.close({ drainMs: 50 });
    expect((await inFlight).status).toBe(0);
    expect(p.stats()).toMatchObject({ requests: 1, failed: 1 });
  });
});

/** A mesh as a scenario file writes it, resolved (throws on a mistake in the test). */
function meshOf(raw: unknown): MeshSpec {
  const r = resolveMesh(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.mesh;
}

/** Raw bytes on a fresh connection, in pieces with pauses (ms) between them; everything read until it closes (or `waitMs`). */
function rawPieces(port: number, pieces: readonly (string | number)[], waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('connect', () => {
      void (async () => {
        for (const piece of pieces) {
          if (typeof piece === 'number') await sleep(piece);
          else if (!socket.destroyed) socket.write(piece);
        }
      })();
    });
  });
}

/** Upstream requests as a raw backend reads them: the request line and, for a chunked one, its whole body's bytes. */
interface Seen {
  readonly line: string;
  readonly body: string;
}

/** A raw backend reading requests (chunked bodies whole) and answering each with `answer(socket, request)`. */
async function rawBackend(answer: (socket: Socket, seen: Seen) => void): Promise<{ backend: Backend; seen: Seen[] }> {
  const seen: Seen[] = [];
  const backend = await tcpBackend((socket) => {
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const at = buf.indexOf('\r\n\r\n');
        if (at < 0) return;
        const head = buf.slice(0, at);
        let rest = buf.slice(at + 4);
        let body = '';
        if (/transfer-encoding: chunked/i.test(head)) {
          const end = rest.indexOf('0\r\n\r\n');
          if (end < 0) return;
          body = rest.slice(0, end + 5);
          rest = rest.slice(end + 5);
        }
        buf = rest;
        const s = { line: head.split('\r\n')[0], body };
        seen.push(s);
        answer(socket, s);
      }
    });
  });
  return { backend, seen };
}

describe('bodies, statuses and timers at the edges', () => {
  it('a chunked body still arriving while its request waits for the breaker\'s only connection goes upstream whole, and the proxy stays up', async () => {
    const { backend, seen } = await rawBackend((socket, s) => {
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), s.line.startsWith('GET /slow') ? 300 : 0);
    });
    const p = await proxy([backend.address], meshOf({ balancer: { kind: 'round-robin' }, failover: { circuitBreaker: { maxConnections: 1, maxPendingRequests: 10, maxRequests: 10 } } }));
    const slow = raw(p.port, 'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 3_000);
    await eventually(() => seen.length === 1);
    // Its first chunk comes while it waits for the connection GET /slow holds, the rest after.
    const upload = rawPieces(p.port, ['POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 500, '6\r\n world\r\n0\r\n\r\n'], 3_000);
    expect(await slow).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    expect(await upload).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    expect(seen).toEqual([
      { line: 'GET /slow HTTP/1.1', body: '' },
      { line: 'POST /upload HTTP/1.1', body: '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n' },
    ]);
    expect((await send(p.port)).status).toBe(200);
  });

  it('a retried 5xx whose body never ends: its upstream connection is closed (Envoy resets it), and behind a one-connection breaker the retry still answers at once', async () => {
    for (const maxConnections of [undefined, 1]) {
      let n = 0;
      const { backend } = await rawBackend((socket) => {
        // The first answer: a 503 whose chunked body never ends; then 200s.
        if (n++ === 0) socket.write('HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nerror\r\n');
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
      const failover = { timeout: '2s', retries: { max: 1, on: ['5xx'] }, ...(maxConnections === undefined ? {} : { circuitBreaker: { maxConnections, maxPendingRequests: 10, maxRequests: 10 } }) };
      const p = await proxy([backend.address], meshOf({ balancer: { kind: 'round-robin' }, failover }));
      const since = Date.now();
      const reply = await send(p.port);
      expect(reply, `maxConnections ${maxConnections}`).toMatchObject({ status: 200, body: 'ok' });
      expect(Date.now() - since, `maxConnections ${maxConnections}`).toBeLessThan(1_000);
      // The 503's connection is gone at once; only the retry's stays pooled.
      await eventually(() => backend.sockets.size === 1, 2_000);
      expect(p.stats()).toMatchObject({ requests: 1, succeeded: 1 });
    }
  });

  it('an upstream status outside 100–599 (RFC 9110 §15) is a malformed response: 502, counted once', async () => {
    const { backend } = await rawBackend((socket, s) => {
      const status = s.line.split(' ')[1].slice(1);
      socket.write(`HTTP/1.1 ${status} X\r\nContent-Length: 0\r\n\r\n`);
    });
    const p = await proxy([backend.address]);
    for (const status of ['600', '601', '799', '999']) {
      const reply = await send(p.port, { path: `/${status}` });
      expect(reply.status, status).toBe(502);
      expect(reply.headers['x-meshsim-local-reply'], status).toBe('protocol-error');
    }
    expect((await send(p.port, { path: '/599' })).status).toBe(599);
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="502"}')).toBe(4);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(5);
    expect(p.stats()).toMatchObject({ requests: 5 });
  });

  it('a malformed chunked request body gets the proxy\'s 400 and a closed connection, counted as refused by the limits', async () => {
    const b = await ok();
    const p = await proxy([b.address]);
    const reply = await rawPieces(p.port, ['POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 50, 'zz\r\nmore\r\n0\r\n\r\n'], 3_000);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*x-meshsim-local-reply: bad-request\r\n[^]*connection: close\r\n/);
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_requests_total{code="400"}')).toBe(1);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(1);
    expect(series(m, 'meshsim_proxy_rejected_by_limits_total')).toBe(1);
    expect((await send(p.port)).status).toBe(200);
  });

  it('a connect timeout longer than Node\'s longest timer (720h) is capped, not turned into a 1 ms one (TimeoutOverflowWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const b = await ok();
      const p = await proxy([b.address], undefined, { limits: { connectTimeoutMs: 720 * 3_600_000 } });
      expect((await send(p.port)).status).toBe(200);
      await sleep(20); // warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
