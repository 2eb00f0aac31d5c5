/**
 * Envoy's cross-request limit on concurrent retries, per upstream cluster and priority: the
 * retry budget (circuit_breakers.thresholds.retry_budget) or, when no budget is configured,
 * the max_retries circuit breaker.
 *
 * Follows Envoy's ResourceManagerImpl::RetryBudgetImpl and RetryStateImpl::shouldRetry:
 *   budget:      a retry may start while  active retries < max(⌊budgetPercent × (active +
 *                pending upstream requests)⌋, minRetryConcurrency)   (defaults 20% and 3)
 *   max_retries: a retry may start while  active retries < maxRetries  (default 3)
 * Upstream requests are attempts (originals, retries and hedges alike) in flight or waiting
 * for a connection. A retry is active from the moment shouldRetry admits it, through its
 * backoff and its attempt, until that request's next retry decision (which gives it back
 * before asking again: resetRetry) or its end, so a request holds one at most. Hedges
 * (hedge_on_per_try_timeout) pass through the same check, their per-try timeout being a
 * retry decision too.
 *
 * Pending requests are attempts waiting in the sidecar's connection pool for a connection
 * (circuitBreaker maxConnections): the pipeline reports them through onAttemptStart when
 * they start waiting and through onAttemptEnd only when they end, sent or not, so the one
 * count here is Envoy's requests() + pending_requests(). Where meshsim differs: the recent
 * budget_interval option (budget over requests seen in an interval instead of in flight)
 * and runtime overrides are not modelled.
 */
import { z } from 'zod';
import { zPercent } from '../../core/units.js';
import type { RetryLimiter } from './retry-limiter.js';

export const envoyRetryBudgetConfigSchema = z.strictObject({
  kind: z.literal('envoy-budget'),
  /** budget_percent: share of active + pending requests that may be retries. */
  budgetPercent: zPercent.default(0.2),
  /** min_retry_concurrency: retries always allowed concurrently, whatever the traffic. */
  minRetryConcurrency: z.number().int().min(0).default(3),
});
export type EnvoyRetryBudgetConfig = z.output<typeof envoyRetryBudgetConfigSchema>;

export const envoyMaxRetriesConfigSchema = z.strictObject({
  kind: z.literal('envoy-max-retries'),
  /** max_retries circuit breaker: concurrent retries allowed. */
  maxRetries: z.number().int().min(0).default(3),
});
export type EnvoyMaxRetriesConfig = z.output<typeof envoyMaxRetriesConfigSchema>;

/** Either form of Envoy's limit. */
export type EnvoyRetryLimitConfig = EnvoyRetryBudgetConfig | EnvoyMaxRetriesConfig;

/**
 * Concurrent retries the budget allows with `activeRequests` (active + pending) upstream
 * requests: max(⌊budgetPercent × activeRequests⌋, minRetryConcurrency), truncated to an
 * integer as Envoy's double → uint64 conversion does.
 */
export function envoyRetryAllowance(activeRequests: number, budgetPercent: number, minRetryConcurrency: number): number {
  return Math.max(Math.floor(budgetPercent * activeRequests), minRetryConcurrency);
}

export class EnvoyRetryBudget implements RetryLimiter {
  private requests = 0;
  private retries = 0;
  /** Budget mode (else max_retries mode). */
  private readonly budget: boolean;
  private readonly budgetPercent: number;
  private readonly minRetryConcurrency: number;
  private readonly maxRetries: number;

  constructor(config: EnvoyRetryLimitConfig) {
    this.budget = config.kind === 'envoy-budget';
    this.budgetPercent = config.kind === 'envoy-budget' ? config.budgetPercent : 0;
    this.minRetryConcurrency = config.kind === 'envoy-budget' ? config.minRetryConcurrency : 0;
    this.maxRetries = config.kind === 'envoy-max-retries' ? config.maxRetries : 0;
  }

  /** Upstream requests (attempts) active or pending. */
  get activeRequests(): number {
    return this.requests;
  }

  /** Retries admitted and not yet ended. */
  get activeRetries(): number {
    return this.retries;
  }

  /** How many concurrent retries are allowed right now. */
  allowance(): number {
    return this.budget ? envoyRetryAllowance(this.requests, this.budgetPercent, this.minRetryConcurrency) : this.maxRetries;
  }

  /** Whether one more retry may start now (Envoy's `retries().canCreate()`). */
  canRetry(): boolean {
    return this.retries < this.allowance();
  }

  /** An upstream request (attempt) became active or pending. */
  requestStarted(): void {
    this.requests++;
  }

  /** An upstream request ended (completed, failed, reset or cancelled). */
  requestEnded(): void {
    if (this.requests === 0) throw new Error('EnvoyRetryBudget: requestEnded without requestStarted');
    this.requests--;
  }

  /** A retry was admitted (call only after canRetry() returned true). */
  retryStarted(): void {
    this.retries++;
  }

  /** An admitted retry is over. */
  retryEnded(): void {
    if (this.retries === 0) throw new Error('EnvoyRetryBudget: retryEnded without retryStarted');
    this.retries--;
  }

  // RetryLimiter
  onRequest(): void {}
  onAttemptStart(): void {
    this.requestStarted();
  }
  onAttemptResult(_retriableFailure: boolean): void {}
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    this.retries++;
    return true;
  }
  onRetryEnd(): void {
    this.retryEnded();
  }
  onAttemptEnd(): void {
    this.requestEnded();
  }
  onRequestEnd(_success: boolean): void {}
}
