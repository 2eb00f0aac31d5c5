/**
 * weighted-least-utilization (gRPC A58): the weight formula, blackout and expiration, the
 * C-core static stride scheduler (exact proportions over a full sequence cycle), and the
 * closed loop in virtual time: equal shares during the blackout, then shares ∝ capacity
 * when utilisation reports reflect load.
 */
import { describe, expect, it } from 'vitest';
import {
  endpointWeight,
  STRIDE_MAX_WEIGHT,
  strideAccept,
  strideWeights,
  usableWeight,
  weightedLeastUtilization,
  type WeightState,
} from '../../../src/algorithms/balancing/weighted-least-utilization.js';
import { soloEnvironment, type Balancer, type Endpoint } from '../../../src/algorithms/types.js';
import { commonPolicyProperties, endpoints, testWorld, type TestWorld } from './_weighted-load-fixtures.js';

const defaults = weightedLeastUtilization.config.parse({});

describe('weighted-least-utilization', () => {
  commonPolicyProperties((ports) => weightedLeastUtilization.create(defaults, ports, soloEnvironment()));

  it('has the A58 defaults', () => {
    expect(defaults).toEqual({ blackoutPeriod: 10_000, weightExpirationPeriod: 180_000, weightUpdatePeriod: 1_000, errorUtilizationPenalty: 1 });
    expect(weightedLeastUtilization.config.parse({ blackoutPeriod: '0s', errorUtilizationPenalty: 0 }).blackoutPeriod).toBe(0);
    expect(weightedLeastUtilization.config.safeParse({ errorUtilizationPenalty: -1 }).success).toBe(false);
  });
});

describe('weight formula and lifetime', () => {
  it('qps / (utilization + eps/qps · penalty)', () => {
    expect(endpointWeight(100, 0, 0.5, 1)).toBe(200);
    expect(endpointWeight(100, 10, 0.5, 1)).toBeCloseTo(100 / 0.6, 12);
    expect(endpointWeight(100, 10, 0.5, 0)).toBe(200);
    expect(endpointWeight(100, 10, 0.5, 2)).toBeCloseTo(100 / 0.7, 12);
    expect(endpointWeight(100, 0, 0, 1)).toBe(0); // no utilisation: no weight
    expect(endpointWeight(0, 0, 0.5, 1)).toBe(0);
  });

  it('unusable during the blackout, usable after, dropped (and blackout restarted) on expiry', () => {
    const s: WeightState = { weight: 50, nonEmptySince: 1000, lastUpdated: 5000 };
    expect(usableWeight(s, 10_999, 10_000, 180_000)).toBe(0);
    expect(usableWeight(s, 11_000, 10_000, 180_000)).toBe(50);
    expect(usableWeight(s, 184_999, 10_000, 180_000)).toBe(50);
    expect(usableWeight(s, 185_000, 10_000, 180_000)).toBe(0);
    expect(s.nonEmptySince).toBe(Infinity);
    expect(usableWeight({ weight: 7, nonEmptySince: 5, lastUpdated: 5 }, 5, 0, 180_000)).toBe(7); // no blackout
  });
});

describe('static stride scheduler', () => {
  it('scales the largest weight to 65535, unknown (0) weights to the mean, and caps/floors by 10× / 1% of the mean', () => {
    expect([...strideWeights([1, 2, 3])!]).toEqual([21845, 43690, 65535]);
    expect([...strideWeights([0, 2, 4])!]).toEqual([49151, 32768, 65535]); // mean of known = 3 → 3·65535/4
    const capped = strideWeights([100, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])!;
    expect(capped[0]).toBe(STRIDE_MAX_WEIGHT);
    expect(capped[1] / capped[0]).toBeCloseTo(1 / (10 * (119 / 20)), 3); // max capped to 10·mean
    const floored = strideWeights([1, 1e-6])!;
    expect(floored[1]).toBe(Math.round(Math.round(65535 * 0.5000005) * 0.01));
  });

  it('falls back (null) with fewer than 2 endpoints or no known weight', () => {
    expect(strideWeights([])).toBeNull();
    expect(strideWeights([5])).toBeNull();
    expect(strideWeights([0, 0, 0])).toBeNull();
    expect(strideWeights([0, 3])).not.toBeNull(); // one known weight: the other gets it too (plain RR)
  });

  it('over n·65535 consecutive sequence numbers each backend is accepted exactly its weight times', () => {
    for (const fw of [[1, 2, 3], [5, 5], [0.3, 1, 0.7, 0.01]]) {
      const w = strideWeights(fw)!;
      const counts = new Array<number>(w.length).fill(0);
      const start = 123_456;
      for (let seq = start; seq < start + w.length * STRIDE_MAX_WEIGHT; seq++) {
        const j = strideAccept(w, seq);
        if (j >= 0) counts[j]++;
      }
      expect(counts).toEqual([...w]);
    }
  });
});

/** Drives a balancer: `rate` picks per second for `ms` ms from `from`; each attempt ends at once with `report`. */
function drive(
  world: TestWorld,
  lb: Balancer,
  eps: readonly Endpoint[],
  from: number,
  ms: number,
  report: (i: number, t: number) => number | undefined,
  stepMs = 2,
): number[] {
  const counts = new Array<number>(eps.length).fill(0);
  for (let t = from; t < from + ms; t += stepMs) {
    world.advanceTo(t);
    const i = lb.pick({});
    counts[i]++;
    lb.onStart(i);
    const u = report(i, t);
    lb.onEnd(i, u === undefined ? { kind: 'success', status: 200 } : { kind: 'success', status: 200, utilization: u }, 1);
  }
  return counts;
}

describe('closed loop in virtual time', () => {
  /**
   * Two servers; B has half A's capacity, so at equal qps it reports twice A's utilisation.
   * Utilisation = (picks of the server in the last 500 picks, i.e. the last second at 500/s) / capacity.
   */
  function capacityWorld(seed: number) {
    const world = testWorld(seed, 'wlu/closed-loop');
    const lb = weightedLeastUtilization.create(defaults, world.ports, soloEnvironment());
    const eps = endpoints(2);
    lb.rebuild(eps);
    const capacity = [500, 250];
    const recent: number[] = [];
    const inRecent = [0, 0];
    const report = (i: number): number => {
      recent.push(i);
      inRecent[i]++;
      if (recent.length > 500) inRecent[recent.shift()!]--;
      return inRecent[i] / capacity[i];
    };
    return { world, lb, eps, report };
  }

  it('before the blackout ends everyone gets the same share (round robin)', () => {
    const { world, lb, eps, report } = capacityWorld(1);
    const counts = drive(world, lb, eps, 0, 9_000, report);
    expect(Math.abs(counts[0] - counts[1])).toBeLessThanOrEqual(1);
  });

  it('after the blackout, B (2× the utilisation at equal qps) gets about half of A’s picks', () => {
    const { world, lb, eps, report } = capacityWorld(2);
    drive(world, lb, eps, 0, 20_000, report);
    const counts = drive(world, lb, eps, 20_000, 40_000, report);
    const ratio = counts[1] / counts[0];
    // Weights ≈ qps/util = capacity: 250/500. The estimate's noise over 1 s windows is ~1%.
    expect(ratio).toBeGreaterThan(0.45);
    expect(ratio).toBeLessThan(0.55);
  });

  it('a report stream that stops expires after 3 minutes: back to equal shares', () => {
    const { world, lb, eps, report } = capacityWorld(3);
    drive(world, lb, eps, 0, 30_000, report);
    drive(world, lb, eps, 30_000, 181_000, () => undefined); // no reports
    const counts = drive(world, lb, eps, 211_000, 10_000, () => undefined);
    expect(Math.abs(counts[0] - counts[1])).toBeLessThanOrEqual(1);
  });

  it('an endpoint that turns unhealthy and back starts a new blackout', () => {
    const { world, lb, eps, report } = capacityWorld(4);
    drive(world, lb, eps, 0, 30_000, report);
    lb.rebuild([eps[0], { ...eps[1], health: 'unhealthy' }]);
    drive(world, lb, eps, 30_000, 1_000, report);
    lb.rebuild(eps);
    // B's weight is unknown again → it gets the mean, i.e. A's weight: equal shares for a while.
    const counts = drive(world, lb, eps, 31_000, 5_000, report);
    expect(Math.abs(counts[0] - counts[1]) / (counts[0] + counts[1])).toBeLessThan(0.02);
  });

  it('weights are recomputed at most once per update period (lazily, on picks)', () => {
    const world = testWorld(5);
    const lb = weightedLeastUtilization.create({ ...defaults, blackoutPeriod: 0 }, world.ports, soloEnvironment());
    const eps = endpoints(2);
    lb.rebuild(eps);
    // A reports 0.1, B 0.4 at equal qps: after the first update (t ≥ 1 s), weights 4:1.
    const counts0 = drive(world, lb, eps, 0, 998, (i) => (i === 0 ? 0.1 : 0.4));
    expect(Math.abs(counts0[0] - counts0[1])).toBeLessThanOrEqual(1);
    const counts1 = drive(world, lb, eps, 1000, 998, (i) => (i === 0 ? 0.1 : 0.4));
    expect(counts1[0] / counts1[1]).toBeCloseTo(4, 1);
  });
});
