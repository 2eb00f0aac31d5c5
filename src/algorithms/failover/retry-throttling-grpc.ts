/**
 * gRPC retry throttling (proposal A6, `retryThrottling` in the service config), per server
 * name: a token count starts at maxTokens and stays in [0, maxTokens]; every failed attempt
 * whose status is retryable (or non-fatal, for hedging) takes 1 token, every successful RPC
 * gives back tokenRatio; retries and hedges are sent only while tokens > maxTokens / 2.
 *
 * Follows grpc-go's retryThrottler: the failure is counted first (tokens − 1, floored at 0)
 * and the retry is throttled when the result is ≤ the threshold; it counts even when the
 * attempt limit then stops the retry anyway. Success is counted once per RPC that ends OK.
 * A6 has no defaults (both fields are required; maxTokens in (0, 1000], tokenRatio > 0 with
 * up to 3 decimals); meshsim defaults to A6's example, maxTokens 10 and tokenRatio 0.1.
 * Where meshsim differs: tokenRatio is not rounded to 3 decimals (grpc-java scales by 1000).
 */
import { z } from 'zod';
import type { RetryLimiter } from './retry-limiter.js';

export const grpcRetryThrottlingConfigSchema = z.strictObject({
  kind: z.literal('grpc-throttling'),
  /** Token capacity, and the starting count; values above 1000 are treated as 1000, as A6 says. */
  maxTokens: z.number().positive().default(10),
  /** Tokens a successful RPC gives back. */
  tokenRatio: z.number().positive().default(0.1),
});
export type GrpcRetryThrottlingConfig = z.output<typeof grpcRetryThrottlingConfigSchema>;

export class GrpcRetryThrottle implements RetryLimiter {
  private count: number;
  readonly maxTokens: number;
  readonly threshold: number;
  readonly tokenRatio: number;

  constructor(config: { readonly maxTokens: number; readonly tokenRatio: number }) {
    if (!(config.maxTokens > 0)) throw new RangeError(`maxTokens must be > 0, got ${config.maxTokens}`);
    if (!(config.tokenRatio > 0)) throw new RangeError(`tokenRatio must be > 0, got ${config.tokenRatio}`);
    this.maxTokens = Math.min(config.maxTokens, 1000);
    this.threshold = this.maxTokens / 2;
    this.tokenRatio = config.tokenRatio;
    this.count = this.maxTokens;
  }

  get tokens(): number {
    return this.count;
  }

  /** A retryable (or non-fatal) failure: −1 token, floored at 0. */
  onFailure(): void {
    this.count = Math.max(0, this.count - 1);
  }

  /** A successful RPC: + tokenRatio, capped at maxTokens. */
  onSuccess(): void {
    this.count = Math.min(this.maxTokens, this.count + this.tokenRatio);
  }

  /** Whether retries and hedges may be sent now: tokens > maxTokens / 2. */
  allowsRetry(): boolean {
    return this.count > this.threshold;
  }

  // RetryLimiter
  onRequest(): void {}
  onAttemptStart(): void {}
  onAttemptResult(retriableFailure: boolean): void {
    if (retriableFailure) this.onFailure();
  }
  tryRetry(): boolean {
    return this.allowsRetry();
  }
  onRetryEnd(): void {}
  onAttemptEnd(): void {}
  onRequestEnd(success: boolean): void {
    if (success) this.onSuccess();
  }
}
