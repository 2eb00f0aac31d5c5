/**
 * The public API (src/index.ts) is enough to write a balancer of your own and property-test
 * it in CI, as docs/writing-a-policy.md shows: everything below imports only what a user of
 * the package imports (`from 'meshsim'` outside this repository). The policy is the guide's
 * example plugin, examples/plugin/fewest-active.mjs: `choices` random healthy endpoints (3
 * here), the one with the fewest requests in flight wins. It reads the world only through
 * its ports, so the tests drive it in virtual time (an Engine as Clock and Timers) with a
 * seeded stream.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FewestActive } from '../examples/plugin/fewest-active.mjs';
import { createBalancer, Engine, resolveBalancerOptions, rngStream, type Balancer, type Endpoint, type Health, type Outcome, type Ports, type Rng } from '../src/index.js';

const OK: Outcome = { kind: 'success', status: 200 };

function endpoints(health: readonly Health[]): Endpoint[] {
  return health.map((h, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, zone: 'a', weight: 1, health: h, priority: 0, metadata: {} }));
}

/** An Rng that records its draws: a test can see which candidates a pick looked at. */
function recording(inner: Rng): { rng: Rng; draws: number[] } {
  const draws: number[] = [];
  return { rng: { next: () => draws[draws.push(inner.next()) - 1] }, draws };
}

/**
 * Virtual-time load: one request every `gapMs`, each answered after its endpoint's latency
 * (a Timers callback), `requests` in all. Returns the endpoint of every pick.
 */
function drive(b: Balancer, engine: Engine, latencyMs: (endpoint: number) => number, requests: number, gapMs: number): number[] {
  const picks: number[] = [];
  for (let r = 0; r < requests; r++) {
    engine.run(engine.now() + gapMs);
    const e = b.pick({});
    picks.push(e);
    if (e < 0) continue;
    b.onStart(e);
    const latency = latencyMs(e);
    engine.schedule(latency, () => b.onEnd(e, OK, latency));
  }
  engine.run();
  return picks;
}

function engine(): Engine {
  const e = new Engine();
  e.setModel({ handle() {} });
  return e;
}

const healthArrays = fc.array(fc.constantFrom<Health>('healthy', 'degraded', 'unhealthy'), { minLength: 1, maxLength: 20 });

describe('a balancer of your own, property-tested through the public API', () => {
  it('never picks an unhealthy endpoint, and answers -1 exactly when none is left', () => {
    fc.assert(
      fc.property(healthArrays, fc.nat(10_000), (health, seed) => {
        const b = new FewestActive(rngStream(seed, 'example'), 3);
        b.rebuild(endpoints(health));
        const anyUp = health.some((h) => h !== 'unhealthy');
        for (const e of drive(b, engine(), () => 5, 50, 1)) {
          if (anyUp) expect(health[e]).not.toBe('unhealthy');
          else expect(e).toBe(-1);
        }
      }),
    );
  });

  it('picks the least active of the three candidates it drew (seen through its Rng)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.nat(10_000), fc.array(fc.nat(4), { minLength: 12, maxLength: 12 }), (n, seed, inFlight) => {
        const { rng, draws } = recording(rngStream(seed, 'example'));
        const b = new FewestActive(rng, 3);
        b.rebuild(endpoints(new Array<Health>(n).fill('healthy')));
        for (let i = 0; i < n; i++) for (let k = 0; k < inFlight[i]; k++) b.onStart(i);
        draws.length = 0;
        const picked = b.pick();
        const candidates = draws.map((u) => Math.floor(u * n));
        expect(candidates).toHaveLength(3);
        expect(candidates).toContain(picked);
        for (const c of candidates) expect(inFlight[picked]).toBeLessThanOrEqual(inFlight[c]);
      }),
    );
  });

  it('keeps the requests in flight of each endpoint across a rebuild that reorders and drops endpoints (state follows the id)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10 }), fc.nat(10_000), fc.array(fc.nat(4), { minLength: 10, maxLength: 10 }), (n, seed, inFlight) => {
        const { rng, draws } = recording(rngStream(seed, 'example'));
        const b = new FewestActive(rng, 3);
        const before = endpoints(new Array<Health>(n).fill('healthy'));
        b.rebuild(before);
        for (let i = 0; i < n; i++) for (let k = 0; k < inFlight[i]; k++) b.onStart(i);
        // The same endpoints reversed, without the first: new index j is old index n - 1 - j.
        const after = [...before].reverse().slice(0, n - 1);
        b.rebuild(after);
        draws.length = 0;
        const picked = b.pick();
        const was = (j: number): number => inFlight[n - 1 - j];
        for (const c of draws.map((u) => Math.floor(u * after.length))) expect(was(picked)).toBeLessThanOrEqual(was(c));
      }),
    );
  });

  it('is deterministic for a seed: same seed, same picks', () => {
    fc.assert(
      fc.property(healthArrays, fc.nat(10_000), (health, seed) => {
        const run = (): number[] => {
          const b = new FewestActive(rngStream(seed, 'example'), 3);
          b.rebuild(endpoints(health));
          return drive(b, engine(), (e) => 1 + (e % 4), 200, 0.5);
        };
        expect(run()).toEqual(run());
      }),
    );
  });

  it('beside the built-in policies in one harness: one endpoint 10× slower gets far less than its 1/n, as with p2c; round robin gives it exactly 1/n', () => {
    const n = 5;
    const slow = 2;
    // 1 request per ms against 5 endpoints of 10 ms (one of 100 ms): each fast one is
    // ~40% busy. A load-aware policy starves the slow one; round robin cannot.
    const latency = (e: number): number => (e === slow ? 100 : 10);
    // Every policy gets the same harness: a fresh Engine as its Clock and Timers, and a
    // stream of its own; a built-in one comes from the registry as scenario files name it.
    const share = (make: (ports: Ports) => Balancer, purpose: string): number => {
      const clock = engine();
      const b = make({ clock, timers: clock, rng: rngStream(7, purpose) });
      b.rebuild(endpoints(new Array<Health>(n).fill('healthy')));
      const picks = drive(b, clock, latency, 10_000, 1);
      return picks.filter((e) => e === slow).length / picks.length;
    };
    const mine = share((ports) => new FewestActive(ports.rng, 3), 'example');
    const p2c = share((ports) => createBalancer(resolveBalancerOptions({ kind: 'p2c' }), ports), 'p2c');
    const roundRobin = share((ports) => createBalancer(resolveBalancerOptions({ kind: 'round-robin' }), ports), 'round-robin');
    expect(roundRobin).toBe(1 / n);
    expect(p2c).toBeLessThan(0.5 / n);
    expect(mine).toBeLessThan(0.5 / n);
  });
});
