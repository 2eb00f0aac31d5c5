/**
 * The load generator: Poisson arrivals as the scenario states them (count within the
 * theory's tolerance, the simulator's draws exactly), latency from intended send times (no
 * coordinated omission), classification of answers, bounds, closed loop.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { keySampler } from '../../../src/core/discrete.js';
import { rngStream } from '../../../src/core/rng.js';
import { classifyLocalReply, classifyStatus, generateLoad, KEY_HEADER } from '../../../src/live/loadgen/loadgen.js';

const servers: Server[] = [];

/** An HTTP server answering each request with `status` (and an optional outcome header) at once. */
async function server(status = 200, outcome?: string): Promise<number> {
  const s = createServer((req, res) => {
    req.resume();
    res.writeHead(status, outcome ? { 'x-meshsim-outcome': outcome } : {});
    res.end('x');
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** The arrivals a Poisson(rate/s) stream of `seed` puts in [from, to) ms, drawn as the simulator draws them. */
function expectedArrivals(seed: number, group: string, ratePerSec: number, from: number, to: number): number {
  const rng = rngStream(seed, `arrivals/${group}`);
  let t = 0;
  let n = 0;
  for (;;) {
    t += -Math.log(1 - rng.next()) / (ratePerSec / 1000);
    if (t >= to) return n;
    if (t >= from) n++;
  }
}

describe('generateLoad', () => {
  it('offers Poisson arrivals: the simulator’s draws exactly, a count within the theory’s tolerance', async () => {
    const port = await server();
    const [r] = await generateLoad([{ name: 'users', ports: [port], zone: 'a', arrival: { process: 'poisson', rate: 400, steps: [] } }], {
      seed: 7,
      duration: 1500,
      warmup: 500,
      drain: 1000,
      bucketMs: 1000,
    });
    // N ~ Poisson(λT) with λT = 400/s × 1 s = 400: within 4.5σ = 90 of it (p ≈ 7e-6 of a miss for a true Poisson stream).
    expect(Math.abs(r.window.total - 400)).toBeLessThan(90);
    expect(r.window.total).toBe(expectedArrivals(7, 'users', 400, 500, 1500));
    expect(r.all.issued).toBe(expectedArrivals(7, 'users', 400, 0, 1500));
    expect(r.window).toMatchObject({ succeeded: r.window.total, failed: 0, inFlight: 0 });
    expect(r.latency.count).toBe(r.window.total);
    expect(r.all.issued).toBe(r.all.succeeded + r.all.failed + r.all.inFlight);
    const tl = r.timeline.requests.reduce((a, b) => a + b, 0);
    expect(tl).toBe(r.window.total);
  });

  it('sends each request the key the simulator draws for it (x-meshsim-key), when the group has keys', async () => {
    const keys: string[] = [];
    const s = createServer((req, res) => {
      keys.push(String(req.headers[KEY_HEADER]));
      req.resume();
      res.end('x');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    const key = { dist: 'zipf' as const, n: 1000, s: 1.1 };
    const [r] = await generateLoad([{ name: 'users', ports: [port], zone: 'a', arrival: { process: 'constant', rate: 200, steps: [] }, key }], {
      seed: 3,
      duration: 500,
      warmup: 0,
      drain: 1000,
      bucketMs: 500,
    });
    expect(r.all.issued).toBeGreaterThan(90);
    expect(keys).toHaveLength(r.all.issued);
    // The simulator's draws (stream keys/<workload>), one per request issued; sockets may reorder arrivals.
    const draw = keySampler(key, rngStream(3, 'keys/users'));
    const want = Array.from({ length: r.all.issued }, () => String(draw()));
    expect([...keys].sort()).toEqual(want.sort());
  });

  it('honours rate steps', async () => {
    const port = await server();
    const [r] = await generateLoad([{ name: 'g', ports: [port], zone: 'a', arrival: { process: 'constant', rate: 100, steps: [{ at: 500, rate: 400 }] } }], {
      seed: 1,
      duration: 1000,
      warmup: 0,
      drain: 1000,
      bucketMs: 1000,
    });
    // Constant: 100/s for 0.5 s then 400/s for 0.5 s = 50 + 200 (±1 at each boundary).
    expect(Math.abs(r.window.total - 250)).toBeLessThanOrEqual(2);
  });

  it('measures latency from the intended send time: a stalled client does not hide the stall', async () => {
    const port = await server();
    // Stall the load generator's own event loop for 300 ms, 200 ms in: the arrivals due meanwhile go out late.
    const stall = setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy: nothing else runs
      }
    }, 200);
    const [r] = await generateLoad([{ name: 'g', ports: [port], zone: 'a', arrival: { process: 'constant', rate: 200, steps: [] } }], {
      seed: 1,
      duration: 800,
      warmup: 0,
      drain: 1000,
      bucketMs: 1000,
    });
    clearTimeout(stall);
    // ~60 requests were due during the stall; the earliest waited ≥ ~290 ms behind its intended time.
    expect(r.latency.max).toBeGreaterThanOrEqual(250);
    expect(r.latency.quantile(0.9)).toBeGreaterThanOrEqual(50);
    expect(r.meanSendLagMs).toBeGreaterThan(10);
  });

  it('classifies answers as the simulator does', async () => {
    expect(classifyStatus(200, undefined)).toBe('success');
    expect(classifyStatus(503, 'rejected')).toBe('rejected');
    expect(classifyStatus(500, 'error')).toBe('error');
    expect(classifyStatus(503, 'error')).toBe('error');
    expect(classifyStatus(504, undefined)).toBe('timeout');
    expect(classifyStatus(503, undefined)).toBe('rejected');
    // The proxy's own 503s (Envoy's bodies) name a connect failure or a reset.
    expect(classifyLocalReply('upstream connect error or disconnect/reset before headers. reset reason: connection failure')).toBe('connect-failure');
    expect(classifyLocalReply('upstream connect error or disconnect/reset before headers. reset reason: connection termination')).toBe('reset');
    expect(classifyLocalReply('no healthy upstream')).toBeUndefined();
    const rejected = await server(503, 'rejected');
    const [r] = await generateLoad([{ name: 'g', ports: [rejected], zone: 'a', arrival: { process: 'constant', rate: 100, steps: [] } }], {
      seed: 1,
      duration: 300,
      warmup: 0,
      drain: 500,
      bucketMs: 1000,
    });
    expect(r.window.total).toBeGreaterThan(0);
    expect(r.window).toMatchObject({ succeeded: 0, rejected: r.window.total, failed: r.window.total });
  });

  it('counts connection refusals and client timeouts, and stops at the drain bound', async () => {
    const s = createServer(() => undefined); // never answers
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const silent = (s.address() as { port: number }).port;
    const refused = await server();
    await new Promise((r) => servers.pop()?.close(r));
    const results = await generateLoad(
      [
        { name: 'timeouts', ports: [silent], zone: 'a', arrival: { process: 'constant', rate: 50, steps: [] }, timeout: 100 },
        { name: 'no-timeout', ports: [silent], zone: 'a', arrival: { process: 'constant', rate: 50, steps: [] } },
        { name: 'refused', ports: [refused], zone: 'a', arrival: { process: 'constant', rate: 50, steps: [] } },
      ],
      { seed: 1, duration: 300, warmup: 0, drain: 300, bucketMs: 1000 },
    );
    const [t, n, c] = results;
    expect(t.window).toMatchObject({ timedOut: t.window.total, failed: t.window.total });
    expect(n.window).toMatchObject({ inFlight: n.window.total, failed: 0, succeeded: 0 });
    expect(c.window).toMatchObject({ connectFailures: c.window.total });
    for (const r of results) expect(r.all.issued).toBe(r.all.succeeded + r.all.failed + r.all.inFlight);
  });

  it('runs closed-loop clients: each waits for its answer, thinks, sends again', async () => {
    const port = await server();
    const [r] = await generateLoad([{ name: 'c', ports: [port], zone: 'a', arrival: { process: 'closed', clients: 3, think: { dist: 'constant', value: 50 } } }], {
      seed: 1,
      duration: 500,
      warmup: 0,
      drain: 500,
      bucketMs: 1000,
    });
    // 3 clients, ≥ 50 ms per cycle over 500 ms: at most 3 × 10 requests, and each client sent several.
    expect(r.window.total).toBeLessThanOrEqual(30);
    expect(r.window.total).toBeGreaterThanOrEqual(9);
    expect(r.window.succeeded).toBe(r.window.total);
  });

  it('is bounded in count', async () => {
    const port = await server();
    const [r] = await generateLoad([{ name: 'g', ports: [port], zone: 'a', arrival: { process: 'constant', rate: 1000, steps: [] } }], {
      seed: 1,
      duration: 300,
      warmup: 0,
      drain: 500,
      bucketMs: 1000,
      maxRequests: 10,
    });
    expect(r.window.succeeded).toBe(10);
    expect(r.window.overflow).toBe(r.window.total - 10);
  });
});
