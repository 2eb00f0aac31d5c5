/**
 * Shared fixtures for the load-metric and weighted policies' tests: ports in virtual
 * time, endpoint arrays, and the properties every such policy must have (never picks an
 * unhealthy endpoint, -1 when nothing is pickable, deterministic for a seed).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { Engine } from '../../../src/sim/engine.js';
import type { Balancer, Endpoint, Health, Outcome } from '../../../src/algorithms/types.js';

export interface TestWorld {
  readonly engine: Engine;
  readonly ports: Ports;
  /** Moves the virtual clock to absolute time `t` ms. */
  advanceTo(t: number): void;
}

export function testWorld(seed = 1, purpose = 'balancer/test'): TestWorld {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  return {
    engine,
    ports: { clock: engine, rng: rngStream(seed, purpose), timers: engine },
    advanceTo: (t: number) => engine.run(t),
  };
}

export interface EndpointSpec {
  readonly id?: string;
  readonly weight?: number;
  readonly health?: Health;
}

export function endpoints(specs: number | readonly EndpointSpec[]): Endpoint[] {
  const list: readonly EndpointSpec[] = typeof specs === 'number' ? Array.from({ length: specs }, () => ({})) : specs;
  return list.map((s, i) => ({
    id: s.id ?? `e${i}`,
    address: `10.0.0.${i}:8080`,
    zone: 'z1',
    weight: s.weight ?? 1,
    health: s.health ?? 'healthy',
    priority: 0,
    metadata: {},
  }));
}

export const OK: Outcome = { kind: 'success', status: 200 };
export const HTTP_503: Outcome = { kind: 'error', status: 503 };
export const CONNECT_FAILURE: Outcome = { kind: 'connect-failure', status: 0 };
export const TIMEOUT: Outcome = { kind: 'timeout', status: 0 };

/** Counts of each index among `picks` over `n` endpoints. */
export function counts(picks: readonly number[], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const p of picks) c[p]++;
  return c;
}

const healthArb = fc.constantFrom<Health>('healthy', 'healthy', 'degraded', 'unhealthy');
const specArb = fc.record({ weight: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.double({ min: 0.1, max: 10, noNaN: true })), health: healthArb });

/** A step of a random workload: pick (and maybe start), end one in flight, move time, or rebuild with new health. */
const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('pick' as const), start: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('end' as const), which: fc.nat(), latency: fc.double({ min: 0, max: 500, noNaN: true }), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('time' as const), dt: fc.double({ min: 0, max: 20_000, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rebuild' as const), specs: fc.array(specArb, { maxLength: 12 }) }) },
);

export const scenarioArb = fc.record({ specs: fc.array(specArb, { maxLength: 12 }), steps: fc.array(stepArb, { maxLength: 80 }) });
export type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs a scenario, checking every pick (-1 or a non-unhealthy index of the current
 * array; -1 whenever nothing is healthy, and never otherwise when `alwaysPicks`), and
 * returns the picks made.
 */
export function runScenario(make: (ports: Ports) => Balancer, scenario: Scenario, seed: number, alwaysPicks: boolean): number[] {
  const world = testWorld(seed);
  const lb = make(world.ports);
  let eps = endpoints(scenario.specs);
  lb.rebuild(eps);
  const inFlight: number[] = [];
  const picks: number[] = [];
  let now = 0;
  for (const step of scenario.steps) {
    if (step.op === 'pick') {
      const i = lb.pick({});
      picks.push(i);
      const healthy = eps.some((e) => e.health !== 'unhealthy');
      if (i === -1) {
        if (alwaysPicks) expect(healthy).toBe(false);
      } else {
        expect(i).toBeGreaterThanOrEqual(0);
        expect(i).toBeLessThan(eps.length);
        expect(eps[i].health).not.toBe('unhealthy');
      }
      if (i >= 0 && step.start) {
        lb.onStart(i);
        inFlight.push(i);
      }
    } else if (step.op === 'end') {
      if (inFlight.length === 0) continue;
      const [i] = inFlight.splice(step.which % inFlight.length, 1);
      lb.onEnd(i, step.fail ? CONNECT_FAILURE : OK, step.latency);
    } else if (step.op === 'time') {
      now += step.dt;
      world.advanceTo(now);
    } else {
      // Keep ids stable for the endpoints that stay (same position → same id), so state carries.
      eps = endpoints(step.specs);
      lb.rebuild(eps);
      inFlight.length = 0; // their indices may now name other endpoints
    }
  }
  return picks;
}

/** The properties every policy of this family has. */
export function commonPolicyProperties(make: (ports: Ports) => Balancer, opts: { alwaysPicks: boolean } = { alwaysPicks: true }): void {
  it('returns -1 for an empty endpoint list', () => {
    const lb = make(testWorld().ports);
    lb.rebuild([]);
    expect(lb.pick({})).toBe(-1);
    expect(lb.pick({})).toBe(-1);
  });

  it('returns -1 when every endpoint is unhealthy', () => {
    const lb = make(testWorld().ports);
    lb.rebuild(endpoints([{ health: 'unhealthy', weight: 3 }, { health: 'unhealthy' }, { health: 'unhealthy', weight: 2 }]));
    for (let k = 0; k < 10; k++) expect(lb.pick({})).toBe(-1);
  });

  it('never picks an unhealthy endpoint (random workloads, health changes, weights)', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 1000 }), (scenario, seed) => {
        runScenario(make, scenario, seed, opts.alwaysPicks);
      }),
      { seed: 20240601, numRuns: 200 },
    );
  });

  it('is deterministic for a given seed', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 1000 }), (scenario, seed) => {
        expect(runScenario(make, scenario, seed, opts.alwaysPicks)).toEqual(runScenario(make, scenario, seed, opts.alwaysPicks));
      }),
      { seed: 20240602, numRuns: 100 },
    );
  });

  it('works without a hash key or attempt number in the context', () => {
    const lb = make(testWorld().ports);
    lb.rebuild(endpoints(3));
    const i = lb.pick({});
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBeLessThan(3);
  });
}

/**
 * Round robin's random start (Envoy seeds its index at random): over 40 seeds, a policy
 * built by `make` over 5 equal endpoints makes its first pick at every one of them.
 */
export function randomStartProperty(make: (ports: Ports) => Balancer): void {
  it('different seeds start at different endpoints', () => {
    const starts = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const lb = make(testWorld(seed).ports);
      lb.rebuild(endpoints(5));
      starts.add(lb.pick({}));
    }
    expect(starts.size).toBe(5);
  });
}
