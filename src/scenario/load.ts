/**
 * Scenario loading: file bytes → YAML (or JSON) document → validated, resolved scenario
 * and its variants. Every problem is reported at once, at the line and column of the
 * offending node, like a compiler: field paths from the schema are walked back through
 * the YAML syntax tree (`yaml`'s parseDocument with a LineCounter).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isCollection, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { ScenarioError, type ScenarioIssue } from './errors.js';
import { VARIANT_NAME, resolveScenario, type FieldIssue, type PathSegment } from './schema.js';
import { SCENARIO_SCHEMA, type LoadedScenario, type Scenario, type Variant } from './types.js';
import { applyOverrides, parseOverridePath, type Override } from './variants.js';

interface Position {
  readonly line: number;
  readonly column: number;
}

/** Reads and loads a scenario file (YAML, or JSON when the name ends in `.json`). Throws {@link ScenarioError}. */
export function loadScenario(file: string): LoadedScenario {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ScenarioError([{ file, path: '', message: `cannot read scenario file: ${(error as Error).message}` }]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ScenarioError([{ file, path: '', message: 'cannot read scenario file: it is not valid UTF-8 text' }]);
  }
  return parseSource(text, file, sha256(bytes));
}

/** Loads a scenario from text; `file` names it in errors and picks JSON (`.json`) or YAML. Throws {@link ScenarioError}. */
export function parseScenarioText(text: string, file: string): LoadedScenario {
  return parseSource(text, file, sha256(Buffer.from(text, 'utf8')));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const dotted = (path: readonly PathSegment[]): string => path.map(String).join('.');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseSource(text: string, file: string, digest: string): LoadedScenario {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (/\.json$/i.test(file)) checkJson(source, file);

  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0) {
    // Only the first: later syntax errors are mostly echoes of it.
    const error = doc.errors[0];
    throw new ScenarioError([
      {
        file,
        ...(error.linePos ? { line: error.linePos[0].line, column: error.linePos[0].col } : {}),
        path: '',
        message: `invalid YAML: ${error.message.split(' at line ')[0]}`,
      },
    ]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 10_000 });
  } catch (error) {
    throw new ScenarioError([{ file, path: '', message: `invalid YAML: ${(error as Error).message}` }]);
  }
  if (raw === null || raw === undefined) {
    throw new ScenarioError([{ file, path: '', message: `the file is empty; expected a ${SCENARIO_SCHEMA} scenario: a mapping with name, seed, seeds, duration, warmup, services, network, workload and mesh` }]);
  }

  const locator = new Locator(doc, lineCounter);
  const issues: ScenarioIssue[] = [];
  const base = resolveScenario(raw);
  const baseIssues = base.ok ? [] : base.issues;
  issues.push(...byPosition(baseIssues.map((issue) => located(file, '', issue, locator.find(issue.path, issue.atKey)))));

  const seen = new Set(baseIssues.map((issue) => `${dotted(issue.path)}\u0000${issue.message}`));
  const variants: Variant[] = [];
  for (const variant of variantsOf(raw, locator)) {
    const prefix = `variants.${variant.name} → `;
    const applied = applyOverrides(raw, variant.overrides);
    const problems = applied.problems.map((problem) => {
      const override = variant.overrides[problem.index];
      return located(file, prefix, { path: [override.key], message: `cannot apply override: ${problem.message}` }, locator.position(override.keyNode));
    });
    const result = resolveScenario(applied.document);
    if (result.ok && problems.length === 0) {
      variants.push({ name: variant.name, scenario: result.scenario });
      continue;
    }
    const own = (result.ok ? [] : result.issues).flatMap((issue) => {
      const source = variant.overrides.findLast((o) => isPrefix(o.path, issue.path));
      // A problem that is not in overridden values and the base has too is reported once, for the base.
      if (!source && seen.has(`${dotted(issue.path)}\u0000${issue.message}`)) return [];
      const position = source ? locator.within(source, issue.path.slice(source.path.length), issue.atKey) : locator.find(issue.path, issue.atKey);
      return [located(file, prefix, issue, position)];
    });
    issues.push(...byPosition([...problems, ...own]));
  }

  if (issues.length > 0) throw new ScenarioError(dedupe(issues));
  const scenario = (base as { scenario: Scenario }).scenario;
  return { file, sha256: digest, base: scenario, variants: isRecord(raw) && isRecord(raw.variants) && Object.keys(raw.variants).length > 0 ? variants : [{ name: 'base', scenario }] };
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
