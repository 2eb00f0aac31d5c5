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
import { soloEnvironment, type Balancer, type BalancerDefinition, type BalancerEnvironment } from './types.js';
import type { Ports } from '../core/ports.js';
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

export const balancers: ReadonlyMap<string, AnyBalancerDefinition> = new Map(balancerList.map((d) => [d.kind, d]));

/** Kinds Envoy itself offers: they always sit inside Envoy's priority and panic layers. */
export const ENVOY_KINDS: ReadonlySet<string> = new Set(['round-robin', 'weighted-round-robin', 'random', 'least-request', 'ring-hash', 'maglev']);

/** Kinds that read a request's hash key (`PickContext.hashKey`); without one they draw a random hash. */
export const HASHING_KINDS: ReadonlySet<string> = new Set(['ring-hash', 'maglev']);

/**
 * Kinds that ignore endpoint weights (each says so in its `follows`), so that slow start,
 * which works by ramping weights, cannot change their picks.
 */
export const WEIGHT_BLIND_KINDS: ReadonlySet<string> = new Set(['round-robin', 'random', 'p2c', 'p2c-peak-ewma', 'aperture', 'weighted-least-utilization']);

/** Options every balancer accepts besides its own: Envoy's layers. */
export { LAYER_KEYS, layerConfigSchema };

export function balancerKinds(): string[] {
  return [...balancers.keys()];
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
  const def = balancers.get(spec.kind);
  if (!def) throw new Error(`unknown balancer kind "${spec.kind}"; known: ${balancerKinds().join(', ')}`);
  const { kind: _kind, ...options } = spec;
  const { layers, inner } = splitLayerOptions(options);
  const envoy = ENVOY_KINDS.has(def.kind);
  if (!envoy && env.priorityLevels === 1 && !hasLayerOptions(options)) return def.create(inner as never, ports, env);
  return layered(def, inner as never, { ...(envoy ? LAYER_DEFAULTS : NON_ENVOY_LAYER_DEFAULTS), ...layers } as LayerConfig, ports, env);
}
