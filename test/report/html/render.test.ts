/** Vega-Lite → SVG in Node: every chart renders, without warnings, the same bytes each time. */
import { describe, expect, it } from 'vitest';
import { renderSvg, renumberIds } from '../../../src/report/html/render.js';
import { buildCharts } from '../../../src/report/html/specs.js';
import type { Report } from '../../../src/report/report.js';
import { STAT_FIGURES } from '../../../src/report/statistics.js';
import { fixtureReport } from './_fixture.js';

const report = fixtureReport();
const charts = buildCharts(report);

/** The Vega mark kinds each chart must draw (Vega's SVG groups marks as `mark-<type>`). */
const MARKS: Readonly<Record<string, readonly string[]>> = {
  'latency-percentiles': ['mark-line', 'mark-symbol'],
  timeline: ['mark-line', 'mark-rect'],
  instances: ['mark-rect', 'mark-text'],
  'summary-intervals': ['mark-rule', 'mark-symbol'],
};

describe('renderSvg', () => {
  it('renders every chart to an SVG document with a size and its marks, and no warning', async () => {
    for (const c of charts) {
      const { svg, warnings } = await renderSvg(c.spec);
      expect(warnings, c.name).toEqual([]);
      const size = /^<svg [^>]*width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
      expect(size, c.name).not.toBeNull();
      expect(Number(size?.[1])).toBeGreaterThan(100);
      expect(Number(size?.[2])).toBeGreaterThan(50);
      for (const mark of MARKS[c.name]) expect(svg, `${c.name}: ${mark}`).toMatch(new RegExp(`<g class="${mark} role-mark[^"]*"[^>]*><(path|line|text)`));
      expect(svg.endsWith('</svg>')).toBe(true);
    }
  });

  it('is deterministic: the same spec twice gives the same bytes', async () => {
    for (const c of charts) {
      const a = await renderSvg(c.spec);
      const b = await renderSvg(JSON.parse(JSON.stringify(c.spec)));
      expect(b.svg, c.name).toBe(a.svg);
    }
  });

  it('names element ids after the prefix, in document order, references included (Vega numbers them per process)', async () => {
    const timeline = charts.find((c) => c.name === 'timeline');
    if (timeline === undefined) throw new Error('no timeline');
    const { svg } = await renderSvg(timeline.spec, 'tl');
    const ids = [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(ids.map((_, i) => `tl-${i + 1}`));
    const refs = [...svg.matchAll(/url\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) expect(ids).toContain(r);
  });

  it('renumberIds leaves other text alone', () => {
    expect(renumberIds('<svg><g clip-path="url(#clip7)"/><text>id="clip7"</text><defs><clipPath id="clip7"/></defs></svg>', 'x')).toBe(
      '<svg><g clip-path="url(#x-1)"/><text>id="clip7"</text><defs><clipPath id="x-1"/></defs></svg>',
    );
  });

  it('edge cases render without warnings: one seed (no intervals), a variant where nothing succeeded', async () => {
    const noCi = Object.fromEntries(STAT_FIGURES.map((f) => [f, null])) as Report['variants'][number]['summary']['ci'];
    const [first, second] = report.variants;
    const failed = {
      ...second,
      summary: { ...second.summary, successRate: 0, latencyMs: { mean: null, p50: null, p90: null, p99: null, p999: null, max: null }, ci: noCi },
      latencyDistribution: [],
      timeline: { ...second.timeline, points: second.timeline.points.map((p) => ({ ...p, successRate: 0, p50: null, p99: null })) },
    };
    const edge: Report = { ...report, seeds: [report.seeds[0]], variants: [{ ...first, summary: { ...first.summary, ci: noCi } }, failed] };
    const edgeCharts = buildCharts(edge);
    expect(edgeCharts.map((c) => c.name)).toEqual(charts.map((c) => c.name));
    for (const c of edgeCharts) {
      const { svg, warnings } = await renderSvg(c.spec);
      expect(warnings, c.name).toEqual([]);
      expect(svg.startsWith('<svg '), c.name).toBe(true);
    }
  });

  it('nothing succeeded at all: no latency plot, no latency panel, the rest without warnings', async () => {
    const none: Report = {
      ...report,
      variants: report.variants.map((v) => ({
        ...v,
        summary: { ...v.summary, successRate: 0, latencyMs: { mean: null, p50: null, p90: null, p99: null, p999: null, max: null } },
        latencyDistribution: [],
        timeline: { ...v.timeline, points: v.timeline.points.map((p) => ({ ...p, successRate: 0, p50: null, p99: null })) },
      })),
    };
    const noneCharts = buildCharts(none);
    expect(noneCharts.map((c) => c.name)).toEqual(['timeline', 'instances', 'summary-intervals']);
    expect((JSON.parse(JSON.stringify(noneCharts[0].spec)) as { vconcat: unknown[] }).vconcat).toHaveLength(1);
    for (const c of noneCharts) expect((await renderSvg(c.spec)).warnings, c.name).toEqual([]);
  });

  it('collects Vega-Lite\'s warnings instead of printing them', async () => {
    const { warnings } = await renderSvg({ data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, size: { field: 'a', type: 'quantitative', scale: { type: 'log', zero: true } } } });
    expect(warnings.length).toBeGreaterThan(0);
  });
});
