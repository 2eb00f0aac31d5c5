/**
 * Scenario loading: file bytes → YAML (or JSON) document → validated, resolved scenario
 * and its variants. Every problem is reported at once, at the line and column of the
 * offending node, like a compiler: field paths from the schema are walked back through
 * the YAML syntax tree (`yaml`'s parseDocument with a LineCounter).
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { LineCounter, isAlias, isCollection, isMap, isScalar, isSeq, parseAllDocuments, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { ScenarioError, didYouMean, type ScenarioIssue } from './errors.js';
import { SCENARIO_KEYS, VARIANT_NAME, resolveScenario, type FieldIssue, type PathSegment } from './schema.js';
import { SCENARIO_SCHEMA, type LoadedScenario, type Scenario, type Variant } from './types.js';
import { applyOverrides, parseOverridePath, type Override } from './variants.js';
import { MAX_SWEEP_POINTS, expandRanges, expandSweep, repeatedValues, stableJson, sweepKeyProblem, sweepSize, type SweepAxis } from './sweep.js';

interface Position {
  readonly line: number;
  readonly column: number;
}

/** What a caller adds to the file. */
export interface LoadOptions {
  /**
   * Sweep axes from the command line (`--sweep`): each replaces the file's `sweep` key of
   * the same path (keeping its place), or is added after the file's keys.
   */
  readonly sweep?: readonly SweepAxis[];
}

/** The file name that stands for standard input. */
export const STDIN = '-';
/** How standard input is named in messages (and as a loaded scenario's `file`). */
export const STDIN_NAME = '<stdin>';
/**
 * The largest scenario (or proxy config) file read: 4 MiB. The bundled scenarios are a few
 * KB; anything near this is not a scenario (or is `/dev/zero`, which used to be read until
 * memory ran out).
 */
export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

/** What a file that is not a regular file is, in words (a pipe reads like one, capped). */
function special(stats: Stats): string | undefined {
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return undefined;
}

/** Waits `ms` milliseconds, blocking (a non-blocking standard input with nothing to read yet). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The bytes of a scenario file (`what`: or another meshsim format's), at most
 * {@link MAX_SOURCE_BYTES}: a regular file or a pipe, or standard input for `-`. A device
 * or socket is refused without reading it, a larger file before reading it, a pipe once it
 * has given more. Throws {@link ScenarioError}.
 */
export function readSource(file: string, what = 'scenario'): Buffer {
  const shown = file === STDIN ? STDIN_NAME : file;
  const fail = (reason: string): never => {
    throw new ScenarioError([{ file: shown, path: '', message: `cannot read ${what} file: ${reason}` }]);
  };
  const cap = `${MAX_SOURCE_BYTES.toLocaleString('en-US')} bytes (4 MiB)`;
  let fd = 0;
  let opened = false;
  try {
    if (file !== STDIN) {
      const kind = special(statSync(file));
      if (kind !== undefined) fail(`it is ${kind}, not a regular file; expected a ${what} file (YAML or JSON)${what === 'scenario' ? `, or ${STDIN} for standard input` : ''}`);
      fd = openSync(file, 'r');
      opened = true;
    }
    const stats = fstatSync(fd);
    if (stats.isDirectory()) fail(readProblem(Object.assign(new Error('directory'), { code: 'EISDIR' }), what));
    if (stats.isFile() && stats.size > MAX_SOURCE_BYTES) fail(`it is ${stats.size.toLocaleString('en-US')} bytes; a ${what} file is at most ${cap}`);
    const chunks: Buffer[] = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          pause(5);
          continue;
        }
        if (code === 'EOF') break; // Windows: the end of a pipe
        throw error;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_SOURCE_BYTES) fail(`it is larger than ${cap}, the most a ${what} file may be`);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(chunks, total);
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    return fail(readProblem(error, what));
  } finally {
    if (opened) closeSync(fd);
  }
}

/**
 * Reads and loads a scenario file (YAML, or JSON when the name ends in `.json`); `-` reads
 * standard input (YAML or JSON). Throws {@link ScenarioError}.
 */
export function loadScenario(file: string, options: LoadOptions = {}): LoadedScenario {
  const bytes = readSource(file);
  const shown = file === STDIN ? STDIN_NAME : file;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ScenarioError([{ file: shown, path: '', message: 'cannot read scenario file: it is not valid UTF-8 text' }]);
  }
  const loaded = parseSource(text, shown, sha256(bytes), options);
  // Standard input cannot be read twice: its text goes with the scenario (the shard report and the page need it).
  return file === STDIN ? { ...loaded, source: bytes.toString('utf8') } : loaded;
}

/** Loads a scenario from text; `file` names it in errors and picks JSON (`.json`) or YAML. Throws {@link ScenarioError}. */
export function parseScenarioText(text: string, file: string, options: LoadOptions = {}): LoadedScenario {
  return parseSource(text, file, sha256(Buffer.from(text, 'utf8')), options);
}

/** Why a file could not be read, in words (the common cases), else the system's message. */
export function readProblem(error: unknown, what = 'scenario'): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return `it is a directory; expected a ${what} file (YAML or JSON)`;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const dotted = (path: readonly PathSegment[]): string => path.map(String).join('.');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a YAML (or, for `.json`, strict JSON) text: the document as plain data and a locator
 * of field paths in it. Only the first syntax error is reported: later ones are mostly
 * echoes of it. Throws {@link ScenarioError}.
 */
function parseLocated(text: string, file: string, what = 'scenario'): { raw: unknown; locator: Locator } {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (/\.json$/i.test(file)) checkJson(source, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    if (error.code === 'MULTIPLE_DOCS') {
      // Not the library's advice (parseAllDocuments): a file holds one.
      const count = parseAllDocuments(source, { logLevel: 'silent' });
      const documents = Array.isArray(count) ? count.length : 2;
      throw new ScenarioError([
        {
          file,
          ...(error.linePos ? { line: error.linePos[0].line, column: error.linePos[0].col } : {}),
          path: '',
          message: `one ${what} per file; found ${documents} YAML documents (each --- line starts another): put each ${what} in a file of its own`,
        },
      ]);
    }
    throw new ScenarioError([
      { file, ...(error.linePos ? { line: error.linePos[0].line, column: error.linePos[0].col } : {}), path: '', message: `invalid YAML: ${error.message.split(' at line ')[0]}` },
    ]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 10_000 });
  } catch (error) {
    throw new ScenarioError([{ file, path: '', message: `invalid YAML: ${(error as Error).message}` }]);
  }
  return { raw, locator: new Locator(doc, lineCounter) };
}

function parseSource(text: string, file: string, digest: string, options: LoadOptions): LoadedScenario {
  const parsed = parseLocated(text, file);
  const locator = parsed.locator;
  let raw = parsed.raw;
  if (raw === null || raw === undefined) {
    throw new ScenarioError([{ file, path: '', message: `the file is empty; expected a ${SCENARIO_SCHEMA} scenario: a mapping with name, seed, seeds, duration, warmup, services, network, workload and mesh` }]);
  }

  if (isRecord(raw) && Object.keys(raw).length > 0 && !Object.keys(raw).some((k) => SCENARIO_KEYS.includes(k))) {
    // Not one key of a scenario: another kind of file, reported once rather than key by key.
    throw new ScenarioError([{ file, path: '', message: `not a ${SCENARIO_SCHEMA} scenario: none of its top-level keys is a scenario's (${SCENARIO_KEYS.join(', ')})` }]);
  }
  const fromCli = new Set((options.sweep ?? []).map((axis) => axis.key));
  if (isRecord(raw) && isRecord(raw.sweep)) raw = withRanges(raw, raw.sweep, file, locator);
  if (fromCli.size > 0 && isRecord(raw)) raw = withSweep(raw, options.sweep ?? []);
  const issues: ScenarioIssue[] = [];
  const base = resolveScenario(raw);
  const baseIssues = base.ok ? [] : base.issues;
  issues.push(...byPosition(baseIssues.map((issue) => sweepPath(located(file, '', issue, locator.find(issue.path, issue.atKey)), fromCli))));

  const seen = new Set(baseIssues.map((issue) => `${dotted(issue.path)}\u0000${issue.message}`));
  const written = variantsOf(raw, locator);
  const variants: Variant[] = [];
  const variantIssues = new Map<string, Set<string>>();
  for (const variant of written) {
    const own = new Set<string>();
    variantIssues.set(variant.name, own);
    const result = resolveVariant(raw, variant, locator, file, seen, own);
    if (result.scenario) variants.push({ name: variant.name, scenario: result.scenario });
    issues.push(...result.issues);
  }

  const sweep = sweepOf(raw, locator, fromCli);
  let expanded: Variant[] | undefined;
  // Under a sweep, each named variant's points, by name: a rule naming the variant checks each of them.
  const pointsOf = new Map<string, string[]>();
  if (sweep !== undefined) {
    const found = sweepProblems(sweep, file, locator, fromCli);
    issues.push(...found);
    if (issues.length === 0) {
      expanded = [];
      const out = expanded;
      const taken = new Set<string>();
      const on = written.length > 0 ? written : [{ name: '', overrides: [] }];
      const sweepIssues: ScenarioIssue[] = [];
      for (const variant of on) {
        const points: string[] = [];
        if (variant.name !== '') pointsOf.set(variant.name, points);
        for (const point of expandSweep(sweep, variant.name, taken)) {
          points.push(point.name);
          const overrides = [...variant.overrides, ...point.overrides.map((o, a) => ({ ...o, path: sweep[a].path, keyNode: sweep[a].keyNode, valueNode: sweep[a].valueNodes[point.indices[a]], axis: sweep[a] }))];
          const result = resolveVariant(raw, { name: point.name, overrides }, locator, file, seen, variantIssues.get(variant.name) ?? new Set(), fromCli);
          if (result.scenario) out.push({ name: point.name, scenario: result.scenario });
          sweepIssues.push(...result.issues);
        }
      }
      issues.push(...dedupe(byPosition(sweepIssues)));
      if (issues.length === 0) issues.push(...assertProblems(raw, file, locator, out, pointsOf));
    }
  }

  if (issues.length > 0) throw new ScenarioError(dedupe(issues));
  const scenario = rulesOnPoints((base as { scenario: Scenario }).scenario, pointsOf);
  const named = isRecord(raw) && isRecord(raw.variants) && Object.keys(raw.variants).length > 0 ? variants : [{ name: 'base', scenario }];
  return { file, sha256: digest, base: scenario, variants: expanded ?? named };
}

/**
 * The document with the ranges in its `sweep` expanded (`max: 0..3`, `[0..2, 5]`,
 * `10%..50% step 10%`; a copy). A malformed range is an error at its key.
 */
function withRanges(raw: Record<string, unknown>, section: Record<string, unknown>, file: string, locator: Locator): Record<string, unknown> {
  const sweep: Record<string, unknown> = {};
  for (const [key, values] of Object.entries(section)) {
    try {
      sweep[key] = expandRanges(values);
    } catch (error) {
      throw new ScenarioError([located(file, '', { path: ['sweep', key], message: (error as Error).message }, locator.find(['sweep', key], false))]);
    }
  }
  return { ...raw, sweep };
}

/** The document with the command line's sweep axes laid over its `sweep` (a copy; the parsed document is not changed). */
function withSweep(raw: Record<string, unknown>, axes: readonly SweepAxis[]): Record<string, unknown> {
  // A file's sweep that is not a mapping (a list, null, ...) stays for the schema to report:
  // the command-line axes do not replace it.
  if (raw.sweep !== undefined && !isRecord(raw.sweep)) return raw;
  const sweep: Record<string, unknown> = isRecord(raw.sweep) ? { ...raw.sweep } : {};
  for (const axis of axes) sweep[axis.key] = axis.values;
  return { ...raw, sweep };
}

/** `sweep.<key>...` for a key given with `--sweep` reads `--sweep <key>...`: it is not in the file. */
function sweepPath(issue: ScenarioIssue, fromCli: ReadonlySet<string>): ScenarioIssue {
  for (const key of fromCli) {
    const prefix = `sweep.${key}`;
    if (issue.path === prefix || issue.path.startsWith(`${prefix}.`) || issue.path.startsWith(`${prefix} `)) {
      const { line: _line, column: _column, ...rest } = issue;
      return { ...rest, path: `--sweep ${key}${issue.path.slice(prefix.length)}` };
    }
  }
  return issue;
}

interface Resolved {
  readonly scenario?: Scenario;
  readonly issues: ScenarioIssue[];
}

/**
 * A variant's scenario, or its problems: each located at the override it comes from. A
 * problem in a swept value is reported as `sweep.<path>` (once, however many points share
 * it); one the base (or, for a point, its named variant) has too is left to them.
 */
function resolveVariant(
  raw: unknown,
  variant: WrittenVariant,
  locator: Locator,
  file: string,
  seen: ReadonlySet<string>,
  own: Set<string>,
  fromCli: ReadonlySet<string> = new Set(),
): Resolved {
  const prefix = `variants.${variant.name} → `;
  const applied = applyOverrides(raw, variant.overrides);
  const key = (issue: FieldIssue): string => `${dotted(issue.path)}\u0000${issue.message}`;
  const problems = applied.problems.flatMap((problem) => {
    const override = variant.overrides[problem.index];
    const message = `cannot apply override: ${problem.message}`;
    if (override.axis) return [sweepPath(located(file, '', { path: ['sweep', override.key], message }, locator.position(override.keyNode)), fromCli)];
    own.add(`${override.key}\u0000${message}`);
    return [located(file, prefix, { path: [override.key], message }, locator.position(override.keyNode))];
  });
  const result = resolveScenario(applied.document);
  if (result.ok && problems.length === 0) return { scenario: result.scenario, issues: [] };
  const found = (result.ok ? [] : result.issues).flatMap((issue) => {
    const source = variant.overrides.findLast((o) => isPrefix(o.path, issue.path));
    if (source?.axis) {
      // In a swept value: named by the sweep's path, placed at the value.
      const rest = issue.path.slice(source.path.length);
      // Placed at the key for a problem with the path itself, else at the value (or inside it).
      const position = rest.length === 0 && issue.atKey ? locator.position(source.keyNode) : locator.within({ ...source, keyNode: source.valueNode ?? source.keyNode }, rest, issue.atKey);
      const path = rest.length === 0 ? source.key : `${source.key} → ${dotted(rest)}`;
      return [sweepPath(located(file, '', { ...issue, path: ['sweep', path] }, position), fromCli)];
    }
    // A problem that is not in overridden values and the base has too is reported once, for the base.
    if (!source && seen.has(key(issue))) return [];
    if (variant.overrides.some((o) => o.axis)) {
      // A point's problem its named variant has too is the variant's; another is the sweep's,
      // named by the swept path nearest to it.
      if (own.has(key(issue))) return [];
      const axis = nearestAxis(variant.overrides, issue.path);
      if (axis) return [sweepPath(located(file, '', { ...issue, path: ['sweep', `${axis.key} → ${dotted(issue.path)}`] }, locator.position(axis.keyNode)), fromCli)];
      return [located(file, prefix, issue, locator.find(issue.path, issue.atKey))];
    }
    own.add(key(issue));
    const position = source ? locator.within(source, issue.path.slice(source.path.length), issue.atKey) : locator.find(issue.path, issue.atKey);
    return [located(file, prefix, issue, position)];
  });
  return { issues: byPosition([...problems, ...found]) };
}

/** The swept override sharing the longest leading path with `path` (the first when none shares any). */
function nearestAxis(overrides: readonly LocatedOverride[], path: readonly PathSegment[]): LocatedOverride | undefined {
  let best: LocatedOverride | undefined;
  let bestShared = -1;
  for (const o of overrides) {
    if (!o.axis) continue;
    let shared = 0;
    while (shared < o.path.length && shared < path.length && String(o.path[shared]) === String(path[shared])) shared++;
    if (shared > bestShared) {
      best = o;
      bestShared = shared;
    }
  }
  return best;
}

/** Paths that cannot be swept, repeated values, and a grid over the limit. */
function sweepProblems(sweep: readonly LocatedAxis[], file: string, locator: Locator, fromCli: ReadonlySet<string>): ScenarioIssue[] {
  const out: ScenarioIssue[] = [];
  for (const axis of sweep) {
    const problem = sweepKeyProblem(axis.key);
    if (problem !== undefined) out.push(located(file, '', { path: ['sweep', axis.key], message: problem }, locator.position(axis.keyNode)));
    for (const i of repeatedValues(axis.values)) {
      out.push(located(file, '', { path: ['sweep', axis.key, i], message: `${stableJson(axis.values[i])} is listed twice; each value once` }, locator.position(axis.valueNodes[i])));
    }
  }
  const size = sweepSize(sweep);
  if (size > MAX_SWEEP_POINTS) {
    const sizes = sweep.map((a) => a.values.length).join(' × ');
    out.push(located(file, '', { path: ['sweep'], message: `a grid of ${sizes} = ${size} points; at most ${MAX_SWEEP_POINTS} (sweep fewer values, or split the sweep into files)` }, locator.find(['sweep'], true)));
  }
  return out.map((issue) => sweepPath(issue, fromCli));
}

/**
 * Under a sweep, a rule's `variant` names an expanded variant, or a named variant
 * (`variants:`), which runs only as its points: the rule then checks each of them
 * ({@link rulesOnPoints}).
 */
function assertProblems(raw: unknown, file: string, locator: Locator, expanded: readonly Variant[], pointsOf: ReadonlyMap<string, readonly string[]>): ScenarioIssue[] {
  if (!isRecord(raw) || !Array.isArray(raw.assert)) return [];
  const names = expanded.map((v) => v.name);
  const known = new Set([...names, ...pointsOf.keys()]);
  const listed = names.length > 8 ? `${names.slice(0, 8).join(', ')}, ... (${names.length} in all)` : names.join(', ');
  return raw.assert.flatMap((rule, i) => {
    if (!isRecord(rule) || typeof rule.variant !== 'string' || known.has(rule.variant)) return [];
    const message = `unknown variant '${rule.variant}'${didYouMean(rule.variant, [...known])}; the sweep's variants are ${listed}`;
    return [located(file, '', { path: ['assert', i, 'variant'], message }, locator.find(['assert', i, 'variant']))];
  });
}

/**
 * The scenario with each `{ variant, rule }` naming a named variant under a sweep replaced
 * by one rule per point of it (`rr` → `rr_max-0`, `rr_max-1`, ...), in order: the variant
 * runs only as its points, and the rule is for each of them.
 */
function rulesOnPoints(scenario: Scenario, pointsOf: ReadonlyMap<string, readonly string[]>): Scenario {
  const rules = scenario.assert;
  if (rules === undefined || pointsOf.size === 0 || !rules.some((r) => r.variant !== undefined && pointsOf.has(r.variant))) return scenario;
  return { ...scenario, assert: rules.flatMap((r) => (r.variant !== undefined && pointsOf.has(r.variant) ? (pointsOf.get(r.variant) ?? []).map((point) => ({ ...r, variant: point })) : [r])) };
}

function located(file: string, prefix: string, issue: FieldIssue, position: Position | undefined): ScenarioIssue {
  const path = dotted(issue.path);
  return {
    file,
    ...(position ? { line: position.line, column: position.column } : {}),
    path: prefix ? `${prefix}${path}` : path,
    message: issue.message,
    ...(issue.expected === undefined ? {} : { expected: issue.expected }),
  };
}

function byPosition(issues: ScenarioIssue[]): ScenarioIssue[] {
  const key = (i: ScenarioIssue) => (i.line ?? Infinity) * 1e6 + (i.column ?? 0);
  return issues.map((issue, order) => ({ issue, order })).sort((a, b) => key(a.issue) - key(b.issue) || a.order - b.order).map((x) => x.issue);
}

function dedupe(issues: ScenarioIssue[]): ScenarioIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.column}:${i.path}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function isPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i]));
}

/** JSON is valid YAML, but JSON.parse names the exact spot of a JSON syntax error. */
function checkJson(source: string, file: string): void {
  try {
    JSON.parse(source);
  } catch (error) {
    const message = (error as Error).message;
    let position: Position | undefined;
    const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
    const offset = /at position (\d+)/.exec(message);
    if (lineColumn) position = { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
    else position = positionOfOffset(source, offset ? Number(offset[1]) : source.length);
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/\s*in JSON at position \d+/, '').replace(/, "[\s\S]*" is not valid JSON$/, '');
    throw new ScenarioError([{ file, line: position.line, column: position.column, path: '', message: `invalid JSON: ${reason}` }]);
  }
}

function positionOfOffset(source: string, offset: number): Position {
  const before = source.slice(0, offset);
  const lastNewline = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastNewline };
}

// ---------------------------------------------------------------------------------------
// Variants as written: names and overrides in file order, with their nodes

interface LocatedOverride extends Override {
  readonly path: readonly PathSegment[];
  readonly keyNode: YamlNode | undefined;
  readonly valueNode: YamlNode | undefined;
  /** The sweep axis this override comes from, for a point of a sweep. */
  readonly axis?: LocatedAxis;
}

/** A sweep axis as written, with its nodes (none for one given with `--sweep`). */
interface LocatedAxis extends SweepAxis {
  readonly path: readonly PathSegment[];
  readonly keyNode: YamlNode | undefined;
  readonly valueNodes: readonly (YamlNode | undefined)[];
}

/** The sweep's axes in key order, or undefined when there is none (a malformed one is reported by the schema). */
function sweepOf(raw: unknown, locator: Locator, fromCli: ReadonlySet<string>): LocatedAxis[] | undefined {
  if (!isRecord(raw) || !isRecord(raw.sweep)) return undefined;
  const section = raw.sweep;
  const fileKeys = locator.keysAt(['sweep']) ?? [];
  const keys = [...fileKeys.filter((k) => Object.hasOwn(section, k)), ...Object.keys(section).filter((k) => !fileKeys.includes(k))];
  if (keys.length === 0 || !keys.every((k) => Array.isArray(section[k]) && (section[k] as unknown[]).length > 0)) return undefined;
  return keys.map((key): LocatedAxis => {
    const values = section[key] as unknown[];
    const path = parseOverridePath(key);
    const listNode = fromCli.has(key) ? undefined : locator.node(['sweep', key], false);
    const items = isSeq(listNode) && listNode.items.length === values.length ? (listNode.items as (YamlNode | undefined)[]) : values.map(() => undefined);
    return { key, values, path: typeof path === 'string' ? [key] : path, keyNode: fromCli.has(key) ? undefined : locator.node(['sweep', key], true), valueNodes: items };
  });
}

interface WrittenVariant {
  readonly name: string;
  readonly overrides: readonly LocatedOverride[];
}

/** The well-formed variants (a name and a mapping or nothing); malformed ones are reported by the schema. */
function variantsOf(raw: unknown, locator: Locator): WrittenVariant[] {
  if (!isRecord(raw) || !isRecord(raw.variants)) return [];
  const section = raw.variants;
  const names = locator.keysAt(['variants']) ?? Object.keys(section);
  const out: WrittenVariant[] = [];
  for (const name of names) {
    if (!Object.hasOwn(section, name) || !VARIANT_NAME.test(name)) continue;
    const body = section[name];
    if (body !== null && !isRecord(body)) continue;
    const keys = locator.keysAt(['variants', name]) ?? Object.keys(body ?? {});
    const overrides = keys
      .filter((key) => body !== null && Object.hasOwn(body, key))
      .map((key): LocatedOverride => {
        const path = parseOverridePath(key);
        return {
          key,
          value: (body as Record<string, unknown>)[key],
          path: typeof path === 'string' ? [key] : path,
          keyNode: locator.node(['variants', name, key], true),
          valueNode: locator.node(['variants', name, key], false),
        };
      });
    out.push({ name, overrides });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// From field paths to places in the file

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  position(node: YamlNode | undefined): Position | undefined {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** Where the problem at `path` is, from the document root. */
  find(path: readonly PathSegment[], atKey = false): Position | undefined {
    return this.position(this.walk(this.doc.contents ?? undefined, undefined, path, atKey));
  }

  /** Where the problem at `rest` inside an override's value is. */
  within(override: LocatedOverride, rest: readonly PathSegment[], atKey = false): Position | undefined {
    if (rest.length === 0 && atKey) return this.position(override.keyNode);
    return this.position(this.walk(override.valueNode, override.keyNode, rest, atKey) ?? override.keyNode);
  }

  /** The node at `path` exactly (its key with `atKey`), or undefined. */
  node(path: readonly PathSegment[], atKey: boolean): YamlNode | undefined {
    let node = this.resolve(this.doc.contents ?? undefined);
    for (let i = 0; i < path.length; i++) {
      if (!isMap(node)) return undefined;
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[i]));
      if (!pair) return undefined;
      if (i === path.length - 1) return (atKey ? pair.key : pair.value) as YamlNode | undefined;
      node = this.resolve(pair.value as YamlNode | undefined);
    }
    return node;
  }

  /** The keys of the mapping at `path`, in file order. */
  keysAt(path: readonly PathSegment[]): string[] | undefined {
    const node = this.resolve(this.node(path, false));
    if (!isMap(node)) return undefined;
    return node.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : []));
  }

  private resolve(node: YamlNode | undefined): YamlNode | undefined {
    let current: unknown = node;
    for (let hops = 0; isAlias(current) && hops < 100; hops++) current = current.resolve(this.doc);
    return (current ?? undefined) as YamlNode | undefined;
  }

  /**
   * Follows `path` down from `start`. A missing step stops at the nearest existing ancestor,
   * shown by its key when it has one (`api:` for a field missing in services.api); a block
   * mapping or list is also shown by its key, the line people look at.
   */
  private walk(start: YamlNode | undefined, startKey: YamlNode | undefined, path: readonly PathSegment[], atKey: boolean): YamlNode | undefined {
    let node = start;
    let key = startKey;
    for (let i = 0; i < path.length; i++) {
      const here = this.resolve(node);
      const segment = String(path[i]);
      if (isMap(here)) {
        const pair = here.items.find((p) => isScalar(p.key) && String(p.key.value) === segment);
        if (!pair) return key ?? node;
        if (i === path.length - 1 && atKey) return pair.key as YamlNode;
        key = pair.key as YamlNode;
        node = (pair.value as YamlNode | null) ?? undefined;
        if (node === undefined) return key;
      } else if (isSeq(here)) {
        const item = /^\d+$/.test(segment) ? (here.items[Number(segment)] as YamlNode | null | undefined) : undefined;
        if (!item) return key ?? node;
        key = undefined;
        node = item;
      } else {
        return key ?? node;
      }
    }
    if (key && isCollection(node) && !node.flow) return key;
    return node ?? key;
  }
}

/** A YAML or JSON document read from a file, with a way to place field issues in it. */
export interface LocatedDocument {
  /** The document as plain data (null when the file is empty). */
  readonly raw: unknown;
  /** The issue at its line and column in the file. */
  locate(issue: FieldIssue): ScenarioIssue;
}

/**
 * Reads a YAML (or, for `.json`, JSON) file of another meshsim format (e.g. the proxy's
 * config) with the scenario loader's parsing and error placement. `what` names the file in
 * messages ("proxy config"). Throws {@link ScenarioError} for unreadable or unparsable files.
 */
export function readLocatedDocument(file: string, what: string): LocatedDocument {
  const bytes = readSource(file, what);
  if (file === STDIN) file = STDIN_NAME;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ScenarioError([{ file, path: '', message: `cannot read ${what} file: it is not valid UTF-8 text` }]);
  }
  const { raw, locator } = parseLocated(text, file, what);
  return { raw: raw ?? null, locate: (issue) => located(file, '', issue, locator.find(issue.path, issue.atKey)) };
}
