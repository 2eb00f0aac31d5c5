/**
 * RetryLimiter: the one contract every cross-request limit on retries and hedges implements
 * (Envoy's retry budget and max_retries circuit breaker, Finagle's and Linkerd's retry
 * budgets, gRPC's retry throttling), so the request pipeline drives them all the same way.
 * A limiter is shared by all requests of one client to one upstream service (Envoy: per
 * cluster and priority; Finagle/Linkerd: per client/route; gRPC: per server name). Each
 * implementation listens to the events it needs and ignores the others.
 *
 * Event protocol, per request:
 *
 *   onRequest()                        the request arrives, before its first attempt
 *   onAttemptStart()                   an attempt (first, retry or hedge) is sent
 *   ── when an attempt ends (response, failure, per-try timeout or cancellation): ──
 *   onAttemptResult(retriableFailure)  its outcome is known; `retriableFailure` = the outcome
 *                                      matched the retry conditions (`retryOnMatches`),
 *                                      whether or not a retry will follow; skipped for an
 *                                      attempt cancelled by the pipeline (another attempt
 *                                      won, or the request timed out): it has no outcome
 *   onRetryEnd()                       if this attempt was launched by an admitted retry/hedge
 *   tryRetry()                         only if the policy wants another attempt now
 *                                      (`shouldRetry`): true = admitted and counted
 *   onAttemptEnd()                     the attempt no longer counts as in flight
 *   ── ──
 *   tryRetry()                         also before each hedge (the attempt it hedges goes on)
 *   onRetryEnd()                       also for an admitted retry abandoned before its attempt
 *                                      started (the request ended during the backoff)
 *   onRequestEnd(success)              the request's final result is known
 *
 * `endAttempt` below performs the attempt-end steps in that order. The order matters for
 * Envoy, whose retry state releases the previous retry before asking the budget, and asks
 * while the failed upstream request still counts as active; and for gRPC, which counts the
 * failure (−1 token) before deciding.
 *
 * Hedges count against every limiter exactly like retries (Envoy sends a hedge through the
 * same retry state and budget; gRPC A6 throttles hedged RPCs with the same tokens).
 */

export interface RetryLimiter {
  /** A new request (not a retry or hedge) has arrived. Finagle: deposit. */
  onRequest(): void;
  /** An attempt is in flight (sent or pending a connection). Envoy: active requests + 1. */
  onAttemptStart(): void;
  /**
   * An attempt's outcome is known. `retriableFailure`: it matched the retry conditions.
   * Linkerd: deposit when false. gRPC: −1 token when true.
   */
  onAttemptResult(retriableFailure: boolean): void;
  /**
   * May a retry or hedge start now? True = admitted, and the limiter has counted it (Envoy:
   * active retries + 1; Finagle/Linkerd: withdrawn); false = do not send it.
   */
  tryRetry(): boolean;
  /** An admitted retry/hedge is over: its attempt ended, or it was abandoned. Envoy: active retries − 1. */
  onRetryEnd(): void;
  /** The attempt no longer counts as in flight. Envoy: active requests − 1. */
  onAttemptEnd(): void;
  /** The request is over; `success` if its final response is a success. gRPC: + tokenRatio on success. */
  onRequestEnd(success: boolean): void;
}

/**
 * The attempt-end steps of the protocol, in order: result, release of the retry that
 * launched this attempt, the retry decision (only when `wantsRetry`), end of the attempt.
 * Returns whether a retry was admitted.
 */
export function endAttempt(limiter: RetryLimiter, retriableFailure: boolean, launchedByRetry: boolean, wantsRetry: boolean): boolean {
  limiter.onAttemptResult(retriableFailure);
  if (launchedByRetry) limiter.onRetryEnd();
  const admitted = wantsRetry && limiter.tryRetry();
  limiter.onAttemptEnd();
  return admitted;
}

/** No cross-request limit: every retry is admitted (only the per-request `max` applies). */
export const UNLIMITED_RETRIES: RetryLimiter = Object.freeze({
  onRequest() {},
  onAttemptStart() {},
  onAttemptResult() {},
  tryRetry: () => true,
  onRetryEnd() {},
  onAttemptEnd() {},
  onRequestEnd() {},
});
