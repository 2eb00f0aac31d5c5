/**
 * The HTML report's charts as Vega-Lite specifications built from a report.json: each one
 * self-contained (its data inlined), so the same JSON renders the page's SVG and can be
 * restyled by users (charts/<name>.vl.json). The latency plot follows HdrHistogram's
 * percentile plot (latency on a log axis against 1/(1 − q), so each "nine" gets equal room).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { LatencyQuantile, Report, VariantReport } from '../report.js';

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The charts, in page order. */
export const CHART_NAMES = ['latency-percentiles', 'timeline', 'instances', 'summary-intervals'] as const;
export type ChartName = (typeof CHART_NAMES)[number];

export interface Chart {
  readonly name: ChartName;
  readonly title: string;
  /** One or two sentences under the chart: what it shows and how it was computed. */
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** Shared look: small, readable, no fonts to fetch. */
const CONFIG = {
  font: 'sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#eee', labelLimit: 320 },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 400 },
  title: { fontSize: 13, anchor: 'start', fontWeight: 'bold' },
} as const;

/** One colour per variant, in report order; past 10 variants (sweeps) a 20-colour scheme. */
const variantColor = (report: Report, legend = true) => ({
  field: 'variant',
  type: 'nominal' as const,
  title: 'variant',
  scale: { domain: report.variants.map((v) => v.name), scheme: report.variants.length > 10 ? 'tableau20' : 'tableau10' },
  // Every variant of a sweep in the legend (Vega's default stops at 50 with a warning).
  legend: legend ? { symbolLimit: 0 } : null,
});

/**
 * A variant's latency distribution: `latencyDistribution` when the report has it, else
 * (reports from before it) the summary's percentiles.
 */
export function latencyPoints(v: VariantReport): readonly LatencyQuantile[] {
  if (v.latencyDistribution !== undefined) return v.latencyDistribution;
  const l = v.summary.latencyMs;
  const pairs: [number, number | null][] = [
    [0.5, l.p50],
    [0.9, l.p90],
    [0.99, l.p99],
    [0.999, l.p999],
    [1, l.max],
  ];
  return pairs.filter((p): p is [number, number] => p[1] !== null).map(([q, ms]) => ({ q, ms }));
}

function latencySpec(report: Report): Chart | undefined {
  // Only positive latencies: the y axis is a log scale, where 0 has no place (Vega warns
  // "Log scale domain includes zero" and draws flat lines). The q = 0 point, the fastest
  // request, rounds to 0 ms when it took less than report.json's rounding step (exponential
  // service times and no network latency, as in scenarios/mm1.yaml); the timeline's latency
  // panel leaves such points out too.
  const values = report.variants.flatMap((v) => latencyPoints(v).filter((p) => p.q < 1 && p.ms > 0).map((p) => ({ variant: v.name, q: p.q, ms: p.ms })));
  if (values.length === 0) return undefined;
  const maxQ = Math.max(...values.map((p) => p.q));
  // Ticks at 0%, 50%, 90%, 99%, … up to the deepest quantile plotted.
  const ticks = [1, 2, 10, 100, 1000, 10_000, 100_000].filter((x) => x <= 1 / (1 - maxQ) * 1.0001);
  const pct = (report.percentiles.relativeError * 100).toFixed(1);
  return {
    name: 'latency-percentiles',
    title: 'Latency by percentile',
    caption:
      `Client-observed latency of succeeded requests, pooled over ${report.seeds.length} seed(s), at each percentile; ` +
      `the x axis is 1/(1 − q) on a log scale, so every "nine" gets the same room (HdrHistogram's percentile plot). ` +
      `From the merged DDSketch: relative error ≤ ${pct}%.`,
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Latency by percentile',
      width: 560,
      height: 300,
      data: { values },
      transform: [{ calculate: '1 / (1 - datum.q)', as: 'inverseTail' }],
      mark: { type: 'line', point: { size: 20 }, interpolate: 'monotone', clip: true },
      encoding: {
        x: {
          field: 'inverseTail',
          type: 'quantitative',
          title: 'percentile',
          scale: { type: 'log', domain: [1, ticks[ticks.length - 1] ?? 1 / (1 - maxQ)] },
          axis: { values: ticks, labelExpr: "format(100 - 100 / datum.value, '.4~f') + '%'", grid: true },
        },
        y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
        color: variantColor(report),
      },
      config: CONFIG,
    },
  };
}

/** A fault window, as shaded on the timeline (deduplicated across variants). */
interface Shade {
  readonly fault: string;
  readonly start: number;
  readonly end: number;
}

/**
 * The fault windows to shade, deduplicated across variants; `throughout`: the faults that
 * cover the whole timeline (named in the caption, since shading everything shows nothing).
 */
function faultShades(report: Report, runEnd: number): { shades: Shade[]; throughout: string[] } {
  const seen = new Set<string>();
  const out: Shade[] = [];
  const throughout: string[] = [];
  for (const v of report.variants)
    for (const f of v.faults) {
      const where = f.service === undefined ? '' : ` ${f.service}${f.instances.length > 0 ? `[${f.instances.join(',')}]` : ''}`;
      const shade = { fault: `${f.kind}${where}`, start: f.start / 1000, end: f.end === null ? runEnd : f.end / 1000 };
      const key = `${shade.fault}\u0000${shade.start}\u0000${shade.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (shade.start <= 0 && shade.end >= runEnd) throughout.push(shade.fault);
      else out.push(shade);
    }
  return { shades: out, throughout };
}

/**
 * What the timeline's t counts, by the report's mode: virtual time in a simulation; in a
 * live run, real (wall-clock) time from the start of the load, as the load generator
 * buckets the answers.
 */
function timelineClock(report: Report): { readonly axis: string; readonly caption: string } {
  return report.mode === 'live' ? { axis: 'time since the load started (s)', caption: 'of real time since the load started' } : { axis: 'simulated time (s)', caption: 'of simulated time' };
}

function timelineSpec(report: Report): Chart | undefined {
  const values = report.variants.flatMap((v) => v.timeline.points.map((p) => ({ variant: v.name, t: p.t, requests: p.requests, successRate: p.successRate, p50: p.p50, p99: p.p99 })));
  if (values.length === 0) return undefined;
  const bucket = Math.max(...report.variants.map((v) => v.timeline.bucketMs)) / 1000;
  const tMax = Math.max(...values.map((p) => p.t)) + bucket;
  const { shades, throughout } = faultShades(report, tMax);
  const clock = timelineClock(report);
  const x = { field: 't', type: 'quantitative' as const, title: clock.axis, scale: { domain: [0, tMax], nice: false } };
  const shadeLayer = {
    data: { values: shades },
    mark: { type: 'rect' as const, opacity: 0.12, color: '#d62728' },
    encoding: { x: { field: 'start', type: 'quantitative' as const }, x2: { field: 'end' } },
  };
  const withShades = shades.length > 0 ? [shadeLayer] : [];
  const errorPct = (report.variants[0]?.timeline.latencyRelativeError ?? 0) * 100;
  // No latency panel when nothing succeeded at all (an empty log scale makes Vega warn).
  const latencyPanel = values.some((p) => (p.p50 ?? 0) > 0 || (p.p99 ?? 0) > 0)
    ? [
        {
          width: 560,
          height: 200,
          layer: [
            ...withShades,
            {
              transform: [{ fold: ['p50', 'p99'], as: ['percentile', 'ms'] as [string, string] }, { filter: 'isValid(datum.ms) && datum.ms > 0' }],
              mark: { type: 'line' as const, strokeWidth: 1.5, clip: true },
              encoding: {
                x: { ...x, axis: { title: null, labels: false } },
                y: { field: 'ms', type: 'quantitative' as const, title: 'latency (ms, log scale)', scale: { type: 'log' as const } },
                color: variantColor(report),
                strokeDash: { field: 'percentile', type: 'nominal' as const, title: 'percentile', scale: { domain: ['p50', 'p99'], range: [[4, 3], [1, 0]] } },
              },
            },
          ],
        },
      ]
    : [];
  const successPanel = {
    width: 560,
    height: 140,
    layer: [
      ...withShades,
      {
        transform: [{ filter: 'isValid(datum.successRate)' }],
        mark: { type: 'line' as const, strokeWidth: 1.5, clip: true },
        encoding: {
          x,
          y: { field: 'successRate', type: 'quantitative' as const, title: 'success rate', axis: { format: '.0%' }, scale: { zero: false } },
          color: variantColor(report),
        },
      },
    ],
  };
  return {
    name: 'timeline',
    title: 'Latency and success over time',
    caption:
      `Per ${bucket} s ${clock.caption} (answers received in the bucket, pooled over seeds): p50 (dashed) and p99 (solid) latency of succeeded ` +
      `requests (relative error ≤ ${errorPct.toFixed(0)}%) and the success rate.` +
      (shades.length > 0 ? ` Shaded: fault windows (${shades.length}; of the first seed when a schedule is random).` : '') +
      (throughout.length > 0 ? ` For the whole run: ${throughout.join(', ')}.` : ''),
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Latency and success over time',
      data: { values },
      vconcat: [...latencyPanel, successPanel],
      config: CONFIG,
    },
  };
}

function instancesSpec(report: Report): Chart | undefined {
  const services = [...new Set(report.variants.flatMap((v) => v.instances.map((i) => i.service)))];
  const values = report.variants.flatMap((v) =>
    v.instances.map((i) => ({
      variant: v.name,
      instance: `${i.service}/${i.index}`,
      order: services.indexOf(i.service) * 1e6 + i.index,
      zone: i.zone,
      requests: i.requests,
      share: i.share,
      utilization: i.utilization,
    })),
  );
  if (values.length === 0) return undefined;
  const instances = [...new Map([...values].sort((a, b) => a.order - b.order).map((p) => [p.instance, p])).keys()];
  if (instances.length > HEATMAP_MAX_INSTANCES) return instanceDistributionSpec(report);
  const cell = Math.max(18, Math.min(40, Math.floor(560 / instances.length)));
  const heatmap = (field: 'share' | 'utilization', title: string, scheme: string, domain: [number, number] | undefined) => ({
    title,
    width: cell * instances.length,
    height: { step: 18 },
    transform: [{ filter: `isValid(datum.${field})` }],
    encoding: {
      x: { field: 'instance', type: 'nominal' as const, title: 'instance (service/index)', sort: instances, axis: { labelAngle: -45 } },
      y: { field: 'variant', type: 'nominal' as const, title: null, sort: report.variants.map((v) => v.name) },
    },
    layer: [
      {
        mark: { type: 'rect' as const },
        encoding: { color: { field, type: 'quantitative' as const, title: field === 'share' ? 'share' : 'utilisation', scale: { scheme, ...(domain ? { domain } : {}) }, legend: { format: '.0%' } } },
      },
      ...(cell >= 28
        ? [
            {
              mark: { type: 'text' as const, fontSize: 9 },
              encoding: {
                text: { field, type: 'quantitative' as const, format: '.0%' },
                color: { condition: { test: `datum.${field} > ${(domain?.[1] ?? 1) * 0.6}`, value: 'white' }, value: 'black' },
              },
            },
          ]
        : []),
    ],
  });
  const hasUtilization = values.some((p) => p.utilization !== null);
  const maxShare = Math.max(...values.map((p) => p.share));
  return {
    name: 'instances',
    title: 'Traffic share and utilisation per instance',
    caption:
      'Share: each instance\'s fraction of the requests sent to its service (measurement window, all seeds). ' +
      (hasUtilization ? 'Utilisation: busy slot-time over slots × time it was a member.' : 'Utilisation: none (unbounded concurrency).'),
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Traffic share and utilisation per instance',
      data: { values },
      vconcat: [heatmap('share', 'traffic share', 'blues', [0, maxShare > 0 ? maxShare : 1]), ...(hasUtilization ? [heatmap('utilization', 'utilisation', 'oranges', [0, 1])] : [])],
      resolve: { scale: { color: 'independent' } },
      config: CONFIG,
    },
  };
}

/**
 * Past this many instances a cell per instance says nothing (and Vega-Lite's sort over
 * thousands of names overflows its expression parser): the chart shows the distribution.
 */
export const HEATMAP_MAX_INSTANCES = 60;

/** Counts of `xs` in `bins` equal bins over [0, hi]; the last bin takes hi itself. */
function histogram(xs: readonly number[], hi: number, bins: number): { lo: number; hi: number; mid: number; count: number }[] {
  const width = hi / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const x of xs) counts[Math.min(bins - 1, Math.max(0, Math.floor(x / width)))]++;
  return counts.map((count, b) => ({ lo: b * width, hi: (b + 1) * width, mid: (b + 0.5) * width, count }));
}

/**
 * A large fleet's instances as distributions, per variant: how many instances got each
 * multiple of their fair share (share × instances of their service; 1 = perfectly even),
 * and how many ran at each utilisation. Pre-binned here, so the spec stays small.
 */
function instanceDistributionSpec(report: Report): Chart {
  const BINS = 40;
  const perVariant = report.variants.map((v) => {
    const count = new Map<string, number>();
    for (const i of v.instances) count.set(i.service, (count.get(i.service) ?? 0) + 1);
    return {
      name: v.name,
      load: v.instances.map((i) => i.share * (count.get(i.service) ?? 1)),
      utilization: v.instances.map((i) => i.utilization).filter((u): u is number => u !== null),
    };
  });
  const maxLoad = Math.max(1, ...perVariant.flatMap((v) => v.load));
  const rows = (field: 'load' | 'utilization', hi: number) =>
    perVariant.flatMap((v) => (v[field].length === 0 ? [] : histogram(v[field], hi, BINS).map((b) => ({ variant: v.name, ...b }))));
  const panel = (title: string, axis: string, format: string, values: readonly object[]) => ({
    title,
    width: 560,
    height: 160,
    data: { values },
    mark: { type: 'line' as const, point: true, interpolate: 'step-after' as const },
    encoding: {
      x: { field: 'lo', type: 'quantitative' as const, title: axis, axis: { format } },
      y: { field: 'count', type: 'quantitative' as const, title: 'instances' },
      color: variantColor(report),
      tooltip: [
        { field: 'variant', type: 'nominal' as const },
        { field: 'lo', type: 'quantitative' as const, format, title: 'from' },
        { field: 'hi', type: 'quantitative' as const, format, title: 'to' },
        { field: 'count', type: 'quantitative' as const, title: 'instances' },
      ],
    },
  });
  const utilRows = rows('utilization', 1);
  const n = Math.max(...report.variants.map((v) => v.instances.length));
  return {
    name: 'instances',
    title: 'Traffic share and utilisation per instance',
    caption:
      `${n} instances: too many for a cell each, so the distributions, ${BINS} bins per variant. Load: each instance's share of the requests sent to its ` +
      'service × the instances of that service (1 = its fair share). ' +
      (utilRows.length > 0 ? 'Utilisation: busy slot-time over slots × time it was a member.' : 'Utilisation: none (unbounded concurrency).') +
      ' report.json has every instance.',
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Traffic share and utilisation per instance',
      vconcat: [
        panel('load: share over fair share', 'share / fair share', '.2f', rows('load', maxLoad)),
        ...(utilRows.length > 0 ? [panel('utilisation', 'utilisation', '.0%', utilRows)] : []),
      ],
      config: CONFIG,
    },
  };
}

/** The figures with intervals shown as a chart, each in its own panel. */
const INTERVAL_FIGURES = [
  { figure: 'p50', title: 'p50 (ms)', value: (v: VariantReport) => v.summary.latencyMs.p50, format: '' },
  { figure: 'p99', title: 'p99 (ms)', value: (v: VariantReport) => v.summary.latencyMs.p99, format: '' },
  { figure: 'successRate', title: 'success rate', value: (v: VariantReport) => v.summary.successRate, format: '.2%' },
  { figure: 'attemptsPerRequest', title: 'attempts per request', value: (v: VariantReport) => v.summary.attemptsPerRequest, format: '' },
] as const;

function intervalsSpec(report: Report): Chart | undefined {
  const panels = INTERVAL_FIGURES.map((f) => ({
    f,
    values: report.variants.map((v) => {
      const ci = v.summary.ci[f.figure];
      return { variant: v.name, value: f.value(v), lo: ci?.[0] ?? null, hi: ci?.[1] ?? null };
    }),
  })).filter((p) => p.values.some((x) => x.value !== null));
  if (panels.length === 0) return undefined;
  const order = report.variants.map((v) => v.name);
  const seeds = report.seeds.length;
  return {
    name: 'summary-intervals',
    title: 'Summary figures with 95% confidence intervals',
    caption:
      `Dot: the pooled figure (all seeds); bar: the 95% interval of the per-seed figure (Student's t over ${seeds} seed(s)` +
      (seeds < 2 ? '; none with one seed' : '') +
      ').',
    spec: {
      $schema: VEGA_LITE_SCHEMA,
      title: 'Summary figures with 95% confidence intervals',
      hconcat: panels.map((p, i) => ({
        data: { values: p.values },
        width: 150,
        height: { step: 18 },
        encoding: {
          y: { field: 'variant', type: 'nominal' as const, title: null, sort: order, axis: i === 0 ? {} : { labels: false, ticks: false } },
        },
        layer: [
          // The interval bars only where there are intervals (none with one seed): an empty layer makes Vega warn.
          ...(p.values.some((x) => x.lo !== null && x.hi !== null)
            ? [
                {
                  transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
                  mark: { type: 'rule' as const, strokeWidth: 2, color: '#888' },
                  encoding: { x: { field: 'lo', type: 'quantitative' as const, title: p.f.title, scale: { zero: false }, axis: p.f.format ? { format: p.f.format } : {} }, x2: { field: 'hi' } },
                },
              ]
            : []),
          {
            transform: [{ filter: 'isValid(datum.value)' }],
            mark: { type: 'point' as const, filled: true, size: 40 },
            encoding: { x: { field: 'value', type: 'quantitative' as const, title: p.f.title, scale: { zero: false }, axis: p.f.format ? { format: p.f.format } : {} }, color: variantColor(report, false) },
          },
        ],
      })),
      config: CONFIG,
    },
  };
}

/** The report's charts that have data, in page order. */
export function buildCharts(report: Report): Chart[] {
  return [latencySpec(report), timelineSpec(report), instancesSpec(report), intervalsSpec(report)].filter((c): c is Chart => c !== undefined);
}
