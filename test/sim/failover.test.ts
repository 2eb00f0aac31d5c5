/**
 * The failover pipeline of src/sim/world.ts (issue #4, sections 3 and 5): retries against
 * their closed forms, retry amplification through a call graph, per-try timeouts and
 * hedging around a hung or slow instance (and Envoy's rules for hedges and retries the
 * budget refuses), the overall deadline, no healthy upstream for a retry or hedge, the
 * circuit breaker, the Envoy retry budget under a retry storm, and property tests over
 * random call graphs, failover configs and fault schedules.
 *
 * Every scenario is written as scenario-file YAML and loaded by the real loader. Seeds are
 * fixed. Where randomness is the point, the tolerance is derived from theory and stated
 * (binomial or sample-mean standard errors, Z = 5: a false alarm has two-sided probability
 * 5.7e-7 per check); everything else is exact.
 *
 * The retry limiters and circuit breakers the world builds are wrapped (vi.mock below) by
 * probes that only watch: they count the RetryLimiter protocol's events (so leaks and
 * unbalanced calls show), check the Envoy budget and gRPC throttling rules at every
 * admission, and record the breakers' state. Their behaviour is the original's.
 *
 * Scenarios that can send the world into an endless loop run first in a child process with
 * a time limit (simulateInChild), so that a hang fails one test instead of blocking the
 * file: the random worlds of the property test (re-run here with the probes once the child
 * has finished them) and the deadline case with per-try timeouts and retries. Both caught
 * an attempt list that looped forever (a record freed while its call went on stayed linked
 * in the call's attempts, and cancelAttempts walked it).
 *
 * The test of timed hedges with retries guards a fixed bug: scheduleRetry kept one pending
 * RETRY_SEND per call, so a second retry admitted while the first waited out its backoff
 * voided the first one's event while cPendingRetry still counted it, and the call never
 * ended. Each admitted retry now has a timer token of its own (allocToken).
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RetryLimiter } from '../../src/algorithms/failover/retry-limiter.js';
import type { RetryBudgetConfig } from '../../src/algorithms/failover/retry-budget.js';
import type { CircuitBreakerConfig } from '../../src/algorithms/failover/circuit-breaker.js';
import type { Clock } from '../../src/core/ports.js';
import type { LayerStats, RunResult } from '../../src/sim/metrics.js';
import type { Scenario } from '../../src/scenario/types.js';
import { simulate } from '../../src/sim/world.js';
import { OutlierDetector } from '../../src/algorithms/failover/outlier-detection.js';
import {
  attemptsMoments,
  binomialBand,
  clientLayer,
  graph,
  graphYaml,
  layer,
  resultKey,
  simulateInChild,
  successLatencyMoments,
  type GraphOptions,
  type ServiceOptions,
} from './_failover-helpers.js';
import { load } from './_scenario.js';

/** Five standard errors: two-sided probability 5.7e-7. */
const Z = 5;

// ---- Probes on the world's retry limiters and circuit breakers ------------------------------

interface LimiterProbe {
  readonly kind: string;
  /** onRequest − onRequestEnd, onAttemptStart − onAttemptEnd, admitted − onRetryEnd (retries held). */
  requests: number;
  attempts: number;
  retries: number;
  /** Totals over the run. */
  issued: number;
  started: number;
  admitted: number;
  denied: number;
  /** Attempt results that did not match the retry conditions (Linkerd's deposits). */
  nonRetriable: number;
  /** gRPC throttling: tokens as the reference rules compute them from the events seen. */
  tokens: number;
  readonly violations: string[];
}

interface BreakerProbe {
  readonly config: CircuitBreakerConfig;
  readonly activeRequests: number;
  readonly requestOverflow: number;
  peak: number;
}

const probes = vi.hoisted(() => {
  const limiters: LimiterProbe[] = [];
  const breakers: BreakerProbe[] = [];
  return {
    limiters,
    breakers,
    reset(): void {
      limiters.length = 0;
      breakers.length = 0;
    },
    /**
     * Wraps a limiter: the same answers, plus the event counts and, at each admission, the
     * reference's rule for the budget kind (Envoy: active retries < max(⌊percent × active
     * upstream requests⌋, min concurrency); gRPC: tokens > maxTokens / 2).
     */
    wrap(inner: RetryLimiter, config: RetryBudgetConfig): RetryLimiter {
      const maxTokens = config.kind === 'grpc-throttling' ? Math.min(config.maxTokens, 1000) : 0;
      const p: LimiterProbe = { kind: config.kind, requests: 0, attempts: 0, retries: 0, issued: 0, started: 0, admitted: 0, denied: 0, nonRetriable: 0, tokens: maxTokens, violations: [] };
      limiters.push(p);
      const fail = (what: string): void => {
        if (p.violations.length < 5) p.violations.push(what);
      };
      return {
        onRequest() {
          p.requests++;
          p.issued++;
          inner.onRequest();
        },
        onAttemptStart() {
          p.attempts++;
          p.started++;
          inner.onAttemptStart();
        },
        onAttemptResult(retriableFailure) {
          if (p.attempts <= 0) fail('onAttemptResult with no attempt in flight');
          if (!retriableFailure) p.nonRetriable++;
          if (retriableFailure && config.kind === 'grpc-throttling') p.tokens = Math.max(0, p.tokens - 1);
          inner.onAttemptResult(retriableFailure);
        },
        tryRetry() {
          const ok = inner.tryRetry();
          if (ok) {
            if (config.kind === 'envoy-budget') {
              const allowance = Math.max(Math.floor(config.budgetPercent * p.attempts), config.minRetryConcurrency);
              if (p.retries >= allowance) fail(`envoy budget exceeded: retry admitted with ${p.retries} active retries, ${p.attempts} active attempts (allowance ${allowance})`);
            }
            if (config.kind === 'grpc-throttling' && !(p.tokens > maxTokens / 2)) fail(`gRPC throttling exceeded: retry admitted with ${p.tokens} tokens of ${maxTokens}`);
            p.retries++;
            p.admitted++;
            // Envoy's retry state: a request holds one retry at most (a decision gives back the last).
            if (p.retries > p.requests) fail(`${p.retries} retries held by ${p.requests} requests in flight`);
          } else {
            p.denied++;
          }
          return ok;
        },
        onRetryEnd() {
          if (--p.retries < 0) fail('onRetryEnd without an admitted retry');
          inner.onRetryEnd();
        },
        onAttemptEnd() {
          if (--p.attempts < 0) fail('onAttemptEnd without onAttemptStart');
          inner.onAttemptEnd();
        },
        onRequestEnd(success) {
          if (--p.requests < 0) fail('onRequestEnd without onRequest');
          if (success && config.kind === 'grpc-throttling') p.tokens = Math.min(maxTokens, p.tokens + config.tokenRatio);
          inner.onRequestEnd(success);
        },
      };
    },
  };
});

vi.mock('../../src/algorithms/failover/retry-budget.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/algorithms/failover/retry-budget.js')>();
  return { ...mod, createRetryLimiter: (config: RetryBudgetConfig, clock: Clock) => probes.wrap(mod.createRetryLimiter(config, clock), config) };
});

vi.mock('../../src/algorithms/failover/circuit-breaker.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/algorithms/failover/circuit-breaker.js')>();
  class ProbedCircuitBreaker extends mod.CircuitBreaker {
    peak = 0;
    constructor(config: CircuitBreakerConfig) {
      super(config);
      probes.breakers.push(this);
    }
    override tryAcquireRequest(): boolean {
      const ok = super.tryAcquireRequest();
      if (this.activeRequests > this.peak) this.peak = this.activeRequests;
      return ok;
    }
  }
  return { ...mod, CircuitBreaker: ProbedCircuitBreaker };
});

beforeEach(() => probes.reset());

/** Simulates with fresh probes. */
function run(s: Scenario, seed: number): RunResult {
  probes.reset();
  return simulate(s, seed);
}

/** Every limiter and breaker is back at rest (nothing leaked) and no rule was broken. */
function expectProbesAtRest(): void {
  for (const p of probes.limiters) {
    expect(p.violations, `${p.kind} limiter`).toEqual([]);
    expect([p.requests, p.attempts, p.retries], `${p.kind} limiter: requests, attempts, retries still active`).toEqual([0, 0, 0]);
  }
  for (const b of probes.breakers) {
    expect(b.activeRequests, 'breaker requests still held').toBe(0);
    expect(b.peak).toBeLessThanOrEqual(b.config.maxRequests);
  }
}

// ---- Distributions and arrivals as YAML ----------------------------------------------------

const constant = (v: number): string => `{ dist: constant, value: ${v}ms }`;
const uniform = (a: number, b: number): string => `{ dist: uniform, min: ${a}ms, max: ${b}ms }`;
const constantRate = (r: number): string => `{ process: constant, rate: ${r}/s }`;
const poisson = (r: number): string => `{ process: poisson, rate: ${r}/s }`;
const closed = (clients: number, think: number): string => `{ process: closed, clients: ${clients}, think: ${constant(think)} }`;
const sumOf = (ls: readonly LayerStats[], f: (l: LayerStats) => number): number => ls.reduce((a, l) => a + f(l), 0);

/** Requests a closed-loop client with a constant cycle issues in [0, duration): at first, first + c, ... */
const closedIssues = (duration: number, first: number, cycle: number): number => Math.ceil((duration - first) / cycle);

// ---------------------------------------------------------------------------------------------

describe('retries: the closed forms (one layer, independent failures, no budget)', () => {
  // 4 instances with unbounded concurrency and a constant 1 ms service, no network time: load
  // does not matter. An error fault fails each response with probability p = 30% (503),
  // drawn independently from the fault's stream; retries on 5xx, r of them.
  const p = 0.3;
  const n = 50_000; // constant 5000/s for 10 s
  const backoffs = {
    // Envoy's whole-ms backoff with base 1 ms draws ⌊u · 1⌋ = 0: no delay at all.
    none: { yaml: '{ base: 1ms, max: 1ms }', interval: () => 1 },
    // The default: intervals 25, 50, 100 ms for retries 1, 2, 3.
    default: { yaml: undefined, interval: (k: number) => Math.min(25 * 2 ** (k - 1), 250) },
    // Long: 200, 400, 800 ms.
    long: { yaml: '{ base: 200ms, max: 2s }', interval: (k: number) => Math.min(200 * 2 ** (k - 1), 2000) },
  } as const;

  const scenarioFor = (r: number, backoff: string | undefined): Scenario =>
    graph({
      duration: 10_000,
      services: { s: { instances: 4, serviceTime: constant(1) } },
      target: 's',
      arrival: constantRate(5000),
      failover: `{ retries: { max: ${r}, on: [5xx]${backoff ? `, backoff: ${backoff}` : ''} } }`,
      faults: ['{ kind: error, target: { service: s }, at: 0ms, rate: 30%, status: 503 }'],
    });

  for (const r of [0, 1, 2, 3]) {
    for (const [name, b] of Object.entries(backoffs)) {
      it(`r = ${r}, backoff ${name}: success 1 − p^(r+1), attempts per request (1 − p^(r+1))/(1 − p), latency as Envoy's backoff makes it`, () => {
        const res = run(scenarioFor(r, b.yaml), 11 + r);
        const q = res.requests;
        const l = clientLayer(res);
        expect(q.total).toBeGreaterThanOrEqual(n - 1);
        expect(q.inFlight).toBe(0);
        // The client layer and the request counts agree; every failure is the 503.
        expect([l.calls, l.succeeded, l.failed]).toEqual([q.total, q.succeeded, q.failed]);
        expect(q.errors).toBe(q.failed);
        expect(l.retries).toBe(l.attempts - l.calls);
        expect(res.failover.retries).toBe(l.retries);
        expect([l.hedges, l.perTryTimeouts, l.deadlines, l.overflows, l.budgetDenied]).toEqual([0, 0, 0, 0, 0]);

        // Success count ~ Binomial(n, 1 − p^(r+1)): σ = sqrt(n s (1 − s)).
        const success = 1 - p ** (r + 1);
        expect(Math.abs(q.succeeded - q.total * success)).toBeLessThanOrEqual(binomialBand(q.total, success, Z));
        // Attempts: a sum of n independent truncated geometrics, σ = sqrt(n Var(A)); r = 0 is exact.
        const a = attemptsMoments(p, r);
        expect(a.mean).toBeCloseTo((1 - p ** (r + 1)) / (1 - p), 12);
        expect(Math.abs(l.attempts - q.total * a.mean)).toBeLessThanOrEqual(Z * Math.sqrt(q.total * a.variance));
        if (r === 0) expect(l.attempts).toBe(l.calls);

        // Latency of the successes: a attempts of 1 ms plus the backoffs before retries 1..a−1,
        // each uniform on 0..interval−1 whole ms. Mean within 5 standard errors; the maximum
        // within the largest possible sum.
        const lat = successLatencyMoments(p, r, 1, b.interval);
        expect(Math.abs(res.latency.mean() - lat.mean)).toBeLessThanOrEqual(Z * Math.sqrt(lat.variance / q.succeeded));
        let worst = r + 1;
        for (let k = 1; k <= r; k++) worst += b.interval(k) - 1;
        // (Latencies are differences of float clock readings: equal up to 1e-9 ms.)
        expect(res.latency.max).toBeLessThanOrEqual(worst + 1e-9);
        expect(res.latency.min).toBeCloseTo(1, 9);
        if (name === 'none') expect(res.latency.max).toBeCloseTo(r + 1, 9);
      });
    }
  }
});

describe('retry amplification through a call graph', () => {
  // users → a → b → c, every sidecar retrying twice on 5xx, c failing every request (503).
  // b's call to c makes 3 attempts and fails; b answers 503, so a retries b: 3 × 3; users
  // retry a: 3 × 3 × 3 = 27 attempts at c per request. No budget, no deadline, long drain.
  const base: GraphOptions = {
    duration: 2000,
    drain: 20_000,
    services: {
      a: { instances: 2, serviceTime: constant(1), calls: [{ service: 'b' }] },
      b: { instances: 2, serviceTime: constant(1), calls: [{ service: 'c' }] },
      c: { instances: 2, serviceTime: constant(1) },
    },
    target: 'a',
    arrival: constantRate(100),
    failover: '{ retries: { max: 2, on: [5xx] } }',
    faults: ['{ kind: error, target: { service: c }, at: 0ms }'],
  };

  it('three layers with two retries each: exactly 3, 9 and 27 attempts per request', () => {
    const res = run(graph(base), 5);
    const n = res.requests.total;
    expect(n).toBeGreaterThanOrEqual(199);
    expect(res.requests.inFlight).toBe(0);
    expect([res.requests.failed, res.requests.errors]).toEqual([n, n]);
    const ua = layer(res, 'users', 'a');
    const ab = layer(res, 'a', 'b');
    const bc = layer(res, 'b', 'c');
    expect(ua.client).toBe(true);
    expect([ua.calls, ua.attempts, ua.retries, ua.failed]).toEqual([n, 3 * n, 2 * n, n]);
    expect([ab.calls, ab.attempts, ab.retries, ab.failed]).toEqual([3 * n, 9 * n, 6 * n, 3 * n]);
    expect([bc.calls, bc.attempts, bc.retries, bc.failed]).toEqual([9 * n, 27 * n, 18 * n, 9 * n]);
    expect(bc.attempts / n).toBe(27);
    for (const l of res.layers) expect(l.succeeded).toBe(0);
    // Every attempt at c reached one of its instances.
    expect(res.instances.filter((i) => i.service === 'c').reduce((a, i) => a + i.requests, 0)).toBe(27 * n);
  });

  it('a call graph that succeeds makes one attempt per call at every layer (fan-out counted in calls)', () => {
    const res = run(graph({ ...base, services: { ...base.services, a: { ...base.services.a, calls: [{ service: 'b', parallel: 3 }] } }, faults: [] }), 5);
    const n = res.requests.total;
    expect(res.requests.succeeded).toBe(n);
    expect([layer(res, 'users', 'a').attempts, layer(res, 'a', 'b').calls, layer(res, 'a', 'b').attempts, layer(res, 'b', 'c').attempts]).toEqual([n, 3 * n, 3 * n, 3 * n]);
  });
});

describe('per-try timeouts and hedging', () => {
  // 4 instances, one hung from the start (accepts requests, never answers); round robin from
  // one client sidecar; constant 5 ms service, no network time; 200/s for 10 s.
  const hung = (failover: string | undefined): GraphOptions => ({
    duration: 10_000,
    services: { s: { instances: 4, serviceTime: constant(5) } },
    target: 's',
    arrival: constantRate(200),
    ...(failover === undefined ? {} : { failover }),
    faults: ['{ kind: hang, target: { service: s, instances: [0] }, at: 0ms }'],
  });

  it('a hung instance, perTryTimeout 100ms, 2 retries with host reselection: every request succeeds within 100 + 24 + 5 ms', () => {
    const res = run(graph(hung('{ perTryTimeout: 100ms, retries: { max: 2, on: [timeout], hostReselection: {} } }')), 3);
    const q = res.requests;
    const l = clientLayer(res);
    expect(q.total).toBeGreaterThanOrEqual(1999);
    expect(q.succeeded).toBe(q.total);
    // The attempts that went to the hung instance time out and are retried once each: the
    // retry avoids the host tried (previous_hosts), and the round robin's next pick is healthy.
    // How many: the round robin gives instance 0 a quarter (±1) of all P ≥ n picks; those are
    // first attempts (T, each timing out) or retry picks rejected as already tried (at most
    // one per retry, so at most T): 2T ≥ P/4 − 1, T ≥ n/8 − 1/2.
    expect(l.perTryTimeouts).toBeGreaterThanOrEqual(q.total / 8 - 0.5);
    expect(l.retries).toBe(l.perTryTimeouts);
    expect(l.attempts).toBe(l.calls + l.retries);
    expect(l.deadlines).toBe(0);
    // Worst case: the per-try timeout, the first retry's backoff (⌊u · 25⌋ ≤ 24 ms), the service.
    expect(res.latency.max).toBeLessThanOrEqual(100 + 24 + 5);
    expect(res.latency.max).toBeGreaterThan(100);
    // The hung instance got only first attempts; the others served the rest.
    expect(res.instances[0].served).toBe(0);
  });

  it('a per-try timeout is retried under timeout, reset and 5xx alike (identical runs), and not under connect-failure', () => {
    const with_ = (on: string): RunResult => run(graph(hung(`{ perTryTimeout: 100ms, retries: { max: 2, on: [${on}], hostReselection: {} } }`)), 3);
    const timeout = with_('timeout');
    for (const on of ['reset', '5xx', 'gateway-error']) {
      const other = with_(on);
      expect(JSON.stringify([other.requests, other.layers]), on).toBe(JSON.stringify([timeout.requests, timeout.layers]));
    }
    const notRetried = with_('connect-failure');
    const l = clientLayer(notRetried);
    expect(l.retries).toBe(0);
    expect(notRetried.requests.timedOut).toBe(l.perTryTimeouts);
    expect(notRetried.requests.timedOut).toBeGreaterThan(0);
  });

  it('without retries, a quarter of the requests (±1, round robin) time out at the 1s deadline', () => {
    const res = run(graph(hung('{ timeout: 1s }')), 3);
    const q = res.requests;
    expect(q.total).toBeGreaterThanOrEqual(1999);
    expect(Math.abs(q.timedOut - q.total / 4)).toBeLessThanOrEqual(1);
    expect(q.succeeded + q.timedOut).toBe(q.total);
    expect(clientLayer(res).deadlines).toBe(q.timedOut);
    expect(res.latency.max).toBe(5);
  });

  it('hedge { delay: 20ms } around a slow instance: p99 ≈ delay + service, hedges ≈ n/20, all of them win', () => {
    // 20 instances, one 200× slower (5 ms → 1 s), random balancer, 500/s Poisson for 10 s.
    // A request's first attempt goes to the slow one with probability 1/20, so hedges ~
    // Binomial(n, 1/20). A hedge avoids the host already tried (up to 3 re-picks, as the
    // world does for hedges): it lands on the slow one too (and loses the race to the
    // original) only when all 4 picks do, probability 20^−4, so lost hedges ~
    // Binomial(hedges, 6.25e-6): 3 or more has probability < 1e-9. The 1 s answers are at
    // most those, far under the 1% the p99 leaves.
    const res = run(
      graph({
        duration: 10_000,
        services: { s: { instances: 20, serviceTime: constant(5) } },
        target: 's',
        arrival: poisson(500),
        balancer: 'random',
        failover: '{ hedge: { delay: 20ms } }',
        faults: ['{ kind: slow, target: { service: s, instances: [0] }, at: 0ms, factor: 200 }'],
      }),
      17,
    );
    const q = res.requests;
    const l = clientLayer(res);
    expect(q.succeeded).toBe(q.total);
    expect(Math.abs(l.hedges - q.total / 20)).toBeLessThanOrEqual(binomialBand(q.total, 1 / 20, Z));
    expect(l.hedgesWon).toBeGreaterThan(0);
    expect(l.hedges - l.hedgesWon).toBeLessThanOrEqual(2);
    expect(l.hedges).toBeLessThanOrEqual(l.calls); // maxAttempts 2: one hedge per call at most
    expect(l.attempts).toBe(l.calls + l.hedges);
    expect([res.failover.hedges, res.failover.hedgesWon]).toEqual([l.hedges, l.hedgesWon]);
    // The winning hedge answers at delay + service = 25 ms; the sketch is within 0.5%.
    const p99 = res.latency.quantile(0.99);
    expect(p99).toBeGreaterThanOrEqual(25 * 0.99);
    expect(p99).toBeLessThanOrEqual(25 * 1.01);
    expect(res.latency.quantile(0.9)).toBeLessThanOrEqual(5 * 1.01);
  });

  for (const maxAttempts of [2, 3, 5]) {
    it(`hedge { delay: 20ms, maxAttempts: ${maxAttempts} } against hung instances: exactly ${maxAttempts - 1} hedge(s) per call, then the deadline`, () => {
      const res = run(
        graph({
          duration: 2000,
          services: { s: { instances: 3, serviceTime: constant(5) } },
          target: 's',
          arrival: poisson(200),
          failover: `{ timeout: 200ms, hedge: { delay: 20ms, maxAttempts: ${maxAttempts} } }`,
          faults: ['{ kind: hang, target: { service: s }, at: 0ms }'],
        }),
        2,
      );
      const l = clientLayer(res);
      expect(l.calls).toBeGreaterThan(300);
      expect([l.hedges, l.attempts, l.deadlines, l.hedgesWon, l.failed]).toEqual([(maxAttempts - 1) * l.calls, maxAttempts * l.calls, l.calls, 0, l.calls]);
      expect(res.requests.timedOut).toBe(l.calls);
      expectProbesAtRest();
    });
  }

  it('timed hedges with retries, every attempt failing: each call ends, failed, after 1 + retries.max attempts (both pending retries are sent)', () => {
    // 4 instances answering 503 after 10 ms; retries { max: 3 } and a hedge after 5 ms. Attempt
    // 1 at 0, the hedge at 5 (retries used: 1); attempt 1 fails at 10 → a retry is admitted (2)
    // and waits its backoff; the hedge fails at 15 → another retry is admitted (3). Both are
    // sent, both fail: the last failure is returned. 4 attempts, 2 retries, 1 hedge per call.
    const res = run(
      graph({
        duration: 2000,
        drain: 10_000,
        services: { s: { instances: 4, serviceTime: constant(10) } },
        target: 's',
        arrival: constantRate(10),
        failover: '{ retries: { max: 3, on: [5xx] }, hedge: { delay: 5ms } }',
        faults: ['{ kind: error, target: { service: s }, at: 0ms }'],
      }),
      1,
    );
    const q = res.requests;
    const l = clientLayer(res);
    expect([q.inFlight, q.failed, q.errors]).toEqual([0, q.total, q.total]);
    expect([l.attempts, l.retries, l.hedges, l.failed]).toEqual([4 * l.calls, 2 * l.calls, l.calls, l.calls]);
  });

  it('hedge { onPerTryTimeout: true } against hung instances: a hedge per per-try timeout until retries.max, no retries', () => {
    const res = run(
      graph({
        duration: 2000,
        services: { s: { instances: 3, serviceTime: constant(5) } },
        target: 's',
        arrival: poisson(200),
        failover: '{ timeout: 1s, perTryTimeout: 50ms, retries: { max: 2, on: [5xx] }, hedge: { onPerTryTimeout: true } }',
        faults: ['{ kind: hang, target: { service: s }, at: 0ms }'],
      }),
      2,
    );
    const l = clientLayer(res);
    // Attempt 1 times out at 50 ms and is kept; a hedge follows after the backoff (< 25 ms),
    // times out 50 ms later; a second hedge (backoff < 50 ms); its timeout asks for a third,
    // which retries.max refuses. All three hang on until the 1 s deadline.
    expect([l.hedges, l.retries, l.attempts, l.perTryTimeouts, l.deadlines]).toEqual([2 * l.calls, 0, 3 * l.calls, 3 * l.calls, l.calls]);
  });

  it("hedge { onPerTryTimeout: true } under Envoy's max_retries 1: each hedge gives back the retry its call held, so every call sends retries.max hedges, none denied", () => {
    // One closed-loop client (10 ms think), every instance hung, 1 s deadline: a call at a
    // time. Attempt 1 times out at 50 ms: a hedge is admitted (the one slot); it times out in
    // turn: Envoy's shouldRetry gives that slot back (resetRetry) before asking again, so the
    // second hedge is admitted too; the third timeout finds retries.max spent. Calls: one per
    // 1010 ms cycle, ⌈(10000 − 10) / 1010⌉.
    const res = run(
      graph({
        duration: 10_000,
        services: { s: { instances: 3, serviceTime: constant(5) } },
        target: 's',
        arrival: closed(1, 10),
        failover: '{ timeout: 1s, perTryTimeout: 50ms, retries: { max: 2, on: [5xx], budget: { kind: envoy-max-retries, maxRetries: 1 } }, hedge: { onPerTryTimeout: true } }',
        faults: ['{ kind: hang, target: { service: s }, at: 0ms }'],
      }),
      1,
    );
    const l = clientLayer(res);
    expect(l.calls).toBe(closedIssues(10_000, 10, 1010));
    expect([l.hedges, l.attempts, l.perTryTimeouts, l.budgetDenied, l.deadlines]).toEqual([2 * l.calls, 3 * l.calls, 3 * l.calls, 0, l.calls]);
    expectProbesAtRest();
  });

  /**
   * Two calls (at 0 and 40 ms) to one instance whose attempts starting before 160 ms take
   * 200 ms and whose answers before 242 ms are 503s; per-try timeout 50 ms with hedging,
   * Envoy's max_retries 1, zero backoff, `retriesMax` retries per call.
   */
  function slowThenFailing(retriesMax: number): ReturnType<typeof run> {
    return run(
      graph({
        duration: 80,
        drain: 2000,
        services: { s: { instances: 1, serviceTime: constant(5) } },
        target: 's',
        arrival: constantRate(25),
        failover: `{ timeout: 1s, perTryTimeout: 50ms, retries: { max: ${retriesMax}, on: [5xx], backoff: { base: 1ms }, budget: { kind: envoy-max-retries, maxRetries: 1 } }, hedge: { onPerTryTimeout: true } }`,
        faults: ['{ kind: slow, target: { service: s }, at: 0ms, for: 160ms, factor: 40 }', '{ kind: error, target: { service: s }, at: 0ms, for: 242ms }'],
      }),
      1,
    );
  }

  it("hedge { onPerTryTimeout: true }: an attempt whose hedge the budget refused is not hedged, so its failure is retried (Envoy marks an upstream request retried only for an admitted hedge)", () => {
    // One instance; attempts starting before 160 ms take 40 × 5 ms = 200 ms, later ones 5 ms;
    // answers before 242 ms are 503s. Calls at 0 and 40 ms (25/s for 80 ms), Envoy's
    // max_retries 1, zero backoff. Call A: its attempt times out softly at 50 ms, a hedge is
    // admitted (A holds the one slot), sent at once; that hedge times out at 100 ms, giving
    // the slot back and taking it again for a second hedge, whose timeout at 150 ms gives it
    // back for good (retries.max spent). A's first attempt fails at 200 ms (dropped: its hedge
    // is out), its first hedge answers 200 at 250 ms and wins. Call B: its attempt times out
    // softly at 90 ms while A holds the slot: the hedge is refused. The attempt fails at
    // 240 ms; not hedged, that is a retry decision: the slot is free, the retry goes at once
    // and answers 200 at 245 ms. Marking the attempt hedged at every per-try timeout would
    // return B's 503.
    const res = slowThenFailing(2);
    const l = clientLayer(res);
    expect([l.calls, l.succeeded, l.failed]).toEqual([2, 2, 0]);
    expect([l.attempts, l.hedges, l.hedgesWon, l.retries, l.budgetDenied, l.perTryTimeouts]).toEqual([5, 2, 1, 1, 1, 4]);
    expect(res.latency.max).toBe(250 - 0); // A; B took 245 − 40
    expectProbesAtRest();
  });

  it("a hedge the budget refused still uses up one of the call's retries (Envoy's shouldRetry decrements retries_remaining_ before asking the budget)", () => {
    // The scenario above with retries.max 1. Call A: its hedge at 50 ms is admitted (its one
    // retry); the hedge's own per-try timeout at 100 ms finds none left and gives the slot
    // back. Call B: its hedge at 90 ms is refused (A holds the slot), and that spends B's one
    // retry: its attempt's 503 at 240 ms, though the slot is free by then, is not retried and
    // is B's answer. Counting only admitted retries, B would retry and get a 200 at 245 ms.
    const res = slowThenFailing(1);
    const l = clientLayer(res);
    expect([l.calls, l.succeeded, l.failed, res.requests.errors]).toEqual([2, 1, 1, 1]);
    expect([l.attempts, l.hedges, l.hedgesWon, l.retries, l.budgetDenied, l.perTryTimeouts]).toEqual([3, 1, 1, 0, 1, 3]);
    expectProbesAtRest();
  });

  it('a retry the budget refused uses up one of retries.max too: a timed hedge whose first attempt was refused a retry is not retried when it fails', () => {
    // One instance answering 503 after 35 ms; calls at 0 and 40 ms (25/s for 80 ms);
    // retries { max: 2 }, a hedge after 10 ms, zero backoff; Finagle's budget with one retry
    // per request deposited and no reserve. Call A deposits at 0; its hedge at 10 takes that
    // token (retry 1 of 2); A's first attempt fails at 35 and asks for a retry (2 of 2):
    // refused, no token, dropped while the hedge is out. B deposits at 40. A's hedge fails at
    // 45: A has no retry left and answers 503 (counting only admitted retries, it would take
    // B's token and retry until 80 ms). B's hedge at 50 takes its token; B's first attempt
    // fails at 75, refused; its hedge fails at 85: B's answer. Each call: 2 attempts, one
    // hedge, one refusal.
    const res = run(
      graph({
        duration: 80,
        drain: 2000,
        services: { s: { instances: 1, serviceTime: constant(35) } },
        target: 's',
        arrival: constantRate(25),
        failover: '{ retries: { max: 2, on: [5xx], backoff: { base: 1ms }, budget: { kind: finagle, retryRatio: 1, minRetriesPerSecond: 0 } }, hedge: { delay: 10ms } }',
        faults: ['{ kind: error, target: { service: s }, at: 0ms }'],
      }),
      1,
    );
    const l = clientLayer(res);
    expect([l.calls, l.failed, l.attempts, l.hedges, l.retries, l.budgetDenied]).toEqual([2, 2, 4, 2, 0, 2]);
    expect(res.requests.errors).toBe(2);
    expectProbesAtRest();
  });

  it('a timed hedge the budget refused uses up one of retries.max: its first attempt is not retried when it fails', () => {
    // One instance, 45 ms of work, answers before 60 ms are 503s; calls at 0 and 40 ms;
    // retries { max: 1 }, a hedge after 30 ms, zero backoff; Finagle's budget at one retry
    // per two requests deposited, no reserve. A's hedge at 30 ms is refused (one deposit) and
    // spends A's one retry, so A's 503 at 45 ms is its answer (else it would retry on the two
    // deposits there are since B's at 40 ms). B's hedge at 70 ms takes those two; B's first
    // attempt answers 200 at 85 ms and wins.
    const res = run(
      graph({
        duration: 80,
        drain: 2000,
        services: { s: { instances: 1, serviceTime: constant(45) } },
        target: 's',
        arrival: constantRate(25),
        failover: '{ retries: { max: 1, on: [5xx], backoff: { base: 1ms }, budget: { kind: finagle, retryRatio: 0.5, minRetriesPerSecond: 0 } }, hedge: { delay: 30ms } }',
        faults: ['{ kind: error, target: { service: s }, at: 0ms, for: 60ms }'],
      }),
      1,
    );
    const l = clientLayer(res);
    expect([l.calls, l.succeeded, l.failed, l.attempts, l.hedges, l.hedgesWon, l.retries, l.budgetDenied]).toEqual([2, 1, 1, 3, 1, 0, 0, 1]);
    expect(res.latency.max).toBe(85 - 40);
    expectProbesAtRest();
  });

  it('hedge { onPerTryTimeout: true }: a per-try timeout goes to outlier detection at once, so a slow host whose attempts always lose the race is ejected as without hedging', () => {
    // 10 instances, round robin, constant 100/s for 60 s; instance 0 is 40× slow (200 ms), past
    // the 50 ms per-try timeout. Without hedging each of its attempts ends as a timeout (504 to
    // outlier detection) and is retried; with hedging it is kept, loses to the hedge (answered
    // within 50 + 24 + 5 ms) and is cancelled, which reports nothing. Envoy records the timeout
    // when it fires (onSoftPerTryTimeout), so outlier detection sees the same five 504s in a row
    // in both runs: ejected after 5 timeouts, back after the 30 s ejection (next 10 s tick), out
    // again after 5 more (60 s now, past the run's end).
    const slow = (hedge: string): Scenario =>
      graph({
        duration: 60_000,
        services: { s: { instances: 10, serviceTime: constant(5) } },
        target: 's',
        arrival: constantRate(100),
        failover: `{ timeout: 2s, perTryTimeout: 50ms, retries: { max: 1, on: [5xx] }${hedge}, outlierDetection: {} }`,
        faults: ['{ kind: slow, target: { service: s, instances: [0] }, at: 0ms, factor: 40 }'],
      });
    const plain = run(slow(''), 1);
    const hedged = run(slow(', hedge: { onPerTryTimeout: true }'), 1);
    const [lp, lh] = [clientLayer(plain), clientLayer(hedged)];
    expect([lp.perTryTimeouts, plain.failover.ejections]).toEqual([10, 2]);
    expect([lh.perTryTimeouts, lh.hedges, lh.hedgesWon, hedged.failover.ejections]).toEqual([10, 10, 10, 2]);
    expect(hedged.requests.succeeded).toBe(hedged.requests.total);
  });

  it('hedge { onPerTryTimeout: true }, then the deadline: each attempt reaches outlier detection once, at its per-try timeout', () => {
    // Every instance hangs: per call, 3 attempts each time out softly (one 504 each to outlier
    // detection), then the 1 s deadline ends all three as timeouts, which Envoy does not record
    // again (outlierDetectionTimeoutRecorded). A threshold of 10⁶ keeps every host in.
    const results = vi.spyOn(OutlierDetector.prototype, 'onResult');
    try {
      const res = run(
        graph({
          duration: 2000,
          services: { s: { instances: 3, serviceTime: constant(5) } },
          target: 's',
          arrival: poisson(200),
          failover: '{ timeout: 1s, perTryTimeout: 50ms, retries: { max: 2, on: [5xx] }, hedge: { onPerTryTimeout: true }, outlierDetection: { consecutive5xx: 1000000, consecutiveGatewayFailure: 1000000 } }',
          faults: ['{ kind: hang, target: { service: s }, at: 0ms }'],
        }),
        2,
      );
      const l = clientLayer(res);
      expect([l.perTryTimeouts, l.deadlines]).toEqual([3 * l.calls, l.calls]);
      expect(results).toHaveBeenCalledTimes(l.perTryTimeouts);
      for (const [, outcome] of results.mock.calls) expect(outcome.kind).toBe('timeout');
    } finally {
      results.mockRestore();
    }
  });
});

describe('the overall deadline (mesh.failover.timeout)', () => {
  // One closed-loop client, 10 ms think time, every attempt unanswered: each request ends at
  // its deadline D, so the client issues at 10, 10 + (D + 10), ... The number of requests in
  // [0, duration) with duration = 10 + k(D + 10) ± 0.5 ms is exactly k + 1 or k: this pins
  // the time each request ends to D within 0.5/k ms.
  const D = 100;
  const k = 100;
  const cycle = D + 10;
  const hangAll = ['{ kind: hang, target: { service: s }, at: 0ms }'];
  const two: Record<string, ServiceOptions> = { s: { instances: 2, serviceTime: constant(5) } };

  interface DeadlineCase {
    readonly name: string;
    readonly services: Record<string, ServiceOptions>;
    readonly failover: string;
    readonly faults: readonly string[];
    readonly timeout?: number;
    /** Run in a child process: the case can send the world into an endless loop (the attempt-list bug, see the top of the file). */
    readonly child?: boolean;
  }
  const yamlOf = (c: DeadlineCase, delta: number): string =>
    graphYaml({
      duration: 10 + k * cycle + delta,
      drain: 5000,
      services: c.services,
      target: 's',
      arrival: closed(1, 10),
      latency: constant(1),
      failover: c.failover,
      ...(c.timeout === undefined ? {} : { timeout: c.timeout }),
      faults: c.faults,
    });
  /** The two runs (duration just after and just before the (k+1)-th issue), in or out of process. */
  function deadlineRuns(c: DeadlineCase): Pick<RunResult, 'requests' | 'layers' | 'conservation'>[] {
    const yamls = [yamlOf(c, +0.5), yamlOf(c, -0.5)];
    if (!c.child) return yamls.map((y) => run(load(y), 4));
    const child = simulateInChild(
      yamls.map((yaml) => ({ yaml, seed: 4 })),
      30_000,
    );
    expect(child.finished, `simulate() never returned (stopped after 30 s) on:\n${yamls[child.stuckAt ?? 0]}`).toBe(true);
    return child.outcomes.map((o, i) => {
      expect(o.error, `simulate() threw on:\n${yamls[i]}`).toBeUndefined();
      return o.result as Pick<RunResult, 'requests' | 'layers' | 'conservation'>;
    });
  }

  const cases: readonly DeadlineCase[] = [
    { name: 'hung instances, no retries', services: two, failover: `{ timeout: ${D}ms }`, faults: hangAll },
    {
      name: 'hung instances, per-try timeouts and retries',
      services: two,
      failover: `{ timeout: ${D}ms, perTryTimeout: 30ms, retries: { max: 5, on: [timeout] } }`,
      faults: hangAll,
      child: true,
    },
    {
      name: 'a slow service (answers after the deadline: ignored), 3 hedges out at the deadline, a breaker of 3',
      services: { s: { instances: 2, serviceTime: constant(150) } },
      failover: `{ timeout: ${D}ms, hedge: { delay: 20ms, maxAttempts: 3 }, circuitBreaker: { maxRequests: 3 } }`,
      faults: [],
    },
    { name: "the client's own timeout (no mesh timeout)", services: two, failover: '{ perTryTimeout: 1s }', faults: hangAll, timeout: D },
  ];

  for (const c of cases) {
    it(`ends at exactly the deadline as a timeout, outstanding attempts cancelled: ${c.name}`, () => {
      const [after, before] = deadlineRuns(c);
      expect(after.requests.total).toBe(closedIssues(10 + k * cycle + 0.5, 10, cycle));
      expect(after.requests.total).toBe(k + 1);
      expect(before.requests.total).toBe(k);
      for (const res of [after, before]) {
        const q = res.requests;
        const l = res.layers[0];
        expect(l.client).toBe(true);
        expect([q.timedOut, q.failed, q.succeeded, q.rejected, q.inFlight]).toEqual([q.total, q.total, 0, 0, 0]);
        expect([l.deadlines, l.failed, l.overflows]).toEqual([q.total, q.total, 0]);
        expect(res.conservation).toEqual({ issued: q.total, succeeded: 0, failed: q.total, inFlight: 0 });
      }
      if (!c.child) expectProbesAtRest();
    });
  }

  it('the attempts a deadline cancels are released: their late answers change nothing (the slow service case counts 3 attempts per request)', () => {
    const res = run(load(yamlOf(cases[2], 0.5)), 4);
    const l = clientLayer(res);
    expect([l.attempts, l.hedges, l.hedgesWon]).toEqual([3 * l.calls, 2 * l.calls, 0]);
    // The slow instances served every attempt (the server side does not know the caller gave up).
    expect(res.instances.reduce((a, i) => a + i.served, 0)).toBe(3 * l.calls);
    // The breaker of 3 was full at every deadline and empty again for the next request.
    expect(probes.breakers.map((b) => b.peak)).toEqual([3]);
    expectProbesAtRest();
  });
});

describe('no healthy upstream for a retry or hedge', () => {
  // One instance, outlier detection ejecting it at its first 5xx (504 for a timeout), no
  // panic routing: once it is out, the sidecar has no healthy endpoint. One call, at 0 ms.
  const alone = (failover: string, faults: readonly string[]): RunResult =>
    run(
      graph({
        duration: 40,
        drain: 2000,
        services: { s: { instances: 1, serviceTime: constant(5) } },
        target: 's',
        arrival: constantRate(25),
        balancer: 'round-robin, panicThreshold: 0%',
        failover: `{ timeout: 1s, ${failover}, outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 100% } }`,
        faults,
      }),
      1,
    );

  it('a hedge that finds none ends the call with 503 at once, its first attempt cancelled (Envoy: doRetry → sendNoHealthyUpstreamResponse)', () => {
    // The attempt takes 200 ms; its per-try timeout at 50 ms goes to outlier detection (504),
    // which ejects the instance; the hedge admitted then has nowhere to go: the call's answer
    // is the sidecar's 503 at 50 ms, not the first attempt's 200 at 200 ms.
    const res = alone('perTryTimeout: 50ms, retries: { max: 1, on: [5xx], backoff: { base: 1ms } }, hedge: { onPerTryTimeout: true }', [
      '{ kind: slow, target: { service: s }, at: 0ms, factor: 40 }',
    ]);
    const l = clientLayer(res);
    expect([l.calls, l.succeeded, l.failed, l.attempts, l.hedges, l.noEndpoint, res.requests.rejected]).toEqual([1, 0, 1, 1, 1, 1, 1]);
    expect(res.failover.ejections).toBe(1);
    expectProbesAtRest();
  });

  it('a retry that finds none ends the call with 503 at once, though a hedge is still out', () => {
    // The first attempt (sent at 0 ms, slow: 200 ms) will answer 200 at 200 ms. The hedge at
    // 10 ms meets a fast-failing instance: 503 at once, the instance is ejected, and the retry
    // of that 503 finds no healthy endpoint: 503 for the call at 10 ms.
    const res = alone('retries: { max: 2, on: [5xx], backoff: { base: 1ms } }, hedge: { delay: 10ms }', [
      '{ kind: slow, target: { service: s }, at: 0ms, for: 5ms, factor: 40 }',
      '{ kind: error, target: { service: s }, at: 5ms, for: 15ms, fast: true }',
    ]);
    const l = clientLayer(res);
    expect([l.calls, l.succeeded, l.failed, l.attempts, l.hedges, l.retries, l.noEndpoint, res.requests.rejected]).toEqual([1, 0, 1, 2, 1, 1, 1, 1]);
    expect(res.failover.ejections).toBe(1);
    expectProbesAtRest();
  });
});

describe('circuit breaker (maxRequests)', () => {
  // Closed loop, 20 clients, think 1 ms, constant 50 ms service, no network time. An
  // overflow is answered at once and the client polls again 1 ms later, so every slot the
  // breaker frees is taken again within 1 ms.
  const N = 4;
  const S = 50;
  const duration = 5000;
  const breakerRun = (sidecars: number, concurrency: number): RunResult =>
    run(
      graph({
        duration,
        services: { s: { instances: 1, concurrency, queue: 0, serviceTime: constant(S) } },
        target: 's',
        sidecars,
        arrival: closed(20, 1),
        failover: `{ circuitBreaker: { maxRequests: ${N} } }`,
      }),
      8,
    );

  for (const sidecars of [1, 2]) {
    it(`${sidecars} sidecar(s): never more than ${N} active requests each; overflows answered at once as 503 and counted`, () => {
      const cap = sidecars * N;
      // The instance has exactly `cap` slots and no queue: had the breakers admitted more, it would have refused some.
      const res = breakerRun(sidecars, cap);
      const q = res.requests;
      const l = clientLayer(res);
      expect(res.instances[0].served).toBe(res.instances[0].requests);
      expect(l.overflows).toBeGreaterThan(0);
      expect([q.rejected, res.failover.breakerOverflows]).toEqual([l.overflows, l.overflows]);
      expect(q.succeeded + q.rejected).toBe(q.total);
      expect(l.attempts).toBe(q.succeeded);
      // Slot time: each success holds a slot S ms, all slots ≤ cap: successes ≤ cap (duration + S) / S.
      // Every slot is refilled within 1 ms: successes ≥ cap (⌊(duration − 1)/(S + 1)⌋ + 1).
      expect(q.succeeded).toBeLessThanOrEqual((cap * (duration + S)) / S);
      expect(q.succeeded).toBeGreaterThanOrEqual(cap * (Math.floor((duration - 1) / (S + 1)) + 1));
      expect(probes.breakers).toHaveLength(sidecars);
      for (const b of probes.breakers) expect(b.peak).toBe(N);
      expectProbesAtRest();
    });
  }

  it(`the breakers do admit ${N} each: an instance with one slot fewer refuses some`, () => {
    const res = breakerRun(1, N - 1);
    expect(res.requests.rejected).toBeGreaterThan(clientLayer(res).overflows);
    expect(res.instances[0].served).toBeLessThan(res.instances[0].requests);
  });

  it('maxRequests 0: every request overflows at once (no network time, no retry even on 5xx)', () => {
    // 1 client, think 1 ms, 5 ms network hops that an overflow never takes: one request per ms.
    const s = graph({
      duration: 1000,
      services: { s: { instances: 1, serviceTime: constant(5) } },
      target: 's',
      arrival: closed(1, 1),
      latency: constant(5),
      failover: '{ retries: { max: 3, on: [5xx, reset] }, circuitBreaker: { maxRequests: 0 } }',
    });
    const res = run(s, 1);
    const l = clientLayer(res);
    expect(res.requests.total).toBe(closedIssues(1000, 1, 1));
    expect([res.requests.rejected, l.overflows, l.attempts, l.retries, l.failed]).toEqual([res.requests.total, res.requests.total, 0, 0, res.requests.total]);
    expectProbesAtRest();
  });
});

describe('Envoy retry budget under a retry storm', () => {
  // Every response is a 503 after a constant 20 ms of work; Poisson 2000/s for 5 s; retries
  // max 3 on 5xx. Without a budget every request makes exactly 3 retries. With Envoy's budget
  // (20%, min 3) a retry starts only while active retries < max(⌊0.2 × active attempts⌋, 3):
  // with O first attempts and R retries active, R ≤ 0.2 (O + R), so R ≤ O / 4 (or 3). O is
  // Poisson with mean λS = 40 (sd 6.3), and a retry stays active at least its 20 ms attempt,
  // so retries per request ≤ (R / 20 ms) / λ ≈ (O / 4) / 40 = 1/4, below 0.4 even with O at
  // its mean + 5 sd: far below 3. And at least the 3 retries the budget always allows are
  // busy: each is active at most its backoff (< 100 ms) + 20 ms, so retries per request ≥
  // (3 / 120 ms) / λ = 0.0125.
  const storm = (budget: string): Scenario =>
    graph({
      duration: 5000,
      services: { s: { instances: 4, serviceTime: constant(20) } },
      target: 's',
      arrival: poisson(2000),
      failover: `{ retries: { max: 3, on: [5xx]${budget} } }`,
      faults: ['{ kind: error, target: { service: s }, at: 0ms }'],
    });

  it('unbudgeted: exactly 3 retries per request', () => {
    const l = clientLayer(run(storm(''), 6));
    expect([l.retries, l.attempts, l.failed]).toEqual([3 * l.calls, 4 * l.calls, l.calls]);
  });

  for (const form of ['budget: { kind: envoy-budget, budgetPercent: 20%, minRetryConcurrency: 3 }', 'budget: { percent: 20%, minConcurrency: 3 }']) {
    it(`${form}: never more concurrent retries than the budget allows; retries per request between 0.0125 and 0.4`, () => {
      const res = run(storm(`, ${form}`), 6);
      const l = clientLayer(res);
      expect(probes.limiters.map((p) => p.kind)).toEqual(['envoy-budget']);
      expectProbesAtRest();
      // A call asks again only while it has retries left, and a denial ends it: 0 < denials ≤ calls.
      expect(l.budgetDenied).toBeGreaterThan(0);
      expect(l.budgetDenied).toBeLessThanOrEqual(l.calls);
      expect(res.failover.retryBudgetDenied).toBe(l.budgetDenied);
      expect(l.retries / l.calls).toBeLessThan(0.4);
      expect(l.retries / l.calls).toBeGreaterThan(0.0125);
      // Every retry sent was admitted by the budget, every attempt started through it.
      const [p] = probes.limiters;
      expect([p.admitted, p.started, p.issued, p.denied]).toEqual([l.retries, l.attempts, l.calls, l.budgetDenied]);
    });
  }
});

describe("Envoy retry budget and the connection pool's waiting attempts", () => {
  it('attempts waiting for a connection count in the budget (active + pending requests): with two clients, every other call is retried', () => {
    // One instance answering 503 after 10 ms, a breaker with maxConnections 1 (one attempt
    // on a connection, the others wait), two closed-loop clients (1 ms think), retries max 1
    // on 5xx with a zero backoff, budget 50% with no minimum. At every retry decision one
    // attempt has just failed (still active) and one waits: allowance ⌊0.5 × 2⌋ = 1. The first
    // failure takes it; the other client's failure finds it taken (denied, that call ends);
    // the retry's failure gives it back (retries.max spent, the call ends); the next failure
    // takes it again. So calls = 2 × retries = 2 × denials. Counting only the attempt on the
    // connection, the allowance would be ⌊0.5 × 1⌋ = 0: no retry at all.
    const res = run(
      graph({
        duration: 1000,
        services: { s: { instances: 1, serviceTime: constant(10) } },
        target: 's',
        arrival: closed(2, 1),
        failover: '{ retries: { max: 1, on: [5xx], backoff: { base: 1ms }, budget: { kind: envoy-budget, budgetPercent: 50%, minRetryConcurrency: 0 } }, circuitBreaker: { maxConnections: 1 } }',
        faults: ['{ kind: error, target: { service: s }, at: 0ms }'],
      }),
      1,
    );
    const l = clientLayer(res);
    expect(l.retries).toBeGreaterThanOrEqual(30); // one per 30 ms (three 10 ms attempts)
    expect([l.calls, l.budgetDenied, l.attempts]).toEqual([2 * l.retries, l.retries, 3 * l.retries]);
    expectProbesAtRest();
  });
});

describe('adaptive throttling with retries: requests and accepts both count calls', () => {
  it('a call whose retry is refused for overload is no accept, even though its first attempt was answered', () => {
    // Two instances, round robin: instance 0 answers 500 (an answer: the backend took the
    // request), instance 1 answers 503 (an overload refusal). Retries max 1 on 5xx with a zero
    // backoff, constant 50/s (20 ms apart, each call over in 10 ms): every call sent tries 0,
    // then 1, and ends with the 503. Counting per call, as the book and Envoy's
    // admission_control do, no call is an accept: the k-th call is rejected with probability
    // (k − 1)/k (window 2 min > the run), so the calls admitted are a sum of independent
    // Bernoulli(1/k), mean H_n ≈ 8.6 for n = 3000, variance H_n − Σ1/k² ≈ 7.0: at most
    // 8.6 + 5 × 2.65 ≈ 22. Counting the 500s as accepts (one per call sent) would keep the
    // probability at 0: nothing throttled.
    const res = run(
      graph({
        duration: 60_000,
        services: { s: { instances: 2, serviceTime: constant(5) } },
        target: 's',
        arrival: constantRate(50),
        failover: '{ retries: { max: 1, on: [5xx], backoff: { base: 1ms } }, adaptiveThrottling: {} }',
        faults: ['{ kind: error, target: { service: s, instances: [0] }, at: 0ms, status: 500 }', '{ kind: error, target: { service: s, instances: [1] }, at: 0ms, status: 503 }'],
      }),
      1,
    );
    const l = clientLayer(res);
    const admitted = l.calls - l.throttled;
    expect(l.calls).toBe(3000); // at 0, 20, … 59 980 ms
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(22);
    expect([l.attempts, l.retries, l.failed]).toEqual([2 * admitted, admitted, l.calls]);
  });
});

describe('Finagle and Linkerd token budgets under a retry storm', () => {
  // Half of all responses are 503s (an error fault at rate 50% on every instance), Poisson
  // 1000/s for 20 s, retries max 3 on 5xx: unbudgeted, about 0.5 + 0.25 + 0.125 retries per
  // request (~17,500). With retryRatio 25% a retry withdraws 4 deposits, and the reserve is
  // minRetriesPerSecond 10 × ttl 10 s × 4 = 400 tokens (100 retries). D = deposits: Linkerd
  // deposits once per attempt result that is not a retriable failure, Finagle once per
  // request. Demand far exceeds supply, so the budget binds: the window's balance sits at
  // −400, every token is spent as soon as it is there, and retries = (D + 400) / 4 plus what
  // the window's expiry frees: when a slot leaves the window its net (deposits − 4 retries,
  // ≈ −400 × slot/window) leaves with it, so the deficit refills by 100 retries per window
  // length w, from the first expiry on: 100 (T − w) / w more. Dense traffic advances the
  // window on every call: Finagle keeps 9 slices of 1 s + the running one (w 9–10 s: 100–122);
  // tower commits the running slot and also clears the next one at each advance, so only
  // every other slot holds data (w 5–6 s: 233–300). ±10 for the tokens not yet spent when
  // the run ends and the slice boundaries.
  const T = 20;
  const storm = (kind: string): Scenario =>
    graph({
      duration: T * 1000,
      services: { s: { instances: 4, serviceTime: constant(5) } },
      target: 's',
      arrival: poisson(1000),
      failover: `{ retries: { max: 3, on: [5xx], budget: { kind: ${kind}, retryRatio: 0.25, minRetriesPerSecond: 10, ttl: 10s } } }`,
      faults: ['{ kind: error, rate: 50%, target: { service: s }, at: 0ms }'],
    });
  const refill = (w: number): number => (100 * (T - w)) / w;

  for (const [kind, wMin, wMax] of [
    ['linkerd', 5, 6],
    ['finagle', 9, 10],
  ] as const) {
    it(`${kind}: retries = (deposits + reserve) / 4 + the reserve's refill over a ${wMin}–${wMax} s window`, () => {
      for (const seed of [3, 4]) {
        const l = clientLayer(run(storm(kind), seed));
        expectProbesAtRest();
        const [p] = probes.limiters;
        expect(p.kind).toBe(kind);
        expect(p.admitted).toBe(l.retries);
        const deposits = kind === 'linkerd' ? p.nonRetriable : p.issued;
        const extra = l.retries - (deposits + 400) / 4;
        expect(extra, `seed ${seed}: ${l.retries} retries, ${deposits} deposits`).toBeGreaterThanOrEqual(refill(wMax) - 10);
        expect(extra, `seed ${seed}: ${l.retries} retries, ${deposits} deposits`).toBeLessThanOrEqual(refill(wMin) + 10);
        // The budget bound: far below the unbudgeted ~0.875 retries per request.
        expect(l.retries / l.calls).toBeLessThan(0.3);
        expect(l.budgetDenied).toBeGreaterThan(l.retries);
      }
    });
  }
});

// ---- Property tests -----------------------------------------------------------------------------

interface RandomFailover {
  readonly timeout: number;
  readonly perTry: number | undefined;
  readonly retries: { readonly max: number; readonly on: readonly string[]; readonly budget: string | undefined; readonly reselect: boolean } | undefined;
  readonly hedge: { readonly delay: number | undefined; readonly maxAttempts: number; readonly onPerTry: boolean } | undefined;
  readonly breaker: number | undefined;
}

const BUDGETS = [
  '{ kind: envoy-budget, budgetPercent: 20%, minRetryConcurrency: 3 }',
  '{ percent: 50%, minConcurrency: 1 }',
  '{ kind: linkerd }',
  '{ kind: linkerd, retryRatio: 0.5, minRetriesPerSecond: 2, ttl: 2s }',
  '{ kind: grpc-throttling }',
  '{ kind: grpc-throttling, maxTokens: 4, tokenRatio: 0.5 }',
] as const;

const failoverArb: fc.Arbitrary<RandomFailover> = fc
  .record({
    timeout: fc.integer({ min: 100, max: 800 }),
    perTry: fc.option(fc.integer({ min: 20, max: 300 }), { nil: undefined }),
    retries: fc.option(
      fc.record({
        max: fc.integer({ min: 0, max: 3 }),
        on: fc.subarray(['5xx', 'gateway-error', 'reset', 'connect-failure', 'timeout', 'retriable-status-codes'], { minLength: 1 }),
        budget: fc.option(fc.constantFrom(...BUDGETS), { nil: undefined }),
        reselect: fc.boolean(),
      }),
      { nil: undefined },
    ),
    hedge: fc.option(fc.record({ delay: fc.option(fc.integer({ min: 5, max: 60 }), { nil: undefined }), maxAttempts: fc.integer({ min: 2, max: 3 }), onPerTry: fc.boolean() }), {
      nil: undefined,
      freq: 2,
    }),
    breaker: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined, freq: 2 }),
  })
  .map((f) => {
    // A hedge needs a delay or onPerTryTimeout, and onPerTryTimeout needs a per-try timeout.
    if (!f.hedge) return f;
    const onPerTry = f.hedge.onPerTry && f.perTry !== undefined;
    return { ...f, hedge: { ...f.hedge, onPerTry, delay: f.hedge.delay ?? (onPerTry ? undefined : 30) } };
  });

function failoverYaml(f: RandomFailover): string {
  const parts = [`timeout: ${f.timeout}ms`];
  if (f.perTry !== undefined) parts.push(`perTryTimeout: ${f.perTry}ms`);
  if (f.retries) {
    const on = f.retries.on.includes('retriable-status-codes') ? `[${f.retries.on.join(', ')}], retriableStatusCodes: [500, 502]` : `[${f.retries.on.join(', ')}]`;
    parts.push(
      `retries: { max: ${f.retries.max}, on: ${on}${f.retries.budget ? `, budget: ${f.retries.budget}` : ''}${f.retries.reselect ? ', hostReselection: { maxAttempts: 2 }' : ''} }`,
    );
  }
  if (f.hedge) {
    const h = [f.hedge.delay === undefined ? '' : `delay: ${f.hedge.delay}ms`, `maxAttempts: ${f.hedge.maxAttempts}`, f.hedge.onPerTry ? 'onPerTryTimeout: true' : ''].filter((x) => x);
    parts.push(`hedge: { ${h.join(', ')} }`);
  }
  if (f.breaker !== undefined) parts.push(`circuitBreaker: { maxRequests: ${f.breaker} }`);
  return `{ ${parts.join(', ')} }`;
}

interface RandomService {
  readonly instances: number;
  readonly bounded: { readonly concurrency: number; readonly queue: number } | undefined;
  readonly serviceTime: string;
  readonly call: { readonly parallel: number; readonly probability: number; readonly onFailure: 'fail' | 'tolerate' };
  readonly failover: RandomFailover | undefined;
}

interface RandomFault {
  readonly kind: 'error' | 'crash' | 'hang' | 'slow';
  readonly service: number;
  readonly instance: number | undefined;
  readonly at: number;
  readonly for: number | undefined;
  readonly rate: number;
  readonly status: number;
  readonly fast: boolean;
  readonly factor: number;
}

interface RandomWorld {
  readonly services: readonly RandomService[];
  readonly top: RandomFailover;
  readonly faults: readonly RandomFault[];
  readonly rate: number;
  readonly sidecars: number;
  readonly balancer: string;
  readonly seed: number;
}

const serviceArb: fc.Arbitrary<RandomService> = fc.record({
  instances: fc.integer({ min: 1, max: 3 }),
  bounded: fc.option(fc.record({ concurrency: fc.integer({ min: 1, max: 4 }), queue: fc.integer({ min: 0, max: 8 }) }), { nil: undefined }),
  serviceTime: fc.oneof(
    fc.integer({ min: 1, max: 5 }).map((v) => constant(v)),
    fc.integer({ min: 1, max: 4 }).map((v) => uniform(0.5, v + 0.5)),
  ),
  call: fc.record({
    parallel: fc.integer({ min: 1, max: 3 }),
    probability: fc.constantFrom(1, 0.5, 0.9),
    onFailure: fc.constantFrom('fail' as const, 'tolerate' as const),
  }),
  failover: fc.option(failoverArb, { nil: undefined, freq: 3 }),
});

const faultArb = (services: number): fc.Arbitrary<RandomFault> =>
  fc.record({
    kind: fc.constantFrom('error' as const, 'crash' as const, 'hang' as const, 'slow' as const),
    service: fc.integer({ min: 0, max: services - 1 }),
    instance: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 2 }),
    at: fc.integer({ min: 0, max: 700 }),
    for: fc.option(fc.integer({ min: 20, max: 800 }), { nil: undefined, freq: 2 }),
    rate: fc.integer({ min: 20, max: 100 }),
    status: fc.constantFrom(500, 502, 503),
    fast: fc.boolean(),
    factor: fc.integer({ min: 2, max: 10 }),
  });

const worldArb: fc.Arbitrary<RandomWorld> = fc.integer({ min: 1, max: 3 }).chain((depth) =>
  fc.record({
    services: fc.array(serviceArb, { minLength: depth, maxLength: depth }),
    top: failoverArb,
    faults: fc.array(faultArb(depth), { minLength: 1, maxLength: 3 }),
    rate: fc.integer({ min: 20, max: 100 }),
    sidecars: fc.integer({ min: 1, max: 2 }),
    balancer: fc.constantFrom('round-robin', 'random', 'least-request', 'p2c'),
    seed: fc.integer({ min: 0, max: 1000 }),
  }),
);

/** The scenario: users → s0 → s1 → … (one call entry per service), 1 s of load, 20 s drain. */
function worldYaml(w: RandomWorld): string {
  const names = w.services.map((_, i) => `s${i}`);
  const services: Record<string, ServiceOptions> = {};
  w.services.forEach((s, i) => {
    const next = i + 1 < names.length ? names[i + 1] : undefined;
    services[names[i]] = {
      instances: s.instances,
      ...(s.bounded ? { concurrency: s.bounded.concurrency, queue: s.bounded.queue } : {}),
      serviceTime: s.serviceTime,
      ...(next ? { calls: [{ service: next, ...s.call }] } : {}),
      ...(next && s.failover ? { failover: failoverYaml(s.failover) } : {}),
    };
  });
  const faults = w.faults
    .filter((f) => f.instance === undefined || f.instance < w.services[f.service].instances)
    .map((f) => {
      const target = `{ service: ${names[f.service]}${f.instance === undefined ? '' : `, instances: [${f.instance}]`} }`;
      const when = `at: ${f.at}ms${f.for === undefined ? '' : `, for: ${f.for}ms`}`;
      const extra = f.kind === 'error' ? `, rate: ${f.rate}%, status: ${f.status}, fast: ${f.fast}` : f.kind === 'slow' ? `, factor: ${f.factor}` : '';
      return `{ kind: ${f.kind}, target: ${target}, ${when}${extra} }`;
    });
  return graphYaml({
    duration: 1000,
    drain: 20_000,
    services,
    target: 's0',
    arrival: poisson(w.rate),
    sidecars: w.sidecars,
    balancer: w.balancer,
    latency: uniform(0.1, 0.5),
    failover: failoverYaml(w.top),
    faults,
  });
}

/** The failover a layer's sidecars run: the top-level one with the caller's own keys laid over it. */
function layerFailover(w: RandomWorld, l: LayerStats): RandomFailover {
  if (l.client) return w.top;
  const own = w.services[Number(l.caller.slice(1))].failover;
  if (!own) return w.top;
  // Keys merge one by one (the loader's rule); the random config gives every key or leaves it out.
  return {
    timeout: own.timeout,
    perTry: own.perTry ?? w.top.perTry,
    retries: own.retries ?? w.top.retries,
    hedge: own.hedge ?? w.top.hedge,
    breaker: own.breaker ?? w.top.breaker,
  };
}

describe('property tests over random call graphs, failover configs and fault schedules', () => {
  it('never throws; every layer ends every call exactly once; retries and hedges within max; budgets and breakers respected, nothing leaked; deterministic', () => {
    const worlds = fc.sample(worldArb, { seed: 20240604, numRuns: 150 });
    const yamls = worlds.map(worldYaml);
    // First in a child process: a world stuck in an endless loop must fail this test, not hang the file.
    const child = simulateInChild(
      worlds.map((w, i) => ({ yaml: yamls[i], seed: w.seed })),
      50_000,
    );
    expect(child.finished, `simulate() never returned (stopped after 50 s) on seed ${worlds[child.stuckAt ?? 0]?.seed} of:\n${yamls[child.stuckAt ?? 0]}`).toBe(true);
    worlds.forEach((w, i) => {
      const where = `seed ${w.seed} of:\n${yamls[i]}`;
      // (a) simulate never throws (the world checks conservation itself at the end).
      expect(child.outcomes[i].error, where).toBeUndefined();
      // Then here, with the probes on the limiters and breakers.
      const res = run(load(yamls[i]), w.seed);
      checkWorld(w, res, where);
      // (c) Determinism: the same scenario and seed give the same result, here and in the child.
      expect(resultKey(res), where).toBe(child.outcomes[i].key);
      expect(resultKey(run(load(yamls[i]), w.seed)), where).toBe(child.outcomes[i].key);
    });
  });
});

/** The properties of one random world's run (`where` names it in failures). */
function checkWorld(w: RandomWorld, res: RunResult, where: string): void {
  // (b) With a deadline at every layer and a 20 s drain, everything has ended, once.
  expect(res.requests.inFlight, where).toBe(0);
  expect(res.conservation.inFlight, where).toBe(0);
  expect(res.requests.succeeded + res.requests.failed, where).toBe(res.requests.total);
  expect(res.requests.total, where).toBe(clientLayer(res).calls);
  for (const l of res.layers) {
    const at = `${l.caller}→${l.target}, ${where}`;
    expect(l.succeeded + l.failed, at).toBe(l.calls);
    // (d) Retries and hedges of a call share its retries.max (hedges alone: maxAttempts − 1).
    const f = layerFailover(w, l);
    const maxRetries = f.retries ? f.retries.max : f.hedge ? f.hedge.maxAttempts - 1 : 0;
    expect(l.retries + l.hedges, at).toBeLessThanOrEqual(l.calls * maxRetries);
    expect(l.attempts, at).toBeLessThanOrEqual(l.calls * (1 + maxRetries));
    if (!f.retries) expect(l.retries, at).toBe(0);
    if (!f.hedge) expect(l.hedges, at).toBe(0);
    else if (!f.retries) expect(l.hedges, at).toBeLessThanOrEqual(l.calls * (f.hedge.maxAttempts - 1));
    expect(l.hedgesWon, at).toBeLessThanOrEqual(l.hedges);
    if (f.perTry === undefined) expect(l.perTryTimeouts, at).toBe(0);
    if (f.breaker === undefined) expect(l.overflows, at).toBe(0);
    expect(l.deadlines, at).toBeLessThanOrEqual(l.failed);
  }
  // Budgets: their rules held at every admission (Envoy: concurrent retries; gRPC: tokens), no
  // limiter or breaker holds anything at the end, every retry or hedge sent through a budget
  // was admitted by it, every attempt started through it, every overflow was the breaker's.
  expectProbesAtRest();
  const budgeted = res.layers.filter((l) => {
    const f = layerFailover(w, l);
    return f.retries?.budget !== undefined && f.retries.max > 0;
  });
  expect(probes.limiters.reduce((a, p) => a + p.admitted, 0), where).toBe(sumOf(budgeted, (l) => l.retries + l.hedges));
  expect(probes.limiters.reduce((a, p) => a + p.started, 0), where).toBe(sumOf(budgeted, (l) => l.attempts));
  expect(probes.limiters.reduce((a, p) => a + p.issued, 0), where).toBe(sumOf(budgeted, (l) => l.calls));
  expect(probes.breakers.reduce((a, b) => a + b.requestOverflow, 0), where).toBe(sumOf(res.layers, (l) => l.overflows));
}
