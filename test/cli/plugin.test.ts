/**
 * `--plugin FILE` (run, validate, merge, policies, schema, proxy, live): the example
 * plugin's kind runs like a built-in one, byte-identical on worker threads and through
 * shards and merge, live in the proxies' process; the report records the plugin's file,
 * sha256 and kinds. Without the plugin, or with a bad one, the command exits 2 naming
 * what is wrong, without a stack trace.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { liveChildren } from '../../src/live/process.js';
import { cli, STACK_LINE, tempFiles } from './_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

const ROOT = resolve(__dirname, '../..');
const PLUGIN = join(ROOT, 'examples/plugin/fewest-active.mjs');
const SCENARIO = join(ROOT, 'examples/plugin/scenario.yaml');
const { fresh, writeScenario } = tempFiles('meshsim-plugin-cli-');
const IDENTITY = { file: 'fewest-active.mjs', sha256: createHash('sha256').update(readFileSync(PLUGIN)).digest('hex'), kinds: ['fewest-active'] };

describe('meshsim --plugin', () => {
  // First: a plugin once loaded stays registered for the rest of this file's process.
  it('without the plugin, the scenario is refused naming the kind and the option that loads it', async () => {
    const r = await cli('validate', SCENARIO);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mesh\.balancer\.kind: unknown balancer kind 'fewest-active'.*or a plugin's kind \(load it with --plugin FILE\)/);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('runs the example scenario with the plugin, and worker threads give the report.json of an in-process run', async () => {
    const one = fresh('one');
    const two = fresh('two');
    const common = ['--plugin', PLUGIN, '--seeds', '2', '--no-html', '--format', 'json'];
    const a = await cli('run', SCENARIO, ...common, '--out', one, '--workers', '1');
    expect(a.stderr).not.toMatch(STACK_LINE);
    expect(a.code).toBe(0);
    const b = await cli('run', SCENARIO, ...common, '--out', two, '--workers', '2');
    expect(b.code).toBe(0);
    const report = readFileSync(join(one, 'report.json'), 'utf8');
    expect(readFileSync(join(two, 'report.json'), 'utf8')).toBe(report);
    const parsed = JSON.parse(report) as { variants: { name: string; summary: { successRate: number } }[]; assertions: { pass: boolean }[] };
    expect(parsed.variants.map((v) => v.name)).toEqual(['round-robin', 'p2c', 'fewest-active', 'fewest-active-5']);
    // Load-aware, it keeps requests off the slow instance: all succeed, where round robin loses ~10%.
    expect(parsed.variants[2].summary.successRate).toBeGreaterThan(0.999);
    expect(parsed.variants[0].summary.successRate).toBeLessThan(0.95);
    expect(parsed.assertions.map((r) => r.pass)).toEqual([true]);
    // The report says which code made its figures.
    expect((JSON.parse(report) as { plugins: unknown }).plugins).toEqual([IDENTITY]);
    expect(readFileSync(join(one, 'report.md'), 'utf8')).toContain(`- plugins: fewest-active.mjs (fewest-active; sha256 \`${IDENTITY.sha256}\`)`);
    // compare prints each report's plugins, so two versions of a policy's code are told apart.
    const cmp = await cli('compare', one, two, '--format', 'md');
    expect(cmp.code).toBe(0);
    expect(cmp.stdout).toContain(`, plugin fewest-active.mjs \`${IDENTITY.sha256.slice(0, 12)}…\``);
  }, 60_000);

  it('shards record the plugin, and merge with it gives the report.json of one run', async () => {
    const shards = fresh('shards');
    const whole = fresh('whole');
    const merged = fresh('merged');
    const common = ['--plugin', PLUGIN, '--seeds', '2', '--no-html', '--format', 'json', '--variant', 'p2c', 'fewest-active'];
    expect((await cli('run', SCENARIO, ...common, '--out', whole)).code).toBe(0);
    const shardArgs = common.filter((arg, i) => arg !== '--format' && common[i - 1] !== '--format'); // a shard prints no report
    for (const i of [1, 2]) expect((await cli('run', SCENARIO, ...shardArgs, '--shard', `${i}/2`, '--out', shards)).code).toBe(0);
    const shard = JSON.parse(readFileSync(join(shards, 'shard-1-of-2.json'), 'utf8')) as { plugins: unknown };
    expect(shard.plugins).toEqual([IDENTITY]);
    const m = await cli('merge', shards, '--plugin', PLUGIN, '--out', merged, '--no-html', '--format', 'json');
    expect(m.stderr).not.toMatch(STACK_LINE);
    expect(m.code).toBe(0);
    expect(readFileSync(join(merged, 'report.json'), 'utf8')).toBe(readFileSync(join(whole, 'report.json'), 'utf8'));
  }, 60_000);

  it('live: the proxies, in their own process, load the plugin and run its policy on real sockets', async () => {
    const file = writeScenario(tinyScenario({ name: 'live-plugin', duration: '1500ms', variants: { mine: '{ mesh.balancer: { kind: fewest-active } }' } }));
    const dir = fresh('live');
    const live = await cli('live', file, '--plugin', PLUGIN, '--out', dir, '--no-progress', '--no-html');
    expect(live.stderr).not.toMatch(STACK_LINE);
    expect(live.code).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { mode: string; plugins: unknown; variants: { summary: { requests: { total: number }; successRate: number } }[] };
    expect(report).toMatchObject({ mode: 'live', plugins: [IDENTITY] });
    expect(report.variants[0].summary.requests.total).toBeGreaterThan(100);
    expect(report.variants[0].summary.successRate).toBe(1);
    expect(liveChildren()).toEqual([]);
  }, 60_000);

  it('validate, policies and schema take it too', async () => {
    const v = await cli('validate', SCENARIO, '--plugin', PLUGIN);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('variant(s): round-robin, p2c, fewest-active, fewest-active-5');
    const p = await cli('policies', '--plugin', PLUGIN);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/fewest-active\n\s+The fewest requests in flight of `choices` random healthy endpoints/);
    const s = await cli('schema', '--plugin', PLUGIN);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('"fewest-active"');
  });

  it('a missing or broken plugin is exit 2 naming the file, before anything runs', async () => {
    const out = fresh('never');
    const missing = await cli('run', SCENARIO, '--plugin', 'nope.mjs', '--out', out);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toBe('meshsim: plugin nope.mjs: no such file\n');
    const broken = await cli('run', SCENARIO, '--plugin', SCENARIO, '--out', out);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`meshsim: plugin ${SCENARIO}: cannot load it:`);
    expect(broken.stderr).not.toMatch(STACK_LINE);
    const proxy = await cli('proxy', '--config', 'nope.yaml', '--plugin', 'nope.mjs');
    expect(proxy.stderr).toBe('meshsim: plugin nope.mjs: no such file\n');
    expect(proxy.code).toBe(2);
  });
});

describe('meshsim --plugin: a plugin that breaks its contract', () => {
  it('a pick past the endpoints stops the run, in-process and on worker threads: exit 2 naming the kind, the file, the seed and the index, nothing written', async () => {
    // The example plugin, off by one: an index one past the last endpoint instead of 0.
    const dir = fresh('offbyone');
    const source = readFileSync(PLUGIN, 'utf8').replace('return best;', 'return best === 0 ? this.ids.length : best;').replaceAll("'fewest-active'", "'off-by-one'");
    const plugin = writeScenario(source, 'off-by-one.mjs');
    const scenario = writeScenario(tinyScenario({ variants: { off: '{ mesh.balancer: { kind: off-by-one } }' } }), 'off.yaml');
    for (const workers of ['1', '2']) {
      const r = await cli('run', scenario, '--plugin', plugin, '--out', dir, '--workers', workers, '--seeds', '2');
      expect(r.code, `--workers ${workers}`).toBe(2);
      expect(r.stderr, `--workers ${workers}`).toMatch(
        /^meshsim: .*off\.yaml: seed \d+: balancer "off-by-one" \(a plugin\) broke its contract: pick\(\) returned (\d+); expected the index of one of the \1 endpoint\(s\) of its last rebuild\(\) \(0 to \d+\), or -1 for none \(docs\/writing-a-policy\.md\)\n$/,
      );
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
