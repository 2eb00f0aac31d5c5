/**
 * `meshsim policies` (src/cli/policies.ts): every balancer of the registry, every failover
 * mechanism the schema takes under mesh.failover, every retry budget kind and both
 * backoffs, each with what it follows; 80 columns wide.
 */
import { describe, expect, it } from 'vitest';
import { balancers } from '../../src/algorithms/registry.js';
import { policiesText } from '../../src/cli/policies.js';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cli, tempFiles } from './_run.js';

const { fresh } = tempFiles('meshsim-policies-');

describe('meshsim policies', () => {
  it('lists every registered balancer, with a summary and what it follows', () => {
    const text = policiesText();
    for (const kind of balancers.keys()) expect(text).toMatch(new RegExp(`^  ${kind}\\n      \\S`, 'm'));
    expect(text.match(/^ {6}follows: /gm)?.length).toBeGreaterThanOrEqual(balancers.size + 8 + 5 + 2);
  });

  it('lists the failover mechanisms (the keys of mesh.failover), the retry budgets and the backoffs', () => {
    const text = policiesText();
    for (const key of ['timeout', 'perTryTimeout', 'retries', 'hedge', 'circuitBreaker', 'outlierDetection', 'healthCheck', 'adaptiveThrottling']) expect(text).toMatch(new RegExp(`^  ${key}$`, 'm'));
    for (const kind of ['envoy-budget', 'envoy-max-retries', 'linkerd', 'finagle', 'grpc-throttling']) expect(text).toMatch(new RegExp(`^  ${kind}$`, 'm'));
    expect(text).toMatch(/^ {2}grpc$/m);
  });

  it('prints it, exit 0, no line wider than 80 columns', async () => {
    const r = await cli('policies');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(policiesText());
    expect(r.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
  });

  it('--check property-tests the plugins\' balancers (or all of them): a line each, exit 1 with the failure when one breaks the contract', async () => {
    const good = await cli('policies', '--check', '--runs', '10', '--plugin', resolve(__dirname, '../../examples/plugin/fewest-active.mjs'));
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toBe(
      'fewest-active: keeps the balancer contract (options, valid picks, nothing to pick, deterministic, world-agnostic; 10 cases each)\n1 of 1 balancer(s) keep the contract\n',
    );
    const file = fresh('coin-flip.mjs');
    const zod = pathToFileURL(resolve(__dirname, '../../node_modules/zod/index.js')).href;
    writeFileSync(
      file,
      `import { z } from '${zod}';\nexport default { kind: 'coin-flip', family: 'balancing', summary: 's', follows: 'f', config: z.strictObject({}),\n` +
        `  create: () => { let n = 0; return { rebuild(e) { n = e.length; }, pick() { return n > 0 ? Math.floor(Math.random() * n) : -1; }, onStart() {}, onEnd() {} }; } };\n`,
    );
    const bad = await cli('policies', '--check', '--plugin', file);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^coin-flip: FAILS valid picks: Property failed after 1 tests\n[\s\S]*the policy called Math\.random\(\); draw from ports\.rng\.next\(\)[\s\S]*\n0 of 1 balancer\(s\) keep the contract; 1 breaks it\n$/);
    const all = await cli('policies', '--check', '--runs', '3');
    expect(all.code).toBe(1); // coin-flip is registered in this process now, and breaks it
    expect(all.stdout).toMatch(new RegExp(`^${balancers.size - 1} of ${balancers.size} balancer\\(s\\) keep the contract; 1 breaks it$`, 'm'));
    expect(all.stdout).toMatch(/^p2c: keeps the balancer contract/m);
    const misuse = await cli('policies', '--runs', '3');
    expect(misuse).toMatchObject({ code: 2, stderr: 'meshsim: --runs goes with --check\n' });
  });
});
