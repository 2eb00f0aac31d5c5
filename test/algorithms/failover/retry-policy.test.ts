/**
 * Retry policy: Envoy's retry-on conditions outcome by outcome, the per-request limit, the
 * closed forms for independent failures, config validation and previous-hosts reselection.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompiledRetryConditions,
  grpcStatusOf,
  grpcStatusOfHttp,
  GrpcStatus,
  pickAvoidingPreviousHosts,
  RETRY_ON,
  retryOnMatches,
  RetryPolicy,
  retryPolicyConfigSchema,
  shouldRetry,
  type RetryOn,
} from '../../../src/algorithms/failover/retry-policy.js';
import type { Outcome, OutcomeKind } from '../../../src/algorithms/types.js';
import { rngStream } from '../../../src/core/rng.js';
import { outcome, OK } from './_retry-fixtures.js';

const parse = (input: Record<string, unknown>) => retryPolicyConfigSchema.parse(input);

const R = (status: number) => outcome('error', status);
const REJECTED_503 = outcome('rejected', 503);
const RESET = outcome('reset');
const TIMEOUT = outcome('timeout');
const CONNECT = outcome('connect-failure', 503);

/** Which of these outcomes each single condition retries. */
const SAMPLES: Record<string, Outcome> = {
  ok: OK,
  404: R(404),
  409: R(409),
  429: R(429),
  499: R(499),
  500: R(500),
  502: R(502),
  rejected503: REJECTED_503,
  504: R(504),
  599: R(599),
  reset: RESET,
  timeout: TIMEOUT,
  connect: CONNECT,
  errorNoStatus: outcome('error', 0),
};

const EXPECTED: Record<RetryOn, readonly string[]> = {
  '5xx': ['500', '502', 'rejected503', '504', '599', 'reset', 'timeout', 'connect', 'errorNoStatus'],
  'gateway-error': ['502', 'rejected503', '504', 'reset', 'timeout', 'connect', 'errorNoStatus'],
  reset: ['reset', 'timeout', 'connect', 'errorNoStatus'],
  'reset-before-request': ['connect'],
  'connect-failure': ['connect'],
  timeout: ['timeout'],
  'retriable-4xx': ['409'],
  'refused-stream': [],
  'retriable-status-codes': [], // with no codes listed
  cancelled: ['499'],
  'deadline-exceeded': ['504'],
  internal: ['500'],
  'resource-exhausted': ['429'],
  unavailable: ['rejected503'],
};

describe('retry-on conditions (Envoy wouldRetryFromHeaders / wouldRetryFromReset)', () => {
  for (const name of RETRY_ON) {
    it(`${name} retries exactly ${EXPECTED[name].join(', ') || 'nothing here'}`, () => {
      const matched = Object.entries(SAMPLES)
        .filter(([, o]) => retryOnMatches(o, { on: [name] }))
        .map(([k]) => k);
      expect(matched.sort()).toEqual([...EXPECTED[name]].sort());
    });
  }

  it('retriable-status-codes retries the listed statuses only', () => {
    const c = { on: ['retriable-status-codes'] as RetryOn[], retriableStatusCodes: [503, 409] };
    expect(retryOnMatches(REJECTED_503, c)).toBe(true);
    expect(retryOnMatches(R(409), c)).toBe(true);
    expect(retryOnMatches(R(502), c)).toBe(false);
    expect(retryOnMatches(RESET, c)).toBe(false);
    // Istio's shorthand: a number in `on` is a retriable status, no flag needed.
    expect(retryOnMatches(REJECTED_503, { on: [503] })).toBe(true);
    expect(retryOnMatches(R(502), { on: [503] })).toBe(false);
  });

  it('timeout (meshsim) retries a per-try timeout and nothing else: not a reset, a connect failure or a 504', () => {
    const c = { on: ['timeout'] as RetryOn[] };
    expect(retryOnMatches(TIMEOUT, c)).toBe(true);
    expect(retryOnMatches(RESET, c)).toBe(false);
    expect(retryOnMatches(CONNECT, c)).toBe(false);
    expect(retryOnMatches(R(504), c)).toBe(false);
    expect(retryOnMatches(outcome('error', 0), c)).toBe(false);
    expect(new RetryPolicy(parse({ max: 2, on: ['timeout', 'connect-failure'] })).shouldRetry(TIMEOUT, 1)).toBe(true);
    // Envoy's spelling of the same intent still works: per-try timeouts are resets to it.
    expect(retryOnMatches(TIMEOUT, { on: ['reset'] })).toBe(true);
    expect(parse({ on: ['timeout'] }).on).toEqual(['timeout']);
  });

  it('conditions combine with OR', () => {
    const c = { on: ['connect-failure', 'retriable-4xx'] as RetryOn[] };
    expect(retryOnMatches(CONNECT, c)).toBe(true);
    expect(retryOnMatches(R(409), c)).toBe(true);
    expect(retryOnMatches(R(500), c)).toBe(false);
    expect(retryOnMatches(RESET, c)).toBe(false);
  });

  it("Istio's default set retries connect failures and 503s (via unavailable), not resets or 500s", () => {
    const istio = { on: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] as RetryOn[] };
    expect(retryOnMatches(CONNECT, istio)).toBe(true);
    expect(retryOnMatches(REJECTED_503, istio)).toBe(true);
    expect(retryOnMatches(RESET, istio)).toBe(false);
    expect(retryOnMatches(R(500), istio)).toBe(false);
  });

  it('a success is never retried by the standard conditions', () => {
    fc.assert(
      fc.property(fc.subarray([...RETRY_ON]), fc.integer({ min: 200, max: 299 }), (on, status) => !retryOnMatches(outcome('success', status), { on })),
    );
  });
});

describe('gRPC status of an outcome', () => {
  it("inverts google.rpc.Code's HTTP mapping", () => {
    expect(grpcStatusOfHttp(200)).toBe(GrpcStatus.OK);
    expect(grpcStatusOfHttp(204)).toBe(GrpcStatus.OK);
    expect(grpcStatusOfHttp(499)).toBe(GrpcStatus.CANCELLED);
    expect(grpcStatusOfHttp(504)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(grpcStatusOfHttp(500)).toBe(GrpcStatus.INTERNAL);
    expect(grpcStatusOfHttp(429)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusOfHttp(503)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusOfHttp(502)).toBe(GrpcStatus.UNKNOWN);
    expect(grpcStatusOfHttp(418)).toBe(GrpcStatus.UNKNOWN);
  });

  it('maps outcomes without a response to UNAVAILABLE or DEADLINE_EXCEEDED', () => {
    expect(grpcStatusOf(CONNECT)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusOf(RESET)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusOf(TIMEOUT)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(grpcStatusOf(REJECTED_503)).toBe(GrpcStatus.UNAVAILABLE);
  });
});

describe('shouldRetry', () => {
  const cfg = parse({ max: 2, on: ['5xx'] });

  it('allows a retry while the attempt index (retries made so far) is below max', () => {
    expect(shouldRetry(R(500), 0, cfg)).toBe(true);
    expect(shouldRetry(R(500), 1, cfg)).toBe(true);
    expect(shouldRetry(R(500), 2, cfg)).toBe(false);
    expect(shouldRetry(OK, 0, cfg)).toBe(false);
    expect(shouldRetry(R(404), 0, cfg)).toBe(false);
  });

  it('max 0 never retries; the default max is 1 (Envoy num_retries)', () => {
    expect(shouldRetry(R(500), 0, parse({ max: 0, on: ['5xx'] }))).toBe(false);
    const d = parse({ on: ['5xx'] });
    expect(d.max).toBe(1);
    expect(shouldRetry(R(500), 0, d)).toBe(true);
    expect(shouldRetry(R(500), 1, d)).toBe(false);
  });

  it('RetryPolicy (compiled once) decides exactly as the pure function', () => {
    const kinds: OutcomeKind[] = ['success', 'error', 'timeout', 'reset', 'connect-failure', 'rejected'];
    fc.assert(
      fc.property(
        fc.subarray([...RETRY_ON], { minLength: 1 }),
        fc.subarray([409, 429, 500, 502, 503, 504]),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(...kinds),
        fc.constantFrom(0, 200, 404, 409, 429, 499, 500, 502, 503, 504),
        fc.integer({ min: 0, max: 5 }),
        (on, codes, max, kind, status, attempt) => {
          const config = parse({ max, on: codes.length > 0 ? [...on, 'retriable-status-codes'] : on, ...(codes.length > 0 ? { retriableStatusCodes: codes } : {}) });
          const o = outcome(kind, status);
          expect(new RetryPolicy(config).shouldRetry(o, attempt)).toBe(shouldRetry(o, attempt, config));
          expect(new CompiledRetryConditions(config).matches(o)).toBe(retryOnMatches(o, config));
        },
      ),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe('closed forms: independent failures with probability p and r retries, no budget', () => {
  // Each attempt fails (503) with probability p, independently. With r retries a request
  // succeeds with probability q = 1 − p^(r+1) and makes A = min(G, r+1) attempts, G
  // geometric on {1, 2, …} with success 1 − p: E[A] = (1 − p^(r+1)) / (1 − p), and
  // Var[A] = Σ k² P(A = k) − E[A]², P(A = k) = p^(k−1)(1 − p) for k ≤ r, P(A = r+1) = p^r.
  // Tolerances: 4.5 standard errors over N requests (a false alarm ≈ 7e-6 per check; the
  // seed is fixed, so the test is deterministic anyway).
  const N = 100_000;
  for (const [p, r] of [
    [0.3, 2],
    [0.5, 1],
    [0.1, 3],
    [0.9, 4],
    [0.5, 0],
  ] as const) {
    it(`p = ${p}, r = ${r}`, () => {
      const config = parse({ max: r, on: ['5xx'] });
      const rng = rngStream(42, `closed-form/${p}/${r}`);
      const FAIL = REJECTED_503;
      let successes = 0;
      let attempts = 0;
      for (let i = 0; i < N; i++) {
        for (let attempt = 0; ; attempt++) {
          attempts++;
          const o = rng.next() < p ? FAIL : OK;
          if (o === OK) {
            successes++;
            break;
          }
          if (!shouldRetry(o, attempt, config)) break;
        }
      }
      const q = 1 - p ** (r + 1);
      const meanA = q / (1 - p);
      let m2 = 0;
      for (let k = 1; k <= r; k++) m2 += k * k * p ** (k - 1) * (1 - p);
      m2 += (r + 1) ** 2 * p ** r;
      const varA = m2 - meanA ** 2;
      expect(Math.abs(successes / N - q)).toBeLessThan(4.5 * Math.sqrt((q * (1 - q)) / N) + 1e-12);
      expect(Math.abs(attempts / N - meanA)).toBeLessThan(4.5 * Math.sqrt(varA / N) + 1e-12);
    });
  }
});

describe('config', () => {
  it("has Envoy's defaults: 1 retry, backoff 25 ms base (max 10 × base), no budget, no reselection", () => {
    expect(parse({ on: ['5xx'] })).toEqual({ max: 1, on: ['5xx'], backoff: { kind: 'envoy', base: 25 } });
  });

  it('takes the scenario form with units', () => {
    const c = parse({
      max: 2,
      on: ['5xx', 'connect-failure', 503],
      perTryTimeout: '500ms',
      backoff: { base: '10ms', max: '1s' },
      budget: { kind: 'envoy-budget', budgetPercent: '25%' },
      hostReselection: { maxAttempts: 5 },
    });
    expect(c).toEqual({
      max: 2,
      on: ['5xx', 'connect-failure', 503],
      perTryTimeout: 500,
      backoff: { kind: 'envoy', base: 10, max: 1000 },
      budget: { kind: 'envoy-budget', budgetPercent: 0.25, minRetryConcurrency: 3 },
      hostReselection: { predicate: 'previous-hosts', maxAttempts: 5 },
    });
    expect(parse({ on: ['5xx'], backoff: { kind: 'grpc', initial: '100ms', max: '1s', multiplier: 2 } }).backoff).toEqual({ kind: 'grpc', initial: 100, max: 1000, multiplier: 2 });
    // Host reselection makes at most 1,000 extra picks a retry (a slip is an error, not a retry that re-picks forever).
    expect(parse({ on: ['5xx'], hostReselection: { maxAttempts: 1000 } }).hostReselection?.maxAttempts).toBe(1000);
    const big = retryPolicyConfigSchema.safeParse({ on: ['5xx'], hostReselection: { maxAttempts: 1e9 } });
    expect(big.success).toBe(false);
    expect(big.error?.issues[0]).toMatchObject({ path: ['hostReselection', 'maxAttempts'], message: 'expected a whole number from 0 to 1000 (each is one more pick per retry); got 1000000000' });
  });

  it('prints back what it read (encode)', () => {
    const c = parse({ max: 2, on: ['5xx', 503], backoff: { base: '10ms' }, budget: { kind: 'linkerd', ttl: '5s' } });
    expect(retryPolicyConfigSchema.encode(c)).toEqual({
      max: 2,
      on: ['5xx', 503],
      backoff: { kind: 'envoy', base: '10ms' },
      budget: { kind: 'linkerd', retryRatio: 0.2, minRetriesPerSecond: 10, ttl: '5s' },
    });
  });

  it('rejects what Envoy would silently ignore or misread', () => {
    const bad = (input: Record<string, unknown>) => retryPolicyConfigSchema.safeParse(input).success;
    expect(bad({})).toBe(false); // no conditions
    expect(bad({ on: [] })).toBe(false);
    expect(bad({ on: ['5XX'] })).toBe(false);
    expect(bad({ on: ['envoy-ratelimited'] })).toBe(false);
    expect(bad({ on: [700] })).toBe(false);
    expect(bad({ on: ['5xx'], retriableStatusCodes: [503] })).toBe(false); // flag missing
    expect(bad({ on: ['retriable-status-codes'], retriableStatusCodes: [503] })).toBe(true);
    expect(bad({ on: ['5xx'], max: -1 })).toBe(false);
    expect(bad({ on: ['5xx'], max: 1.5 })).toBe(false);
    expect(bad({ on: ['5xx'], perTryTimeout: '0s' })).toBe(false);
    expect(bad({ on: ['5xx'], backoff: { base: '100ms', max: '50ms' } })).toBe(false);
    expect(bad({ on: ['5xx'], backoff: { base: 25 } })).toBe(false); // a unit is required
    expect(bad({ on: ['5xx'], budget: { kind: 'istio' } })).toBe(false);
    expect(bad({ on: ['5xx'], attempts: 2 })).toBe(false);
  });
});

describe('pickAvoidingPreviousHosts (Envoy previous_hosts + host_selection_retry_max_attempts)', () => {
  const scripted = (picks: number[]) => {
    let i = 0;
    return { calls: () => i, pick: () => picks[Math.min(i++, picks.length - 1)] };
  };

  it('returns the first pick not tried yet', () => {
    const b = scripted([2, 2, 3]);
    expect(pickAvoidingPreviousHosts(b, {}, [2], 1, 5)).toBe(3);
    expect(b.calls()).toBe(3);
  });

  it('gives up after 1 + maxAttempts picks and routes to the last one', () => {
    const b = scripted([2, 1, 2, 0]);
    expect(pickAvoidingPreviousHosts(b, {}, Int32Array.of(1, 2, 9), 2, 2)).toBe(2);
    expect(b.calls()).toBe(3);
    const once = scripted([1, 0]);
    expect(pickAvoidingPreviousHosts(once, {}, [1], 1, 0)).toBe(1);
    expect(once.calls()).toBe(1);
  });

  it('only looks at the first triedCount entries, and returns -1 at once', () => {
    expect(pickAvoidingPreviousHosts(scripted([4]), {}, [1, 4], 1, 3)).toBe(4);
    const none = scripted([-1, 0]);
    expect(pickAvoidingPreviousHosts(none, {}, [], 0, 3)).toBe(-1);
    expect(none.calls()).toBe(1);
  });

  it('with a uniform random balancer, avoids the tried hosts with the expected probability', () => {
    // n = 4 hosts, 2 tried, maxAttempts 1: P(pick is a tried host) = (2/4)^2 = 1/4.
    // N = 40 000: sd = √(N·¼·¾) ≈ 86.6; tolerance 4.5 sd ≈ 390.
    const rng = rngStream(3, 'reselection');
    const balancer = { pick: () => Math.floor(rng.next() * 4) };
    let repeats = 0;
    const N = 40_000;
    for (let i = 0; i < N; i++) if (pickAvoidingPreviousHosts(balancer, {}, [0, 1], 2, 1) < 2) repeats++;
    expect(Math.abs(repeats - N / 4)).toBeLessThan(390);
  });
});
