/**
 * index.html: one self-contained page (inline CSS and SVG, no script, nothing fetched; a
 * Content-Security-Policy of `default-src 'none'` makes the browser enforce it). Every piece
 * of text from the report or the scenario is HTML-escaped; the SVG comes from Vega's string
 * renderer, which escapes its own text.
 */
import { assertionTally, describeStanding, formatFigure } from '../assertions.js';
import type { AssertionResult, Report } from '../report.js';
import { comparisonsCount, FIGURE_LABEL, formatP, multipleComparisonsNote, notComparedGroups, PAIRED_SEEDS_NEEDED, STAT_FIGURES, tooFewSeedsGroups, type StatFigure } from '../statistics.js';
import type { ChartName } from './specs.js';
import { printedBest, SUMMARY_COLUMNS, type SummaryColumn } from '../table.js';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** The scenario as it was loaded, when it is at hand. */
export interface ScenarioSource {
  /** Where it was read from (not shown on the page, which depends only on the report and these bytes). */
  readonly file: string;
  readonly text: string;
}

export interface PageChart {
  readonly name: ChartName;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
  /** The spec file, relative to the page. */
  readonly specFile: string;
}

export interface PageInput {
  readonly report: Report;
  readonly charts: readonly PageChart[];
  /** The scenario text, or why it is not shown. */
  readonly scenario: ScenarioSource | { readonly missing: string };
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #222; margin: 0 auto; padding: 1.5em 2em 3em; max-width: 1280px; }
h1 { font-size: 1.5em; margin: 0 0 .4em; }
h2 { font-size: 1.15em; margin: 2em 0 .6em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0; }
dl.meta dt { color: #666; }
dl.meta dd { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; border: 1px solid #e3e6ea; padding: .8em 1em; overflow: auto; max-height: 40em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
th, td { padding: .3em .5em; border-bottom: 1px solid #eee; text-align: right; vertical-align: top; white-space: nowrap; }
th { background: #fafafa; font-weight: 600; position: sticky; top: 0; }
td.name, th.name { text-align: left; }
td .ci { display: block; color: #777; font-size: 11px; }
td.best { background: #e8f5e9; font-weight: 700; }
td.best .star { color: #2e7d32; }
td.sig-better { background: #e8f5e9; }
td.sig-worse { background: #fdecea; }
td.fail { color: #b00020; font-weight: 700; }
td.pass { color: #2e7d32; }
td.skip { color: #777; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12.5px; max-width: 900px; }
.note { color: #666; font-size: 12.5px; }
`;

// The summary table's columns (table.ts), attempts per request with one more digit here.
const COLUMNS: readonly SummaryColumn[] = SUMMARY_COLUMNS.map((c) => (c.title === 'att/req' ? { ...c, format: (x: number) => x.toFixed(3) } : c));

function summaryTable(report: Report): string {
  const best = COLUMNS.map((c) => printedBest(report.variants.map(c.value), c.format, c.better));
  const head = `<tr><th class="name">variant</th>${COLUMNS.map((c) => `<th>${escapeHtml(c.title)}</th>`).join('')}</tr>`;
  const rows = report.variants.map((v) => {
    const cells = COLUMNS.map((c, i) => {
      const x = c.value(v);
      if (x === null) return '<td>–</td>';
      // Undefined: a report written before the intervals of the counts and maxima were added.
      const interval = v.summary.ci[c.ci] ?? null;
      const ci = interval === null ? '' : `<span class="ci">${escapeHtml(`${c.format(interval[0])} – ${c.format(interval[1])}`)}</span>`;
      const isBest = best[i] !== undefined && c.format(x) === best[i];
      return `<td${isBest ? ' class="best"' : ''}>${escapeHtml(c.format(x))}${isBest ? ' <span class="star">★</span>' : ''}${ci}</td>`;
    });
    return `<tr><td class="name">${escapeHtml(v.name)}</td>${cells.join('')}</tr>`;
  });
  const notes = [
    report.variants.length > 1 ? '★ best of the variants.' : '',
    report.seeds.length > 1
      ? `Under each figure: the 95% confidence interval of its per-seed value (${escapeHtml(report.statistics.interval)}); for the counts, of their total over the seeds (n × that of the per-seed count); for max ms and max/mean, of a single run's maximum, which the pooled maximum (over all seeds) can lie above.`
      : 'One seed: no confidence intervals (run with --seeds 2 or more).',
    'max/mean: the busiest instance\'s request rate over the mean (first service).',
  ].filter((s) => s !== '');
  return `<div class="scroll"><table id="summary-table">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></div>\n<p class="note">${notes.join(' ')}</p>`;
}

const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Number(Math.abs(x * 100).toPrecision(3))}%`;

/** Which way is better for a figure (for colouring significant differences). */
const BETTER: Readonly<Record<StatFigure, 'lower' | 'higher' | undefined>> = {
  successRate: 'higher',
  throughputPerSec: undefined,
  mean: 'lower',
  p50: 'lower',
  p90: 'lower',
  p99: 'lower',
  p999: 'lower',
  attemptsPerRequest: undefined,
};

function differencesTable(report: Report): string {
  const compared = report.variants.filter((v) => v.comparison !== undefined);
  if (compared.length === 0) return '';
  const baseline = report.statistics.baseline ?? report.variants[0].name;
  const head = `<tr><th class="name">variant</th>${STAT_FIGURES.map((f) => `<th>${escapeHtml(FIGURE_LABEL[f])}</th>`).join('')}</tr>`;
  const rows = compared.map((v) => {
    const cells = STAT_FIGURES.map((f) => {
      const c = v.comparison?.figures[f];
      if (c === undefined || c.relative === null) return `<td title="${escapeHtml(c?.verdict ?? '')}">–</td>`;
      const better = BETTER[f];
      const cls = !c.significant || better === undefined ? '' : (better === 'lower') === c.relative < 0 ? ' class="sig-better"' : ' class="sig-worse"';
      const ci = c.ci === null ? 'no interval' : `${signed(c.ci[0])} to ${signed(c.ci[1])}`;
      const p = c.p === null ? '' : `, p = ${formatP(c.p)}`;
      return `<td${cls} title="${escapeHtml(c.verdict)}">${escapeHtml(signed(c.relative))}${c.significant ? ' *' : ''}<span class="ci">${escapeHtml(ci + p)}</span></td>`;
    });
    return `<tr><td class="name">${escapeHtml(v.name)}</td>${cells.join('')}</tr>`;
  });
  const significant = compared.flatMap((v) => STAT_FIGURES.map((f) => v.comparison?.figures[f]).filter((c) => c?.significant === true).map((c) => `<li>${escapeHtml(`${v.name}: ${c?.verdict ?? ''}`)}</li>`));
  // Figures the test could not have found significant with so few seeds: said so, not "no significant difference".
  const notes = new Set(compared.flatMap((v) => (v.comparison === undefined ? [] : tooFewSeedsGroups(v.comparison.figures, v.comparison.method).map((g) => g.note))));
  const tooFew = [...notes].map((note) => `<p>${escapeHtml(note.charAt(0).toUpperCase() + note.slice(1))}: no difference can be significant, whatever its interval.</p>\n`).join('');
  // Figures with no comparison at all (no seed had them on both sides…): not "no significant difference".
  const notCompared = compared.flatMap((v) =>
    v.comparison === undefined ? [] : notComparedGroups(v.comparison.figures).map((g) => `<p>${escapeHtml(`${v.name}: not compared (${g.reason}): ${g.figures.map((f) => FIGURE_LABEL[f]).join(', ')}`)}.</p>\n`),
  );
  const multiple = multipleComparisonsNote(comparisonsCount(compared.map((v) => v.comparison)));
  const tested = compared.some((v) => STAT_FIGURES.some((f) => v.comparison?.figures[f].relative !== null));
  const n = report.seeds.length;
  return (
    `<h2 id="differences">Differences vs ${escapeHtml(baseline)}</h2>\n` +
    `<p class="note">Each variant against the baseline, paired by seed (${n} seed${n === 1 ? '' : 's'}, common random numbers): relative difference, its 95% confidence interval and the p-value of the permutation test. * significant (p &lt; 0.05 and the interval excludes 0); green better, red worse.` +
    (n < PAIRED_SEEDS_NEEDED ? ` With ${n} seed${n === 1 ? '' : 's'} no difference can reach p &lt; 0.05: run with <code>--seeds ${PAIRED_SEEDS_NEEDED}</code> or more.` : '') +
    '</p>\n' +
    `<div class="scroll"><table id="differences-table">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></div>\n` +
    (significant.length > 0 ? `<ul>\n${significant.join('\n')}\n</ul>\n` : tooFew === '' && tested ? `<p>No significant difference${notCompared.length > 0 ? ' in the figures compared' : ''}.</p>\n` : '') +
    tooFew +
    notCompared.join('') +
    (multiple === null ? '' : `<p class="note">${escapeHtml(multiple)}</p>\n`)
  );
}

/** The result cell's class and text: `pass`, `FAIL`, or `skipped` (a rule for a variant that did not run). */
const resultCell = (r: AssertionResult): [string, string] => (r.skipped === true ? ['skip', 'skipped'] : r.pass ? ['pass', 'pass'] : ['fail', 'FAIL']);

function assertionsSection(report: Report): string {
  const results = report.assertions;
  if (results === undefined) return '';
  const rows = results.map((r) => {
    const [cls, text] = resultCell(r);
    return (
      `<tr><td class="name ${cls}">${text}</td><td class="name"><code>${escapeHtml(r.rule)}</code></td><td class="name">${escapeHtml(r.variant)}</td>` +
      `<td>${r.actual === null ? '–' : escapeHtml(formatFigure(r.metric, r.actual))}</td><td class="name">${escapeHtml(describeStanding(r))}</td></tr>`
    );
  });
  return (
    `<h2 id="assertions">Assertions: ${escapeHtml(assertionTally(results))}</h2>\n` +
    (rows.length === 0
      ? '<p>No rule applied to the variants that ran.</p>\n'
      : `<div class="scroll"><table id="assertions-table">\n<thead><tr><th class="name">result</th><th class="name">rule</th><th class="name">variant</th><th>actual</th><th class="name">against the threshold</th></tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody></table></div>\n`)
  );
}

function chartSection(c: PageChart): string {
  return (
    `<figure id="chart-${c.name}" data-chart="${c.name}">\n${c.svg}\n` +
    `<figcaption>${escapeHtml(c.caption)} Spec: <code>${escapeHtml(c.specFile)}</code>.</figcaption>\n</figure>`
  );
}

function scenarioSection(input: PageInput): string {
  const s = input.scenario;
  // Not its path: the page depends on report.json alone (and the scenario's bytes, which the sha256 pins).
  const body = 'text' in s ? `<p class="note">The scenario file as loaded (its sha256 is the report's).</p>\n<pre id="scenario-text">${escapeHtml(s.text)}</pre>` : `<p class="note">${escapeHtml(s.missing)}</p>`;
  return `<h2 id="scenario">Scenario</h2>\n${body}\n`;
}

/** The whole page. */
export function renderPage(input: PageInput): string {
  const { report } = input;
  const title = `meshsim report: ${report.scenario.name}`;
  const n = report.seeds.length;
  const meta = [
    ['scenario', escapeHtml(report.scenario.name)],
    ['sha256', `<code>${escapeHtml(report.scenario.sha256)}</code>`],
    ...(report.plugins ?? []).map((p) => [
      'plugin',
      `${escapeHtml(p.file)} (${escapeHtml(p.kinds.join(', '))}), sha256 ${p.sha256 === null ? 'none (not a file)' : `<code>${escapeHtml(p.sha256)}</code>`}`,
    ]),
    ['seeds', `${escapeHtml(report.seeds.join(', '))} (${n} replication${n === 1 ? '' : 's'})`],
    ['variants', escapeHtml(String(report.variants.length))],
    ['generator', `${escapeHtml(report.generator)}, mode ${escapeHtml(report.mode)}, ${escapeHtml(report.schema)}`],
    ['latency', `client-observed, succeeded requests only, pooled over seeds; percentiles from a sketch (${escapeHtml(report.percentiles.method)}; relative error ≤ ${escapeHtml((report.percentiles.relativeError * 100).toFixed(1))}%)`],
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<dl class="meta">\n${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('\n')}\n</dl>`,
    '<h2 id="summary">Summary</h2>',
    summaryTable(report),
    differencesTable(report),
    assertionsSection(report),
    '<h2 id="charts">Charts</h2>',
    input.charts.length === 0 ? '<p>No data to chart (no request succeeded).</p>' : input.charts.map(chartSection).join('\n'),
    `<p class="note">Each chart is a Vega-Lite spec with its data inlined (the <code>charts/</code> folder next to this page): restyle it and render it with any Vega-Lite tool, e.g. the online Vega editor.</p>`,
    scenarioSection(input),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
