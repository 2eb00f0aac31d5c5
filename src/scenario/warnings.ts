/**
 * Warnings about scenarios that are valid but almost certainly not what their author meant:
 * a setting that can have no effect with the policy it is given to. `meshsim run` and
 * `meshsim validate` print them on stderr; they never stop a run.
 */
import { HASHING_KINDS, WEIGHT_BLIND_KINDS } from '../algorithms/registry.js';
import type { MeshSpec, Scenario } from './types.js';

/** What one variant's scenario would be warned about (without the variant's name). */
function warningsOf(s: Scenario): string[] {
  const out: string[] = [];
  const hashing = (mesh: MeshSpec): boolean => HASHING_KINDS.has(mesh.balancer.kind);
  const unkeyed = s.workload.filter((w) => w.key === undefined).map((w) => `'${w.name}'`);
  if (hashing(s.mesh) && unkeyed.length > 0) {
    out.push(
      `balancer ${s.mesh.balancer.kind} hashes request keys, but workload ${unkeyed.join(', ')} gives its requests none: ` +
        'each gets a random hash, so they spread as with random balancing (give the workload a key, e.g. key: { dist: zipf, n: 10000, s: 1.1 })',
    );
  }
  for (const [name, svc] of Object.entries(s.services)) {
    if (svc.calls.length > 0 && hashing(svc.mesh)) {
      out.push(`service '${name}' balances its calls with ${svc.mesh.balancer.kind}, but calls carry no hash key: each gets a random hash, so they spread as with random balancing`);
    }
  }
  const meshes: [string, MeshSpec][] = [['mesh', s.mesh], ...Object.entries(s.services).filter(([, svc]) => svc.calls.length > 0).map(([n, svc]): [string, MeshSpec] => [`services.${n}.mesh`, svc.mesh])];
  for (const [where, mesh] of meshes) {
    const kind = mesh.balancer.kind;
    if (mesh.balancer['slowStart'] !== undefined && WEIGHT_BLIND_KINDS.has(kind)) {
      out.push(
        `${where}.balancer.slowStart has no effect: slow start ramps endpoint weights, and ${kind} ignores weights ` +
          '(Envoy applies slow start to weighted round robin and least request: use weighted-round-robin or least-request)',
      );
    }
  }
  return [...new Set(out)];
}

/**
 * The warnings for a scenario's variants, each once: prefixed with the variants it applies
 * to, or with nothing when it applies to all of them.
 */
export function scenarioWarnings(variants: readonly { readonly name: string; readonly scenario: Scenario }[]): string[] {
  const byText = new Map<string, string[]>();
  for (const v of variants) {
    for (const w of warningsOf(v.scenario)) {
      const names = byText.get(w);
      if (names) names.push(v.name);
      else byText.set(w, [v.name]);
    }
  }
  return [...byText].map(([text, names]) => (names.length === variants.length ? text : `${names.length === 1 ? 'variant' : 'variants'} ${names.map((n) => `'${n}'`).join(', ')}: ${text}`));
}
