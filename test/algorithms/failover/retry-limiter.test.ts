/**
 * The RetryLimiter contract: the attempt-end order, a request's retry decisions (it holds
 * one retry at most), the unlimited limiter, and the budget factory building every kind.
 */
import { describe, expect, it } from 'vitest';
import { createRetryLimiter, RETRY_BUDGET_KINDS, retryBudgetConfigSchema } from '../../../src/algorithms/failover/retry-budget.js';
import { EnvoyRetryBudget } from '../../../src/algorithms/failover/retry-budget-envoy.js';
import { FinagleRetryBudget, LinkerdRetryBudget } from '../../../src/algorithms/failover/retry-budget-linkerd.js';
import { endAttempt, retryDecision, UNLIMITED_RETRIES, type RetryLimiter } from '../../../src/algorithms/failover/retry-limiter.js';
import { GrpcRetryThrottle } from '../../../src/algorithms/failover/retry-throttling-grpc.js';
import { virtualTime } from './_retry-fixtures.js';

describe('endAttempt', () => {
  it('calls result, release of the retry held, decision (only when wanted), attempt end, in that order', () => {
    const calls: string[] = [];
    const spy: RetryLimiter = {
      onRequest: () => calls.push('request'),
      onAttemptStart: () => calls.push('start'),
      onAttemptResult: (f) => calls.push(`result:${f}`),
      tryRetry: () => (calls.push('try'), true),
      onRetryEnd: () => calls.push('retryEnd'),
      onAttemptEnd: () => calls.push('end'),
      onRequestEnd: (s) => calls.push(`requestEnd:${s}`),
    };
    expect(endAttempt(spy, true, true, true)).toBe(true);
    expect(calls).toEqual(['result:true', 'retryEnd', 'try', 'end']);
    calls.length = 0;
    expect(endAttempt(spy, false, false, false)).toBe(false);
    expect(calls).toEqual(['result:false', 'end']);
  });

  it('lets Envoy release the previous retry before asking, with the failed attempt still active', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: 1 });
    b.onAttemptStart();
    expect(endAttempt(b, true, false, true)).toBe(true); // retry 1 admitted
    b.onAttemptStart();
    expect(endAttempt(b, true, true, true)).toBe(true); // retry 1 released first, so retry 2 fits
    expect(b.activeRetries).toBe(1);
    expect(b.activeRequests).toBe(0);
  });
});

describe('retryDecision', () => {
  it('gives back the retry held, then asks only when wanted', () => {
    const calls: string[] = [];
    const spy = { ...UNLIMITED_RETRIES, tryRetry: () => (calls.push('try'), false), onRetryEnd: () => calls.push('retryEnd') };
    expect(retryDecision(spy, true, true)).toBe(false);
    expect(calls).toEqual(['retryEnd', 'try']);
    calls.length = 0;
    expect(retryDecision(spy, true, false)).toBe(false);
    expect(calls).toEqual(['retryEnd']);
    calls.length = 0;
    expect(retryDecision(spy, false, false)).toBe(false);
    expect(calls).toEqual([]);
  });

  it("Envoy hedge_on_per_try_timeout: each per-try timeout's hedge replaces the one the request holds, so max_retries 1 lets a request hedge twice", () => {
    // RetryStateImpl::shouldHedgeRetryPerTryTimeout → shouldRetry → resetRetry first.
    const b = new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: 1 });
    b.onAttemptStart(); // the first attempt; its per-try timeout fires, it is kept
    let holds = retryDecision(b, false, true);
    expect([holds, b.activeRetries]).toEqual([true, 1]);
    b.onAttemptStart(); // the hedge; its per-try timeout fires too
    holds = retryDecision(b, holds, true);
    expect([holds, b.activeRetries]).toEqual([true, 1]);
    // Another request meanwhile finds the one slot taken.
    expect(b.tryRetry()).toBe(false);
  });
});

describe('UNLIMITED_RETRIES', () => {
  it('admits everything', () => {
    for (let i = 0; i < 100; i++) expect(UNLIMITED_RETRIES.tryRetry()).toBe(true);
    expect(Object.isFrozen(UNLIMITED_RETRIES)).toBe(true);
  });
});

describe('createRetryLimiter', () => {
  it('builds each kind from its defaults', () => {
    const t = virtualTime();
    const built = RETRY_BUDGET_KINDS.map((kind) => createRetryLimiter(retryBudgetConfigSchema.parse({ kind }), t.engine));
    expect(built[0]).toBeInstanceOf(EnvoyRetryBudget);
    expect(built[1]).toBeInstanceOf(EnvoyRetryBudget);
    expect(built[2]).toBeInstanceOf(FinagleRetryBudget);
    expect(built[3]).toBeInstanceOf(LinkerdRetryBudget);
    expect(built[4]).toBeInstanceOf(GrpcRetryThrottle);
    expect((built[0] as EnvoyRetryBudget).allowance()).toBe(3);
    expect((built[1] as EnvoyRetryBudget).allowance()).toBe(3);
    // Every kind admits a first retry from a cold start (reserve, min concurrency, full tokens).
    for (const l of built) expect(l.tryRetry()).toBe(true);
  });

  it('rejects unknown kinds and unknown options', () => {
    expect(retryBudgetConfigSchema.safeParse({ kind: 'hystrix' }).success).toBe(false);
    expect(retryBudgetConfigSchema.safeParse({ kind: 'envoy-budget', maxRetries: 3 }).success).toBe(false);
    expect(retryBudgetConfigSchema.safeParse({ kind: 'linkerd', percentCanRetry: 0.2 }).success).toBe(false);
  });
});
