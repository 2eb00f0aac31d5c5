/**
 * `meshsim/testing` (src/testing.ts): the balancer contract suite passes on every policy
 * meshsim registers and on the guide's example plugin, and fails, naming the policy, the
 * property and why, on policies broken in each way it guards against; the real clock,
 * timers and Math.random are back in place afterwards.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import example from '../examples/plugin/fewest-active.mjs';
import { balancerKinds, balancers, pluginKinds, registerBalancer } from '../src/algorithms/registry.js';
import type { Balancer, BalancerDefinition, Endpoint } from '../src/algorithms/types.js';
import type { Ports } from '../src/core/ports.js';
import { BalancerCheckError, checkBalancer } from '../src/testing.js';
import { z } from 'zod';

/** A healthy-only random policy, with `tweak` changing one of its methods to break it. */
function policy(kind: string, tweak: Partial<Record<keyof Balancer, (self: RandomHealthy, ...args: never[]) => unknown>> = {}): BalancerDefinition<{ readonly [k: string]: never }> {
  return {
    kind,
    family: 'balancing',
    summary: 'a random healthy endpoint',
    follows: 'none: a test policy',
    config: z.strictObject({}),
    create: (_config: unknown, ports: Ports) => new RandomHealthy(ports, tweak),
  };
}

class RandomHealthy implements Balancer {
  endpoints: readonly Endpoint[] = [];
  healthy: number[] = [];
  constructor(
    readonly ports: Ports,
    private readonly tweak: Partial<Record<keyof Balancer, (self: RandomHealthy, ...args: never[]) => unknown>>,
  ) {}
  rebuild(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.healthy = endpoints.flatMap((e, i) => (e.health === 'unhealthy' ? [] : [i]));
    this.tweak.rebuild?.(this);
  }
  pick(): number {
    const bent = this.tweak.pick?.(this);
    if (typeof bent === 'number') return bent;
    return this.healthy.length === 0 ? -1 : this.healthy[Math.floor(this.ports.rng.next() * this.healthy.length)];
  }
  onStart(): void {
    this.tweak.onStart?.(this);
  }
  onEnd(index: number): void {
    this.tweak.onEnd?.(this, index as never);
  }
}

const failure = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BalancerCheckError);
    return (e as Error).message;
  }
  throw new Error('the check passed');
};

describe('checkBalancer', () => {
  it.each(balancerKinds().filter((k) => !pluginKinds().includes(k)))('meshsim’s own %s keeps the contract', (kind) => {
    expect(checkBalancer(kind, { runs: 25 })).toEqual({ kind, properties: ['options', 'valid picks', 'nothing to pick', 'deterministic', 'world-agnostic'], runs: 25 });
  });

  it('the guide’s example plugin keeps it, with its default options and with others', () => {
    expect(checkBalancer(example).kind).toBe('fewest-active');
    expect(checkBalancer('fewest-active', { options: { choices: 1 }, runs: 20 }).properties).toHaveLength(5);
  });

  it('a policy that reaches for the real world fails, naming the call and the port to use', () => {
    expect(failure(() => checkBalancer(policy('uses-math-random', { pick: (b) => b.healthy[Math.floor(Math.random() * b.healthy.length)] ?? -1 }))))
      .toMatch(/^uses-math-random: valid picks: Property failed after 1 tests[\s\S]*the policy called Math\.random\(\); draw from ports\.rng\.next\(\)/);
    expect(failure(() => checkBalancer(policy('uses-date-now', { onStart: () => Date.now() })))).toMatch(/the policy called Date\.now\(\); read time from ports\.clock\.now\(\)/);
    expect(failure(() => checkBalancer(policy('uses-new-date', { onEnd: () => new Date() })))).toMatch(/the policy called new Date\(\)/);
    expect(failure(() => checkBalancer(policy('uses-performance', { rebuild: () => performance.now() })))).toMatch(/the policy called performance\.now\(\)/);
    expect(failure(() => checkBalancer(policy('uses-set-timeout', { rebuild: () => setTimeout(() => undefined, 10) })))).toMatch(/the policy called setTimeout\(\); schedule through ports\.timers\.schedule\(\)/);
    expect(failure(() => checkBalancer(policy('uses-hrtime', { onStart: () => process.hrtime.bigint() })))).toMatch(/the policy called process\.hrtime\.bigint\(\)/);
    // And the world is back as it was.
    expect(Math.random()).toBeLessThan(1);
    expect(Date.now()).toBeGreaterThan(0);
    expect(new Date(0).getTime()).toBe(0);
    expect(performance.now()).toBeGreaterThan(0);
    clearTimeout(setTimeout(() => undefined, 1));
    expect(typeof process.hrtime.bigint()).toBe('bigint');
  });

  it('a policy that picks wrongly fails, with the shrunk endpoint set that shows it', () => {
    const unhealthy = failure(() => checkBalancer(policy('picks-unhealthy', { pick: (b) => (b.endpoints.some((e) => e.health === 'unhealthy') ? b.endpoints.findIndex((e) => e.health === 'unhealthy') : undefined) })));
    expect(unhealthy).toMatch(/^picks-unhealthy: valid picks: [\s\S]*Counterexample: [\s\S]*picked endpoint \d+ \(ep-\d+\), which is unhealthy, while more than half are healthy/);
    // A plugin's pick past the end is caught where meshsim creates its balancer (registry.ts CheckedBalancer), as in a run.
    expect(failure(() => checkBalancer(policy('picks-past-the-end', { pick: (b) => b.endpoints.length })))).toMatch(
      /valid picks: [\s\S]*BalancerContractError: balancer "picks-past-the-end" \(a plugin\) broke its contract: pick\(\) returned 1; expected the index of one of the 1 endpoint\(s\)/,
    );
    expect(failure(() => checkBalancer(policy('gives-up', { pick: () => -1 })))).toMatch(/valid picks: [\s\S]*picked -1 while more than half of the endpoints are healthy/);
    expect(failure(() => checkBalancer(policy('picks-from-nothing', { pick: (b) => (b.endpoints.length === 0 ? 0 : undefined) })))).toMatch(
      /nothing to pick: [\s\S]*BalancerContractError: balancer "picks-from-nothing" \(a plugin\) broke its contract: pick\(\) returned 0; expected -1: its last rebuild\(\) gave it no endpoints/,
    );
    // All unhealthy, no panic threshold: nothing to pick.
    const all = (b: RandomHealthy): number => (b.healthy.length === 0 ? (b.endpoints.length > 0 ? 0 : -1) : b.healthy[0]);
    expect(failure(() => checkBalancer(policy('ignores-health', { pick: all })))).toMatch(/nothing to pick: [\s\S]*picked 0 with every endpoint unhealthy and no panic threshold/);
    // With a panic threshold set, picking among unhealthy hosts is what Envoy does: not a failure.
    expect(checkBalancer('ignores-health', { options: { panicThreshold: '50%' }, runs: 20 }).properties).toContain('nothing to pick');
  });

  it('a policy with state outside its ports is caught by determinism; one that keeps stale indices by the rebuild', () => {
    let shared = 0;
    expect(failure(() => checkBalancer(policy('module-state', { pick: (b) => (b.healthy.length === 0 ? -1 : b.healthy[shared++ % b.healthy.length]) }))))
      .toMatch(/^module-state: deterministic: [\s\S]*the same seed gave different picks: pick \d+ was \d+ in one run and \d+ in the other/);
    // Counts kept by index and never remapped on rebuild: onEnd of a shrunk set reads past the end.
    const counts: number[] = [];
    const stale = policy('stale-index', {
      rebuild: (b) => {
        if (counts.length === 0) for (let i = 0; i < b.endpoints.length; i++) counts.push(0);
      },
      onEnd: (_b, index: never) => {
        if (counts[index] === undefined) throw new RangeError(`no count for endpoint ${String(index)}`);
      },
    });
    expect(failure(() => checkBalancer(stale))).toMatch(/^stale-index: valid picks: [\s\S]*no count for endpoint \d+/);
  });

  it('checks a broken copy, then the fixed definition under the same kind, in one process', () => {
    // As the guide suggests: make the test fail once on purpose, then fix the policy. The
    // kind checkBalancer registered for the broken copy is not "taken" for the fixed one.
    const broken = policy('fixed-later', { pick: () => -1 });
    expect(failure(() => checkBalancer(broken))).toMatch(/^fixed-later: valid picks: /);
    const fixed = policy('fixed-later');
    expect(checkBalancer(fixed, { runs: 20 }).properties).toHaveLength(5);
    expect(balancers.get('fixed-later')).toBe(fixed);
    // The kind now names the fixed one, and checking the broken copy again still fails.
    expect(checkBalancer('fixed-later', { runs: 20 }).kind).toBe('fixed-later');
    expect(failure(() => checkBalancer(broken))).toMatch(/^fixed-later: valid picks: /);
    expect(checkBalancer(fixed, { runs: 20 }).properties).toHaveLength(5);
  });

  it('a kind registered otherwise stays taken: a plugin\'s, or one of meshsim\'s own', () => {
    registerBalancer(policy('registered-elsewhere'));
    expect(() => checkBalancer(policy('registered-elsewhere'))).toThrow(/not a balancer definition: registered-elsewhere: the kind is taken by another plugin/);
    expect(() => checkBalancer(policy('round-robin'))).toThrow(/the kind is taken by one of meshsim's own balancers/);
    // A bad definition replaces nothing.
    checkBalancer(policy('kept-on-error'), { runs: 5 });
    const kept = balancers.get('kept-on-error');
    expect(() => checkBalancer({ ...policy('kept-on-error'), summary: '' })).toThrow(/kept-on-error: summary must be a non-empty string/);
    expect(balancers.get('kept-on-error')).toBe(kept);
  });

  it('options that do not resolve, and an unknown kind, are errors naming the policy', () => {
    expect(failure(() => checkBalancer('fewest-active', { options: { choices: 0 } }))).toMatch(/^fewest-active: options: choices: Too small: expected number to be >=1$/);
    expect(failure(() => checkBalancer('no-such-policy'))).toBe('no-such-policy: no such balancer kind (register its definition, or pass the definition itself)');
  });
});

describe('the package', () => {
  it('exports meshsim/testing from the compiled src/testing.ts, beside the main entry', () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
      dependencies: Record<string, string>;
    };
    expect(pkg.exports['./testing']).toEqual({ types: './dist/testing.d.ts', default: './dist/testing.js' });
    for (const entry of Object.values(pkg.exports)) expect(existsSync(resolve(__dirname, '..', entry.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')))).toBe(true);
    // It imports fast-check at run time, so users get it with meshsim.
    expect(pkg.dependencies['fast-check']).toBeDefined();
  });
});
