/**
 * The registry: every algorithm, by family and by the name scenario files use (`kind`).
 * Adding a policy means one file under its family folder and one line here.
 *
 * Every balancer sits inside Envoy's layers (priority levels, panic threshold, and
 * optionally locality weighting, zone-aware routing and slow start), so endpoint priorities
 * mean the same whatever the policy. Envoy's own kinds get its defaults, panic at 50%
 * healthy included, as Envoy applies them to every cluster; the others (Finagle's, Linkerd's,
 * gRPC's, nginx's) get priority levels with the 1.4 overprovisioning factor but no panic
 * unless `panicThreshold` is set, since the systems they follow have no panic mode. When
 * the caller knows its endpoints sit at one priority level (`env.priorityLevels === 1`, as
 * the simulator does) and no layer option is set, such a policy is used bare: the layers
 * would only forward each call. Either way the picks are the same, degraded hosts aside
 * (inside the layers they get traffic only while the healthy ones fall short, as in Envoy;
 * neither the simulator nor the proxy marks a host degraded).
 */
import { soloEnvironment, type Balancer, type BalancerDefinition, type BalancerEnvironment, type Endpoint, type Outcome, type PickContext } from './types.js';
import type { Ports } from '../core/ports.js';
import { RunStopError, type RunRef } from '../core/run-stop.js';
import { aperture } from './balancing/aperture.js';
import { layerConfigSchema, layered, LAYER_KEYS, hasLayerOptions, splitLayerOptions, type LayerConfig } from './balancing/envoy/layered.js';
import { leastRequest } from './balancing/least-request.js';
import { maglev } from './balancing/maglev.js';
import { p2c } from './balancing/p2c.js';
import { p2cPeakEwma } from './balancing/p2c-peak-ewma.js';
import { random } from './balancing/random.js';
import { ringHash } from './balancing/ring-hash.js';
import { roundRobin } from './balancing/round-robin.js';
import { smoothWeightedRoundRobin } from './balancing/smooth-weighted-round-robin.js';
import { weightedLeastUtilization } from './balancing/weighted-least-utilization.js';
import { weightedRandom } from './balancing/weighted-random.js';
import { weightedRoundRobin } from './balancing/weighted-round-robin.js';

// Each definition's Config differs; the registry erases it. Options reach `create` only
// after the definition's own schema resolved them (see the scenario loader, or
// `resolveBalancerOptions` below), so nothing unvalidated reaches a policy.
type AnyBalancerDefinition = BalancerDefinition<never>;

const balancerList = [
  roundRobin,
  weightedRoundRobin,
  smoothWeightedRoundRobin,
  random,
  weightedRandom,
  leastRequest,
  p2c,
  p2cPeakEwma,
  ringHash,
  maglev,
  aperture,
  weightedLeastUtilization,
] as readonly BalancerDefinition<unknown>[] as readonly AnyBalancerDefinition[];

const registered = new Map<string, AnyBalancerDefinition>(balancerList.map((d) => [d.kind, d]));

/** Every balancer by kind: meshsim's own, then those {@link registerBalancer} added. */
export const balancers: ReadonlyMap<string, AnyBalancerDefinition> = registered;

/** Kinds a plugin may take: lowercase words joined by hyphens, like meshsim's own. */
const KIND = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Adds a balancer of the user's (a plugin: `meshsim run --plugin FILE`, or a program using
 * the API) to the registry, so scenario files can name its kind. Checks the definition's
 * shape, since it comes from code meshsim has not seen: a kind of lowercase words, family
 * `balancing`, a summary and a `follows` line, `config` a zod 4 schema of its options and
 * `create` a function. Registering the same definition again is a no-op; another one under
 * a kind already taken (meshsim's own included) is an error. A plugin's kind sits inside
 * the layers as non-Envoy kinds do (priority levels, no panic unless `panicThreshold` is
 * set) and is taken to honour weights (slow start applies).
 */
export function registerBalancer(definition: unknown): void {
  const d = checkedDefinition(definition);
  const taken = registered.get(d.kind);
  if (taken === d) return;
  if (taken !== undefined) notADefinition(`${d.kind}: the kind is taken${balancerList.includes(taken) ? " by one of meshsim's own balancers" : ' by another plugin'}`);
  registered.set(d.kind, d);
}

/**
 * Registers `definition` in place of `previous`, when `previous` is what its kind holds
 * (else as {@link registerBalancer}). For `checkBalancer` (src/testing.ts) alone: a test
 * checks a deliberately broken copy of a policy, then the fixed one, under the same kind in
 * one process; the registration it made for the first must not make the second "taken".
 * The definition is checked before anything is replaced, so a bad one changes nothing.
 */
export function replaceBalancer(definition: unknown, previous: AnyBalancerDefinition): void {
  const d = checkedDefinition(definition);
  if (registered.get(d.kind) === previous && !balancerList.includes(previous)) registered.set(d.kind, d);
  else registerBalancer(d);
}

/** `definition`, once its shape is checked (see {@link registerBalancer}); a TypeError naming what is wrong otherwise. */
function checkedDefinition(definition: unknown): AnyBalancerDefinition {
  if (typeof definition !== 'object' || definition === null) {
    notADefinition(`expected an object with kind, family, summary, follows, config and create, got ${definition === null ? 'null' : typeof definition}`);
  }
  const d = definition as Partial<Record<keyof AnyBalancerDefinition, unknown>>;
  const kind = d.kind;
  if (typeof kind !== 'string' || !KIND.test(kind)) notADefinition(`kind must be lowercase words joined by hyphens, like my-policy; got ${JSON.stringify(kind)}`);
  if (d.family !== 'balancing') notADefinition(`${kind}: family must be 'balancing', got ${JSON.stringify(d.family)}`);
  for (const key of ['summary', 'follows'] as const) {
    const text = d[key];
    if (typeof text !== 'string' || text.trim() === '') notADefinition(`${kind}: ${key} must be a non-empty string`);
  }
  const config = d.config as { safeParse?: unknown; parse?: unknown } | null | undefined;
  if (typeof config !== 'object' || config === null || typeof config.safeParse !== 'function' || typeof config.parse !== 'function') {
    notADefinition(`${kind}: config must be a zod 4 schema of its options (z.strictObject({}) for none)`);
  }
  if (typeof d.create !== 'function') notADefinition(`${kind}: create must be a function (config, ports, env) => Balancer`);
  return definition as AnyBalancerDefinition;
}

function notADefinition(what: string): never {
  throw new TypeError(`not a balancer definition: ${what}`);
}

/**
 * A plugin balancer broke the contract of docs/writing-a-policy.md in a run (a pick that is
 * not an index of its endpoints or -1): the message names the kind and what it returned.
 * The run stops; the CLI reports it as bad input (exit 2), since the plugin is the user's.
 */
export class BalancerContractError extends RunStopError {
  at(message: string, run: RunRef): BalancerContractError {
    return new BalancerContractError(message, run);
  }
}

/**
 * A plugin's balancer with its picks checked: an integer from -1 to the endpoint count of
 * its last rebuild, less one. Left unchecked, an index past the end sends attempts to no
 * instance, and the report's figures are quietly wrong.
 */
class CheckedBalancer implements Balancer {
  private count = 0;

  constructor(
    private readonly kind: string,
    private readonly inner: Balancer,
  ) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    this.count = endpoints.length;
    this.inner.rebuild(endpoints);
  }

  pick(ctx: PickContext): number {
    const i = this.inner.pick(ctx);
    if (!(Number.isInteger(i) && i >= -1 && i < this.count)) {
      const got = typeof i === 'number' ? String(i) : (JSON.stringify(i) ?? String(i));
      const expected = this.count === 0 ? 'expected -1: its last rebuild() gave it no endpoints' : `expected the index of one of the ${this.count} endpoint(s) of its last rebuild() (0 to ${this.count - 1}), or -1 for none`;
      throw new BalancerContractError(`balancer "${this.kind}" (a plugin) broke its contract: pick() returned ${got}; ${expected} (docs/writing-a-policy.md)`);
    }
    return i;
  }

  onStart(index: number): void {
    this.inner.onStart(index);
  }

  onEnd(index: number, outcome: Outcome, latencyMs: number): void {
    this.inner.onEnd(index, outcome, latencyMs);
  }
}

const withCheckedPicksCache = new WeakMap<AnyBalancerDefinition, AnyBalancerDefinition>();

/** `def` with every balancer it creates wrapped in a {@link CheckedBalancer}. */
function withCheckedPicks(def: AnyBalancerDefinition): AnyBalancerDefinition {
  let checked = withCheckedPicksCache.get(def);
  if (checked === undefined) {
    checked = { ...def, create: (config: never, ports: Ports, env: BalancerEnvironment) => new CheckedBalancer(def.kind, def.create(config, ports, env)) };
    withCheckedPicksCache.set(def, checked);
  }
  return checked;
}

/** Kinds Envoy itself offers: they always sit inside Envoy's priority and panic layers. */
export const ENVOY_KINDS: ReadonlySet<string> = new Set(['round-robin', 'weighted-round-robin', 'random', 'least-request', 'ring-hash', 'maglev']);

/** Kinds that read a request's hash key (`PickContext.hashKey`); without one they draw a random hash. */
export const HASHING_KINDS: ReadonlySet<string> = new Set(['ring-hash', 'maglev']);

/**
 * Kinds that ignore endpoint weights (each says so in its `follows`), so that slow start,
 * which works by ramping weights, cannot change their picks.
 */
export const WEIGHT_BLIND_KINDS: ReadonlySet<string> = new Set(['round-robin', 'random', 'p2c', 'p2c-peak-ewma', 'aperture', 'weighted-least-utilization']);

/**
 * Kinds whose `onStart` and `onEnd` do nothing: when an attempt's answer arrives changes
 * nothing they pick (Envoy's layers around them only forward the calls). The simulator
 * then answers a plain request without an event of its own at that moment (sim/world.ts,
 * `answersAtOnce`). Registry-wide tests check the claim: their picks are the same whether
 * the ends are reported or not.
 */
export const END_BLIND_KINDS: ReadonlySet<string> = new Set(['round-robin', 'weighted-round-robin', 'random', 'weighted-random']);

/** Options every balancer accepts besides its own: Envoy's layers. */
export { LAYER_KEYS, layerConfigSchema };

export function balancerKinds(): string[] {
  return [...balancers.keys()];
}

/** Kinds {@link registerBalancer} added (not meshsim's own), in the order they came. */
export function pluginKinds(): string[] {
  return [...registered.keys()].slice(balancerList.length);
}

/**
 * Validates raw `{ kind, ...options }` options (as written in a scenario: durations as text)
 * into resolved options; throws a ZodError or an Error for an unknown kind.
 */
export function resolveBalancerOptions(spec: { readonly kind: string; readonly [k: string]: unknown }): { readonly kind: string; readonly [k: string]: unknown } {
  const def = balancers.get(spec.kind);
  if (!def) throw new Error(`unknown balancer kind "${spec.kind}"; known: ${balancerKinds().join(', ')}`);
  const { kind: _kind, ...options } = spec;
  const { layers, inner } = splitLayerOptions(options);
  const parsedInner = def.config.parse(inner) as Record<string, unknown>;
  const parsedLayers = layerConfigSchema.parse(layers) as Record<string, unknown>;
  const given = Object.fromEntries(Object.keys(layers).map((k) => [k, parsedLayers[k]]));
  return { ...parsedInner, ...given, kind: spec.kind };
}

const LAYER_DEFAULTS: LayerConfig = layerConfigSchema.parse({});
/** The layers' defaults for kinds outside Envoy: priority levels, no panic. */
const NON_ENVOY_LAYER_DEFAULTS: LayerConfig = { ...LAYER_DEFAULTS, panicThreshold: 0 };

/**
 * Builds a balancer from a resolved `{ kind, ...options }` spec (see
 * {@link resolveBalancerOptions}); throws on an unknown kind.
 */
export function createBalancer(
  spec: { readonly kind: string; readonly [k: string]: unknown },
  ports: Ports,
  env: BalancerEnvironment = soloEnvironment(),
): Balancer {
  const found = balancers.get(spec.kind);
  if (!found) throw new Error(`unknown balancer kind "${spec.kind}"; known: ${balancerKinds().join(', ')}`);
  // A plugin's picks are checked (meshsim's own are proven by their tests, and skip the cost).
  const def = balancerList.includes(found) ? found : withCheckedPicks(found);
  const { kind: _kind, ...options } = spec;
  const { layers, inner } = splitLayerOptions(options);
  const envoy = ENVOY_KINDS.has(def.kind);
  if (!envoy && env.priorityLevels === 1 && !hasLayerOptions(options)) return def.create(inner as never, ports, env);
  return layered(def, inner as never, { ...(envoy ? LAYER_DEFAULTS : NON_ENVOY_LAYER_DEFAULTS), ...layers } as LayerConfig, ports, env);
}
