/**
 * `meshsim live` through the CLI: a short real run writes a valid
 * report (mode: live) that `meshsim compare` accepts beside a simulated one; bad input
 * exits 2 naming the problem, before any process starts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { liveChildren } from '../../../src/live/process.js';
import { cli, STACK_LINE, tempFiles } from '../_run.js';
import { tinyScenario } from '../../_tiny-scenario.js';

const { writeScenario, fresh } = tempFiles('meshsim-cli-live-');

afterEach(() => {
  expect(liveChildren()).toEqual([]);
});

const SHORT = tinyScenario({ name: 'live-cli', duration: '1500ms', seeds: 2, variants: { rr: '{}', rand: '{ mesh.balancer: { kind: random } }' } });

describe('meshsim live', () => {
  it('writes report.json (mode: live), report.md and index.html that meshsim compare accepts beside a simulation', async () => {
    const file = writeScenario(SHORT);
    const liveDir = fresh('live');
    const live = await cli('live', file, '--out', liveDir, '--no-progress');
    expect(live.stderr).not.toMatch(STACK_LINE);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/live-cli \(live\): 2 variant\(s\) × 1 run\(s\)/);
    const report = JSON.parse(readFileSync(join(liveDir, 'report.json'), 'utf8')) as { schema: string; mode: string; seeds: number[]; variants: { name: string; summary: { requests: { total: number } } }[] };
    expect(report).toMatchObject({ schema: 'meshsim/report@1', mode: 'live', seeds: [3] });
    expect(report.variants.map((v) => v.name)).toEqual(['rr', 'rand']);
    expect(report.variants.every((v) => v.summary.requests.total > 100)).toBe(true);
    expect(readFileSync(join(liveDir, 'report.md'), 'utf8')).toMatch(/mode: live/);
    // The HTML report too, as `meshsim run` writes it, saying it is a live measurement.
    expect(readFileSync(join(liveDir, 'index.html'), 'utf8')).toMatch(/mode live/);
    expect(live.stderr).toMatch(/report\.md and index\.html/);

    const simDir = fresh('sim');
    expect((await cli('run', file, '--out', simDir, '--seeds', '1')).code).toBe(0);
    const cmp = await cli('compare', simDir, liveDir, '--format', 'json');
    expect(cmp.stderr).toBe('');
    expect(cmp.code).toBe(0);
    const comparison = JSON.parse(cmp.stdout) as { pairs: unknown[] };
    expect(comparison.pairs).toHaveLength(2);
  }, 60_000);

  it('refuses an unknown variant and a bad --seeds: exit 2, nothing started', async () => {
    const file = writeScenario(SHORT);
    const v = await cli('live', file, '--variant', 'nope', '--out', fresh('v'));
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/unknown variant "nope"/);
    const s = await cli('live', file, '--seeds', '0');
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--seeds/);
    const f = await cli('fidelity', file, '--variant', 'nope', '--out', fresh('f'));
    expect(f.code).toBe(2);
    expect(f.stderr).not.toMatch(STACK_LINE);
    expect(liveChildren()).toEqual([]);
  });

  it('has help with examples and exit codes', async () => {
    for (const cmd of ['live', 'fidelity']) {
      const h = await cli(cmd, '--help');
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Examples:/);
      expect(h.stdout).toMatch(/Exit codes:[\s\S]*130/);
    }
    // A sim and a live report of one scenario compare as they are (the first test): no --force in the example.
    const live = await cli('live', '--help');
    expect(live.stdout).toMatch(/meshsim compare \/tmp\/sim reports\/fidelity-balancers-live\n/);
    expect(live.stdout).not.toContain('--force');
  });
});
