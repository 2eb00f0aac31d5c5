/**
 * docs/writing-a-policy.md as printed: its `my-policy.mjs` is a working plugin (default
 * export, as section 3 requires and the test snippet imports), it keeps the balancer
 * contract through `meshsim policies --check` and through the snippet's checkBalancer
 * calls, and a scenario naming its kind runs with it; the snippet imports what it uses.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBalancer } from '../src/testing.js';
import { cli } from './cli/_run.js';
import { tinyScenario } from './_tiny-scenario.js';

const ROOT = resolve(__dirname, '..');
const DOC = readFileSync(join(ROOT, 'docs/writing-a-policy.md'), 'utf8');
const blocks = [...DOC.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
const pluginText = blocks.find((b) => b.startsWith('// my-policy.mjs'));
const snippet = blocks.find((b) => b.includes('checkBalancer(myPolicy'));

// The plugin in a folder of its own, as a user saves it; `zod` resolves as in a project
// that installed meshsim (its node_modules).
const DIR = mkdtempSync(join(tmpdir(), 'meshsim-doc-policy-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));
symlinkSync(join(ROOT, 'node_modules'), join(DIR, 'node_modules'), 'dir');
const PLUGIN = join(DIR, 'my-policy.mjs');
writeFileSync(PLUGIN, pluginText ?? '');

describe('docs/writing-a-policy.md', () => {
  it('shows my-policy.mjs whole, with a default export, and a test snippet that imports what it uses', () => {
    expect(pluginText).toBeDefined();
    expect(pluginText).toMatch(/^export default \{/m);
    expect(pluginText).not.toMatch(/^export const/m);
    expect(snippet).toBeDefined();
    expect(snippet).toContain("import myPolicy from './my-policy.mjs';");
    expect(snippet).toMatch(/^import \{ test \} from 'vitest';$/m);
    expect(snippet).toMatch(/^import \{ checkBalancer \} from 'meshsim\/testing';$/m);
  });

  it('its plugin keeps the contract: meshsim policies --check --plugin my-policy.mjs', async () => {
    const r = await cli('policies', '--check', '--plugin', PLUGIN, '--runs', '20');
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('my-policy: keeps the balancer contract');
    expect(r.code).toBe(0);
  });

  it("its test snippet's checks pass on the module's default export", async () => {
    const myPolicy = ((await import(pathToFileURL(PLUGIN).href)) as { default: Parameters<typeof checkBalancer>[0] }).default;
    expect(checkBalancer(myPolicy).kind).toBe('my-policy');
    expect(checkBalancer(myPolicy, { options: { choices: 5 }, runs: 100 }).properties).toHaveLength(5);
  });

  it('a scenario naming its kind runs with --plugin', async () => {
    const scenario = join(DIR, 'my-scenario.yaml');
    writeFileSync(scenario, tinyScenario({ name: 'my-policy', seeds: 1, variants: { p2c: '{ mesh.balancer: { kind: p2c } }', mine: '{ mesh.balancer: { kind: my-policy, choices: 4 } }' } }));
    const r = await cli('run', scenario, '--plugin', PLUGIN, '--no-html', '--workers', '1', '--out', join(DIR, 'out'));
    expect(r.stderr).not.toMatch(/error|warning/);
    expect(r.stdout).toMatch(/^mine /m);
    expect(r.code).toBe(0);
  });
});
