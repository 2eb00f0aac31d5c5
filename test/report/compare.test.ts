/** compareReports on in-memory reports: pairing of variants, refusals, and the outputs' shape. */
import { describe, expect, it } from 'vitest';
import { CompareError, compareReports, comparisonJson, formatComparisonMarkdown, formatComparisonTable, type ComparedReport, type LoadedReport } from '../../src/report/compare.js';

const figures = (p99: number) => ({ successRate: 1, throughputPerSec: 100, latencyMs: { mean: p99 / 4, p50: p99 / 8, p90: p99 / 2, p99, p999: p99 * 2 }, attemptsPerRequest: 1 });
const variant = (name: string, p99s: number[], seed = 1) => ({ name, summary: figures(p99s[0]), runs: p99s.map((p, i) => ({ seed: seed + i, ...figures(p) })) });
const report = (file: string, variants: ComparedReport['variants'], scenario = { name: 's', sha256: 'a'.repeat(64) }): LoadedReport => ({
  file,
  report: { schema: 'meshsim/report@1', scenario, seeds: variants[0].runs.map((r) => r.seed), variants },
});

describe('compareReports', () => {
  const base = [100, 110, 120, 130, 140, 150];
  it('pairs same-named variants, by seed', () => {
    const c = compareReports([report('a', [variant('x', base), variant('y', base)]), report('b', [variant('y', base.map((p) => p * 0.5))])]);
    expect(c.pairs).toHaveLength(1);
    expect(c.pairs[0]).toMatchObject({ label: 'B', baselineVariant: 'y', variant: 'y', method: 'paired' });
    expect(c.pairs[0].figures.p99).toMatchObject({ a: 100, b: 50, relative: -0.5, significant: true });
    expect(c.pairs[0].figures.p99.verdict).toMatch(/^y \[B\] p99 is 50(\.0+)?% lower than y \[A\]/);
    expect(JSON.parse(comparisonJson(c))).toEqual(JSON.parse(JSON.stringify(c)));
    expect(formatComparisonTable(c)).toContain('y [B] vs y [A] — paired by seed');
    expect(formatComparisonMarkdown(c)).toContain('**−50%**');
  });

  it('three reports: B and C each against A', () => {
    const c = compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base)]), report('c', [variant('x', base)])]);
    expect(c.pairs.map((p) => p.label)).toEqual(['B', 'C']);
  });

  it('no variant in common (and not one each): refused', () => {
    expect(() => compareReports([report('a', [variant('x', base), variant('y', base)]), report('b', [variant('z', base)])])).toThrow(/no variant to compare/);
  });

  it('other scenarios: refused by name or by sha256, unless forced', () => {
    const other = report('b', [variant('x', base)], { name: 's', sha256: 'b'.repeat(64) });
    expect(() => compareReports([report('a', [variant('x', base)]), other])).toThrow(CompareError);
    expect(() => compareReports([report('a', [variant('x', base)]), other])).toThrow(/same name "s" but different scenario files/);
    expect(compareReports([report('a', [variant('x', base)]), other], { force: true }).warnings[0]).toContain('compared with --force');
  });

  it('is deterministic', () => {
    const make = () => comparisonJson(compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base.map((p) => p + 3), 50)])]));
    expect(make()).toBe(make());
  });
});
