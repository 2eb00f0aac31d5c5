/** index.html: self-contained (nothing fetched, no script), every text escaped, best values marked. */
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderPage } from '../../../src/report/html/page.js';
import { buildHtmlReport } from '../../../src/report/html/write.js';
import type { Report } from '../../../src/report/report.js';
import { FIXTURE_TEXT, fixtureReport, olderReport } from './_fixture.js';

const report = fixtureReport();
const scenario = { file: 'fixture.yaml', text: FIXTURE_TEXT };
const page = (await buildHtmlReport(report, scenario)).files.find((f) => f.path === 'index.html')?.content ?? '';

const EVIL = '</svg></td><script>alert("x")</script><img src=x onerror=alert(1)>&amp;\'';

/** The report with every name a user (or a hand-edited report.json) controls made hostile. */
function hostile(r: Report): Report {
  return {
    ...r,
    generator: `meshsim ${EVIL}`,
    scenario: { name: `scn ${EVIL}`, sha256: EVIL },
    variants: r.variants.map((v, i) => ({
      ...v,
      name: `${EVIL} ${i}`,
      instances: v.instances.map((x) => ({ ...x, service: `svc${EVIL}` })),
      faults: v.faults.map((f) => ({ ...f, kind: `kind${EVIL}`, service: `svc${EVIL}` })),
    })),
  };
}

describe('escapeHtml', () => {
  it('escapes the five HTML-special characters and nothing else', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp; é ★</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp; é ★&lt;/a&gt;');
  });
});

describe('the page', () => {
  it('is one self-contained document: a strict CSP, no script, nothing that loads anything', () => {
    expect(page.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
    expect(page).not.toMatch(/<script|<link|<iframe|<img|\ssrc=|@import|url\((?!#)/i);
    // The only URLs are XML namespaces and the Vega-Lite schema in no attribute that fetches.
    const urls = [...page.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]);
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']));
  });

  it('has every chart as inline SVG, the tables, and the scenario text', () => {
    for (const name of ['latency-percentiles', 'timeline', 'instances', 'summary-intervals']) {
      expect(page).toMatch(new RegExp(`<figure id="chart-${name}" data-chart="${name}">\\n<svg `));
      expect(page).toContain(`<code>charts/${name}.vl.json</code>`);
    }
    expect(page).toContain('<table id="summary-table">');
    expect(page).toContain('<table id="differences-table">');
    expect(page).toContain(`<pre id="scenario-text">${escapeHtml(FIXTURE_TEXT)}</pre>`);
    expect(page).toContain(`<code>${report.scenario.sha256}</code>`);
    expect(page).toContain(`<dt>seeds</dt><dd>${report.seeds.join(', ')} (2 replications)</dd>`);
    expect(page).toContain(escapeHtml(report.generator));
  });

  it('marks the best value of each ranked column, and shows each interval under its figure', () => {
    const p99 = report.variants.map((v) => v.summary.latencyMs.p99 as number);
    const best = report.variants[p99.indexOf(Math.min(...p99))];
    const row = page.split('\n').find((l) => l.startsWith(`<tr><td class="name">${best.name}</td>`)) ?? '';
    const cells = [...row.matchAll(/<td([^>]*)>(.*?)<\/td>/g)];
    // variant, requests, success, rejected, timed out, 5xx/conn, att/req, thr/s, mean, p50, p90, p99 …
    const p99Cell = cells[11];
    expect(p99Cell[1]).toBe(' class="best"');
    expect(p99Cell[2]).toContain(' <span class="star">★</span>');
    const worst = report.variants.find((v) => v !== best) as (typeof report.variants)[number];
    const other = page.split('\n').find((l) => l.startsWith(`<tr><td class="name">${worst.name}</td>`)) ?? '';
    expect([...other.matchAll(/<td([^>]*)>(.*?)<\/td>/g)][11][1]).toBe('');
    const ci = best.summary.ci.p99 as readonly [number, number];
    expect(p99Cell[2]).toContain(`<span class="ci">`);
    expect(p99Cell[2]).toContain(ci[0] >= 10 ? ci[0].toFixed(2) : ci[0].toFixed(3));
  });

  it('shows the intervals of the counts and maxima too, printed like their figure; none for them in an older report', () => {
    const v = report.variants[0];
    const row = page.split('\n').find((l) => l.startsWith(`<tr><td class="name">${v.name}</td>`)) ?? '';
    const cells = [...row.matchAll(/<td([^>]*)>(.*?)<\/td>/g)].map((m) => m[2]);
    const span = (i: readonly [number, number] | null | undefined, f: (x: number) => string): string => (i === null || i === undefined ? '' : `<span class="ci">${f(i[0])} – ${f(i[1])}</span>`);
    const int = (x: number): string => String(Math.round(x));
    const ms = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toFixed(3));
    const { ci, requests } = v.summary;
    expect(ci.requests).not.toBeNull();
    expect(cells[1]).toBe(`${requests.total}${span(ci.requests, int)}`);
    expect(cells[3]).toBe(`${requests.rejected}${span(ci.rejected, int)}`);
    expect(cells[4]).toBe(`${requests.timedOut}${span(ci.timedOut, int)}`);
    expect(cells[5]).toBe(`${requests.errors + requests.resets + requests.connectFailures}${span(ci.errorsResetsConnectFailures, int)}`);
    expect(cells[13]).toContain(span(ci.max, ms));
    expect(cells[14]).toContain(span(ci.maxOverMean, (x) => x.toFixed(2)));
    expect(page).toContain("for max ms and max/mean, of a single run's maximum, which the pooled maximum (over all seeds) can lie above.");
    // A report written before these intervals: the cells show the figure alone, the rest as before.
    const old = olderReport(report);
    const html = renderPage({ report: old, charts: [], scenario: { missing: '' } });
    const oldRow = html.split('\n').find((l) => l.startsWith(`<tr><td class="name">${v.name}</td>`)) ?? '';
    const oldCells = [...oldRow.matchAll(/<td([^>]*)>(.*?)<\/td>/g)].map((m) => m[2]);
    expect(oldCells[1]).toBe(String(requests.total));
    expect(oldCells[5]).toBe(String(requests.errors + requests.resets + requests.connectFailures));
    expect(oldCells[11]).toBe(cells[11]);
  });

  it('marks ties as printed, as the terminal table does: every row showing the best, none when all rows show the same', async () => {
    const p99Cells = async (values: readonly number[]): Promise<string[]> => {
      const r: Report = { ...report, variants: report.variants.map((v, i) => ({ ...v, summary: { ...v.summary, latencyMs: { ...v.summary.latencyMs, p99: values[i] } } })) };
      const html = (await buildHtmlReport(r, scenario)).files.find((f) => f.path === 'index.html')?.content ?? '';
      return r.variants.map((v) => {
        const row = html.split('\n').find((l) => l.startsWith(`<tr><td class="name">${v.name}</td>`)) ?? '';
        return [...row.matchAll(/<td([^>]*)>(.*?)<\/td>/g)][11][1];
      });
    };
    expect(report.variants.length).toBe(2);
    expect(await p99Cells([100.01, 100.04])).toEqual(['', '']); // both print 100.0: no best
    expect(await p99Cells([100.01, 120])).toEqual([' class="best"', '']);
  });

  it('says the tests are not corrected for multiple comparisons (8 figures × 1 variant)', () => {
    expect(page).toContain('<p class="note">Each comparison is tested at 5%, not corrected for multiple comparisons: with 8 comparisons, about 0.4 (0.05 × 8) may be flagged significant by chance even where nothing differs.</p>\n');
  });

  it('figures not compared are listed apart with their reason, not under "No significant difference"', () => {
    const cut = (v: Report['variants'][number]): Report['variants'][number] => {
      const comparison = v.comparison;
      if (comparison === undefined) return v;
      const p99 = { n: 0, relative: null, ci: null, p: null, minP: null, significant: false, verdict: `${v.name} p99: not compared with rr (no seed where both have it)` };
      const same = (f: keyof typeof comparison.figures) => ({ ...comparison.figures[f], relative: 0, ci: [0, 0] as const, p: 1, minP: 1, significant: false });
      const figures = Object.fromEntries(Object.keys(comparison.figures).map((f) => [f, same(f as keyof typeof comparison.figures)]));
      return { ...v, comparison: { ...comparison, figures: { ...(figures as typeof comparison.figures), p99 } } };
    };
    const html = renderPage({ report: { ...report, variants: report.variants.map(cut) }, charts: [], scenario: { missing: '' } });
    expect(html).toContain('<p>No significant difference in the figures compared.</p>\n<p>rand: not compared (no seed where both have it): p99.</p>\n');
  });

  it('with too few seeds for the permutation test, says so under the differences, not "No significant difference"', () => {
    // The fixture has 2 seeds: the sign-flip test cannot give less than 2/4.
    expect(page).toContain('<p>Too few seeds for the permutation test (smallest possible p = 0.500 with 2 seeds; 6 paired seeds reach 0.031): no difference can be significant, whatever its interval.</p>\n');
    expect(page).not.toContain('No significant difference');
    // p99.9 ties on one seed: 1 of 2 seeds differs, said as such.
    expect(page).toContain('<p>Too few differing seeds to tell (smallest possible p = 1.000 with 1 of 2 seeds differing; ');
    // Reports written before `minP` was added: worked out again from n (paired), which cannot
    // know of ties, so the tied figure joins the plain too-few-seeds note.
    const old = JSON.parse(JSON.stringify(report), (key: string, value: unknown) => (key === 'minP' ? undefined : value)) as Report;
    expect(JSON.stringify(old)).not.toContain('minP');
    const withoutTies = (html: string): string => html.replace(/^<p>Too few differing seeds to tell .*\n/m, '');
    expect(renderPage({ report: old, charts: [], scenario: { missing: '' } })).toBe(withoutTies(renderPage({ report, charts: [], scenario: { missing: '' } })));
  });

  it('says where the scenario is when it cannot be shown', () => {
    const html = renderPage({ report, charts: [], scenario: { missing: 'The scenario is not shown: <gone>.' } });
    expect(html).toContain('<p class="note">The scenario is not shown: &lt;gone&gt;.</p>');
    expect(html).toContain('No data to chart');
  });

  it('escapes every name, in the tables, the captions and the SVG alike: no markup gets through', async () => {
    const evil = hostile(report);
    const files = (await buildHtmlReport(evil, { file: `x${EVIL}.yaml`, text: `name: ${EVIL}` })).files;
    const html = files.find((f) => f.path === 'index.html')?.content ?? '';
    expect(html).not.toMatch(/<script|<img|onerror=alert\(1\)>/i);
    expect(html).toContain(escapeHtml(`${EVIL} 0`));
    // Every <svg> opened is closed by its own </svg>: a name did not end one early.
    const opens = html.match(/<svg /g)?.length ?? 0;
    expect(html.match(/<\/svg>/g)?.length).toBe(opens);
    expect(opens).toBe(4);
    // The spec files carry the names as JSON data, unescaped.
    const spec = files.find((f) => f.path === 'charts/latency-percentiles.vl.json')?.content ?? '';
    expect((JSON.parse(spec) as { data: { values: { variant: string }[] } }).data.values[0].variant).toBe(`${EVIL} 0`);
  });
});

describe('plugins', () => {
  it('a row per plugin in the header table: file, kinds, sha256, escaped', () => {
    const withPlugins: Report = { ...report, plugins: [{ file: EVIL, sha256: 'd'.repeat(64), kinds: ['mine'] }] };
    const html = renderPage({ report: withPlugins, charts: [], scenario: { missing: '' } });
    expect(html).toContain(`${escapeHtml(EVIL)} (mine), sha256 <code>${'d'.repeat(64)}</code>`);
    expect(html).not.toContain(EVIL);
    expect(html).toContain('<dt>plugin</dt>');
    expect(page).not.toContain('<dt>plugin</dt>');
  });
});
