/**
 * Shard reports (`meshsim/shard@1`): what `meshsim run FILE --shard i/n` writes and
 * `meshsim merge` combines into the report a single run would have written, byte for
 * byte. A shard holds the scenario's identity and source (so merge can rebuild the plan and
 * the `assert:` rules without the file), the options that shaped the plan, its slice of the
 * canonical run list (runner/plan.ts) and each run's result in lossless JSON
 * (sim/run-result-json.ts), sealed by a sha256 of the runs. Like a build system's
 * content-addressed artifacts, anything that does not add up is refused: other schema
 * versions, other scenarios or generators, missing or duplicate shards, corrupt files.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { planRuns, shardRuns, type ShardSpec } from '../runner/plan.js';
import type { PluginIdentity } from '../scenario/plugins.js';
import { assembleOutput, runPlan, type ExecutedRun, type RunOutput, type RunPlan } from '../runner/run.js';
import { ScenarioError } from '../scenario/errors.js';
import { parseScenarioText } from '../scenario/load.js';
import type { SweepAxis } from '../scenario/sweep.js';
import type { LoadedScenario } from '../scenario/types.js';
import type { RunResult } from '../sim/metrics.js';
import { runResultFromJSON, runResultToJSON, type RunResultJSON } from '../sim/run-result-json.js';
import { VERSION } from '../version.js';

export const SHARD_SCHEMA = 'meshsim/shard@1';

/** What shaped the plan besides the file: the `run` options, as given. */
export interface ShardOptions {
  readonly seed?: number;
  readonly seeds?: number;
  readonly variants?: readonly string[];
  readonly sweep?: readonly SweepAxis[];
}

/** A shard report, as written (see README "Shards"). */
export interface ShardDocument {
  readonly schema: typeof SHARD_SCHEMA;
  readonly generator: string;
  /** The scenario: name, sha256 of the file's bytes, its path as given, its text. */
  readonly scenario: { readonly name: string; readonly sha256: string; readonly file: string; readonly source: string };
  /** The plugin modules the shard's run loaded (as report.json records them); absent when none. */
  readonly plugins?: readonly PluginIdentity[];
  readonly options: ShardOptions;
  /** The whole plan: variant names, seeds, and how many runs (variants × seeds). */
  readonly plan: { readonly variants: readonly string[]; readonly seeds: readonly number[]; readonly runs: number };
  /** This shard: index i (1-based) of count n. */
  readonly shard: ShardSpec;
  /** This shard's runs in canonical order: position k in the plan, variant name, seed, result. */
  readonly runs: readonly { readonly index: number; readonly variant: string; readonly seed: number; readonly result: RunResultJSON }[];
  /** sha256 (hex) of JSON.stringify(runs): a corrupted or edited file is refused. */
  readonly runsSha256: string;
}

/** A merge or shard-file problem; the message names the file and what is wrong. */
export class ShardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardError';
  }
}

/** The file name of shard i of n in its output directory. */
export function shardFileName(shard: ShardSpec): string {
  return `shard-${shard.index}-of-${shard.count}.json`;
}

/** The name of a shard report in its directory (shardFileName's). */
export const SHARD_FILE = /^shard-(\d+)-of-(\d+)\.json$/;

const sha256 = (text: string | Uint8Array): string => createHash('sha256').update(text).digest('hex');

/**
 * The shard document of `runs` (the shard's, in canonical order). `source` is the scenario
 * file's text; it must hash to `loaded.sha256`.
 */
export function buildShard(
  loaded: LoadedScenario,
  source: string,
  options: ShardOptions,
  plan: RunPlan,
  shard: ShardSpec,
  runs: readonly ExecutedRun[],
  plugins: readonly PluginIdentity[] = [],
): ShardDocument {
  if (sha256(Buffer.from(source, 'utf8')) !== loaded.sha256) throw new ShardError(`${loaded.file}: the file changed while it was being read; run again`);
  if (options.sweep !== undefined && !isDeepStrictEqual(JSON.parse(JSON.stringify(options.sweep)), options.sweep)) {
    throw new ShardError('--shard: a --sweep value cannot be stored in a shard report as JSON (e.g. .inf or .nan); put the sweep in the scenario file');
  }
  const docRuns = runs.map((r) => ({ index: r.index, variant: plan.variants[r.variant].name, seed: r.seed, result: runResultToJSON(r.result) }));
  return {
    schema: SHARD_SCHEMA,
    generator: `meshsim ${VERSION}`,
    scenario: { name: loaded.base.name, sha256: loaded.sha256, file: loaded.file, source },
    ...(plugins.length === 0 ? {} : { plugins: plugins.map((p) => ({ file: p.file, sha256: p.sha256, kinds: [...p.kinds] })) }),
    options: cleanOptions(options),
    plan: { variants: plan.variants.map((v) => v.name), seeds: plan.seeds, runs: plan.runs.length },
    shard: { index: shard.index, count: shard.count },
    runs: docRuns,
    runsSha256: sha256(JSON.stringify(docRuns)),
  };
}

function cleanOptions(o: ShardOptions): ShardOptions {
  return {
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(o.seeds === undefined ? {} : { seeds: o.seeds }),
    ...(o.variants === undefined || o.variants.length === 0 ? {} : { variants: o.variants }),
    ...(o.sweep === undefined || o.sweep.length === 0 ? {} : { sweep: o.sweep }),
  };
}

/** Serialised compactly (results are large); one trailing newline. */
export function shardJson(doc: ShardDocument): string {
  return JSON.stringify(doc) + '\n';
}

// --- reading -------------------------------------------------------------------------------

/** A shard read from disk and checked on its own. */
export interface ShardFile {
  readonly path: string;
  readonly doc: ShardDocument;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const isPluginIdentity = (x: unknown): boolean =>
  isRecord(x) && typeof x.file === 'string' && (x.sha256 === null || typeof x.sha256 === 'string') && Array.isArray(x.kinds) && x.kinds.every((k) => typeof k === 'string');

const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parses and checks one shard file's text; throws {@link ShardError} naming `path` and the field. */
export function parseShard(text: string, path: string): ShardDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ShardError(`${path}: not a shard report: invalid JSON (${(e as Error).message}); the file is corrupt or truncated`);
  }
  const bad = (field: string, expected: string): never => {
    throw new ShardError(`${path}: invalid shard report: ${field}: expected ${expected}`);
  };
  if (!isRecord(raw)) return bad('the document', 'an object');
  if (raw.schema !== SHARD_SCHEMA) {
    if (typeof raw.schema === 'string' && raw.schema.startsWith('meshsim/shard@')) {
      throw new ShardError(`${path}: unsupported shard report version "${raw.schema}"; this meshsim (${VERSION}) reads ${SHARD_SCHEMA}`);
    }
    if (typeof raw.schema === 'string' && raw.schema.startsWith('meshsim/report@')) {
      throw new ShardError(`${path}: is a report (${raw.schema}), not a shard report; merge takes what \`meshsim run --shard i/n\` writes`);
    }
    return bad('schema', `"${SHARD_SCHEMA}", got ${JSON.stringify(raw.schema)}`);
  }
  if (typeof raw.generator !== 'string') bad('generator', 'a string');
  const s = raw.scenario;
  if (!isRecord(s) || typeof s.name !== 'string' || typeof s.sha256 !== 'string' || typeof s.file !== 'string' || typeof s.source !== 'string') {
    bad('scenario', 'an object with name, sha256, file and source strings');
  }
  if (raw.plugins !== undefined && !(Array.isArray(raw.plugins) && raw.plugins.every(isPluginIdentity))) {
    bad('plugins', 'an array of { file, sha256, kinds } (a string, a sha256 string or null, an array of strings)');
  }
  const o = raw.options;
  if (!isRecord(o)) return bad('options', 'an object');
  const whole = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x);
  if (o.seed !== undefined && !whole(o.seed)) bad('options.seed', 'a whole number (--seed)');
  if (o.seeds !== undefined && !(whole(o.seeds) && (o.seeds as number) >= 1)) bad('options.seeds', 'a whole number ≥ 1 (--seeds)');
  if (o.variants !== undefined && !(Array.isArray(o.variants) && o.variants.every((v) => typeof v === 'string'))) bad('options.variants', 'a list of variant names (--variant)');
  if (o.sweep !== undefined && !(Array.isArray(o.sweep) && o.sweep.every((a) => isRecord(a) && typeof a.key === 'string' && Array.isArray(a.values) && a.values.length > 0))) {
    bad('options.sweep', 'a list of { key, values } (--sweep), each values a non-empty list');
  }
  const p = raw.plan;
  if (!isRecord(p) || !Array.isArray(p.variants) || !p.variants.every((v) => typeof v === 'string') || !Array.isArray(p.seeds) || !p.seeds.every(isIndex) || !isIndex(p.runs)) {
    bad('plan', 'an object with variants (names), seeds (integers) and runs (a count)');
  }
  const sh = raw.shard;
  if (!isRecord(sh) || !isIndex(sh.index) || !isIndex(sh.count) || sh.index < 1 || sh.index > sh.count) bad('shard', 'an object with index i and count n, 1 ≤ i ≤ n');
  if (!Array.isArray(raw.runs)) bad('runs', 'an array');
  if (typeof raw.runsSha256 !== 'string') bad('runsSha256', 'a string');
  const doc = raw as unknown as ShardDocument;
  if (sha256(JSON.stringify(doc.runs)) !== doc.runsSha256) {
    throw new ShardError(`${path}: corrupt shard report: its runs do not match their sha256 (runsSha256); the file was damaged or edited`);
  }
  if (sha256(Buffer.from(doc.scenario.source, 'utf8')) !== doc.scenario.sha256) {
    throw new ShardError(`${path}: corrupt shard report: scenario.source does not match scenario.sha256`);
  }
  if (doc.plan.runs !== doc.plan.variants.length * doc.plan.seeds.length) bad('plan.runs', `variants × seeds = ${doc.plan.variants.length * doc.plan.seeds.length}`);
  const expected = shardRuns(planRuns(doc.plan.variants.length, doc.plan.seeds), doc.shard);
  const n = doc.plan.seeds.length;
  doc.runs.forEach((r, i) => {
    const want = expected[i];
    if (!isRecord(r) || want === undefined || r.index !== want.index || r.variant !== doc.plan.variants[want.variant] || r.seed !== want.seed) {
      throw new ShardError(
        `${path}: invalid shard report: runs[${i}]: expected run ${want === undefined ? '(none: too many runs)' : `${want.index} (variant ${doc.plan.variants[Math.floor(want.index / n)]}, seed ${want.seed})`} of shard ${doc.shard.index}/${doc.shard.count}`,
      );
    }
  });
  if (doc.runs.length !== expected.length) throw new ShardError(`${path}: invalid shard report: ${doc.runs.length} runs, shard ${doc.shard.index}/${doc.shard.count} of ${doc.plan.runs} has ${expected.length}`);
  return doc;
}

/** Reads one shard file. */
export function readShardFile(path: string): ShardFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ShardError(`cannot read shard report ${path}: ${(e as Error).message}`);
  }
  return { path, doc: parseShard(text, path) };
}

/**
 * The shard files named by `paths`: a file is taken as is; a directory gives every
 * `shard-<i>-of-<n>.json` in it (not in its subdirectories), and must hold at least one.
 */
export function findShardFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const expected = 'expected a shard report (shard-<i>-of-<n>.json) or a directory holding the shard reports that `meshsim run FILE --shard i/n --out DIR` writes';
      throw new ShardError(code === 'ENOENT' ? `${p}: no such file or directory; ${expected}` : `cannot read ${p} (${code ?? String(e)}); ${expected}`);
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    const found = readdirSync(p)
      .filter((name) => SHARD_FILE.test(name))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .map((name) => join(p, name));
    if (found.length === 0) throw new ShardError(`${p}: no shard reports (shard-<i>-of-<n>.json) in this directory`);
    files.push(...found);
  }
  return files;
}

// --- merging -------------------------------------------------------------------------------

/** What merge rebuilds: the scenario (from the shards' source) and the runner's whole output. */
export interface MergedShards {
  readonly loaded: LoadedScenario;
  /** The scenario file's text, as the shards stored it. */
  readonly source: string;
  readonly output: RunOutput;
  readonly shards: number;
  /** The plugins the shards ran with (every shard the same); empty when none. */
  readonly plugins: readonly PluginIdentity[];
}

/**
 * Checks that `files` are the n shards of one plan, each once, and rebuilds the output of
 * the whole run. `plugins`: the plugin modules this process loaded (merge's `--plugin`),
 * which must include every plugin the shards ran with (same sha256), since the scenario
 * names their kinds. Throws {@link ShardError}.
 */
export function mergeShards(files: readonly ShardFile[], plugins: readonly PluginIdentity[] = []): MergedShards {
  if (files.length === 0) throw new ShardError('no shard reports to merge');
  const first = files[0];
  const ref = first.doc;
  for (const f of files.slice(1)) {
    const d = f.doc;
    const differs = (what: string, a: unknown, b: unknown): void => {
      if (!isDeepStrictEqual(a, b)) {
        throw new ShardError(`${f.path} and ${first.path} are shards of different runs: ${what} differ (${JSON.stringify(b)} vs ${JSON.stringify(a)})`);
      }
    };
    if (d.scenario.name !== ref.scenario.name || d.scenario.sha256 !== ref.scenario.sha256) {
      throw new ShardError(
        `${f.path} and ${first.path} are shards of different scenarios: "${d.scenario.name}" (sha256 ${d.scenario.sha256.slice(0, 12)}…) vs "${ref.scenario.name}" (sha256 ${ref.scenario.sha256.slice(0, 12)}…)`,
      );
    }
    differs('the generators', ref.generator, d.generator);
    differs('the plugins (file, sha256, kinds)', ref.plugins ?? [], d.plugins ?? []);
    differs('the options (--seed, --seeds, --variant, --sweep)', ref.options, d.options);
    differs('the plans (variants and seeds)', ref.plan, d.plan);
    if (d.shard.count !== ref.shard.count) {
      throw new ShardError(`${f.path} is shard ${d.shard.index}/${d.shard.count} but ${first.path} is shard ${ref.shard.index}/${ref.shard.count}: all shards must be of the same n`);
    }
  }
  if (ref.generator !== `meshsim ${VERSION}`) {
    throw new ShardError(`${first.path}: written by ${ref.generator}; this is meshsim ${VERSION}: merge with the version that ran the shards`);
  }
  const n = ref.shard.count;
  const byIndex = new Map<number, ShardFile>();
  for (const f of files) {
    const other = byIndex.get(f.doc.shard.index);
    if (other !== undefined) throw new ShardError(`shard ${f.doc.shard.index}/${n} is given twice: ${other.path} and ${f.path}`);
    byIndex.set(f.doc.shard.index, f);
  }
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new ShardError(`missing shard(s) ${missing.map((i) => `${i}/${n}`).join(', ')} (have ${[...byIndex.keys()].sort((a, b) => a - b).map((i) => `${i}/${n}`).join(', ')})`);
  }

  const absent = (ref.plugins ?? []).filter((p) => p.sha256 !== null && !plugins.some((q) => q.sha256 === p.sha256));
  if (absent.length > 0) {
    const list = (ps: readonly PluginIdentity[]): string => ps.map((p) => `${p.file} (sha256 ${p.sha256 === null ? 'none' : `${p.sha256.slice(0, 12)}…`})`).join(', ');
    const given = plugins.length === 0 ? 'none was given' : `--plugin gave ${list(plugins)}`;
    throw new ShardError(`${first.path}: the shards ran with plugin(s) ${list(absent)} and ${given}; merge with the same file(s): meshsim merge … --plugin FILE`);
  }
  let loaded: LoadedScenario;
  try {
    loaded = parseScenarioText(ref.scenario.source, ref.scenario.file, { sweep: ref.options.sweep });
  } catch (e) {
    if (e instanceof ScenarioError) throw new ShardError(`${first.path}: the scenario stored in the shard report does not load: ${e.message}`);
    throw e;
  }
  let plan: RunPlan;
  try {
    plan = runPlan(loaded, { seed: ref.options.seed, seeds: ref.options.seeds, variants: ref.options.variants });
  } catch (e) {
    throw new ShardError(`${first.path}: the shard's options do not fit its scenario: ${(e as Error).message}`);
  }
  if (!isDeepStrictEqual(plan.variants.map((v) => v.name), ref.plan.variants) || !isDeepStrictEqual(plan.seeds, ref.plan.seeds)) {
    throw new ShardError(`${first.path}: the shard's plan (variants and seeds) is not the one its scenario and options give`);
  }
  const results = new Array<RunResult | undefined>(plan.runs.length);
  for (const f of files) {
    for (const r of f.doc.runs) {
      try {
        results[r.index] = runResultFromJSON(r.result, `runs[${r.index}].result`);
      } catch (e) {
        throw new ShardError(`${f.path}: invalid shard report: ${(e as Error).message}`);
      }
    }
  }
  const gaps = results.findIndex((r) => r === undefined);
  if (gaps >= 0) throw new ShardError(`run ${gaps} is in no shard`); // unreachable when every shard checked out
  return { loaded, source: ref.scenario.source, output: assembleOutput(plan, results as RunResult[]), shards: n, plugins: ref.plugins ?? [] };
}
