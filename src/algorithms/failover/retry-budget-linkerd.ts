/**
 * Token retry budgets over a sliding time window: Finagle's RetryBudget and Linkerd's
 * (linkerd2-proxy, tower's TpsBudget, which copies Finagle's). Requests deposit tokens,
 * retries withdraw them, tokens expire after about `ttl`, and a reserve of
 * minRetriesPerSecond × ttl retries is always available, so roughly
 *   retries ≤ retryRatio × requests (over the last ttl) + minRetriesPerSecond × ttl.
 * Defaults (both): retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s.
 *
 * Finagle (RetryBudget.apply / TokenRetryBudget / TokenBucket.newLeakyBucket / WindowedAdder):
 *   deposit 1000, withdraw ⌊1000 / ratio⌋ (ratio 0: deposit 0, withdraw 1), reserve
 *   minRetriesPerSec × ⌊ttl in s⌋ × withdraw; a withdrawal succeeds when windowed sum +
 *   reserve ≥ withdraw. The window is 10 slices of ⌊ttl/10⌋ (the running slice + 9 kept),
 *   advanced lazily on each call from the time of the previous advance, skipping slices
 *   left empty. A deposit is made by every request as it starts (RetryFilter.apply).
 * Linkerd (tower TpsBudget, used by linkerd2-proxy for ServiceProfile retryBudget):
 *   deposit 1, withdraw ⌊1 / ratio⌋ in f32 (ratio > 1: 1000 and ⌊1000 / ratio⌋; 0: 0 and
 *   1), reserve minRetriesPerSecond × ⌊ttl in s⌋ × withdraw; 10 slots of ttl/10 plus the
 *   running one. linkerd2-proxy deposits when an attempt's response is NOT retryable (so
 *   about once per request that ends without asking for a retry) and withdraws per retry.
 *
 * The lazy windows make the effective memory depend on call timing: a token is kept at
 * least 9 slices and less than 21 (Finagle), at least 4.5 and less than 11 (tower) — see
 * the budget property tests. Where meshsim differs: times are float ms (Finagle truncates
 * to whole ms); ttl is limited to [1 s, 60 s] in ms (Finagle checks whole seconds).
 */
import { z } from 'zod';
import type { Clock } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { RetryLimiter } from './retry-limiter.js';

const budgetOptions = {
  /** Retries allowed per deposit (Linkerd retryRatio, Finagle percentCanRetry), 0..1000. */
  retryRatio: z.number().min(0).max(1000).default(0.2),
  /** Retries per second always allowed (Linkerd minRetriesPerSecond, Finagle minRetriesPerSec). */
  minRetriesPerSecond: z.number().int().min(0).default(10),
  /** How long a deposit counts. */
  ttl: zDuration.refine((ms) => ms >= 1000 && ms <= 60_000, { message: 'ttl must be between 1s and 60s' }).default(10_000),
};

export const finagleRetryBudgetConfigSchema = z.strictObject({ kind: z.literal('finagle'), ...budgetOptions });
export type FinagleRetryBudgetConfig = z.output<typeof finagleRetryBudgetConfigSchema>;

export const linkerdRetryBudgetConfigSchema = z.strictObject({ kind: z.literal('linkerd'), ...budgetOptions });
export type LinkerdRetryBudgetConfig = z.output<typeof linkerdRetryBudgetConfigSchema>;

/** Common options of both budgets. */
export interface TokenBudgetOptions {
  readonly retryRatio: number;
  readonly minRetriesPerSecond: number;
  /** ms */
  readonly ttl: number;
}

/** Finagle's token amounts: deposit 1000, withdraw ⌊1000/ratio⌋ (ratio 0: 0 and 1). */
export function finagleTokenAmounts(options: TokenBudgetOptions): { deposit: number; withdraw: number; reserve: number } {
  const deposit = options.retryRatio === 0 ? 0 : 1000;
  const withdraw = options.retryRatio === 0 ? 1 : Math.trunc(1000 / options.retryRatio);
  return { deposit, withdraw, reserve: options.minRetriesPerSecond * Math.trunc(options.ttl / 1000) * withdraw };
}

/** tower's token amounts (f32 arithmetic): ratio ≤ 1 → 1 and ⌊1/ratio⌋; ratio > 1 → 1000 and ⌊1000/ratio⌋; 0 → 0 and 1. */
export function towerTokenAmounts(options: TokenBudgetOptions): { deposit: number; withdraw: number; reserve: number } {
  const r = Math.fround(options.retryRatio);
  let deposit: number;
  let withdraw: number;
  if (r === 0) {
    deposit = 0;
    withdraw = 1;
  } else if (r <= 1) {
    deposit = 1;
    withdraw = Math.trunc(Math.fround(1 / r));
  } else {
    deposit = 1000;
    withdraw = Math.trunc(Math.fround(1000 / r));
  }
  return { deposit, withdraw, reserve: options.minRetriesPerSecond * Math.trunc(options.ttl / 1000) * withdraw };
}

/**
 * Finagle's WindowedAdder(range, slices = 10): a running slice (`writer`) plus slices − 1
 * kept ones; a slice ends on the first call at least `window` = ⌊range/slices⌋ after the
 * previous slice started, and ⌊gap/window⌋ − 1 further slices are cleared for a long gap.
 */
export class FinagleWindowedAdder {
  private readonly window: number;
  private readonly n: number;
  private readonly buf: Float64Array;
  private writer = 0;
  private i = 0;
  private old: number;

  constructor(
    private readonly clock: Clock,
    range: number,
    slices = 10,
  ) {
    if (!(slices > 1)) throw new RangeError(`slices must be > 1, got ${slices}`);
    this.window = Math.floor(range / slices);
    if (!(this.window > 0)) throw new RangeError(`range / slices must be ≥ 1 ms, got ${range} / ${slices}`);
    this.n = slices - 1;
    this.buf = new Float64Array(this.n);
    this.old = clock.now();
  }

  add(x: number): void {
    const now = this.clock.now();
    if (now - this.old >= this.window) this.expired(now);
    this.writer += x;
  }

  sum(): number {
    const now = this.clock.now();
    if (now - this.old >= this.window) this.expired(now);
    let s = this.writer;
    for (let k = 0; k < this.n; k++) s += this.buf[k];
    return s;
  }

  private expired(now: number): void {
    const n = this.n;
    this.buf[this.i] = this.writer;
    this.writer = 0;
    this.i = (this.i + 1) % n;
    const nskip = Math.min(Math.floor((now - this.old) / this.window) - 1, n);
    if (nskip > 0) {
      const r = Math.min(nskip, n - this.i);
      this.buf.fill(0, this.i, this.i + r);
      this.buf.fill(0, 0, nskip - r);
      this.i = (this.i + nskip) % n;
    }
    this.old = now;
  }
}

/**
 * tower's TpsBucket window: 10 kept slots of ttl/10 plus the running one (`writer`); on the
 * first call at least one slot-width after the previous advance the writer is committed to
 * the current slot and ⌈gap/width⌉ − 1 following slots are cleared.
 */
export class TowerTpsWindow {
  private readonly width: number;
  private readonly slots: Float64Array;
  private writer = 0;
  private index = 0;
  private time: number;

  constructor(
    private readonly clock: Clock,
    ttl: number,
    slots = 10,
  ) {
    this.width = ttl / slots;
    if (!(this.width > 0)) throw new RangeError(`ttl / slots must be > 0, got ${ttl} / ${slots}`);
    this.slots = new Float64Array(slots);
    this.time = clock.now();
  }

  add(x: number): void {
    this.expire();
    this.writer += x;
  }

  sum(): number {
    this.expire();
    let s = this.writer;
    for (let k = 0; k < this.slots.length; k++) s += this.slots[k];
    return s;
  }

  private expire(): void {
    const now = this.clock.now();
    const diff = Math.max(0, now - this.time);
    if (diff < this.width) return;
    const len = this.slots.length;
    this.slots[this.index] = this.writer;
    this.writer = 0;
    // tower clears one slot per whole width beyond the first: ⌈diff/width⌉ − 1 of them.
    const clear = Math.ceil(diff / this.width) - 1;
    let idx = (this.index + 1) % len;
    for (let k = 0; k < Math.min(clear, len); k++) {
      this.slots[idx] = 0;
      idx = (idx + 1) % len;
    }
    if (clear > len) idx = (idx + (clear - len)) % len;
    this.index = idx;
    this.time = now;
  }
}

/** Finagle's TokenRetryBudget: every request deposits as it starts, every retry withdraws. */
export class FinagleRetryBudget implements RetryLimiter {
  readonly depositAmount: number;
  readonly withdrawalAmount: number;
  readonly reserve: number;
  private readonly adder: FinagleWindowedAdder;

  constructor(options: TokenBudgetOptions, clock: Clock) {
    const a = finagleTokenAmounts(options);
    this.depositAmount = a.deposit;
    this.withdrawalAmount = a.withdraw;
    this.reserve = a.reserve;
    this.adder = new FinagleWindowedAdder(clock, options.ttl, 10);
  }

  /** Tokens now: windowed sum + reserve (may be negative once deposits expire). */
  get count(): number {
    return this.adder.sum() + this.reserve;
  }

  /** Retries that could be made now (Finagle's `balance`). */
  get balance(): number {
    return Math.trunc(this.count / this.withdrawalAmount);
  }

  deposit(): void {
    this.adder.add(this.depositAmount);
  }

  /** Withdraws one retry's worth if the balance covers it. */
  tryWithdraw(): boolean {
    if (this.count < this.withdrawalAmount) return false;
    this.adder.add(-this.withdrawalAmount);
    return true;
  }

  // RetryLimiter
  onRequest(): void {
    this.deposit();
  }
  onAttemptStart(): void {}
  onAttemptResult(_retriableFailure: boolean): void {}
  tryRetry(): boolean {
    return this.tryWithdraw();
  }
  onRetryEnd(): void {}
  onAttemptEnd(): void {}
  onRequestEnd(_success: boolean): void {}
}

/** Linkerd's budget (tower TpsBudget): a deposit per non-retryable response, a withdrawal per retry. */
export class LinkerdRetryBudget implements RetryLimiter {
  readonly depositAmount: number;
  readonly withdrawalAmount: number;
  readonly reserve: number;
  private readonly window: TowerTpsWindow;

  constructor(options: TokenBudgetOptions, clock: Clock) {
    const a = towerTokenAmounts(options);
    this.depositAmount = a.deposit;
    this.withdrawalAmount = a.withdraw;
    this.reserve = a.reserve;
    this.window = new TowerTpsWindow(clock, options.ttl, 10);
  }

  /** Tokens now: windowed sum + reserve. */
  get count(): number {
    return this.window.sum() + this.reserve;
  }

  deposit(): void {
    this.window.add(this.depositAmount);
  }

  /** Withdraws one retry's worth if the balance covers it. */
  withdraw(): boolean {
    if (this.count < this.withdrawalAmount) return false;
    this.window.add(-this.withdrawalAmount);
    return true;
  }

  // RetryLimiter
  onRequest(): void {}
  onAttemptStart(): void {}
  onAttemptResult(retriableFailure: boolean): void {
    if (!retriableFailure) this.deposit();
  }
  tryRetry(): boolean {
    return this.withdraw();
  }
  onRetryEnd(): void {}
  onAttemptEnd(): void {}
  onRequestEnd(_success: boolean): void {}
}
