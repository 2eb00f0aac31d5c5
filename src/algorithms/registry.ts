/**
 * The registry: every algorithm, by family and by the name scenario files use (`kind`).
 * Adding a policy means one file under its family folder and one line here.
 */
import { soloEnvironment, type Balancer, type BalancerDefinition, type BalancerEnvironment } from './types.js';
import type { Ports } from '../core/ports.js';
import { roundRobin } from './balancing/round-robin.js';
import { random } from './balancing/random.js';

// Each definition's Config differs; the registry erases it and `createBalancer` re-checks
// the options through the definition's own schema, so nothing unvalidated reaches a policy.
type AnyBalancerDefinition = BalancerDefinition<never>;

const balancerList: readonly AnyBalancerDefinition[] = [roundRobin, random] as readonly BalancerDefinition<unknown>[] as readonly AnyBalancerDefinition[];

export const balancers: ReadonlyMap<string, AnyBalancerDefinition> = new Map(balancerList.map((d) => [d.kind, d]));

export function balancerKinds(): string[] {
  return [...balancers.keys()];
}

/** Builds a balancer from a `{ kind, ...options }` spec; throws on an unknown kind or bad options. */
export function createBalancer(
  spec: { readonly kind: string; readonly [k: string]: unknown },
  ports: Ports,
  env: BalancerEnvironment = soloEnvironment(),
): Balancer {
  const def = balancers.get(spec.kind);
  if (!def) throw new Error(`unknown balancer kind "${spec.kind}"; known: ${balancerKinds().join(', ')}`);
  const { kind: _kind, ...options } = spec;
  const config = def.config.parse(options) as never;
  return def.create(config, ports, env);
}
