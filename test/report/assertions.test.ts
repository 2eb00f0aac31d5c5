/**
 * `assert:` rules evaluated against report summaries: every comparison, the margin and its
 * sign, the report's resolution, figures a variant does not have, rules for one variant and
 * for a variant that did not run (skipped, recorded), the PASS/FAIL/SKIP lines, and where
 * the results go in report.json, report.md and the HTML page.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assertionCounts,
  assertionLines,
  assertionTally,
  evaluateAssertions,
  evaluateRule,
  formatAssertion,
  withAssertions,
  type AssertedVariant,
} from '../../src/report/assertions.js';
import { renderPage } from '../../src/report/html/page.js';
import { reportMarkdown } from '../../src/report/markdown.js';
import { readReport } from '../../src/report/read.js';
import { buildReport, reportJson, type Summary } from '../../src/report/report.js';
import { runScenario } from '../../src/runner/run.js';
import { parseRule } from '../../src/scenario/assert.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import type { AssertRule } from '../../src/scenario/types.js';
import { tinyScenario } from '../_tiny-scenario.js';

function rule(text: string, variant?: string): AssertRule {
  const r = parseRule(text, variant);
  if (!r.ok) throw new Error(r.message);
  return r.rule;
}

function summary(over: Partial<Summary> = {}): Summary {
  return {
    requests: { total: 1000, succeeded: 990, failed: 10, rejected: 6, timedOut: 4, errors: 0, resets: 0, connectFailures: 0, inFlight: 0 },
    successRate: 0.99,
    throughputPerSec: 903.727273,
    latencyMs: { mean: 40.5, p50: 30.25, p90: 80, p99: 312.4, p999: 500, max: 900 },
    attemptsPerRequest: 1.1,
    ...over,
  };
}

const variant = (name: string, over: Partial<Summary> = {}): AssertedVariant => ({ name, summary: summary(over) });
const RR = variant('round-robin');

describe('evaluateRule', () => {
  it('every comparison, with the margin positive on the passing side', () => {
    const cases: [string, boolean, number][] = [
      ['p99 < 250ms', false, -62.4],
      ['p99 <= 250ms', false, -62.4],
      ['p99 > 250ms', true, 62.4],
      ['p99 >= 250ms', true, 62.4],
      ['p99 == 250ms', false, -62.4],
      ['p99 != 250ms', true, 62.4],
      ['p99 < 400ms', true, 87.6],
      ['p99 > 400ms', false, -87.6],
      ['p99 == 312.4ms', true, 0],
    ];
    for (const [text, pass, margin] of cases) {
      const r = evaluateRule(rule(text), RR);
      expect({ text, pass: r.pass, margin: r.margin }).toEqual({ text, pass, margin });
      expect(r).toMatchObject({ rule: text, variant: 'round-robin', metric: 'p99', actual: 312.4 });
    }
  });

  it('on the threshold: <=, >= and == pass, <, > and != fail, all with margin 0', () => {
    const at = (op: string) => evaluateRule(rule(`p99 ${op} 312.4ms`), RR);
    expect(['<', '<=', '>', '>=', '==', '!='].map((op) => [op, at(op).pass, at(op).margin])).toEqual([
      ['<', false, 0],
      ['<=', true, 0],
      ['>', false, 0],
      ['>=', true, 0],
      ['==', true, 0],
      ['!=', false, 0],
    ]);
    expect(Object.is(at('<').margin, -0)).toBe(false);
  });

  it('compares at the report’s resolution: 99.9% meets a success rate of 0.999', () => {
    const v = variant('v', { successRate: 0.999 });
    expect(rule('successRate >= 99.9%').value).not.toBe(0.999); // 99.9 / 100 in binary floating point
    expect(evaluateRule(rule('successRate >= 99.9%'), v)).toMatchObject({ pass: true, threshold: 0.999, actual: 0.999, margin: 0 });
    expect(evaluateRule(rule('successRate > 99.9%'), v).pass).toBe(false);
  });

  it('reads each metric from the summary, in its unit', () => {
    const s = summary({ retries: 12, hedges: 3, hedgesWon: 1, retryBudgetDenied: 2, throttled: 0, ejections: 4, healthCheckFailures: 5, breakerOverflows: 6 });
    const v = { name: 'v', summary: s };
    const actual = (text: string) => evaluateRule(rule(text), v).actual;
    expect(actual('p50 < 1s')).toBe(30.25);
    expect(actual('p90 < 1s')).toBe(80);
    expect(actual('p999 < 1s')).toBe(500);
    expect(actual('max < 1s')).toBe(900);
    expect(actual('mean < 1s')).toBe(40.5);
    expect(actual('successRate > 0.5')).toBe(0.99);
    expect(actual('errorRate < 0.5')).toBe(0.01);
    expect(actual('throughput > 900/s')).toBe(903.727273);
    expect(actual('attemptsPerRequest < 2')).toBe(1.1);
    expect(actual('requests > 0')).toBe(1000);
    expect(actual('failed < 100')).toBe(10);
    expect(actual('rejected < 100')).toBe(6);
    expect(actual('timedOut < 100')).toBe(4);
    expect(actual('retries < 100')).toBe(12);
    expect(actual('retryBudgetDenied < 100')).toBe(2);
    expect(actual('hedges < 100')).toBe(3);
    expect(actual('hedgesWon < 100')).toBe(1);
    expect(actual('throttled < 100')).toBe(0);
    expect(actual('ejections < 100')).toBe(4);
    expect(actual('healthCheckFailures < 100')).toBe(5);
    expect(actual('breakerOverflows < 100')).toBe(6);
    expect(evaluateRule(rule('throughput > 54000/m'), v)).toMatchObject({ threshold: 900, pass: true, margin: 3.727273 });
  });

  it('a figure the variant does not have fails, with the reason, instead of passing', () => {
    const nothingSucceeded = variant('broken', { successRate: 0, latencyMs: { mean: null, p50: null, p90: null, p99: null, p999: null, max: null } });
    expect(evaluateRule(rule('p99 < 1s'), nothingSucceeded)).toEqual({
      rule: 'p99 < 1s',
      variant: 'broken',
      metric: 'p99',
      op: '<',
      threshold: 1000,
      actual: null,
      pass: false,
      margin: null,
      reason: 'no request succeeded, so there is no latency',
    });
    // Even a rule that would hold for any figure.
    expect(evaluateRule(rule('p99 >= 0s'), nothingSucceeded).pass).toBe(false);
    const idle = variant('idle', { successRate: null, attemptsPerRequest: null });
    expect(evaluateRule(rule('successRate > 0.5'), idle)).toMatchObject({ pass: false, reason: 'no request was issued' });
    expect(evaluateRule(rule('errorRate < 0.5'), idle)).toMatchObject({ pass: false, reason: 'no request was issued' });
    expect(evaluateRule(rule('attemptsPerRequest < 2'), idle)).toMatchObject({ pass: false, reason: 'no request was issued' });
    expect(evaluateRule(rule('retries < 100'), RR)).toMatchObject({ pass: false, actual: null, reason: 'the variant has no retries counter (no retry policy in its mesh)' });
    expect(evaluateRule(rule('ejections == 0'), RR).reason).toMatch(/no outlier detection/);
  });
});

describe('evaluateAssertions', () => {
  const variants = [RR, variant('p2c', { latencyMs: { mean: 20, p50: 15, p90: 40, p99: 120, p999: 200, max: 300 }, attemptsPerRequest: 1.3 })];

  it('a plain rule applies to every variant, a { variant, rule } to that one; rule order, then variant order', () => {
    const results = evaluateAssertions([rule('p99 < 250ms'), rule('attemptsPerRequest < 1.2', 'p2c')], variants);
    expect(results.map((r) => [r.rule, r.variant, r.pass])).toEqual([
      ['p99 < 250ms', 'round-robin', false],
      ['p99 < 250ms', 'p2c', true],
      ['attemptsPerRequest < 1.2', 'p2c', false],
    ]);
    expect(results[2].margin).toBeCloseTo(-0.1, 12);
  });

  it('a rule for a variant that did not run gives one skipped result, in its place, that fails nothing', () => {
    const rules = [rule('p99 < 250ms', 'p2c'), rule('p50 < 50ms'), rule('p99 < 1s', 'p2c')];
    const results = evaluateAssertions(rules, [RR]);
    expect(results.map((r) => [r.rule, r.variant, r.pass, r.skipped])).toEqual([
      ['p99 < 250ms', 'p2c', true, true],
      ['p50 < 50ms', 'round-robin', true, undefined],
      ['p99 < 1s', 'p2c', true, true],
    ]);
    // Every field a reader of report.json already expects, in the same order; `pass: true`
    // so that a gate on `pass` agrees with the exit code (0 for a skipped rule).
    expect(Object.entries(results[0])).toEqual(
      Object.entries({ rule: 'p99 < 250ms', variant: 'p2c', metric: 'p99', op: '<', threshold: 250, actual: null, pass: true, margin: null, reason: 'the variant was not run', skipped: true }),
    );
    expect(assertionCounts(results)).toEqual({ checked: 1, failed: 0, skipped: 2 });
    // Evaluated results carry no `skipped` key at all (their report.json bytes are unchanged).
    expect(evaluateAssertions(rules, variants).some((r) => 'skipped' in r)).toBe(false);
  });
});

describe('the lines meshsim run prints', () => {
  it('FAIL and PASS lines say which rule, which variant and by how much', () => {
    expect(formatAssertion(evaluateRule(rule('p99 < 250ms'), RR))).toBe('FAIL p99 < 250ms (variant round-robin): 312.4 ms, 62.4 ms over');
    expect(formatAssertion(evaluateRule(rule('p50 < 50ms'), RR))).toBe('PASS p50 < 50ms (variant round-robin): 30.25 ms, 19.75 ms under');
    expect(formatAssertion(evaluateRule(rule('successRate >= 99.9%'), RR))).toBe('FAIL successRate >= 99.9% (variant round-robin): 99.000%, 0.900 points under');
    expect(formatAssertion(evaluateRule(rule('throughput > 850/s'), RR))).toBe('PASS throughput > 850/s (variant round-robin): 903.7/s, 53.7/s over');
    expect(formatAssertion(evaluateRule(rule('failed == 10'), RR))).toBe('PASS failed == 10 (variant round-robin): 10, exactly at the threshold');
    expect(formatAssertion(evaluateRule(rule('retries < 5'), RR))).toBe('FAIL retries < 5 (variant round-robin): no value: the variant has no retries counter (no retry policy in its mesh)');
  });

  it('end with a count, skipped rules included, each in its place with a SKIP line', () => {
    const results = evaluateAssertions([rule('p99 < 250ms'), rule('p50 < 50ms')], [RR]);
    expect(assertionLines(results).at(-1)).toBe('assertions: 1 of 2 failed');
    expect(assertionLines(results.slice(1)).at(-1)).toBe('assertions: all 1 passed');
    expect(assertionLines(evaluateAssertions([rule('p99 < 1s', 'p2c'), rule('p50 < 50ms')], [RR]))).toEqual([
      'SKIP p99 < 1s (variant p2c): the variant was not run',
      'PASS p50 < 50ms (variant round-robin): 30.25 ms, 19.75 ms under',
      'assertions: all 1 passed, 1 skipped',
    ]);
    expect(assertionLines(evaluateAssertions([rule('p99 < 250ms'), rule('p99 < 1s', 'p2c')], [RR])).at(-1)).toBe('assertions: 1 of 1 failed, 1 skipped');
    expect(assertionTally(evaluateAssertions([rule('p99 < 1s', 'p2c')], [RR]))).toBe('none checked, 1 skipped');
    expect(assertionTally(results, (s) => `**${s}**`)).toBe('**1 of 2 failed**');
  });
});

describe('assertions in the report', () => {
  const TEXT = tinyScenario({
    name: 'gated',
    seeds: 1,
    duration: '1s',
    warmup: '100ms',
    tail: 'assert:\n  - p99 < 1s\n  - { variant: rand, rule: p50 > 1h }\n',
  });
  const loaded = parseScenarioText(TEXT, 'gated.yaml');
  const report = buildReport({ name: 'gated', sha256: loaded.sha256 }, runScenario(loaded));

  it('withAssertions adds them before the variants; without assert the report is untouched', () => {
    expect(withAssertions(report, undefined)).toBe(report);
    expect(report).not.toHaveProperty('assertions');
    const gated = withAssertions(report, loaded.base.assert);
    expect(Object.keys(gated)).toEqual(['schema', 'generator', 'mode', 'scenario', 'seeds', 'percentiles', 'statistics', 'assertions', 'variants']);
    expect(gated.assertions?.map((r) => [r.rule, r.variant, r.pass])).toEqual([
      ['p99 < 1s', 'rr', true],
      ['p99 < 1s', 'rand', true],
      ['p50 > 1h', 'rand', false],
    ]);
    expect(JSON.parse(reportJson(gated))).toEqual(JSON.parse(JSON.stringify(gated)));
  });

  it('report.md gets an Assertions section, and a line on top, only with assert', () => {
    expect(reportMarkdown(report)).not.toMatch(/Assertions|assertions:/);
    const md = reportMarkdown(withAssertions(report, loaded.base.assert));
    expect(md).toContain('- assertions: **1 of 3 failed** (see Assertions below)');
    expect(md).toMatch(/^## Assertions\n\n\| result \| rule \| variant \| actual \| against the threshold \|$/m);
    expect(md).toMatch(/^\| ✅ pass \| `p99 < 1s` \| rr \| [\d.]+ ms \| [\d.]+ ms under \|$/m);
    expect(md).toMatch(/^\| ❌ \*\*FAIL\*\* \| `p50 > 1h` \| rand \| [\d.]+ ms \| [\d.]+ ms under \|$/m);
    expect(md).not.toMatch(/skipped/);
  });

  describe('a rule for a variant that did not run (--variant rr)', () => {
    const rrOnly = buildReport({ name: 'gated', sha256: loaded.sha256 }, runScenario(loaded, { variants: ['rr'] }));
    const gated = withAssertions(rrOnly, loaded.base.assert);

    it('is in report.json, skipped, in rule order', () => {
      expect(gated.assertions?.map((r) => [r.rule, r.variant, r.pass, r.skipped ?? false])).toEqual([
        ['p99 < 1s', 'rr', true, false],
        ['p50 > 1h', 'rand', true, true],
      ]);
      expect(reportJson(gated)).toContain('"reason": "the variant was not run",\n      "skipped": true\n    }');
    });

    it('reads back with the report reader as it is (read.ts needs no change to accept it)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'meshsim-assertions-'));
      try {
        writeFileSync(join(dir, 'report.json'), reportJson(gated));
        expect(readReport(dir).report.assertions?.[1]).toMatchObject({ variant: 'rand', pass: true, skipped: true });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('report.md and the HTML page show it as skipped, and count it apart', () => {
      const md = reportMarkdown(gated);
      expect(md).toContain('- assertions: all 1 passed, 1 skipped\n');
      expect(md).toMatch(/^\| ⏭️ skipped \| `p50 > 1h` \| rand \| – \| the variant was not run \|$/m);
      const page = renderPage({ report: gated, charts: [], scenario: { missing: 'no scenario' } });
      expect(page).toContain('<h2 id="assertions">Assertions: all 1 passed, 1 skipped</h2>');
      expect(page).toContain('<tr><td class="name skip">skipped</td><td class="name"><code>p50 &gt; 1h</code></td><td class="name">rand</td><td>–</td><td class="name">the variant was not run</td></tr>');
    });

    it('beside a failed rule: the failure is counted, the skipped rule is not', () => {
      const failing = withAssertions(rrOnly, [rule('p50 > 1h'), rule('p99 < 1s', 'rand')]);
      expect(reportMarkdown(failing)).toContain('- assertions: **1 of 1 failed**, 1 skipped (see Assertions below)');
      expect(assertionCounts(failing.assertions ?? [])).toEqual({ checked: 1, failed: 1, skipped: 1 });
    });
  });
});
