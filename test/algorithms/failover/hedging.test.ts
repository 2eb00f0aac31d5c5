/**
 * Hedging: the pure decisions (Envoy's per-try-timeout hedging and attempt-end handling,
 * gRPC A6's schedule and reactions), and a small Envoy request driver in virtual time that
 * composes them with the retry policy, backoff and budget, the way a pipeline would.
 */
import { describe, expect, it } from 'vitest';
import { EnvoyBackoff } from '../../../src/algorithms/failover/backoff.js';
import {
  envoyAttemptEndAction,
  grpcHedgeAction,
  grpcHedgingConfigSchema,
  grpcNonFatalCodes,
  grpcStatusCode,
  hedgeDelays,
  hedgingConfigSchema,
  startHedgeOnPerTryTimeout,
} from '../../../src/algorithms/failover/hedging.js';
import { EnvoyRetryBudget } from '../../../src/algorithms/failover/retry-budget-envoy.js';
import { retryDecision, UNLIMITED_RETRIES, type RetryLimiter } from '../../../src/algorithms/failover/retry-limiter.js';
import { GrpcStatus, hasResponse, RetryPolicy, retryPolicyConfigSchema } from '../../../src/algorithms/failover/retry-policy.js';
import type { Outcome } from '../../../src/algorithms/types.js';
import type { TimerHandle } from '../../../src/core/ports.js';
import { OK, outcome, scriptedRng, virtualTime } from './_retry-fixtures.js';

describe('config', () => {
  it('defaults to Envoy with hedging off', () => {
    expect(hedgingConfigSchema.parse({})).toEqual({ kind: 'envoy', hedgeOnPerTryTimeout: false });
    const on = hedgingConfigSchema.parse({ hedgeOnPerTryTimeout: true });
    expect(on.kind === 'envoy' && startHedgeOnPerTryTimeout(on)).toBe(true);
  });

  it('reads an A6 hedgingPolicy', () => {
    const c = grpcHedgingConfigSchema.parse({ kind: 'grpc', maxAttempts: 4, delay: '500ms', nonFatalStatusCodes: ['UNAVAILABLE', 'INTERNAL', 10] });
    expect(c).toEqual({ kind: 'grpc', maxAttempts: 4, delay: 500, nonFatalStatusCodes: ['UNAVAILABLE', 'INTERNAL', 10] });
    expect([...grpcNonFatalCodes(c)].sort((a, b) => a - b)).toEqual([GrpcStatus.ABORTED, GrpcStatus.INTERNAL, GrpcStatus.UNAVAILABLE]);
    expect(grpcHedgingConfigSchema.parse({ kind: 'grpc', maxAttempts: 2 })).toEqual({ kind: 'grpc', maxAttempts: 2, delay: 0, nonFatalStatusCodes: [] });
    expect(grpcHedgingConfigSchema.safeParse({ kind: 'grpc', maxAttempts: 1 }).success).toBe(false);
    expect(grpcHedgingConfigSchema.safeParse({ kind: 'grpc' }).success).toBe(false); // maxAttempts is required in A6
    expect(grpcHedgingConfigSchema.safeParse({ kind: 'grpc', maxAttempts: 3, nonFatalStatusCodes: ['unavailable'] }).success).toBe(false);
    expect(grpcStatusCode('UNAUTHENTICATED')).toBe(16);
  });
});

describe('gRPC A6 hedging decisions', () => {
  it('sends an attempt every hedgingDelay, at most 5', () => {
    expect(hedgeDelays({ maxAttempts: 4, delay: 500 })).toEqual([0, 500, 1000, 1500]);
    expect(hedgeDelays({ maxAttempts: 9, delay: 10 })).toEqual([0, 10, 20, 30, 40]);
    expect(hedgeDelays({ maxAttempts: 3, delay: 0 })).toEqual([0, 0, 0]);
  });

  it('commits on OK or a fatal status, hurries the next hedge on a non-fatal one', () => {
    const nonFatal = new Set<number>([GrpcStatus.UNAVAILABLE]);
    expect(grpcHedgeAction(GrpcStatus.OK, nonFatal, 1, 3, 0)).toBe('commit');
    expect(grpcHedgeAction(GrpcStatus.INTERNAL, nonFatal, 1, 3, 2)).toBe('commit'); // fatal: cancel the others
    expect(grpcHedgeAction(GrpcStatus.UNAVAILABLE, nonFatal, 1, 3, 0)).toBe('send-next-now');
    expect(grpcHedgeAction(GrpcStatus.UNAVAILABLE, nonFatal, 3, 3, 1)).toBe('wait'); // none left to send
    expect(grpcHedgeAction(GrpcStatus.UNAVAILABLE, nonFatal, 3, 3, 0)).toBe('commit'); // all failed
    expect(grpcHedgeAction(GrpcStatus.UNAVAILABLE, nonFatal, 5, 8, 0)).toBe('commit'); // maxAttempts capped at 5
  });
});

describe('Envoy attempt-end decisions', () => {
  it('a non-retriable response wins at once', () => {
    for (const hedged of [false, true]) for (const others of [0, 2]) expect(envoyAttemptEndAction(true, false, hedged, false, others)).toBe('final');
  });

  it('a retriable end is retried when admitted, unless its attempt was already hedged', () => {
    expect(envoyAttemptEndAction(true, true, false, true, 1)).toBe('retry');
    expect(envoyAttemptEndAction(false, true, false, true, 0)).toBe('retry');
  });

  it('otherwise waits for the outstanding attempts, or returns the result when none is left', () => {
    expect(envoyAttemptEndAction(true, true, true, false, 1)).toBe('discard'); // hedged attempt got a 5xx
    expect(envoyAttemptEndAction(true, true, true, false, 0)).toBe('final');
    expect(envoyAttemptEndAction(true, true, false, false, 1)).toBe('discard'); // retry refused (limit, budget)
    expect(envoyAttemptEndAction(true, true, false, false, 0)).toBe('final');
    expect(envoyAttemptEndAction(false, false, false, false, 1)).toBe('discard'); // a reset, even a non-retriable one
    expect(envoyAttemptEndAction(false, false, false, false, 0)).toBe('final');
  });
});

/** One request through Envoy's router logic, attempts scripted by (latency, outcome). */
function runEnvoyRequest(plan: readonly { latency: number; outcome: Outcome }[], options: { hedge: boolean; max: number; perTryTimeout: number; limiter: RetryLimiter }) {
  const t = virtualTime();
  const { engine } = t;
  const policy = new RetryPolicy(retryPolicyConfigSchema.parse({ max: options.max, on: ['5xx'] }));
  const backoff = new EnvoyBackoff(scriptedRng([0])); // zero delays: times stay readable
  const limiter = options.limiter;
  interface Attempt {
    readonly index: number;
    hedged: boolean;
    timers: TimerHandle[];
  }
  const live = new Set<Attempt>();
  let sent = 0;
  let retries = 0;
  let pendingRetries = 0;
  /** The request holds the retry its last decision admitted (Envoy: one at most). */
  let holds = false;
  let final: { outcome: Outcome; at: number; attempt: number } | undefined;

  const send = () => {
    const a: Attempt = { index: sent, hedged: false, timers: [] };
    const step = plan[sent++];
    limiter.onAttemptStart();
    live.add(a);
    a.timers.push(engine.schedule(options.perTryTimeout, () => onPerTryTimeout(a)));
    a.timers.push(engine.schedule(step.latency, () => onEnd(a, step.outcome)));
  };
  const scheduleRetry = () => {
    pendingRetries++;
    engine.schedule(backoff.next(), () => {
      pendingRetries--;
      if (!final) send(); // else abandoned during its backoff (given back with the request)
    });
  };
  const release = (a: Attempt) => {
    for (const h of a.timers) engine.cancel(h);
    live.delete(a);
  };
  const onPerTryTimeout = (a: Attempt) => {
    if (startHedgeOnPerTryTimeout({ kind: 'envoy', hedgeOnPerTryTimeout: options.hedge })) {
      // A retry decision: the retry held is given back first (resetRetry); asking spends one
      // of the request's retries, admitted or not. Only an admitted hedge marks the attempt
      // (upstream_request.retried(true)).
      const wants = retries < policy.max;
      if (wants) retries++;
      holds = retryDecision(limiter, holds, wants);
      if (holds) {
        a.hedged = true;
        scheduleRetry();
      }
    } else {
      onEnd(a, outcome('timeout'));
    }
  };
  const onEnd = (a: Attempt, o: Outcome) => {
    release(a);
    const retriable = policy.matches(o);
    limiter.onAttemptResult(retriable);
    let admitted = false;
    if (!a.hedged) {
      // The end of an attempt that was not hedged is a retry decision; a hedged one decides nothing.
      const wants = retriable && policy.shouldRetry(o, retries);
      if (wants) retries++;
      admitted = retryDecision(limiter, holds, wants);
      holds = admitted;
    }
    limiter.onAttemptEnd();
    const action = envoyAttemptEndAction(hasResponse(o), retriable, a.hedged, admitted, live.size + pendingRetries);
    if (action === 'retry') scheduleRetry();
    if (action !== 'final') return;
    final = { outcome: o, at: engine.now(), attempt: a.index };
    for (const other of [...live]) {
      release(other); // cancelled: no result
      limiter.onAttemptEnd();
    }
    if (holds) limiter.onRetryEnd();
    limiter.onRequestEnd(o.kind === 'success');
  };

  limiter.onRequest();
  send();
  engine.run();
  return { final: final!, sent };
}

describe('an Envoy request with hedge_on_per_try_timeout, in virtual time', () => {
  const E503 = outcome('rejected', 503);
  const idle = (b: EnvoyRetryBudget) => [b.activeRequests, b.activeRetries];

  it('a hedge started at the per-try timeout wins when the first attempt is slow', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    const r = runEnvoyRequest(
      [
        { latency: 300, outcome: OK },
        { latency: 50, outcome: OK },
      ],
      { hedge: true, max: 1, perTryTimeout: 100, limiter: b },
    );
    expect(r.final).toEqual({ outcome: OK, at: 150, attempt: 1 });
    expect(idle(b)).toEqual([0, 0]);
  });

  it('without hedging the slow attempt is cancelled at its per-try timeout and retried', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    const r = runEnvoyRequest(
      [
        { latency: 300, outcome: OK },
        { latency: 50, outcome: OK },
      ],
      { hedge: false, max: 1, perTryTimeout: 100, limiter: b },
    );
    expect(r.final).toEqual({ outcome: OK, at: 150, attempt: 1 });
    expect(idle(b)).toEqual([0, 0]);
  });

  it('the first good response wins even while a retry of a failed hedge is in flight', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    const r = runEnvoyRequest(
      [
        { latency: 300, outcome: OK },
        { latency: 50, outcome: E503 }, // hedge fails at 150: retried (it was not hedged itself)
        { latency: 500, outcome: OK },
      ],
      { hedge: true, max: 2, perTryTimeout: 100, limiter: b },
    );
    expect(r.sent).toBe(3);
    expect(r.final).toEqual({ outcome: OK, at: 300, attempt: 0 });
    expect(idle(b)).toEqual([0, 0]);
  });

  it("a hedged attempt's bad response is dropped while the hedge is still out", () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    const r = runEnvoyRequest(
      [
        { latency: 200, outcome: E503 },
        { latency: 400, outcome: OK },
      ],
      { hedge: true, max: 1, perTryTimeout: 100, limiter: b },
    );
    expect(r.final).toEqual({ outcome: OK, at: 500, attempt: 1 });
  });

  it("max_retries 1 still lets one request hedge at each per-try timeout: each hedge's decision gives back the retry it held", () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: 1 });
    const r = runEnvoyRequest(
      [
        { latency: 300, outcome: OK },
        { latency: 300, outcome: OK },
        { latency: 50, outcome: OK },
      ],
      { hedge: true, max: 2, perTryTimeout: 100, limiter: b },
    );
    expect(r.sent).toBe(3); // hedges at 100 and 200
    expect(r.final).toEqual({ outcome: OK, at: 250, attempt: 2 });
    expect(idle(b)).toEqual([0, 0]);
  });

  it('a hedge refused at the per-try timeout leaves its attempt unmarked: when it fails, it is retried', () => {
    // The budget refuses the hedge (another request holds its slot meanwhile), then admits
    // the retry of the attempt's 503: Envoy marks an upstream request retried only when the
    // hedge was admitted.
    const answers = [false, true];
    const limiter: RetryLimiter = { ...UNLIMITED_RETRIES, tryRetry: () => answers.shift() ?? false };
    const r = runEnvoyRequest(
      [
        { latency: 200, outcome: E503 },
        { latency: 50, outcome: OK },
      ],
      { hedge: true, max: 2, perTryTimeout: 100, limiter },
    );
    expect(r.sent).toBe(2);
    expect(r.final).toEqual({ outcome: OK, at: 250, attempt: 1 });
    expect(answers).toEqual([]);
  });

  it("a hedge refused at the per-try timeout still spends one of the request's retries: with max 1, the attempt's failure is final", () => {
    // RetryStateImpl::shouldRetry: retries_remaining_-- comes before retries().canCreate().
    const answers = [false, true];
    const limiter: RetryLimiter = { ...UNLIMITED_RETRIES, tryRetry: () => answers.shift() ?? false };
    const r = runEnvoyRequest(
      [
        { latency: 200, outcome: E503 },
        { latency: 50, outcome: OK },
      ],
      { hedge: true, max: 1, perTryTimeout: 100, limiter },
    );
    expect(r.sent).toBe(1);
    expect(r.final).toEqual({ outcome: E503, at: 200, attempt: 0 });
    expect(answers).toEqual([true]); // never asked again
  });

  it('hedges count against the budget: with no retry allowed, no hedge is sent', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: 0 });
    const r = runEnvoyRequest(
      [
        { latency: 300, outcome: OK },
        { latency: 50, outcome: OK },
      ],
      { hedge: true, max: 1, perTryTimeout: 100, limiter: b },
    );
    expect(r.sent).toBe(1);
    expect(r.final).toEqual({ outcome: OK, at: 300, attempt: 0 });
  });
});
