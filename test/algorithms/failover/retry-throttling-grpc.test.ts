/**
 * gRPC A6 retry throttling: token arithmetic, the threshold, grpc-go's order (count the
 * failure, then decide), and the property that tokens stay within [0, maxTokens].
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endAttempt } from '../../../src/algorithms/failover/retry-limiter.js';
import { GrpcRetryThrottle, grpcRetryThrottlingConfigSchema } from '../../../src/algorithms/failover/retry-throttling-grpc.js';

describe('GrpcRetryThrottle', () => {
  it("defaults to A6's example (maxTokens 10, tokenRatio 0.1) and starts full", () => {
    const config = grpcRetryThrottlingConfigSchema.parse({ kind: 'grpc-throttling' });
    expect(config).toEqual({ kind: 'grpc-throttling', maxTokens: 10, tokenRatio: 0.1 });
    const t = new GrpcRetryThrottle(config);
    expect(t.tokens).toBe(10);
    expect(t.threshold).toBe(5);
    expect(grpcRetryThrottlingConfigSchema.safeParse({ kind: 'grpc-throttling', maxTokens: 0 }).success).toBe(false);
    expect(grpcRetryThrottlingConfigSchema.safeParse({ kind: 'grpc-throttling', tokenRatio: 0 }).success).toBe(false);
    expect(new GrpcRetryThrottle({ maxTokens: 5000, tokenRatio: 1 }).maxTokens).toBe(1000); // A6: treated as 1000
  });

  it('throttles once tokens ≤ maxTokens / 2, and lets retries through again above it', () => {
    const t = new GrpcRetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
    for (let i = 0; i < 4; i++) t.onAttemptResult(true);
    expect(t.tokens).toBe(6);
    expect(t.tryRetry()).toBe(true);
    t.onAttemptResult(true);
    expect(t.tokens).toBe(5);
    expect(t.tryRetry()).toBe(false); // 5 ≤ 5
    t.onRequestEnd(true);
    expect(t.tokens).toBeCloseTo(5.1, 12);
    expect(t.tryRetry()).toBe(true);
    t.onRequestEnd(false); // a failed RPC gives nothing back
    t.onAttemptResult(false); // a non-retryable failure costs nothing
    expect(t.tokens).toBeCloseTo(5.1, 12);
  });

  it('floors at 0 and caps at maxTokens', () => {
    const t = new GrpcRetryThrottle({ maxTokens: 3, tokenRatio: 0.7 });
    for (let i = 0; i < 10; i++) t.onFailure();
    expect(t.tokens).toBe(0);
    for (let i = 0; i < 10; i++) t.onSuccess();
    expect(t.tokens).toBe(3);
  });

  it("counts the failure before deciding, as grpc-go's throttle() does", () => {
    const t = new GrpcRetryThrottle({ maxTokens: 4, tokenRatio: 1 });
    t.onFailure(); // 3 > 2
    // The next retriable failure takes the count to 2 = threshold: its retry is throttled.
    expect(endAttempt(t, true, false, true)).toBe(false);
    expect(t.tokens).toBe(2);
    // A failure that will not be retried (attempts exhausted) still costs its token.
    endAttempt(t, true, false, false);
    expect(t.tokens).toBe(1);
  });

  it('keeps tokens within [0, maxTokens] over any sequence of events', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 1000, noNaN: true }),
        fc.double({ min: 0.001, max: 5, noNaN: true }),
        fc.array(fc.constantFrom('fail', 'ok', 'nonRetriable', 'failedRpc', 'retry'), { maxLength: 500 }),
        (maxTokens, tokenRatio, events) => {
          const t = new GrpcRetryThrottle({ maxTokens, tokenRatio });
          for (const e of events) {
            if (e === 'fail') t.onAttemptResult(true);
            else if (e === 'nonRetriable') t.onAttemptResult(false);
            else if (e === 'ok') t.onRequestEnd(true);
            else if (e === 'failedRpc') t.onRequestEnd(false);
            else expect(t.tryRetry()).toBe(t.tokens > maxTokens / 2);
            expect(t.tokens).toBeGreaterThanOrEqual(0);
            expect(t.tokens).toBeLessThanOrEqual(t.maxTokens);
          }
        },
      ),
      { seed: 9, numRuns: 300 },
    );
  });
});
