/**
 * The comparison table (src/report/table.ts): the best value of a ranked column is marked
 * on every row that shows it as printed, and a column whose rows all read the same marks
 * nothing (a tie everywhere has no best).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/report.js';
import { formatIntervalTable, formatMarkdownTable, formatTable } from '../../src/report/table.js';
import { tinyScenario } from '../_tiny-scenario.js';
import { cli, tempFiles } from '../cli/_run.js';

const { fresh, writeScenario } = tempFiles('meshsim-table-');
let base: Report;

beforeAll(async () => {
  const out = fresh('out');
  expect((await cli('run', writeScenario(tinyScenario({ seeds: 1, variants: { rr: '{}', rand: '{ mesh.balancer: { kind: random } }', p2c: '{ mesh.balancer: { kind: p2c } }' } })), '--out', out, '--no-html')).code).toBe(0);
  base = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
}, 60_000);

/** The report with p50 and max/mean of the three variants set. */
function withValues(p50: readonly number[], maxOverMean: readonly number[]): Report {
  const copy = JSON.parse(JSON.stringify(base)) as { variants: { summary: { latencyMs: { p50: number } }; spread: { maxOverMean: number }[] }[] };
  copy.variants.forEach((v, i) => {
    v.summary.latencyMs.p50 = p50[i];
    v.spread[0].maxOverMean = maxOverMean[i];
  });
  return copy as unknown as Report;
}

/** The cells of column `title` of the plain-text table, one per variant. */
function column(text: string, title: string): string[] {
  const lines = text.split('\n');
  const header = lines[0];
  const start = header.indexOf(title);
  const end = start + title.length;
  // Cells are right-aligned under their title: take the text ending at the title's end.
  return lines.slice(2, 2 + base.variants.length).map((l) => l.slice(0, end).split(/\s+/).at(-1) ?? '');
}

describe('best-value marks', () => {
  it('mark the single best row', () => {
    const text = formatTable(withValues([1, 2, 3], [1.3, 1.1, 1.2]));
    expect(column(text, 'p50 ms')).toEqual(['1.000*', '2.000', '3.000']);
    expect(column(text, 'max/mean')).toEqual(['1.30', '1.10*', '1.20']);
  });

  it('mark every row that prints the best value (ties as printed)', () => {
    const text = formatTable(withValues([1.2342, 1.5, 1.2341], [1.101, 1.3, 1.2]));
    expect(column(text, 'p50 ms')).toEqual(['1.234*', '1.500', '1.234*']);
  });

  it('mark nothing in a column where every row prints the same value', () => {
    const text = formatTable(withValues([1.2341, 1.2342, 1.2343], [1.001, 1.004, 1.002]));
    expect(column(text, 'max/mean')).toEqual(['1.00', '1.00', '1.00']);
    expect(column(text, 'p50 ms')).toEqual(['1.234', '1.234', '1.234']);
    const md = formatMarkdownTable(withValues([1.2341, 1.2342, 1.2343], [1.001, 1.004, 1.002]));
    expect(md).not.toContain('**1.234**');
    expect(md).not.toContain('**1.00**');
  });
});

describe('confidence intervals under the terminal table', () => {
  /** The report as if run with two seeds, each variant's p50 interval set to [lo_i, hi_i]. */
  function twoSeeds(p50: readonly (readonly [number, number] | null)[]): Report {
    const copy = JSON.parse(JSON.stringify(base)) as { seeds: number[]; variants: { summary: { ci: Record<string, unknown> } }[] };
    copy.seeds = [1, 2];
    copy.variants.forEach((v, i) => {
      v.summary.ci.p50 = p50[i];
    });
    return copy as unknown as Report;
  }

  it('are left out with one seed, where no interval exists', () => {
    expect(base.seeds).toHaveLength(1);
    expect(formatIntervalTable(base)).toBe('');
    expect(formatTable(base)).not.toContain('confidence');
  });

  it("print each variant's interval of the headline figures, aligned under their titles", () => {
    const report = twoSeeds([
      [1.5, 2.25],
      [10.5, 12],
      null,
    ]);
    const block = formatIntervalTable(report);
    const lines = block.trimEnd().split('\n');
    expect(lines[0]).toBe('95% confidence intervals over 2 seeds (Student t, t(0.975, 1) = 12.71; every column and the method: report.md)');
    const header = lines[1];
    expect(header.split(/\s+/).slice(0, 2)).toEqual(['variant', 'success']);
    const end = header.indexOf('p50 ms') + 'p50 ms'.length;
    const cell = (row: string): string => row.slice(0, end).split(/\s{2,}/).at(-1) ?? '';
    expect(lines.slice(3).map(cell)).toEqual(['[1.500, 2.250]', '[10.50, 12.00]', '–']);
    expect(lines.slice(3).map((l) => l.split(' ')[0])).toEqual(base.variants.map((v) => v.name));
    expect(formatTable(report)).toContain(block.trimEnd());
  });
});
