/**
 * Every registered balancer, as scenario files get it (options resolved, Envoy kinds inside
 * Envoy's layers): valid picks, no unhealthy endpoint outside panic, -1 with nothing to
 * pick, a pick with or without a hash key, and determinism for a seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balancerKinds, createBalancer, ENVOY_KINDS, resolveBalancerOptions } from '../../src/algorithms/registry.js';
import type { Balancer, Endpoint, Health, Outcome } from '../../src/algorithms/types.js';
import { rngStream } from '../../src/core/rng.js';
import { hashKey } from '../../src/core/xxhash64.js';
import { Engine } from '../../src/sim/engine.js';

const OK: Outcome = { kind: 'success', status: 200, utilization: 0.5 };

function make(kind: string, seed: number): { balancer: Balancer; engine: Engine } {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  const balancer = createBalancer(resolveBalancerOptions({ kind }), { clock: engine, timers: engine, rng: rngStream(seed, `registry/${kind}`) });
  return { balancer, engine };
}

function endpoints(health: readonly Health[], weights?: readonly number[]): Endpoint[] {
  return health.map((h, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, zone: 'a', weight: weights?.[i] ?? 1, health: h, priority: 0, metadata: {} }));
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
