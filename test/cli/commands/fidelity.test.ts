/**
 * `meshsim fidelity` through the CLI: a short run (no calibration, to stay quick) writes
 * fidelity.json (meshsim/fidelity@1), fidelity.md and both worlds' reports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { liveChildren } from '../../../src/live/process.js';
import { cli, STACK_LINE, tempFiles } from '../_run.js';
import { tinyScenario } from '../../_tiny-scenario.js';

const { writeScenario, fresh } = tempFiles('meshsim-cli-fidelity-');

afterEach(() => {
  expect(liveChildren()).toEqual([]);
});

describe('meshsim fidelity', () => {
  it('writes fidelity.json and fidelity.md side by side, and both worlds\' reports', async () => {
    const file = writeScenario(tinyScenario({ name: 'fid-cli', duration: '1500ms', seeds: 2, variants: { rr: '{}', rand: '{ mesh.balancer: { kind: random } }' } }));
    const dir = fresh('fid');
    const out = await cli('fidelity', file, '--out', dir, '--no-calibrate', '--no-progress', '--format', 'json');
    expect(out.stderr).not.toMatch(STACK_LINE);
    expect(out.code).toBe(0);
    type Share = { sim: number; live: number };
    type Variant = { name: string; requests: { sim: number; live: number }; p50: { sim: number; live: number; error: number }; shares: Share[]; estimate: { requests: number; range: { p50: { min: number; max: number } }; shares: Share[] } };
    const f = JSON.parse(out.stdout) as { schema: string; verdicts: string; calibration: unknown; sim: { seeds: number[]; compared: number[] }; live: { seeds: number[] }; variants: Variant[]; ranking: { metric: string }[] };
    expect(f.schema).toBe('meshsim/fidelity@1');
    expect(f.calibration).toBeNull();
    expect(f.sim.seeds).toEqual([3, 4]);
    expect(f.live.seeds).toEqual([3]);
    // The verdicts compare live with the simulation of its own seed...
    expect(f.verdicts).toBe('same-seeds');
    expect(f.sim.compared).toEqual([3]);
    expect(f.variants.map((v) => v.name)).toEqual(['rr', 'rand']);
    for (const v of f.variants) {
      expect(v.p50.error).toBeCloseTo(v.p50.sim / v.p50.live - 1, 5);
      expect(v.shares).toHaveLength(2);
      // ...which draws the live run's arrivals (the same request count) and, for these
      // balancers that ignore load, the same picks: the same shares but for the odd request
      // sent within a millisecond of a window edge, which the proxy's real clock may count
      // on the other side (two independent runs of ≈ 250 requests differ by ≈ 4.5 pt).
      expect(v.requests.sim).toBe(v.requests.live);
      for (const s of v.shares) expect(Math.abs(s.sim - s.live)).toBeLessThanOrEqual(0.015);
      // The estimate over both seeds is beside it, with its range.
      expect(v.estimate.shares).toHaveLength(2);
      expect(v.estimate.range.p50.min).toBeLessThanOrEqual(v.estimate.range.p50.max);
    }
    expect(f.ranking.map((r) => r.metric)).toEqual(['p50', 'p90', 'p99', 'successRate', 'attemptsPerRequest']);
    expect(JSON.parse(readFileSync(join(dir, 'fidelity.json'), 'utf8'))).toEqual(f);
    expect(readFileSync(join(dir, 'fidelity.md'), 'utf8')).toMatch(/## Side by side/);
    for (const side of ['sim', 'live']) expect(existsSync(join(dir, side, 'report.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'live', 'report.json'), 'utf8'))).toMatchObject({ mode: 'live' });
  }, 60_000);
});
