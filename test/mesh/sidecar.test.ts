/**
 * The sidecar's health view: outlier ejections make endpoints unhealthy to its balancer
 * (rebuilt lazily at the next pick), and their return makes them eligible again; in the
 * simulator an instance answering only 5xx is ejected after exactly consecutive5xx errors.
 */
import { describe, expect, it } from 'vitest';
import { healthCheckConfigSchema, HealthChecker } from '../../src/algorithms/failover/health-check.js';
import { OutlierDetector, outlierDetectionConfigSchema } from '../../src/algorithms/failover/outlier-detection.js';
import { createBalancer, resolveBalancerOptions } from '../../src/algorithms/registry.js';
import type { Balancer, Endpoint, Outcome } from '../../src/algorithms/types.js';
import { rngStream } from '../../src/core/rng.js';
import { Sidecar } from '../../src/mesh/sidecar.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { Engine } from '../../src/sim/engine.js';
import { simulate } from '../../src/sim/world.js';

const ERROR: Outcome = { kind: 'error', status: 503 };
const OK: Outcome = { kind: 'success', status: 200 };

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, zone: 'a', weight: 1, health: 'healthy', priority: 0, metadata: {} }));
}

describe('Sidecar with outlier detection', () => {
  it('stops picking an ejected endpoint at once and picks it again after its ejection time', () => {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const ports = { clock: engine, timers: engine, rng: rngStream(1, 'test') };
    // 10 hosts so that one ejection is within maxEjectionPercent 10%.
    const od = new OutlierDetector(outlierDetectionConfigSchema.parse({ consecutive5xx: 3, baseEjectionTime: '30s', interval: '10s' }), ports);
    const sidecar = new Sidecar('s', createBalancer(resolveBalancerOptions({ kind: 'round-robin' }), ports), endpoints(10), { outlierDetector: od });
    for (let k = 0; k < 2; k++) sidecar.attemptEnded(4, ERROR, 1);
    expect(Array.from({ length: 30 }, () => sidecar.pick())).toContain(4);
    sidecar.attemptEnded(4, ERROR, 1); // the 3rd consecutive 5xx ejects
    expect(Array.from({ length: 30 }, () => sidecar.pick())).not.toContain(4);
    sidecar.attemptEnded(5, OK, 1);
    engine.run(45_000); // unejected at the first interval tick ≥ 30 s after the ejection
    expect(Array.from({ length: 30 }, () => sidecar.pick())).toContain(4);
  });

  it("a soft per-try timeout (hedging) reaches outlier detection alone, and a route timeout after it is not counted again", () => {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const ports = { clock: engine, timers: engine, rng: rngStream(1, 'test') };
    const od = new OutlierDetector(outlierDetectionConfigSchema.parse({ consecutive5xx: 3, interval: '10s' }), ports);
    const ends: number[] = [];
    const balancer = createBalancer(resolveBalancerOptions({ kind: 'round-robin' }), ports);
    const onEnd = balancer.onEnd.bind(balancer);
    balancer.onEnd = (i, o, l) => {
      ends.push(i);
      onEnd(i, o, l);
    };
    const sidecar = new Sidecar('s', balancer, endpoints(10), { outlierDetector: od });
    const TIMEOUT: Outcome = { kind: 'timeout', status: 0 };
    sidecar.attemptSoftTimeout(4);
    sidecar.attemptSoftTimeout(4);
    expect(ends).toEqual([]); // the attempts go on: the balancer still counts them
    sidecar.attemptEnded(4, TIMEOUT, 1000, false); // the route timeout ends one: no second 504
    expect(ends).toEqual([4]);
    expect(od.isEjected(4)).toBe(false);
    sidecar.attemptSoftTimeout(4); // the third 504 in a row ejects
    expect(od.isEjected(4)).toBe(true);
  });

  it('in the simulator: an instance that only answers 503 is ejected after exactly consecutive5xx errors', () => {
    const text = `
name: od
seed: 3
seeds: 1
duration: 20s
warmup: 0s
services:
  api: { instances: 10, concurrency: unbounded, serviceTime: { dist: constant, value: 1ms } }
network: { latency: { dist: constant, value: 0ms } }
workload:
  - { name: users, target: api, arrival: { process: constant, rate: 1000/s } }
mesh:
  balancer: { kind: round-robin }
  failover: { outlierDetection: { consecutive5xx: 5, baseEjectionTime: 60s } }
faults:
  - { kind: error, target: { service: api, instances: [7] }, at: 0s, rate: 100%, status: 503 }
`;
    const r = simulate(parseScenarioText(text, 'od.yaml').base, 3);
    // One sidecar, round robin: instance 7 gets every 10th request until its 5th error ejects it
    // (base ejection 60 s > the run), so exactly 5 requests fail.
    expect(r.requests.errors).toBe(5);
    expect(r.failover.ejections).toBe(1);
    expect(r.requests.succeeded).toBe(r.requests.total - 5);
  });
});

describe('Sidecar health view: ejected hosts tell the balancer their health apart from the ejection', () => {
  it('healthWithoutEjection: healthy when only ejected, unhealthy when also failing checks, absent when not ejected', () => {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const ports = { clock: engine, timers: engine, rng: rngStream(1, 'test') };
    let last: readonly Endpoint[] = [];
    const capture: Balancer = { rebuild: (eps) => void (last = eps), pick: () => 0, onStart() {}, onEnd() {} };
    const failing = new Set<number>();
    const od = new OutlierDetector(outlierDetectionConfigSchema.parse({ consecutive5xx: 1, maxEjectionPercent: '100%', baseEjectionTime: '300s' }), ports);
    const hc = new HealthChecker(healthCheckConfigSchema.parse({ interval: '1s', timeout: '100ms', unhealthyThreshold: 1, healthyThreshold: 1 }), ports, (i, done) => done(!failing.has(i)));
    const sidecar = new Sidecar('s', capture, endpoints(4), { outlierDetector: od, healthChecker: hc });
    engine.run(500); // every host passes its first check
    failing.add(1).add(2);
    engine.run(2500); // hosts 1 and 2 fail their next check
    sidecar.attemptEnded(0, ERROR, 1); // ejects host 0
    sidecar.attemptEnded(1, ERROR, 1); // ejects host 1
    sidecar.pick();
    expect(last.map((e) => [e.health, e.healthWithoutEjection])).toEqual([
      ['unhealthy', 'healthy'],
      ['unhealthy', 'unhealthy'],
      ['unhealthy', undefined],
      ['healthy', undefined],
    ]);
  });

  it('slow start does not restart when an ejection ends (Envoy measures it from the last health-check pass)', () => {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const ports = { clock: engine, timers: engine, rng: rngStream(1, 'test') };
    const od = new OutlierDetector(outlierDetectionConfigSchema.parse({ consecutive5xx: 3, baseEjectionTime: '30s', interval: '10s', maxEjectionPercent: '50%' }), ports);
    const lb = createBalancer(resolveBalancerOptions({ kind: 'weighted-round-robin', slowStart: { window: '30s' } }), ports);
    const sidecar = new Sidecar('s', lb, endpoints(4), { outlierDetector: od });
    engine.run(100_000); // everyone's slow start (from t = 0) is long over
    for (let k = 0; k < 3; k++) sidecar.attemptEnded(0, ERROR, 1);
    expect(Array.from({ length: 40 }, () => sidecar.pick())).not.toContain(0);
    engine.run(131_000); // unejected at the 130 s tick
    const n = 4000;
    let zero = 0;
    for (let k = 0; k < n; k++) if (sidecar.pick() === 0) zero++;
    expect(Math.abs(zero / n - 0.25)).toBeLessThan(0.01); // not 0.1 / 3.1 (a new ramp)
  });
});

describe('Sidecar with active health checks (probes travel through the simulated world)', () => {
  it('stops sending to a crashed instance after unhealthyThreshold failed probes: detection within [T−1, T] intervals', () => {
    const text = (hc: boolean): string => `
name: hc
seed: 5
seeds: 1
duration: 60s
warmup: 0s
services:
  api: { instances: 6, concurrency: unbounded, serviceTime: { dist: constant, value: 1ms } }
network: { latency: { dist: constant, value: 100us } }
workload:
  - { name: users, target: api, arrival: { process: constant, rate: 600/s } }
mesh:
  balancer: { kind: round-robin }
${hc ? '  failover: { healthCheck: { interval: 1s, timeout: 200ms, unhealthyThreshold: 2, healthyThreshold: 2 } }' : ''}
faults:
  - { kind: crash, target: { service: api, instances: [2] }, at: 20s, for: 20s }
`;
    const without = simulate(parseScenarioText(text(false), 'hc.yaml').base, 5);
    // Round robin over 6 at 600/s: instance 2 gets 100 req/s, all refused for the 20 s crash.
    expect(without.requests.connectFailures).toBeGreaterThanOrEqual(1999);
    expect(without.requests.connectFailures).toBeLessThanOrEqual(2001);
    const withHc = simulate(parseScenarioText(text(true), 'hc.yaml').base, 5);
    // Probes run every interval (1 s) after the previous answer; the crash lands at an
    // arbitrary phase, so the 2nd failed probe comes 1–2 s after it (plus two 0.1 ms hops):
    // 100 to 200 refused requests, then none until the instance is back and passes again.
    expect(withHc.requests.connectFailures).toBeGreaterThanOrEqual(100);
    expect(withHc.requests.connectFailures).toBeLessThanOrEqual(201);
    expect(withHc.failover.healthCheckFailures).toBeGreaterThanOrEqual(2);
    expect(withHc.requests.succeeded + withHc.requests.failed).toBe(withHc.requests.total);

    // Envoy's no_traffic_interval holds until the sidecar's first attempt: with 60 s set,
    // the first probe's answer (t ≈ 0.2 ms, before the first request at 1.7 ms) still waits
    // 60 s, and from the 60 s probe on the interval is 1 s again, so a crash at 80 s is
    // detected as fast as above (waiting 60 s throughout, it would last the whole crash).
    const noTraffic = text(true)
      .replace('healthyThreshold: 2 }', 'healthyThreshold: 2, noTrafficInterval: 60s }')
      .replace('duration: 60s', 'duration: 120s')
      .replace('at: 20s, for: 20s', 'at: 80s, for: 20s');
    const idleFirst = simulate(parseScenarioText(noTraffic, 'hc.yaml').base, 5);
    expect(idleFirst.requests.connectFailures).toBeGreaterThanOrEqual(100);
    expect(idleFirst.requests.connectFailures).toBeLessThanOrEqual(201);
  });
});

describe('Circuit breaker (max requests) in the simulated sidecar', () => {
  it('admits at most maxRequests at once and answers the overflow with 503 at once', () => {
    const text = `
name: cb
seed: 1
seeds: 1
duration: 10s
warmup: 0s
services:
  api: { instances: 2, concurrency: unbounded, serviceTime: { dist: constant, value: 10ms } }
network: { latency: { dist: constant, value: 0ms } }
workload:
  - { name: users, target: api, arrival: { process: constant, rate: 1000/s } }
mesh:
  balancer: { kind: round-robin }
  failover: { circuitBreaker: { maxRequests: 5 } }
`;
    const r = simulate(parseScenarioText(text, 'cb.yaml').base, 1);
    // A request every 1 ms holds its slot from issue t to its answer at t + 10 ms; the arrival
    // due at exactly t + 10 was scheduled first, so it fires before that answer frees the slot
    // (ties fire in scheduling order) and is refused. Each slot thus cycles every 11 ms:
    // 5 admitted per 11 arrivals, 6/11 refused.
    expect(r.failover.breakerOverflows).toBeGreaterThanOrEqual((r.requests.total * 6) / 11 - 5);
    expect(r.failover.breakerOverflows).toBeLessThanOrEqual((r.requests.total * 6) / 11 + 5);
    expect(r.requests.rejected).toBe(r.failover.breakerOverflows);
    expect(r.requests.succeeded + r.requests.rejected).toBe(r.requests.total);
  });
});
