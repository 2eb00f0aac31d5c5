/**
 * Circuit breakers: hard caps on what one client may have outstanding towards a cluster
 * (connections, queued requests, requests, retries); past a cap the client fails fast
 * instead of piling more load onto a struggling upstream.
 *
 * Follows Envoy's cluster circuit_breakers.thresholds and ResourceManagerImpl: each resource
 * is a counter with `canCreate() = count < max`, inc, dec. Defaults max_connections 1024,
 * max_pending_requests 1024, max_requests 1024, max_retries 3. Envoy counts overflows in
 * upstream_cx_overflow, upstream_rq_pending_overflow (pending AND requests, lumped) and
 * upstream_rq_retry_overflow; meshsim keeps requests apart. An overflowing request is
 * answered at once with 503 (x-envoy-overloaded) by the pipeline and is not reported to
 * outlier detection. A retry slot is held by a request from the decision to retry, through
 * the backoff and the retried attempt, until the request's next retry decision or its end
 * (Envoy RetryStateImpl: inc on shouldRetry, dec by resetRetry at the start of the next
 * shouldRetry or when the request ends), so a request holds one at most. Connections are a soft cap, as in Envoy's ConnPoolImplBase: an
 * overflow is counted but a pool with no connection at all may still open one.
 *
 * Where meshsim differs: one priority (Envoy keeps a DEFAULT and a HIGH threshold set, each
 * with these defaults; make one breaker per priority if needed); no max_connection_pools,
 * per-host thresholds or runtime overrides. A retry budget (Envoy's retry_budget, which
 * replaces max_retries with max(budget%·(active + pending), min_retry_concurrency)) is
 * computed elsewhere and passed as `limit` to {@link CircuitBreaker.tryAcquireRetry}.
 */
import { z } from 'zod';

const limit = (what: string) => z.number({ error: `${what} must be a whole number ≥ 0` }).int().min(0);

export const circuitBreakerConfigSchema = z.strictObject({
  maxConnections: limit('maxConnections').default(1024),
  maxPendingRequests: limit('maxPendingRequests').default(1024),
  maxRequests: limit('maxRequests').default(1024),
  maxRetries: limit('maxRetries').default(3),
});

export type CircuitBreakerConfig = z.output<typeof circuitBreakerConfigSchema>;
export type CircuitBreakerInput = z.input<typeof circuitBreakerConfigSchema>;

/** Overflow counters, in Envoy stats terms. */
export interface CircuitBreakerStats {
  /** upstream_cx_overflow */
  readonly connectionOverflow: number;
  /** upstream_rq_pending_overflow from max_pending_requests. */
  readonly pendingOverflow: number;
  /** upstream_rq_pending_overflow from max_requests (Envoy lumps the two). */
  readonly requestOverflow: number;
  /** upstream_rq_retry_overflow */
  readonly retryOverflow: number;
}

function underflow(what: string): Error {
  return new Error(`circuit breaker: release${what} without a matching acquire`);
}

/**
 * One priority's thresholds. Every `tryAcquireX` returns false (and counts an overflow) when
 * X is at its limit, else takes a slot; every slot taken must be released exactly once.
 * All calls O(1), no allocation.
 */
export class CircuitBreaker {
  private connections = 0;
  private pending = 0;
  private requests = 0;
  private retries = 0;
  private cxOverflow = 0;
  private pendingOverflowCount = 0;
  private rqOverflow = 0;
  private retryOverflowCount = 0;

  constructor(readonly config: CircuitBreakerConfig) {}

  /** A request is about to be sent upstream (Envoy: stream attached to a connection). */
  tryAcquireRequest(): boolean {
    if (this.requests >= this.config.maxRequests) {
      this.rqOverflow++;
      return false;
    }
    this.requests++;
    return true;
  }

  /** The request ended (response, error, timeout or cancel). */
  releaseRequest(): void {
    if (this.requests === 0) throw underflow('Request');
    this.requests--;
  }

  /** A request must wait for a connection or stream (Envoy: pending in the connection pool). */
  tryAcquirePending(): boolean {
    if (this.pending >= this.config.maxPendingRequests) {
      this.pendingOverflowCount++;
      return false;
    }
    this.pending++;
    return true;
  }

  /** A pending request got its connection, or gave up. */
  releasePending(): void {
    if (this.pending === 0) throw underflow('Pending');
    this.pending--;
  }

  /**
   * A retry was decided: take a retry slot unless `limit` (default maxRetries; pass a retry
   * budget's current allowance instead) retries are already outstanding. The request holds
   * it until its next retry decision or its end.
   */
  tryAcquireRetry(limit: number = this.config.maxRetries): boolean {
    if (this.retries >= limit) {
      this.retryOverflowCount++;
      return false;
    }
    this.retries++;
    return true;
  }

  releaseRetry(): void {
    if (this.retries === 0) throw underflow('Retry');
    this.retries--;
  }

  /**
   * A new connection is wanted. At the limit it counts an overflow and returns false, unless
   * `poolIsEmpty` (the pool has no connection at all), where Envoy opens one anyway (then the
   * count may pass the limit).
   */
  tryAcquireConnection(poolIsEmpty = false): boolean {
    if (this.connections >= this.config.maxConnections) {
      this.cxOverflow++;
      if (!poolIsEmpty) return false;
    }
    this.connections++;
    return true;
  }

  releaseConnection(): void {
    if (this.connections === 0) throw underflow('Connection');
    this.connections--;
  }

  get activeConnections(): number {
    return this.connections;
  }

  get pendingRequests(): number {
    return this.pending;
  }

  get activeRequests(): number {
    return this.requests;
  }

  get activeRetries(): number {
    return this.retries;
  }

  /** Envoy's remaining_rq gauge. */
  get remainingRequests(): number {
    return Math.max(0, this.config.maxRequests - this.requests);
  }

  /** Envoy's rq_open gauge: the request breaker is tripped. */
  get requestsOpen(): boolean {
    return this.requests >= this.config.maxRequests;
  }

  get pendingOpen(): boolean {
    return this.pending >= this.config.maxPendingRequests;
  }

  get retriesOpen(): boolean {
    return this.retries >= this.config.maxRetries;
  }

  get connectionsOpen(): boolean {
    return this.connections >= this.config.maxConnections;
  }

  get connectionOverflow(): number {
    return this.cxOverflow;
  }

  get pendingOverflow(): number {
    return this.pendingOverflowCount;
  }

  get requestOverflow(): number {
    return this.rqOverflow;
  }

  get retryOverflow(): number {
    return this.retryOverflowCount;
  }

  /** A snapshot of the overflow counters. */
  stats(): CircuitBreakerStats {
    return {
      connectionOverflow: this.cxOverflow,
      pendingOverflow: this.pendingOverflowCount,
      requestOverflow: this.rqOverflow,
      retryOverflow: this.retryOverflowCount,
    };
  }
}
