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

  it('--format md: figures not compared are listed apart with their reason, not as "no significant difference"', () => {
    // A failed on every seed: no latency, success rate and throughput 0; B succeeded.
    const dead = { successRate: 0, throughputPerSec: 0, latencyMs: { mean: null, p50: null, p90: null, p99: null, p999: null }, attemptsPerRequest: 1 };
    const a = { name: 'x', summary: dead, runs: base.map((_, i) => ({ seed: 1 + i, ...dead })) };
    const c = compareReports([report('a', [a]), report('b', [variant('x', base)])]);
    expect(c.pairs[0].figures.p99.relative).toBeNull();
    const md = formatComparisonMarkdown(c);
    expect(md).toContain('\nNo significant difference in the figures compared.\n');
    expect(md).toContain('\n- not compared (the baseline’s is 0 on every seed where both have it): success rate, throughput\n');
    expect(md).toContain('\n- not compared (no seed where both have it): mean latency, p50, p90, p99, p99.9\n');
    // Nothing compared at all: no claim about significance.
    const empty = { ...dead, attemptsPerRequest: null };
    const e = { name: 'x', summary: empty, runs: base.map((_, i) => ({ seed: 1 + i, ...empty })) };
    const none = formatComparisonMarkdown(compareReports([report('a', [e]), report('b', [{ ...e }])]));
    expect(none).not.toContain('No significant difference');
    expect(none).toContain('- not compared (no seed where both have it): mean latency');
  });

  it('the footnote says what the change is: over the seeds (geometric mean of B/A paired), not the ratio of the pooled columns', () => {
    const paired = compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base.map((p) => p * 2))])]);
    for (const out of [formatComparisonTable(paired), formatComparisonMarkdown(paired)]) {
      expect(out).toContain('change: the geometric mean over seeds of B/A, − 1 (mean(B)/mean(A) − 1 over the seeds for a figure that is 0 on some seed); the A and B columns are the pooled figures');
      expect(out).not.toContain('change = B/A − 1');
    }
    const unpaired = compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base, 50)])]);
    expect(formatComparisonTable(unpaired)).toContain('change: mean(B)/mean(A) − 1 of the per-seed values; the A and B columns');
    const both = compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base)]), report('c', [variant('x', base, 50)])]);
    expect(formatComparisonMarkdown(both)).toContain('change: paired: the geometric mean over seeds of B/A, − 1 (');
    expect(formatComparisonMarkdown(both)).toContain('; unpaired: mean(B)/mean(A) − 1 of the per-seed values;');
    // Two pairs × 8 figures, each at 5%, uncorrected.
    const note = 'Each comparison is tested at 5%, not corrected for multiple comparisons: with 16 comparisons, about 0.8 (0.05 × 16) may be flagged significant by chance';
    expect(formatComparisonMarkdown(both)).toContain(note);
    expect(formatComparisonTable(both)).toContain(note);
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

  it('"same" only when no seed differs: differences that cancel out on average are not "same"', () => {
    const six = [100, 110, 120, 130, 140, 150];
    // p99 × 1.25 on half the seeds and ÷ 1.25 on the others: geometric mean change exactly 0, p = 1.
    const c = compareReports([report('a', [variant('x', six)]), report('b', [variant('x', six.map((p, i) => (i % 2 === 0 ? p * 1.25 : p / 1.25)))])]);
    expect(c.pairs[0].figures.p99).toMatchObject({ relative: 0, p: 1, significant: false });
    const table = formatComparisonTable(c);
    expect(table).toMatch(/^success rate .* same$/m);
    expect(table).not.toMatch(/^p99 .* same$/m);
  });

  it('3 seeds: "too few seeds" in the table, a footnote, the Markdown and the JSON, never "no significant difference"', () => {
    const three = [100, 110, 120];
    const c = compareReports([report('a', [variant('x', three)]), report('b', [variant('x', three.map((p, i) => p * [2.3, 2.45, 2.55][i]))])]);
    const p99 = c.pairs[0].figures.p99;
    expect(p99).toMatchObject({ n: 3, p: 0.25, minP: 0.25, significant: false });
    expect(p99.ci?.[0]).toBeGreaterThan(1);
    expect(p99.verdict).toMatch(/^x \[B\] p99: \+14\d% vs x \[A\] \(95% CI .*, p = 0\.250\), too few seeds for the permutation test \(smallest possible p = 0\.250 with 3 seeds; 6 paired seeds reach 0\.031\)$/);
    expect(JSON.parse(comparisonJson(c)).pairs[0].figures.p99).toMatchObject({ minP: 0.25, verdict: p99.verdict });
    const table = formatComparisonTable(c);
    expect(table).toMatch(/^p99 .* 0\.250 {2}too few seeds$/m);
    expect(table).toMatch(/^success rate .* same$/m);
    expect(table).not.toContain('no sig. difference');
    expect(table).toContain('  too few seeds for the permutation test (smallest possible p = 0.250 with 3 seeds; 6 paired seeds reach 0.031): no change can be significant, whatever its 95% CI.\n');
    const md = formatComparisonMarkdown(c);
    expect(md).toContain('| too few seeds |');
    expect(md).not.toContain('No significant difference.');
    // The figures the table calls `same` (no difference at all) are not among them.
    expect(md).toContain('- too few seeds for the permutation test (smallest possible p = 0.250 with 3 seeds; 6 paired seeds reach 0.031): mean latency, p50, p90, p99, p99.9\n');
  });

  it('different seeds, 3 a side: too few for the two-sample test, said likewise', () => {
    const three = [100, 110, 120];
    const c = compareReports([report('a', [variant('x', three)]), report('b', [variant('x', three.map((p) => p * 2), 50)])]);
    expect(c.pairs[0].method).toBe('welch');
    expect(c.pairs[0].figures.p99).toMatchObject({ p: 0.1, minP: 0.1, significant: false });
    expect(c.pairs[0].figures.p99.verdict).toContain('(smallest possible p = 0.100 with 3 seeds on each side; 4 seeds on each side reach 0.029)');
    expect(formatComparisonTable(c)).toContain('  too few seeds for the permutation test (smallest possible p = 0.100; 4 seeds on each side reach 0.029): no change can be significant, whatever its 95% CI.\n');
  });

  it('6 seeds and no difference: "no sig. difference", no footnote about seeds', () => {
    const c = compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base.map((p, i) => p * (1 + [0.02, -0.03, 0.01, -0.01, 0.03, -0.01][i])))])]);
    expect(c.pairs[0].figures.p99).toMatchObject({ minP: 0.03125, significant: false });
    const table = formatComparisonTable(c);
    expect(table).toMatch(/^p99 .* no sig\. difference$/m);
    expect(table).not.toContain('too few seeds');
    expect(formatComparisonMarkdown(c)).toContain('\nNo significant difference.\n');
  });

  it('is deterministic', () => {
    const make = () => comparisonJson(compareReports([report('a', [variant('x', base)]), report('b', [variant('x', base.map((p) => p + 3), 50)])]));
    expect(make()).toBe(make());
  });
});
