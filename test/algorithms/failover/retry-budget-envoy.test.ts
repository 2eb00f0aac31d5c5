/**
 * Envoy's retry budget and max_retries breaker: the allowance formula, admission, and the
 * property that a retry is only ever admitted within the allowance of its moment.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnvoyRetryBudget, envoyMaxRetriesConfigSchema, envoyRetryAllowance, envoyRetryBudgetConfigSchema } from '../../../src/algorithms/failover/retry-budget-envoy.js';

const budget = (input: Record<string, unknown> = {}) => new EnvoyRetryBudget(envoyRetryBudgetConfigSchema.parse({ kind: 'envoy-budget', ...input }));

describe('envoyRetryAllowance', () => {
  it('is max(⌊20% × (active + pending)⌋, 3) by default', () => {
    expect([0, 1, 15, 19, 20, 24, 25, 49, 50, 1000].map((n) => envoyRetryAllowance(n, 0.2, 3))).toEqual([3, 3, 3, 3, 4, 4, 5, 9, 10, 200]);
  });

  it('truncates the double product like the double → uint64 conversion (0.29 × 100 = 28.999999999999996 → 28)', () => {
    expect(0.29 * 100).toBeLessThan(29);
    expect(envoyRetryAllowance(100, 0.29, 0)).toBe(28);
    expect(envoyRetryAllowance(7, 0.33, 0)).toBe(2);
  });
});

describe('EnvoyRetryBudget', () => {
  it('has Envoy defaults', () => {
    expect(envoyRetryBudgetConfigSchema.parse({ kind: 'envoy-budget' })).toEqual({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    expect(envoyMaxRetriesConfigSchema.parse({ kind: 'envoy-max-retries' })).toEqual({ kind: 'envoy-max-retries', maxRetries: 3 });
    expect(envoyRetryBudgetConfigSchema.parse({ kind: 'envoy-budget', budgetPercent: '50%' }).budgetPercent).toBe(0.5);
    expect(envoyRetryBudgetConfigSchema.safeParse({ kind: 'envoy-budget', budgetPercent: '150%' }).success).toBe(false);
  });

  it('admits min_retry_concurrency retries with no traffic, then refuses until one ends', () => {
    const b = budget();
    expect([b.tryRetry(), b.tryRetry(), b.tryRetry(), b.tryRetry()]).toEqual([true, true, true, false]);
    expect(b.activeRetries).toBe(3);
    b.onRetryEnd();
    expect(b.tryRetry()).toBe(true);
    expect(b.tryRetry()).toBe(false);
  });

  it('grows the allowance with active upstream requests (attempts in flight)', () => {
    const b = budget();
    for (let i = 0; i < 50; i++) b.onAttemptStart();
    expect(b.allowance()).toBe(10);
    let admitted = 0;
    while (b.tryRetry()) admitted++;
    expect(admitted).toBe(10);
    for (let i = 0; i < 30; i++) b.onAttemptEnd();
    expect(b.allowance()).toBe(4);
    expect(b.canRetry()).toBe(false); // 10 still active: no new retry until they drop below 4
  });

  it('in max_retries mode ignores traffic', () => {
    const b = new EnvoyRetryBudget({ kind: 'envoy-max-retries', maxRetries: 2 });
    for (let i = 0; i < 1000; i++) b.requestStarted();
    expect(b.allowance()).toBe(2);
    expect([b.tryRetry(), b.tryRetry(), b.tryRetry()]).toEqual([true, true, false]);
  });

  it('counts a request that asks while its failed attempt is still active (Envoy order)', () => {
    // 15 attempts in flight, one of which just failed: Envoy asks the budget before that
    // upstream request is released, so the allowance is ⌊0.2 × 15⌋ = 3, ...
    const b = budget({ minRetryConcurrency: 0 });
    for (let i = 0; i < 15; i++) b.onAttemptStart();
    expect(b.tryRetry()).toBe(true);
    expect(b.allowance()).toBe(3);
    // ... and a request whose attempt ended first would have seen only 14 → 2.
    b.onAttemptEnd();
    expect(b.allowance()).toBe(2);
  });

  it('refuses to count more ends than starts', () => {
    const b = budget();
    expect(() => b.onRetryEnd()).toThrow();
    expect(() => b.onAttemptEnd()).toThrow();
  });

  it('never admits a retry beyond the allowance of its moment (random event sequences)', () => {
    type Ev = 'attemptStart' | 'attemptEnd' | 'retry' | 'retryEnd';
    fc.assert(
      fc.property(
        fc.constantFrom<[string, Record<string, unknown>]>(['envoy-budget', {}], ['envoy-budget', { budgetPercent: 0.5, minRetryConcurrency: 1 }], ['envoy-max-retries', { maxRetries: 2 }]),
        fc.array(fc.constantFrom<Ev>('attemptStart', 'attemptStart', 'attemptEnd', 'retry', 'retry', 'retryEnd'), { maxLength: 400 }),
        ([kind, options], events) => {
          const config = kind === 'envoy-budget' ? envoyRetryBudgetConfigSchema.parse({ kind, ...options }) : envoyMaxRetriesConfigSchema.parse({ kind, ...options });
          const b = new EnvoyRetryBudget(config);
          let requests = 0;
          let retries = 0;
          for (const ev of events) {
            if (ev === 'attemptStart') {
              b.onAttemptStart();
              requests++;
            } else if (ev === 'attemptEnd' && requests > 0) {
              b.onAttemptEnd();
              requests--;
            } else if (ev === 'retryEnd' && retries > 0) {
              b.onRetryEnd();
              retries--;
            } else if (ev === 'retry') {
              // The allowance at this moment, from the formula (independent of the class).
              const allowance = config.kind === 'envoy-budget' ? Math.max(Math.floor(config.budgetPercent * requests), config.minRetryConcurrency) : config.maxRetries;
              const admitted = b.tryRetry();
              if (admitted) retries++;
              expect(admitted).toBe(retries - (admitted ? 1 : 0) < allowance);
              if (admitted) expect(retries).toBeLessThanOrEqual(allowance);
            }
            expect(b.activeRetries).toBe(retries);
            expect(b.activeRequests).toBe(requests);
          }
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});
