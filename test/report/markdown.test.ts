/**
 * report.md: the summary table left as it was, the 95% confidence intervals of its figures
 * in a section of their own right after its legend (the failover counters' too), and the
 * per-instance table, large services folded to their busiest and idlest instances; reports
 * written before the intervals of the counts and maxima render with – for them.
 */
import { describe, expect, it } from 'vitest';
import { FOLDED_SHOWN, foldInstances, INSTANCES_SHOWN, reportMarkdown } from '../../src/report/markdown.js';
import { buildReport, reportJson, type InstanceReport, type Report, type VariantReport } from '../../src/report/report.js';
import { runScenario } from '../../src/runner/run.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { formatMarkdownTable } from '../../src/report/table.js';
import { FIXTURE_TEXT, fixtureReport, olderReport } from './html/_fixture.js';
import { tinyScenario } from '../_tiny-scenario.js';

const report = fixtureReport();
const md = reportMarkdown(report);
const LEGEND = "Bold: best of the variants. max/mean: the busiest instance's request rate over the mean.\n";

/** The lines of the section headed `title`, up to the next heading. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`## ${title}`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start, end < 0 ? undefined : end);
}

const withVariants = (variants: readonly VariantReport[], seeds = report.seeds): Report => ({ ...report, seeds, variants });

describe('the summary table', () => {
  it('is as before, its legend next, then the intervals, then the differences', () => {
    expect(md).toContain(`\n${formatMarkdownTable(report)}\n${LEGEND}\n## 95% confidence intervals\n`);
    expect(md.indexOf('## 95% confidence intervals')).toBeLessThan(md.indexOf('## Differences vs'));
  });
});

describe('95% confidence intervals', () => {
  it('a row per variant, a column per figure of the summary table, in its formats; the method in one sentence', () => {
    const lines = section(md, '95% confidence intervals');
    expect(lines[2]).toMatch(/^Student's t over the per-seed values \(2 seeds\), mean ± t\(0\.975, n−1\)·s\/√n; .* the interval of the total \(n × that of the per-seed count\), and for max ms and max\/mean that of a single run's maximum, which the pooled maximum \(over all seeds, in the table above\) can lie above; each interval is cut to its figure's range \(success between 0 and 100%, max\/mean from 1, every other figure from 0\), which a t-interval over few disagreeing seeds can reach past\.$/);
    expect(lines[4]).toBe('| variant | requests | success | rejected | timed out | 5xx/conn | att/req | thr/s | mean ms | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | max/mean |');
    expect(lines.filter((l) => l.startsWith('| ') && !l.startsWith('| variant') && !l.startsWith('| :--'))).toHaveLength(report.variants.length);
  });

  it('prints each bound as the table prints the figure, – when there is no interval', () => {
    const v = report.variants[0];
    const ci: VariantReport['summary']['ci'] = {
      ...v.summary.ci,
      requests: [5990.4, 6010.6],
      successRate: [0.9, 1],
      rejected: [-2.904826, 26.904826],
      timedOut: null,
      errorsResetsConnectFailures: [0, 0],
      attemptsPerRequest: [1, 1.004],
      throughputPerSec: [98.76, 101.24],
      mean: [9.87654, 10.5],
      p50: [5, 6],
      p90: [99.96, 100.04],
      p99: [150.25, 170.75],
      p999: null,
      max: [-1001.877, 2425.61],
      maxOverMean: [1.004, 1.206],
    };
    const lines = section(reportMarkdown(withVariants([{ ...v, name: 'hand', summary: { ...v.summary, ci } }])), '95% confidence intervals');
    expect(lines).toContain(
      '| hand | [5990, 6011] | [90.000%, 100%] | [-3, 27] | – | [0, 0] | [1.00, 1.00] | [98.8, 101.2] | [9.877, 10.50] | [5.000, 6.000] | [99.96, 100.0] | [150.3, 170.8] | – | [-1001.9, 2425.6] | [1.00, 1.21] |',
    );
  });

  it('one seed: says there are none, no table', () => {
    const one = section(reportMarkdown({ ...report, seeds: [report.seeds[0]] }), '95% confidence intervals');
    expect(one).toEqual(['## 95% confidence intervals', '', 'One seed: no confidence intervals (run with `--seeds 2` or more).', '']);
  });

  it('the failover counters a variant has, as totals with their intervals', () => {
    const [a, b] = report.variants;
    const r = withVariants([
      { ...a, summary: { ...a.summary, retries: 213, retryBudgetDenied: 0, ci: { ...a.summary.ci, retries: [172.6, 253.8], retryBudgetDenied: [0, 0] } } },
      { ...b, summary: { ...b.summary, retries: 9, ci: { ...b.summary.ci, retries: null } } },
    ]);
    const lines = section(reportMarkdown(r), '95% confidence intervals');
    const at = lines.indexOf('Failover counters, totals over seeds with their 95% intervals:');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 2, at + 6)).toEqual(['| variant | retries | budget denied |', '| :-- | --: | --: |', `| ${a.name} | 213 [173, 254] | 0 [0, 0] |`, `| ${b.name} | 9 | – |`]);
    // Without failover counters, no such table.
    expect(md).not.toContain('Failover counters');
  });

  it('a report written before the intervals of the counts and maxima: – for them, said so, the rest of report.md unchanged', () => {
    const old = reportMarkdown(olderReport(report));
    const lines = section(old, '95% confidence intervals');
    expect(lines[2]).toMatch(/ This report\.json was written before the intervals of the counts and maxima were added: – for them\.$/);
    const row = lines.find((l) => l.startsWith(`| ${report.variants[0].name} |`))?.split(' | ') ?? [];
    expect(row[1]).toBe('–'); // requests
    expect(row[2]).toMatch(/^\[[\d.]+%, [\d.]+%\]$/); // success, as before
    expect(row[5]).toBe('–'); // 5xx/conn
    expect(row.at(-1)).toBe('– |'); // max/mean
    const without = (text: string): string => text.replace(/## 95% confidence intervals\n[\s\S]*?(?=## )/, '');
    expect(without(old)).toBe(without(md));
  });
});

/** `n` instances of `service` with the given requests (share and utilisation from them). */
function instances(service: string, requests: readonly number[]): InstanceReport[] {
  const total = requests.reduce((a, b) => a + b, 0);
  return requests.map((r, index) => ({ service, index, zone: index % 2 === 0 ? 'a' : 'b', requests: r, share: r / total, utilization: index === 0 ? null : r / 1000, meanBusy: 0 }));
}

describe('requests per instance', () => {
  it('one row per instance of each variant and service, after the spread table', () => {
    const lines = section(md, 'Requests per instance');
    expect(md.indexOf('## Requests per instance')).toBeGreaterThan(md.indexOf('## Load spread across instances'));
    expect(lines[4]).toBe('| variant | service | instance | zone | requests | share | utilisation |');
    const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| variant') && !l.startsWith('| :--'));
    expect(rows).toHaveLength(report.variants.reduce((n, v) => n + v.instances.length, 0));
    const x = report.variants[0].instances[0];
    expect(rows[0]).toBe(`| ${report.variants[0].name} | ${x.service} | ${x.index} | ${x.zone} | ${x.requests} | ${(x.share * 100).toFixed(2)}% | ${x.utilization === null ? '–' : `${(x.utilization * 100).toFixed(2)}%`} |`);
    expect(lines.join('\n')).not.toContain('busiest');
  });

  it(`folds a service of more than ${INSTANCES_SHOWN} instances to its ${FOLDED_SHOWN} busiest and ${FOLDED_SHOWN} idlest, and says so`, () => {
    // big: 15 instances, requests 100, 101, … 114 in a shuffled order (index 0 has 107); small: 12, shown whole.
    const big = instances('big', [107, 100, 114, 101, 113, 102, 112, 103, 111, 104, 110, 105, 109, 106, 108]);
    const small = instances('small', Array.from({ length: INSTANCES_SHOWN }, (_, i) => 50 - i));
    const v = { ...report.variants[0], name: 'v', instances: [...big, ...small] };
    const lines = section(reportMarkdown(withVariants([v])), 'Requests per instance');
    expect(lines[2]).toContain(`Services with more than ${INSTANCES_SHOWN} instances show their ${FOLDED_SHOWN} busiest and ${FOLDED_SHOWN} idlest, by requests, busiest first; report.json's \`instances\` has them all.`);
    const rows = lines.filter((l) => l.startsWith('| v |'));
    const cells = rows.map((r) => r.split(' | '));
    const bigRows = cells.filter((c) => c[1] === 'big');
    expect(bigRows.map((c) => c[2])).toEqual(['2', '4', '6', '8', '10', '… 5 more', '9', '7', '5', '3', '1']);
    expect(bigRows.filter((c) => !c[2].startsWith('…')).map((c) => c[4])).toEqual(['114', '113', '112', '111', '110', '104', '103', '102', '101', '100']);
    expect(rows[5]).toBe('| v | big | … 5 more | | | | |');
    expect(rows[0]).toBe(`| v | big | 2 | a | 114 | ${((114 / 1605) * 100).toFixed(2)}% | 11.40% |`);
    // Twelve: all of them, in index order; utilisation – for unbounded concurrency.
    expect(cells.filter((c) => c[1] === 'small').map((c) => c[2])).toEqual(Array.from({ length: INSTANCES_SHOWN }, (_, i) => String(i)));
    expect(rows.find((r) => r.startsWith('| v | small | 0 |'))?.endsWith(' | – |')).toBe(true);
  });

  it('foldInstances: ties by index; at most 12 untouched', () => {
    const flat = instances('s', Array.from({ length: 14 }, () => 7));
    const { shown, folded, rest } = foldInstances(flat);
    expect(shown.map((x) => x.index)).toEqual([0, 1, 2, 3, 4]);
    expect(folded).toBe(4);
    expect(rest.map((x) => x.index)).toEqual([9, 10, 11, 12, 13]);
    const twelve = instances('s', Array.from({ length: 12 }, (_, i) => i));
    expect(foldInstances(twelve)).toEqual({ shown: twelve, folded: 0, rest: [] });
  });

  it('no section without instances', () => {
    expect(reportMarkdown(withVariants(report.variants.map((v) => ({ ...v, instances: [] }))))).not.toContain('## Requests per instance');
  });
});

describe('plugins', () => {
  const plugins = [
    { file: 'mine.mjs', sha256: 'c'.repeat(64), kinds: ['mine', 'mine-too'] },
    { file: 'my-package', sha256: null, kinds: ['theirs'] },
  ];
  const withPlugins = buildReport({ name: report.scenario.name, sha256: report.scenario.sha256 }, runScenario(parseScenarioText(FIXTURE_TEXT, 'fixture.yaml')), { plugins });

  it('report.json lists them right after the scenario; without plugins the key is absent', () => {
    expect(Object.keys(withPlugins).slice(3, 6)).toEqual(['scenario', 'plugins', 'seeds']);
    expect(withPlugins.plugins).toEqual(plugins);
    expect('plugins' in report).toBe(false);
    expect(reportJson({ ...withPlugins, plugins: undefined })).toBe(reportJson(report));
  });

  it('report.md names each, its kinds and sha256, under the scenario sha256', () => {
    const lines = reportMarkdown(withPlugins).split('\n');
    const at = lines.findIndex((l) => l.startsWith('- scenario sha256:'));
    expect(lines[at + 1]).toBe(`- plugins: mine.mjs (mine, mine-too; sha256 \`${'c'.repeat(64)}\`); my-package (theirs; sha256 none: not a file)`);
    expect(md).not.toContain('- plugins:');
  });
});

describe('differences vs the baseline', () => {
  // rr is the baseline; `same` is it again (the same on every seed); `broken` answers every
  // request with a 503, so it has no latency to compare.
  const text = tinyScenario({
    seeds: 2,
    variants: {
      rr: '{}',
      same: '{ mesh.balancer: { kind: round-robin } }',
      broken: '{ faults: [{ kind: error, target: { service: api }, at: 0s, rate: 100%, status: 503, fast: true }] }',
    },
  });
  const loaded = parseScenarioText(text, 'tiny.yaml');
  const r = buildReport({ name: 'tiny', sha256: loaded.sha256 }, runScenario(loaded));
  const lines = section(reportMarkdown(r), 'Differences vs rr');
  const of = (variant: string): string[] => {
    const start = lines.indexOf(`- **${variant}**`);
    const end = lines.findIndex((l, i) => i > start && l.startsWith('- **'));
    return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l !== '');
  };

  it('figures never compared (n 0) are said to be, with the reason, not filed under no significant difference', () => {
    const latency = ['mean', 'p50', 'p90', 'p99', 'p999'] as const;
    for (const f of latency) expect(r.variants[2].comparison?.figures[f]).toMatchObject({ n: 0, relative: null });
    const broken = of('broken');
    expect(broken).toContain('  - not compared with rr (no seed where both have it): mean latency, p50, p90, p99, p99.9');
    const noDifference = broken.find((l) => l.includes('no significant difference'));
    for (const f of ['mean latency', 'p50', 'p90', 'p99', 'p99.9']) expect(noDifference ?? '').not.toContain(f);
  });

  it('figures the same on every seed are a kind of their own', () => {
    expect(of('same')).toEqual(['  - the same on every seed: success rate, throughput, mean latency, p50, p90, p99, p99.9, attempts per request']);
  });
});
