/**
 * Retry budgets: the `budget` option of a retry policy, choosing one cross-request limit on
 * retries and hedges by `kind`, and the factory that builds it as a {@link RetryLimiter}.
 *
 *   envoy-budget       Envoy retry_budget: concurrent retries ≤ max(20% of active requests, 3)
 *   envoy-max-retries  Envoy max_retries circuit breaker: concurrent retries ≤ 3
 *   finagle            Finagle RetryBudget: 20% of requests over 10 s + 10 retries/s
 *   linkerd            Linkerd retryBudget (tower): retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s
 *   grpc-throttling    gRPC A6 retryThrottling: maxTokens 10, tokenRatio 0.1
 *
 * Without a `budget`, only the per-request `max` limits retries (meshsim's choice; a real
 * Envoy always has max_retries 3 unless a budget replaces it: write
 * `budget: { kind: envoy-max-retries }` to model that).
 */
import { z } from 'zod';
import type { Clock } from '../../core/ports.js';
import { EnvoyRetryBudget, envoyMaxRetriesConfigSchema, envoyRetryBudgetConfigSchema } from './retry-budget-envoy.js';
import { FinagleRetryBudget, finagleRetryBudgetConfigSchema, LinkerdRetryBudget, linkerdRetryBudgetConfigSchema } from './retry-budget-linkerd.js';
import type { RetryLimiter } from './retry-limiter.js';
import { GrpcRetryThrottle, grpcRetryThrottlingConfigSchema } from './retry-throttling-grpc.js';

export const retryBudgetConfigSchema = z.discriminatedUnion('kind', [
  envoyRetryBudgetConfigSchema,
  envoyMaxRetriesConfigSchema,
  finagleRetryBudgetConfigSchema,
  linkerdRetryBudgetConfigSchema,
  grpcRetryThrottlingConfigSchema,
]);
export type RetryBudgetConfig = z.output<typeof retryBudgetConfigSchema>;
export type RetryBudgetKind = RetryBudgetConfig['kind'];

export const RETRY_BUDGET_KINDS: readonly RetryBudgetKind[] = ['envoy-budget', 'envoy-max-retries', 'finagle', 'linkerd', 'grpc-throttling'];

/**
 * The limiter for a resolved budget config. One instance is shared by all requests of one
 * client (sidecar) to one upstream service; `clock` is needed by the time-windowed kinds.
 */
export function createRetryLimiter(config: RetryBudgetConfig, clock: Clock): RetryLimiter {
  switch (config.kind) {
    case 'envoy-budget':
    case 'envoy-max-retries':
      return new EnvoyRetryBudget(config);
    case 'finagle':
      return new FinagleRetryBudget(config, clock);
    case 'linkerd':
      return new LinkerdRetryBudget(config, clock);
    case 'grpc-throttling':
      return new GrpcRetryThrottle(config);
  }
}
