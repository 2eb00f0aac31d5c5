/**
 * Shard reports: shards 1..n of a run, written, read back and merged, rebuild the single
 * run's report.json byte for byte (for n from 1 to more than the runs); and every way a set
 * of shards can fail to add up is refused with a message naming the file and the problem.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { withAssertions } from '../../src/report/assertions.js';
import { buildReport, reportJson } from '../../src/report/report.js';
import { parseRule } from '../../src/scenario/assert.js';
import { buildShard, mergeShards, parseShard, SHARD_SCHEMA, shardFileName, shardJson, ShardError, type ShardDocument, type ShardFile } from '../../src/report/shard.js';
import { shardRuns } from '../../src/runner/plan.js';
import { executePlan, runScenario, type ExecutedPlan } from '../../src/runner/run.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import type { LoadedScenario } from '../../src/scenario/types.js';
import { VERSION } from '../../src/version.js';
import { richScenario } from '../_rich-scenario.js';
import { tinyScenario } from '../_tiny-scenario.js';

interface Case {
  readonly source: string;
  readonly loaded: LoadedScenario;
  readonly executed: ExecutedPlan;
  readonly single: string;
}

const cases = new Map<string, Case>();
/** Simulates each (scenario, seeds, variants) once; shards are slices of that execution. */
async function caseOf(source: string, seeds?: number, variants?: readonly string[]): Promise<Case> {
  const key = JSON.stringify([source, seeds, variants]);
  const hit = cases.get(key);
  if (hit) return hit;
  const loaded = parseScenarioText(source, 'scenario.yaml');
  const executed = await executePlan(loaded, { workers: 1, seeds, variants });
  const single = reportJson(buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, runScenario(loaded, { seeds, variants })));
  const c = { source, loaded, executed, single };
  cases.set(key, c);
  return c;
}

function shardText(c: Case, index: number, count: number, options: { seeds?: number; variants?: readonly string[] } = {}): string {
  const runs = shardRuns(c.executed.runs, { index, count });
  return shardJson(buildShard(c.loaded, c.source, options, c.executed.plan, { index, count }, runs));
}

const file = (path: string, text: string): ShardFile => ({ path, doc: parseShard(text, path) });
const shardsOf = (c: Case, n: number, options = {}): ShardFile[] =>
  Array.from({ length: n }, (_, i) => file(`s/${shardFileName({ index: i + 1, count: n })}`, shardText(c, i + 1, n, options)));
const mergedJson = (files: readonly ShardFile[]): string => {
  const m = mergeShards(files);
  return reportJson(buildReport({ name: m.loaded.base.name, sha256: m.loaded.sha256 }, m.output));
};

describe('merge identity', () => {
  // Up to 3 variants × 3 seeds of ~300 requests: each case simulates once (cached).
  test.prop(
    [
      fc.constantFrom(richScenario(), tinyScenario()),
      fc.integer({ min: 1, max: 3 }),
      fc.subarray(['rr', 'p2c', 'lr'], { minLength: 1 }),
      fc.integer({ min: 1, max: 12 }),
      fc.boolean(),
    ],
    { numRuns: 25, seed: 11 },
  )('shards 1..n merged ≡ one run, byte for byte (any n, any order of the files)', async (source, seeds, picked, n, reverse) => {
    const variants = source === tinyScenario() ? undefined : picked;
    const c = await caseOf(source, seeds, variants);
    const files = shardsOf(c, n, { seeds, variants });
    expect(mergedJson(reverse ? [...files].reverse() : files)).toBe(c.single);
  });

  it('holds for n greater than the number of runs (empty shards)', async () => {
    const c = await caseOf(tinyScenario({ seeds: 1 }));
    expect(c.executed.runs).toHaveLength(2);
    const files = shardsOf(c, 5);
    expect(files.map((f) => f.doc.runs.length)).toEqual([1, 1, 0, 0, 0]);
    expect(mergedJson(files)).toBe(c.single);
  });

  it('holds for every interval of summary.ci: counts, maxima and failover counters, computed again from the merged runs', async () => {
    const c = await caseOf(richScenario(), 3);
    const single = JSON.parse(c.single) as ReturnType<typeof buildReport>;
    const ci = single.variants[0].summary.ci;
    for (const key of ['requests', 'rejected', 'timedOut', 'errorsResetsConnectFailures', 'max', 'maxOverMean', 'retries', 'ejections']) {
      expect(ci).toHaveProperty(key);
      expect(ci[key as keyof typeof ci]).not.toBeNull();
    }
    for (const n of [2, 5]) expect(mergedJson(shardsOf(c, n, { seeds: 3 }))).toBe(c.single);
  });

  it('holds with assert: rules, one of them skipped (its variant left out by --variant)', async () => {
    const variants = ['rr', 'p2c'];
    const c = await caseOf(richScenario(), 1, variants);
    const rules = [parseRule('p99 < 1s'), parseRule('p99 < 1s', 'lr')].map((r) => {
      if (!r.ok) throw new Error(r.message);
      return r.rule;
    });
    const single = withAssertions(JSON.parse(c.single) as ReturnType<typeof buildReport>, rules);
    expect(single.assertions?.map((a) => [a.variant, a.skipped ?? false])).toEqual([
      ['rr', false],
      ['p2c', false],
      ['lr', true],
    ]);
    const m = mergeShards(shardsOf(c, 2, { seeds: 1, variants }));
    expect(reportJson(withAssertions(buildReport({ name: m.loaded.base.name, sha256: m.loaded.sha256 }, m.output), rules))).toBe(reportJson(single));
  });

  it('records the scenario identity, the plan and the shard', async () => {
    const c = await caseOf(richScenario());
    const doc = JSON.parse(shardText(c, 2, 3)) as ShardDocument;
    expect(doc.schema).toBe(SHARD_SCHEMA);
    expect(doc.generator).toBe(`meshsim ${VERSION}`);
    expect(doc.scenario).toEqual({ name: 'rich', sha256: c.loaded.sha256, file: 'scenario.yaml', source: c.source });
    expect(doc.plan).toEqual({ variants: ['rr', 'p2c', 'lr'], seeds: [7, 8], runs: 6 });
    expect(doc.shard).toEqual({ index: 2, count: 3 });
    expect(doc.runs.map((r) => [r.index, r.variant, r.seed])).toEqual([
      [1, 'rr', 8],
      [4, 'lr', 7],
    ]);
  });
});

describe('refusals', () => {
  const refuse = (fn: () => unknown, message: RegExp): void => {
    expect(fn).toThrow(ShardError);
    expect(fn).toThrow(message);
  };

  it('shards of different scenarios, options, plans or shard counts', async () => {
    const a = await caseOf(tinyScenario());
    const b = await caseOf(tinyScenario({ name: 'other' }));
    const c = await caseOf(tinyScenario({ duration: '1s' }));
    refuse(() => mergeShards([file('a1', shardText(a, 1, 2)), file('b2', shardText(b, 2, 2))]), /b2 and a1 are shards of different scenarios: "other" .* vs "tiny"/);
    refuse(() => mergeShards([file('a1', shardText(a, 1, 2)), file('c2', shardText(c, 2, 2))]), /different scenarios: "tiny" \(sha256 [0-9a-f]{12}…\) vs "tiny"/);
    const a1seeds = await caseOf(tinyScenario(), 1);
    refuse(() => mergeShards([file('a1', shardText(a, 1, 2)), file('x2', shardText(a1seeds, 2, 2, { seeds: 1 }))]), /x2 and a1 are shards of different runs: the options/);
    refuse(() => mergeShards([file('a1', shardText(a, 1, 2)), file('a3', shardText(a, 3, 3))]), /a3 is shard 3\/3 but a1 is shard 1\/2: all shards must be of the same n/);
  });

  it('missing and duplicate shards', async () => {
    const a = await caseOf(tinyScenario());
    refuse(() => mergeShards([file('one', shardText(a, 1, 3)), file('three', shardText(a, 3, 3))]), /missing shard\(s\) 2\/3 \(have 1\/3, 3\/3\)/);
    refuse(() => mergeShards([file('x', shardText(a, 1, 2)), file('y', shardText(a, 1, 2)), file('z', shardText(a, 2, 2))]), /shard 1\/2 is given twice: x and y/);
    refuse(() => mergeShards([]), /no shard reports to merge/);
  });

  it('unknown schema versions, reports and other documents', async () => {
    const a = await caseOf(tinyScenario());
    const text = shardText(a, 1, 1);
    refuse(() => parseShard(text.replace(SHARD_SCHEMA, 'meshsim/shard@2'), 'f.json'), /f\.json: unsupported shard report version "meshsim\/shard@2"; this meshsim \(.*\) reads meshsim\/shard@1/);
    refuse(() => parseShard('{"schema":"meshsim/report@1"}', 'r.json'), /r\.json: is a report \(meshsim\/report@1\), not a shard report/);
    refuse(() => parseShard('{"hello":1}', 'h.json'), /h\.json: invalid shard report: schema: expected "meshsim\/shard@1", got undefined/);
    refuse(() => parseShard('[]', 'h.json'), /the document: expected an object/);
  });

  it('corrupt files: truncated, edited results, edited source, runs of another shard', async () => {
    const a = await caseOf(richScenario());
    const text = shardText(a, 1, 2);
    refuse(() => parseShard(text.slice(0, text.length / 2), 'cut.json'), /cut\.json: not a shard report: invalid JSON .*corrupt or truncated/);
    const doc = JSON.parse(text) as { runs: { result: { requests: { total: number } } }[]; scenario: { source: string }; shard: { index: number } };
    const edited = structuredClone(doc);
    edited.runs[0].result.requests.total += 1;
    refuse(() => parseShard(JSON.stringify(edited), 'e.json'), /e\.json: corrupt shard report: its runs do not match their sha256/);
    const source = structuredClone(doc);
    source.scenario.source += '\n# changed';
    refuse(() => parseShard(JSON.stringify(source), 's.json'), /s\.json: corrupt shard report: scenario\.source does not match scenario\.sha256/);
    const moved = structuredClone(doc);
    moved.shard.index = 2;
    refuse(() => parseShard(JSON.stringify(moved), 'm.json'), /m\.json: invalid shard report: runs\[0\]: expected run 1 \(variant rr, seed 8\) of shard 2\/2/);
    const missingField = JSON.parse(text) as Record<string, unknown>;
    delete missingField.plan;
    refuse(() => parseShard(JSON.stringify(missingField), 'p.json'), /p\.json: invalid shard report: plan: expected an object with variants/);
    // Edited options (the sha256 seals the runs, not the options): each field checked, an error naming it.
    const options: [unknown, RegExp][] = [
      [{ sweep: 'abc' }, /o\.json: invalid shard report: options\.sweep: expected a list of \{ key, values \}/],
      [{ sweep: [null] }, /options\.sweep: expected a list of \{ key, values \}/],
      [{ sweep: [{ key: 'k', values: [] }] }, /options\.sweep: expected .*each values a non-empty list/],
      [{ variants: [1] }, /options\.variants: expected a list of variant names/],
      [{ variants: 'abc' }, /options\.variants: expected a list of variant names/],
      [{ seed: 'x' }, /options\.seed: expected a whole number/],
      [{ seeds: 0 }, /options\.seeds: expected a whole number ≥ 1/],
    ];
    for (const [value, message] of options) {
      const edited = JSON.parse(text) as Record<string, unknown>;
      edited.options = value;
      refuse(() => parseShard(JSON.stringify(edited), 'o.json'), message);
    }
  });

  it('shards run with other plugins than each other, or than merge was given', async () => {
    const a = await caseOf(tinyScenario());
    const mine = { file: 'mine.mjs', sha256: 'a'.repeat(64), kinds: ['mine'] };
    const edited = { ...mine, sha256: 'b'.repeat(64) };
    const withPlugins = (index: number, count: number, plugins: readonly (typeof mine)[]): string =>
      shardJson(buildShard(a.loaded, a.source, {}, a.executed.plan, { index, count }, shardRuns(a.executed.runs, { index, count }), plugins));
    const one = file('p1', withPlugins(1, 2, [mine]));
    expect(one.doc.plugins).toEqual([mine]);
    refuse(() => mergeShards([one, file('p2', withPlugins(2, 2, [edited]))], [mine]), /p2 and p1 are shards of different runs: the plugins \(file, sha256, kinds\) differ/);
    refuse(() => mergeShards([one, file('n2', withPlugins(2, 2, []))], [mine]), /n2 and p1 are shards of different runs: the plugins/);
    const both = [one, file('p2', withPlugins(2, 2, [mine]))];
    refuse(() => mergeShards(both), /p1: the shards ran with plugin\(s\) mine\.mjs \(sha256 aaaaaaaaaaaa…\) and none was given; merge with the same file\(s\)/);
    refuse(() => mergeShards(both, [edited]), /and --plugin gave mine\.mjs \(sha256 bbbbbbbbbbbb…\)/);
    // The same code under another file name is the same plugin; the merged run records the shards' plugins.
    expect(mergeShards(both, [{ ...mine, file: 'renamed.mjs' }]).plugins).toEqual([mine]);
    // Without plugins, no field: shard files of runs without plugins are as before.
    expect('plugins' in file('x', shardText(a, 1, 1)).doc).toBe(false);
    const bad = JSON.parse(withPlugins(1, 1, [mine])) as Record<string, unknown>;
    bad.plugins = [{ file: 'x.mjs', sha256: 7, kinds: [] }];
    refuse(() => parseShard(JSON.stringify(bad), 'b.json'), /b\.json: invalid shard report: plugins: expected an array of \{ file, sha256, kinds \}/);
  });

  it('shards of another meshsim version', async () => {
    const a = await caseOf(tinyScenario());
    const old = shardText(a, 1, 1).replace(`"generator":"meshsim ${VERSION}"`, '"generator":"meshsim 0.0.1"');
    refuse(() => mergeShards([file('old.json', old)]), /old\.json: written by meshsim 0\.0\.1; this is meshsim .*: merge with the version that ran the shards/);
  });

  it('a shard whose file changed while it was read is not written', async () => {
    const a = await caseOf(tinyScenario());
    refuse(() => buildShard(a.loaded, a.source + ' ', {}, a.executed.plan, { index: 1, count: 1 }, a.executed.runs), /the file changed while it was being read/);
  });
});
