/**
 * Retry policy: which attempt outcomes are retried and how often, with Envoy's retry-on
 * conditions (x-envoy-retry-on / x-envoy-retry-grpc-on, RetryPolicy.retry_on), its
 * num_retries (default 1), backoff, per-try timeout and previous-hosts reselection, plus the
 * cross-request budget (retry-budget.ts). Scenario form:
 *
 *   retries: { max: 2, on: [5xx, connect-failure], backoff: { base: 25ms, max: 250ms },
 *              perTryTimeout: 500ms, budget: { kind: envoy-budget }, hostReselection: {} }
 *
 * Follows Envoy's RetryStateImpl::wouldRetryFromHeaders / wouldRetryFromReset:
 *   5xx                    any 5xx response, or no response at all: reset, connect failure,
 *                          per-try timeout (Envoy resets the attempt and retries it as a reset)
 *   gateway-error          a 502, 503 or 504 response, or no response at all (as 5xx: the code
 *                          retries every reset under both; the docs only mention the codes)
 *   reset                  no response: reset, connect failure or per-try timeout
 *   reset-before-request   a reset before the request was sent: connect failure
 *   connect-failure        connect failure
 *   timeout                meshsim's name, not Envoy's: the attempt's per-try timeout fired
 *                          (outcome 'timeout'), nothing else. Envoy retries per-try timeouts
 *                          under 5xx, gateway-error and reset (above) and has no condition of
 *                          its own for them; Linkerd and gRPC users think of "retry on
 *                          timeout" as a condition in itself, so meshsim offers one
 *   retriable-4xx          a 409 response
 *   refused-stream         REFUSED_STREAM reset (no OutcomeKind carries it: never matches)
 *   retriable-status-codes a response whose status is in retriableStatusCodes
 *   cancelled, deadline-exceeded, internal, resource-exhausted, unavailable
 *                          a response with that gRPC status (see grpcStatusOfHttp)
 *   a number, e.g. 503     Istio's shorthand: that status is retriable (retriable-status-codes)
 * A retry happens when the outcome matches AND fewer than `max` retries were asked for: one
 * the budget refused counts too (Envoy's RetryStateImpl::shouldRetry decrements
 * retries_remaining_ before asking the resource manager). The
 * request timeout (Envoy's route timeout) is never retried: it ends the request, so the
 * pipeline must not ask. Envoy never retries a local circuit-breaker overflow either.
 *
 * Where meshsim differs: outcomes carry an HTTP status only, so the gRPC conditions read the
 * gRPC status off the HTTP status by the inverse of google.rpc.Code's HTTP mapping (503 →
 * UNAVAILABLE, 504 → DEADLINE_EXCEEDED, 500 → INTERNAL, 429 → RESOURCE_EXHAUSTED, 499 →
 * CANCELLED); an 'error' or 'rejected' outcome without a status counts as a reset;
 * envoy-ratelimited, retriable-headers and http3-post-connect-failure are not offered, and
 * `timeout` is added (above);
 * retriableStatusCodes without the retriable-status-codes condition is an error (Envoy
 * silently ignores them). Without `budget` no cross-request limit applies (Envoy always has
 * its max_retries 3 breaker: say `budget: { kind: envoy-max-retries }` to model it).
 */
import { z } from 'zod';
import { zDuration } from '../../core/units.js';
import type { Outcome, PickContext } from '../types.js';
import { backoffConfigSchema } from './backoff.js';
import { retryBudgetConfigSchema } from './retry-budget.js';

/** The retry-on condition names meshsim evaluates (Envoy's spelling; `timeout` is meshsim's own). */
export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'timeout',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
export type RetryOn = (typeof RETRY_ON)[number];

const zStatus = z.number().int().min(100).max(599);

/** The most extra picks host reselection may make per retry (Envoy's int64 has no bound; Istio uses 5). */
export const MAX_RESELECTION_ATTEMPTS = 1000;

export const hostReselectionConfigSchema = z.strictObject({
  /** The retry host predicate; Envoy's previous_hosts (the only one offered). */
  predicate: z.literal('previous-hosts').default('previous-hosts'),
  /** host_selection_retry_max_attempts: extra picks when the pick is a host already tried (Envoy default 1, Istio 5). */
  // Bounded so that a slip is an error, not a retry that re-picks a billion times when every host was tried.
  maxAttempts: z
    .number()
    .int()
    .min(0)
    .max(MAX_RESELECTION_ATTEMPTS, { error: (issue) => `expected a whole number from 0 to ${MAX_RESELECTION_ATTEMPTS} (each is one more pick per retry); got ${String(issue.input)}` })
    .default(1),
});
export type HostReselectionConfig = z.output<typeof hostReselectionConfigSchema>;

export const retryPolicyConfigSchema = z
  .strictObject({
    /** num_retries: retries after the first attempt (Envoy's default 1 when a policy exists). Hedges count too. */
    max: z.number().int().min(0).default(1),
    /** retry_on conditions (Envoy names; numbers are retriable statuses, as Istio's retryOn allows). */
    on: z
      .array(z.union([z.enum(RETRY_ON), zStatus], { error: () => `expected one of ${RETRY_ON.join(', ')}, or an HTTP status (100–599)` }))
      .min(1, { message: 'on needs at least one condition, e.g. [5xx] (with none, Envoy retries nothing)' }),
    /** retriable_status_codes, used by the retriable-status-codes condition. */
    retriableStatusCodes: z.array(zStatus).optional(),
    /** per_try_timeout; absent = attempts are bounded only by the request timeout. */
    perTryTimeout: zDuration.refine((ms) => ms > 0, { message: 'perTryTimeout must be longer than 0s' }).optional(),
    /** retry_back_off: Envoy's `{ base, max }` (default 25 ms, 10 × base) or `{ kind: grpc, initial, max, multiplier }`. */
    backoff: backoffConfigSchema.default({ kind: 'envoy', base: 25 }),
    /** Cross-request limit on retries and hedges (retry-budget.ts); absent = none. */
    budget: retryBudgetConfigSchema.optional(),
    /** Avoid hosts already tried (Envoy's previous_hosts predicate); absent = any host. */
    hostReselection: hostReselectionConfigSchema.optional(),
  })
  .refine((c) => !c.retriableStatusCodes?.length || c.on.includes('retriable-status-codes'), {
    message: "retriableStatusCodes take effect only with 'retriable-status-codes' in on (as in Envoy)",
    path: ['retriableStatusCodes'],
  });
export type RetryPolicyConfig = z.output<typeof retryPolicyConfigSchema>;

/** The parts of a policy that decide whether an outcome is retriable. */
export interface RetryConditions {
  readonly on: readonly (RetryOn | number)[];
  readonly retriableStatusCodes?: readonly number[];
}

/** gRPC status codes (grpc/status.proto). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * The gRPC status an HTTP status stands for: the inverse of google.rpc.Code's HTTP mapping
 * (2xx OK, 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND,
 * 409 ABORTED, 429 RESOURCE_EXHAUSTED, 499 CANCELLED, 500 INTERNAL, 501 UNIMPLEMENTED,
 * 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED; anything else UNKNOWN).
 */
export function grpcStatusOfHttp(status: number): number {
  if (status >= 200 && status < 300) return GrpcStatus.OK;
  switch (status) {
    case 400:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 409:
      return GrpcStatus.ABORTED;
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcStatus.CANCELLED;
    case 500:
      return GrpcStatus.INTERNAL;
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 503:
      return GrpcStatus.UNAVAILABLE;
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** Whether an HTTP response arrived for this outcome (else it is a reset, connect failure or timeout). */
export function hasResponse(outcome: Outcome): boolean {
  return outcome.kind === 'success' || ((outcome.kind === 'error' || outcome.kind === 'rejected') && outcome.status > 0);
}

/**
 * The gRPC status of an attempt as a gRPC client would see it: from the response's HTTP
 * status (grpcStatusOfHttp), UNAVAILABLE for a connect failure or reset, DEADLINE_EXCEEDED
 * for a timeout.
 */
export function grpcStatusOf(outcome: Outcome): number {
  if (hasResponse(outcome)) return grpcStatusOfHttp(outcome.status);
  return outcome.kind === 'timeout' ? GrpcStatus.DEADLINE_EXCEEDED : GrpcStatus.UNAVAILABLE;
}

// Condition bits.
const B_5XX = 1 << 0;
const B_GATEWAY = 1 << 1;
const B_RESET = 1 << 2;
const B_RESET_BEFORE = 1 << 3;
const B_CONNECT = 1 << 4;
const B_4XX = 1 << 5;
const B_REFUSED = 1 << 6;
const B_CODES = 1 << 7;
const B_G_CANCELLED = 1 << 8;
const B_G_DEADLINE = 1 << 9;
const B_G_INTERNAL = 1 << 10;
const B_G_EXHAUSTED = 1 << 11;
const B_G_UNAVAILABLE = 1 << 12;
const B_TIMEOUT = 1 << 13;
const B_ANY_GRPC = B_G_CANCELLED | B_G_DEADLINE | B_G_INTERNAL | B_G_EXHAUSTED | B_G_UNAVAILABLE;

const BIT: Record<RetryOn, number> = {
  '5xx': B_5XX,
  'gateway-error': B_GATEWAY,
  reset: B_RESET,
  'reset-before-request': B_RESET_BEFORE,
  'connect-failure': B_CONNECT,
  timeout: B_TIMEOUT,
  'retriable-4xx': B_4XX,
  'refused-stream': B_REFUSED,
  'retriable-status-codes': B_CODES,
  cancelled: B_G_CANCELLED,
  'deadline-exceeded': B_G_DEADLINE,
  internal: B_G_INTERNAL,
  'resource-exhausted': B_G_EXHAUSTED,
  unavailable: B_G_UNAVAILABLE,
};

/** A policy's conditions compiled to a bit mask and a status table, for O(1) matching. */
export class CompiledRetryConditions {
  readonly mask: number;
  /** retriable[status] = 1 for statuses listed by retriable-status-codes (or as numbers in `on`). */
  private readonly retriable = new Uint8Array(600);

  constructor(conditions: RetryConditions) {
    let mask = 0;
    for (const c of conditions.on) {
      if (typeof c === 'number') {
        mask |= B_CODES;
        this.retriable[c] = 1;
      } else {
        mask |= BIT[c];
      }
    }
    if (mask & B_CODES) for (const s of conditions.retriableStatusCodes ?? []) this.retriable[s] = 1;
    this.mask = mask;
  }

  /** Whether the outcome matches a condition (the per-request retry count aside). */
  matches(outcome: Outcome): boolean {
    const mask = this.mask;
    if (hasResponse(outcome)) {
      const s = outcome.status;
      if (mask & B_5XX && s >= 500 && s <= 599) return true;
      if (mask & B_GATEWAY && (s === 502 || s === 503 || s === 504)) return true;
      if (mask & B_4XX && s === 409) return true;
      if (mask & B_CODES && s >= 0 && s < 600 && this.retriable[s] === 1) return true;
      if (mask & B_ANY_GRPC) {
        switch (grpcStatusOfHttp(s)) {
          case GrpcStatus.CANCELLED:
            return (mask & B_G_CANCELLED) !== 0;
          case GrpcStatus.DEADLINE_EXCEEDED:
            return (mask & B_G_DEADLINE) !== 0;
          case GrpcStatus.INTERNAL:
            return (mask & B_G_INTERNAL) !== 0;
          case GrpcStatus.RESOURCE_EXHAUSTED:
            return (mask & B_G_EXHAUSTED) !== 0;
          case GrpcStatus.UNAVAILABLE:
            return (mask & B_G_UNAVAILABLE) !== 0;
        }
      }
      return false;
    }
    // No response: a reset of some kind (Envoy: wouldRetryFromReset).
    if (mask & (B_RESET | B_5XX | B_GATEWAY)) return true;
    if (outcome.kind === 'timeout') return (mask & B_TIMEOUT) !== 0;
    return outcome.kind === 'connect-failure' && (mask & (B_CONNECT | B_RESET_BEFORE)) !== 0;
  }
}

const compiled = new WeakMap<RetryConditions, CompiledRetryConditions>();

function compiledFor(conditions: RetryConditions): CompiledRetryConditions {
  let c = compiled.get(conditions);
  if (c === undefined) {
    c = new CompiledRetryConditions(conditions);
    compiled.set(conditions, c);
  }
  return c;
}

/** Whether `outcome` matches the retry conditions, whatever the retry count. */
export function retryOnMatches(outcome: Outcome, conditions: RetryConditions): boolean {
  return compiledFor(conditions).matches(outcome);
}

/**
 * Whether to retry after the attempt that just ended with `outcome`. `attempt` is the
 * number of retries (and hedges) the request already asked for, admitted or refused by the
 * budget (Envoy's num_retries − retries_remaining_); with no refusal, that attempt's 0-based
 * index, as in PickContext.attempt (0 = the original request). A retry is allowed while
 * attempt < max. Pure: the budget, backoff and hedging are asked separately.
 */
export function shouldRetry(outcome: Outcome, attempt: number, config: RetryConditions & { readonly max: number }): boolean {
  return attempt < config.max && compiledFor(config).matches(outcome);
}

/** A resolved policy with its conditions compiled once; the same decisions as shouldRetry. */
export class RetryPolicy {
  private readonly conditions: CompiledRetryConditions;
  readonly max: number;

  constructor(readonly config: RetryPolicyConfig) {
    this.conditions = new CompiledRetryConditions(config);
    this.max = config.max;
  }

  matches(outcome: Outcome): boolean {
    return this.conditions.matches(outcome);
  }

  shouldRetry(outcome: Outcome, attempt: number): boolean {
    return attempt < this.max && this.conditions.matches(outcome);
  }
}

/** Whether `index` is among the first `count` entries of `tried`. */
function includes(tried: ArrayLike<number>, count: number, index: number): boolean {
  for (let i = 0; i < count; i++) if (tried[i] === index) return true;
  return false;
}

/**
 * Envoy's host selection with the previous_hosts retry predicate: pick up to
 * 1 + maxAttempts times, returning the first pick not among the hosts already tried by this
 * request (`tried[0..triedCount)`, indices into the balancer's current endpoint array), else
 * the last pick; -1 (nothing to pick) is returned at once. Every pick is a real pick (a
 * round robin advances), as in Envoy's LoadBalancerBase::chooseHost.
 */
export function pickAvoidingPreviousHosts(
  balancer: { pick(ctx: PickContext): number },
  ctx: PickContext,
  tried: ArrayLike<number>,
  triedCount: number,
  maxAttempts: number,
): number {
  let host = -1;
  for (let i = 0; i <= maxAttempts; i++) {
    host = balancer.pick(ctx);
    if (host < 0 || !includes(tried, triedCount, host)) return host;
  }
  return host;
}
