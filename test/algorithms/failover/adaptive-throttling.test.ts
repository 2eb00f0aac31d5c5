/**
 * Client-side adaptive throttling (SRE book ch. 21): the rejection formula, the 2-minute
 * bucketed window against a naive timestamp model, and the draws against the probability.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveRejectProbability, AdaptiveThrottle, adaptiveThrottlingConfigSchema, throttleAccepts } from '../../../src/algorithms/failover/adaptive-throttling.js';
import type { Rng } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { virtualTime } from './_retry-fixtures.js';

const defaults = adaptiveThrottlingConfigSchema.parse({});
const neverDrawn: Rng = {
  next: () => {
    throw new Error('drew while the rejection probability was 0');
  },
};

describe('adaptiveRejectProbability', () => {
  it('is max(0, (requests − K·accepts) / (requests + 1))', () => {
    expect(adaptiveRejectProbability(0, 0, 2)).toBe(0);
    expect(adaptiveRejectProbability(100, 50, 2)).toBe(0);
    expect(adaptiveRejectProbability(100, 100, 2)).toBe(0);
    expect(adaptiveRejectProbability(100, 40, 2)).toBeCloseTo(20 / 101, 15);
    expect(adaptiveRejectProbability(10, 0, 2)).toBeCloseTo(10 / 11, 15);
    expect(adaptiveRejectProbability(100, 80, 1.1)).toBeCloseTo(12 / 101, 15);
  });
});

describe('throttleAccepts', () => {
  it('counts an answer that is not an overload refusal; no answer is no accept', () => {
    expect(throttleAccepts({ kind: 'success', status: 200 })).toBe(true);
    expect(throttleAccepts({ kind: 'success', status: 404 })).toBe(true);
    expect(throttleAccepts({ kind: 'error', status: 500 })).toBe(true); // the backend took it, and failed
    expect(throttleAccepts({ kind: 'error', status: 504 })).toBe(true);
    expect(throttleAccepts({ kind: 'error', status: 503 })).toBe(false);
    expect(throttleAccepts({ kind: 'success', status: 429 })).toBe(false); // the live proxy calls any status < 500 a success
    expect(throttleAccepts({ kind: 'rejected', status: 503 })).toBe(false); // a full queue, or the sidecar's own 503
    for (const kind of ['timeout', 'reset', 'connect-failure', 'cancelled'] as const) expect(throttleAccepts({ kind, status: 0 })).toBe(false);
    expect(throttleAccepts({ kind: 'timeout', status: 504 })).toBe(false); // the route timeout's 504
  });
});

describe('AdaptiveThrottle', () => {
  it('has the book defaults: K = 2 over 2 minutes (120 × 1 s buckets)', () => {
    expect(defaults).toEqual({ k: 2, window: 120_000, buckets: 120 });
    expect(adaptiveThrottlingConfigSchema.parse({ k: 1.5, window: '1m', buckets: 60 })).toEqual({ k: 1.5, window: 60_000, buckets: 60 });
    expect(adaptiveThrottlingConfigSchema.safeParse({ k: 0 }).success).toBe(false);
    expect(adaptiveThrottlingConfigSchema.safeParse({ window: '0s' }).success).toBe(false);
  });

  it('never rejects (nor draws) while the backend accepts everything', () => {
    const t = virtualTime();
    const a = new AdaptiveThrottle(defaults, t.engine, neverDrawn);
    for (let i = 0; i < 1000; i++) {
      expect(a.admit()).toBe(true);
      a.onAccepted();
      t.advance(37);
    }
    expect(a.rejectProbability()).toBe(0);
  });

  it('rejects iff the draw is below the probability computed before the request is counted', () => {
    const t = virtualTime();
    let u = 0.999_999;
    const a = new AdaptiveThrottle(defaults, t.engine, { next: () => u });
    for (let i = 0; i < 20; i++) a.onAccepted();
    for (let i = 0; i < 100; i++) expect(a.admit()).toBe(true); // p < 0.6 all along: u = 0.999999 admits
    expect(a.rejectProbability()).toBeCloseTo(60 / 101, 15);
    u = 0.5;
    expect(a.admit()).toBe(false); // 0.5 < 0.594
    expect(a.requests).toBe(101); // a locally rejected request still counts
    expect(a.rejectProbability()).toBeCloseTo(61 / 102, 15);
    u = 0.6;
    expect(a.admit()).toBe(true); // 0.6 ≥ 0.598
  });

  it('forgets a bucket exactly when it leaves the 2-minute window', () => {
    const t = virtualTime();
    const a = new AdaptiveThrottle(defaults, t.engine, rngStream(1, 'adaptive/forget'));
    t.advanceTo(500); // bucket 0
    for (let i = 0; i < 10; i++) a.admit();
    t.advanceTo(60_500); // bucket 60
    for (let i = 0; i < 5; i++) a.admit();
    a.onAccepted();
    t.advanceTo(119_999); // bucket 119: everything still in
    expect([a.requests, a.accepts]).toEqual([15, 1]);
    expect(a.rejectProbability()).toBeCloseTo(13 / 16, 15);
    t.advanceTo(120_000); // bucket 120: bucket 0 left
    expect([a.requests, a.accepts]).toEqual([5, 1]);
    expect(a.rejectProbability()).toBeCloseTo(3 / 6, 15);
    t.advanceTo(180_000); // bucket 180: bucket 60 left
    expect([a.requests, a.accepts]).toEqual([0, 0]);
    t.advanceTo(10_000_000); // a long idle gap
    expect(a.rejectProbability()).toBe(0);
  });

  it('matches a naive count of timestamps in the window (random histories)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 200_000 })), admits: fc.nat(5), accepts: fc.nat(5) }), { maxLength: 120 }),
        fc.constantFrom({ k: 2, window: 120_000, buckets: 120 }, { k: 1.5, window: 10_000, buckets: 7 }),
        (steps, config) => {
          const t = virtualTime();
          const a = new AdaptiveThrottle(config, t.engine, rngStream(2, 'adaptive/naive'));
          const bucketMs = config.window / config.buckets;
          const requests: number[] = [];
          const accepts: number[] = [];
          for (const s of steps) {
            t.advance(s.dt);
            const now = t.engine.now();
            const inWindow = (ts: number) => Math.floor(ts / bucketMs) > Math.floor(now / bucketMs) - config.buckets;
            const r = requests.filter(inWindow).length;
            const c = accepts.filter(inWindow).length;
            expect(a.rejectProbability()).toBe(adaptiveRejectProbability(r, c, config.k));
            for (let i = 0; i < s.admits; i++) {
              a.admit();
              requests.push(now);
            }
            for (let i = 0; i < s.accepts; i++) {
              a.onAccepted();
              accepts.push(now);
            }
            expect([a.requests, a.accepts]).toEqual([requests.filter(inWindow).length, accepts.filter(inWindow).length]);
          }
        },
      ),
      { seed: 4, numRuns: 200 },
    );
  });

  it('rejects at the rate the formula gives (binomial tolerance)', () => {
    // History: 2000 requests, 500 accepts in the same bucket. Then M = 20 000 admits with no
    // accepts: the i-th sees p_i = (2000 + i − 1000)/(2001 + i). Rejections are independent
    // Bernoulli(p_i): mean Σp_i, sd √Σp_i(1 − p_i); tolerance 4.5 sd.
    const t = virtualTime();
    const a = new AdaptiveThrottle(defaults, t.engine, rngStream(5, 'adaptive/rate'));
    for (let i = 0; i < 500; i++) a.onAccepted();
    for (let i = 0; i < 2000; i++) a.admit(); // counted whatever their fate
    expect(a.requests).toBe(2000);
    let mean = 0;
    let variance = 0;
    let rejected = 0;
    const M = 20_000;
    for (let i = 0; i < M; i++) {
      const p = adaptiveRejectProbability(2000 + i, 500, 2);
      mean += p;
      variance += p * (1 - p);
      if (!a.admit()) rejected++;
    }
    expect(Math.abs(rejected - mean)).toBeLessThan(4.5 * Math.sqrt(variance));
  });
});
