/**
 * Envoy active health checking on the Engine's virtual clock: thresholds, the first-success
 * rule, timeouts as network failures (late answers ignored), immediate failure on a bad
 * status, interval selection and jitter bounds, membership changes, stop(), and the
 * successful-health-check uneject wiring to outlier detection.
 */
import { describe, expect, it } from 'vitest';
import { healthCheckConfigSchema, HealthChecker, type HealthCheckInput, type ProbeDone, type ProbeFailure } from '../../../src/algorithms/failover/health-check.js';
import { outlierDetectionConfigSchema, OutlierDetector } from '../../../src/algorithms/failover/outlier-detection.js';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { Engine } from '../../../src/sim/engine.js';

/** The meshsim scenario's health check. */
const SCENARIO: HealthCheckInput = { interval: '5s', timeout: '1s', unhealthyThreshold: 3, healthyThreshold: 2 };

type Answer = { ok: boolean; failure?: ProbeFailure; after?: number } | 'silent';

/**
 * A world whose instances answer probes as `answer(index, probeNumber)` says: at once, after
 * `after` ms, or never ('silent'). Records every probe's (time, index).
 */
function harness(options: Partial<HealthCheckInput> = {}, answer: (index: number, k: number) => Answer = () => ({ ok: true }), n = 1, seed = 1) {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  const ports: Ports = { clock: engine, timers: engine, rng: rngStream(seed, 'test/health-check') };
  const probes: Array<[number, number]> = [];
  const perHost = new Map<number, number>();
  const probe = (index: number, done: ProbeDone) => {
    const k = perHost.get(index) ?? 0;
    perHost.set(index, k + 1);
    probes.push([engine.now(), index]);
    const a = answer(index, k);
    if (a === 'silent') return;
    if (a.after === undefined) done(a.ok, a.failure);
    else engine.schedule(a.after, () => done(a.ok, a.failure));
  };
  const hc = new HealthChecker(healthCheckConfigSchema.parse({ ...SCENARIO, ...options }), ports, probe, Array.from({ length: n }, (_, i) => `h${i}`));
  const transitions: Array<[number, number, boolean]> = [];
  hc.onChange((i, healthy) => transitions.push([engine.now(), i, healthy]));
  const runTo = (t: number) => {
    engine.run(t);
    engine.run(t); // events scheduled at exactly t by handlers during the first call
  };
  return { engine, hc, probes, transitions, runTo };
}

describe('config', () => {
  it('requires interval, timeout and both thresholds; optional fields default as in Envoy', () => {
    expect(healthCheckConfigSchema.parse(SCENARIO)).toEqual({
      interval: 5000,
      timeout: 1000,
      unhealthyThreshold: 3,
      healthyThreshold: 2,
      intervalJitter: 0,
      intervalJitterPercent: 0,
      initialJitter: 0,
    });
    for (const key of ['interval', 'timeout', 'unhealthyThreshold', 'healthyThreshold'] as const) {
      const partial: Record<string, unknown> = { ...SCENARIO };
      delete partial[key];
      expect(healthCheckConfigSchema.safeParse(partial).success).toBe(false);
    }
    expect(healthCheckConfigSchema.safeParse({ ...SCENARIO, timeout: '0s' }).success).toBe(false);
    expect(healthCheckConfigSchema.safeParse({ ...SCENARIO, healthyThreshold: 0 }).success).toBe(false);
    expect(healthCheckConfigSchema.safeParse({ ...SCENARIO, jitter: '1s' }).success).toBe(false);
  });
});

describe('thresholds', () => {
  it('a new host starts unhealthy and its FIRST success marks it healthy at once', () => {
    const { hc, probes, transitions, runTo } = harness();
    expect(hc.isHealthy(0)).toBe(false);
    runTo(0);
    expect(probes).toEqual([[0, 0]]);
    expect(hc.isHealthy(0)).toBe(true);
    expect(transitions).toEqual([[0, 0, true]]);
  });

  it('after a failed first check it takes healthyThreshold consecutive successes; a failure restarts the count', () => {
    const pattern = [false, true, false, true, true];
    const { hc, transitions, probes, runTo } = harness({}, (_, k) => ({ ok: pattern[k] ?? true }));
    runTo(20_000);
    // probes at 0 (fail), 5 s (ok 1/2), 10 s (fail: restart), 15 s (ok 1/2), 20 s (ok 2/2 → healthy)
    expect(probes.map(([t]) => t)).toEqual([0, 5000, 10_000, 15_000, 20_000]);
    expect(transitions).toEqual([[20_000, 0, true]]);
    expect(hc.isHealthy(0)).toBe(true);
  });

  it('unhealthyThreshold consecutive network failures mark a healthy host unhealthy; a success in between resets', () => {
    const pattern = [true, false, false, true, false, false, false];
    const { hc, transitions, runTo } = harness({}, (_, k) => (k < pattern.length ? { ok: pattern[k], failure: 'network' } : { ok: true }));
    runTo(25_000);
    expect(hc.isHealthy(0)).toBe(true); // 2 failures, then a success at 15 s
    runTo(30_000); // failures at 20, 25, 30 s
    expect(transitions).toEqual([
      [0, 0, true],
      [30_000, 0, false],
    ]);
  });

  it('a response with an unexpected status marks the host unhealthy at once', () => {
    const { transitions, runTo } = harness({}, (_, k) => (k === 0 ? { ok: true } : { ok: false, failure: 'status' }));
    runTo(5000);
    expect(transitions).toEqual([
      [0, 0, true],
      [5000, 0, false],
    ]);
  });
});

describe('timeouts', () => {
  it('count as failures: a silent host is unhealthy after three timeouts (probe, +1 s timeout, +5 s wait)', () => {
    const { hc, transitions, probes, runTo } = harness({}, (_, k) => (k === 0 ? { ok: true } : 'silent'));
    runTo(40_000);
    // probes 0 (ok), 5 s → timeout 6 s, 11 s → 12 s, 17 s → 18 s: unhealthy at 18 s
    expect(probes.map(([t]) => t).slice(0, 4)).toEqual([0, 5000, 11_000, 17_000]);
    expect(transitions).toEqual([
      [0, 0, true],
      [18_000, 0, false],
    ]);
    expect(hc.stats()).toMatchObject({ timeouts: 6, networkFailures: 6, failures: 6, successes: 1 });
  });

  it('an answer arriving after the timeout is ignored (the probe already failed)', () => {
    const { hc, transitions, runTo } = harness({ unhealthyThreshold: 1 }, (_, k) => (k === 0 ? { ok: true } : { ok: true, after: 1500 }));
    runTo(5000 + 1500);
    expect(transitions).toEqual([
      [0, 0, true],
      [6000, 0, false],
    ]);
    expect(hc.isHealthy(0)).toBe(false);
    expect(hc.stats()).toMatchObject({ successes: 1, timeouts: 1 });
  });

  it('an answer within the timeout cancels it; a second call of done is ignored', () => {
    let keep: ProbeDone | undefined;
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const hc = new HealthChecker(healthCheckConfigSchema.parse(SCENARIO), { clock: engine, timers: engine, rng: rngStream(1, 'hc') }, (_, done) => {
      keep = done;
      engine.schedule(999, () => done(true));
    }, ['a']);
    engine.run(10_000);
    expect(hc.isHealthy(0)).toBe(true);
    keep?.(false);
    expect(hc.stats()).toMatchObject({ attempts: 2, successes: 2, failures: 0 });
  });
});

describe('scheduling', () => {
  it('waits interval after each answer, unhealthyInterval after a failure, and the edge intervals while a flip is pending', () => {
    const pattern = [true, false, false, false, true, true];
    const { probes, runTo } = harness({ unhealthyInterval: '2s', unhealthyEdgeInterval: '3s', healthyEdgeInterval: '4s' }, (_, k) => ({ ok: pattern[k] ?? true, after: 100 }));
    runTo(60_000);
    const starts = probes.map(([t]) => t);
    // ok (changed) → interval 5 s; fail pending → 3 s; fail pending → 3 s; fail changed → 2 s;
    // ok pending → 4 s; ok changed → 5 s; ok unchanged → 5 s
    const waits = starts.slice(1, 8).map((t, k) => t - starts[k] - 100);
    expect(waits).toEqual([5000, 3000, 3000, 2000, 4000, 5000, 5000]);
  });

  it('interval jitter adds a whole number of ms in [0, jitter); the percent form adds [0, p·wait)', () => {
    const gaps = (options: Partial<HealthCheckInput>) => {
      const { probes, runTo } = harness(options, () => ({ ok: true }), 1, 3);
      runTo(3_000_000);
      return probes.slice(1).map(([t], k) => t - probes[k][0]);
    };
    const a = gaps({ intervalJitter: '1s' });
    expect(a.length).toBeGreaterThan(400);
    for (const g of a) {
      expect(Number.isInteger(g)).toBe(true);
      expect(g).toBeGreaterThanOrEqual(5000);
      expect(g).toBeLessThan(6000);
    }
    // > 400 uniform draws over 1000 values: each end is reached within 20 ms with
    // probability 1 − 0.98^400 > 0.9996.
    expect(Math.min(...a)).toBeLessThan(5020);
    expect(Math.max(...a)).toBeGreaterThan(5979);
    const b = gaps({ intervalJitterPercent: '10%' });
    for (const g of b) {
      expect(g).toBeGreaterThanOrEqual(5000);
      expect(g).toBeLessThan(5500);
    }
    expect(Math.max(...b) - Math.min(...b)).toBeGreaterThan(450);
    expect(new Set(gaps({})).size).toBe(1);
  });

  it('initial jitter delays each new host by [1, initialJitter) ms', () => {
    const { probes, runTo } = harness({ initialJitter: '2s' }, () => ({ ok: true }), 200, 5);
    runTo(2000);
    expect(probes.length).toBe(200);
    for (const [t] of probes) {
      expect(t).toBeGreaterThanOrEqual(1);
      expect(t).toBeLessThan(2000);
    }
  });

  it('noTrafficInterval applies until noteTraffic()', () => {
    const { hc, probes, runTo } = harness({ noTrafficInterval: '60s' });
    runTo(120_000);
    expect(probes.map(([t]) => t)).toEqual([0, 60_000, 120_000]);
    hc.noteTraffic();
    runTo(180_000);
    expect(probes.map(([t]) => t)).toEqual([0, 60_000, 120_000, 180_000]); // wait was drawn before
    runTo(190_000);
    expect(probes.map(([t]) => t).slice(3)).toEqual([180_000, 185_000, 190_000]);
  });
});

describe('membership and stop', () => {
  it('keeps state by id, probes new hosts at once (starting unhealthy) and stops probing removed ones', () => {
    const { hc, probes, runTo } = harness({}, () => ({ ok: true }), 2);
    runTo(1000);
    hc.setHosts(['h1', 'x']);
    expect(hc.isHealthy(0)).toBe(true); // h1 kept its state
    expect(hc.isHealthy(1)).toBe(false); // x is new
    expect(hc.indexOf('h0')).toBe(-1);
    runTo(1000);
    expect(hc.isHealthyId('x')).toBe(true);
    runTo(10_000);
    const byIndexAfter = probes.filter(([t]) => t > 1000);
    expect(byIndexAfter).toEqual([
      [5000, 0],
      [6000, 1],
      [10_000, 0],
    ]);
    expect(() => hc.setHosts(['a', 'a'])).toThrow(/duplicate/);
  });

  it('a removed host’s answer in flight is ignored', () => {
    const { hc, runTo } = harness({}, (i) => (i === 0 ? { ok: true, after: 500 } : { ok: true }), 2);
    runTo(100);
    hc.setHosts(['h1']);
    runTo(1000);
    expect(hc.stats().successes).toBe(1);
  });

  it('no probes after stop(), and answers in flight are ignored', () => {
    const { hc, probes, runTo, transitions } = harness({}, (_, k) => (k === 0 ? { ok: true } : { ok: false, after: 500 }), 3);
    runTo(5200);
    hc.stop();
    const sent = probes.length;
    runTo(1_000_000);
    expect(probes.length).toBe(sent);
    expect(transitions.filter(([, , h]) => !h)).toEqual([]);
    hc.setHosts(['h0', 'h1', 'h2', 'new']);
    runTo(2_000_000);
    expect(probes.length).toBe(sent);
  });
});

describe('with outlier detection (successful_active_health_check_uneject_host)', () => {
  it('a passing check of a host the checker holds healthy returns it from ejection; a pending one does not', () => {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const ports: Ports = { clock: engine, timers: engine, rng: rngStream(2, 'test/hc-od') };
    const ids = Array.from({ length: 10 }, (_, i) => `h${i}`);
    const od = new OutlierDetector(outlierDetectionConfigSchema.parse({}), ports, ids);
    const runTo = (t: number) => {
      engine.run(t);
      engine.run(t);
    };
    let failing = false;
    const hc = new HealthChecker(healthCheckConfigSchema.parse(SCENARIO), ports, (i, done) => done(i !== 0 || !failing), ids);
    hc.onCheck((i, ok, healthy) => {
      if (ok && healthy) od.onActiveHealthCheckSuccess(i);
    });
    runTo(1000); // all healthy after their first check
    for (let k = 0; k < 5; k++) od.onResult(0, { kind: 'error', status: 500 });
    expect(od.isEjected(0)).toBe(true);
    runTo(5000); // the 5 s check passes: returned long before base_ejection_time
    expect(od.isEjected(0)).toBe(false);

    failing = true;
    runTo(20_000); // fails at 10, 15, 20 s → unhealthy
    expect(hc.isHealthy(0)).toBe(false);
    failing = false;
    for (let k = 0; k < 5; k++) od.onResult(0, { kind: 'error', status: 500 });
    expect(od.isEjected(0)).toBe(true);
    runTo(25_000); // passes, but 1 of 2: still unhealthy for the checker
    expect(od.isEjected(0)).toBe(true);
    runTo(30_000); // 2 of 2: healthy, and returned
    expect(hc.isHealthy(0)).toBe(true);
    expect(od.isEjected(0)).toBe(false);
  });
});
