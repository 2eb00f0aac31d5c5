/**
 * The live runner end to end (a few seconds of real traffic on 127.0.0.1): a scenario with
 * a crash fault runs live and comes back as the simulator's RunResult — counts that add
 * up, latency, per-instance traffic, the fault window the simulator resolves — and feeds
 * buildReport as a simulation does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { liveChildren } from '../../src/live/process.js';
import { buildReport } from '../../src/report/report.js';
import { resolveFaultWindows, runScenarioLive } from '../../src/runner/live.js';
import { loadScenario } from '../../src/scenario/load.js';
import { simulate } from '../../src/sim/world.js';
import { tempFiles } from '../cli/_run.js';

const { writeScenario } = tempFiles('meshsim-runner-live-');

afterEach(() => {
  expect(liveChildren()).toEqual([]);
});

const SCENARIO = `name: live-e2e
seed: 1
seeds: 1
duration: 2500ms
warmup: 300ms
drain: 1s
services:
  api:
    instances: 3
    concurrency: 2
    queue: 20
    serviceTime: { dist: exponential, mean: 4ms }
network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 150/s }
    timeout: 1s
mesh:
  balancer: { kind: round-robin }
faults:
  - { kind: crash, target: { service: api, instances: [2] }, at: 1s, for: 500ms }
`;

describe('runScenarioLive', () => {
  it('runs a scenario live and reports it as a simulation is reported', async () => {
    const loaded = loadScenario(writeScenario(SCENARIO));
    const out = await runScenarioLive(loaded);
    expect(out.aborted).toBe(false);
    expect(out.seeds).toEqual([1]);
    const [run] = out.variants[0].runs;
    const r = run.requests;
    // Poisson(150/s × 2.2 s = 330): 4.5σ ≈ 82.
    expect(Math.abs(r.total - 330)).toBeLessThan(82);
    expect(r.total).toBe(r.succeeded + r.failed + r.inFlight);
    expect(r.failed).toBe(r.rejected + r.timedOut + r.errors + r.resets + r.connectFailures);
    expect(run.conservation.issued).toBe(run.conservation.succeeded + run.conservation.failed + run.conservation.inFlight);
    expect(run.latency.count).toBe(r.succeeded);
    expect(r.succeeded).toBeGreaterThan(r.total * 0.5);
    // Latency: at least the loopback round trip, and below the client's 1 s timeout.
    expect(run.latency.quantile(0.5)).toBeGreaterThan(0);
    expect(run.latency.max).toBeLessThan(1000 + 50);
    // Every instance got traffic through the proxy; the fleet served it.
    expect(run.instances.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(run.instances.every((i) => i.requests > 0 && i.served > 0 && i.busyMs > 0)).toBe(true);
    const sent = run.instances.reduce((a, i) => a + i.requests, 0);
    expect(sent).toBeGreaterThanOrEqual(r.total * 0.9);
    // The crash window as the simulator resolves it.
    expect(run.faults).toEqual([{ fault: 0, kind: 'crash', start: 1000, end: 1500, service: 'api', instances: [2] }]);
    expect(resolveFaultWindows(loaded.variants[0].scenario, 1).map((w) => [w.start, w.end, [...w.instances]])).toEqual([[1000, 1500, [2]]]);
    expect(run.layers).toHaveLength(1);
    expect(run.layers[0]).toMatchObject({ caller: 'users', target: 'api', client: true });
    const tl = run.timeline.requests.reduce((a, b) => a + b, 0);
    expect(tl).toBe(r.succeeded + r.failed);

    const report = buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, out, { mode: 'live' });
    expect(report.mode).toBe('live');
    expect(report.variants[0].summary.requests.total).toBe(r.total);
    expect(report.variants[0].instances.reduce((a, i) => a + i.share, 0)).toBeCloseTo(1, 5);
  }, 30_000);

  it('reports what the proxies’ failover did: hedges won, health-check failures, per-try timeouts, as the simulator counts them', async () => {
    // Instance 2 is slow (60 ms): a hedge after 15 ms to a fast one wins. Instance 1 crashes
    // for a second: its health checks fail. Per-try timeouts of 100 ms catch the odd request
    // stuck on the slow one behind others.
    const loaded = loadScenario(
      writeScenario(`name: live-failover-counts
seed: 1
seeds: 1
duration: 2s
warmup: 200ms
drain: 1s
services:
  api:
    instances: 3
    concurrency: 4
    serviceTime: { dist: constant, value: 2ms }
    overrides:
      - instances: [2]
        serviceTime: { dist: constant, value: 60ms }
network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 100/s }
    timeout: 1s
mesh:
  balancer: { kind: round-robin }
  failover:
    retries: { max: 1, on: [5xx, reset, connect-failure] }
    hedge: { delay: 15ms }
    healthCheck: { interval: 100ms, timeout: 50ms, unhealthyThreshold: 2, healthyThreshold: 1 }
faults:
  - { kind: crash, target: { service: api, instances: [1] }, at: 500ms, for: 1s }
`),
    );
    const out = await runScenarioLive(loaded, { layout: 'single' });
    const [run] = out.variants[0].runs;
    expect(run.failover.hedges).toBeGreaterThan(0);
    expect(run.failover.hedgesWon).toBeGreaterThan(0);
    expect(run.failover.hedgesWon).toBeLessThanOrEqual(run.failover.hedges ?? 0);
    expect(run.failover.healthCheckFailures).toBeGreaterThanOrEqual(2);
    expect(run.failover.throttled).toBeUndefined(); // not configured: left out, as the simulator does
    // Layers count over the measurement window (a difference of two snapshots, so a hedge
    // sent just before it and won inside counts only as won): within the whole run's.
    const [layer] = run.layers;
    expect(layer.hedgesWon).toBeGreaterThan(0);
    expect(layer.hedgesWon).toBeLessThanOrEqual(run.failover.hedgesWon ?? 0);
    expect(layer.hedges).toBeLessThanOrEqual(run.failover.hedges ?? 0);
  }, 30_000);

  /**
   * A short run of one API service and one workload (no warm-up, every request measured),
   * live in one process and simulated with the live seed (its twin); `service`, `workload`
   * and `tail` are YAML lines added to the service, the workload and the end of the file.
   */
  async function liveAndTwin(o: { name: string; instances: number; rate: number; balancer: string; service?: string; workload?: string; tail?: string }) {
    const loaded = loadScenario(
      writeScenario(`name: ${o.name}
seed: 1
seeds: 1
duration: 1600ms
warmup: 0s
drain: 1s
services:
  api:
    instances: ${o.instances}
    concurrency: 4
    queue: 50
    serviceTime: { dist: exponential, mean: 3ms }
${o.service ?? ''}network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: ${o.rate}/s }
${o.workload ?? ''}mesh:
  balancer: { kind: ${o.balancer} }
${o.tail ?? ''}`),
    );
    const [run] = (await runScenarioLive(loaded, { layout: 'single' })).variants[0].runs;
    const twin = simulate(loaded.variants[0].scenario, 1);
    expect(run.requests.failed).toBe(0);
    const live = run.instances.map((i) => i.requests);
    const sim = twin.instances.map((i) => i.requests);
    /** Every instance's requests within `tolerance` of the twin's. */
    const near = (tolerance: number): void => {
      for (let k = 0; k < sim.length; k++) expect(Math.abs(live[k] - sim[k]), `instance ${k}: live ${live} vs simulated ${sim}`).toBeLessThanOrEqual(tolerance);
    };
    return { run, twin, live, sim, near };
  }

  it('sends request keys and hashes them as the simulator does: ring hash routes every request where the simulation of the same seed does', async () => {
    const { run, twin, live, sim } = await liveAndTwin({ name: 'live-keys', instances: 4, rate: 150, balancer: 'ring-hash', workload: '    key: { dist: zipf, n: 1000, s: 1.1 }\n' });
    expect(run.requests.total).toBe(twin.requests.total);
    // The same keys (stream keys/users), the same ring (hash keys = the simulated addresses): the same counts per instance.
    expect(live).toEqual(sim);
    expect(new Set(live).size).toBeGreaterThan(1); // Zipf keys: shares differ
  }, 30_000);

  it('applies membership changes as the simulator does: instances join (cold) and leave the proxies’ endpoint sets at their times', async () => {
    const { run, twin, live, near } = await liveAndTwin({
      name: 'live-membership',
      instances: 3,
      rate: 200,
      balancer: 'round-robin',
      service: '    coldStart: { for: 2s, factor: 3 }\n',
      tail: 'membership:\n  - { at: 600ms, service: api, add: 1 }\n  - { at: 1100ms, service: api, remove: [0] }\n',
    });
    expect(run.membership).toEqual(twin.membership);
    expect(run.instances.map((i) => i.index)).toEqual([0, 1, 2, 3]);
    expect(run.instances.map((i) => i.memberMs)).toEqual([1100, 1600, 1600, 1000]);
    // The same arrivals, the same round robin, the same change times (the live update lands
    // about a millisecond late, which moves a request or two at most).
    near(4);
    expect(live[3]).toBeGreaterThan(50); // the newcomer got its share from 600 ms on
    expect(live[0]).toBeLessThan(live[1]); // the one removed at 1100 ms got less than a stayer
  }, 30_000);

  it('tells each proxy which of its caller’s sidecars it is, as the simulator does: aperture slices match the twin', async () => {
    const { near } = await liveAndTwin({ name: 'live-aperture', instances: 12, rate: 300, balancer: 'aperture', workload: '    sidecars: 6\n' });
    // Each proxy's slice of the ring is sidecar s of 6's (Finagle's deterministic aperture);
    // within it, P2C on outstanding requests, whose timing differs a little from the twin's.
    near(6);
  }, 30_000);

  it('runs the same in one process (layout single)', async () => {
    const loaded = loadScenario(writeScenario(SCENARIO.replace('duration: 2500ms', 'duration: 1500ms').replace(/faults:[\s\S]*$/, '')));
    const out = await runScenarioLive(loaded, { layout: 'single' });
    const [run] = out.variants[0].runs;
    expect(run.requests.total).toBeGreaterThan(100);
    expect(run.requests.total).toBe(run.requests.succeeded + run.requests.failed + run.requests.inFlight);
    expect(run.instances.every((i) => i.requests > 0 && i.served > 0)).toBe(true);
  }, 30_000);

  it('stops at once when aborted, reporting the run as aborted', async () => {
    const loaded = loadScenario(writeScenario(SCENARIO.replace('duration: 2500ms', 'duration: 20s')));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    const started = performance.now();
    const out = await runScenarioLive(loaded, { signal: controller.signal });
    expect(out.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('stops during the warm-up too: slow instances made Ctrl-C wait for all of it', async () => {
    // 200 warm-up requests, 4 at a time, at 300 ms each: ~15 s before the load would start.
    const slow = SCENARIO.replace('serviceTime: { dist: exponential, mean: 4ms }', 'serviceTime: { dist: constant, value: 300ms }').replace(/faults:[\s\S]*$/, '');
    const loaded = loadScenario(writeScenario(slow));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1000);
    const started = performance.now();
    const out = await runScenarioLive(loaded, { signal: controller.signal, layout: 'single' });
    expect(out.aborted).toBe(true);
    expect(out.variants[0].runs).toEqual([]);
    expect(performance.now() - started).toBeLessThan(4_000);
  }, 30_000);
});
