/**
 * Token retry budgets: Finagle's (WindowedAdder) and Linkerd's (tower TpsBudget). Token
 * arithmetic, the upstream projects' own window examples, the ratio and reserve with time
 * frozen, and a property bounding admitted retries by deposits and reserve.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FinagleRetryBudget,
  finagleRetryBudgetConfigSchema,
  finagleTokenAmounts,
  FinagleWindowedAdder,
  LinkerdRetryBudget,
  linkerdRetryBudgetConfigSchema,
  TowerTpsWindow,
  towerTokenAmounts,
} from '../../../src/algorithms/failover/retry-budget-linkerd.js';
import { virtualTime } from './_retry-fixtures.js';

const opts = (retryRatio: number, minRetriesPerSecond: number, ttl: number) => ({ retryRatio, minRetriesPerSecond, ttl });

describe('token amounts', () => {
  it('Finagle: deposit 1000, withdraw ⌊1000/ratio⌋, reserve min × ⌊ttl s⌋ × withdraw', () => {
    expect(finagleTokenAmounts(opts(0.2, 10, 10_000))).toEqual({ deposit: 1000, withdraw: 5000, reserve: 500_000 });
    expect(finagleTokenAmounts(opts(0.3, 10, 10_000)).withdraw).toBe(3333);
    expect(finagleTokenAmounts(opts(2, 0, 10_000))).toEqual({ deposit: 1000, withdraw: 500, reserve: 0 });
    expect(finagleTokenAmounts(opts(0, 5, 2500))).toEqual({ deposit: 0, withdraw: 1, reserve: 10 });
  });

  it('tower (Linkerd): deposit 1, withdraw ⌊1/ratio⌋ in f32; ratio > 1 scales by 1000', () => {
    expect(towerTokenAmounts(opts(0.2, 10, 10_000))).toEqual({ deposit: 1, withdraw: 5, reserve: 500 });
    expect(towerTokenAmounts(opts(0.3, 10, 10_000)).withdraw).toBe(3); // 3.33… truncated: effectively ratio 1/3
    expect(towerTokenAmounts(opts(0.75, 0, 10_000)).withdraw).toBe(1); // effectively ratio 1
    expect(towerTokenAmounts(opts(2, 0, 10_000))).toEqual({ deposit: 1000, withdraw: 500, reserve: 0 });
    expect(towerTokenAmounts(opts(0, 5, 2000))).toEqual({ deposit: 0, withdraw: 1, reserve: 10 });
  });
});

describe("Finagle's WindowedAdder (the examples of Finagle's WindowedAdderTest: 3 s in 3 slices)", () => {
  const setup = () => {
    const t = virtualTime();
    return { t, a: new FinagleWindowedAdder(t.engine, 3000, 3) };
  };

  it('sums while time stands still', () => {
    const { a } = setup();
    a.add(1);
    a.add(1);
    a.add(3);
    expect(a.sum()).toBe(5);
  });

  it('slides', () => {
    const { t, a } = setup();
    a.add(1);
    t.advance(1000);
    expect(a.sum()).toBe(1);
    a.add(2);
    expect(a.sum()).toBe(3);
    t.advance(1000);
    expect(a.sum()).toBe(3);
    t.advance(1000);
    expect(a.sum()).toBe(2);
    t.advance(1000);
    expect(a.sum()).toBe(0);
  });

  it('slides over skipped slices', () => {
    const { t, a } = setup();
    a.add(1);
    t.advance(1000);
    a.add(2);
    expect(a.sum()).toBe(3);
    t.advance(1000);
    a.add(1);
    expect(a.sum()).toBe(4);
    t.advance(2000);
    expect(a.sum()).toBe(1);
    t.advance(100_000);
    expect(a.sum()).toBe(0);
    a.add(100);
    t.advance(1000);
    expect(a.sum()).toBe(100);
    a.add(100);
    t.advance(1000);
    a.add(100);
    expect(a.sum()).toBe(300);
    t.advance(100_000);
    expect(a.sum()).toBe(0);
  });

  it('keeps negative sums', () => {
    const { t, a } = setup();
    a.add(-2);
    a.add(4);
    expect(a.sum()).toBe(2);
    t.advance(1000);
    a.add(-2);
    a.add(-2);
    expect(a.sum()).toBe(-2);
    t.advance(1000);
    a.add(-2);
    expect(a.sum()).toBe(-4);
    t.advance(1000);
    expect(a.sum()).toBe(-6);
    t.advance(1000);
    expect(a.sum()).toBe(-2);
    t.advance(1000);
    expect(a.sum()).toBe(0);
  });
});

describe("tower's TpsBudget window (the examples of tower's own tests)", () => {
  it('a lone deposit leaks away', () => {
    const t = virtualTime();
    const b = new LinkerdRetryBudget(opts(1, 0, 1000), t.engine);
    b.deposit();
    t.advance(3000);
    expect(b.withdraw()).toBe(false);
  });

  it('slots: deposits stay valid about a ttl, then expire slot by slot', () => {
    const t = virtualTime();
    const b = new LinkerdRetryBudget(opts(0.5, 0, 1000), t.engine);
    b.deposit();
    b.deposit();
    t.advance(901);
    expect(b.withdraw()).toBe(true);
    t.advance(2001); // blank slate
    b.deposit();
    t.advance(301);
    b.deposit();
    t.advance(801);
    b.deposit();
    // the first of these deposits has expired, the second still counts with the third
    expect(b.withdraw()).toBe(true);
  });

  it('reserve: min × ttl retries with no deposits', () => {
    const t = virtualTime();
    const b = new LinkerdRetryBudget(opts(1, 5, 1000), t.engine);
    expect([1, 2, 3, 4, 5, 6].map(() => b.withdraw())).toEqual([true, true, true, true, true, false]);
  });

  it('clears ⌈gap/width⌉ − 1 slots and keeps the next one until it is written', () => {
    const t = virtualTime();
    const w = new TowerTpsWindow(t.engine, 1000, 10); // 100 ms slots
    w.add(1); // running slot
    t.advance(100);
    w.add(0); // commits the 1 to slot 0
    expect(w.sum()).toBe(1);
    t.advance(850); // clears ⌈850/100⌉ − 1 = 8 slots, ending on slot 0, which still counts …
    expect(w.sum()).toBe(1);
    t.advance(100); // … until the next advance writes the running slot into it (10.5 widths after the add)
    expect(w.sum()).toBe(0);
  });
});

/** Requests then one retry try each, time frozen (as Finagle's RetryBudgetTest does). */
function frozenRetries(withdraw: () => boolean, deposit: () => void, n: number): number {
  let retried = 0;
  for (let i = 0; i < n; i++) {
    deposit();
    if (withdraw()) retried++;
  }
  return retried;
}

describe('ratio and reserve with time frozen', () => {
  it('Finagle: ⌊n · ratio⌋ + min × ttl retries (± 1 for the token rounding)', () => {
    for (const [ratio, min, ttl] of [
      [0.1, 0, 60_000],
      [0.5, 0, 60_000],
      [0.25, 0, 60_000],
      [0.75, 0, 60_000],
      [0.99, 0, 60_000],
      [0.01, 0, 60_000],
      [0.001, 0, 60_000],
      [0, 10, 1000],
      [0, 5, 2000],
      [0.1, 10, 1000],
      [0.5, 5, 2000],
      [0.2, 10, 10_000],
    ]) {
      const t = virtualTime();
      const b = new FinagleRetryBudget(opts(ratio, min, ttl), t.engine);
      expect(b.balance).toBe(min * (ttl / 1000));
      let nonZeroOnRefusal = 0;
      const retried = frozenRetries(
        () => {
          const ok = b.tryWithdraw();
          if (!ok && b.balance !== 0) nonZeroOnRefusal++;
          return ok;
        },
        () => b.deposit(),
        10_000,
      );
      expect(nonZeroOnRefusal).toBe(0);
      expect(Math.abs(retried - (Math.floor(10_000 * ratio) + min * (ttl / 1000)))).toBeLessThanOrEqual(1);
    }
  });

  it('Finagle: ratio above 1 gives several retries per request', () => {
    const t = virtualTime();
    const b = new FinagleRetryBudget(opts(2, 0, 60_000), t.engine);
    expect(b.tryWithdraw()).toBe(false);
    for (let i = 0; i < 10_000; i++) b.deposit();
    expect(b.balance).toBe(20_000);
  });

  it("Linkerd: the same with tower's integer tokens (exact when 1/ratio is whole, coarser otherwise)", () => {
    for (const [ratio, min, ttl, expected] of [
      [0.1, 0, 60_000, 1000],
      [0.2, 0, 60_000, 2000],
      [0.25, 0, 60_000, 2500],
      [0.5, 0, 60_000, 5000],
      [0.75, 0, 60_000, 10_000], // withdraw ⌊1/0.75⌋ = 1: every request may be retried
      [0.2, 10, 10_000, 2100],
      [0, 5, 2000, 10],
    ]) {
      const t = virtualTime();
      const b = new LinkerdRetryBudget(opts(ratio, min, ttl), t.engine);
      expect(frozenRetries(() => b.withdraw(), () => b.deposit(), 10_000)).toBe(expected);
    }
  });
});

describe('defaults and expiry over time', () => {
  it('have Linkerd/Finagle defaults: ratio 0.2, 10 retries/s, ttl 10 s', () => {
    expect(linkerdRetryBudgetConfigSchema.parse({ kind: 'linkerd' })).toEqual({ kind: 'linkerd', retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10_000 });
    expect(finagleRetryBudgetConfigSchema.parse({ kind: 'finagle', ttl: '30s' }).ttl).toBe(30_000);
    expect(finagleRetryBudgetConfigSchema.safeParse({ kind: 'finagle', ttl: '500ms' }).success).toBe(false);
    expect(finagleRetryBudgetConfigSchema.safeParse({ kind: 'finagle', ttl: '61s' }).success).toBe(false);
    expect(linkerdRetryBudgetConfigSchema.safeParse({ kind: 'linkerd', retryRatio: -0.1 }).success).toBe(false);
  });

  type Clock = ReturnType<typeof virtualTime>['engine'];
  for (const [name, make] of [
    ['Finagle', (clock: Clock) => new FinagleRetryBudget(opts(0.2, 10, 10_000), clock)],
    ['Linkerd', (clock: Clock) => new LinkerdRetryBudget(opts(0.2, 10, 10_000), clock)],
  ] as const) {
    it(`${name}: deposits count for a while, then only the reserve is left`, () => {
      const t = virtualTime();
      const b = make(t.engine);
      for (let i = 0; i < 500; i++) b.deposit(); // +100 retries
      t.advance(4000); // within 4.5 slices (tower) and 9 (Finagle): all deposits still count
      let n = 0;
      while (b.tryRetry()) n++;
      expect(n).toBe(200);
      const u = virtualTime();
      const fresh = make(u.engine);
      for (let i = 0; i < 500; i++) fresh.deposit();
      u.advance(25_000); // beyond 21 slices (Finagle) and 11 (tower): gone
      n = 0;
      while (fresh.tryRetry()) n++;
      expect(n).toBe(100);
    });
  }
});

describe('RetryLimiter wiring', () => {
  it('Finagle deposits per request, Linkerd per non-retryable result', () => {
    const t = virtualTime();
    const f = new FinagleRetryBudget(opts(1, 0, 10_000), t.engine);
    f.onAttemptResult(false);
    expect(f.tryRetry()).toBe(false);
    f.onRequest();
    expect(f.tryRetry()).toBe(true);
    const l = new LinkerdRetryBudget(opts(1, 0, 10_000), t.engine);
    l.onRequest();
    l.onAttemptResult(true);
    expect(l.tryRetry()).toBe(false);
    l.onAttemptResult(false);
    expect(l.tryRetry()).toBe(true);
  });
});

describe('property: admitted retries are bounded by deposits and reserve', () => {
  // A token added at time s is still in the window at τ if τ − s ≤ kept_min, and certainly
  // gone if τ − s ≥ kept_max (lazy windows; derived from the slice-advance rules):
  //   Finagle (10 slices of w = ⌊ttl/10⌋): kept_min = 9w, kept_max = 21w;
  //   tower   (10 slots + running, w = ttl/10): kept_min = 4.5w, kept_max = 11w.
  // A withdrawal at τ needs windowed sum + reserve ≥ W, so
  //   W · #withdrawals in [τ − kept_min, τ] (this one included) ≤ D · #deposits in (τ − kept_max, τ] + R.
  const step = fc.record({ dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 90, max: 210 })), deposits: fc.integer({ min: 0, max: 8 }), retries: fc.integer({ min: 0, max: 4 }) });

  for (const variant of ['finagle', 'linkerd'] as const) {
    it(variant, () => {
      fc.assert(
        fc.property(
          fc.record({ ratio: fc.constantFrom(0, 0.1, 0.2, 0.5, 1, 2), min: fc.constantFrom(0, 1, 3), ttl: fc.constantFrom(1000, 2000, 10_000) }),
          fc.array(step, { minLength: 1, maxLength: 150 }),
          ({ ratio, min, ttl }, steps) => {
            const t = virtualTime();
            const o = opts(ratio, min, ttl);
            const b = variant === 'finagle' ? new FinagleRetryBudget(o, t.engine) : new LinkerdRetryBudget(o, t.engine);
            const w = variant === 'finagle' ? Math.floor(ttl / 10) : ttl / 10;
            const keptMin = variant === 'finagle' ? 9 * w : 4.5 * w;
            const keptMax = variant === 'finagle' ? 21 * w : 11 * w;
            const deposits: number[] = [];
            const withdrawals: number[] = [];
            for (const s of steps) {
              t.advance(s.dt);
              const now = t.engine.now();
              for (let i = 0; i < s.deposits; i++) {
                b.deposit();
                deposits.push(now);
              }
              for (let i = 0; i < s.retries; i++) {
                if (!b.tryRetry()) continue;
                withdrawals.push(now);
                const recentW = withdrawals.filter((x) => now - x <= keptMin).length;
                const recentD = deposits.filter((x) => now - x < keptMax).length;
                expect(b.withdrawalAmount * recentW).toBeLessThanOrEqual(b.depositAmount * recentD + b.reserve);
              }
            }
          },
        ),
        { seed: variant === 'finagle' ? 21 : 22, numRuns: 300 },
      );
    });
  }
});
