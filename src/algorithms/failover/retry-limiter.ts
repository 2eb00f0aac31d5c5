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
 *   onAttemptStart()                   an attempt (first, retry or hedge) is sent, or starts
 *                                      waiting for a connection (then not again when sent)
 *   ── at each retry decision of the request (see below): ──
 *   onRetryEnd()                       first, if the request holds an admitted retry: at most
 *                                      one is held, and a decision gives it back
 *   tryRetry()                         only if the policy wants another attempt now
 *                                      (`shouldRetry`, or a hedge): true = admitted and
 *                                      counted; the request holds it until its next decision.
 *                                      Asking spends one of the request's `max` retries
 *                                      either way (Envoy: retries_remaining_-- before
 *                                      retries().canCreate()); the pipeline counts that
 *   ── when an attempt ends (response, failure, per-try timeout or cancellation): ──
 *   onAttemptResult(retriableFailure)  its outcome is known; `retriableFailure` = the outcome
 *                                      matched the retry conditions (`retryOnMatches`),
 *                                      whether or not a retry will follow; skipped for an
 *                                      attempt cancelled by the pipeline (another attempt
 *                                      won, or the request timed out): it has no outcome
 *   (the retry decision)               unless the attempt was hedged (a hedge was admitted
 *                                      at its per-try timeout), or the request is over
 *   onAttemptEnd()                     the attempt no longer counts as in flight (also for an
 *                                      attempt that stops waiting for a connection unsent)
 *   ── ──
 *   onRetryEnd()                       when the request ends holding an admitted retry
 *   onRequestEnd(success)              the request's final result is known
 *
 * Retry decisions are Envoy's calls of RetryStateImpl::shouldRetry, which begins with
 * resetRetry(): the end of an attempt that was not hedged; an attempt's per-try timeout
 * under hedge_on_per_try_timeout (even with no retry left to ask for); an attempt that
 * could not be sent (a breaker overflow; no healthy upstream, which for a retry or hedge
 * also ends the request at once, as Envoy's doRetry does); and, as meshsim's extension
 * to timed hedging, each hedge the hedging delay asks for. So a request never holds more
 * than one retry: a retry is held from its admission, through its backoff and its
 * attempt, until the request's next decision or its end. `endAttempt` and
 * `retryDecision` below perform these steps in order. The order matters for Envoy, whose
 * retry state releases the previous retry before asking the budget, and asks while the
 * failed upstream request still counts as active; and for gRPC, which counts the failure
 * (−1 token) before deciding.
 *
 * Hedges count against every limiter exactly like retries (Envoy sends a hedge through the
 * same retry state and budget; gRPC A6 throttles hedged RPCs with the same tokens). Only
 * Envoy's limiters count held retries (onRetryEnd); Finagle's and Linkerd's budgets
 * withdraw per admitted retry and gRPC's tokens change per result, so for them a retry
 * decision is just tryRetry().
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
  /** The request gives back the admitted retry it held: its next retry decision, or its end. Envoy: active retries − 1. */
  onRetryEnd(): void;
  /** The attempt no longer counts as in flight. Envoy: active requests − 1. */
  onAttemptEnd(): void;
  /** The request is over; `success` if its final response is a success. gRPC: + tokenRatio on success. */
  onRequestEnd(success: boolean): void;
}

/**
 * A retry decision: the retry the request holds (`holdsRetry`) is given back, then, when
 * `wantsRetry`, the limiter is asked for another. Returns whether one was admitted (the
 * request then holds it).
 */
export function retryDecision(limiter: RetryLimiter, holdsRetry: boolean, wantsRetry: boolean): boolean {
  if (holdsRetry) limiter.onRetryEnd();
  return wantsRetry && limiter.tryRetry();
}

/**
 * The attempt-end steps of the protocol, in order: result, the request's retry decision
 * (giving back the retry it holds when `holdsRetry`, asking for a new one when
 * `wantsRetry`; pass both false for a hedged attempt, whose end decides nothing), end of
 * the attempt. Returns whether a retry was admitted.
 */
export function endAttempt(limiter: RetryLimiter, retriableFailure: boolean, holdsRetry: boolean, wantsRetry: boolean): boolean {
  limiter.onAttemptResult(retriableFailure);
  const admitted = retryDecision(limiter, holdsRetry, wantsRetry);
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
