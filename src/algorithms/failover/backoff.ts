/**
 * Retry backoff: Envoy's fully jittered exponential backoff exactly as its code computes it,
 * and gRPC A6's.
 *
 * Envoy (JitteredExponentialBackOffStrategy, one per request, built by RetryStateImpl):
 * base B (default 25 ms) and max M (default 10 × B); each retry waits `random() % interval`
 * whole ms, the interval starting at B and doubling while it is below ⌊M/2⌋, else becoming
 * M. Defaults: retry 1 in [0,25), 2 in [0,50), 3 in [0,100), 4 in [0,200), then [0,250) ms.
 * [CONFLICT] Envoy's docs say retry N waits in [0, (2^N − 1)·B); the code is modelled.
 * Durations are whole ms as in Envoy (B below 1 ms counts as 1 ms, fractions are dropped).
 *
 * gRPC (A6): retry n waits U(0, min(initialBackoff · multiplier^(n−1), maxBackoff)),
 * continuous; A6 gives no defaults (all three are required). Server pushback is not modelled.
 *
 * Where meshsim differs: Envoy's uint64 `random() % interval` becomes ⌊u · interval⌋ for u
 * from the Rng (both uniform on 0..interval−1, up to a bias below 2^−32).
 */
import { z } from 'zod';
import type { Rng } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';

export const envoyBackoffConfigSchema = z
  .strictObject({
    kind: z.literal('envoy').default('envoy'),
    /** base_interval. */
    base: zDuration.refine((ms) => ms > 0, { message: 'backoff.base must be longer than 0s' }).default(25),
    /** max_interval; absent = 10 × base (250 ms for the default base). */
    max: zDuration.optional(),
  })
  .refine((c) => c.max === undefined || c.max >= c.base, { message: 'backoff.max must be at least backoff.base', path: ['max'] });
export type EnvoyBackoffConfig = z.output<typeof envoyBackoffConfigSchema>;

export const grpcBackoffConfigSchema = z.strictObject({
  kind: z.literal('grpc'),
  /** initialBackoff. */
  initial: zDuration.refine((ms) => ms > 0, { message: 'backoff.initial must be longer than 0s' }),
  /** maxBackoff. */
  max: zDuration.refine((ms) => ms > 0, { message: 'backoff.max must be longer than 0s' }),
  /** backoffMultiplier. */
  multiplier: z.number().positive(),
});
export type GrpcBackoffConfig = z.output<typeof grpcBackoffConfigSchema>;

/** `{ base, max }` (Envoy, the default) or `{ kind: grpc, initial, max, multiplier }`. */
export const backoffConfigSchema = z.union([envoyBackoffConfigSchema, grpcBackoffConfigSchema]);
export type BackoffConfig = z.output<typeof backoffConfigSchema>;

/** A per-request backoff sequence. */
export interface Backoff {
  /** Delay before the next retry, ms. */
  next(): number;
  /** Start over (a new request). */
  reset(): void;
}

/** Envoy's whole-ms base and max: B = max(1, ⌊base⌋), M = ⌊max ?? 10·B⌋ (at least B). */
export function envoyBackoffBounds(base: number, max?: number): { base: number; max: number } {
  const b = Math.max(1, Math.floor(base));
  const m = max === undefined ? b * 10 : Math.max(b, Math.floor(max));
  return { base: b, max: m };
}

/** The interval the n-th retry (1-based) draws from, [0, interval) ms, for whole-ms B and M. */
export function envoyBackoffInterval(retry: number, base: number, max: number): number {
  const doublingLimit = Math.floor(max / 2);
  let interval = base;
  for (let k = 1; k < retry; k++) {
    interval = interval < doublingLimit ? interval * 2 : max;
    if (interval === max) break;
  }
  return interval;
}

/** Envoy's JitteredExponentialBackOffStrategy: whole ms, uniform on 0..interval−1. */
export class EnvoyBackoff implements Backoff {
  readonly base: number;
  readonly max: number;
  private readonly doublingLimit: number;
  private interval: number;

  /** `base` and `max` in ms (max defaults to 10 × base), rounded to whole ms as Envoy does. */
  constructor(
    private readonly rng: Rng,
    base = 25,
    max?: number,
  ) {
    const b = envoyBackoffBounds(base, max);
    this.base = b.base;
    this.max = b.max;
    this.doublingLimit = Math.floor(this.max / 2);
    this.interval = this.base;
  }

  /** The interval the next call draws from. */
  get nextInterval(): number {
    return this.interval;
  }

  next(): number {
    const interval = this.interval;
    this.interval = interval < this.doublingLimit ? interval * 2 : this.max;
    return Math.floor(this.rng.next() * interval);
  }

  reset(): void {
    this.interval = this.base;
  }
}

/** gRPC A6's cap for the n-th retry (1-based): min(initial · multiplier^(n−1), max). */
export function grpcBackoffCap(retry: number, initial: number, multiplier: number, max: number): number {
  return Math.min(initial * Math.pow(multiplier, retry - 1), max);
}

/** gRPC A6's delay for the n-th retry given a uniform draw u ∈ [0, 1): u · min(initial · multiplier^(n−1), max). */
export function grpcBackoffDelay(retry: number, initial: number, multiplier: number, max: number, u: number): number {
  return u * grpcBackoffCap(retry, initial, multiplier, max);
}

/** gRPC A6's backoff: retry n waits U(0, min(initial · multiplier^(n−1), max)). */
export class GrpcBackoff implements Backoff {
  private retries = 0;

  constructor(
    private readonly rng: Rng,
    readonly initial: number,
    readonly multiplier: number,
    readonly max: number,
  ) {
    if (!(initial > 0 && max > 0 && multiplier > 0)) throw new RangeError('gRPC backoff needs initial > 0, max > 0 and multiplier > 0');
  }

  next(): number {
    this.retries++;
    return this.rng.next() * grpcBackoffCap(this.retries, this.initial, this.multiplier, this.max);
  }

  reset(): void {
    this.retries = 0;
  }

  /** Retries drawn since the last reset. */
  get drawn(): number {
    return this.retries;
  }
}

/** The backoff for a resolved config; one per request (or one reused with reset() per request). */
export function createBackoff(config: BackoffConfig, rng: Rng): Backoff {
  return config.kind === 'grpc' ? new GrpcBackoff(rng, config.initial, config.multiplier, config.max) : new EnvoyBackoff(rng, config.base, config.max);
}
