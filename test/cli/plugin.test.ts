/**
 * `--plugin FILE` (run, validate, policies, schema, proxy): the example plugin's kind runs
 * like a built-in one, byte-identical on worker threads; without the plugin, or with a bad
 * one, the command exits 2 naming what is wrong, without a stack trace.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, STACK_LINE, tempFiles } from './_run.js';

const ROOT = resolve(__dirname, '../..');
const PLUGIN = join(ROOT, 'examples/plugin/fewest-active.mjs');
const SCENARIO = join(ROOT, 'examples/plugin/scenario.yaml');
const { fresh } = tempFiles('meshsim-plugin-cli-');

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
