/**
 * Every registered balancer, as scenario files get it (options resolved, inside Envoy's
 * layers): valid picks, no unhealthy endpoint outside panic, priority levels honoured,
 * -1 with nothing to pick, a pick with or without a hash key, and determinism for a seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balancerKinds, createBalancer, END_BLIND_KINDS, ENVOY_KINDS, resolveBalancerOptions } from '../../src/algorithms/registry.js';
import { soloEnvironment, type Balancer, type BalancerEnvironment, type Endpoint, type Health, type Outcome } from '../../src/algorithms/types.js';
import { rngStream } from '../../src/core/rng.js';
import { hashKey } from '../../src/core/xxhash64.js';
import { Engine } from '../../src/sim/engine.js';

const OK: Outcome = { kind: 'success', status: 200, utilization: 0.5 };

function make(kind: string, seed: number, env?: BalancerEnvironment): { balancer: Balancer; engine: Engine } {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  const balancer = createBalancer(resolveBalancerOptions({ kind }), { clock: engine, timers: engine, rng: rngStream(seed, `registry/${kind}`) }, env);
  return { balancer, engine };
}

function endpoints(health: readonly Health[], weights?: readonly number[], priorities?: readonly number[]): Endpoint[] {
  return health.map((h, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, zone: 'a', weight: weights?.[i] ?? 1, health: h, priority: priorities?.[i] ?? 0, metadata: {} }));
}

/** Drives `picks` requests, ending each after 3 more have started; returns the picked indices. */
function drive(b: Balancer, engine: Engine, picks: number, keyed: boolean): number[] {
  const out: number[] = [];
  const open: number[] = [];
  for (let i = 0; i < picks; i++) {
    engine.run(engine.now() + 1);
    const ep = b.pick(keyed ? { hashKey: hashKey(String(i % 97)) } : {});
    out.push(ep);
    if (ep >= 0) {
      b.onStart(ep);
      open.push(ep);
    }
    if (open.length > 3) b.onEnd(open.shift() as number, OK, 5);
  }
  return out;
}

describe.each(balancerKinds())('balancer %s (as registered)', (kind) => {
  it('default options resolve', () => {
    expect(resolveBalancerOptions({ kind }).kind).toBe(kind);
  });

  it('never picks an unhealthy endpoint while at least half are healthy (no panic), with or without a key', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Health>('healthy', 'unhealthy', 'degraded'), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 30, maxLength: 30 }),
        fc.boolean(),
        fc.nat(1000),
        (health, weights, keyed, seed) => {
          const healthy = health.filter((h) => h === 'healthy').length;
          fc.pre(healthy * 2 > health.length);
          const { balancer, engine } = make(kind, seed);
          const eps = endpoints(health, weights);
          balancer.rebuild(eps);
          for (const ep of drive(balancer, engine, 60, keyed)) {
            expect(ep).toBeGreaterThanOrEqual(0);
            expect(ep).toBeLessThan(eps.length);
            expect(eps[ep].health).not.toBe('unhealthy');
          }
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it('returns -1 when there is nothing to pick', () => {
    const { balancer, engine } = make(kind, 1);
    balancer.rebuild([]);
    expect(drive(balancer, engine, 3, false)).toEqual([-1, -1, -1]);
    if (!ENVOY_KINDS.has(kind)) {
      // Outside Envoy's layers there is no panic: all-unhealthy means nothing to pick.
      balancer.rebuild(endpoints(['unhealthy', 'unhealthy']));
      expect(drive(balancer, engine, 3, false)).toEqual([-1, -1, -1]);
    }
  });

  it("honours priority levels as Envoy does (overprovisioning 1.4), whatever the policy", () => {
    // Four hosts at priority 0 and four at priority 1: all healthy, everything goes to P0.
    const levels = [0, 0, 0, 0, 1, 1, 1, 1];
    const { balancer, engine } = make(kind, 3);
    balancer.rebuild(endpoints(Array<Health>(8).fill('healthy'), undefined, levels));
    for (const ep of drive(balancer, engine, 200, true)) expect(levels[ep]).toBe(0);
    // Two of P0's four down: 50% healthy × 1.4 = 70% of the load stays on P0, 30% spills to P1.
    balancer.rebuild(endpoints(['healthy', 'unhealthy', 'healthy', 'unhealthy', 'healthy', 'healthy', 'healthy', 'healthy'], undefined, levels));
    const picks = drive(balancer, engine, 4000, true);
    const onP1 = picks.filter((ep) => levels[ep] === 1).length / picks.length;
    // Binomial(4000, 0.3): sd 0.0072, so ±0.04 is over 5 sd.
    expect(onP1).toBeGreaterThan(0.26);
    expect(onP1).toBeLessThan(0.34);
    for (const ep of picks) expect(ep === 1 || ep === 3).toBe(false);
  });

  it('picks the same whether or not the caller says every endpoint is at one priority level', () => {
    // priorityLevels: 1 lets a policy outside Envoy's kinds skip the layers, which must change
    // nothing. (Degraded hosts are left out: inside the layers they get traffic only when the
    // healthy ones fall short, as in Envoy; neither the simulator nor the proxy marks any.)
    const run = (env: BalancerEnvironment): number[] => {
      const { balancer, engine } = make(kind, 11, env);
      balancer.rebuild(endpoints(['healthy', 'unhealthy', 'healthy', 'unhealthy', 'healthy', 'healthy'], [1, 2, 3, 1, 2, 3]));
      const a = drive(balancer, engine, 300, true);
      balancer.rebuild(endpoints(Array<Health>(4).fill('healthy')));
      return [...a, ...drive(balancer, engine, 300, false)];
    };
    expect(run({ ...soloEnvironment(), priorityLevels: 1 })).toEqual(run(soloEnvironment()));
  });

  it('is deterministic for a seed, and survives a rebuild to fewer endpoints', () => {
    const run = (): number[] => {
      const { balancer, engine } = make(kind, 42);
      balancer.rebuild(endpoints(Array<Health>(12).fill('healthy')));
      const a = drive(balancer, engine, 200, true);
      balancer.rebuild(endpoints(Array<Health>(5).fill('healthy')));
      const b = drive(balancer, engine, 200, false);
      for (const ep of b) expect(ep).toBeLessThan(5);
      return [...a, ...b];
    };
    expect(run()).toEqual(run());
  });
});

describe('END_BLIND_KINDS (the simulator takes their answers without an event)', () => {
  it.each([...END_BLIND_KINDS])('%s picks the same whether or not starts and ends are reported', (kind) => {
    const run = (report: boolean): number[] => {
      const { balancer, engine } = make(kind, 5);
      balancer.rebuild(endpoints(['healthy', 'healthy', 'unhealthy', 'healthy', 'degraded', 'healthy'], [1, 2, 3, 1, 2, 3]));
      const out: number[] = [];
      for (let i = 0; i < 500; i++) {
        engine.run(engine.now() + 1);
        const ep = balancer.pick({ hashKey: hashKey(String(i)) });
        out.push(ep);
        if (report && ep >= 0) {
          balancer.onStart(ep);
          balancer.onEnd(ep, i % 3 === 0 ? { kind: 'error', status: 503 } : OK, 1 + (i % 7));
        }
      }
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });
});
