/** The Vega-Lite specs built from a report: which charts, their inlined data, the fault shading. */
import { describe, expect, it } from 'vitest';
import { buildCharts, CHART_NAMES, HEATMAP_MAX_INSTANCES, latencyPoints, VEGA_LITE_SCHEMA, type Chart } from '../../../src/report/html/specs.js';
import { renderSvg } from '../../../src/report/html/render.js';
import { LATENCY_QUANTILES, type Report, type VariantReport } from '../../../src/report/report.js';
import { tinyScenario } from '../../_tiny-scenario.js';
import { fixtureReport } from './_fixture.js';

const report = fixtureReport();
const charts = buildCharts(report);
const chart = (name: string): Chart => {
  const c = charts.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no chart ${name}`);
  return c;
};
/** The spec as plain JSON (as written to charts/<name>.vl.json). */
const json = (c: Chart): Record<string, unknown> => JSON.parse(JSON.stringify(c.spec)) as Record<string, unknown>;
const get = (x: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], x);

describe('buildCharts', () => {
  it('builds every chart, in page order, each a self-contained Vega-Lite spec (schema, inlined data, no URL)', () => {
    expect(charts.map((c) => c.name)).toEqual([...CHART_NAMES]);
    for (const c of charts) {
      const spec = json(c);
      expect(spec.$schema).toBe(VEGA_LITE_SCHEMA);
      expect(JSON.stringify(spec)).not.toMatch(/"url"\s*:/);
      expect(c.title.length).toBeGreaterThan(0);
      expect(c.caption.length).toBeGreaterThan(0);
    }
  });

  it('latency: each variant\'s distribution below q = 1, on log axes with percentile ticks', () => {
    const spec = json(chart('latency-percentiles'));
    const values = get(spec, 'data', 'values') as { variant: string; q: number; ms: number }[];
    for (const v of report.variants) {
      const expected = (v.latencyDistribution ?? []).filter((p) => p.q < 1 && p.ms > 0).map((p) => ({ variant: v.name, q: p.q, ms: p.ms }));
      expect(expected.length).toBeGreaterThan(5);
      expect(values.filter((p) => p.variant === v.name)).toEqual(expected);
    }
    expect(get(spec, 'encoding', 'x', 'scale', 'type')).toBe('log');
    expect(get(spec, 'encoding', 'y', 'scale', 'type')).toBe('log');
    // ~726 requests per variant: 1/(1 − q) reaches 100 (99%) but not 1000 (99.9%).
    expect(get(spec, 'encoding', 'x', 'axis', 'values')).toEqual([1, 2, 10, 100]);
  });

  it('latency: leaves out points at 0 ms, which a log axis cannot show (Vega warned and drew flat lines)', async () => {
    // As scenarios/mm1.yaml's report: the fastest request (q = 0) rounded to 0 ms, and one
    // variant whose whole distribution is 0 ms (answered within the rounding step).
    const withZeros: Report = {
      ...report,
      variants: report.variants.map((v, k) => ({
        ...v,
        latencyDistribution: (v.latencyDistribution ?? []).map((p) => ({ q: p.q, ms: k === 1 || p.q === 0 ? 0 : p.ms })),
      })),
    };
    const c = buildCharts(withZeros).find((x) => x.name === 'latency-percentiles') as Chart;
    const values = get(json(c), 'data', 'values') as { variant: string; q: number; ms: number }[];
    expect(values.length).toBeGreaterThan(5);
    expect(values.every((p) => p.ms > 0 && p.q > 0 && p.variant === withZeros.variants[0].name)).toBe(true);
    const { warnings } = await renderSvg(c.spec, 'zeros');
    expect(warnings).toEqual([]);
    // Nothing above 0 ms at all: no latency chart rather than an empty log axis.
    const allZero: Report = { ...withZeros, variants: withZeros.variants.map((v) => ({ ...v, latencyDistribution: (v.latencyDistribution ?? []).map((p) => ({ q: p.q, ms: 0 })) })) };
    expect(buildCharts(allZero).map((x) => x.name)).not.toContain('latency-percentiles');
  });

  it('timeline: every point of every variant, and the crash window shaded in seconds; the whole-run fault named instead', () => {
    const c = chart('timeline');
    const spec = json(c);
    const values = get(spec, 'data', 'values') as { variant: string; t: number }[];
    expect(values.length).toBe(report.variants.reduce((a, v) => a + v.timeline.points.length, 0));
    for (const panel of [0, 1]) {
      const shade = get(spec, 'vconcat', panel, 'layer', 0) as { mark: { type: string }; data: { values: { fault: string; start: number; end: number }[] } };
      expect(shade.mark.type).toBe('rect');
      expect(shade.data.values).toEqual([{ fault: 'crash api[0]', start: 0.8, end: 1.2 }]);
    }
    expect(c.caption).toContain('For the whole run: error api[1].');
  });

  it('timeline without faults: no shading layer', () => {
    const plain = fixtureReport(tinyScenario({ name: 'plain' }));
    const spec = json(buildCharts(plain).find((c) => c.name === 'timeline') as Chart);
    for (const panel of [0, 1]) {
      const layers = get(spec, 'vconcat', panel, 'layer') as { mark: { type: string } }[];
      expect(layers.map((l) => l.mark.type)).toEqual(['line']);
    }
  });

  it('timeline: its time axis and caption say simulated time for a simulation, real time since the load started for a live run', () => {
    const axisTitles = (r: Report): unknown[] => {
      const spec = json(buildCharts(r).find((c) => c.name === 'timeline') as Chart);
      return [0, 1].map((panel) => get(spec, 'vconcat', panel, 'layer', 1, 'encoding', 'x', 'title'));
    };
    const caption = (r: Report): string => (buildCharts(r).find((c) => c.name === 'timeline') as Chart).caption;
    expect(report.mode).toBe('sim');
    expect(axisTitles(report)).toEqual(['simulated time (s)', 'simulated time (s)']);
    expect(caption(report)).toMatch(/^Per [\d.]+ s of simulated time /);
    const live: Report = { ...report, mode: 'live' };
    expect(axisTitles(live)).toEqual(['time since the load started (s)', 'time since the load started (s)']);
    expect(caption(live)).toMatch(/^Per [\d.]+ s of real time since the load started /);
    expect(JSON.stringify(buildCharts(live))).not.toMatch(/simulated/);
  });

  it('instances: share and utilisation of every instance of every variant', () => {
    const spec = json(chart('instances'));
    const values = get(spec, 'data', 'values') as { variant: string; instance: string; share: number; utilization: number | null }[];
    const expected = report.variants.flatMap((v) => v.instances.map((i) => ({ variant: v.name, instance: `${i.service}/${i.index}`, share: i.share, utilization: i.utilization })));
    expect(values.map(({ variant, instance, share, utilization }) => ({ variant, instance, share, utilization }))).toEqual(expected);
    expect((get(spec, 'vconcat') as unknown[]).length).toBe(2);
  });

  it(`instances past ${HEATMAP_MAX_INSTANCES}: the distributions of load over fair share and of utilisation, pre-binned, that Vega renders (10,000 instances)`, async () => {
    const n = 10_000;
    const big: Report = {
      ...report,
      variants: report.variants.map((v, k) => ({
        ...v,
        // Instance i gets a share proportional to 1 + (i mod 4) (k + 1) / 4: loads over fair share spread between ~0.4 and ~2.2.
        instances: Array.from({ length: n }, (_, i) => ({ ...v.instances[0], index: i, share: (1 + ((i % 4) * (k + 1)) / 4) / (n * (1 + (3 * (k + 1)) / 8)), utilization: (i % 10) / 10 })),
      })),
    };
    const c = buildCharts(big).find((x) => x.name === 'instances') as Chart;
    const spec = json(c);
    expect(JSON.stringify(spec).length).toBeLessThan(100_000);
    expect(c.caption).toMatch(/10000 instances/);
    for (const panel of [0, 1]) {
      const values = get(spec, 'vconcat', panel, 'data', 'values') as { variant: string; lo: number; hi: number; count: number }[];
      for (const v of big.variants) {
        const bins = values.filter((b) => b.variant === v.name);
        expect(bins.reduce((a, b) => a + b.count, 0)).toBe(n);
      }
    }
    // Fair share: each variant's 4 share levels land in 4 distinct bins, 2,500 instances each.
    const load = get(spec, 'vconcat', 0, 'data', 'values') as { variant: string; count: number }[];
    for (const v of big.variants) expect(load.filter((b) => b.variant === v.name && b.count > 0).map((b) => b.count)).toEqual([2500, 2500, 2500, 2500]);
    const { svg } = await renderSvg(c.spec, 'big');
    expect(svg).toMatch(/^<svg/);
  });

  it('summary intervals: the pooled figure and its 95% interval per variant', () => {
    const spec = json(chart('summary-intervals'));
    const p99 = get(spec, 'hconcat', 1, 'data', 'values') as { variant: string; value: number; lo: number; hi: number }[];
    expect(p99).toEqual(report.variants.map((v) => ({ variant: v.name, value: v.summary.latencyMs.p99, lo: v.summary.ci.p99?.[0], hi: v.summary.ci.p99?.[1] })));
  });

  it('a report without variants has no chart', () => {
    const empty: Report = { ...report, variants: [] };
    expect(buildCharts(empty)).toEqual([]);
  });

  it('same report → same specs', () => {
    expect(JSON.stringify(buildCharts(fixtureReport()))).toBe(JSON.stringify(charts));
  });
});

describe('latencyDistribution (report.json) and latencyPoints', () => {
  it('runs from the exact minimum (q = 0) to the exact maximum (q = 1), non-decreasing, with only levels that have a sample above them', () => {
    for (const v of report.variants) {
      const d = v.latencyDistribution ?? [];
      const n = v.summary.requests.succeeded;
      expect(d[0].q).toBe(0);
      expect(d[d.length - 1]).toEqual({ q: 1, ms: v.summary.latencyMs.max });
      expect(d.slice(1, -1).map((p) => p.q)).toEqual(LATENCY_QUANTILES.filter((q) => n * (1 - q) >= 1));
      for (let i = 1; i < d.length; i++) expect(d[i].ms).toBeGreaterThanOrEqual(d[i - 1].ms);
      expect(d.find((p) => p.q === 0.5)?.ms).toBe(v.summary.latencyMs.p50);
      expect(d.find((p) => p.q === 0.99)?.ms).toBe(v.summary.latencyMs.p99);
    }
  });

  it('an older report without it: the summary percentiles', () => {
    const { latencyDistribution: _, ...old } = report.variants[0];
    const l = old.summary.latencyMs;
    expect(latencyPoints(old as VariantReport)).toEqual([
      { q: 0.5, ms: l.p50 },
      { q: 0.9, ms: l.p90 },
      { q: 0.99, ms: l.p99 },
      { q: 0.999, ms: l.p999 },
      { q: 1, ms: l.max },
    ]);
  });
});
