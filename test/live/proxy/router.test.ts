/**
 * The router on real sockets: upstream failures become the outcomes the algorithms expect
 * and the answers Envoy gives (connection refused → 503, reset → 503, no answer → 504, a
 * response broken off → the client's connection closed), retries, hedging, outlier
 * detection, the circuit breaker and health checks act through the same objects as in the
 * simulator, and every request is counted once.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OutlierDetector } from '../../../src/algorithms/failover/outlier-detection.js';
import { createBalancer } from '../../../src/algorithms/registry.js';
import { rngStream } from '../../../src/core/rng.js';
import { hashKey } from '../../../src/core/xxhash64.js';
import type { MeshSpec } from '../../../src/scenario/types.js';
import { resolveMesh } from '../../../src/scenario/schema.js';
import { connect } from 'node:net';
import { closeAll, deadPort, eventually, httpBackend, metrics, proxy, raw, send, series, sleep, tcpBackend, total } from './_harness.js';

afterEach(closeAll);

/** A mesh written as in a scenario file, resolved by the scenario schema. */
function mesh(raw: unknown): MeshSpec {
  const r = resolveMesh(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.mesh;
}

const ok = (body = 'ok') => httpBackend((_req, res) => res.end(body));

describe('upstream failures', () => {
  it('connection refused: a connect failure, answered 503 (Envoy UF)', async () => {
    const p = await proxy([`127.0.0.1:${await deadPort()}`]);
    const r = await send(p.port);
    expect(r.status).toBe(503);
    expect(r.body).toContain('connection failure');
    const m = await metrics(p);
    expect(total(m, 'meshsim_proxy_upstream_attempts_total')).toBe(1);
    expect(m).toMatch(/meshsim_proxy_upstream_attempts_total\{[^}]*outcome="connect-failure"\} 1/);
    expect(p.stats()).toMatchObject({ requests: 1, failed: 1, attempts: 1 });
  });

  it('reset before the response: a reset, answered 503; the proxy serves on', async () => {
    const b = await tcpBackend((s) => s.once('data', () => s.resetAndDestroy()));
    const good = await ok('fine');
    const p = await proxy([b.address]);
    const r = await send(p.port);
    expect(r.status).toBe(503);
    expect(r.body).toContain('reset');
    const m = await metrics(p);
    expect(m).toMatch(/outcome="reset"\} 1/);
    const q = await proxy([good.address]);
    expect((await send(q.port)).status).toBe(200);
  });

  it('no answer: the route timeout answers 504 and the attempt ends as a timeout', async () => {
    const b = await tcpBackend(() => undefined); // accepts, never answers
    const p = await proxy([b.address], mesh({ balancer: { kind: 'round-robin' }, failover: { timeout: '150ms' } }));
    const r = await send(p.port);
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    const m = await metrics(p);
    expect(m).toMatch(/outcome="timeout"\} 1/);
    expect(series(m, 'meshsim_proxy_route_timeouts_total')).toBe(1);
  });

  it('no answer and no timeout in the mesh: the default route timeout still answers (no client hangs)', async () => {
    const b = await tcpBackend(() => undefined);
    const p = await proxy([b.address], { balancer: { kind: 'round-robin' } }, { limits: { requestTimeoutMs: 200 } });
    expect((await send(p.port)).status).toBe(504);
  });

  it('timeouts beyond what Node timers hold (2^31 − 1 ms) wait, not fire after 1 ms', async () => {
    const slow = await httpBackend((req, res) => {
      req.resume();
      setTimeout(() => res.end('late'), 60);
    });
    const long = mesh({ balancer: { kind: 'round-robin' }, failover: { timeout: '720h', hedge: { delay: '700h' }, retries: { max: 1, on: ['5xx'], perTryTimeout: '600h' } } });
    const p = await proxy([slow.address], long, { limits: { requestTimeoutMs: 2 ** 32 } });
    expect(await send(p.port)).toMatchObject({ status: 200, body: 'late' });
    const q = await proxy([slow.address], { balancer: { kind: 'round-robin' } }, { limits: { requestTimeoutMs: 2 ** 32 } });
    expect(await send(q.port)).toMatchObject({ status: 200, body: 'late' });
  });

  it('a per-try timeout is retried on another host (5xx covers timeouts, as in Envoy)', async () => {
    const hang = await tcpBackend(() => undefined);
    const good = await ok('second');
    const p = await proxy(
      [hang.address, good.address],
      mesh({ balancer: { kind: 'round-robin' }, failover: { timeout: '2s', retries: { max: 1, on: ['5xx'], perTryTimeout: '100ms', backoff: { base: '1ms' } } } }),
    );
    const r = await send(p.port);
    expect(r).toMatchObject({ status: 200, body: 'second' });
    expect(p.stats()).toMatchObject({ requests: 1, succeeded: 1, attempts: 2, retries: 1 });
    expect(series(await metrics(p), 'meshsim_proxy_per_try_timeouts_total')).toBe(1);
  });

  it('a backend crashing mid-response: the client gets what was sent, then its connection closes; counted as reset', async () => {
    const b = await tcpBackend((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
        setTimeout(() => s.destroy(), 30);
      }),
    );
    const p = await proxy([b.address]);
    const r = await send(p.port);
    expect(r.status).toBe(200);
    expect(r.error).toBeDefined();
    expect(r.body).toBe('partial');
    await eventually(() => p.stats().requests === p.stats().failed);
    expect(series(await metrics(p), 'meshsim_proxy_requests_total{code="reset"}')).toBe(1);
    const good = await ok();
    const q = await proxy([good.address]);
    expect((await send(q.port)).status).toBe(200);
  });

  it('a backend answering slowly, byte by byte: the response arrives whole', async () => {
    const text = 'slow and steady wins';
    const b = await tcpBackend((s) =>
      s.once('data', () => {
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n`);
        let i = 0;
        const t = setInterval(() => {
          if (s.destroyed) return clearInterval(t);
          s.write(text[i++]);
          if (i === text.length) clearInterval(t);
        }, 5);
      }),
    );
    const p = await proxy([b.address]);
    const r = await send(p.port);
    expect(r).toMatchObject({ status: 200, body: text });
    expect(r.error).toBeUndefined();
  });

  it('an invalid response (protocol error) is answered 502', async () => {
    const b = await tcpBackend((s) => s.once('data', () => s.end('this is not HTTP\r\n\r\n')));
    const p = await proxy([b.address]);
    expect((await send(p.port)).status).toBe(502);
  });

  it('a 5xx is passed through as is, and is an error for the algorithms', async () => {
    const b = await httpBackend((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const p = await proxy([b.address]);
    expect(await send(p.port)).toMatchObject({ status: 500, body: 'boom' });
    expect(await metrics(p)).toMatch(/outcome="error"\} 1/);
  });
});

describe('timeouts against responses that already arrived', () => {
  // The backend runs in its own thread, so it answers while this one (the proxy's) is busy.
  // flags[0] = 1: it has a request; it then waits for flags[2] = 1 (go) before answering;
  // flags[1] = 1: its answer is written to the socket. flags[3] = 1: answer at once (warm-up).
  async function threadBackend(): Promise<{ port: number; flags: Int32Array; stop: () => Promise<number> }> {
    const flags = new Int32Array(new SharedArrayBuffer(16));
    const code = `
      const { createServer } = require('node:http');
      const { parentPort, workerData: f } = require('node:worker_threads');
      const s = createServer((req, res) => {
        Atomics.store(f, 0, 1);
        if (Atomics.load(f, 3) === 0) Atomics.wait(f, 2, 0, 10000);
        res.end('hello', () => Atomics.store(f, 1, 1));
      });
      s.listen(0, '127.0.0.1', () => parentPort.postMessage(s.address().port));`;
    const worker = new Worker(code, { eval: true, workerData: flags });
    const port = await new Promise<number>((resolve) => worker.once('message', resolve));
    return { port, flags, stop: () => worker.terminate() };
  }

  it.each([
    ['route timeout', { timeout: '25ms' }],
    ['per-try timeout', { timeout: '5s', retries: { max: 1, on: ['5xx', 'timeout'], perTryTimeout: '25ms' } }],
  ])('a response in the socket before a %s expired wins, even when the thread was busy past it', async (_name, failover) => {
    const b = await threadBackend();
    try {
      const p = await proxy([`127.0.0.1:${b.port}`], mesh({ balancer: { kind: 'round-robin' }, failover }));
      // Warm up (a cold process can take longer than 25 ms for its first requests).
      Atomics.store(b.flags, 3, 1);
      let warm = 0;
      for (let k = 0; k < 50 && warm < 3; k++) if ((await send(p.port)).status === 200) warm++;
      expect(warm).toBe(3);
      Atomics.store(b.flags, 3, 0);
      const before = p.stats();
      Atomics.store(b.flags, 0, 0);
      Atomics.store(b.flags, 1, 0);
      const reply = send(p.port);
      while (Atomics.load(b.flags, 0) === 0) await new Promise((resolve) => setImmediate(resolve));
      // The backend holds the request; from now on this thread (the proxy's) is busy: it lets
      // the backend answer, and stays busy until the answer is in the socket and 40 ms have
      // passed, so the 25 ms timeout expires before the proxy can read the answer.
      const t0 = performance.now();
      Atomics.store(b.flags, 2, 1);
      Atomics.notify(b.flags, 2);
      while (Atomics.load(b.flags, 1) === 0 || performance.now() - t0 < 40) {
        /* a GC pause, or the process descheduled */
        if (performance.now() - t0 > 10_000) throw new Error('the backend thread did not answer within 10 s');
      }
      expect((await reply).status).toBe(200);
      const after = p.stats();
      expect([after.perTryTimeouts - before.perTryTimeouts, after.routeTimeouts - before.routeTimeouts, after.retries - before.retries]).toEqual([0, 0, 0]);
    } finally {
      await b.stop();
    }
  });
});

describe('restartPolicies', () => {
  it('starts the algorithms afresh from the seed: the same picks as a new proxy, whatever came before', async () => {
    const backends = await Promise.all(['a', 'b', 'c', 'd'].map((id) => ok(id)));
    const p = await proxy(
      backends.map((b) => b.address),
      mesh({ balancer: { kind: 'random' } }),
      { seed: 7 },
    );
    const picks = async (n: number): Promise<string> => {
      let out = '';
      for (let i = 0; i < n; i++) out += (await send(p.port)).body;
      return out;
    };
    const fresh = await picks(12);
    await picks(5); // state and streams move on
    p.restartPolicies();
    expect(await picks(12)).toBe(fresh);
    // Not while a request is in flight: its attempt belongs to the old objects.
    const held: (() => void)[] = [];
    const slow = await httpBackend((_req, res) => held.push(() => res.end('late')));
    const q = await proxy([slow.address]);
    const pending = send(q.port);
    await eventually(() => held.length === 1);
    expect(() => q.restartPolicies()).toThrow(/1 request\(s\) in flight/);
    held[0]();
    expect((await pending).body).toBe('late');
  });
});

describe('hash keys (hashKey: { header })', () => {
  it('hashes the header as the simulator hashes a key: every request with one value goes where the simulated balancer sends it', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const backends = await Promise.all(names.map((id) => ok(id)));
    for (const kind of ['ring-hash', 'maglev']) {
      const spec = mesh({ balancer: { kind } });
      const p = await proxy(
        backends.map((b) => b.address),
        spec,
        { hashKey: { header: 'x-user' } },
      );
      // The simulator's balancer over the same endpoints (ids are the addresses, as the proxy's).
      const sim = createBalancer(spec.balancer, { clock: { now: () => 0 }, timers: { schedule: () => 0, cancel: () => undefined }, rng: rngStream(1, 'test') }, {
        localZone: 'default',
        clientIndex: 0,
        clientCount: 1,
        localZoneSizes: new Map([['default', 1]]),
      });
      sim.rebuild(backends.map((b) => ({ id: b.address, address: b.address, zone: 'default', weight: 1, health: 'healthy' as const, priority: 0, metadata: {} })));
      const seen = new Set<string>();
      for (let k = 0; k < 40; k++) {
        const want = names[sim.pick({ hashKey: hashKey(String(k)) })];
        for (let r = 0; r < 2; r++) expect((await send(p.port, { headers: { 'x-user': String(k) } })).body, `${kind} key ${k}`).toBe(want);
        seen.add(want);
      }
      expect(seen.size).toBeGreaterThan(2); // the keys spread
      // Without the header a request is still served (a random hash).
      expect((await send(p.port)).status).toBe(200);
    }
  });
});

describe('membership (setMembers: a discovery update)', () => {
  it('routes only to the members; one that leaves finishes what it holds; unknown names are refused', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => ok(id)));
    const held: (() => void)[] = [];
    const slow = await httpBackend((_req, res) => held.push(() => res.end('s')));
    const p = await proxy([a.address, b.address, c.address, slow.address], mesh({ balancer: { kind: 'round-robin' } }), { members: [a.address, b.address] });
    const bodies = async (n: number): Promise<string> => {
      let out = '';
      for (let i = 0; i < n; i++) out += (await send(p.port)).body;
      return [...out].sort().join('');
    };
    expect(await bodies(6)).toBe('aaabbb');
    p.setMembers([b.address, c.address]);
    expect(await bodies(6)).toBe('bbbccc');
    // An attempt in flight when its upstream leaves is answered and counted; the algorithms forget the upstream.
    p.setMembers([slow.address]);
    const pending = send(p.port);
    await eventually(() => held.length === 1);
    p.setMembers([a.address]);
    expect(await bodies(2)).toBe('aa');
    held[0]();
    expect((await pending).body).toBe('s');
    const byAddress = new Map(p.stats().upstreams.map((u) => [u.address, u]));
    expect(byAddress.get(slow.address)).toMatchObject({ attempts: 1, succeeded: 1, failed: 0 });
    expect(byAddress.get(c.address)).toMatchObject({ attempts: 3 });
    expect(() => p.setMembers(['127.0.0.1:1'])).toThrow(/no upstream named '127\.0\.0\.1:1'/);
    expect(await bodies(2)).toBe('aa'); // a refused update changes nothing
  });
});

describe('failover through the same objects as the simulator', () => {
  it('retries a 503 on the other host; the buffered body is sent again whole', async () => {
    const bad = await httpBackend((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 503;
        res.end();
      });
    });
    const bodies: string[] = [];
    const good = await httpBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.end('done');
      });
    });
    const p = await proxy(
      [bad.address, good.address],
      mesh({ balancer: { kind: 'round-robin' }, failover: { retries: { max: 2, on: ['5xx'], backoff: { base: '1ms' } } } }),
    );
    const r = await send(p.port, { method: 'POST', body: 'payload-123', headers: { 'content-type': 'text/plain' } });
    expect(r).toMatchObject({ status: 200, body: 'done' });
    expect(bodies).toEqual(['payload-123']);
    expect(p.stats()).toMatchObject({ retries: 1, attempts: 2 });
    expect(series(await metrics(p), 'meshsim_proxy_retries_total')).toBe(1);
  });

  it('outlier detection ejects a failing host; traffic then goes to the others', async () => {
    const bad = await httpBackend((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const good = await ok();
    const p = await proxy(
      [bad.address, good.address],
      mesh({ balancer: { kind: 'round-robin' }, failover: { outlierDetection: { consecutive5xx: 3, maxEjectionPercent: '50%', interval: '10s', baseEjectionTime: '30s' } } }),
    );
    for (let i = 0; i < 6; i++) await send(p.port);
    const before = p.stats().upstreams[0].attempts;
    expect(before).toBe(3);
    for (let i = 0; i < 6; i++) expect((await send(p.port)).status).toBe(200);
    expect(p.stats().upstreams[0]).toMatchObject({ attempts: 3, ejections: 1 });
    const m = await metrics(p);
    expect(m).toMatch(/meshsim_proxy_upstream_ejected\{upstream="127.0.0.1:\d+",address="[^"]+"\} 1/);
    expect(total(m, 'meshsim_proxy_upstream_ejections_total')).toBe(1);
  });

  it('hedge_on_per_try_timeout: each per-try timeout counts for outlier detection at once, so a host whose attempts always lose the race is ejected', async () => {
    const hang = await tcpBackend(() => undefined); // accepts, never answers
    const good = await ok('good');
    const p = await proxy(
      [hang.address, good.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          timeout: '2s',
          perTryTimeout: '200ms',
          retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' } },
          hedge: { onPerTryTimeout: true },
          outlierDetection: { consecutive5xx: 3, maxEjectionPercent: '50%', interval: '10s', baseEjectionTime: '30s' },
        },
      }),
    );
    // Round robin: each request goes to the hung host first; at 200 ms its attempt is kept and
    // a hedge goes to the other host, wins, and the kept attempt is cancelled (no report). The
    // timeouts recorded when they fired eject the hung host after 3 requests.
    for (let i = 0; i < 6; i++) expect(await send(p.port)).toMatchObject({ status: 200, body: 'good' });
    const [hung, other] = p.stats().upstreams;
    expect([hung.attempts, hung.ejections, other.attempts]).toEqual([3, 1, 6]);
    expect(p.stats()).toMatchObject({ perTryTimeouts: 3, hedges: 3, hedgesWon: 3 });
  });

  it('hedge_on_per_try_timeout, then the route timeout: each attempt reaches outlier detection once, at its per-try timeout', async () => {
    const [a, b] = await Promise.all([tcpBackend(() => undefined), tcpBackend(() => undefined)]);
    const p = await proxy(
      [a.address, b.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: { timeout: '400ms', perTryTimeout: '100ms', retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' } }, hedge: { onPerTryTimeout: true }, outlierDetection: {} },
      }),
    );
    const results = vi.spyOn(OutlierDetector.prototype, 'onResult');
    try {
      expect((await send(p.port)).status).toBe(504);
      expect(p.stats()).toMatchObject({ attempts: 2, perTryTimeouts: 2, routeTimeouts: 1 });
      expect(results.mock.calls.map(([, o]) => o.kind)).toEqual(['timeout', 'timeout']);
    } finally {
      results.mockRestore();
    }
  });

  it("hedge_on_per_try_timeout under max_retries 1: each hedge gives back the retry its request held, so the request hedges retries.max times", async () => {
    const hung = await Promise.all([0, 1, 2].map(() => tcpBackend(() => undefined)));
    const p = await proxy(
      hung.map((b) => b.address),
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          timeout: '450ms',
          perTryTimeout: '100ms',
          retries: { max: 2, on: ['5xx'], backoff: { base: '1ms' }, budget: { kind: 'envoy-max-retries', maxRetries: 1 } },
          hedge: { onPerTryTimeout: true },
        },
      }),
    );
    expect((await send(p.port)).status).toBe(504);
    expect(p.stats()).toMatchObject({ attempts: 3, hedges: 2, perTryTimeouts: 3, budgetDenied: 0, routeTimeouts: 1 });
  });

  it("Envoy's retry budget counts the requests waiting for a connection (active + pending)", async () => {
    // maxConnections 1: the first request holds the only connection, the second waits. The
    // first then fails: at that decision the budget sees 2 requests (the failed one, still
    // active, and the waiting one): ⌊50% × 2⌋ = 1 retry allowed (⌊50% × 1⌋ = 0 without it).
    const held: (() => void)[] = [];
    let n = 0;
    const b = await httpBackend((_req, res) => {
      if (n++ > 0) return void res.end('ok');
      held.push(() => {
        res.statusCode = 503;
        res.end();
      });
    });
    const p = await proxy(
      [b.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' }, budget: { kind: 'envoy-budget', budgetPercent: '50%', minRetryConcurrency: 0 } },
          circuitBreaker: { maxConnections: 1, maxPendingRequests: 10 },
        },
      }),
    );
    const first = send(p.port);
    await eventually(() => held.length === 1);
    const second = send(p.port);
    await eventually(() => p.stats().requests === 2);
    await sleep(50); // the second request reaches the router and waits for the connection
    expect(b.requests).toHaveLength(1);
    held[0]();
    expect(await first).toMatchObject({ status: 200, body: 'ok' });
    expect(await second).toMatchObject({ status: 200, body: 'ok' });
    expect(p.stats()).toMatchObject({ attempts: 3, retries: 1, budgetDenied: 0 });
  });

  it('adaptive throttling counts per request: an answered attempt whose retry is refused for overload is no accept', async () => {
    // Round robin: each request goes to the 500 first (an answer), is retried on the 503 (an
    // overload refusal) and ends with it. Per request no accept, so the k-th request is
    // rejected with probability (k − 1)/k: of 20, about H_20 ≈ 3.6 get through (at most 11,
    // 5 sd). Counting the 500s as accepts would never throttle.
    const err = (status: number) =>
      httpBackend((_req, res) => {
        res.statusCode = status;
        res.end();
      });
    const [a, b] = await Promise.all([err(500), err(503)]);
    const p = await proxy(
      [a.address, b.address],
      mesh({ balancer: { kind: 'round-robin' }, failover: { retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' } }, adaptiveThrottling: {} } }),
    );
    for (let i = 0; i < 20; i++) expect((await send(p.port)).status).toBe(503);
    const s = p.stats();
    const admitted = s.requests - s.throttled;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(11);
    expect([s.attempts, s.retries]).toEqual([2 * admitted, admitted]);
  });

  /**
   * One backend: request /a's first attempt never answers and its second answers 'a' after
   * 100 ms; /b's first answers 503 after 400 ms, later ones at once. A proxy with a 200 ms
   * per-try timeout, hedging, Envoy's max_retries 1 and `retriesMax` retries per request;
   * /a is sent, then /b 60 ms later.
   */
  async function heldThenFailing(retriesMax: number) {
    const seen = new Map<string, number>();
    const b = await httpBackend((req, res) => {
      const n = (seen.get(req.url ?? '') ?? 0) + 1;
      seen.set(req.url ?? '', n);
      const k = `${req.url} ${n}`;
      if (k === '/a 1') return; // held until the proxy cancels it
      if (k === '/a 2') setTimeout(() => res.end('a'), 100);
      else if (k === '/b 1') setTimeout(() => ((res.statusCode = 503), res.end('b failed')), 400);
      else res.end(k);
    });
    const p = await proxy(
      [b.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          timeout: '2s',
          perTryTimeout: '200ms',
          retries: { max: retriesMax, on: ['5xx'], backoff: { base: '1ms' }, budget: { kind: 'envoy-max-retries', maxRetries: 1 } },
          hedge: { onPerTryTimeout: true },
        },
      }),
    );
    const a = send(p.port, { path: '/a' });
    await sleep(60);
    const r = send(p.port, { path: '/b' });
    return { p, a, r };
  }

  it('hedge_on_per_try_timeout: an attempt whose hedge the budget refused is not hedged, so its 503 is retried (Envoy marks it retried only for an admitted hedge)', async () => {
    // Envoy's max_retries 1. Request A at 0: its attempt never answers; at its 200 ms per-try
    // timeout a hedge is admitted (A holds the slot until it ends) and answers at ~300 ms.
    // Request B at 60 ms: its per-try timeout at ~260 ms finds the slot taken, so no hedge;
    // its attempt answers 503 at ~460 ms, and that is a retry decision: the slot is free
    // again, the retry answers 200. Marking B's attempt hedged would return its 503.
    const { p, a, r } = await heldThenFailing(2);
    expect(await a).toMatchObject({ status: 200, body: 'a' });
    expect(await r).toMatchObject({ status: 200, body: '/b 2' });
    expect(p.stats()).toMatchObject({ attempts: 4, hedges: 1, retries: 1, budgetDenied: 1, perTryTimeouts: 2 });
  });

  it("a hedge the budget refused still uses up one of the request's retries (Envoy's shouldRetry decrements retries_remaining_ before asking the budget)", async () => {
    // The test above with retries.max 1: request B's refused hedge spends its one retry, so
    // its attempt's 503 at ~460 ms is its answer, though the slot is free by then.
    const { p, a, r } = await heldThenFailing(1);
    expect(await a).toMatchObject({ status: 200, body: 'a' });
    expect(await r).toMatchObject({ status: 503, body: 'b failed' });
    expect(p.stats()).toMatchObject({ attempts: 3, hedges: 1, retries: 0, budgetDenied: 1, perTryTimeouts: 2 });
  });

  it('a retry the budget refused uses up one of retries.max too: the timed hedge of a request refused a retry is not retried when it fails', async () => {
    // Finagle's budget, one retry per request deposited, no reserve; retries.max 2, a hedge
    // after 50 ms. Request A deposits; its hedge takes the token (retry 1 of 2); its first
    // attempt fails at ~150 ms and asks for a retry (2 of 2): refused. Request B, at ~200 ms,
    // deposits a token and is answered at once. A's hedge fails at ~350 ms: no retry left,
    // its 503 is A's answer (counting only admitted retries, A would take B's token and retry).
    const seen = new Map<string, number>();
    const b = await httpBackend((req, res) => {
      const n = (seen.get(req.url ?? '') ?? 0) + 1;
      seen.set(req.url ?? '', n);
      const k = `${req.url} ${n}`;
      const fail = (ms: number) => setTimeout(() => ((res.statusCode = 503), res.end(`${k} failed`)), ms);
      if (k === '/a 1') fail(150);
      else if (k === '/a 2') fail(300);
      else res.end(k);
    });
    const p = await proxy(
      [b.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          timeout: '2s',
          retries: { max: 2, on: ['5xx'], backoff: { base: '1ms' }, budget: { kind: 'finagle', retryRatio: 1, minRetriesPerSecond: 0 } },
          hedge: { delay: '50ms' },
        },
      }),
    );
    const a = send(p.port, { path: '/a' });
    await sleep(200);
    expect(await send(p.port, { path: '/b' })).toMatchObject({ status: 200, body: '/b 1' });
    expect(await a).toMatchObject({ status: 503, body: '/a 2 failed' });
    expect(p.stats()).toMatchObject({ attempts: 3, hedges: 1, retries: 0, budgetDenied: 1 });
  });

  it('a timed hedge the budget refused uses up one of retries.max: the first attempt is not retried when it fails', async () => {
    // Finagle's budget at one retry per two requests deposited, no reserve; retries.max 1, a
    // hedge after 50 ms. Request A's hedge is refused (one deposit) and spends A's retry.
    // Request B, at ~100 ms, deposits and is answered at once. A's attempt fails at ~200 ms:
    // its 503 is A's answer (counting only admitted retries, A would retry on the two tokens).
    const seen = new Map<string, number>();
    const b = await httpBackend((req, res) => {
      const n = (seen.get(req.url ?? '') ?? 0) + 1;
      seen.set(req.url ?? '', n);
      const k = `${req.url} ${n}`;
      if (k === '/a 1') setTimeout(() => ((res.statusCode = 503), res.end(`${k} failed`)), 200);
      else res.end(k);
    });
    const p = await proxy(
      [b.address],
      mesh({
        balancer: { kind: 'round-robin' },
        failover: {
          timeout: '2s',
          retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' }, budget: { kind: 'finagle', retryRatio: 0.5, minRetriesPerSecond: 0 } },
          hedge: { delay: '50ms' },
        },
      }),
    );
    const a = send(p.port, { path: '/a' });
    await sleep(100);
    expect(await send(p.port, { path: '/b' })).toMatchObject({ status: 200, body: '/b 1' });
    expect(await a).toMatchObject({ status: 503, body: '/a 1 failed' });
    expect(p.stats()).toMatchObject({ attempts: 2, hedges: 0, retries: 0, budgetDenied: 1 });
  });

  it('the circuit breaker answers 503 with x-envoy-overloaded past max requests', async () => {
    const held: (() => void)[] = [];
    const b = await httpBackend((_req, res) => held.push(() => res.end('late')));
    const p = await proxy([b.address], mesh({ balancer: { kind: 'round-robin' }, failover: { circuitBreaker: { maxRequests: 1, maxPendingRequests: 0 } } }));
    const first = send(p.port);
    await eventually(() => held.length === 1);
    const second = await send(p.port);
    expect(second.status).toBe(503);
    expect(second.headers['x-envoy-overloaded']).toBe('true');
    expect(second.headers['x-meshsim-local-reply']).toBe('overflow');
    held[0]();
    expect((await first).status).toBe(200);
    expect(p.stats().overflows).toBe(1);
    expect(series(await metrics(p), 'meshsim_proxy_breaker_overflows_total')).toBe(1);
  });

  it('health checks probe the upstreams for real; none healthy → 503 no healthy upstream', async () => {
    let healthy = false;
    const b = await httpBackend((req, res) => {
      if (req.url === '/healthz') res.statusCode = healthy ? 200 : 500;
      res.end('x');
    });
    // Panic routing off: with it (Envoy's default 50%), a cluster with no healthy host routes to all of them.
    const p = await proxy(
      [b.address],
      mesh({ balancer: { kind: 'round-robin', panicThreshold: '0%' }, failover: { healthCheck: { interval: '20ms', timeout: '200ms', unhealthyThreshold: 1, healthyThreshold: 1 } } }),
    );
    await eventually(() => b.requests.filter((r) => r.url === '/healthz').length >= 2);
    const r = await send(p.port);
    expect(r).toMatchObject({ status: 503, body: 'no healthy upstream' });
    expect(r.headers['x-meshsim-local-reply']).toBe('no-healthy-upstream');
    healthy = true;
    const probes = b.requests.length;
    await eventually(() => b.requests.filter((r) => r.url === '/healthz').length >= probes + 2);
    expect((await send(p.port)).status).toBe(200);
  });

  it('a hedge that finds no healthy upstream ends the request with 503 at once, the first attempt cancelled (Envoy: doRetry → sendNoHealthyUpstreamResponse)', async () => {
    // One upstream answering after 1 s. Its attempt's per-try timeout at 100 ms goes to
    // outlier detection as a 504, which ejects it (consecutive5xx 1, no panic routing); the
    // hedge admitted then has nowhere to go, and Envoy answers the request there and then.
    let cut = 0;
    const b = await httpBackend((_req, res) => {
      const t = setTimeout(() => res.end('late'), 1_000);
      res.on('close', () => {
        clearTimeout(t);
        if (!res.writableFinished) cut++;
      });
    });
    const p = await proxy(
      [b.address],
      mesh({
        balancer: { kind: 'round-robin', panicThreshold: '0%' },
        failover: {
          timeout: '2s',
          perTryTimeout: '100ms',
          retries: { max: 1, on: ['5xx'], backoff: { base: '1ms' } },
          hedge: { onPerTryTimeout: true },
          outlierDetection: { consecutive5xx: 1, maxEjectionPercent: '100%' },
        },
      }),
    );
    const started = Date.now();
    const r = await send(p.port);
    expect(r).toMatchObject({ status: 503, body: 'no healthy upstream' });
    expect(r.headers['x-meshsim-local-reply']).toBe('no-healthy-upstream');
    expect(Date.now() - started).toBeLessThan(900);
    expect(p.stats()).toMatchObject({ attempts: 1, hedges: 1, perTryTimeouts: 1, noHealthy: 1 });
    await eventually(() => cut === 1);
  });

  it('hedging: a second attempt after the delay, the fast answer wins, the slow one is cancelled', async () => {
    let cut = 0;
    const slow = await httpBackend((_req, res) => {
      const t = setTimeout(() => res.end('slow'), 2_000);
      res.on('close', () => {
        clearTimeout(t);
        if (!res.writableFinished) cut++;
      });
    });
    const fast = await ok('fast');
    const p = await proxy([slow.address, fast.address], mesh({ balancer: { kind: 'round-robin' }, failover: { hedge: { delay: '50ms', maxAttempts: 2 } } }));
    const r = await send(p.port);
    expect(r).toMatchObject({ status: 200, body: 'fast' });
    expect(p.stats()).toMatchObject({ hedges: 1, attempts: 2 });
    const m = await metrics(p);
    expect(series(m, 'meshsim_proxy_hedges_won_total')).toBe(1);
    expect(m).toMatch(/outcome="cancelled"\} 1/);
    // The cancelled attempt is reset: the slow backend sees its request go away unanswered.
    await eventually(() => cut === 1);
  });
});

describe('forwarding', () => {
  it('streams a request body up and the response down; hop-by-hop headers never cross', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const b = await httpBackend((req, res) => {
      seen.push(req.headers);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('keep-alive', 'timeout=77');
        res.setHeader('x-drop-me', 'secret');
        res.setHeader('connection', 'x-drop-me');
        res.setHeader('x-kept', 'yes');
        res.end(Buffer.concat(chunks).toString().toUpperCase());
      });
    });
    const p = await proxy([b.address]);
    const body = 'x'.repeat(200_000);
    const r = await send(p.port, {
      method: 'PUT',
      body,
      headers: {
        connection: 'keep-alive, x-private',
        'x-private': 'hop',
        'keep-alive': 'timeout=9',
        'proxy-authorization': 'Basic Zm9v',
        te: 'trailers',
        'x-forwarded-for': '10.0.0.1',
        'x-end-to-end': 'kept',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe(body.toUpperCase());
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.headers['x-drop-me']).toBeUndefined();
    expect(r.headers['keep-alive']).not.toBe('timeout=77'); // the proxy's own keep-alive, not the upstream's
    const h = seen[0];
    expect(h['x-private']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['x-end-to-end']).toBe('kept');
    expect(h['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['content-length']).toBe(String(body.length));
  });

  it('a client that stops reading holds the upstream back (backpressure), and then gets every byte', async () => {
    const size = 96 * 1024 * 1024; // far above what the loopback sockets on the way can buffer
    let upstreamFinished = false;
    const b = await httpBackend((_req, res) => {
      res.writeHead(200, { 'content-length': size });
      const piece = Buffer.alloc(1024 * 1024, 7);
      let sent = 0;
      const more = (): void => {
        while (sent < size) {
          sent += piece.length;
          if (!res.write(piece)) {
            res.once('drain', more);
            return;
          }
        }
        res.end(() => {
          upstreamFinished = true;
        });
      };
      more();
    });
    const p = await proxy([b.address]);
    const socket = connect(p.port, '127.0.0.1');
    let received = 0;
    let head = '';
    let wrong = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => {
        received += c.length;
        let body = c;
        if (!head.endsWith('\r\n\r\n')) {
          const end = c.indexOf('\r\n\r\n');
          head += c.toString('latin1', 0, end < 0 ? c.length : end + 4);
          body = end < 0 ? Buffer.alloc(0) : c.subarray(end + 4);
        }
        if (body.length > 0 && (body[0] !== 7 || body[body.length - 1] !== 7)) wrong++;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    socket.write('GET /big HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await eventually(() => received > 0);
    socket.pause();
    await sleep(400);
    // Paused: the proxy stopped reading the upstream, so the upstream cannot have sent it all.
    expect(upstreamFinished).toBe(false);
    socket.resume();
    await done;
    expect(upstreamFinished).toBe(true);
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 200 [^]*content-length: ${size}\r\n`, 'i'));
    expect(received).toBe(size + head.length);
    expect(wrong).toBe(0);
  });

  it('a chunked request body with no length is streamed up chunked, whole', async () => {
    let got = '';
    let framing: string | undefined;
    const b = await httpBackend((req, res) => {
      framing = req.headers['transfer-encoding'];
      req.setEncoding('latin1');
      req.on('data', (c: string) => (got += c));
      req.on('end', () => res.end('ok'));
    });
    const p = await proxy([b.address]);
    const reply = await raw(p.port, 'POST /up HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(framing).toBe('chunked');
    expect(got).toBe('hello world');
  });

  it('only configured upstreams are contacted: neither Host nor an absolute-form target redirects it', async () => {
    const good = await ok('configured');
    const other = await ok('elsewhere');
    const p = await proxy([good.address]);
    const byHost = await send(p.port, { path: '/a', headers: { host: other.address } });
    expect(byHost.body).toBe('configured');
    const absolute = await send(p.port, { path: `http://${other.address}/b?c=1`, headers: { host: other.address } });
    expect(absolute.body).toBe('configured');
    expect(other.requests).toHaveLength(0);
    expect(good.requests.map((r) => r.url)).toEqual(['/a', '/b?c=1']);
    // The Host header travels unchanged (as Envoy does without host_rewrite).
    expect(good.requests[0].headers.host).toBe(other.address);
  });

  it('every request is counted exactly once, whatever its end', async () => {
    const good = await ok();
    const p = await proxy([good.address, `127.0.0.1:${await deadPort()}`]);
    for (let i = 0; i < 20; i++) await send(p.port);
    const m = await metrics(p);
    expect(total(m, 'meshsim_proxy_requests_total')).toBe(20);
    expect(series(m, 'meshsim_proxy_requests_total{code="200"}')).toBe(10);
    expect(series(m, 'meshsim_proxy_requests_total{code="503"}')).toBe(10);
    expect(p.stats()).toMatchObject({ requests: 20, succeeded: 10, failed: 10 });
  });
});
