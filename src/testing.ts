/**
 * `meshsim/testing`: the contract every balancer must keep, as a property-test suite a
 * policy's author runs in CI (docs/writing-a-policy.md). `checkBalancer(definition)` builds
 * the policy as a scenario file would get it (options resolved, inside Envoy's layers, a
 * seeded stream, an Engine as Clock and Timers) and checks, on endpoint sets fast-check
 * generates:
 *
 * - `options`: its options resolve (the defaults, or the `options` given);
 * - `valid picks`: a pick is an index of the last rebuild's endpoints, never an unhealthy
 *   one while more than half are healthy, with or without a hash key, through rebuilds
 *   that reorder, drop and add endpoints while attempts are in flight (an attempt whose
 *   endpoint left gets no `onEnd`, as in the simulator);
 * - `nothing to pick`: -1 for an empty set, and for an all-unhealthy one unless a panic
 *   threshold applies (Envoy's kinds, or `panicThreshold` set);
 * - `deterministic`: the same seed gives the same picks;
 * - `world-agnostic`: no call into the policy (creation, rebuild, pick, onStart, onEnd,
 *   its timers) reads the real clock, sets a real timer or calls `Math.random`: those are
 *   made to throw while it runs, naming the port to use instead.
 *
 * Each failure throws a {@link BalancerCheckError} naming the policy, the property and
 * fast-check's shrunk counterexample with the seed that replays it. The suite is the one
 * meshsim's own balancers pass (test/testing.test.ts runs it on every registered kind).
 */
import fc from 'fast-check';
import type { z } from 'zod';
import { balancers, createBalancer, ENVOY_KINDS, registerBalancer, replaceBalancer, resolveBalancerOptions } from './algorithms/registry.js';
import { soloEnvironment, type Balancer, type BalancerDefinition, type Endpoint, type Health, type Outcome } from './algorithms/types.js';
import { rngStream } from './core/rng.js';
import { hashKey } from './core/xxhash64.js';
import { Engine } from './sim/engine.js';

/**
 * The definitions {@link checkBalancer} registered, by kind: a later definition of the same
 * kind replaces one of these (a test checks a broken copy of its policy, then the fixed
 * one), where a kind registered otherwise (a plugin, `registerBalancer`) stays taken.
 */
const registeredByCheck = new Map<string, unknown>();

/** What {@link checkBalancer} takes besides the policy. */
export interface BalancerCheckOptions {
  /** The options written next to `kind` in a scenario file (default: none, so every option's default). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Generated cases per property (default 50). */
  readonly runs?: number;
  /** fast-check's seed (default 1, so CI runs are repeatable; a failure prints the seed to replay). */
  readonly seed?: number;
}

/** What passed: the policy and the properties checked, in order. */
export interface BalancerCheckReport {
  readonly kind: string;
  readonly properties: readonly string[];
  readonly runs: number;
}

/** A broken contract: the message names the policy, the property and the counterexample. */
export class BalancerCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BalancerCheckError';
  }
}

/** Thrown by the traps of {@link worldAgnostic}: the policy reached for the real world. */
class WorldAccessError extends Error {
  constructor(what: string, instead: string) {
    super(`the policy called ${what}; ${instead} (algorithms are world-agnostic: the same object runs in virtual time in the simulator)`);
    this.name = 'WorldAccessError';
  }
}

/** Runs `fn` with the real clock, timers and Math.random made to throw, and puts them back. */
function worldAgnostic<T>(fn: () => T): T {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = {
    random: Math.random,
    Date: g.Date,
    performance: g.performance,
    setTimeout: g.setTimeout,
    setInterval: g.setInterval,
    setImmediate: g.setImmediate,
    hrtime: process.hrtime,
  };
  const trap = (what: string, instead: string) => (): never => {
    throw new WorldAccessError(what, instead);
  };
  const clock = 'read time from ports.clock.now()';
  const timers = 'schedule through ports.timers.schedule()';
  Math.random = trap('Math.random()', 'draw from ports.rng.next()');
  const RealDate = saved.Date as DateConstructor;
  const date = new Proxy(RealDate, { construct: trap('new Date()', clock), apply: trap('Date()', clock), get: (t, k) => (k === 'now' ? trap('Date.now()', clock) : Reflect.get(t, k)) });
  g.Date = date;
  g.performance = new Proxy(saved.performance as object, { get: (t, k) => (k === 'now' ? trap('performance.now()', clock) : Reflect.get(t, k)) });
  g.setTimeout = trap('setTimeout()', timers);
  g.setInterval = trap('setInterval()', timers);
  g.setImmediate = trap('setImmediate()', timers);
  process.hrtime = Object.assign(trap('process.hrtime()', clock), { bigint: trap('process.hrtime.bigint()', clock) }) as unknown as NodeJS.HRTime;
  try {
    return fn();
  } finally {
    Math.random = saved.random;
    g.Date = saved.Date;
    g.performance = saved.performance;
    g.setTimeout = saved.setTimeout;
    g.setInterval = saved.setInterval;
    g.setImmediate = saved.setImmediate;
    process.hrtime = saved.hrtime;
  }
}

const OK: Outcome = { kind: 'success', status: 200, utilization: 0.5 };
const FAILED: Outcome = { kind: 'error', status: 503, utilization: 0.9 };

/** One endpoint set of a case: health and weight per endpoint, ids drawn from a pool so rebuilds keep, drop and add endpoints. */
interface EndpointSet {
  readonly ids: readonly number[];
  readonly health: readonly Health[];
  readonly weights: readonly number[];
}

function endpointsOf(set: EndpointSet): Endpoint[] {
  return set.ids.map((id, i) => ({ id: `ep-${id}`, address: `10.0.${id >> 8}.${id & 255}:8080`, zone: 'a', weight: set.weights[i], health: set.health[i], priority: 0, metadata: {} }));
}

const healthyMajority = (health: readonly Health[]): boolean => health.filter((h) => h === 'healthy').length * 2 > health.length;

/** An endpoint set of 1..maxSize endpoints of distinct ids from 0..63. */
const endpointSet = (maxSize: number): fc.Arbitrary<EndpointSet> =>
  fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: maxSize }).chain((ids) =>
    fc.record({
      ids: fc.constant(ids),
      health: fc.array(fc.constantFrom<Health>('healthy', 'healthy', 'degraded', 'unhealthy'), { minLength: ids.length, maxLength: ids.length }),
      weights: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: ids.length, maxLength: ids.length }),
    }),
  );

/**
 * The policy under test, driven as the simulator drives it: every call inside
 * {@link worldAgnostic}, attempts in flight tracked by endpoint id so that a rebuild maps
 * them to the new indices (and forgets those whose endpoint left), one ms of virtual time
 * per pick so its timers run.
 */
class Harness {
  private readonly engine = new Engine();
  private readonly balancer: Balancer;
  private endpoints: Endpoint[] = [];
  /** Endpoint ids of the attempts in flight, oldest first. */
  private readonly open: string[] = [];

  constructor(spec: { readonly kind: string; readonly [k: string]: unknown }, seed: number) {
    this.engine.setModel({ handle() {} });
    const ports = { clock: this.engine, timers: this.engine, rng: rngStream(seed, `check/${spec.kind}`) };
    // Every endpoint at one priority level, as the simulator says when it knows: a policy
    // outside Envoy's kinds then runs bare, not behind the priority layer that would answer
    // an empty set for it.
    this.balancer = worldAgnostic(() => createBalancer(spec, ports, { ...soloEnvironment('a'), priorityLevels: 1 }));
  }

  rebuild(endpoints: Endpoint[]): void {
    this.endpoints = endpoints;
    worldAgnostic(() => this.balancer.rebuild(endpoints));
  }

  /** `picks` picks, each attempt ending (alternately well and badly) once `depth` newer ones are out. */
  drive(picks: number, keyed: boolean, depth = 3): number[] {
    const out: number[] = [];
    for (let i = 0; i < picks; i++) {
      worldAgnostic(() => this.engine.run(this.engine.now() + 1));
      const ep = worldAgnostic(() => this.balancer.pick(keyed ? { hashKey: hashKey(String(i % 97)), attempt: 0 } : {}));
      out.push(ep);
      if (Number.isInteger(ep) && ep >= 0 && ep < this.endpoints.length) {
        worldAgnostic(() => this.balancer.onStart(ep));
        this.open.push(this.endpoints[ep].id);
      }
      if (this.open.length > depth) this.end(i);
    }
    return out;
  }

  /** Ends the oldest attempt in flight, if its endpoint is still in the set (else, as the simulator does, says nothing). */
  private end(i: number): void {
    const id = this.open.shift() as string;
    const index = this.endpoints.findIndex((e) => e.id === id);
    if (index >= 0) worldAgnostic(() => this.balancer.onEnd(index, i % 7 === 0 ? FAILED : OK, 1 + (i % 5)));
  }
}

/** Why a pick is not a valid pick of `endpoints` (or undefined when it is). */
function invalidPick(ep: number, endpoints: readonly Endpoint[], mustPick: boolean): string | undefined {
  if (!Number.isInteger(ep) || ep < -1 || ep >= endpoints.length) return `picked ${ep}, not an index of the ${endpoints.length} endpoints (nor -1)`;
  if (ep === -1) return mustPick ? 'picked -1 while more than half of the endpoints are healthy' : undefined;
  if (mustPick && endpoints[ep].health === 'unhealthy') return `picked endpoint ${ep} (${endpoints[ep].id}), which is unhealthy, while more than half are healthy`;
  return undefined;
}

/**
 * Checks the balancer contract on `policy`: a definition (registered first, as `--plugin`
 * does, if its kind is not yet; in place of the definition an earlier checkBalancer
 * registered under its kind, if any) or the kind of a registered one. Throws a
 * {@link BalancerCheckError} at the first property that fails; returns what passed.
 *
 * ```ts
 * import { checkBalancer } from 'meshsim/testing';
 * import myPolicy from './my-policy.mjs';
 * it('keeps the balancer contract', () => { checkBalancer(myPolicy); });
 * ```
 */
export function checkBalancer<Config>(policy: BalancerDefinition<Config> | string, options: BalancerCheckOptions = {}): BalancerCheckReport {
  if (typeof policy !== 'string') register(policy);
  const kind = typeof policy === 'string' ? policy : policy.kind;
  if (!balancers.has(kind)) throw new BalancerCheckError(`${kind}: no such balancer kind (register its definition, or pass the definition itself)`);
  const runs = options.runs ?? 50;
  const params = { numRuns: runs, seed: options.seed ?? 1, includeErrorInReport: true };
  const properties: string[] = [];
  const check = (name: string, run: () => void): void => {
    try {
      run();
    } catch (e) {
      // A zod error's issues, from whichever copy of zod the policy's schema came.
      const issues = (e as { issues?: unknown }).issues;
      const why = Array.isArray(issues)
        ? (issues as z.core.$ZodIssue[]).map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')
        : e instanceof Error
          ? e.message
          : String(e);
      throw new BalancerCheckError(`${kind}: ${name}: ${why}`);
    }
    properties.push(name);
  };

  let spec: { readonly kind: string; readonly [k: string]: unknown } = { kind };
  check('options', () => {
    spec = resolveBalancerOptions({ ...options.options, kind });
  });
  const panics = ENVOY_KINDS.has(kind) || (typeof spec.panicThreshold === 'number' && spec.panicThreshold > 0);

  check('valid picks', () => {
    fc.assert(
      fc.property(fc.array(endpointSet(24), { minLength: 1, maxLength: 4 }), fc.boolean(), fc.nat(1_000_000), (sets, keyed, seed) => {
        const h = new Harness(spec, seed);
        for (const set of sets) {
          const endpoints = endpointsOf(set);
          h.rebuild(endpoints);
          const mustPick = healthyMajority(set.health);
          for (const ep of h.drive(40, keyed)) {
            const why = invalidPick(ep, endpoints, mustPick);
            if (why !== undefined) throw new Error(why);
          }
        }
      }),
      params,
    );
  });

  check('nothing to pick', () => {
    fc.assert(
      fc.property(endpointSet(12), fc.nat(1_000_000), (set, seed) => {
        const h = new Harness(spec, seed);
        h.rebuild([]);
        for (const ep of h.drive(3, true)) if (ep !== -1) throw new Error(`picked ${ep} from an empty endpoint set (expected -1)`);
        if (!panics) {
          h.rebuild(endpointsOf({ ...set, health: set.health.map(() => 'unhealthy') }));
          for (const ep of h.drive(3, false)) if (ep !== -1) throw new Error(`picked ${ep} with every endpoint unhealthy and no panic threshold (expected -1)`);
        }
      }),
      params,
    );
  });

  check('deterministic', () => {
    fc.assert(
      fc.property(fc.array(endpointSet(16), { minLength: 1, maxLength: 3 }), fc.nat(1_000_000), (sets, seed) => {
        const picks = (): number[] => {
          const h = new Harness(spec, seed);
          return sets.flatMap((set, i) => {
            h.rebuild(endpointsOf(set));
            return h.drive(60, i % 2 === 0);
          });
        };
        const a = picks();
        const b = picks();
        const at = a.findIndex((x, i) => x !== b[i]);
        if (at >= 0) throw new Error(`the same seed gave different picks: pick ${at} was ${a[at]} in one run and ${b[at]} in the other (state outside the ports? a module-level variable?)`);
      }),
      params,
    );
  });
  properties.push('world-agnostic');
  return { kind, properties, runs };
}

/** Registers `definition` for {@link checkBalancer}, replacing a definition it registered earlier under the same kind. */
function register(definition: BalancerDefinition<unknown>): void {
  const kind = (definition as { kind?: unknown }).kind;
  const earlier = typeof kind === 'string' ? balancers.get(kind) : undefined;
  if (earlier === undefined) {
    registerBalancer(definition);
    registeredByCheck.set(definition.kind, definition);
  } else if (earlier !== definition && registeredByCheck.get(definition.kind) === earlier) {
    replaceBalancer(definition, earlier);
    registeredByCheck.set(definition.kind, definition);
  } else {
    // The same definition again (a no-op), or a kind taken otherwise (the registry's error).
    registerBalancer(definition);
  }
}
