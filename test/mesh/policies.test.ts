/**
 * The shared factory of a sidecar's policy objects (src/mesh/policies.ts): what a mesh
 * builds, and one set of objects deciding the same under virtual time (the simulator's
 * Engine) and real time (the live proxy's clock and timers) when fed the same outcomes.
 */
import { describe, expect, it } from 'vitest';
import type { Endpoint, Outcome } from '../../src/algorithms/types.js';
import { soloEnvironment } from '../../src/algorithms/types.js';
import { endAttempt } from '../../src/algorithms/failover/retry-limiter.js';
import { UNLIMITED_RETRIES } from '../../src/algorithms/failover/retry-limiter.js';
import { rngStream } from '../../src/core/rng.js';
import type { Clock, Timers } from '../../src/core/ports.js';
import { createSidecarPolicies, resolveRouter } from '../../src/mesh/policies.js';
import { Engine } from '../../src/sim/engine.js';
import { RealTimers, realClock } from '../../src/live/realtime.js';
import { resolveMesh } from '../../src/scenario/schema.js';
import type { MeshSpec } from '../../src/scenario/types.js';

function mesh(raw: unknown): MeshSpec {
  const r = resolveMesh(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.mesh;
}

const endpoints: Endpoint[] = [0, 1, 2].map((i) => ({ id: `api-${i}`, address: `10.0.0.${i}:80`, zone: 'a', weight: 1, health: 'healthy', priority: 0, metadata: {} }));

function build(m: MeshSpec, clock: Clock, timers: Timers, seed = 7) {
  return createSidecarPolicies('t', m, resolveRouter(m.failover, undefined), endpoints, {
    clock,
    timers,
    stream: (purpose) => rngStream(seed, purpose),
    env: soloEnvironment('a'),
    probe: () => undefined,
  });
}

describe('createSidecarPolicies', () => {
  const engine = new Engine();

  it('builds only what the mesh configures', () => {
    const plain = build(mesh({ balancer: { kind: 'round-robin' } }), engine, engine);
    expect(plain).toMatchObject({ outlierDetector: undefined, healthChecker: undefined, breaker: undefined, limiter: undefined, throttle: undefined, jitter: undefined });
    expect(plain.router.any).toBe(false);
    const full = build(
      mesh({
        balancer: { kind: 'least-request' },
        failover: {
          retries: { max: 2, on: ['5xx'], budget: { kind: 'linkerd' } },
          circuitBreaker: { maxRequests: 10 },
          outlierDetection: {},
          healthCheck: { interval: '1s', timeout: '100ms', unhealthyThreshold: 2, healthyThreshold: 1 },
          adaptiveThrottling: {},
        },
      }),
      engine,
      engine,
    );
    expect(full.outlierDetector).toBeDefined();
    expect(full.healthChecker).toBeDefined();
    expect(full.breaker?.config.maxRequests).toBe(10);
    expect(full.throttle).toBeDefined();
    expect(full.jitter).toBeDefined();
    expect(full.router).toMatchObject({ maxRetries: 2, any: true });
    expect(full.limiter).not.toBe(UNLIMITED_RETRIES);
    full.healthChecker?.stop();
    full.outlierDetector?.stop();
  });

  it('a breaker without a budget limits retries with its max_retries (Envoy); neither: unlimited', () => {
    const withBreaker = build(mesh({ balancer: { kind: 'random' }, failover: { retries: { max: 1, on: ['reset'] }, circuitBreaker: { maxRetries: 1 } } }), engine, engine);
    expect(withBreaker.limiter?.tryRetry()).toBe(true);
    expect(withBreaker.limiter?.tryRetry()).toBe(false);
    const bare = build(mesh({ balancer: { kind: 'random' }, failover: { retries: { max: 1, on: ['reset'] } } }), engine, engine);
    expect(bare.limiter).toBe(UNLIMITED_RETRIES);
  });

  it('health checks need a probe transport', () => {
    const m = mesh({ balancer: { kind: 'random' }, failover: { healthCheck: { interval: '1s', timeout: '100ms', unhealthyThreshold: 2, healthyThreshold: 1 } } });
    expect(() =>
      createSidecarPolicies('t', m, resolveRouter(m.failover, undefined), endpoints, { clock: engine, timers: engine, stream: (p) => rngStream(1, p), env: soloEnvironment() }),
    ).toThrow(/probe/);
  });
});

/**
 * Feeds one sidecar's objects the same outcomes in the same order and records every
 * decision: picks, ejections, retry admissions and backoff draws. Host 1 answers 503.
 * The feeds run `gap` ms apart; after the last, the run waits `rest` ms (well past the
 * ejection time) and picks once more: the ejected host is back.
 */
function drive(clock: Clock, timers: Timers, gap: number, rest: number, done: (trace: string[]) => void): void {
  const m = mesh({
    balancer: { kind: 'round-robin' },
    failover: {
      retries: { max: 1, on: ['5xx'], budget: { percent: '20%', minConcurrency: 1 }, backoff: { base: '25ms', max: '250ms' } },
      outlierDetection: { consecutive5xx: 2, interval: '100ms', baseEjectionTime: '100ms', maxEjectionPercent: '50%' },
    },
  });
  const p = build(m, clock, timers);
  const trace: string[] = [];
  let feed = 0;
  p.outlierDetector?.onChange((ep, ejected) => trace.push(`feed ${feed}: ${ejected ? 'eject' : 'return'} ${ep}`));
  const limiter = p.limiter;
  const retry = p.router.retry;
  if (limiter === undefined || retry === undefined || p.jitter === undefined || p.router.backoff === undefined) throw new Error('mesh without retries');
  const once = (): void => {
    limiter.onRequest();
    const ep = p.sidecar.pick({ attempt: 0 });
    limiter.onAttemptStart();
    p.sidecar.attemptStarted(ep);
    const outcome: Outcome = ep === 1 ? { kind: 'error', status: 503 } : { kind: 'success', status: 200 };
    p.sidecar.attemptEnded(ep, outcome, 1);
    const retriable = outcome.kind !== 'success' && retry.matches(outcome);
    const admitted = endAttempt(limiter, retriable, false, retriable);
    const backoff = admitted ? (p.router.backoff as (n: number, r: typeof p.jitter) => number)(1, p.jitter) : -1;
    if (admitted) limiter.onRetryEnd(); // the retry is abandoned: only the decision is traced
    limiter.onRequestEnd(!retriable);
    trace.push(`feed ${feed}: pick ${ep} ${outcome.status}${retriable ? ` retry ${admitted ? `admitted, backoff ${backoff}` : 'denied'}` : ''}`);
    feed++;
  };
  for (let k = 0; k < 8; k++) timers.schedule(gap / 2 + k * gap, once);
  timers.schedule(gap / 2 + 8 * gap + rest, () => {
    once();
    p.outlierDetector?.stop();
    done(trace);
  });
}

describe('one set of policy objects, two worlds', () => {
  it('the same outcomes give the same decisions under virtual and real time', async () => {
    const engine = new Engine();
    engine.setModel({ handle: () => undefined });
    let virtual: string[] = [];
    drive(engine, engine, 10, 500, (t) => (virtual = t));
    engine.run();

    const timers = new RealTimers();
    const real = await new Promise<string[]>((resolve) => drive(realClock, timers, 10, 500, resolve));
    timers.cancelAll();

    expect(real).toEqual(virtual);
    // Host 1 fails twice and is ejected; picks skip it until it returns (backoffs: seeded draws).
    // Round robin is Envoy's hosts[idx++ % n], idx never reset: with this seed s (s ≡ 0 mod 3,
    // s even) the five picks over [0, 1, 2] leave idx = s + 5, so over [0, 2] the next picks
    // are positions 1, 0, 1 (hosts 2, 0, 2), and once host 1 is back, position (s + 8) mod 3
    // = 2 (host 2).
    expect(virtual.map((l) => l.replace(/backoff \d+/, 'backoff B'))).toEqual([
      'feed 0: pick 0 200',
      'feed 1: pick 1 503 retry admitted, backoff B',
      'feed 2: pick 2 200',
      'feed 3: pick 0 200',
      'feed 4: eject 1',
      'feed 4: pick 1 503 retry admitted, backoff B',
      'feed 5: pick 2 200',
      'feed 6: pick 0 200',
      'feed 7: pick 2 200',
      'feed 8: return 1',
      'feed 8: pick 2 200',
    ]);
  });
});
