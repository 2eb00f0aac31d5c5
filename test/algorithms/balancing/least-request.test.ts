import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutstandingRequests } from '../../../src/algorithms/balancing/load/outstanding.js';
import { leastRequest, LeastRequestBalancer, leastRequestWeight } from '../../../src/algorithms/balancing/least-request.js';
import { random } from '../../../src/algorithms/balancing/random.js';
import { soloEnvironment, type Balancer } from '../../../src/algorithms/types.js';
import type { Ports, Rng } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { commonPolicyProperties, counts, endpoints, OK, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports, options: Record<string, unknown> = {}) =>
  leastRequest.create(leastRequest.config.parse(options), ports, soloEnvironment()) as LeastRequestBalancer;

/** An Rng replaying fixed draws. */
function replay(...draws: number[]): Rng {
  let k = 0;
  return { next: () => draws[k++] };
}

/** Pins endpoint k of a fresh balancer to `loads[k]` active requests. */
function pin(lb: Balancer, loads: readonly number[]): void {
  loads.forEach((l, k) => {
    for (let j = 0; j < l; j++) lb.onStart(k);
  });
}

function meanPickedLoad(lb: Balancer, loads: readonly number[], picks: number): number {
  let sum = 0;
  for (let k = 0; k < picks; k++) sum += loads[lb.pick({})];
  return sum / picks;
}

describe('least-request', () => {
  describe('N_CHOICES (default)', () => commonPolicyProperties((ports) => make(ports)));
  describe('FULL_SCAN', () => commonPolicyProperties((ports) => make(ports, { fullScan: true })));
  describe('bias 0.5, 3 choices', () => commonPolicyProperties((ports) => make(ports, { activeRequestBias: 0.5, choices: 3 })));

  it("has Envoy's defaults and bounds", () => {
    expect(leastRequest.config.parse({})).toEqual({ choices: 2, fullScan: false, activeRequestBias: 1 });
    expect(leastRequest.config.safeParse({ choices: 1 }).success).toBe(false); // Envoy: choice_count ≥ 2
    expect(leastRequest.config.safeParse({ choices: 2.5 }).success).toBe(false);
    expect(leastRequest.config.safeParse({ activeRequestBias: -1 }).success).toBe(false);
    expect(leastRequest.config.parse({ choices: 5, fullScan: true, activeRequestBias: 0 })).toEqual({ choices: 5, fullScan: true, activeRequestBias: 0 });
    // At most 1,000 draws a pick: a slip is an error naming fullScan, not a run that never ends.
    expect(leastRequest.config.parse({ choices: 1000 }).choices).toBe(1000);
    const big = leastRequest.config.safeParse({ choices: 2_000_000 });
    expect(big.success).toBe(false);
    expect(big.error?.issues[0].message).toBe('expected a whole number from 2 to 1000 (each pick draws that many hosts; fullScan: true compares every host); got 2000000');
  });

  it('composes the selection rule with the outstanding-requests metric', () => {
    expect(make(testWorld().ports).metric).toBeInstanceOf(OutstandingRequests);
  });

  describe('equal weights', () => {
    it('keeps a draw only if strictly less loaded; ties keep the first draw; draws are with replacement', () => {
      const config = { choices: 2, fullScan: false, activeRequestBias: 1 };
      const lb = (draws: number[]) => {
        const b = new LeastRequestBalancer(replay(...draws), 0, new OutstandingRequests(), config);
        b.rebuild(endpoints(4));
        pin(b, [2, 1, 1, 0]);
        return b;
      };
      expect(lb([0.3, 0.55]).pick({})).toBe(1); // draws 1, 2: tie → first
      expect(lb([0.55, 0.3]).pick({})).toBe(2); // draws 2, 1: tie → first
      expect(lb([0.0, 0.8]).pick({})).toBe(3); // 3 has fewer
      expect(lb([0.8, 0.0]).pick({})).toBe(3); // 0 has more
      expect(lb([0.1, 0.2]).pick({})).toBe(0); // the same host twice (with replacement)
    });

    it('choices = 2 picks lower loads than random on a synthetic load vector', () => {
      // Loads 0..9. With d draws WITH replacement P(min ≥ k) = ((10 − k)/10)^d, so
      // E[min] = Σ_{j=1}^{9} (j/10)^d: 2.85 for d = 2, 2.025 for d = 3; random gives 4.5.
      // One pick's sd ≤ 3, so the mean of 100,000 has sd < 0.01; tolerance 0.05.
      const loads = Array.from({ length: 10 }, (_, k) => k);
      const expected = (d: number) => Array.from({ length: 9 }, (_, j) => ((j + 1) / 10) ** d).reduce((a, b) => a + b, 0);
      const run = (lb: Balancer) => {
        lb.rebuild(endpoints(10));
        pin(lb, loads);
        return meanPickedLoad(lb, loads, 100_000);
      };
      const two = run(make(testWorld(1).ports));
      const three = run(make(testWorld(2).ports, { choices: 3 }));
      const rnd = run(random.create({}, testWorld(3).ports, soloEnvironment()));
      expect(Math.abs(two - expected(2))).toBeLessThan(0.05);
      expect(Math.abs(three - expected(3))).toBeLessThan(0.05);
      expect(Math.abs(rnd - 4.5)).toBeLessThan(0.05);
      expect(three).toBeLessThan(two);
      expect(two).toBeLessThan(rnd);
    });

    it('full scan always picks a least-loaded endpoint, uniformly among ties (reservoir sampling)', () => {
      const lb = make(testWorld(6).ports, { fullScan: true });
      const loads = [3, 1, 4, 1, 5, 1, 2, 6];
      lb.rebuild(endpoints(loads.length));
      pin(lb, loads);
      const n = 30_000;
      const picks = Array.from({ length: n }, () => lb.pick({}));
      const c = counts(picks, loads.length);
      expect(c.filter((_, k) => loads[k] !== 1).every((x) => x === 0)).toBe(true);
      // Each of the 3 tied endpoints: Binomial(30,000, 1/3), sd 81.6; tolerance 5 sd = 408.
      for (const k of [1, 3, 5]) expect(Math.abs(c[k] - n / 3)).toBeLessThan(408);
    });

    it('full scan reservoir: the k-th tie replaces the candidate when rand % k == 0', () => {
      const config = { choices: 2, fullScan: true, activeRequestBias: 1 };
      const lb = new LeastRequestBalancer(replay(0.9, 0.1), 0, new OutstandingRequests(), config);
      lb.rebuild(endpoints(3)); // all 0 active: tie 2 draws ⌊0.9·2⌋ = 1 (keep 0), tie 3 draws ⌊0.1·3⌋ = 0 (take 2)
      expect(lb.pick({})).toBe(2);
    });
  });

  describe('unequal weights (EDF on w/(active + 1)^bias)', () => {
    it('computes the dynamic weight as Envoy does', () => {
      expect(leastRequestWeight(4, 3, 1)).toBe(1);
      expect(leastRequestWeight(4, 3, 0)).toBe(4);
      expect(leastRequestWeight(4, 3, 2)).toBe(0.25);
      expect(leastRequestWeight(4, 0, 0.5)).toBe(4);
    });

    it('with no active requests serves weights in proportion', () => {
      const lb = make(testWorld(7).ports);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 3 }, { weight: 2 }]));
      const c = counts(Array.from({ length: 600 }, () => lb.pick({})), 3);
      // EDF: within 1 + n·w_i/W of the exact share (see the EDF tests).
      expect(Math.abs(c[0] - 100)).toBeLessThanOrEqual(2);
      expect(Math.abs(c[1] - 300)).toBeLessThanOrEqual(3);
      expect(Math.abs(c[2] - 200)).toBeLessThanOrEqual(2);
    });

    it('re-weights an endpoint by its active count when it is picked, not before (Envoy)', () => {
      const lb = make(testWorld(8).ports);
      lb.rebuild(endpoints([{ weight: 1 }, { weight: 2 }]));
      pin(lb, [0, 3]); // after the build: endpoint 1 keeps its build-time weight 2 until picked
      const picks = Array.from({ length: 300 }, () => lb.pick({}));
      // From its first pick on, endpoint 1 re-queues with 2/(3 + 1) = 0.5: long run 1 : 0.5.
      const firstOne = picks.indexOf(1);
      expect(firstOne).toBeGreaterThanOrEqual(0);
      expect(firstOne).toBeLessThan(3);
      const tail = counts(picks.slice(firstOne + 1), 2);
      const total = tail[0] + tail[1];
      expect(Math.abs(tail[0] - (total * 2) / 3)).toBeLessThanOrEqual(2);
    });

    it('bias 0 ignores active requests; bias 2 squares their effect', () => {
      const share = (bias: number) => {
        const lb = make(testWorld(9).ports, { activeRequestBias: bias });
        lb.rebuild(endpoints([{ weight: 1 }, { weight: 2 }]));
        pin(lb, [0, 1]);
        const c = counts(Array.from({ length: 3000 }, () => lb.pick({})), 2);
        return c[1] / 3000;
      };
      expect(share(0)).toBeCloseTo(2 / 3, 2); // weights 1 : 2
      expect(share(1)).toBeCloseTo(1 / 2, 2); // 1 : 2/2
      expect(share(2)).toBeCloseTo(1 / 3, 2); // 1 : 2/4
    });

    it('rebuilds the schedule from the active counts of the moment', () => {
      const lb = make(testWorld(10).ports);
      const eps = endpoints([{ weight: 1 }, { weight: 2 }]);
      lb.rebuild(eps);
      pin(lb, [0, 5]);
      lb.rebuild(eps); // endpoint 1 now built at 2/6
      const c = counts(Array.from({ length: 400 }, () => lb.pick({})), 2);
      expect(Math.abs(c[1] - 100)).toBeLessThanOrEqual(2); // 1 : 1/3 → a quarter
    });
  });

  it('keeps active counts across a rebuild for endpoints that stay', () => {
    const lb = make(testWorld(11).ports);
    lb.rebuild(endpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]));
    for (let k = 0; k < 4; k++) lb.onStart(2);
    lb.rebuild(endpoints([{ id: 'c' }, { id: 'x' }, { id: 'a' }]));
    expect(lb.metric.load(0)).toBe(4);
    // c is the most loaded: with 3 endpoints it is picked only when both draws hit it (1/9).
    const c = counts(Array.from({ length: 9000 }, () => lb.pick({})), 3);
    expect(Math.abs(c[0] - 1000)).toBeLessThan(150); // Binomial(9000, 1/9): sd 29.8, 5 sd
    lb.onEnd(0, OK, 1);
    expect(lb.metric.load(0)).toBe(3);
  });

  it('any seed, any loads: the second draw wins only if strictly less loaded (choices = 2)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 10 }), fc.integer(), (loads, seed) => {
        const draws: number[] = [];
        const base = rngStream(seed, 'lr/prop');
        const rng = { next: () => { const u = base.next(); draws.push(u); return u; } };
        const lb = new LeastRequestBalancer(rng, 0, new OutstandingRequests(), { choices: 2, fullScan: false, activeRequestBias: 1 });
        lb.rebuild(endpoints(loads.length));
        pin(lb, loads);
        for (let k = 0; k < 20; k++) {
          const before = draws.length;
          const i = lb.pick({});
          const [u, v] = draws.slice(before);
          const a = Math.floor(u * loads.length);
          const b = Math.floor(v * loads.length);
          expect(i).toBe(loads[b] < loads[a] ? b : a);
        }
      }),
      { seed: 51, numRuns: 200 },
    );
  });
});
