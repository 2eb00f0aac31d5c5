/**
 * `meshsim run` with a sweep, in-process through `main(argv, io)`: the sample scenario's grid
 * runs as variants, byte-identical across runs; `--sweep` adds or replaces axes; `--variant`
 * picks expanded names; bad sweeps exit 2 naming the path, without a stack trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './_run.js';

const ROOT = resolve(__dirname, '../..');
const SAMPLE = join(ROOT, 'scenarios/sweep-retries.yaml');
const TMP = mkdtempSync(join(tmpdir(), 'meshsim-sweep-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => join(TMP, `out-${counter++}`);


interface ReportLike {
  seeds: number[];
  variants: Array<{ name: string; summary: { successRate: number; attemptsPerRequest: number } & Record<string, unknown> }>;
}
const readReport = (dir: string): ReportLike => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportLike;

const GRID = ['max-0_budgetPercent-100pct', 'max-0_budgetPercent-20pct', 'max-1_budgetPercent-100pct', 'max-1_budgetPercent-20pct', 'max-2_budgetPercent-100pct', 'max-2_budgetPercent-20pct'];

describe('meshsim run: sweeps', () => {
  it('runs scenarios/sweep-retries.yaml: every grid point a variant, the same bytes twice', async () => {
    const a = fresh();
    const b = fresh();
    const first = await cli('run', SAMPLE, '--out', a);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('sweep-retries: 6 variant(s) × 3 seed(s)');
    const report = readReport(a);
    expect(report.variants.map((v) => v.name)).toEqual(GRID);
    expect(report.seeds).toEqual([3, 4, 5]);
    expect((await cli('run', SAMPLE, '--out', b)).code).toBe(0);
    expect(readFileSync(join(b, 'report.json'), 'utf8')).toBe(readFileSync(join(a, 'report.json'), 'utf8'));
  });

  it('--sweep replaces a file axis, and --variant picks expanded names', async () => {
    const out = fresh();
    const r = await cli('run', SAMPLE, '--out', out, '--seeds', '1', '--sweep', 'mesh.failover.retries.max=0,3', '--variant', 'max-3_budgetPercent-20pct', 'max-0_budgetPercent-20pct');
    expect(r.code).toBe(0);
    expect(readReport(out).variants.map((v) => v.name)).toEqual(['max-0_budgetPercent-20pct', 'max-3_budgetPercent-20pct']);
  });

  it('--sweep with flow mappings adds an axis', async () => {
    const r = await cli('validate', SAMPLE, '--sweep', 'mesh.balancer={kind: p2c},{kind: random}');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('12 variant(s): max-0_budgetPercent-100pct_balancer-p2c, max-0_budgetPercent-100pct_balancer-random,');
  });

  it('bad sweeps exit 2 naming the path, with no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--sweep', 'mesh.failover.retries.maxx=1,2'], /--sweep mesh\.failover\.retries\.maxx: unknown key; did you mean 'max'\?/],
      [['--sweep', 'mesh.failover.retries.max=0,-1'], /--sweep mesh\.failover\.retries\.max: expected a number ≥ 0; got -1/],
      [['--sweep', 'mesh.balancer'], /expected PATH=VALUES/],
      [['--sweep', 'mesh.balancer='], /no values after 'mesh\.balancer='/],
      [['--sweep', 'a.b=1', '--sweep', 'a.b=2'], /a\.b is swept twice/],
      [['--variant', 'max-9'], /unknown variant "max-9"/],
    ];
    for (const [extra, pattern] of cases) {
      const r = await cli('run', SAMPLE, '--out', fresh(), ...extra);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
  });

  it('--help documents --sweep with an example', async () => {
    const r = await cli('run', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--sweep <path=values>');
    expect(r.stdout).toContain("--sweep 'mesh.balancer={kind: p2c},{kind: random}'");
  });
});
