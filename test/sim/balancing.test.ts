/**
 * Do the balancers, run inside the simulated world, reproduce what theory says about them?
 * Fixed seeds throughout; every tolerance is derived from the theory (stated next to each
 * assertion), never from the simulation output. As in queueing.test.ts, statistical
 * tolerances are Z = 5 standard errors (two-sided probability 5.7e-7 under the theory).
 *
 * 1. Least request (Envoy, 2 draws with replacement) and P2C (distinct pair) over n = 100
 *    M/M/1 instances at λ = 0.9: the supermarket model, limit + first-order finite-n term.
 * 2. Round robin from one sidecar over n = 10 M/M/1 instances: 10 E₁₀/M/1 queues.
 * 3. One instance 10× slower: P2C + peak EWMA starves it, round robin gives it exactly 1/n.
 * 4. Ring hash and Maglev under Zipf keys: per-instance shares are the Zipf mass of the keys
 *    each owns; bounded load lowers the hottest share; remap fractions on a removal.
 * 5. 50 sidecars and a newcomer: least request's full scan herds onto it, P2C cannot.
 *
 * Set MESHSIM_BALANCING_REPORT=1 to print measured vs theory for every check.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/algorithms/registry.js';
import { buildRing } from '../../src/algorithms/balancing/ring-hash.js';
import { buildMaglevTable } from '../../src/algorithms/balancing/maglev.js';
import type { Endpoint } from '../../src/algorithms/types.js';
import { rngStream } from '../../src/core/rng.js';
import { hashKey } from '../../src/core/xxhash64.js';
import { Engine } from '../../src/sim/engine.js';
import type { RunResult } from '../../src/sim/metrics.js';
import { simulate } from '../../src/sim/world.js';
import type { Scenario } from '../../src/scenario/types.js';
import { ekm1Sojourn, mmcSojourn } from './_theory.js';
import { exponential, load } from './_scenario.js';
import { ekm1Variance, ringCounts, ringRemapExact, ringRemapTheory, supermarket, supermarketLimit } from './_balancing-theory.js';

const Z = 5;

const rows: string[] = [];
function record(name: string, measured: number, theory: number, tolerance: number, note = ''): void {
  rows.push(`${name.padEnd(62)} measured ${measured.toPrecision(6).padStart(10)}  theory ${theory.toPrecision(6).padStart(10)}  ±${tolerance.toPrecision(3).padStart(9)}${note ? `  ${note}` : ''}`);
}
afterAll(() => {
  if (process.env.MESHSIM_BALANCING_REPORT) console.log(rows.join('\n'));
});

/** Asserts |measured − theory| ≤ tolerance and records the figures. */
function expectNear(name: string, measured: number, theory: number, tolerance: number): void {
  record(name, measured, theory, tolerance);
  expect(Math.abs(measured - theory), `${name}: measured ${measured}, theory ${theory}, tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

/** Asserts measured ≤ bound (or ≥ with `atLeast`) and records the figures. */
function expectBound(name: string, measured: number, bound: number, atLeast = false): void {
  record(name, measured, bound, 0, atLeast ? '(lower bound)' : '(upper bound)');
  if (atLeast) expect(measured, `${name}: measured ${measured}, lower bound ${bound}`).toBeGreaterThanOrEqual(bound);
  else expect(measured, `${name}: measured ${measured}, upper bound ${bound}`).toBeLessThanOrEqual(bound);
}

const lazy = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};

// --- scenarios ----------------------------------------------------------------------------

interface MeshOptions {
  readonly instances: number;
  readonly concurrency?: number | 'unbounded';
  readonly serviceTime: string;
  /** YAML flow mappings, e.g. `{ instances: [3], serviceTime: ... }`. */
  readonly overrides?: readonly string[];
  readonly sidecars?: number;
  /** A YAML flow mapping, e.g. `{ dist: zipf, n: 1000, s: 1.1 }`. */
  readonly key?: string;
  /** Poisson arrivals per second. */
  readonly rate: number;
  readonly duration: number;
  readonly warmup: number;
  /** A YAML flow mapping, e.g. `{ kind: least-request, fullScan: true }`. */
  readonly balancer: string;
  /** YAML flow mappings, e.g. `{ at: 5000ms, service: s, remove: [4] }`. */
  readonly membership?: readonly string[];
  /** Zones of the instances (round-robin) and the clients' zone (the first). */
  readonly zones?: readonly string[];
  /** A YAML flow mapping, e.g. `{ a: 1, b: 3 }`. */
  readonly localityWeights?: string;
}

/** One service `s` (zero network latency), one Poisson workload `c`. */
function meshScenario(o: MeshOptions): Scenario {
  const lines = [
    'schema: meshsim/scenario@1',
    'name: balancing',
    'seed: 1',
    'seeds: 1',
    `duration: ${o.duration}ms`,
    `warmup: ${o.warmup}ms`,
    'services:',
    '  s:',
    `    instances: ${o.instances}`,
    `    concurrency: ${o.concurrency ?? 1}`,
    `    serviceTime: ${o.serviceTime}`,
    ...(o.zones ? [`    zones: [${o.zones.join(', ')}]`] : []),
    ...(o.localityWeights ? [`    localityWeights: ${o.localityWeights}`] : []),
    ...(o.overrides ? ['    overrides:', ...o.overrides.map((x) => `      - ${x}`)] : []),
    'network:',
    '  latency: { dist: constant, value: 0ms }',
    'workload:',
    '  - name: c',
    '    target: s',
    `    sidecars: ${o.sidecars ?? 1}`,
    ...(o.key ? [`    key: ${o.key}`] : []),
    `    arrival: { process: poisson, rate: ${o.rate}/s }`,
    'mesh:',
    `  balancer: ${o.balancer}`,
    ...(o.membership ? ['membership:', ...o.membership.map((x) => `  - ${x}`)] : []),
  ];
  return load(lines.join('\n') + '\n');
}

const requestsOf = (r: RunResult): number[] => r.instances.map((i) => i.requests);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

// --- Envoy locality weighting, weights from the scenario -----------------------------------

describe("locality weighting with the scenario's localityWeights (Envoy load_balancing_weight)", () => {
  it('zones weighted 1 and 3, all healthy: the zones get 25% and 75% of the requests', () => {
    const r = simulate(
      meshScenario({
        instances: 4,
        zones: ['a', 'b'],
        localityWeights: '{ a: 1, b: 3 }',
        serviceTime: exponential(1),
        rate: 1000,
        duration: 20_000,
        warmup: 0,
        balancer: '{ kind: round-robin, localityWeighted: true }',
      }),
      5,
    );
    const reqs = requestsOf(r);
    const N = sum(reqs);
    // Instances 0 and 2 are in zone a. Envoy's locality scheduler is EDF over the weights,
    // a deterministic 1:3 interleave, so the split is exact to a request or two.
    expectNear('locality weights 1:3, zone a share', (reqs[0] + reqs[2]) / N, 0.25, 2 / N);
    // Without locality weighting the zones split evenly.
    const even = requestsOf(simulate(meshScenario({ instances: 4, zones: ['a', 'b'], localityWeights: '{ a: 1, b: 3 }', serviceTime: exponential(1), rate: 1000, duration: 20_000, warmup: 0, balancer: '{ kind: round-robin }' }), 5));
    expectNear('locality weights ignored without localityWeighted, zone a share', (even[0] + even[2]) / sum(even), 0.5, 2 / sum(even));
  });
});

// --- 1. the supermarket model ---------------------------------------------------------------

describe('least request and P2C over n = 100 M/M/1 instances at λ = 0.9 (one sidecar): the supermarket model', () => {
  // One sidecar and zero network latency: a sidecar's active count for an instance is
  // exactly that instance's number in system, so least request with choices 2 is JSQ(2)
  // with draws WITH replacement — Mitzenmacher's model exactly, at any n (the best of two
  // independent draws has ≥ k customers with probability x_k², x_k the fraction of servers
  // with ≥ k, whether or not the draws coincide). P2C's distinct pair lowers that to
  // x_k² − x_k(1 − x_k)/(n − 1): slightly better balancing, not worse.
  const n = 100;
  const lambda = 0.9;
  const run = (balancer: string, seed: number, duration: number, warmup: number): RunResult =>
    simulate(meshScenario({ instances: n, serviceTime: exponential(1), rate: 900 * n, duration, warmup, balancer }), seed);

  it('the theory: Σ λ^(2^i − 2) = 2.614 service times; for d = 1 the variance method gives M/M/1’s σ² exactly', () => {
    expect(supermarketLimit(lambda, 2)).toBeCloseTo(2.614, 3);
    expect(supermarket(lambda, 2).limit).toBeCloseTo(supermarketLimit(lambda, 2), 12);
    // d = 1 (random): linear drift, so no finite-n term, and n independent M/M/1 queues whose
    // pooled customer average has M/M/1's σ² = (1 + ρ)²/(1 − ρ)⁴ = 36100.
    const d1 = supermarket(lambda, 1, { K: 400 });
    expect(d1.correction).toBe(0);
    expect(d1.limit).toBeCloseTo(10, 9);
    expect(d1.sigma2 / mmcSojourn(lambda, 1, 1).sigma2).toBeCloseTo(1, 6);
    // Truncation: nothing changes between 16 and 24 levels (x₈ ≈ 2·10⁻¹²).
    const k16 = supermarket(lambda, 2, { K: 16 });
    const k24 = supermarket(lambda, 2, { K: 24 });
    expect(k16.correction).toBeCloseTo(k24.correction, 9);
    expect(k16.sigma2).toBeCloseTo(k24.sigma2, 6);
  });

  it('random balancing (the contrast): 100 independent M/M/1 queues, mean 1/(1 − λ) = 10 service times', () => {
    const r = run('{ kind: random }', 21, 19_700, 3000);
    const N = r.requests.succeeded;
    expect(N).toBeGreaterThan(1_400_000);
    // σ² = 36100 (M/M/1 at ρ = 0.9, pooled over independent queues); SE ≈ 0.16 at N = 1.5M.
    // The warm-up is 8 relaxation times ((1 − √ρ)⁻² ≈ 380 ms) of an M/M/1 at ρ = 0.9.
    expectNear('random, n = 100, λ = 0.9: mean time in system', r.latency.mean(), 1 / (1 - lambda), Z * Math.sqrt(mmcSojourn(lambda, 1, 1).sigma2 / N));
  });

  it('least-request (choices 2, with replacement): mean time in system 2.614 + 4.43/n = 2.658 service times', () => {
    const r = run('{ kind: least-request }', 22, 91_000, 1000);
    const N = r.requests.succeeded;
    expect(r.requests.failed).toBe(0);
    expect(N).toBeGreaterThan(8_000_000);
    const th = supermarket(lambda, 2);
    // Refined mean field: c = 4.43 (Lyapunov equation of the linear noise approximation),
    // so E T = 2.6141 + 0.0443 at n = 100. σ² = 245.7 (same approximation, see
    // _balancing-theory.ts): SE ≈ 0.0055 at N = 8.1M. The O(1/n²) remainder of the expansion is
    // not computed: we allow it a quarter of the first-order term (c/(4n) = 0.011).
    const expected = th.limit + th.correction / n;
    const tol = Z * Math.sqrt(th.sigma2 / N) + th.correction / (4 * n);
    expectNear('least-request, n = 100, λ = 0.9: mean time in system', r.latency.mean(), expected, tol);
    // Finite n is above the limit: the excess c/n is ≈ 8 SE, so this one-sided check is safe.
    expect(r.latency.mean()).toBeGreaterThan(th.limit);
  });

  it('p2c (distinct pair): mean time in system 2.614 + 3.08/n = 2.645 service times', () => {
    const r = run('{ kind: p2c }', 23, 91_000, 1000);
    const N = r.requests.succeeded;
    expect(r.requests.failed).toBe(0);
    expect(N).toBeGreaterThan(8_000_000);
    const th = supermarket(lambda, 2, { distinctPair: true });
    // The distinct pair adds a 1/n drift term f₁ (see _balancing-theory.ts): c drops from 4.43
    // to 3.08. Same σ² to leading order, same allowance for the O(1/n²) remainder.
    const expected = th.limit + th.correction / n;
    const tol = Z * Math.sqrt(th.sigma2 / N) + th.correction / (4 * n);
    expectNear('p2c, n = 100, λ = 0.9: mean time in system', r.latency.mean(), expected, tol);
    expect(r.latency.mean()).toBeGreaterThan(th.limit);
  });
});

// --- 2. round robin: E_n/M/1 ------------------------------------------------------------------

describe('round robin from one sidecar over n = 10 M/M/1 instances at ρ = 0.8: 10 E₁₀/M/1 queues', () => {
  // queueing.test.ts covers n = 4. With ONE sidecar, instance m receives arrivals m, m + n,
  // m + 2n, … of the Poisson stream: Erlang-n interarrival times, a renewal process, so each
  // instance is exactly an E_n/M/1 queue (GI/M/1: σ = A*(μ(1 − σ)), A*(s) = (nλ/(nλ + s))^n,
  // T = 1/(μ(1 − σ))). With several sidecars each walking the ring from its own random start,
  // an instance's arrivals are no longer every n-th one (the gaps follow a periodic pattern
  // set by the starts), so only the exact shares are asserted there.
  const n = 10;
  const lambda = 0.8; // per instance, per ms

  it('mean time in system is the GI/M/1 value 2.922 ms (M/M/1 would give 5 ms), each instance gets N/n ± 1', () => {
    const r = simulate(meshScenario({ instances: n, serviceTime: exponential(1), rate: 8000, duration: 501_000, warmup: 1000, balancer: '{ kind: round-robin }' }), 31);
    const N = r.requests.succeeded;
    expect(N).toBeGreaterThan(3_900_000);
    // σ by fixed-point iteration (ekm1Sojourn), cross-checked against the Markov chain.
    const w = ekm1Sojourn(n, n * lambda, 1);
    const chain = ekm1Variance(n, n * lambda, 1, 120);
    expect(chain.mean).toBeCloseTo(w, 9);
    // The chain method reproduces M/M/1 for one phase.
    expect(ekm1Variance(1, lambda, 1, 300).sigma2).toBeCloseTo(mmcSojourn(lambda, 1, 1).sigma2, 6);
    // σ² of ONE E₁₀/M/1 queue is 358 ms² (26 from the arrival phases, 332 from departures).
    // The 10 queues share the arrival stream (every Poisson arrival advances all their phases
    // at once), so their averages are correlated; by Cauchy–Schwarz on those simultaneous
    // jumps the pooled σ² is at most n·26 + 332 = 594 ms². SE ≤ 0.012 ms at N = 4M (0.4%).
    const sigma2 = n * chain.sigma2Phases + chain.sigma2Departures;
    expectNear('round robin, n = 10, ρ = 0.8: mean time in system (ms)', r.latency.mean(), w, Z * Math.sqrt(sigma2 / N));
    const reqs = requestsOf(r);
    expect(Math.max(...reqs) - Math.min(...reqs)).toBeLessThanOrEqual(1);
  });

  it('with 3 sidecars (requests dealt to them in turn), each instance still gets N/n within 3 requests', () => {
    // Each sidecar's own round robin gives every instance ⌊c_s/n⌋ or ⌈c_s/n⌉ of its c_s picks,
    // so |requests_m − N/n| < (number of sidecars).
    const S = 3;
    const r = simulate(meshScenario({ instances: n, serviceTime: exponential(1), rate: 8000, duration: 11_000, warmup: 1000, sidecars: S, balancer: '{ kind: round-robin }' }), 32);
    const reqs = requestsOf(r);
    const N = sum(reqs);
    for (const x of reqs) expect(Math.abs(x - N / n)).toBeLessThan(S);
  });
});

// --- 3. one slow instance ---------------------------------------------------------------------

describe('n = 10 instances, one 10× slower (exponential 10 ms vs 1 ms, concurrency 1), at 60% of fleet capacity', () => {
  // Capacity: 9 × 1000/s + 100/s = 9100/s; offered 5500/s (60%).
  const n = 10;
  const slow = 3;
  const run = (balancer: string): RunResult =>
    simulate(
      meshScenario({
        instances: n,
        serviceTime: exponential(1),
        overrides: [`{ instances: [${slow}], serviceTime: ${exponential(10)} }`],
        rate: 5500,
        duration: 22_000,
        warmup: 2000,
        balancer,
      }),
      41,
    );

  it('p2c-peak-ewma sends the slow instance less than 1/(3n) of the traffic', () => {
    const r = run('{ kind: p2c-peak-ewma }');
    const reqs = requestsOf(r);
    const N = sum(reqs);
    expect(N).toBeGreaterThan(100_000);
    // Any balancer that keeps the slow instance's queue from growing without bound can send
    // it at most its capacity, 100/s of 5500/s: a share 1/55 = 1/(5.5n) in the long run; the
    // bound 1/(3n) leaves room for the start (every endpoint starts at the same 30 ms prior,
    // so nothing tells the slow one apart until its first responses) and the backlog.
    // Round robin, for comparison, sends 1/n, 5.5× its capacity.
    expectBound('p2c-peak-ewma: slow instance share', reqs[slow] / N, 1 / (3 * n));
    expect(r.requests.failed).toBe(0);
    expect(r.requests.inFlight).toBe(0);
  });

  it('round robin sends it exactly 1/n (each instance ⌊N/n⌋ or ⌈N/n⌉): its queue grows without bound', () => {
    const r = run('{ kind: round-robin }');
    const reqs = requestsOf(r);
    const N = sum(reqs);
    // One sidecar: |share − 1/n| ≤ 1/N for every instance, the slow one included.
    record('round robin: slow instance share', reqs[slow] / N, 1 / n, 1 / N);
    for (const x of reqs) expect(Math.abs(x / N - 1 / n)).toBeLessThanOrEqual(1 / N);
    // 550/s offered to a 100/s server for 20 s: it cannot finish within the 10 s drain.
    expect(r.requests.inFlight).toBeGreaterThan(0);
  });
});

// --- 4. consistent hashing ----------------------------------------------------------------------

describe('ring hash and Maglev, n = 10 instances, Zipf(1000, s = 1.1) keys at 2000/s', () => {
  const n = 10;
  const keys = 1000;
  const s = 1.1;
  // Zipf probabilities p_k ∝ (k + 1)^−s; p₀ = 0.18.
  const zipf = lazy(() => {
    const w = Array.from({ length: keys }, (_, k) => Math.pow(k + 1, -s));
    const total = sum(w);
    return w.map((x) => x / total);
  });
  // The world's endpoints for service `s` (src/sim/world.ts membersOf: id s-i, address s-i.sim:80).
  const endpoints = (ids: readonly number[]): Endpoint[] =>
    ids.map((i) => ({ id: `s-${i}`, address: `s-${i}.sim:80`, zone: 'default', weight: 1, health: 'healthy', priority: 0, metadata: {} }));
  const all = Array.from({ length: n }, (_, i) => i);

  /** Owner of each key under `scenario`'s balancer on a fresh probe (the hashing alone decides). */
  function owners(scenario: Scenario, ids: readonly number[]): number[] {
    const engine = new Engine();
    engine.setModel({ handle() {} });
    const probe = createBalancer(scenario.mesh.balancer, { clock: engine, timers: engine, rng: rngStream(1, 'probe') });
    probe.rebuild(endpoints(ids));
    return Array.from({ length: keys }, (_, k) => ids[probe.pick({ hashKey: hashKey(String(k)) })]);
  }

  const zipfRun = (balancer: string, sidecars: number, seed: number): { scenario: Scenario; r: RunResult } => {
    const scenario = meshScenario({ instances: n, serviceTime: exponential(1), key: `{ dist: zipf, n: ${keys}, s: ${s} }`, sidecars, rate: 2000, duration: 31_000, warmup: 1000, balancer });
    return { scenario, r: simulate(scenario, seed) };
  };
  const maglevUnbounded = lazy(() => zipfRun('{ kind: maglev }', 1, 52));

  for (const [kind, sidecars, seed] of [
    ['ring-hash', 4, 51],
    ['maglev', 4, 53],
  ] as const) {
    it(`${kind}, 4 sidecars: each instance's share is the Zipf mass of the keys it owns; the owner of key 0 gets ≥ p₀`, () => {
      const { scenario, r } = zipfRun(`{ kind: ${kind} }`, sidecars, seed);
      const reqs = requestsOf(r);
      const N = sum(reqs);
      expect(N).toBeGreaterThan(55_000);
      const owner = owners(scenario, all);
      const p = zipf();
      const share = new Array<number>(n).fill(0);
      owner.forEach((i, k) => (share[i] += p[k]));
      // If every request of key k goes to owner(k) (same key → same instance, on every
      // sidecar), instance i's count is Binomial(N, P_i), P_i = Σ_{owner(k) = i} p_k: within
      // 5 SD of N·P_i. (Any spreading of a key over instances would flatten the shares,
      // which range from a few % to over 20% here, towards 1/n.)
      for (let i = 0; i < n; i++) {
        const sd = Math.sqrt(N * share[i] * (1 - share[i]));
        expect(Math.abs(reqs[i] - N * share[i]), `${kind}: instance ${i} got ${reqs[i]}, expected ${N * share[i]} ± ${Z * sd}`).toBeLessThanOrEqual(Z * sd);
      }
      const hot = owner[0];
      const p0 = p[0];
      record(`${kind}: share of key 0's owner (instance ${hot}) ≥ p0 = ${p0.toFixed(4)}`, reqs[hot] / N, share[hot], Z * Math.sqrt((share[hot] * (1 - share[hot])) / N));
      expect(reqs[hot] / N).toBeGreaterThanOrEqual(p0 - Z * Math.sqrt((p0 * (1 - p0)) / N));
    });
  }

  it('maglev with hashBalanceFactor 125 (one sidecar): the busiest instance’s share falls well below the unbounded case', () => {
    const unbounded = requestsOf(maglevUnbounded().r);
    const bounded = requestsOf(zipfRun('{ kind: maglev, hashBalanceFactor: 125 }', 1, 52).r);
    const Nu = sum(unbounded);
    const Nb = sum(bounded);
    const maxU = Math.max(...unbounded) / Nu;
    const maxB = Math.max(...bounded) / Nb;
    // Unbounded, the busiest share is the Zipf mass of its keys (checked above for 4 sidecars,
    // binomial). Bounded load caps an instance at ⌈⌈(active + 1)·1.25⌉/n⌉ of this sidecar's
    // active requests and spills the rest, so the hot instance (ρ ≈ 0.67 unbounded, i.e. ≈ 2
    // in system on average while its cap is mostly 1) must lose a large part of its traffic.
    // Asserted: a drop of more than 5 binomial SDs of both shares.
    const margin = Z * (Math.sqrt((maxU * (1 - maxU)) / Nu) + Math.sqrt((maxB * (1 - maxB)) / Nb));
    record('maglev: busiest share, bounded 125 vs unbounded', maxB, maxU, margin, '(must be below by more than ±)');
    expect(maxB).toBeLessThan(maxU - margin);
  });

  // Removing one instance mid-run: RunResult.membership[0].keysRemapped is measured on the first
  // 10,000 keys (a fresh probe balancer before and after), so it is a sample of 10,000 hashes:
  // binomial SD √(f(1 − f)/10⁴) around the true fraction f of the hash space that moves.
  const removeRun = (balancer: string): RunResult =>
    simulate(
      meshScenario({
        instances: n,
        serviceTime: exponential(1),
        key: '{ dist: zipf, n: 100000, s: 1.1 }',
        rate: 2000,
        duration: 10_000,
        warmup: 1000,
        balancer,
        membership: ['{ at: 5000ms, service: s, remove: [4] }'],
      }),
      54,
    );
  const KEYS_PROBED = 10_000;
  const keysSD = (f: number): number => Math.sqrt((f * (1 - f)) / KEYS_PROBED);
  const addresses = (ids: readonly number[]) => ids.map((i) => ({ address: `s-${i}.sim:80`, weight: 1 }));
  const after = all.filter((i) => i !== 4);

  it('maglev: removing 1 of 10 instances remaps ≈ 1/n of the keys (the removed entries plus a small churn)', () => {
    const r = removeRun('{ kind: maglev }');
    const f = r.membership[0].keysRemapped as number;
    // The two tables (M = 65537): the removed host held ⌊M/n⌋ or ⌈M/n⌉ slots (equal weights
    // fill round-robin), every one of which must move; Maglev's refill moves a few more.
    const t1 = buildMaglevTable(addresses(all));
    const t2 = buildMaglevTable(addresses(after));
    const M = t1.table.length;
    let changed = 0;
    for (let slot = 0; slot < M; slot++) if (all[t1.table[slot]] !== after[t2.table[slot]]) changed++;
    const removedShare = t1.counts[4] / M;
    expect(Math.abs(t1.counts[4] - M / n)).toBeLessThan(1);
    const churn = changed / M - removedShare;
    expect(churn).toBeGreaterThanOrEqual(0);
    expect(churn).toBeLessThan(0.01); // near-minimal disruption: < 1% of slots beyond the removed host's
    // A key's slot is uniform over the table, so E f = changed/M; the probe samples 10,000 keys.
    expectNear('maglev: keys remapped (vs changed slots)', f, changed / M, Z * keysSD(changed / M));
    expectNear('maglev: keys remapped (vs 1/n + churn allowance)', f, 1 / n, Z * keysSD(1 / n) + churn);
  });

  it('ring hash: removing 1 of 10 remaps ≈ (2n − 1)/(n(n + 1)) = 17%, not 1/n: Envoy rescales the ring, survivors gain points', () => {
    // Envoy gives each host ⌈minimumRingSize/n⌉ points "<address>_i": 103 each for n = 10,
    // 114 each for n = 9, so the survivors' 11 new points each capture part of a neighbour's
    // arc. ringRemapTheory derives E f and its SD over the hashing; ringRemapExact measures the
    // moved arcs of the actual two rings.
    for (const [balancer, minRing] of [
      ['{ kind: ring-hash }', 1024],
      ['{ kind: ring-hash, minimumRingSize: 65536 }', 65536],
    ] as const) {
      const r = removeRun(balancer);
      const f = r.membership[0].keysRemapped as number;
      const idsAll = all.map((i) => `s-${i}`);
      const idsAfter = after.map((i) => `s-${i}`);
      const r1 = buildRing(addresses(all), minRing);
      const r2 = buildRing(addresses(after), minRing);
      const exact = ringRemapExact(r1, idsAll, r2, idsAfter);
      const theory = ringRemapTheory(ringCounts(r1, idsAll), ringCounts(r2, idsAfter), 's-4');
      expectNear(`ring hash (min ring ${minRing}): keys remapped (vs exact moved arcs)`, f, exact, Z * keysSD(exact));
      // Over the hashing the SD is O(1/√(ring points)): 0.012 at 1030 points, 0.0014 at 65540.
      expectNear(`ring hash (min ring ${minRing}): keys remapped (vs E f over hashing)`, f, theory.mean, Z * Math.hypot(theory.sd, keysSD(theory.mean)));
      // Large-ring limit of E f: 1/(n + 1) + (1/(n + 1))(1 − 1/n) = (2n − 1)/(n(n + 1)).
      expect(theory.mean).toBeCloseTo((2 * n - 1) / (n * (n + 1)), minRing > 10_000 ? 2 : 1);
      // Significantly more than the minimal 1/n.
      expect(f).toBeGreaterThan(1 / n + Z * keysSD(1 / n));
    }
  });
});

// --- 5. herding -----------------------------------------------------------------------------------

describe('50 sidecars, 10 instances, one joins at 5 s (no slow start): the newcomer’s requests in the next 100 ms', () => {
  // Unbounded concurrency, exponential service with mean 1 s, 5000 req/s: 5000 requests in
  // flight, 100 per sidecar, ≈ 10 per (sidecar, instance). Measurement window = [join, join +
  // 100 ms): instances[].requests counts exactly the window's picks (≈ 500, ≈ 10 per sidecar).
  // The fleet mean per instance is N/11.
  const run = (balancer: string, seed: number): { N: number; newcomer: number } => {
    const r = simulate(
      meshScenario({
        instances: 10,
        concurrency: 'unbounded',
        serviceTime: exponential(1000),
        sidecars: 50,
        rate: 5000,
        duration: 5100,
        warmup: 5000,
        balancer,
        membership: ['{ at: 5000ms, service: s, add: 1 }'],
      }),
      seed,
    );
    const reqs = requestsOf(r);
    expect(reqs).toHaveLength(11);
    return { N: sum(reqs), newcomer: reqs[10] };
  };

  it('least-request fullScan herds: the newcomer takes more than 5× the fleet mean', () => {
    const { N, newcomer } = run('{ kind: least-request, fullScan: true }', 61);
    // Each sidecar sees the newcomer at 0 active and every old instance at ≈ 10 (full scan
    // keeps a sidecar's counts level, and only ≈ 1 of each instance's 10 completes within
    // 100 ms). The full scan takes the minimum, so a sidecar sends the newcomer every pick until
    // its count there reaches the old minimum: ≳ 5 of its ≈ 10 picks in the window unless
    // that minimum falls below 5. Hence a share ≥ 1/2, i.e. ≥ 11/2 × the fleet mean; asserted ≥ 5×.
    expectBound('fullScan: newcomer requests / fleet mean (100 ms)', newcomer / (N / 11), 5, true);
  });

  it('p2c cannot herd: the newcomer is one of the two draws with probability 2/11, so ≤ 2× the mean (+5 SD)', () => {
    const { N, newcomer } = run('{ kind: p2c }', 62);
    // Whatever the loads, a pick can choose the newcomer only if it is one of the two distinct
    // draws: probability 2/11 per pick, independently → the count is stochastically at most
    // Binomial(N, 2/11).
    const p = 2 / 11;
    const bound = N * p + Z * Math.sqrt(N * p * (1 - p));
    expectBound('p2c: newcomer requests / fleet mean (100 ms)', newcomer / (N / 11), bound / (N / 11));
  });
});
