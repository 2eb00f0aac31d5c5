/**
 * Client-side adaptive throttling (Google SRE book, ch. 21 "Handling Overload"): a client
 * counts, over the last 2 minutes, the requests its application attempted (including those
 * it then rejected itself) and the requests the backend accepted, and rejects a new request
 * locally with probability
 *   max(0, (requests − K · accepts) / (requests + 1)),   K = 2.
 * While the backend accepts everything the probability is 0; once requests exceed K times
 * the accepts, the client sheds the excess before it reaches the backend.
 *
 * Counts live in two rings of buckets (default 120 × 1 s): the window is the running bucket
 * plus the 119 before it, so it spans between 119 and 120 s. The probability is computed
 * from the history before the request being admitted, which is then counted; a rejection is
 * drawn from the Rng (reject iff u < p; no draw while p = 0). Costs O(1) per call (amortised
 * over bucket changes; at most one pass over the ring after a long idle gap).
 *
 * Requests and accepts count the same unit: the request the application sends (the
 * pipeline's call), never its attempts. The pipeline calls admit() once per call, before
 * any attempt, and onAccepted() once per call whose final answer is an accept
 * ({@link throttleAccepts}); its retries and hedges count neither, so they cannot add
 * accepts without requests and hide an overload. Envoy's admission_control filter, which
 * applies this formula, likewise sits before the router and counts each downstream request
 * once, by its final response. The book leaves "accepted" to the client: meshsim counts
 * any answer that is not the backend refusing the request for overload (not a 'rejected'
 * outcome, a 429 or a 503); a timeout, reset or connect failure is none. Where meshsim
 * differs: the book does not fix the bucketing. (Envoy's admission_control records no
 * sample for a request it rejects itself and counts successes by configurable status
 * codes; gRPC's RLS throttler, a variant, uses 30 s in 100 bins, counts requests as
 * accepts + throttles, and pads the denominator with 8 instead of 1.)
 */
import { z } from 'zod';
import type { Clock, Rng } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { Outcome } from '../types.js';

export const adaptiveThrottlingConfigSchema = z
  .strictObject({
    /** K: how many requests per accept are let through before shedding (the book: 2; lower is more aggressive). */
    k: z.number().positive().default(2),
    /** History length (the book: 2 minutes). */
    window: zDuration.refine((ms) => ms > 0, { message: 'window must be longer than 0s' }).default(120_000),
    /** Buckets the window is kept in. */
    buckets: z.number().int().min(1).max(100_000).default(120),
  })
  .refine((c) => c.window / c.buckets > 0, { message: 'window / buckets must be > 0', path: ['buckets'] });
export type AdaptiveThrottlingConfig = z.output<typeof adaptiveThrottlingConfigSchema>;

/**
 * Whether a request's final answer counts as an accept: the backend answered, and not with
 * an overload refusal (429, 503, or the sidecar's own local rejection). A timeout, reset or
 * connect failure is no accept.
 */
export function throttleAccepts(outcome: Outcome): boolean {
  const status = outcome.status;
  const answered = outcome.kind === 'success' || (outcome.kind === 'error' && status > 0);
  return answered && status !== 503 && status !== 429;
}

/** The SRE book's client request rejection probability: max(0, (requests − k·accepts) / (requests + 1)). */
export function adaptiveRejectProbability(requests: number, accepts: number, k: number): number {
  return Math.max(0, (requests - k * accepts) / (requests + 1));
}

export class AdaptiveThrottle {
  private readonly bucketMs: number;
  private readonly n: number;
  private readonly requestsRing: Float64Array;
  private readonly acceptsRing: Float64Array;
  private requestsSum = 0;
  private acceptsSum = 0;
  /** Absolute index (⌊t / bucketMs⌋) of the running bucket. */
  private head: number;
  readonly k: number;

  constructor(
    config: AdaptiveThrottlingConfig,
    private readonly clock: Clock,
    private readonly rng: Rng,
  ) {
    this.n = config.buckets;
    this.bucketMs = config.window / config.buckets;
    if (!(this.bucketMs > 0)) throw new RangeError(`window / buckets must be > 0, got ${config.window} / ${config.buckets}`);
    this.k = config.k;
    this.requestsRing = new Float64Array(this.n);
    this.acceptsRing = new Float64Array(this.n);
    this.head = Math.floor(clock.now() / this.bucketMs);
  }

  /** Requests counted in the window. */
  get requests(): number {
    this.advance();
    return this.requestsSum;
  }

  /** Accepts counted in the window. */
  get accepts(): number {
    this.advance();
    return this.acceptsSum;
  }

  /** The probability that admit() rejects a request now. */
  rejectProbability(): number {
    this.advance();
    return adaptiveRejectProbability(this.requestsSum, this.acceptsSum, this.k);
  }

  /** Counts a request the application wants to send; returns false to reject it locally. */
  admit(): boolean {
    const p = this.rejectProbability();
    const slot = this.head % this.n;
    this.requestsRing[slot]++;
    this.requestsSum++;
    return !(p > 0 && this.rng.next() < p);
  }

  /** The backend accepted a request: its final answer was not an overload refusal (see {@link throttleAccepts}). */
  onAccepted(): void {
    this.advance();
    this.acceptsRing[this.head % this.n]++;
    this.acceptsSum++;
  }

  /** Moves the running bucket to now, clearing the buckets that left the window. */
  private advance(): void {
    const b = Math.floor(this.clock.now() / this.bucketMs);
    if (b <= this.head) return;
    const steps = Math.min(b - this.head, this.n);
    for (let s = 1; s <= steps; s++) {
      const slot = (this.head + s) % this.n;
      this.requestsSum -= this.requestsRing[slot];
      this.acceptsSum -= this.acceptsRing[slot];
      this.requestsRing[slot] = 0;
      this.acceptsRing[slot] = 0;
    }
    this.head = b;
    if (steps === this.n) {
      // Everything left the window: reset the sums exactly (no float drift).
      this.requestsSum = 0;
      this.acceptsSum = 0;
    }
  }
}
