/**
 * The simulated world's contracts: determinism, conservation of requests, common random
 * numbers, timeouts, queue bounds, closed loops, rate steps and warm-up — as properties over
 * small random scenarios (fixed fast-check seeds, modest run counts) and as exact checks
 * against hand-computed reference schedules.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simulate, World } from '../../src/sim/world.js';
import { runResultToJSON } from '../../src/sim/run-result-json.js';
import type { RunResult } from '../../src/sim/metrics.js';
import type { Scenario } from '../../src/scenario/types.js';
import { closed, constant, constantRate, exponential, load, poisson, scenario, scenarioYaml, uniform, type Options } from './_scenario.js';

/** Five standard errors: two-sided probability 5.7e-7. */
const Z = 5;

// --- random small scenarios -------------------------------------------------------------

const tenths = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min: min * 10, max: max * 10 }).map((k) => k / 10);
const bounded = (max: number): fc.Arbitrary<number> => fc.oneof(fc.integer({ min: 0, max }), fc.constant(Infinity));

const serviceTimeArb = fc.oneof(
  tenths(0, 20).map(constant),
  tenths(0.1, 20).map(exponential),
  fc.tuple(tenths(0, 10), tenths(0, 10)).map(([a, b]) => uniform(a, a + b)),
);
const latencyArb = fc.oneof(tenths(0, 2).map(constant), tenths(0.1, 2).map(exponential));

function stepsArb(duration: number): fc.Arbitrary<Array<{ at: number; rate: number }>> {
  return fc
    .uniqueArray(fc.integer({ min: 0, max: duration - 1 }), { maxLength: 3 })
    .chain((ats) => fc.tuple(...[...ats].sort((a, b) => a - b).map((at) => fc.integer({ min: 10, max: 3000 }).map((rate) => ({ at, rate })))));
}

/** Scenario options: 1–3 instances, any queue bound and concurrency, optional timeouts, open or closed load. */
const optionsArb: fc.Arbitrary<Options> = fc
  .record({
    duration: fc.integer({ min: 50, max: 800 }),
    warmupFraction: fc.double({ min: 0, max: 0.9, noNaN: true }),
    drain: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
    instances: fc.integer({ min: 1, max: 3 }),
    twoZones: fc.boolean(),
    concurrency: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(Infinity)),
    queue: bounded(3),
    serviceTime: serviceTimeArb,
    latency: latencyArb,
    crossZone: fc.option(tenths(0, 3).map(constant), { nil: undefined }),
    timeout: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
    balancer: fc.constantFrom('round-robin', 'random'),
    load: fc.constantFrom('poisson', 'constant', 'closed'),
    rate: fc.integer({ min: 10, max: 3000 }),
    clients: fc.integer({ min: 1, max: 8 }),
    // Think times stay > 0: a closed loop whose think, service and network times are all 0
    // never lets the clock advance (see the last test in this file).
    think: fc.oneof(tenths(0.5, 50).map(constant), tenths(0.5, 50).map(exponential)),
  })
  .chain((o) =>
    stepsArb(o.duration).map(
      (steps): Options => ({
        duration: o.duration,
        warmup: Math.floor(o.warmupFraction * o.duration),
        ...(o.drain === undefined ? {} : { drain: o.drain }),
        instances: o.instances,
        zones: o.twoZones ? ['a', 'b'] : ['a'],
        concurrency: o.concurrency,
        queue: o.queue,
        serviceTime: o.serviceTime,
        latency: o.latency,
        ...(o.crossZone === undefined ? {} : { crossZone: o.crossZone }),
        ...(o.timeout === undefined ? {} : { timeout: o.timeout }),
        balancer: o.balancer,
        arrival: o.load === 'closed' ? closed(o.clients, o.think) : o.load === 'poisson' ? poisson(o.rate, steps) : constantRate(o.rate, steps),
      }),
    ),
  );

const seedArb = fc.integer({ min: 0, max: 1_000_000 });

/** The run's JSON: every counter, per-instance figure and the latency sketch's bins. */
const fingerprint = (r: RunResult): string => JSON.stringify(r);

describe('World: properties over random small scenarios', () => {
  it('is deterministic: same scenario and seed → identical RunResult, sketch included', () => {
    fc.assert(
      fc.property(optionsArb, seedArb, (o, seed) => {
        const s = scenario(o);
        const a = simulate(s, seed);
        const b = simulate(scenario(o), seed);
        expect(fingerprint(b)).toBe(fingerprint(a));
        expect(JSON.stringify(b.latency.toJSON())).toBe(JSON.stringify(a.latency.toJSON()));
      }),
      { numRuns: 40, seed: 101 },
    );
  });

  it('conserves requests: issued = succeeded + failed + in flight, in the window and over the whole run', () => {
    fc.assert(
      fc.property(optionsArb, seedArb, (o, seed) => {
        const s = scenario(o);
        const r = simulate(s, seed);
        const q = r.requests;
        const c = r.conservation;
        expect(c.issued).toBe(c.succeeded + c.failed + c.inFlight);
        expect(q.total).toBe(q.succeeded + q.failed + q.inFlight);
        // The window is a subset of the run.
        expect(q.total).toBeLessThanOrEqual(c.issued);
        expect(q.succeeded).toBeLessThanOrEqual(c.succeeded);
        expect(q.failed).toBeLessThanOrEqual(c.failed);
        expect(q.inFlight).toBeLessThanOrEqual(c.inFlight);
        // Every failure here is a rejection or a timeout; latency is recorded for successes only.
        expect(q.failed).toBe(q.rejected + q.timedOut);
        expect(r.latency.count).toBe(q.succeeded);
        if (o.timeout === undefined) expect(q.timedOut).toBe(0);
        if (o.queue === Infinity) expect(q.rejected).toBe(0);
        if (o.timeout !== undefined && q.succeeded > 0) expect(r.latency.max).toBeLessThanOrEqual(o.timeout + 1e-9);
        // Instances only serve what was issued.
        const served = r.instances.reduce((acc, i) => acc + i.served, 0);
        expect(served).toBeLessThanOrEqual(c.issued);
        for (const i of r.instances) expect(i.busyMs).toBeGreaterThanOrEqual(0);
        expect(r.windowMs).toBe(s.duration - s.warmup);
        expect(r.endTimeMs).toBe(s.duration + s.drain);
      }),
      { numRuns: 80, seed: 202 },
    );
  });

  it('different seeds give different results', () => {
    fc.assert(
      fc.property(
        optionsArb.map((o) => ({ ...o, serviceTime: exponential(2), arrival: poisson(1000), duration: Math.max(o.duration, 200), warmup: 0 })),
        seedArb,
        (o, seed) => {
          const s = scenario(o);
          const runs = [seed, seed + 1, seed + 2].map((k) => fingerprint(simulate(s, k)));
          expect(new Set(runs).size).toBe(3);
        },
      ),
      { numRuns: 20, seed: 303 },
    );
  });

  it('common random numbers: changing the network latency does not change the arrivals (or, on one FIFO server, the service times)', () => {
    const openLoop = optionsArb.filter((o) => !o.arrival.includes('closed'));
    fc.assert(
      fc.property(openLoop, latencyArb, latencyArb, seedArb, (o, l1, l2, seed) => {
        const a = simulate(scenario({ ...o, latency: l1 }), seed);
        const b = simulate(scenario({ ...o, latency: l2 }), seed);
        expect(b.conservation.issued).toBe(a.conservation.issued);
        expect(b.requests.total).toBe(a.requests.total);
        // One FIFO server that answers everything: the k-th service draw goes to the k-th
        // request served whatever the arrival order at the server, so the same requests are
        // served. (Their work within the window differs: latency moves it across the ends.)
        const single = { ...o, instances: 1, concurrency: 1, queue: Infinity, drain: 1e9, warmup: 0 };
        delete (single as { timeout?: number }).timeout;
        const x = simulate(scenario({ ...single, latency: l1 }), seed);
        const y = simulate(scenario({ ...single, latency: l2 }), seed);
        expect(x.requests.succeeded).toBe(x.requests.total);
        expect(y.instances[0].served).toBe(x.instances[0].served);
      }),
      { numRuns: 30, seed: 404 },
    );
  });
});

// --- exact checks ------------------------------------------------------------------------

/**
 * The world's constant-rate arrival schedule, recomputed: at rate r from the time s the rate
 * took effect (0, or a step's time), arrivals at s, s + 1/r, s + 2/r, … up to the next step.
 */
function constantArrivals(ratePerSec: number, steps: ReadonlyArray<{ at: number; rate: number }>, duration: number): number[] {
  const out: number[] = [];
  const phases = [{ at: 0, rate: ratePerSec }, ...steps];
  phases.forEach((phase, i) => {
    const end = Math.min(duration, i + 1 < phases.length ? phases[i + 1].at : Infinity);
    for (let k = 0; phase.at + (k * 1000) / phase.rate < end; k++) out.push(phase.at + (k * 1000) / phase.rate);
  });
  return out;
}

describe('World: timeouts', () => {
  it('a request slower than the timeout counts as timed out and failed, and the instance still does the work', () => {
    // One request every 200 ms, each taking 100 ms of service against a 50 ms timeout.
    const o: Options = { duration: 10_000, warmup: 1000, serviceTime: constant(100), arrival: constantRate(5), timeout: 50, drain: 1000 };
    const r = simulate(scenario(o), 1);
    const arrivals = constantArrivals(5, [], 10_000);
    const inWindow = arrivals.filter((t) => t >= 1000).length;
    expect(r.requests.total).toBe(inWindow);
    expect(r.requests.timedOut).toBe(inWindow);
    expect(r.requests.failed).toBe(inWindow);
    expect(r.requests.succeeded).toBe(0);
    expect(r.latency.count).toBe(0);
    // Every request issued in the run was served in full (drain 1 s > 100 ms).
    expect(r.conservation.issued).toBe(arrivals.length);
    expect(r.instances[0].served).toBe(arrivals.length);
    // Busy time is counted within the window [1 s, 10 s): each request's 100 ms clipped to it.
    const busy = arrivals.reduce((sum, t) => sum + Math.max(0, Math.min(t + 100, 10_000) - Math.max(t, 1000)), 0);
    expect(r.instances[0].busyMs).toBeCloseTo(busy, 6);
    expect(r.instances[0].memberMs).toBe(9000);
  });

  it('with service times on both sides of the timeout, exactly the slow ones time out; all are served', () => {
    // Uniform(0, 100 ms) service, timeout 50 ms, no queueing (infinite server), zero network;
    // a 200 ms drain lets the last abandoned requests finish.
    const r = simulate(scenario({ duration: 20_000, drain: 200, concurrency: Infinity, serviceTime: uniform(0, 100), arrival: poisson(500), timeout: 50 }), 2);
    const q = r.requests;
    expect(q.timedOut + q.succeeded).toBe(q.total);
    expect(r.latency.max).toBeLessThan(50);
    expect(r.instances[0].served).toBe(r.conservation.issued);
    // P(S > 50 ms) = 1/2 exactly; the count is Binomial(n, 1/2).
    expect(Math.abs(q.timedOut / q.total - 0.5)).toBeLessThanOrEqual(Z * Math.sqrt(0.25 / q.total));
  });

  it('a closed-loop client that times out goes on while the instance keeps working on the abandoned request', () => {
    // 1 client, no think time to speak of, service 30 ms, timeout 10 ms: the client issues
    // every ~10 ms while the server (concurrency 1) completes one request per 30 ms.
    const r = simulate(
      scenario({ duration: 3000, concurrency: 1, serviceTime: constant(30), arrival: closed(1, constant(0.5)), timeout: 10, drain: 1e6 }),
      3,
    );
    expect(r.requests.succeeded).toBe(0);
    expect(r.requests.timedOut).toBe(r.requests.total);
    // Cycle = 10 ms timeout + 0.5 ms think: 3000 / 10.5 ≈ 286 requests, all served eventually.
    expect(r.conservation.issued).toBe(Math.ceil((3000 - 0.5) / 10.5));
    expect(r.instances[0].served).toBe(r.conservation.issued);
  });
});

describe('World: queue bound', () => {
  /** A single FIFO server with constant service S and room for `queue` waiting requests, fed at the given times. */
  function referenceLoss(arrivals: readonly number[], S: number, queue: number): boolean[] {
    const accepted: boolean[] = [];
    const completions: number[] = []; // of accepted requests, ascending
    for (const t of arrivals) {
      const inSystem = completions.filter((c) => c > t).length;
      if (inSystem <= queue) {
        const last = completions.length > 0 ? completions[completions.length - 1] : -Infinity;
        completions.push((last > t ? last : t) + S);
        accepted.push(true);
      } else accepted.push(false);
    }
    return accepted;
  }

  it('concurrency 1, queue 0, service 25 ms, one arrival every 10 ms: exactly 2 of every 3 are rejected (503)', () => {
    const o: Options = { duration: 4000, warmup: 1000, queue: 0, serviceTime: constant(25), arrival: constantRate(100) };
    const r = simulate(scenario(o), 4);
    const arrivals = constantArrivals(100, [], 4000);
    const accepted = referenceLoss(arrivals, 25, 0);
    const window = arrivals.map((t, i) => ({ t, ok: accepted[i] })).filter((a) => a.t >= 1000);
    expect(r.requests.total).toBe(window.length); // 300
    expect(r.requests.rejected).toBe(window.filter((a) => !a.ok).length);
    expect(r.requests.rejected / r.requests.total).toBe(2 / 3);
    expect(r.requests.failed).toBe(r.requests.rejected);
    expect(r.latency.min).toBeCloseTo(25, 9);
    expect(r.latency.max).toBeCloseTo(25, 9);
  });

  it('queue 2 holds two waiting requests: the rejections match a D/D/1/3 reference schedule', () => {
    // Service 14.142 ms against arrivals every 10 ms: the server is overloaded (ρ = 1.41),
    // and the ratio keeps completions and arrivals from ever coinciding.
    const S = 14.142;
    const r = simulate(scenario({ duration: 5000, warmup: 500, queue: 2, serviceTime: constant(S), arrival: constantRate(100) }), 5);
    const arrivals = constantArrivals(100, [], 5000);
    const accepted = referenceLoss(arrivals, S, 2);
    const window = arrivals.map((t, i) => ({ t, ok: accepted[i] })).filter((a) => a.t >= 500);
    expect(r.requests.total).toBe(window.length);
    expect(r.requests.rejected).toBe(window.filter((a) => !a.ok).length);
    expect(r.instances[0].served).toBe(accepted.filter(Boolean).length);
    // In overload, the accepted fraction tends to the service rate over the arrival rate: 10/14.142.
    expect(Math.abs(r.requests.succeeded / r.requests.total - 10 / S)).toBeLessThan(0.01);
  });
});

describe('World: closed loop', () => {
  it('throughput matches the interactive response-time law N/(R + Z) on an infinite server', () => {
    // N = 10 clients, think Exp(100 ms), service Exp(2 ms), 0.5 ms per hop, no queueing:
    // each client is a renewal process with cycle C = Z + S + 1 ms, E C = 103 ms,
    // Var C = 100² + 2² ms², so the window count has variance N·W·Var C / E[C]³.
    const N = 10;
    const W = 300_000;
    const r = simulate(
      scenario({ duration: W + 1000, warmup: 1000, concurrency: Infinity, serviceTime: exponential(2), latency: constant(0.5), arrival: closed(N, exponential(100)) }),
      6,
    );
    const EC = 103;
    const expected = (N * W) / EC;
    const sd = Math.sqrt((N * W * (100 ** 2 + 2 ** 2)) / EC ** 3);
    expect(Math.abs(r.requests.succeeded - expected)).toBeLessThanOrEqual(Z * sd);
    // R is the service time plus two hops.
    expect(Math.abs(r.latency.mean() - 3)).toBeLessThanOrEqual(Z * Math.sqrt(4 / r.requests.succeeded));
  });

  it('N = X·(R + Z) (Little’s law over the whole loop) with queueing: one server at ~75% load', () => {
    // 5 clients, think Exp(50 ms), one server with Exp(10 ms) service. With R measured, the
    // law holds up to the think-time sampling error: N − X(R̄ + E Z) ≈ X(Z̄ − E Z), whose SE is
    // X·σ_Z/√n (σ_Z = 50 ms), plus O(N/n) from cycles cut by the window's edges.
    const N = 5;
    const W = 200_000;
    const r = simulate(scenario({ duration: W + 1000, warmup: 1000, serviceTime: exponential(10), arrival: closed(N, exponential(50)) }), 7);
    const n = r.requests.succeeded;
    const X = n / W; // per ms
    const R = r.latency.mean();
    expect(R).toBeGreaterThan(10); // there is queueing
    expect(Math.abs(X * (R + 50) - N)).toBeLessThanOrEqual((Z * X * 50) / Math.sqrt(n) + (2 * N * N) / n);
  });

  it('saturated: with many clients and little think time, throughput is the service capacity c/E[S]', () => {
    // 20 clients, 1 ms think, one instance with 2 slots of Exp(10 ms): both slots always busy
    // (some 19 clients wait at any time), so completions form a Poisson process of rate 0.2/ms.
    const W = 200_000;
    const r = simulate(scenario({ duration: W + 1000, warmup: 1000, concurrency: 2, serviceTime: exponential(10), arrival: closed(20, constant(1)) }), 8);
    const expected = 0.2 * W;
    expect(Math.abs(r.requests.succeeded - expected)).toBeLessThanOrEqual(Z * Math.sqrt(expected) + 20);
  });
});

describe('World: rate steps and warm-up', () => {
  it('constant-rate steps produce exactly the recomputed arrival schedule', () => {
    const steps = [
      { at: 1000, rate: 300 },
      { at: 2500, rate: 50 },
      { at: 3000, rate: 1000 },
    ];
    const r = simulate(scenario({ duration: 4000, concurrency: Infinity, serviceTime: constant(1), arrival: constantRate(100, steps) }), 9);
    const arrivals = constantArrivals(100, steps, 4000);
    // 100 + 450 + 25 + 1000: each rate applies from its step's time, an arrival at the step.
    expect(arrivals.length).toBe(1575);
    expect(r.conservation.issued).toBe(arrivals.length);
    expect(r.requests.total).toBe(arrivals.length);
  });

  it('Poisson rate steps change the arrival count by rate × time in each step', () => {
    const steps = [
      { at: 20_000, rate: 3000 },
      { at: 50_000, rate: 200 },
    ];
    const r = simulate(scenario({ duration: 60_000, concurrency: Infinity, serviceTime: constant(1), arrival: poisson(1000, steps) }), 10);
    const mean = 1000 * 20 + 3000 * 30 + 200 * 10;
    // A Poisson count: SD = √mean. Without the steps the mean would be 60000.
    expect(Math.abs(r.conservation.issued - mean)).toBeLessThanOrEqual(Z * Math.sqrt(mean));
  });

  it('a step at 0 replaces the initial rate from the start; steps at or after the end are ignored', () => {
    const r = simulate(
      scenario({ duration: 1000, concurrency: Infinity, serviceTime: constant(1), arrival: constantRate(10, [{ at: 0, rate: 100 }, { at: 1000, rate: 5000 }]) }),
      1,
    );
    expect(r.conservation.issued).toBe(constantArrivals(10, [{ at: 0, rate: 100 }, { at: 1000, rate: 5000 }], 1000).length);
    expect(r.conservation.issued).toBe(100); // 100/s over [0, 1 s)
  });

  it('warm-up: requests issued before it are left out of every statistic, even when they finish after it', () => {
    // One request every 100 ms from 0, each taking 250 ms (infinite server): those issued at
    // 0–900 ms finish at 250–1150 ms, some after the 1000 ms warm-up.
    const r = simulate(scenario({ duration: 3000, warmup: 1000, concurrency: Infinity, serviceTime: constant(250), arrival: constantRate(10) }), 11);
    const arrivals = constantArrivals(10, [], 3000);
    const inWindow = arrivals.filter((t) => t >= 1000).length;
    expect(arrivals.length).toBe(30); // r·T = 10/s × 3 s
    expect(r.conservation.issued).toBe(30);
    expect(r.requests.total).toBe(inWindow);
    expect(r.requests.succeeded).toBe(inWindow);
    expect(r.latency.count).toBe(inWindow);
    expect(r.windowMs).toBe(2000);
  });
});

describe('World: a closed loop that never advances the clock', () => {
  it('a closed loop with zero think, service and network time fails fast instead of spinning forever', () => {
    // Bug: the loader accepts this scenario, and simulate() loops for ever at t = 0 (each
    // answer is delivered at once and the client re-issues at once). Run in a child process
    // with a deadline, so the suite itself cannot hang (30 s: the tsx start-up alone took over
    // 5 s on a loaded 2-core machine; a spin never ends, so a long deadline still catches it).
    const yaml = scenarioYaml({ duration: 1000, concurrency: Infinity, serviceTime: constant(0), arrival: closed(1, constant(0)) });
    const dir = mkdtempSync(join(tmpdir(), 'meshsim-zero-cycle-'));
    const file = join(dir, 'zero.yaml');
    writeFileSync(file, yaml);
    const root = resolve(__dirname, '../..');
    const script = `
      const { loadScenario } = await import(${JSON.stringify(join(root, 'src/scenario/load.ts'))});
      const { simulate } = await import(${JSON.stringify(join(root, 'src/sim/world.ts'))});
      let loaded;
      try { loaded = loadScenario(${JSON.stringify(file)}); } catch (e) { console.log('rejected by loader'); process.exit(0); }
      try { simulate(loaded.base, 1); console.log('finished'); } catch (e) { console.log('simulate threw'); }
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 30_000, encoding: 'utf8' });
    expect(child.signal, 'simulate() was still running after 30 s').toBeNull();
    expect(child.stdout).toMatch(/rejected by loader|simulate threw|finished/);
  });
});

/** Guards against an accidental change of the builder's defaults. */
it('the scenario builder produces what the tests assume', () => {
  const s: Scenario = load(scenarioYaml({ duration: 100, serviceTime: constant(1), arrival: poisson(10) }));
  expect(s.services.s.concurrency).toBe(1);
  expect(s.services.s.queue).toBe(Infinity);
  expect(s.network.latency).toEqual({ dist: 'constant', value: 0 });
  expect(s.drain).toBe(10_000);
  expect(s.warmup).toBe(0);
});

describe('World: regressions of the request pipeline', () => {
  const withFailover = (o: Options, failover: string): Scenario =>
    load(scenarioYaml(o).replace('mesh:\n  balancer: { kind: round-robin }\n', `mesh:\n  balancer: { kind: round-robin }\n  failover: ${failover}\n`));

  it('fixed: a deadline firing while a retry is out walked attempt records already freed and reused (crash in the budget, or an endless loop)', () => {
    // 200 ms exponential service against a 300 ms per-try timeout and a 600 ms deadline:
    // late answers of timed-out attempts arrive, free their records, and then the deadline
    // cancels the call's remaining attempts. Each run must end, with every request answered once.
    const o: Options = { duration: 10_000, instances: 4, concurrency: Infinity, serviceTime: exponential(200), latency: constant(1), arrival: poisson(200) };
    for (const failover of [
      '{ timeout: 600ms, perTryTimeout: 300ms, retries: { max: 2, on: [timeout], budget: { percent: 20%, minConcurrency: 3 } } }',
      '{ timeout: 600ms, perTryTimeout: 300ms, retries: { max: 2, on: [timeout] } }',
      '{ timeout: 600ms, hedge: { delay: 100ms, maxAttempts: 3 } }',
    ]) {
      for (const seed of [1, 2, 3]) {
        const r = simulate(withFailover(o, failover), seed);
        expect(r.requests.inFlight).toBe(0);
        expect(r.requests.succeeded + r.requests.failed).toBe(r.requests.total);
        for (const l of r.layers) expect(l.succeeded + l.failed).toBe(l.calls);
      }
    }
  });
});

describe('World: call graphs', () => {
  it('a partition from a calling service to its dependency refuses exactly the calls made while it lasts, and fails their requests', () => {
    // 100/s constant for 5 s; frontend → backend refused from 1 s to 2 s: the 100 requests
    // issued then fail (503 from the frontend, whose call got a connect failure), no other.
    const yaml = [
      'name: part',
      'seed: 1',
      'seeds: 1',
      'duration: 5s',
      'warmup: 0s',
      'services:',
      '  frontend: { instances: 2, concurrency: 16, serviceTime: { dist: constant, value: 1ms }, calls: [{ service: backend }] }',
      '  backend: { instances: 2, concurrency: 16, serviceTime: { dist: constant, value: 1ms } }',
      'network: { latency: { dist: constant, value: 100us } }',
      'workload: [{ name: users, target: frontend, arrival: { process: constant, rate: 100/s } }]',
      'mesh: { balancer: { kind: round-robin } }',
      'faults: [{ kind: partition, target: { from: frontend, to: backend }, at: 1s, for: 1s, mode: refuse }]',
    ].join('\n');
    const r = simulate(load(yaml), 1);
    expect(r.requests.errors).toBe(100);
    expect(r.requests.succeeded).toBe(r.requests.total - 100);
    const [edge, dependency] = r.layers;
    expect([edge.caller, edge.target, dependency.caller, dependency.target]).toEqual(['users', 'frontend', 'frontend', 'backend']);
    expect(dependency.failed).toBe(100);
    expect(dependency.calls).toBe(edge.calls);
  });
});

describe('World: circuit breaker connections (HTTP/1.1 pool)', () => {
  // 100/s constant for 1 s into one unbounded instance with a constant 100 ms service and no
  // network time: without limits 10 attempts would be in flight. With maxConnections 4 at
  // most 4 are, so the sidecar completes at most 4 per 100 ms (40/s).
  const run = (cb: string): RunResult =>
    simulate(
      load(
        scenarioYaml({ duration: 1000, drain: 5000, instances: 1, concurrency: Infinity, serviceTime: constant(100), arrival: constantRate(100) }).replace(
          'mesh:\n  balancer: { kind: round-robin }\n',
          `mesh:\n  balancer: { kind: round-robin }\n  failover: { circuitBreaker: ${cb} }\n`,
        ),
      ),
      1,
    );

  it('with no pending room, attempts past max_connections are answered 503 at once and the rest never wait', () => {
    const r = run('{ maxConnections: 4, maxPendingRequests: 0 }');
    expect(r.requests.succeeded).toBeGreaterThanOrEqual(36);
    expect(r.requests.succeeded).toBeLessThanOrEqual(44);
    expect(r.requests.rejected).toBe(r.requests.total - r.requests.succeeded);
    expect(r.layers[0].overflows).toBe(r.requests.rejected);
    expect(r.failover.breakerOverflows).toBe(r.requests.rejected);
    expect(r.latency.max).toBe(100);
  });

  it('with pending room, they wait for a connection instead: nothing is refused, and the wait shows in the latency', () => {
    const r = run('{ maxConnections: 4, maxPendingRequests: 1000 }');
    expect(r.requests.succeeded).toBe(r.requests.total);
    expect(r.requests.rejected).toBe(0);
    // The last of 100 requests waits for the 96 before it to pass 4 at a time, 100 ms each:
    // it ends near 96/4 × 100 ms + 100 ms = 2.5 s after the first, i.e. ~1.5 s after it was issued.
    expect(r.latency.max).toBeGreaterThan(1400);
    expect(r.latency.max).toBeLessThan(1600);
  });
});

describe('World: adaptive throttling (SRE book)', () => {
  it('in steady overload the client rejects locally what its window says: throttled/requests ≈ 1 − K·accepts/requests', () => {
    // One instance of 10 slots, no queue, 10 ms service: it accepts ~1000/s. Offered 3000/s,
    // K = 2, a 10 s window, 40 s of load: at equilibrium the client sends ≈ K × what is
    // accepted and rejects the rest itself, so the rejection probability p satisfies
    // p = (requests − K·accepts)/(requests + 1). Over the whole window the counts must obey
    // it within the window's transient (the first 10 s of 40 s are ramp-up: ±0.03).
    const yaml = scenarioYaml({ duration: 40_000, instances: 1, concurrency: 10, queue: 0, serviceTime: constant(10), arrival: poisson(3000) }).replace(
      'mesh:\n  balancer: { kind: round-robin }\n',
      'mesh:\n  balancer: { kind: round-robin }\n  failover: { adaptiveThrottling: { k: 2, window: 10s } }\n',
    );
    const r = simulate(load(yaml), 1);
    const layer = r.layers[0];
    const throttled = layer.throttled / layer.calls;
    const predicted = 1 - (2 * r.requests.succeeded) / layer.calls;
    expect(throttled).toBeGreaterThan(0.2); // ≈ 1 − 2/3 at equilibrium, less during the ramp
    expect(Math.abs(throttled - predicted)).toBeLessThan(0.03);
    expect(r.failover.throttled).toBe(layer.throttled);
    // What gets through is about twice what the instance accepts.
    expect(layer.attempts / r.requests.succeeded).toBeGreaterThan(1.8);
    expect(layer.attempts / r.requests.succeeded).toBeLessThan(2.3);
  });
});

describe('answers taken without their arrival event (World answersAtOnce)', () => {
  // With an end-blind balancer and nothing watching the answers, a plain request's answer
  // is concluded when the instance sends it, as of its arrival time: one event fewer per
  // request, and the same run, figure for figure (the event count aside). The drain is cut
  // short so that some answers cross the end of the run and must stay in flight.
  it('gives the run of the event-per-answer world, in flight at the end and rejections included', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('round-robin', 'random', 'weighted-random', 'weighted-round-robin'),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(1, 2, Infinity),
        fc.constantFrom(0, 1, 4, Infinity),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 1000 }),
        (kind, instances, concurrency, queue, drain, seed) => {
          const s = scenario({ duration: 500, drain, instances, concurrency, queue, serviceTime: exponential(4), latency: exponential(1), arrival: poisson(600), balancer: kind });
          const elided = new World(s, { seed }).run();
          const plain = new World(s, { seed, elide: false }).run();
          expect(elided.eventsProcessed).toBeLessThan(plain.eventsProcessed);
          expect(runResultToJSON({ ...elided, eventsProcessed: 0 })).toEqual(runResultToJSON({ ...plain, eventsProcessed: 0 }));
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });

  it('is not taken where the moment an answer arrives matters: a load-aware balancer, a timeout', () => {
    for (const s of [
      scenario({ duration: 300, instances: 3, serviceTime: exponential(4), arrival: poisson(500), balancer: 'p2c' }),
      scenario({ duration: 300, instances: 3, serviceTime: exponential(4), arrival: poisson(500), timeout: 50 }),
    ]) {
      expect(new World(s, { seed: 1 }).run().eventsProcessed).toBe(new World(s, { seed: 1, elide: false }).run().eventsProcessed);
    }
  });
});

describe('slot counts and queue bounds the Int32 instance record cannot hold', () => {
  it('are refused when the world is built, not wrapped (2^31 slots read as a negative count rejected every request)', () => {
    const s = scenario({ duration: 100, serviceTime: constant(1), arrival: constantRate(100) });
    const svc = s.services.s;
    for (const change of [{ concurrency: 2 ** 31 }, { queue: 2 ** 32 + 4 }, { concurrency: 1.5 }]) {
      const bad: Scenario = { ...s, services: { s: { ...svc, ...change } } };
      expect(() => new World(bad, { seed: 1 }), JSON.stringify(change)).toThrow(RangeError);
    }
    // The largest finite bound behaves as unbounded: every request served.
    const widest: Scenario = { ...s, services: { s: { ...svc, concurrency: 0x7fffffff, queue: 0x7fffffff } } };
    const r = new World(widest, { seed: 1 }).run();
    expect(r.requests.rejected).toBe(0);
    expect(r.requests.succeeded).toBe(r.requests.total);
  });
});

describe('World: utilisation over the measurement window', () => {
  it('busy and member time are those of [warmup, duration): an M/M/1 at ρ = 0.8 reads 0.8 with a long drain, not 0.8 × duration / (duration + drain)', () => {
    // λ = 0.8/ms, S ~ exp(1 ms), 200 s measured after 10 s of warm-up, then 50 s of drain.
    const r = simulate(scenario({ duration: 210_000, warmup: 10_000, drain: 50_000, serviceTime: exponential(1), arrival: poisson(800) }), 3);
    const i = r.instances[0];
    expect(i.memberMs).toBe(200_000);
    // The busy fraction of 200 s of an M/M/1 at ρ = 0.8: SD ≈ √(2ρ(1+ρ)/((1−ρ)²·λT))·ρ… well under 0.01 here.
    expect(Math.abs(i.busyMs / i.memberMs - 0.8)).toBeLessThan(0.01);
  });

  it('an instance that joins mid-run is measured from its join: its utilisation is its load while a member', () => {
    // 3 instances, the third joining at 20 s of a 60 s run (10 s warm-up): constant 5 ms service,
    // 90 requests/s by round robin. From 20 s each member gets 30/s (utilisation 0.15); before,
    // the two others got 45/s (0.225): over the window they read (0.225·10 + 0.15·40) / 50 = 0.165.
    const text = `${scenarioYaml({ duration: 60_000, warmup: 10_000, instances: 3, serviceTime: constant(5), arrival: constantRate(90) })}membership:\n  - { at: 0ms, service: s, remove: [2] }\n  - { at: 20s, service: s, add: 1 }\n`;
    const r = simulate(load(text), 1);
    const [a, , joiner] = r.instances.filter((x) => x.memberMs > 0);
    expect(joiner.memberMs).toBe(40_000);
    expect(a.memberMs).toBe(50_000);
    expect(joiner.busyMs / joiner.memberMs).toBeCloseTo(0.15, 2);
    expect(a.busyMs / a.memberMs).toBeCloseTo(0.165, 2);
  });
});
