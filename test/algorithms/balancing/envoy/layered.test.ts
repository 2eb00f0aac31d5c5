/**
 * The Envoy layer wrapper around any inner policy: option parsing, the zero-overhead fast
 * path, priority failover, panic, degraded load, locality weighting, zone-aware splits,
 * slow start, and onStart/onEnd forwarding. Frequencies are checked within 5σ binomial
 * bounds (fixed seeds).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasLayerOptions, LAYER_KEYS, layerConfigSchema, layered, splitLayerOptions } from '../../../../src/algorithms/balancing/envoy/layered.js';
import { priorityState } from '../../../../src/algorithms/balancing/envoy/panic.js';
import { random } from '../../../../src/algorithms/balancing/random.js';
import { createBalancer, resolveBalancerOptions } from '../../../../src/algorithms/registry.js';
import { soloEnvironment, type BalancerEnvironment, type Endpoint, type Health } from '../../../../src/algorithms/types.js';
import type { Ports } from '../../../../src/core/ports.js';
import { rngStream } from '../../../../src/core/rng.js';
import { Engine } from '../../../../src/sim/engine.js';
import { countingDefinition, group, hosts, recordingDefinition, tol, weightedDraw, type HostSpec } from './_fixtures.js';

function world(seed = 1): { engine: Engine; ports: Ports } {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  return { engine, ports: { clock: engine, rng: rngStream(seed, 'layered/test'), timers: engine } };
}

const defaults = layerConfigSchema.parse({});

function env(localZone: string, sizes: Record<string, number>): BalancerEnvironment {
  return { localZone, clientIndex: 0, clientCount: 1, localZoneSizes: new Map(Object.entries(sizes)) };
}

/** Fraction of `n` picks that satisfy `pred`. */
function share(lb: { pick(c: object): number }, eps: readonly Endpoint[], n: number, pred: (e: Endpoint) => boolean): number {
  let hit = 0;
  for (let k = 0; k < n; k++) {
    const i = lb.pick({});
    if (i >= 0 && pred(eps[i])) hit++;
  }
  return hit / n;
}

describe('layer options', () => {
  it('all optional, with Envoy defaults', () => {
    expect(defaults).toEqual({ overprovisioningFactor: 1.4, panicThreshold: 0.5, localityWeighted: false, zoneAware: false });
    expect(LAYER_KEYS).toEqual(['overprovisioningFactor', 'panicThreshold', 'localityWeighted', 'zoneAware', 'slowStart']);
  });

  it('parses percentages, durations and the zoneAware forms', () => {
    const c = layerConfigSchema.parse({ panicThreshold: '30%', zoneAware: true, slowStart: { window: '30s' } });
    expect(c.panicThreshold).toBe(0.3);
    expect(c.zoneAware).toEqual({ minClusterSize: 6 });
    expect(c.slowStart).toEqual({ window: 30_000, aggression: 1, minWeight: 0.1 });
    expect(layerConfigSchema.parse({ zoneAware: { minClusterSize: 3 } }).zoneAware).toEqual({ minClusterSize: 3 });
    expect(layerConfigSchema.parse({ zoneAware: false }).zoneAware).toBe(false);
    expect(layerConfigSchema.parse({ slowStart: { window: '10s', aggression: 2, minWeight: '5%', refreshInterval: '250ms' } }).slowStart).toEqual({
      window: 10_000,
      aggression: 2,
      minWeight: 0.05,
      refreshInterval: 250,
    });
  });

  it('rejects unknown keys, a missing window, and locality weighting together with zone-aware routing', () => {
    expect(layerConfigSchema.safeParse({ panic: 0.5 }).success).toBe(false);
    expect(layerConfigSchema.safeParse({ slowStart: {} }).success).toBe(false);
    expect(layerConfigSchema.safeParse({ slowStart: { window: '0s' } }).success).toBe(false);
    expect(layerConfigSchema.safeParse({ localityWeighted: true, zoneAware: true }).success).toBe(false);
    expect(layerConfigSchema.safeParse({ localityWeighted: true, zoneAware: false }).success).toBe(true);
  });

  it('splits a spec into layer options and inner options', () => {
    expect(splitLayerOptions({ choiceCount: 3, panicThreshold: '20%', slowStart: { window: '1s' } })).toEqual({
      layers: { panicThreshold: '20%', slowStart: { window: '1s' } },
      inner: { choiceCount: 3 },
    });
    expect(hasLayerOptions({ choiceCount: 3 })).toBe(false);
    expect(hasLayerOptions({ zoneAware: true })).toBe(true);
  });
});

describe('fast path', () => {
  it('one level, one zone, no options: the same picks as the bare inner policy (same seed)', () => {
    const eps = hosts(group(10, 7));
    const bare = random.create({}, world(5).ports, soloEnvironment());
    const wrapped = layered(random, {}, defaults, world(5).ports, soloEnvironment());
    bare.rebuild(eps);
    wrapped.rebuild(eps);
    for (let k = 0; k < 500; k++) expect(wrapped.pick({})).toBe(bare.pick({}));
  });

  it('hands the inner the caller’s own array, and forwards onStart/onEnd with the same index', () => {
    const { def, instances } = recordingDefinition();
    const lb = layered(def, {}, defaults, world().ports, soloEnvironment());
    const eps = hosts(group(4, 4));
    lb.rebuild(eps);
    expect(instances).toHaveLength(1);
    expect(instances[0].last).toBe(eps);
    lb.onStart(2);
    lb.onEnd(2, { kind: 'success', status: 200 }, 5);
    expect(instances[0].started).toEqual([eps[2].id]);
    expect(instances[0].ended).toEqual([eps[2].id]);
  });

  it('returns -1 with no endpoints', () => {
    const lb = layered(random, {}, defaults, world().ports, soloEnvironment());
    lb.rebuild([]);
    expect(lb.pick({})).toBe(-1);
  });
});

describe('priority and panic', () => {
  it('failover: the share of P1 follows 1 − min(100, ⌊140·k/100⌋)/100 as P0 health k drops', () => {
    for (let k = 100; k >= 0; k -= 10) {
      const eps = hosts([...group(100, k, { priority: 0 }), ...group(100, 100, { priority: 1 })]);
      const lb = layered(random, {}, defaults, world(k).ports, soloEnvironment());
      lb.rebuild(eps);
      const n = 20_000;
      const p1 = share(lb, eps, n, (e) => e.priority === 1);
      const expected = 1 - Math.min(100, Math.floor((140 * k) / 100)) / 100;
      expect(Math.abs(p1 - expected)).toBeLessThanOrEqual(tol(expected, n));
    }
  });

  it('a level with no hosts between two others is skipped', () => {
    const eps = hosts([...group(4, 1, { priority: 0 }), ...group(4, 4, { priority: 2 })]);
    const lb = layered(random, {}, defaults, world().ports, soloEnvironment());
    lb.rebuild(eps);
    const n = 20_000;
    expect(Math.abs(share(lb, eps, n, (e) => e.priority === 2) - 0.65)).toBeLessThan(tol(0.65, n));
  });

  it('a panicking level balances over all its hosts; a healthy level beside it does not', () => {
    // P0 20% healthy (health 28), P1 50% (health 70): NTA 98 → P0 panics, P1 does not; loads 29/71.
    const eps = hosts([...group(10, 2, { priority: 0 }), ...group(10, 5, { priority: 1 })]);
    const { def, instances } = recordingDefinition();
    const lb = layered(def, {}, defaults, world(3).ports, soloEnvironment());
    lb.rebuild(eps);
    const allP0 = instances.find((r) => r.last.length === 10 && r.last.every((e) => e.priority === 0));
    expect(allP0).toBeDefined();
    expect(allP0!.last.every((e) => e.health === 'healthy')).toBe(true); // handed over marked healthy
    const n = 40_000;
    let unhealthyP0 = 0;
    let unhealthyP1 = 0;
    let p0 = 0;
    for (let k = 0; k < n; k++) {
      const e = eps[lb.pick({})];
      if (e.priority === 0) p0++;
      if (e.health === 'unhealthy' && e.priority === 0) unhealthyP0++;
      if (e.health === 'unhealthy' && e.priority !== 0) unhealthyP1++;
    }
    expect(Math.abs(p0 / n - 0.29)).toBeLessThan(tol(0.29, n));
    expect(Math.abs(unhealthyP0 / n - 0.29 * 0.8)).toBeLessThan(tol(0.232, n));
    expect(unhealthyP1).toBe(0);
  });

  it('a single panicking level picks its unhealthy hosts in proportion', () => {
    const eps = hosts(group(10, 3));
    const lb = layered(random, {}, defaults, world(4).ports, soloEnvironment());
    lb.rebuild(eps);
    const n = 20_000;
    expect(Math.abs(share(lb, eps, n, (e) => e.health === 'unhealthy') - 0.7)).toBeLessThan(tol(0.7, n));
  });

  it('with panic disabled (threshold 0) and nothing healthy, nothing is picked', () => {
    const lb = layered(random, {}, layerConfigSchema.parse({ panicThreshold: 0 }), world().ports, soloEnvironment());
    lb.rebuild(hosts(group(5, 0)));
    expect(lb.pick({})).toBe(-1);
  });

  it('degraded hosts take the load healthy ones cannot: 2 healthy + 8 degraded of 10 → 28% healthy', () => {
    const eps = hosts(group(10, 2, { rest: 'degraded' }));
    const lb = layered(random, {}, defaults, world(6).ports, soloEnvironment());
    lb.rebuild(eps);
    const n = 20_000;
    expect(Math.abs(share(lb, eps, n, (e) => e.health === 'healthy') - 0.28)).toBeLessThan(tol(0.28, n));
  });

  it('never picks an unhealthy endpoint outside a panicking level (random fleets and options)', () => {
    const hostArb = fc.record({
      priority: fc.integer({ min: 0, max: 2 }),
      zone: fc.constantFrom('a', 'b', 'c'),
      health: fc.constantFrom<Health>('healthy', 'healthy', 'degraded', 'unhealthy', 'unhealthy'),
      weight: fc.integer({ min: 1, max: 3 }),
      lw: fc.constantFrom(undefined, '0', '1', '3'),
    });
    const optsArb = fc.record({
      panicThreshold: fc.constantFrom(0, 0.3, 0.5, 0.9),
      mode: fc.constantFrom('none', 'locality', 'zone'),
      slow: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(hostArb, { maxLength: 30 }), optsArb, fc.integer({ min: 0, max: 100 }), (specs, o, seed) => {
        const eps = hosts(specs.map((s, i): HostSpec => ({ id: `e${i}`, priority: s.priority, zone: s.zone, health: s.health, weight: s.weight, metadata: s.lw === undefined ? {} : { localityWeight: s.lw } })));
        const layers = layerConfigSchema.parse({
          panicThreshold: o.panicThreshold,
          localityWeighted: o.mode === 'locality',
          zoneAware: o.mode === 'zone' ? { minClusterSize: 1 } : false,
          slowStart: o.slow ? { window: '10s' } : undefined,
        });
        const w = world(seed);
        const lb = layered(weightedDraw, {}, layers, w.ports, env('a', { a: 2, b: 1, c: 1 }));
        lb.rebuild(eps);
        const maxP = Math.max(-1, ...eps.map((e) => e.priority));
        const counts = Array.from({ length: maxP + 1 }, (_, p) => ({
          total: eps.filter((e) => e.priority === p).length,
          healthy: eps.filter((e) => e.priority === p && e.health === 'healthy').length,
          degraded: eps.filter((e) => e.priority === p && e.health === 'degraded').length,
        }));
        const state = priorityState(counts, 140, Math.round(o.panicThreshold * 100));
        for (let k = 0; k < 60; k++) {
          if (k === 30) w.engine.run(3000);
          const i = lb.pick({});
          if (i === -1) continue;
          expect(i).toBeLessThan(eps.length);
          if (eps[i].health === 'unhealthy') expect(state.panic[eps[i].priority]).toBe(true);
        }
      }),
      { seed: 99, numRuns: 300 },
    );
  });
});

describe('locality weighting', () => {
  it('X w1 50% healthy, Y w2 → 26% / 74% of picks', () => {
    const eps = hosts([...group(10, 5, { zone: 'x' }), ...group(10, 10, { zone: 'y', metadata: { localityWeight: '2' } })]);
    const lb = layered(random, {}, layerConfigSchema.parse({ localityWeighted: true }), world(8).ports, soloEnvironment('x'));
    lb.rebuild(eps);
    const n = 27_000; // whole EDF periods (7 X + 20 Y)
    const x = share(lb, eps, n, (e) => e.zone === 'x');
    expect(Math.abs(x * n - 7000)).toBeLessThanOrEqual(1);
    expect(Math.round(100 * x)).toBe(26);
    // Unhealthy hosts of X are not picked (no panic: X is 50% healthy, NTA 100).
    expect(share(lb, eps, 1000, (e) => e.health === 'unhealthy')).toBe(0);
  });
});

describe('zone-aware routing', () => {
  it('callers split equally over 2 zones, upstream 3:1: from the small zone half the traffic stays local', () => {
    const eps = hosts([...group(6, 6, { zone: 'a' }), ...group(2, 2, { zone: 'b' })]);
    const layers = layerConfigSchema.parse({ zoneAware: true });
    const n = 40_000;
    const fromB = layered(random, {}, layers, world(9).ports, env('b', { a: 5, b: 5 }));
    fromB.rebuild(eps);
    const local = share(fromB, eps, n, (e) => e.zone === 'b');
    expect(Math.abs(local - 0.5)).toBeLessThan(tol(0.5, n));
    const fromA = layered(random, {}, layers, world(10).ports, env('a', { a: 5, b: 5 }));
    fromA.rebuild(eps);
    expect(share(fromA, eps, 5000, (e) => e.zone === 'a')).toBe(1);
  });

  it("three zones (Envoy's example): 62.5% local, 25% and 12.5% to the zones with spare capacity", () => {
    const eps = hosts([...group(25, 25, { zone: 'x' }), ...group(50, 50, { zone: 'y' }), ...group(25, 25, { zone: 'z' })]);
    const lb = layered(random, {}, layerConfigSchema.parse({ zoneAware: true }), world(12).ports, env('x', { x: 40, y: 40, z: 20 }));
    lb.rebuild(eps);
    const n = 60_000;
    const counts: Record<string, number> = { x: 0, y: 0, z: 0 };
    for (let k = 0; k < n; k++) counts[eps[lb.pick({})].zone]++;
    for (const [zone, p] of [['x', 0.625], ['y', 0.25], ['z', 0.125]] as const) expect(Math.abs(counts[zone] / n - p)).toBeLessThan(tol(p, n));
  });

  it('is off below minClusterSize and when P0 panics', () => {
    const small = hosts([...group(3, 3, { zone: 'a' }), ...group(2, 2, { zone: 'b' })]);
    const lb = layered(random, {}, layerConfigSchema.parse({ zoneAware: true }), world(13).ports, env('a', { a: 1, b: 1 }));
    lb.rebuild(small); // 5 healthy < 6: plain random over all 5
    const n = 20_000;
    expect(Math.abs(share(lb, small, n, (e) => e.zone === 'a') - 0.6)).toBeLessThan(tol(0.6, n));

    // 2 of 12 healthy: P0 panics (16.7% < 50%, NTA 23), so no zone preference: half to each zone.
    const panicking = hosts([...group(6, 1, { zone: 'a' }), ...group(6, 1, { zone: 'b' })]);
    const p = layered(random, {}, layerConfigSchema.parse({ zoneAware: { minClusterSize: 1 } }), world(15).ports, env('a', { a: 1, b: 9 }));
    p.rebuild(panicking);
    expect(Math.abs(share(p, panicking, n, (e) => e.zone === 'a') - 0.5)).toBeLessThan(tol(0.5, n));
    // The same fleet healthy is zone-routed: local% a 1000 ≤ up% a 5000 → all local.
    const healthy = hosts([...group(6, 6, { zone: 'a' }), ...group(6, 6, { zone: 'b' })]);
    p.rebuild(healthy);
    expect(share(p, healthy, 2000, (e) => e.zone === 'a')).toBe(1);
  });

  it('only P0 is zone-routed', () => {
    const eps = hosts([...group(6, 1, { zone: 'a', priority: 0 }), ...group(6, 6, { zone: 'a', priority: 1, prefix: 'p1a' }), ...group(6, 6, { zone: 'b', priority: 1, prefix: 'p1b' })]);
    const lb = layered(random, {}, layerConfigSchema.parse({ zoneAware: { minClusterSize: 1 } }), world(14).ports, env('a', { a: 1, b: 1 }));
    lb.rebuild(eps);
    // P1 gets 77% (P0 health 23); inside P1 no zone preference: half to b.
    const n = 40_000;
    expect(Math.abs(share(lb, eps, n, (e) => e.zone === 'b') - 0.77 / 2)).toBeLessThan(tol(0.385, n));
  });
});

describe('slow start', () => {
  const layers = layerConfigSchema.parse({ slowStart: { window: '10s' } });

  /** Share of picks endpoint `id` gets over [from, to) ms, `perMs` picks per ms. */
  function shareOver(lb: ReturnType<typeof layered>, engine: Engine, eps: readonly Endpoint[], id: string, from: number, to: number, perMs = 4): number {
    let hit = 0;
    let all = 0;
    for (let t = from; t < to; t++) {
      engine.run(t);
      for (let k = 0; k < perMs; k++, all++) if (eps[lb.pick({})].id === id) hit++;
    }
    return hit / all;
  }

  it('a joining endpoint ramps from 10% to its full weight over the window (weight-aware inner)', () => {
    const { engine, ports } = world(21);
    const lb = layered(weightedDraw, {}, layers, ports, soloEnvironment());
    const old = hosts(group(9, 9, { prefix: 'old' }));
    lb.rebuild(old);
    engine.run(60_000);
    const eps = [...old, ...hosts([{ id: 'new' }])];
    lb.rebuild(eps);
    // Weights refresh every min(1 s, window/10) = 1 s: factor 0.1 during [60, 61) s, 0.5 during [65, 66) s.
    const n = 4000;
    const first = shareOver(lb, engine, eps, 'new', 60_000, 61_000);
    expect(Math.abs(first - 0.1 / 9.1)).toBeLessThan(tol(0.1 / 9.1, n));
    const mid = shareOver(lb, engine, eps, 'new', 65_000, 66_000);
    expect(Math.abs(mid - 0.5 / 9.5)).toBeLessThan(tol(0.5 / 9.5, n));
    const after = shareOver(lb, engine, eps, 'new', 71_000, 72_000);
    expect(Math.abs(after - 0.1)).toBeLessThan(tol(0.1, n));
  });

  it('refreshes the inner at most once per interval while an endpoint is in slow start, then stops', () => {
    const { def, instances } = recordingDefinition();
    const { engine, ports } = world(22);
    const lb = layered(def, {}, layers, ports, soloEnvironment());
    lb.rebuild(hosts(group(3, 3)));
    const inner = instances[0];
    const before = inner.rebuilds;
    for (let t = 0; t <= 30_000; t += 10) {
      engine.run(t);
      lb.pick({});
    }
    // Refreshes at 1 s, 2 s, …, 10 s (the last one restores full weights).
    expect(inner.rebuilds - before).toBe(10);
    expect(inner.last.every((e) => e.weight === 1)).toBe(true);
  });

  it('an endpoint back from an outlier ejection keeps its start time; one that passed its checks while ejected ramps from the pass', () => {
    const { engine, ports } = world(24);
    const lb = layered(weightedDraw, {}, layerConfigSchema.parse({ slowStart: { window: '30s' } }), ports, soloEnvironment());
    const base = hosts(group(4, 4));
    const with0 = (e: Partial<Endpoint>): Endpoint[] => base.map((b, i) => (i === 0 ? { ...b, ...e } : b));
    lb.rebuild(base);
    engine.run(100_000);
    lb.rebuild(with0({ health: 'unhealthy', healthWithoutEjection: 'healthy' })); // ejected only
    engine.run(130_000);
    lb.rebuild(base); // the ejection ends: no new ramp
    const n = 8000;
    const back = shareOver(lb, engine, base, base[0].id, 130_000, 131_000, 8);
    expect(Math.abs(back - 0.25)).toBeLessThan(tol(0.25, n));

    lb.rebuild(with0({ health: 'unhealthy' })); // fails its health checks
    engine.run(200_000);
    lb.rebuild(with0({ health: 'unhealthy', healthWithoutEjection: 'unhealthy' })); // and is ejected
    engine.run(210_000);
    lb.rebuild(with0({ health: 'unhealthy', healthWithoutEjection: 'healthy' })); // passes, still ejected
    engine.run(225_000);
    lb.rebuild(base); // back 15 s after the pass: factor 0.5
    const ramp = shareOver(lb, engine, base, base[0].id, 225_000, 226_000, 8);
    expect(Math.abs(ramp - 0.5 / 3.5)).toBeLessThan(tol(0.5 / 3.5, n));
  });

  it('all endpoints new at once: equal factors, so equal shares (as in Envoy)', () => {
    const { engine, ports } = world(23);
    const lb = layered(weightedDraw, {}, layers, ports, soloEnvironment());
    const eps = hosts(group(2, 2));
    lb.rebuild(eps);
    const n = 8000;
    const s = shareOver(lb, engine, eps, eps[0].id, 1, 2001);
    expect(Math.abs(s - 0.5)).toBeLessThan(tol(0.5, n));
  });
});

describe('onStart/onEnd forwarding', () => {
  it('reaches every inner instance whose host set holds the endpoint, with that instance’s index', () => {
    const { def, instances } = recordingDefinition();
    const eps = hosts([...group(6, 5, { zone: 'a', rest: 'degraded' }), ...group(6, 6, { zone: 'b' }), ...group(4, 4, { zone: 'a', priority: 1, prefix: 'p1' })]);
    const lb = layered(def, {}, layerConfigSchema.parse({ zoneAware: true }), world(30).ports, env('a', { a: 1, b: 1 }));
    lb.rebuild(eps);
    for (let i = 0; i < eps.length; i++) {
      lb.onStart(i);
      lb.onEnd(i, { kind: 'error', status: 503 }, 1);
    }
    for (const r of instances) {
      const ids = r.last.map((e) => e.id);
      expect(r.started.sort()).toEqual([...ids].sort());
      expect(r.ended.sort()).toEqual([...ids].sort());
    }
    // Each endpoint is in its level's healthy (or degraded) set, and P0 ones also in their zone's set.
    const seen = new Map<string, number>();
    for (const r of instances) for (const id of r.started) seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const e of eps) expect(seen.get(e.id)).toBe(e.priority === 0 ? 2 : 1);
  });
});

describe('host sets not in use keep hearing their members (Envoy: one rq_active per host, read by every scheduler)', () => {
  const OK = { kind: 'success', status: 200 } as const;
  const healths = (...h: Health[]): Endpoint[] => hosts(h.map((health) => ({ health })));

  /** Picks per endpoint over `n` picks (nothing started, so the load state stays as it is). */
  function picks(lb: { pick(c: object): number }, size: number, n: number, ctx: object = {}): number[] {
    const c = new Array<number>(size).fill(0);
    for (let k = 0; k < n; k++) c[lb.pick(ctx)]++;
    return c;
  }

  it('least request: attempts that end while their level panics are gone from its healthy hosts afterwards', () => {
    const lb = createBalancer(resolveBalancerOptions({ kind: 'least-request' }), world(41).ports);
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    for (let k = 0; k < 5; k++) lb.onStart(0);
    lb.rebuild(healths('healthy', 'unhealthy', 'unhealthy', 'unhealthy')); // 25% healthy: panic, all hosts
    for (let k = 0; k < 5; k++) lb.onEnd(0, OK, 10);
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy')); // nothing in flight anywhere
    const n = 10_000;
    for (const c of picks(lb, 4, n)) expect(Math.abs(c / n - 0.25)).toBeLessThan(tol(0.25, n));
  });

  it('least request: attempts that start while the level panics count when it recovers', () => {
    const lb = createBalancer(resolveBalancerOptions({ kind: 'least-request' }), world(42).ports);
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    lb.rebuild(healths('healthy', 'unhealthy', 'unhealthy', 'unhealthy'));
    for (let k = 0; k < 5; k++) lb.onStart(0); // still in flight after the recovery
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    // e0 has 5 in flight, the others none: of two draws with replacement e0 wins only e0,e0.
    const n = 10_000;
    expect(Math.abs(picks(lb, 4, n)[0] / n - 1 / 16)).toBeLessThan(tol(1 / 16, n));
  });

  it('least request + zone-aware: the zones’ host sets hear the attempts that end while routing is off', () => {
    const env2 = env('a', { a: 1, b: 1 });
    const lb = createBalancer(resolveBalancerOptions({ kind: 'least-request', zoneAware: true }), world(43).ports, env2);
    const six = (h5: Health): Endpoint[] => hosts([...group(3, 3, { zone: 'a' }), ...group(3, 2, { zone: 'b', rest: h5 })]);
    lb.rebuild(six('healthy'));
    for (let k = 0; k < 5; k++) lb.onStart(0);
    lb.rebuild(six('unhealthy')); // 5 healthy < minClusterSize 6: zone-aware routing off
    for (let k = 0; k < 5; k++) lb.onEnd(0, OK, 10);
    lb.rebuild(six('healthy')); // on again: all local (zone a), nothing in flight
    const n = 9000;
    const c = picks(lb, 6, n);
    for (let i = 0; i < 3; i++) expect(Math.abs(c[i] / n - 1 / 3)).toBeLessThan(tol(1 / 3, n));
  });

  it('p2c + peak EWMA: pending counts survive a panic episode the same way', () => {
    const lb = createBalancer(resolveBalancerOptions({ kind: 'p2c-peak-ewma', panicThreshold: '50%' }), world(44).ports);
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    for (let k = 0; k < 5; k++) lb.onStart(0);
    lb.rebuild(healths('healthy', 'unhealthy', 'unhealthy', 'unhealthy'));
    for (let k = 0; k < 5; k++) lb.onEnd(0, OK, 30); // the 30 ms prior: estimates stay equal
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    const n = 12_000;
    for (const c of picks(lb, 4, n)) expect(Math.abs(c / n - 0.25)).toBeLessThan(tol(0.25, n));
  });

  it('ring hash with bounded load: a key goes back to its owner once the attempts that overloaded it end', () => {
    const lb = createBalancer(resolveBalancerOptions({ kind: 'ring-hash', hashBalanceFactor: 150 }), world(45).ports);
    const ctx = { hashKey: 12345 };
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    const owner = lb.pick(ctx);
    for (let k = 0; k < 5; k++) lb.onStart(owner);
    expect(lb.pick(ctx)).not.toBe(owner); // 5 active > ⌈⌈6·1.5⌉·¼⌉ = 3 slots: overloaded
    const panicking = healths('unhealthy', 'unhealthy', 'unhealthy', 'unhealthy').map((e, i) => (i === owner ? { ...e, health: 'healthy' as const } : e));
    lb.rebuild(panicking);
    for (let k = 0; k < 5; k++) lb.onEnd(owner, OK, 10);
    lb.rebuild(healths('healthy', 'healthy', 'healthy', 'healthy'));
    expect(lb.pick(ctx)).toBe(owner);
  });

  it('after any sequence of rebuilds (health, membership, order, the same array reused) and attempts, every host set counts 0 in flight once all have ended', () => {
    const N = 8;
    const hostArb = fc.record({ priority: fc.integer({ min: 0, max: 1 }), zone: fc.constantFrom('a', 'b', 'c') });
    const opArb = fc.oneof(
      fc.record({
        t: fc.constant('rebuild' as const),
        health: fc.array(fc.constantFrom<Health>('healthy', 'healthy', 'degraded', 'unhealthy', 'unhealthy'), { minLength: N, maxLength: N }),
        present: fc.array(fc.boolean(), { minLength: N, maxLength: N }),
        reverse: fc.boolean(),
        inPlace: fc.boolean(),
      }),
      fc.record({ t: fc.constant('start' as const), k: fc.nat() }),
      fc.record({ t: fc.constant('end' as const), k: fc.nat() }),
      fc.record({ t: fc.constant('pick' as const), dt: fc.integer({ min: 0, max: 3000 }) }),
    );
    const optsArb = fc.record({
      panicThreshold: fc.constantFrom(0, 0.5, 0.9),
      mode: fc.constantFrom('none', 'locality', 'zone'),
      slow: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(hostArb, { minLength: N, maxLength: N }), fc.array(opArb, { maxLength: 40 }), optsArb, fc.integer({ min: 0, max: 100 }), (specs, ops, o, seed) => {
        const layers = layerConfigSchema.parse({
          panicThreshold: o.panicThreshold,
          localityWeighted: o.mode === 'locality',
          zoneAware: o.mode === 'zone' ? { minClusterSize: 2 } : false,
          slowStart: o.slow ? { window: '5s' } : undefined,
        });
        const { def, instances } = countingDefinition();
        const w = world(seed);
        const lb = layered(def, {}, layers, w.ports, env('a', { a: 2, b: 1, c: 1 }));
        const all = (health: readonly Health[]): Endpoint[] =>
          hosts(specs.map((s, i): HostSpec => ({ id: `e${i}`, priority: s.priority, zone: s.zone, health: health[i] })));
        let current = all(new Array<Health>(N).fill('healthy'));
        lb.rebuild(current);
        const inFlight: string[] = [];
        const end = (k: number): void => {
          const [id] = inFlight.splice(k % inFlight.length, 1);
          const i = current.findIndex((e) => e.id === id);
          if (i >= 0) lb.onEnd(i, OK, 1); // an attempt whose endpoint left is not reported (as in the simulator)
        };
        for (const op of ops) {
          if (op.t === 'rebuild') {
            const next = all(op.health).filter((_, i) => op.present[i]);
            if (op.reverse) next.reverse();
            if (op.inPlace) current.splice(0, current.length, ...next); // the caller reuses its array
            else current = next;
            lb.rebuild(current);
          } else if (op.t === 'start') {
            if (current.length === 0) continue;
            const i = op.k % current.length;
            lb.onStart(i);
            inFlight.push(current[i].id);
          } else if (op.t === 'end') {
            if (inFlight.length > 0) end(op.k);
          } else {
            w.engine.run(w.engine.now() + op.dt);
            lb.pick({});
          }
        }
        while (inFlight.length > 0) end(0);
        for (const inner of instances) for (const [id, n] of inner.counts()) expect(n, id).toBe(0);
      }),
      { seed: 7, numRuns: 400 },
    );
  });
});
