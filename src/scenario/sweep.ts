/**
 * Sweeps: a parameter grid written as `sweep: { dotted.path: [v1, v2, ...], ... }` (or
 * `meshsim run --sweep path=v1,v2`), expanded into variants. The grid is the Cartesian
 * product of the lists, in key order with the last key varying fastest; each point is a
 * variant whose overrides (see variants.ts) set each swept path to the point's value. With
 * `variants:` in the file the sweep applies on top of each named variant (its overrides
 * first, then the point's), giving variants × points.
 *
 * Names are deterministic and readable, and satisfy {@link VARIANT_NAME}: the parts joined
 * by `_`: the named variant (if any), then `label-value` per swept path, where the label is
 * the path's last segment (more segments when two swept paths end alike, or when it is a
 * list index), and the value is the value as written (`30%` → `30pct`), an object's `kind`,
 * or else its short, key-sorted JSON, with characters other than letters, digits, `.`, `-`
 * and `_` replaced by `-`. E.g. `max-2_percent-30pct_balancer-p2c`, or
 * `p2c_max-2_percent-30pct` on top of a variant `p2c`. A value that would read like another
 * of the same path gets its JSON, then `v<i>` (its index); a name still taken gets `-<n>`.
 */
import { parse as parseYaml } from 'yaml';
import { SWEEP_RANGE_PATTERN, VARIANT_NAME } from './schema.js';
import { fileLevelProblem, type Override } from './variants.js';

/** At most this many points in a grid (per named variant). */
export const MAX_SWEEP_POINTS = 10_000;

/** One swept path and its values, in order. */
export interface SweepAxis {
  readonly key: string;
  readonly values: readonly unknown[];
}

/** One point of the grid: its name, the index of each axis's value, and its overrides. */
export interface SweepPoint {
  readonly name: string;
  readonly indices: readonly number[];
  readonly overrides: readonly Override[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, so equal values read the same. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** Grid points: the product of the list lengths (Infinity-safe, for the limit check). */
export function sweepSize(axes: readonly SweepAxis[]): number {
  return axes.reduce((n, axis) => n * axis.values.length, 1);
}

/** Characters a variant name may hold; anything else becomes `-`. */
function sanitise(text: string): string {
  const minus = /^-\d/.test(text) ? '-' : '';
  return minus + text
    .replace(/%/g, 'pct')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '');
}

const MAX_TOKEN = 40;

function shorten(text: string): string {
  return text.length <= MAX_TOKEN ? text : text.slice(0, MAX_TOKEN).replace(/[-._]+$/, '');
}

/** How a value reads in a name, before de-duplication. */
function valueToken(value: unknown, json: boolean): string {
  if (!json && isRecord(value) && typeof value.kind === 'string') return shorten(sanitise(value.kind));
  if (typeof value === 'string') return shorten(sanitise(value));
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return shorten(sanitise(String(value)));
  return shorten(sanitise(stableJson(value).replace(/"/g, '').replace(/[:,]/g, '-')));
}

/** Distinct tokens for one axis's values: as written or by kind, else JSON, else `v<i>`. */
function valueTokens(values: readonly unknown[]): string[] {
  const first = values.map((v) => valueToken(v, false));
  const second = first.map((token, i) => (token !== '' && first.indexOf(token) === first.lastIndexOf(token) ? token : valueToken(values[i], true)));
  return second.map((token, i) => (token !== '' && second.indexOf(token) === second.lastIndexOf(token) ? token : `v${i}`));
}

/** Labels: each key's last segment, with more segments while two keys share it (or it is an index). */
function axisLabels(keys: readonly string[]): string[] {
  const segments = keys.map((k) => k.split('.'));
  const depth = segments.map((s) => (s.length > 1 && /^\d+$/.test(s[s.length - 1]) ? 2 : 1));
  const label = (i: number): string => segments[i].slice(-depth[i]).join('.');
  for (let round = 0; round < 64; round++) {
    const labels = keys.map((_, i) => label(i));
    let changed = false;
    labels.forEach((l, i) => {
      if (labels.indexOf(l) !== labels.lastIndexOf(l) && depth[i] < segments[i].length) {
        depth[i]++;
        changed = true;
      }
    });
    if (!changed) break;
  }
  return keys.map((_, i) => sanitise(label(i)) || `p${i}`);
}

/**
 * The grid's points in order (last axis fastest), named as described above; `prefix` (a
 * named variant's name) leads each name, and names in `taken` are not reused.
 */
export function expandSweep(axes: readonly SweepAxis[], prefix = '', taken: Set<string> = new Set()): SweepPoint[] {
  const size = sweepSize(axes);
  if (size > MAX_SWEEP_POINTS) throw new RangeError(`a sweep of ${size} points; at most ${MAX_SWEEP_POINTS}`);
  const labels = axisLabels(axes.map((a) => a.key));
  const tokens = axes.map((a) => valueTokens(a.values));
  const points: SweepPoint[] = [];
  for (let p = 0; p < size; p++) {
    const indices: number[] = new Array<number>(axes.length);
    let rest = p;
    for (let a = axes.length - 1; a >= 0; a--) {
      indices[a] = rest % axes[a].values.length;
      rest = Math.floor(rest / axes[a].values.length);
    }
    const parts = axes.map((_, a) => `${labels[a]}-${tokens[a][indices[a]]}`);
    let name = [prefix, ...parts].filter((s) => s !== '').join('_');
    if (!VARIANT_NAME.test(name)) name = `point-${p}`;
    if (taken.has(name)) {
      let n = 2;
      while (taken.has(`${name}-${n}`)) n++;
      name = `${name}-${n}`;
    }
    taken.add(name);
    points.push({ name, indices, overrides: axes.map((axis, a) => ({ key: axis.key, value: axis.values[indices[a]] })) });
  }
  return points;
}

/** Why `key` cannot be swept (beyond what applying it finds), or undefined. */
export function sweepKeyProblem(key: string): string | undefined {
  const segments = key.split('.');
  if (segments.some((s) => s.trim() === '')) return `invalid path '${key}': expected dotted keys like mesh.balancer or workload.0.arrival.rate`;
  if (['sweep', 'variants', 'assert'].includes(segments[0])) return `a sweep cannot set '${segments[0]}'`;
  const fileLevel = fileLevelProblem(segments[0]);
  if (fileLevel !== undefined) return `a sweep cannot set '${segments[0]}': ${fileLevel}`;
  return undefined;
}

/** Pairs of equal values in a list (by their key-sorted JSON): the later index of each. */
export function repeatedValues(values: readonly unknown[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  values.forEach((value, i) => {
    const json = stableJson(value);
    if (seen.has(json)) out.push(i);
    seen.add(json);
  });
  return out;
}

/** A value written as a range (see {@link expandRange}): a string starting with a number and holding `..`. */
function isRangeLike(value: unknown): value is string {
  return typeof value === 'string' && value.includes('..') && /^\s*-?\d/.test(value);
}

const RANGE = new RegExp(SWEEP_RANGE_PATTERN);
const RANGE_EXAMPLE = 'a range like 0..3 (whole numbers, both ends included) or 10%..50% step 10%';

/**
 * The values of a range written as one sweep value: `0..3` is 0, 1, 2, 3 (whole numbers,
 * both ends included); `10%..50% step 10%`, `100ms..1s`-style units need the same unit on
 * all three parts (`100ms..500ms step 100ms`), and give values in that unit, as written
 * (`'10%'`, `'20%'`, …), so they are read exactly as if listed. Throws an Error saying
 * what is wrong.
 */
export function expandRange(text: string): unknown[] {
  const m = RANGE.exec(text);
  if (m === null) throw new Error(`'${text}' is not ${RANGE_EXAMPLE}`);
  const [, a, unitA, b, unitB, step, unitStep] = m;
  if (unitA !== unitB || (step !== undefined && unitStep !== unitA)) {
    throw new Error(`'${text}': the ends${step === undefined ? '' : ' and the step'} must have the same unit, like 100ms..500ms step 100ms`);
  }
  const from = Number(a);
  const to = Number(b);
  const whole = unitA === '' && Number.isInteger(from) && Number.isInteger(to);
  if (step === undefined && !whole) throw new Error(`'${text}': a range with a unit or fractions needs a step, like ${a}${unitA}..${b}${unitB} step ${a}${unitA}`);
  const by = step === undefined ? 1 : Number(step);
  if (!(by > 0)) throw new Error(`'${text}': the step must be above 0`);
  if (to < from) throw new Error(`'${text}': the range runs backwards; write the smaller end first`);
  const count = Math.floor((to - from) / by + 1e-9) + 1;
  if (count > MAX_SWEEP_POINTS) throw new Error(`'${text}' has ${count} values; at most ${MAX_SWEEP_POINTS} points in a sweep`);
  return Array.from({ length: count }, (_, k) => {
    const x = Number((from + k * by).toPrecision(12));
    return unitA === '' ? x : `${x}${unitA}`;
  });
}

/** A swept path's values with every range among them (or the whole value, a range) expanded in place. */
export function expandRanges(values: unknown): unknown {
  if (isRangeLike(values)) return expandRange(values);
  if (!Array.isArray(values)) return values;
  return values.flatMap((v) => (isRangeLike(v) ? expandRange(v) : [v]));
}

/**
 * A `--sweep PATH=VALUES` option: VALUES is a YAML flow sequence, its brackets optional
 * (`0,1,2`, `[0, 1, 2]`, `10%,30%`, `{kind: p2c},{kind: random}`; a list of lists needs
 * them: `[[5xx, reset], [5xx]]` or `[5xx, reset],[5xx]`), where a range stands for its
 * values (`0..3`, `10%..50% step 10%`, see {@link expandRange}); the text before the
 * first `=` is the dotted path. Throws an Error saying what is wrong.
 */
export function parseSweepOption(text: string): SweepAxis {
  const eq = text.indexOf('=');
  if (eq < 0) throw new Error(`expected PATH=VALUES, like mesh.failover.retries.max=0,1,2; got '${text}'`);
  const key = text.slice(0, eq).trim();
  const body = text.slice(eq + 1).trim();
  if (key === '') throw new Error(`missing the path before '=' in '${text}'`);
  const problem = sweepKeyProblem(key);
  if (problem !== undefined) throw new Error(problem);
  if (body === '') throw new Error(`no values after '${key}='; expected a list, like ${key}=0,1,2`);
  let values: unknown;
  try {
    // One bracketed sequence is the list itself; otherwise the brackets are added.
    values = asList(body) ?? parseYaml(`[${body}]`, { uniqueKeys: true });
  } catch (error) {
    throw new Error(`${key}: cannot read the values as YAML: ${(error as Error).message.split('\n')[0].replace(/:$/, '')}`);
  }
  try {
    values = expandRanges(values);
  } catch (error) {
    throw new Error(`${key}: ${(error as Error).message}`);
  }
  if (!Array.isArray(values) || values.length === 0) throw new Error(`${key}: expected at least one value, like ${key}=0,1,2`);
  const repeated = repeatedValues(values);
  if (repeated.length > 0) throw new Error(`${key}: value ${stableJson(values[repeated[0]])} is listed twice`);
  return { key, values };
}

/** `text` as a YAML flow sequence when it is exactly one, else undefined. */
function asList(text: string): unknown[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const value: unknown = parseYaml(text, { uniqueKeys: true });
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Groups of two or more variants that resolve to the same scenario, in variant order
 * (each group's names in order). They give byte-identical results: usually a sweep (in
 * the file or from `--sweep`) over a path every named variant sets, which replaces what
 * the variants set.
 */
export function identicalVariants(variants: readonly { readonly name: string; readonly scenario: unknown }[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const v of variants) {
    const key = stableJson(v.scenario);
    const group = groups.get(key);
    if (group) group.push(v.name);
    else groups.set(key, [v.name]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** The warning for {@link identicalVariants}' groups (undefined when there are none). */
export function identicalVariantsWarning(groups: readonly (readonly string[])[], total: number): string | undefined {
  if (groups.length === 0) return undefined;
  const distinct = total - groups.reduce((a, g) => a + g.length - 1, 0);
  const shown = groups.slice(0, 3).map((g) => g.map((n) => `'${n}'`).join(' = '));
  const more = groups.length > 3 ? `, and ${groups.length - 3} more group(s)` : '';
  return (
    `${total} variants make only ${distinct} distinct scenario(s): ${shown.join('; ')}${more}. ` +
    'Identical variants give identical results; a sweep over a path that every variant sets replaces what the variants set.'
  );
}
