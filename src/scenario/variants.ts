/**
 * Variants: named edits of the base scenario document, each a map from a dotted path
 * (`mesh.balancer`, `services.api.instances`, `workload.0.arrival.rate`) to the value that
 * replaces what is there, like Helm's `--set a.b=c` or Kustomize patches: replace, never
 * deep-merge, so a variant reads exactly as what it runs. Applied to the raw document
 * before validation; numeric segments index lists.
 */
import { didYouMean } from './errors.js';
import type { PathSegment } from './schema.js';

/** One `path: value` line of a variant. */
export interface Override {
  /** The dotted path as written. */
  readonly key: string;
  readonly value: unknown;
}

/** An override that could not be applied, by its position in the variant. */
export interface OverrideProblem {
  readonly index: number;
  readonly message: string;
}

/** The document with every override that could be applied, and the ones that could not. */
export interface Application {
  readonly document: unknown;
  readonly problems: readonly OverrideProblem[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own-property write that also works for keys such as `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** A deep copy of a parsed document (plain mappings and lists; other values are shared). */
export function cloneDocument<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneDocument) as T;
  if (!isRecord(value) || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setOwn(copy, key, cloneDocument(value[key]));
  return copy as T;
}

/** The segments of a dotted override path, or why it is not one. */
export function parseOverridePath(key: string): PathSegment[] | string {
  const segments = key.split('.');
  if (segments.some((s) => s.trim() === '')) return `invalid override path '${key}': expected dotted keys like mesh.balancer or workload.0.arrival.rate`;
  if (segments[0] === 'variants') return `a variant cannot override 'variants'`;
  if (segments[0] === 'sweep') return `a variant cannot override 'sweep'; a sweep applies on top of every variant`;
  if (segments[0] === 'assert') return `a variant cannot override 'assert'; give a rule for one variant in the top-level assert, like { variant: <name>, rule: 'p99 < 250ms' }`;
  const fileLevel = fileLevelProblem(segments[0]);
  if (fileLevel !== undefined) return `a variant cannot override '${segments[0]}': ${fileLevel}`;
  return segments;
}

/**
 * Why a top-level key belongs to the whole file, not to a variant or a sweep point (their
 * values would be ignored): every variant runs the same seeds, paired seed by seed, and the
 * file's name names the report. Undefined for any other key.
 */
export function fileLevelProblem(key: string): string | undefined {
  if (key === 'seed' || key === 'seeds') return 'every variant runs the same seeds (paired, seed by seed, in the comparisons); set them at the top of the file, or with --seed/--seeds';
  if (key === 'name') return "the file's name names its report; variants are named by their keys";
  return undefined;
}

function describeNode(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isRecord(value)) return 'a mapping';
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

/** Sets `value` at `path` inside `doc` (mutating it), creating missing mappings on the way. */
function setAt(doc: Record<string, unknown>, path: readonly PathSegment[], value: unknown): string | undefined {
  let here: unknown = doc;
  for (let i = 0; i < path.length; i++) {
    const segment = String(path[i]);
    const last = i === path.length - 1;
    const where = path.slice(0, i).join('.') || 'the scenario';
    if (Array.isArray(here)) {
      const n = here.length;
      if (!/^\d+$/.test(segment)) return `${where} is a list; expected an index (0 to ${n - 1}), got '${segment}'`;
      const index = Number(segment);
      if (index >= n) return `${where} has ${n} item${n === 1 ? '' : 's'}; there is no item ${index}`;
      if (last) here[index] = value;
      else here = here[index];
    } else if (isRecord(here)) {
      if (last) setOwn(here, segment, value);
      else {
        const missing = !Object.hasOwn(here, segment) || here[segment] === null || here[segment] === undefined;
        // A variant may add a whole service (`services.cache: {...}`), but setting one field of
        // a service the scenario does not have is a misspelt name, not a new service.
        if (missing && i === 1 && path[0] === 'services') {
          const names = Object.keys(here);
          return `there is no service '${segment}'${didYouMean(segment, names)}; services: ${names.join(', ')}`;
        }
        if (missing) setOwn(here, segment, {});
        here = here[segment];
      }
    } else {
      return `cannot set '${segment}' inside ${where}: it is ${describeNode(here)}, not a mapping`;
    }
  }
  return undefined;
}

/**
 * The base document with a variant's overrides applied in order (the base is not modified);
 * an override that cannot be applied is skipped and reported. The `variants` section is
 * left out: a variant is a scenario of its own; so is `assert`, whose rules are the file's
 * (they name variants, and the base scenario carries them).
 */
export function applyOverrides(base: unknown, overrides: readonly Override[]): Application {
  const document = cloneDocument(base);
  if (!isRecord(document)) return { document, problems: overrides.map((_, index) => ({ index, message: 'the base scenario is not a mapping' })) };
  delete document.variants;
  delete document.assert;
  delete document.sweep;
  const problems: OverrideProblem[] = [];
  overrides.forEach((override, index) => {
    const path = parseOverridePath(override.key);
    const problem = typeof path === 'string' ? path : setAt(document, path, cloneDocument(override.value));
    if (problem !== undefined) problems.push({ index, message: problem });
  });
  return { document, problems };
}
