/**
 * The registry: every algorithm, by family and by the name scenario files use (`kind`).
 * Adding a policy means one file under its family folder and one line here.
 *
 * Balancers of the Envoy family are always wrapped in Envoy's layers (priority levels,
 * panic threshold, and optionally locality weighting, zone-aware routing and slow start),
 * as Envoy applies them to every such cluster; other balancers get the layers only when
 * a layer option is set.
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
  const config = inner as never;
  if (!ENVOY_KINDS.has(def.kind) && !hasLayerOptions(options)) return def.create(config, ports, env);
  return layered(def, config, { ...LAYER_DEFAULTS, ...layers } as LayerConfig, ports, env);
}
