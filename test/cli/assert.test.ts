/**
 * `meshsim run` with `assert:` rules (CI gates): exit 1 when one fails, after writing the
 * report; exit 0 when all pass; PASS/FAIL lines on stdout with the table and on stderr
 * with --format json or md (stdout stays pure); bad rules are bad input (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyScenario } from '../_tiny-scenario.js';
import { cli, STACK_LINE, tempFiles } from './_run.js';

const ROOT = resolve(__dirname, '../..');
const { fresh, writeScenario } = tempFiles('meshsim-assert-');

/** Small and quick: two variants, ~400 requests per run; `assert:` items appended. */
const TINY = tinyScenario();
const gated = (...rules: string[]): string => `${TINY}assert:\n${rules.map((r) => `  - ${r}\n`).join('')}`;
/** Line of the first `assert:` item in a {@link gated} scenario. */
const FIRST_RULE_LINE = TINY.split('\n').length + 1;

/** Rules every variant of TINY passes (a lightly loaded, fault-free fleet). */
const PASSING = ['p99 < 1s', 'successRate >= 99.9%', 'throughput > 100/s', 'attemptsPerRequest == 1', 'failed == 0', '{ variant: rand, rule: errorRate < 0.1% }'];




interface AssertionLike {
  rule: string;
  variant: string;
  metric: string;
  op: string;
  threshold: number;
  actual: number | null;
  pass: boolean;
  margin: number | null;
  reason?: string;
  skipped?: true;
}
interface ReportLike {
  assertions?: AssertionLike[];
  variants: Array<{ name: string; summary: { latencyMs: { p99: number | null; p50: number | null } } }>;
}
const readReport = (dir: string): ReportLike => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportLike;

describe('meshsim run with assert: rules', () => {
  it('all rules pass: exit 0, a PASS line per rule and variant, the results in report.json and report.md', async () => {
    const out = fresh('out');
    const r = await cli('run', writeScenario(gated(...PASSING)), '--out', out);
    expect(r.stderr).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
    expect(lines).toHaveLength(5 * 2 + 1);
    expect(lines.every((l) => l.startsWith('PASS '))).toBe(true);
    expect(r.stdout).toMatch(/^PASS p99 < 1s \(variant rr\): [\d.]+ ms, [\d.]+ ms under$/m);
    expect(r.stdout).toMatch(/^PASS errorRate < 0\.1% \(variant rand\): 0\.000%, 0\.100 points under$/m);
    expect(r.stdout).toMatch(/^assertions: all 11 passed$/m);
    const report = readReport(out);
    expect(report.assertions).toHaveLength(11);
    expect(report.assertions?.every((a) => a.pass && a.margin !== null && a.margin >= 0)).toBe(true);
    expect(report.assertions?.[0]).toEqual({
      rule: 'p99 < 1s',
      variant: 'rr',
      metric: 'p99',
      op: '<',
      threshold: 1000,
      actual: report.variants[0].summary.latencyMs.p99,
      pass: true,
      margin: Math.round((1000 - (report.variants[0].summary.latencyMs.p99 ?? 0)) * 1e6) / 1e6,
    });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('- assertions: all 11 passed');
    expect(md).toMatch(/^## Assertions$/m);
  });

  it('a failing rule: exit 1 after writing report.json and report.md, and the FAIL line says which variant and by how much', async () => {
    const out = fresh('out');
    const r = await cli('run', writeScenario(gated('p99 < 1s', '{ variant: rand, rule: p50 > 1h }')), '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
    expect(existsSync(join(out, 'report.md'))).toBe(true);
    expect(r.stderr).toMatch(/wrote .*report\.json, report\.md and index\.html/);
    const report = readReport(out);
    const p50 = report.variants[1].summary.latencyMs.p50 ?? NaN;
    const failed = report.assertions?.filter((a) => !a.pass);
    expect(failed).toEqual([
      { rule: 'p50 > 1h', variant: 'rand', metric: 'p50', op: '>', threshold: 3_600_000, actual: p50, pass: false, margin: Math.round((p50 - 3_600_000) * 1e6) / 1e6 },
    ]);
    expect(r.stdout).toMatch(/^FAIL p50 > 1h \(variant rand\): [\d.]+ ms, [\d.]+ ms under$/m);
    expect(r.stdout).toMatch(/^PASS p99 < 1s \(variant rr\)/m);
    expect(r.stdout).toMatch(/^assertions: 1 of 3 failed$/m);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('**1 of 3 failed**');
    expect(md).toMatch(/^\| ❌ \*\*FAIL\*\* \| `p50 > 1h` \| rand \|/m);
  });

  it('a rule on a figure a variant does not have fails with the reason', async () => {
    const out = fresh('out');
    const crashed = gated('p99 < 1s', 'retries < 10').replace('variants:', 'faults:\n  - { kind: crash, target: { service: api }, at: 0s }\nvariants:');
    const r = await cli('run', writeScenario(crashed), '--out', out, '--variant', 'rr');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL p99 < 1s (variant rr): no value: no request succeeded, so there is no latency');
    expect(r.stdout).toContain('FAIL retries < 10 (variant rr): no value: the variant has no retries counter (no retry policy in its mesh)');
    expect(readReport(out).assertions?.map((a) => [a.actual, a.margin, a.pass])).toEqual([
      [null, null, false],
      [null, null, false],
    ]);
  });

  it('--format json: stdout is exactly report.json, the PASS/FAIL lines go to stderr', async () => {
    const out = fresh('out');
    const r = await cli('run', writeScenario(gated('p99 < 1s', 'p50 > 1h')), '--out', out, '--format', 'json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(readFileSync(join(out, 'report.json'), 'utf8'));
    expect((JSON.parse(r.stdout) as ReportLike).assertions).toHaveLength(4);
    expect(r.stdout).not.toMatch(/^(PASS|FAIL) /m);
    expect(r.stderr).toMatch(/^FAIL p50 > 1h \(variant rr\)/m);
    expect(r.stderr).toMatch(/^PASS p99 < 1s \(variant rand\)/m);
  });

  it('--format md: stdout is only Markdown (the table and its intervals), the lines go to stderr', async () => {
    const r = await cli('run', writeScenario(gated(...PASSING)), '--out', fresh('out'), '--format', 'md');
    expect(r.code).toBe(0);
    const [table, intervals] = r.stdout.split('\n## 95% confidence intervals\n');
    expect(table.trim().split('\n').every((l) => l.startsWith('|'))).toBe(true);
    expect(intervals).toMatch(/^\nStudent's t over the per-seed values/);
    expect(r.stdout).not.toMatch(/^(PASS|FAIL|assertions)/m);
    expect(r.stderr).toMatch(/^assertions: all 11 passed$/m);
  });

  it('--variant: rules for a variant that does not run are skipped, say so, are recorded, and fail nothing', async () => {
    const out = fresh('out');
    const r = await cli('run', writeScenario(gated('p99 < 1s', '{ variant: rand, rule: p50 > 1h }')), '--out', out, '--variant', 'rr');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SKIP p50 > 1h (variant rand): the variant was not run');
    expect(r.stdout).toMatch(/^assertions: all 1 passed, 1 skipped$/m);
    expect(readReport(out).assertions?.map((a) => [a.variant, a.pass, a.skipped ?? false])).toEqual([
      ['rr', true, false],
      ['rand', true, true],
    ]);
    expect(readReport(out).assertions?.[1]).toEqual({ rule: 'p50 > 1h', variant: 'rand', metric: 'p50', op: '>', threshold: 3_600_000, actual: null, pass: true, margin: null, reason: 'the variant was not run', skipped: true });
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('- assertions: all 1 passed, 1 skipped');
    expect(md).toMatch(/^\| ⏭️ skipped \| `p50 > 1h` \| rand \| – \| the variant was not run \|$/m);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<h2 id="assertions">Assertions: all 1 passed, 1 skipped</h2>');
    // A failed rule still exits 1 beside a skipped one.
    const failing = await cli('run', writeScenario(gated('p50 > 1h', '{ variant: rand, rule: p50 > 1h }')), '--out', fresh('out'), '--variant', 'rr', '--no-html');
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^assertions: 1 of 1 failed, 1 skipped$/m);
  });

  it('without assert: no assertions in report.json, nothing printed about them, and the same report otherwise', async () => {
    const plain = fresh('plain');
    const withRules = fresh('gated');
    const r = await cli('run', writeScenario(TINY), '--out', plain);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/PASS|FAIL|assertions/);
    const text = readFileSync(join(plain, 'report.json'), 'utf8');
    expect(text).not.toContain('"assertions"');
    expect(readFileSync(join(plain, 'report.md'), 'utf8')).not.toContain('Assertions');
    expect((await cli('run', writeScenario(gated(...PASSING)), '--out', withRules)).code).toBe(0);
    const strip = (dir: string): unknown => {
      const { assertions: _a, scenario: _s, ...rest } = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Record<string, unknown>;
      return rest;
    };
    expect(strip(withRules)).toEqual(strip(plain));
  });

  it('a bad rule is bad input: exit 2, file, line and assert.<i> named, nothing written', async () => {
    const out = fresh('out');
    const file = writeScenario(gated('p99 < 1s', 'p99 < 250'), 'bad-rule.yaml');
    const r = await cli('run', file, '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:${FIRST_RULE_LINE + 1}:5: assert.1: expected a duration with a unit, like 250ms; got '250' (no unit)`);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(out)).toBe(false);
  });

  it('a rule for an unknown variant is bad input, with a did-you-mean', async () => {
    const r = await cli('run', writeScenario(gated('{ variant: rnd, rule: p99 < 1s }')), '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("assert.0.variant: unknown variant 'rnd' (did you mean 'rand'?); variants: rr, rand");
  });

  it('run --help documents exit code 1', async () => {
    const r = await cli('run', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/^\s+1\s+an assert: rule failed/m);
  });

  it('the real executable exits 1 with pure JSON on stdout', () => {
    const out = fresh('out');
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', writeScenario(gated('p50 > 1h')), '--out', out, '--format', 'json', '--variant', 'rr'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status).toBe(1);
    expect(child.stdout).toBe(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(child.stderr).toMatch(/^FAIL p50 > 1h \(variant rr\)/m);
  });
});
