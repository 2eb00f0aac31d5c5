/**
 * Envoy outlier detection: consecutive 5xx / gateway-failure counters (fire on EQUAL),
 * max_ejection_percent, enforcement rolls, ejection-time backoff and its decay, the
 * success-rate and failure-percentage sweeps, membership changes and the health-check uneject.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  outlierDetectionConfigSchema,
  OutlierDetector,
  outlierResponseCode,
  resolveMaxEjectionTime,
  successRateEjectionThreshold,
  type OutlierDetectionInput,
} from '../../../src/algorithms/failover/outlier-detection.js';
import type { Outcome } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { Engine } from '../../../src/sim/engine.js';

const OK: Outcome = { kind: 'success', status: 200 };
const E500: Outcome = { kind: 'error', status: 500 };
const E503: Outcome = { kind: 'rejected', status: 503 };

function world(seed = 1): { engine: Engine; ports: Ports } {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  return { engine, ports: { clock: engine, timers: engine, rng: rngStream(seed, 'test/outlier') } };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

function detector(options: OutlierDetectionInput = {}, n = 10, seed = 1) {
  const w = world(seed);
  const od = new OutlierDetector(outlierDetectionConfigSchema.parse(options), w.ports, ids(n));
  return { ...w, od };
}

/**
 * Runs the engine to `t` inclusive: Engine.run(t) leaves events that its own handlers
 * schedule at exactly t (an interval tick armed by the previous tick) for the next call.
 */
function runTo(engine: Engine, t: number): void {
  engine.run(t);
  engine.run(t);
}

function feed(od: OutlierDetector, i: number, outcome: Outcome, times: number): void {
  for (let k = 0; k < times; k++) od.onResult(i, outcome);
}

describe('config', () => {
  it("has Envoy's defaults", () => {
    const c = outlierDetectionConfigSchema.parse({});
    expect(c).toMatchObject({
      consecutive5xx: 5,
      consecutiveGatewayFailure: 5,
      interval: 10_000,
      baseEjectionTime: 30_000,
      maxEjectionTimeJitter: 0,
      maxEjectionPercent: 0.1,
      alwaysEjectOneHost: false,
      enforcingConsecutive5xx: 1,
      enforcingConsecutiveGatewayFailure: 0,
      enforcingSuccessRate: 1,
      enforcingFailurePercentage: 0,
      successRateMinimumHosts: 5,
      successRateRequestVolume: 100,
      successRateStdevFactor: 1.9,
      failurePercentageThreshold: 0.85,
      failurePercentageMinimumHosts: 5,
      failurePercentageRequestVolume: 50,
      successfulActiveHealthCheckUnejectHost: true,
    });
    expect(resolveMaxEjectionTime(c)).toBe(300_000);
    expect(resolveMaxEjectionTime(outlierDetectionConfigSchema.parse({ baseEjectionTime: '10m' }))).toBe(600_000);
    expect(resolveMaxEjectionTime(outlierDetectionConfigSchema.parse({ maxEjectionTime: '1m' }))).toBe(60_000);
  });

  it('rejects max < base, unknown keys, missing units and a zero interval', () => {
    expect(outlierDetectionConfigSchema.safeParse({ baseEjectionTime: '1m', maxEjectionTime: '30s' }).success).toBe(false);
    expect(outlierDetectionConfigSchema.safeParse({ consecutive_5xx: 5 }).success).toBe(false);
    expect(outlierDetectionConfigSchema.safeParse({ interval: 10 }).success).toBe(false);
    expect(outlierDetectionConfigSchema.safeParse({ interval: '0s' }).success).toBe(false);
    expect(outlierDetectionConfigSchema.safeParse({ maxEjectionPercent: '150%' }).success).toBe(false);
  });

  it('encodes back to what was written', () => {
    const c = outlierDetectionConfigSchema.parse({ interval: '5s', maxEjectionPercent: '50%' });
    expect(outlierDetectionConfigSchema.encode(c)).toMatchObject({ interval: '5s', maxEjectionPercent: '50%', baseEjectionTime: '30s' });
  });
});

describe('successRateEjectionThreshold', () => {
  it("reproduces Envoy's example: {50,100,100,100,100} → mean 90, σ 20, threshold 52", () => {
    const r = successRateEjectionThreshold([50, 100, 100, 100, 100], 1.9);
    expect(r.mean).toBe(90);
    expect(r.threshold).toBeCloseTo(52, 12);
  });

  it('uses the population σ over the first n rates; equal rates give threshold = mean', () => {
    expect(successRateEjectionThreshold([80, 100, 0], 1, 2).threshold).toBe(80); // mean 90, σ 10
    expect(successRateEjectionThreshold([97, 97, 97], 1.9)).toEqual({ mean: 97, threshold: 97 });
    expect(successRateEjectionThreshold([], 1.9).mean).toBeNaN();
  });
});

describe('outlierResponseCode', () => {
  it("maps outcomes as Envoy's router reports them", () => {
    expect(outlierResponseCode({ kind: 'timeout', status: 0 })).toBe(504);
    expect(outlierResponseCode({ kind: 'connect-failure', status: 0 })).toBe(503);
    expect(outlierResponseCode({ kind: 'reset', status: 0 })).toBe(503);
    expect(outlierResponseCode({ kind: 'rejected', status: 503 })).toBe(503);
    expect(outlierResponseCode({ kind: 'rejected', status: 0 })).toBe(0); // local overflow: not reported
    expect(outlierResponseCode({ kind: 'error', status: 0 })).toBe(500);
    expect(outlierResponseCode({ kind: 'error', status: 502 })).toBe(502);
    expect(outlierResponseCode({ kind: 'success', status: 0 })).toBe(200);
    expect(outlierResponseCode({ kind: 'success', status: 404 })).toBe(404);
  });
});

describe('consecutive 5xx', () => {
  it('ejects on exactly the N-th consecutive 5xx, not the (N−1)-th', () => {
    for (const n of [1, 3, 5, 7]) {
      const { od } = detector({ consecutive5xx: n });
      feed(od, 2, E500, n - 1);
      expect(od.isEjected(2)).toBe(false);
      od.onResult(2, E500);
      expect(od.isEjected(2)).toBe(true);
      expect(od.stats().enforced['consecutive-5xx']).toBe(1);
      expect(od.ejectionsActive).toBe(1);
    }
  });

  it('a non-5xx in between resets the count (4xx counts as success)', () => {
    const { od } = detector();
    feed(od, 0, E500, 4);
    od.onResult(0, { kind: 'success', status: 404 });
    feed(od, 0, E500, 4);
    expect(od.isEjected(0)).toBe(false);
    od.onResult(0, E500);
    expect(od.isEjected(0)).toBe(true);
  });

  it('local failures count: timeouts, resets and connect failures are 5xx; a local rejection is not reported', () => {
    const { od } = detector();
    od.onResult(0, { kind: 'timeout', status: 0 });
    od.onResult(0, { kind: 'reset', status: 0 });
    od.onResult(0, { kind: 'connect-failure', status: 0 });
    od.onResult(0, { kind: 'rejected', status: 0 }); // neither counts nor resets
    od.onResult(0, { kind: 'timeout', status: 0 });
    expect(od.isEjected(0)).toBe(false);
    od.onResult(0, { kind: 'error', status: 0 });
    expect(od.isEjected(0)).toBe(true);
  });

  it('a counter reaching the threshold while the host is ejected neither fires again nor resets; returning resets it', () => {
    const { od, engine } = detector();
    feed(od, 0, E500, 5);
    feed(od, 0, E500, 20); // in-flight attempts ending after the ejection
    const s = od.stats();
    expect(s.detected['consecutive-5xx']).toBe(1);
    expect(s.enforced['consecutive-5xx']).toBe(1);
    runTo(engine, 30_000);
    expect(od.isEjected(0)).toBe(false);
    feed(od, 0, E500, 4);
    expect(od.isEjected(0)).toBe(false); // would already be ejected had the count of 25 survived
    od.onResult(0, E500);
    expect(od.isEjected(0)).toBe(true);
  });
});

describe('consecutive gateway failure', () => {
  it('502/503/504 bump it, another 5xx resets it (and still bumps consecutive 5xx)', () => {
    const { od } = detector({ consecutive5xx: 100, enforcingConsecutiveGatewayFailure: '100%' });
    feed(od, 0, { kind: 'error', status: 502 }, 2);
    od.onResult(0, E503);
    od.onResult(0, { kind: 'timeout', status: 0 }); // 504
    od.onResult(0, E500); // resets the gateway count only
    feed(od, 0, E503, 4);
    expect(od.isEjected(0)).toBe(false);
    od.onResult(0, E503);
    expect(od.isEjected(0)).toBe(true);
    expect(od.stats().enforced['consecutive-gateway-failure']).toBe(1);
  });

  it('by default (enforcing 0%) it is detected, not enforced, and its counter resets', () => {
    const { od } = detector({ consecutive5xx: 1000 });
    feed(od, 0, E503, 15);
    const s = od.stats();
    expect(s.detected['consecutive-gateway-failure']).toBe(3);
    expect(s.enforced['consecutive-gateway-failure']).toBe(0);
    expect(od.isEjected(0)).toBe(false);
  });

  it('five 503s fire both detectors: the gateway one (not enforced) first, then 5xx ejects', () => {
    const { od } = detector();
    const seen: Array<[number, boolean, string | null]> = [];
    od.onChange((i, e, t) => seen.push([i, e, t]));
    feed(od, 4, E503, 5);
    expect(seen).toEqual([[4, true, 'consecutive-5xx']]);
    const s = od.stats();
    expect(s.detected).toMatchObject({ 'consecutive-gateway-failure': 1, 'consecutive-5xx': 1 });
    expect(s.ejectionsEnforcedTotal).toBe(1);
  });
});

describe('max ejection percent', () => {
  it('allows an ejection only if 100·(active+1)/hosts ≤ max%; refused ones count as overflow', () => {
    const { od } = detector({}, 20); // 10% of 20 = 2
    for (const i of [0, 1, 2]) feed(od, i, E500, 5);
    expect([0, 1, 2].map((i) => od.isEjected(i))).toEqual([true, true, false]);
    expect(od.stats()).toMatchObject({ ejectionsActive: 2, ejectionsOverflow: 1, ejectionsEnforcedTotal: 2 });
  });

  it('with fewer than 10 hosts the default 10% ejects nothing, unless alwaysEjectOneHost', () => {
    const a = detector({}, 9).od;
    feed(a, 0, E500, 5);
    expect(a.isEjected(0)).toBe(false);
    expect(a.stats().ejectionsOverflow).toBe(1);
    const b = detector({ alwaysEjectOneHost: true }, 3).od;
    feed(b, 0, E500, 5);
    feed(b, 1, E500, 5);
    expect([b.isEjected(0), b.isEjected(1)]).toEqual([true, false]);
  });

  it('property: never more hosts ejected than max% allows, over random outcome streams and host counts', () => {
    const outcomeArb = fc.constantFrom<Outcome>(OK, OK, E500, E503, { kind: 'timeout', status: 0 }, { kind: 'reset', status: 0 });
    const step = fc.record({ host: fc.nat(), outcome: outcomeArb, dt: fc.constantFrom(0, 0, 0, 1, 500, 7000) });
    let capped = 0; // runs where max% refused some ejection: the property is not vacuous
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(step, { minLength: 20, maxLength: 400, size: 'max' }),
        fc.integer({ min: 0, max: 1000 }),
        (n, maxPct, steps, seed) => {
          const { od, engine } = detector(
            {
              maxEjectionPercent: `${maxPct}%`,
              consecutive5xx: 2,
              consecutiveGatewayFailure: 2,
              enforcingConsecutiveGatewayFailure: '50%',
              enforcingSuccessRate: '100%',
              enforcingFailurePercentage: '100%',
              successRateRequestVolume: 3,
              successRateMinimumHosts: 1,
              failurePercentageRequestVolume: 3,
              failurePercentageMinimumHosts: 1,
              interval: '1s',
              baseEjectionTime: '2s',
            },
            n,
            seed,
          );
          const check = () => {
            let ejected = 0;
            for (let i = 0; i < n; i++) ejected += od.isEjected(i) ? 1 : 0;
            expect(ejected).toBe(od.ejectionsActive);
            expect((100 * ejected) / n).toBeLessThanOrEqual(maxPct);
          };
          od.onChange(check);
          for (const s of steps) {
            runTo(engine, engine.now() + s.dt);
            od.onResult(s.host % n, s.outcome);
            check();
          }
          if (od.stats().ejectionsOverflow > 0 && od.stats().ejectionsEnforcedTotal > 0) capped++;
        },
      ),
      { seed: 7, numRuns: 150 },
    );
    expect(capped).toBeGreaterThan(30);
  });
});

describe('ejection time backoff', () => {
  it('grows by base per back-to-back ejection, caps at max, and is checked on interval ticks', () => {
    const { od, engine } = detector();
    const ejectedFor: number[] = [];
    let since = 0;
    od.onChange((i, ejected) => {
      if (i === 0 && !ejected) ejectedFor.push((engine.now() - since) / 1000);
    });
    feed(od, 0, E500, 5); // t = 0
    for (let t = 10_000; ejectedFor.length < 13; t += 10_000) {
      runTo(engine, t);
      if (!od.isEjected(0)) {
        since = t;
        feed(od, 0, E500, 5); // fails again right after returning: no interval to decay
      }
    }
    expect(ejectedFor).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]);
    expect(od.ejectTimeBackoff(0)).toBe(11); // stops growing once backoff·base ≥ max + base
    expect(od.numEjections(0)).toBe(14);
  });

  it('rounds up to the next tick: an ejection at 3 s with base 30 s ends at the 40 s tick', () => {
    const { od, engine } = detector();
    runTo(engine, 3000);
    feed(od, 0, E500, 5);
    runTo(engine, 39_999);
    expect(od.isEjected(0)).toBe(true);
    runTo(engine, 40_000);
    expect(od.isEjected(0)).toBe(false);
  });

  it('decays by one per interval a returned host stays in', () => {
    const { od, engine } = detector();
    feed(od, 0, E500, 5); // backoff 1, back at 30 s
    runTo(engine, 30_000);
    feed(od, 0, E500, 5); // backoff 2 (60 s), back at 90 s
    expect(od.ejectTimeBackoff(0)).toBe(2);
    runTo(engine, 90_000);
    expect(od.isEjected(0)).toBe(false);
    expect(od.ejectTimeBackoff(0)).toBe(2); // returned in this very tick: no decay yet
    runTo(engine, 100_000);
    expect(od.ejectTimeBackoff(0)).toBe(1);
    runTo(engine, 110_000);
    expect(od.ejectTimeBackoff(0)).toBe(0);
    runTo(engine, 150_000);
    expect(od.ejectTimeBackoff(0)).toBe(0);
    feed(od, 0, E500, 5); // backoff 1 again: 30 s
    runTo(engine, 179_999);
    expect(od.isEjected(0)).toBe(true);
    runTo(engine, 180_000);
    expect(od.isEjected(0)).toBe(false);
  });

  it('decays before the sweep of the same tick: a host the success-rate pass ejects starts from the decremented step', () => {
    // Envoy's onIntervalTimer runs checkHostForUneject (backoff−− for a host not ejected)
    // for every host before processSuccessRateEjections.
    const { od, engine } = detector({ maxEjectionPercent: '100%' });
    feed(od, 0, E500, 5); // backoff 1, back at 30 s
    runTo(engine, 30_000);
    feed(od, 0, E500, 5); // backoff 2 (60 s), back at 90 s
    runTo(engine, 101_000);
    expect(od.isEjected(0)).toBe(false);
    expect(od.ejectTimeBackoff(0)).toBe(2 - 1); // the 100 s tick
    // Interval (100 s, 110 s]: host 0 at 50% success, the 9 others at 100%.
    for (let k = 0; k < 100; k++) od.onResult(0, k % 2 === 0 ? OK : E500);
    for (let i = 1; i < 10; i++) feed(od, i, OK, 100);
    runTo(engine, 110_000);
    expect(od.stats().enforced['success-rate']).toBe(1);
    expect(od.isEjected(0)).toBe(true);
    expect(od.ejectTimeBackoff(0)).toBe(1); // 1 − 1 at this tick's check, + 1 for the ejection
    runTo(engine, 139_999);
    expect(od.isEjected(0)).toBe(true);
    runTo(engine, 140_000);
    expect(od.isEjected(0)).toBe(false); // out for 1 × 30 s, not 2 × 30 s
  });

  it('adds a per-ejection jitter drawn from [0, maxEjectionTimeJitter] whole ms', () => {
    const durations: number[] = [];
    for (let seed = 0; seed < 200; seed++) {
      const { od, engine } = detector({ interval: '1ms', baseEjectionTime: '1s', maxEjectionTimeJitter: '500ms' }, 10, seed);
      let back = NaN;
      od.onChange((_, ejected) => {
        if (!ejected) back = engine.now();
      });
      feed(od, 0, E500, 5);
      runTo(engine, 2000);
      durations.push(back);
    }
    expect(Math.min(...durations)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...durations)).toBeLessThanOrEqual(1500);
    // 200 uniform draws over 501 values: the extremes land within 25 ms of the ends with
    // probability 1 − (1 − 25/501)^200 > 0.9999 each.
    expect(Math.min(...durations)).toBeLessThan(1025);
    expect(Math.max(...durations)).toBeGreaterThan(1475);
  });
});

describe('enforcement', () => {
  it('ejects a detected host with the enforcing probability (binomial, fixed seed)', () => {
    const trials = 2000;
    const run = (p: string) => {
      const { od } = detector({ enforcingConsecutive5xx: p, maxEjectionPercent: '100%' }, 1, 11);
      let enforced = 0;
      od.onChange((i, ejected) => {
        if (ejected) {
          enforced++;
          od.onActiveHealthCheckSuccess(i); // return it at once for the next trial
        }
      });
      feed(od, 0, E500, 5 * trials);
      expect(od.stats().detected['consecutive-5xx']).toBe(trials);
      return enforced;
    };
    // Binomial(2000, 0.3): mean 600, sd 20.5; ±4 sd.
    expect(Math.abs(run('30%') - 600)).toBeLessThan(82);
    expect(run('0%')).toBe(0);
    expect(run('100%')).toBe(trials);
  });
});

/** One interval of traffic: host i gets volumes[i] requests with successes[i] successes, failures spread out. */
function interval(od: OutlierDetector, volumes: number[], successes: number[]): void {
  volumes.forEach((v, i) => {
    const fails = v - successes[i];
    for (let k = 0; k < v; k++) od.onResult(i, Math.floor(((k + 1) * fails) / v) > Math.floor((k * fails) / v) ? E500 : OK);
  });
}

describe('success rate', () => {
  it("ejects below mean − 1.9σ at the tick after the interval ({50,100,100,100,100} → threshold 52)", () => {
    const { od, engine } = detector({ maxEjectionPercent: '100%' }, 5);
    interval(od, [100, 100, 100, 100, 100], [50, 100, 100, 100, 100]);
    expect(od.isEjected(0)).toBe(false);
    runTo(engine, 10_000);
    expect(od.isEjected(0)).toBe(true);
    expect(od.successRateStats().mean).toBe(90);
    expect(od.successRateStats().threshold).toBeCloseTo(52, 12);
    expect(od.successRate(0)).toBe(50);
    expect(od.stats().enforced['success-rate']).toBe(1);
    expect([1, 2, 3, 4].some((i) => od.isEjected(i))).toBe(false);
  });

  it('needs request volume and minimum hosts, counts only non-ejected hosts, and uses only the last interval', () => {
    const a = detector({ maxEjectionPercent: '100%' }, 5);
    interval(a.od, [100, 100, 100, 100, 99], [50, 100, 100, 100, 99]); // only 4 hosts with 100 requests
    runTo(a.engine, 10_000);
    expect(a.od.isEjected(0)).toBe(false);
    expect(a.od.successRateStats().mean).toBe(-1);

    const b = detector({ maxEjectionPercent: '100%', enforcingSuccessRate: '0%' }, 5);
    interval(b.od, [100, 100, 100, 100, 100], [50, 100, 100, 100, 100]);
    runTo(b.engine, 10_000);
    expect(b.od.stats().detected['success-rate']).toBe(1);
    expect(b.od.isEjected(0)).toBe(false);
    runTo(b.engine, 20_000); // the data belonged to the first interval only
    expect(b.od.stats().detected['success-rate']).toBe(1);
    expect(b.od.successRate(0)).toBe(-1);
  });

  it('the threshold moves with the spread; a larger stdev factor spares the host', () => {
    const { od, engine } = detector({ maxEjectionPercent: '100%' }, 5);
    interval(od, [100, 100, 100, 100, 100], [60, 100, 100, 100, 100]); // mean 92, σ 16, threshold 61.6
    runTo(engine, 10_000);
    expect(od.isEjected(0)).toBe(true);
    const b = detector({ maxEjectionPercent: '100%' }, 5);
    interval(b.od, [100, 100, 100, 100, 100], [62, 100, 100, 100, 100]); // mean 92.4, σ 15.2, threshold 63.52
    runTo(b.engine, 10_000);
    expect(b.od.isEjected(0)).toBe(true);
    const c = detector({ maxEjectionPercent: '100%', successRateStdevFactor: 3 }, 5);
    interval(c.od, [100, 100, 100, 100, 100], [62, 100, 100, 100, 100]); // threshold 92.4 − 45.6 = 46.8
    runTo(c.engine, 10_000);
    expect(c.od.isEjected(0)).toBe(false);
  });
});

describe('failure percentage', () => {
  const fp = { consecutive5xx: 0, consecutiveGatewayFailure: 0, enforcingSuccessRate: '0%', enforcingFailurePercentage: '100%', maxEjectionPercent: '100%' };

  it('ejects hosts whose failure share ≥ threshold among ≥ 5 hosts with ≥ 50 requests', () => {
    const { od, engine } = detector(fp, 6);
    // host 0: 85% failures (ejected, ≥), host 1: 84% (stays), host 5: 100% but 49 requests (not judged)
    interval(od, [100, 100, 50, 50, 50, 49], [15, 16, 50, 50, 50, 0]);
    runTo(engine, 10_000);
    expect([0, 1, 2, 3, 4, 5].map((i) => od.isEjected(i))).toEqual([true, false, false, false, false, false]);
    expect(od.stats().detected['failure-percentage']).toBe(1);
    expect(od.stats().enforced['failure-percentage']).toBe(1);
  });

  it('is detected but not enforced by default, and needs minimum hosts', () => {
    const a = detector({ ...fp, enforcingFailurePercentage: '0%' }, 5);
    interval(a.od, [50, 50, 50, 50, 50], [0, 50, 50, 50, 50]);
    runTo(a.engine, 10_000);
    expect(a.od.isEjected(0)).toBe(false);
    expect(a.od.stats().detected['failure-percentage']).toBe(1);
    const b = detector(fp, 5);
    interval(b.od, [50, 50, 50, 50, 0], [0, 50, 50, 50, 0]); // 4 hosts with volume
    runTo(b.engine, 10_000);
    expect(b.od.isEjected(0)).toBe(false);
  });

  it('does not eject again a host the success-rate pass just ejected', () => {
    const { od, engine } = detector({ ...fp, enforcingSuccessRate: '100%' }, 5);
    interval(od, [100, 100, 100, 100, 100], [0, 100, 100, 100, 100]);
    runTo(engine, 10_000);
    expect(od.isEjected(0)).toBe(true);
    expect(od.stats()).toMatchObject({ ejectionsActive: 1, ejectionsEnforcedTotal: 1 });
  });
});

describe('membership, health checks, lifecycle', () => {
  it('setHosts keeps state by id, forgets removed hosts and starts new ones clean', () => {
    const { od } = detector({ maxEjectionPercent: '100%' }, 3);
    feed(od, 1, E500, 5); // eject h1
    feed(od, 2, E500, 4);
    od.setHosts(['h2', 'h1', 'new', 'h0']);
    expect(od.indexOf('h1')).toBe(1);
    expect(od.isEjected(1)).toBe(true);
    expect(od.ejectionsActive).toBe(1);
    od.onResult(0, E500); // h2's fifth
    expect(od.isEjected(0)).toBe(true);
    od.setHosts(['h0', 'new']);
    expect(od.ejectionsActive).toBe(0);
    expect(od.indexOf('h1')).toBe(-1);
    od.onResultById('h1', E500); // a late answer of a removed host is ignored
    expect(() => od.setHosts(['a', 'a'])).toThrow(/duplicate/);
  });

  it('a passing active health check returns an ejected host and resets its counters (unless disabled)', () => {
    const { od } = detector();
    feed(od, 0, E500, 5);
    expect(od.onActiveHealthCheckSuccess(0)).toBe(true);
    expect(od.isEjected(0)).toBe(false);
    feed(od, 0, E500, 4);
    expect(od.isEjected(0)).toBe(false);
    expect(od.onActiveHealthCheckSuccess(1)).toBe(false); // not ejected
    const off = detector({ successfulActiveHealthCheckUnejectHost: false }).od;
    feed(off, 0, E500, 5);
    expect(off.onActiveHealthCheckSuccess(0)).toBe(false);
    expect(off.isEjected(0)).toBe(true);
  });

  it('reports changes to listeners and through generation; stop() ends the ticks', () => {
    const { od, engine } = detector();
    const events: string[] = [];
    const off = od.onChange((i, e, t) => events.push(`${i}:${e}:${t}`));
    const g = od.generation;
    feed(od, 3, E500, 5);
    expect(od.generation).toBe(g + 1);
    runTo(engine, 30_000);
    expect(events).toEqual(['3:true:consecutive-5xx', '3:false:null']);
    off();
    feed(od, 3, E500, 5);
    expect(events.length).toBe(2);
    od.stop();
    runTo(engine, 1_000_000);
    expect(od.isEjected(3)).toBe(true);
  });
});
