/**
 * Request hedging: more than one attempt of a request in flight at once, the first good
 * response wins. Two flavours, as pure decisions the request pipeline applies:
 *
 * Envoy (HedgePolicy.hedge_on_per_try_timeout, router.cc onSoftPerTryTimeout /
 * onUpstreamHeaders / onUpstreamReset): when an attempt's per-try timeout fires, the attempt
 * is NOT cancelled, but outlier detection records the timeout (504) at once; a retry is
 * asked for at once — without checking the retry-on conditions, but against the retries
 * left (`max`) and the budget — and, if admitted, sent after the usual backoff. Only when
 * the hedge is admitted is the timed-out attempt marked hedged (upstream_request.retried):
 * it is never retried itself. A hedge refused (no retry left, or the budget) leaves it
 * running unmarked, and its end is then a retry decision like any attempt's. What it does
 * later is reported to outlier detection as usual (a response, a reset), except a route
 * timeout ending it, which is not recorded a second time; cancelled, it reports nothing.
 * When an attempt ends (envoyAttemptEndAction): a response that is not retriable
 * wins (the others are cancelled); a retriable one is retried if it may be, else dropped
 * while other attempts or admitted retries are outstanding, else returned; an attempt ending
 * without a response (reset) is dropped while others are outstanding. Without hedging the
 * per-try timeout cancels the attempt, which ends as a 'timeout' outcome (retried under
 * 5xx, gateway-error and reset).
 *
 * gRPC (proposal A6, hedgingPolicy): the first attempt goes at once, then one more every
 * hedgingDelay until maxAttempts (at most 5 on the client) are out or a response arrives
 * (hedgeDelays). OK or a fatal status commits the call (the others are cancelled); a
 * non-fatal status sends the next hedge at once, later ones resuming hedgingDelay after it;
 * when every attempt has failed, the last failure is returned (grpcHedgeAction).
 *
 * Hedges count against budgets exactly like retries: every hedge after the first attempt
 * goes through RetryLimiter.tryRetry() (Envoy: the same retry state and budget; gRPC: sent
 * only while throttling tokens > maxTokens / 2) and each hedged attempt that fails with a
 * retriable / non-fatal status reports onAttemptResult(true). Hedges should go to hosts not
 * yet tried (pickAvoidingPreviousHosts; A6 passes the used addresses to the balancer).
 * Where meshsim differs: gRPC server pushback is not modelled.
 */
import { z } from 'zod';
import { zDuration } from '../../core/units.js';
import { GrpcStatus } from './retry-policy.js';

export const envoyHedgingConfigSchema = z.strictObject({
  kind: z.literal('envoy').default('envoy'),
  /** hedge_on_per_try_timeout (Envoy default false). */
  hedgeOnPerTryTimeout: z.boolean().default(false),
});
export type EnvoyHedgingConfig = z.output<typeof envoyHedgingConfigSchema>;

/** gRPC status names as service configs write them. */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** The numeric code of a gRPC status name (its index in GRPC_STATUS_NAMES). */
export function grpcStatusCode(name: GrpcStatusName): number {
  return GRPC_STATUS_NAMES.indexOf(name);
}

/** The client-side cap on maxAttempts (A6: 5 by default, settable by a channel argument). */
export const GRPC_MAX_ATTEMPTS_LIMIT = 5;

export const grpcHedgingConfigSchema = z.strictObject({
  kind: z.literal('grpc'),
  /** maxAttempts, the first attempt included; required, ≥ 2; above 5 is treated as 5. */
  maxAttempts: z.number().int().min(2),
  /** hedgingDelay (A6 default 0s: all attempts at once). */
  delay: zDuration.default(0),
  /** nonFatalStatusCodes: statuses after which the next hedge is sent at once (A6 default: none). */
  nonFatalStatusCodes: z.array(z.union([z.enum(GRPC_STATUS_NAMES), z.number().int().min(0).max(16)])).default([]),
});
export type GrpcHedgingConfig = z.output<typeof grpcHedgingConfigSchema>;

/** `{ hedgeOnPerTryTimeout }` (Envoy, the default) or `{ kind: grpc, maxAttempts, delay, nonFatalStatusCodes }`. */
export const hedgingConfigSchema = z.union([envoyHedgingConfigSchema, grpcHedgingConfigSchema]);
export type HedgingConfig = z.output<typeof hedgingConfigSchema>;

// ---- Envoy -------------------------------------------------------------------------------

/**
 * Whether Envoy, when an attempt's per-try timeout fires, keeps it running and asks for a
 * hedge (true), or cancels it so it ends as a 'timeout' outcome (false). On true the
 * pipeline reports the timeout to outlier detection (Sidecar.attemptSoftTimeout) and, if
 * `attempt < max` and limiter.tryRetry() admits it, marks the attempt hedged and sends
 * another attempt after the backoff; the retry-on conditions are not asked. A refused
 * hedge leaves the attempt unmarked: it may still be retried when it ends.
 */
export function startHedgeOnPerTryTimeout(config: EnvoyHedgingConfig): boolean {
  return config.hedgeOnPerTryTimeout;
}

/** What to do with an attempt that ended. */
export type AttemptEndAction =
  /** Return this attempt's result to the caller; cancel the other attempts. */
  | 'final'
  /** Drop this attempt's result and send a retry (after the backoff); others keep going. */
  | 'retry'
  /** Drop this attempt's result and wait for the outstanding attempts or retries. */
  | 'discard';

/**
 * Envoy's router on the end of one attempt of a request that may have several in flight.
 * @param responded the attempt got a response (else it was reset, failed to connect, or timed out)
 * @param retriable its outcome matched the retry conditions (retryOnMatches)
 * @param hedged a hedge was admitted for it at its per-try timeout (never retried again; an
 *   attempt whose hedge was refused is not hedged)
 * @param retryAdmitted a retry of it was admitted: ask shouldRetry and then the limiter only
 *   when `retriable && !hedged`, and pass false otherwise
 * @param othersOutstanding other attempts still awaiting a response plus admitted retries not yet sent
 */
export function envoyAttemptEndAction(responded: boolean, retriable: boolean, hedged: boolean, retryAdmitted: boolean, othersOutstanding: number): AttemptEndAction {
  if (retriable && !hedged && retryAdmitted) return 'retry';
  if (responded && !retriable) return 'final';
  return othersOutstanding > 0 ? 'discard' : 'final';
}

// ---- gRPC --------------------------------------------------------------------------------

/** maxAttempts as the client applies it: at most `limit` (5). */
export function grpcEffectiveMaxAttempts(maxAttempts: number, limit = GRPC_MAX_ATTEMPTS_LIMIT): number {
  return Math.min(maxAttempts, limit);
}

/**
 * When A6 sends each attempt of a hedged call if no response comes back: offsets in ms
 * from the call's start, 0, d, 2d, … for min(maxAttempts, 5) attempts.
 */
export function hedgeDelays(config: { readonly maxAttempts: number; readonly delay: number }, limit = GRPC_MAX_ATTEMPTS_LIMIT): number[] {
  const n = grpcEffectiveMaxAttempts(config.maxAttempts, limit);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i * config.delay;
  return out;
}

/** The non-fatal statuses of a config as numeric codes. */
export function grpcNonFatalCodes(config: GrpcHedgingConfig): ReadonlySet<number> {
  return new Set(config.nonFatalStatusCodes.map((c) => (typeof c === 'number' ? c : grpcStatusCode(c))));
}

/** What a hedged gRPC call does when one attempt ends. */
export type GrpcHedgeAction =
  /** Return this attempt's status (OK or fatal, or the last of all failures); cancel the others. */
  | 'commit'
  /** Non-fatal failure: send the next hedge now (if the limiter admits it); later ones resume hedgingDelay after it. */
  | 'send-next-now'
  /** Non-fatal failure, no hedge left to send: wait for the outstanding attempts. */
  | 'wait';

/**
 * A6's reaction to an attempt of a hedged call ending with gRPC `status` (see grpcStatusOf).
 * @param sent attempts sent so far, this one included
 * @param outstanding attempts still in flight, this one excluded
 * If 'send-next-now' is returned but the limiter refuses the hedge, no more hedges are sent:
 * treat it as 'wait' when `outstanding > 0`, else as 'commit'.
 */
export function grpcHedgeAction(status: number, nonFatal: ReadonlySet<number>, sent: number, maxAttempts: number, outstanding: number): GrpcHedgeAction {
  if (status === GrpcStatus.OK || !nonFatal.has(status)) return 'commit';
  if (sent < grpcEffectiveMaxAttempts(maxAttempts)) return 'send-next-now';
  return outstanding > 0 ? 'wait' : 'commit';
}
