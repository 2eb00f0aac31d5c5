import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isNginxFailure,
  smoothWeightedRoundRobin,
  SmoothWeightedRoundRobinBalancer,
  smoothWrrStep,
} from '../../../src/algorithms/balancing/smooth-weighted-round-robin.js';
import { soloEnvironment, type Balancer } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { commonPolicyProperties, CONNECT_FAILURE, counts, endpoints, HTTP_503, OK, testWorld, TIMEOUT } from './_weighted-load-fixtures.js';

const make = (ports: Ports, options: Record<string, unknown> = {}) =>
  smoothWeightedRoundRobin.create(smoothWeightedRoundRobin.config.parse(options), ports, soloEnvironment());

const letters = (lb: Balancer, n: number) => Array.from({ length: n }, () => 'abcdefgh'[lb.pick({})] ?? '-').join('');

describe('smooth-weighted-round-robin', () => {
  // -1 is also legitimate when every healthy endpoint is marked failed.
  commonPolicyProperties(make, { alwaysPicks: false });

  it('has nginx defaults: max_fails 1, fail_timeout 10s', () => {
    expect(smoothWeightedRoundRobin.config.parse({})).toEqual({ maxFails: 1, failTimeout: 10_000 });
    expect(smoothWeightedRoundRobin.config.parse({ maxFails: 3, failTimeout: '30s' })).toEqual({ maxFails: 3, failTimeout: 30_000 });
    expect(smoothWeightedRoundRobin.config.safeParse({ maxFails: -1 }).success).toBe(false);
    expect(smoothWeightedRoundRobin.config.safeParse({ failTimeout: 5 }).success).toBe(false);
  });

  it("reproduces nginx's published example: weights a=5, b=1, c=2 → a c a a b a c a, then repeats", () => {
    const lb = make(testWorld().ports);
    lb.rebuild(endpoints([{ weight: 5 }, { weight: 1 }, { weight: 2 }]));
    expect(letters(lb, 8)).toBe('acaabaca');
    expect(letters(lb, 16)).toBe('acaabaca'.repeat(2));
  });

  it('the pure step gives the same example and returns every cw to 0 after Σw picks', () => {
    const w = [5, 1, 2];
    const ew = new Float64Array(w);
    const cw = new Float64Array(3);
    expect(Array.from({ length: 8 }, () => 'abc'[smoothWrrStep(w, ew, cw)]).join('')).toBe('acaabaca');
    expect([...cw]).toEqual([0, 0, 0]);
    expect(smoothWrrStep([], new Float64Array(0), new Float64Array(0))).toBe(-1);
  });

  it('serves integer weights exactly: every block of Σw picks holds each endpoint exactly w_i times', () => {
    // The exact-proportion WRR: cw sums to 0 after every pick, and after Σw picks each cw is
    // back to 0, so the sequence is periodic with period Σw and each period is exact.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 8 }), (w) => {
        const lb = make(testWorld().ports);
        lb.rebuild(endpoints(w.map((weight) => ({ weight }))));
        const total = w.reduce((a, b) => a + b, 0);
        const seq = Array.from({ length: total * 4 }, () => lb.pick({}));
        for (let c = 0; c < 4; c++) expect(counts(seq.slice(c * total, (c + 1) * total), w.length)).toEqual(w);
        // Periodic, hence any Σw consecutive picks are exact too.
        for (let start = 0; start + total <= seq.length; start++) expect(counts(seq.slice(start, start + total), w.length)).toEqual(w);
        // And the balancer is the pure step.
        const ew = new Float64Array(w);
        const cw = new Float64Array(w.length);
        expect(Array.from({ length: seq.length }, () => smoothWrrStep(w, ew, cw))).toEqual(seq);
      }),
      { seed: 71, numRuns: 300 },
    );
  });

  it('is smooth: weights 5, 1, 2 never send a three times in a row', () => {
    const lb = make(testWorld().ports);
    lb.rebuild(endpoints([{ weight: 5 }, { weight: 1 }, { weight: 2 }]));
    const seq = letters(lb, 80);
    expect(seq).not.toMatch(/aaa/); // plain WRR would send a, a, a, a, a in a row
  });

  it('classifies failures as nginx does by default (error, timeout; not HTTP 5xx)', () => {
    expect(isNginxFailure(CONNECT_FAILURE)).toBe(true);
    expect(isNginxFailure(TIMEOUT)).toBe(true);
    expect(isNginxFailure({ kind: 'reset', status: 0 })).toBe(true);
    expect(isNginxFailure(HTTP_503)).toBe(false);
    expect(isNginxFailure(OK)).toBe(false);
  });

  describe('failures (max_fails, fail_timeout)', () => {
    it('skips a failed endpoint for fail_timeout, then lets it back with a recovering effective weight', () => {
      const world = testWorld();
      const lb = make(world.ports);
      lb.rebuild(endpoints([{ weight: 5 }, { weight: 1 }, { weight: 2 }]));
      expect(lb.pick({})).toBe(0); // cw a −3, b 1, c 2
      lb.onEnd(0, CONNECT_FAILURE, 3); // fails 1 ≥ max_fails 1, ew_a 5 − 5/1 = 0, checked = 0
      world.advanceTo(10_000); // now − checked = 10 s ≤ fail_timeout: still out
      const during = letters(lb, 9);
      expect(during).not.toContain('a');
      expect(counts([...during].map((ch) => 'abc'.indexOf(ch)), 3)).toEqual([0, 3, 6]); // b : c = 1 : 2
      world.advanceTo(10_001);
      // After fail_timeout nginx lets ONE probe through (picking it sets checked = now, which
      // puts it out again) until an attempt succeeds.
      const probe = letters(lb, 12);
      expect([...probe].filter((ch) => ch === 'a').length).toBe(1);
      lb.onEnd(0, OK, 3); // accessed (0) < checked (10 001): fails = 0
      // Back for good: ew_a recovers from 1 by 1 per pick to 5 within 4 picks, after which
      // every block of 8 is exactly 5 : 1 : 2 again (as a different rotation of the cycle).
      const after = letters(lb, 40);
      expect(after.slice(0, 8)).toBe('caabcaaa');
      for (let k = 8; k < 40; k += 8) expect(counts([...after.slice(k, k + 8)].map((ch) => 'abc'.indexOf(ch)), 3)).toEqual([5, 1, 2]);
    });

    it('a success after the timeout clears the failure count (accessed < checked)', () => {
      const world = testWorld();
      const lb = new SmoothWeightedRoundRobinBalancer(world.ports.clock, 2, 10_000);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 1 }]));
      lb.onEnd(0, CONNECT_FAILURE, 1);
      lb.onEnd(0, CONNECT_FAILURE, 1); // 2 fails at t = 0: out
      expect(letters(lb, 4)).toBe('bbbb');
      world.advanceTo(10_001);
      const seq = letters(lb, 4);
      expect(seq).toContain('a'); // picked again: checked = 10 001
      lb.onEnd(0, OK, 1); // accessed 0 < checked → fails = 0
      lb.onEnd(0, CONNECT_FAILURE, 1); // one fail of 2 allowed: still in
      expect(letters(lb, 6)).toContain('a');
    });

    it('counts failures only up to max_fails: one failure of max_fails 2 keeps the endpoint, at lower weight', () => {
      const world = testWorld();
      const lb = make(world.ports, { maxFails: 2 });
      lb.rebuild(endpoints([{ weight: 4 }, { weight: 4 }]));
      lb.onEnd(0, TIMEOUT, 1); // ew 4 − 4/2 = 2; fails 1 < 2: still eligible
      // cw a 0+2, b 0+4 → b first (without the failure a would win the tie), then a.
      expect(letters(lb, 2)).toBe('ba');
      expect(letters(lb, 16)).toContain('a');
    });

    it('HTTP 5xx responses are not failures', () => {
      const lb = make(testWorld().ports);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 1 }]));
      lb.onEnd(0, HTTP_503, 1);
      expect(letters(lb, 4)).toBe('abab');
    });

    it('max_fails 0 disables failure marking', () => {
      const lb = make(testWorld().ports, { maxFails: 0 });
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 1 }]));
      for (let k = 0; k < 5; k++) lb.onEnd(0, CONNECT_FAILURE, 1);
      expect(letters(lb, 4)).toContain('a');
    });

    it('returns -1 while every healthy endpoint is marked failed', () => {
      const world = testWorld();
      const lb = make(world.ports);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 2 }, { health: 'unhealthy' }]));
      lb.onEnd(0, CONNECT_FAILURE, 1);
      lb.onEnd(1, CONNECT_FAILURE, 1);
      expect(lb.pick({})).toBe(-1);
      world.advanceTo(10_001);
      expect(lb.pick({})).not.toBe(-1);
    });

    it('a group of one endpoint ignores failures (nginx peers->single)', () => {
      const lb = make(testWorld().ports);
      lb.rebuild(endpoints([{ weight: 3 }]));
      lb.onEnd(0, CONNECT_FAILURE, 1);
      expect(lb.pick({})).toBe(0);
      lb.rebuild(endpoints([{ weight: 3, health: 'unhealthy' }]));
      expect(lb.pick({})).toBe(-1);
    });
  });

  describe('rebuild', () => {
    it('keeps cw, ew and failures by endpoint id, so the sequence continues', () => {
      const world = testWorld();
      const lb = make(world.ports);
      const eps = endpoints([{ id: 'a', weight: 5 }, { id: 'b', weight: 1 }, { id: 'c', weight: 2 }]);
      lb.rebuild(eps);
      expect(letters(lb, 3)).toBe('aca');
      lb.rebuild(eps);
      expect(letters(lb, 5)).toBe('abaca');
      lb.onEnd(1, CONNECT_FAILURE, 1); // b out for 10 s
      const moved = endpoints([{ id: 'b', weight: 1 }, { id: 'a', weight: 5 }, { id: 'c', weight: 2 }]);
      lb.rebuild(moved);
      const ids = Array.from({ length: 14 }, () => moved[lb.pick({})].id);
      expect(ids).not.toContain('b'); // its failure followed it to index 0
      expect(ids.filter((id) => id === 'a').length).toBe(10); // a : c = 5 : 2
    });

    it('a newcomer starts at cw 0, ew = w; a lowered weight caps ew', () => {
      const lb = make(testWorld().ports);
      lb.rebuild(endpoints([{ id: 'x', weight: 4 }, { id: 'y', weight: 4 }]));
      letters(lb, 3);
      lb.rebuild(endpoints([{ id: 'x', weight: 1 }, { id: 'y', weight: 4 }, { id: 'z', weight: 3 }]));
      const seq = Array.from({ length: 80 }, () => lb.pick({}));
      counts(seq.slice(-8), 3).forEach((c, i) => expect(c).toBe([1, 4, 3][i]));
    });
  });
});

describe('smooth-weighted-round-robin: the steady state (heaps per weight) picks exactly as nginx\'s walk', () => {
  type Op =
    | { readonly op: 'pick'; readonly n: number }
    | { readonly op: 'end'; readonly at: number; readonly fail: boolean }
    | { readonly op: 'advance'; readonly ms: number }
    | { readonly op: 'rebuild'; readonly weights: readonly number[]; readonly down: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('pick' as const), n: fc.integer({ min: 1, max: 40 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('end' as const), at: fc.nat(), fail: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 15_000 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('rebuild' as const), weights: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 9 }), down: fc.integer({ min: -1, max: 8 }) }),
    },
  );

  it('whatever the weights, failures, time and rebuilds (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 9 }), fc.integer({ min: 0, max: 3 }), fc.array(op, { maxLength: 40 }), (weights, maxFails, ops) => {
        const world = testWorld();
        const fast = new SmoothWeightedRoundRobinBalancer(world.ports.clock, maxFails, 10_000);
        const walk = new SmoothWeightedRoundRobinBalancer(world.ports.clock, maxFails, 10_000, true);
        const eps = (ws: readonly number[], down = -1) => endpoints(ws.map((weight, i) => ({ weight, health: i === down ? ('unhealthy' as const) : ('healthy' as const) })));
        let n = weights.length;
        fast.rebuild(eps(weights));
        walk.rebuild(eps(weights));
        let now = 0;
        for (const o of ops) {
          if (o.op === 'pick') {
            for (let k = 0; k < o.n; k++) if (fast.pick({}) !== walk.pick({})) return false;
          } else if (o.op === 'end') {
            const outcome = o.fail ? CONNECT_FAILURE : OK;
            fast.onEnd(o.at % n, outcome, 1);
            walk.onEnd(o.at % n, outcome, 1);
          } else if (o.op === 'advance') {
            now += o.ms;
            world.advanceTo(now);
          } else {
            n = o.weights.length;
            fast.rebuild(eps(o.weights, o.down));
            walk.rebuild(eps(o.weights, o.down));
          }
        }
        return true;
      }),
      { numRuns: 400 },
    );
  });

  it('10,000 endpoints: a long steady run keeps the exact proportions of every Σw picks', () => {
    const lb = make(testWorld().ports);
    const ws = Array.from({ length: 10_000 }, (_, i) => 1 + (i % 4));
    lb.rebuild(endpoints(ws.map((weight) => ({ weight }))));
    const total = ws.reduce((a, b) => a + b, 0);
    const seen = new Int32Array(ws.length);
    for (let k = 0; k < total; k++) seen[lb.pick({})]++;
    expect(Array.from(seen)).toEqual(ws);
  });
});
