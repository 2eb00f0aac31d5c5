/**
 * Does the simulator reproduce textbook queueing theory? Each check runs one long fixed-seed
 * replication of a classical queue (network latency 0 unless the network is under test)
 * and compares with the closed form. Tolerances are 5 standard errors, the standard error
 * coming from the queue's asymptotic variance constant σ² (lim n·Var of the sample mean of
 * n correlated customers; see _theory.ts) — never from the simulation output — plus the
 * DDSketch's relative error where a quantile is involved.
 *
 * Set MESHSIM_QUEUEING_REPORT=1 to print measured vs theory for every check.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { simulate } from '../../src/sim/world.js';
import type { RunResult } from '../../src/sim/metrics.js';
import { blocking, ekm1Sojourn, erlangB, erlangC, md1Sojourn, mmcSojourn } from './_theory.js';
import { constant, exponential, poisson, scenario } from './_scenario.js';

/** Standard errors per tolerance: |z| ≥ 5 has two-sided probability 5.7e-7 under the theory. */
const Z = 5;
/** The sketch's guaranteed relative error on any quantile (src/core/quantile-sketch.ts default). */
const SKETCH_ALPHA = 0.005;

const rows: string[] = [];
function record(name: string, measured: number, theory: number, tolerance: number): void {
  rows.push(`${name.padEnd(46)} measured ${measured.toPrecision(6).padStart(10)}  theory ${theory.toPrecision(6).padStart(10)}  ±${tolerance.toPrecision(3).padStart(9)}  (${((measured - theory) / (tolerance / Z)).toFixed(2)} SE)`);
}
afterAll(() => {
  if (process.env.MESHSIM_QUEUEING_REPORT) console.log(rows.join('\n'));
});

/** Asserts |measured − theory| ≤ tolerance and records the figures. */
function expectNear(name: string, measured: number, theory: number, tolerance: number): void {
  record(name, measured, theory, tolerance);
  expect(Math.abs(measured - theory), `${name}: measured ${measured}, theory ${theory}, tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

const lazy = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

/**
 * Standard error of the sample q-quantile of n correlated observations with density f at the
 * quantile (Bahadur: Var ≈ q(1 − q)·IF / (n f²)), IF the inflation factor of the indicator
 * 1{X > x_q}'s mean by autocorrelation.
 */
const quantileSE = (q: number, n: number, density: number, inflation: number): number => Math.sqrt((q * (1 - q) * inflation) / n) / density;

describe('M/M/1 at ρ = 0.8 (λ = 800/s, exponential service with mean 1 ms)', () => {
  const lambda = 0.8; // per ms
  const mu = 1; // per ms
  const result = lazy(() =>
    simulate(scenario({ duration: 5_000_000, warmup: 1000, serviceTime: exponential(1), arrival: poisson(800) }), 11),
  );

  it('mean time in system is 1/(μ − λ) = 5 ms', () => {
    const r = result();
    const n = r.requests.succeeded;
    expect(r.requests.failed).toBe(0);
    expect(n).toBeGreaterThan(3_900_000);
    // σ² = (1 + ρ)²/(μ²(1 − ρ)⁴) = 2025 ms² for the customer-average time in system
    // (an inflation factor of 81 over Var T = 25 ms²); SE = √(σ²/n) ≈ 0.0225 ms at n = 4M.
    const { mean, sigma2 } = mmcSojourn(lambda, mu, 1);
    expect(mean).toBeCloseTo(1 / (mu - lambda), 12);
    expect(sigma2).toBeCloseTo((1.8 * 1.8) / 0.2 ** 4, 6);
    expectNear('M/M/1 mean time in system (ms)', r.latency.mean(), 5, Z * Math.sqrt(sigma2 / n));
  });

  it('p50, p90 and p99 of the time in system are −ln(1 − q)/(μ − λ) (exponential, rate μ − λ)', () => {
    const r = result();
    const n = r.requests.succeeded;
    // Indicator inflation factors are bounded here by 2 × 81 (81 = the exact factor of the
    // mean above; a 2·10⁸-customer reference Lindley recursion measured 24, 58 and 74–80 for
    // q = 0.5, 0.9, 0.99). Density at x_q is (μ − λ)(1 − q). The sketch adds ≤ 0.5% relative.
    for (const q of [0.5, 0.9, 0.99]) {
      const x = -Math.log(1 - q) / (mu - lambda);
      const se = quantileSE(q, n, (mu - lambda) * (1 - q), 2 * 81);
      expectNear(`M/M/1 p${q * 100} time in system (ms)`, r.latency.quantile(q), x, Z * se + SKETCH_ALPHA * (x + Z * se));
    }
  });

  it('the server is busy a fraction ρ of the time', () => {
    const r = result();
    // busyMs covers every request of the run: a compound Poisson sum with mean λT·E[S] and
    // variance λT·E[S²] = 2λT ms² (T = 5000 s), so the utilisation has SD √(2·served)/T; the
    // mean of `served` i.i.d. exponential(1 ms) service times has SD 1/√served.
    const busy = r.instances[0].busyMs;
    const served = r.instances[0].served;
    expectNear('M/M/1 mean service time (ms)', busy / served, 1, Z / Math.sqrt(served));
    expectNear('M/M/1 utilisation', busy / 5_000_000, 0.8, Z * Math.sqrt(2 * served) / 5_000_000);
  });
});

describe('M/M/c with c = 4 (one instance, concurrency 4, ρ = 0.8)', () => {
  const c = 4;
  const lambda = 3.2; // per ms
  const mu = 1;
  const result = lazy(() =>
    simulate(scenario({ duration: 1_250_000, warmup: 1000, concurrency: c, serviceTime: exponential(1), arrival: poisson(3200) }), 12),
  );

  it('mean waiting time is Erlang C / (cμ − λ); time in system adds 1/μ', () => {
    const r = result();
    const n = r.requests.succeeded;
    const a = lambda / mu;
    const wq = erlangC(c, a) / (c * mu - lambda); // 0.7455 ms
    // Two independent theories agree: Erlang C and the birth–death chain behind σ².
    const { mean, sigma2 } = mmcSojourn(lambda, mu, c);
    expect(mean).toBeCloseTo(wq + 1 / mu, 10);
    // σ² ≈ 125.1 ms² (birth–death Poisson equation); SE ≈ 0.0056 ms at n = 4M, i.e. 0.75% of Wq.
    const tol = Z * Math.sqrt(sigma2 / n);
    expectNear('M/M/4 mean wait Wq = T − 1/μ (ms)', r.latency.mean() - 1 / mu, wq, tol);
  });
});

describe('M/D/1 at ρ = 0.8 (constant service 1 ms)', () => {
  const lambda = 0.8;
  const D = 1;
  const result = lazy(() => simulate(scenario({ duration: 2_500_000, warmup: 1000, serviceTime: constant(D), arrival: poisson(800) }), 13));

  it('mean wait follows Pollaczek–Khinchine: Wq = ρ/(2μ(1 − ρ)) = 2 ms', () => {
    const r = result();
    const n = r.requests.succeeded;
    const { wait, sigma2 } = md1Sojourn(lambda, D);
    expect(wait).toBeCloseTo(0.8 / (2 * 1 * 0.2), 12);
    // σ² = E[V²]/(1 − ρ)² = 233.3 ms² (workload Poisson equation); SE ≈ 0.0108 ms at n = 2M.
    // Exponential service instead of constant would double Wq (M/M/1: 4 ms).
    expectNear('M/D/1 mean wait Wq = T − D (ms)', r.latency.mean() - D, wait, Z * Math.sqrt(sigma2 / n));
    // Every request's own service takes exactly D, up to the rounding of absolute float
    // times: latency = (t + D) − t at t ≤ 2.5e6 ms loses at most an ulp there (≈ 4.7e-10 ms).
    expect(r.latency.min).toBeGreaterThanOrEqual(D - 1e-9);
  });
});

describe('loss and bounded queues', () => {
  it('M/M/c/c (queue 0, concurrency 4, a = 3): the rejected fraction is Erlang B', () => {
    const r = simulate(
      scenario({ duration: 667_000, warmup: 1000, concurrency: 4, queue: 0, serviceTime: exponential(1), arrival: poisson(3000) }),
      14,
    );
    const n = r.requests.total;
    const { mean, sigma2 } = blocking(3, 1, 4, 4);
    expect(mean).toBeCloseTo(erlangB(4, 3), 12); // 0.2061
    // σ² ≈ 0.337 (Poisson equation of the M/M/4/4 chain); SE ≈ 0.00041 at n = 2M.
    expectNear('M/M/4/4 blocking (Erlang B)', r.requests.rejected / n, mean, Z * Math.sqrt(sigma2 / n));
    expect(r.requests.failed).toBe(r.requests.rejected);
    expect(r.requests.timedOut).toBe(0);
  });

  it('M/M/1 with queue: 3 holds at most 1 + 3 requests: blocking is that of M/M/1/4', () => {
    const r = simulate(scenario({ duration: 1_250_000, warmup: 1000, queue: 3, serviceTime: exponential(1), arrival: poisson(800) }), 15);
    const n = r.requests.total;
    // π₄ = (1 − ρ)ρ⁴/(1 − ρ⁵) = 0.1218; a queue bound off by one would give 0.1734 (K = 3) or 0.0888 (K = 5).
    const { mean, sigma2 } = blocking(0.8, 1, 1, 4);
    expect(mean).toBeCloseTo((0.2 * 0.8 ** 4) / (1 - 0.8 ** 5), 12);
    expectNear('M/M/1/4 blocking', r.requests.rejected / n, mean, Z * Math.sqrt(sigma2 / n));
  });
});

describe('balancing over n = 4 M/M/1 instances (λ = 3200/s in total, ρ = 0.8 each)', () => {
  const run = (balancer: string, seed: number, duration: number): RunResult =>
    simulate(scenario({ duration, warmup: 1000, instances: 4, serviceTime: exponential(1), arrival: poisson(3200), balancer }), seed);

  it('random balancing is 4 independent M/M/1 queues: mean 1/(μ − λ/n) = 5 ms, p99 ln(100)·5 ms', () => {
    const r = run('random', 16, 1_250_000);
    const n = r.requests.succeeded;
    // A uniformly random split of a Poisson stream gives independent Poisson streams; the
    // pooled customer average then has the single-queue constant σ² = 2025 ms² (the split
    // counts only weight identical means).
    expectNear('4 × M/M/1 (random) mean time in system (ms)', r.latency.mean(), 5, Z * Math.sqrt(2025 / n));
    const x99 = Math.log(100) * 5;
    const se = quantileSE(0.99, n, 0.2 * 0.01, 2 * 81);
    expectNear('4 × M/M/1 (random) p99 (ms)', r.latency.quantile(0.99), x99, Z * se + SKETCH_ALPHA * (x99 + Z * se));
    // Each instance gets a Binomial(N, 1/4) share.
    const total = r.instances.reduce((s, i) => s + i.served, 0);
    for (const inst of r.instances) expect(Math.abs(inst.served - total / 4)).toBeLessThanOrEqual(Z * Math.sqrt((total * 3) / 16));
  });

  it('round robin sends every 4th arrival to each instance: 4 independent E₄/M/1 queues (mean 3.27 ms)', () => {
    const r = run('round-robin', 17, 625_000);
    const n = r.requests.succeeded;
    const w = ekm1Sojourn(4, 3.2, 1); // 3.2674 ms
    // σ² for E₄/M/1 is below M/M/1's 2025 ms² at the same load (smoother arrivals; a reference
    // recursion gives ≈ 530); the M/M/1 value is used as a conservative bound.
    expectNear('4 × E4/M/1 (round robin) mean time in system (ms)', r.latency.mean(), w, Z * Math.sqrt(2025 / n));
    const served = r.instances.map((i) => i.served);
    expect(Math.max(...served) - Math.min(...served)).toBeLessThanOrEqual(1);
  });
});

describe('the network adds exactly two hops', () => {
  it('constant latency L and constant service S on an infinite server: every latency is S + 2L', () => {
    const r = simulate(
      scenario({ duration: 10_000, concurrency: Infinity, serviceTime: constant(5), latency: constant(2), arrival: poisson(1000) }),
      18,
    );
    expect(r.requests.succeeded).toBeGreaterThan(9000);
    // min and max of the sketch are exact; latency = (issue time + 2 + 5 + 2) − issue time in
    // absolute-time floating point, so it is 9 to within rounding (~1e-12 ms at t ~ 10 s).
    expect(r.latency.min).toBeCloseTo(9, 9);
    expect(r.latency.max).toBeCloseTo(9, 9);
    expect(r.latency.mean()).toBeCloseTo(9, 9);
  });

  it('with a cross-zone penalty C, requests to the other zone take S + 2L + 2C, the local ones S + 2L', () => {
    // Two instances, one per zone; clients in zone a; round robin alternates between them.
    const r = simulate(
      scenario({
        duration: 10_000,
        instances: 2,
        zones: ['a', 'b'],
        zone: 'a',
        concurrency: Infinity,
        serviceTime: constant(5),
        latency: constant(2),
        crossZone: constant(3),
        arrival: poisson(1000),
      }),
      19,
    );
    const [local, remote] = r.instances;
    expect(local.served + remote.served).toBe(r.requests.succeeded);
    expect(Math.abs(local.served - remote.served)).toBeLessThanOrEqual(1);
    expect(r.latency.min).toBeCloseTo(9, 9);
    expect(r.latency.max).toBeCloseTo(15, 9);
    expect(r.latency.mean()).toBeCloseTo((9 * local.served + 15 * remote.served) / r.requests.succeeded, 9);
  });

  it('random latency: mean latency is E[S] + 2·E[L] (infinite server, so requests are independent)', () => {
    const r = simulate(
      scenario({ duration: 200_000, concurrency: Infinity, serviceTime: exponential(2), latency: exponential(0.5), arrival: poisson(1000) }),
      20,
    );
    const n = r.requests.succeeded;
    // Independent latencies: Var = Var S + 2 Var L = 4 + 0.5 ms²; SE ≈ 0.0047 ms at n = 200k.
    // One hop instead of two would give 2.5 ms.
    expectNear('exp S + 2 exp hops mean latency (ms)', r.latency.mean(), 2 + 2 * 0.5, Z * Math.sqrt(4.5 / n));
  });
});
