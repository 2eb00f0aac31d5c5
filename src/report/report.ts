/**
 * The report (`meshsim/report@1`): a public, versioned, deterministic JSON document.
 * Same scenario bytes and seeds → byte-identical report.json; no wall-clock figures.
 * Latency percentiles come from the merged DDSketch, whose relative error is stated in
 * the report itself.
 */
import { QuantileSketch } from '../core/quantile-sketch.js';
import type { RunOutput } from '../runner/run.js';
import type { PluginIdentity } from '../scenario/plugins.js';
import { TIMELINE_ACCURACY, type FailoverCounts, type FaultEffect, type LayerStats, type RequestCounts, type RunResult } from '../sim/metrics.js';
import type { AssertMetric, AssertOp } from '../scenario/types.js';
import { VERSION } from '../version.js';
import { compareRuns, COUNTER_FIGURES, countIntervals, STATISTICS_METHOD, summaryIntervals, type CountIntervals, type SummaryIntervals, type VariantComparison } from './statistics.js';

export const REPORT_SCHEMA = 'meshsim/report@1';

export interface LatencySummary {
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  readonly max: number | null;
}

export interface Summary {
  readonly requests: RequestCounts;
  /** succeeded / total, in [0, 1]; null when no request was issued. */
  readonly successRate: number | null;
  /** Succeeded requests per second of measurement window (mean over runs). */
  readonly throughputPerSec: number;
  /** Client-observed latency of succeeded requests, ms (issue → response, network included). */
  readonly latencyMs: LatencySummary;
  /**
   * Attempts the client-facing sidecars sent per request issued (retries and hedges
   * included; 1 without them): the retry amplification seen from the edge.
   */
  readonly attemptsPerRequest: number | null;
  /** Retries sent by every caller (only with a retry policy). */
  readonly retries?: number;
  /** Retries and hedges refused by a budget or the max_retries breaker (only with retries). */
  readonly retryBudgetDenied?: number;
  /** Hedges sent, and hedges whose answer won (only with hedging). */
  readonly hedges?: number;
  readonly hedgesWon?: number;
  /** Requests rejected locally by adaptive throttling (only with it). */
  readonly throttled?: number;
  /** Outlier ejections enforced by the callers' sidecars (summed; only with outlier detection). */
  readonly ejections?: number;
  /** Failed active health checks (summed; only with health checking). */
  readonly healthCheckFailures?: number;
  /** Requests refused at once by an open circuit breaker (summed; only with breakers). */
  readonly breakerOverflows?: number;
}

export interface RunSummary extends Summary {
  readonly seed: number;
  /** This run's fault windows, when the scenario has faults. */
  readonly faults?: readonly FaultReport[];
}

/** One instance's share of the work, summed over runs. */
export interface InstanceReport {
  readonly service: string;
  readonly index: number;
  readonly zone: string;
  /** Measurement-window requests balancers sent to it. */
  readonly requests: number;
  /** Its fraction of the requests sent to its service. */
  readonly share: number;
  /** Busy slot-time / (slots × time it was a member); null for unbounded concurrency. */
  readonly utilization: number | null;
  /** Average number of busy slots while it was a member. */
  readonly meanBusy: number;
}

/** How evenly a service's instances were loaded (request rate per instance while a member). */
export interface SpreadReport {
  readonly service: string;
  readonly instances: number;
  /** Highest per-instance request rate over the mean. 1 = perfectly even. */
  readonly maxOverMean: number;
  /** Coefficient of variation (population σ / mean) of the per-instance request rates. */
  readonly cv: number;
}

export interface MembershipReport {
  readonly at: number;
  readonly service: string;
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** Fraction of a keyed workload's keys mapped to another endpoint by this change (mean over runs). */
  readonly keysRemapped?: number;
}

/** One timeline bucket, pooled over runs: answers received in [t, t + bucket). */
export interface TimelinePoint {
  /** Bucket start, seconds of simulated time. */
  readonly t: number;
  readonly requests: number;
  readonly successRate: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface FaultReport {
  readonly fault: number;
  readonly kind: string;
  readonly start: number;
  /** null: to the end of the run. */
  readonly end: number | null;
  readonly service?: string;
  readonly instances: readonly number[];
  /**
   * What the fault did (instance faults): in runs[], that run's figures; at the variant
   * level, means over the runs that have this window (times over the runs where it was
   * detected / recovered, `detectedRuns` / `recoveredRuns` of `runs`).
   */
  readonly effect?: FaultEffectReport;
}

/** FaultEffect as reported; at the variant level `detectedBy` may join two mechanisms ("a+b"). */
export interface FaultEffectReport extends Omit<FaultEffect, 'detectedBy'> {
  readonly detectedBy: string | null;
  readonly runs?: number;
  readonly detectedRuns?: number;
  readonly recoveredRuns?: number;
}

/** One caller → target layer of the call graph, summed over runs (calls issued in the window). */
export interface LayerReport extends LayerStats {
  /** Attempts per call at this layer (retry amplification); null without calls. */
  readonly attemptsPerCall: number | null;
  /** succeeded / calls at this layer; null without calls. */
  readonly successRate: number | null;
}

/** A variant's summary: the pooled figures and their 95% intervals across seeds. */
export interface VariantSummary extends Summary {
  /**
   * 95% interval of each per-seed figure (Student's t over the runs' values; see the
   * report's `statistics`); null per figure with fewer than two seeds that have it. After
   * the {@link SummaryIntervals}, those of the totals (n × the per-seed interval), the maxima
   * (one run's) and the failover counters the summary has ({@link CountIntervals}), absent
   * in reports written before they were added.
   */
  readonly ci: SummaryIntervals & Partial<CountIntervals>;
}

export interface VariantReport {
  readonly name: string;
  readonly summary: VariantSummary;
  /** Against the first variant (the baseline), paired by seed; absent on the baseline itself. */
  readonly comparison?: VariantComparison;
  /** Every caller → target layer: the workloads' first, then each calling service's. */
  readonly layers: readonly LayerReport[];
  readonly runs: readonly RunSummary[];
  readonly instances: readonly InstanceReport[];
  readonly spread: readonly SpreadReport[];
  readonly membership: readonly MembershipReport[];
  /** Success rate and latency over time, pooled over runs, ready for charts. */
  readonly timeline: { readonly bucketMs: number; readonly latencyRelativeError: number; readonly points: readonly TimelinePoint[] };
  /** Fault windows (of the first seed; stochastic schedules differ per seed, see runs[].faults). */
  readonly faults: readonly FaultReport[];
  /**
   * The pooled latency distribution (succeeded requests, all seeds) at fixed quantiles, for
   * the HTML report's percentile plot: `q` = 0 is the minimum, then each level of
   * {@link LATENCY_QUANTILES} with at least one sample above it, and `q` = 1 the maximum.
   * From the merged DDSketch (relative error as `percentiles`). Empty without a succeeded
   * request. Absent in reports written before it was added.
   */
  readonly latencyDistribution?: readonly LatencyQuantile[];
}

/** One point of a latency distribution: the `q` quantile is `ms`. */
export interface LatencyQuantile {
  readonly q: number;
  readonly ms: number;
}

/**
 * Quantile levels of `latencyDistribution`: evenly spaced through the body, then 1, 2, 5 per
 * decade into the tail (HdrHistogram's percentile plot spaces its ticks the same way).
 */
export const LATENCY_QUANTILES: readonly number[] = [
  0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999, 0.99995, 0.99998, 0.99999,
];

/**
 * One `assert:` rule checked against one variant (src/report/assertions.ts). `margin` is
 * the distance from the threshold in the metric's unit, positive on the passing side and
 * negative on the failing side (0: on the threshold). A `{ variant, rule }` for a variant
 * that did not run (`--variant`) is recorded too, `skipped`.
 */
export interface AssertionResult {
  /** The rule as written (spacing normalised), e.g. `p99 < 250ms`. */
  readonly rule: string;
  readonly variant: string;
  readonly metric: AssertMetric;
  readonly op: AssertOp;
  /** In the metric's unit: ms, a fraction in [0, 1], per second, or a plain number. */
  readonly threshold: number;
  /** The variant's figure, in the same unit; null when it has none (see `reason`). */
  readonly actual: number | null;
  /**
   * False only for a failed rule, the ones that make `meshsim run` exit 1; a skipped rule has
   * `pass: true` beside `skipped`, so that a reader gating on `pass` keeps agreeing with the
   * exit code.
   */
  readonly pass: boolean;
  /** Distance from the threshold, positive on the passing side; null without `actual`. */
  readonly margin: number | null;
  /** Why there is no figure to compare, when `actual` is null (a skipped rule's: the variant was not run). */
  readonly reason?: string;
  /**
   * Present (true) only on a rule that was not checked: it names a variant that did not run.
   * Absent in reports written before skipped rules were recorded (those left them out).
   */
  readonly skipped?: true;
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly generator: string;
  /**
   * `sim`: simulated (byte-deterministic); `live`: measured on real sockets by `meshsim
   * live` (real time: two live runs never give the same bytes).
   */
  readonly mode: 'sim' | 'live';
  readonly scenario: { readonly name: string; readonly sha256: string };
  /**
   * The plugin modules the run loaded (`--plugin`), in load order: file name, sha256 of its
   * bytes, the kinds it registered. Absent when none was loaded.
   */
  readonly plugins?: readonly PluginIdentity[];
  readonly seeds: readonly number[];
  /** How percentiles were computed, and their guaranteed relative error. */
  readonly percentiles: { readonly method: 'ddsketch'; readonly relativeError: number };
  /**
   * How intervals and comparisons were computed; `baseline` is the variant the others are
   * compared with. `totals` and `maxima` are absent in reports written before their
   * intervals were added.
   */
  readonly statistics: Omit<typeof STATISTICS_METHOD, 'totals' | 'maxima'> & Partial<Pick<typeof STATISTICS_METHOD, 'totals' | 'maxima'>> & { readonly baseline: string | null };
  /** Every `assert:` rule's result, rule by rule, variant by variant, skipped ones included; only when the scenario has `assert`. */
  readonly assertions?: readonly AssertionResult[];
  readonly variants: readonly VariantReport[];
}

/** Rounds to 1e-6 (a nanosecond for ms figures): readable, and stable across platforms. */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function orNull(x: number): number | null {
  return Number.isFinite(x) ? round6(x) : null;
}

function latencySummary(s: QuantileSketch): LatencySummary {
  if (s.count === 0) return { mean: null, p50: null, p90: null, p99: null, p999: null, max: null };
  return {
    mean: orNull(s.mean()),
    p50: orNull(s.quantile(0.5)),
    p90: orNull(s.quantile(0.9)),
    p99: orNull(s.quantile(0.99)),
    p999: orNull(s.quantile(0.999)),
    max: orNull(s.max),
  };
}

function latencyDistribution(s: QuantileSketch): LatencyQuantile[] {
  if (s.count === 0) return [];
  const inner = LATENCY_QUANTILES.filter((q) => s.count * (1 - q) >= 1).map((q) => ({ q, ms: round6(s.quantile(q)) }));
  return [{ q: 0, ms: round6(s.min) }, ...inner, { q: 1, ms: round6(s.max) }];
}

function summarise(requests: RequestCounts, windowMs: number, runs: number, latency: QuantileSketch): Omit<Summary, 'attemptsPerRequest'> {
  return {
    requests,
    successRate: requests.total > 0 ? round6(requests.succeeded / requests.total) : null,
    throughputPerSec: windowMs > 0 ? round6(requests.succeeded / runs / (windowMs / 1000)) : 0,
    latencyMs: latencySummary(latency),
  };
}

function sumCounts(runs: readonly RunResult[]): RequestCounts {
  const c = { total: 0, succeeded: 0, failed: 0, rejected: 0, timedOut: 0, errors: 0, resets: 0, connectFailures: 0, inFlight: 0 };
  for (const r of runs) {
    c.total += r.requests.total;
    c.succeeded += r.requests.succeeded;
    c.failed += r.requests.failed;
    c.rejected += r.requests.rejected;
    c.timedOut += r.requests.timedOut;
    c.errors += r.requests.errors;
    c.resets += r.requests.resets;
    c.connectFailures += r.requests.connectFailures;
    c.inFlight += r.requests.inFlight;
  }
  return c;
}

function instanceReports(runs: readonly RunResult[]): { instances: InstanceReport[]; spread: SpreadReport[] } {
  if (runs.length === 0) return { instances: [], spread: [] };
  const n = runs[0].instances.length;
  const perService = new Map<string, number>();
  const rows = [];
  for (let i = 0; i < n; i++) {
    const first = runs[0].instances[i];
    let requests = 0;
    let busy = 0;
    let member = 0;
    for (const r of runs) {
      requests += r.instances[i].requests;
      busy += r.instances[i].busyMs;
      member += r.instances[i].memberMs;
    }
    perService.set(first.service, (perService.get(first.service) ?? 0) + requests);
    rows.push({ first, requests, busy, member });
  }
  const instances = rows
    .filter((x) => (perService.get(x.first.service) ?? 0) > 0)
    .map(
      (x): InstanceReport => ({
        service: x.first.service,
        index: x.first.index,
        zone: x.first.zone,
        requests: x.requests,
        share: round6(x.requests / (perService.get(x.first.service) ?? 1)),
        utilization: x.first.slots === Infinity || x.member === 0 ? null : round6(x.busy / (x.member * x.first.slots)),
        meanBusy: x.member === 0 ? 0 : round6(x.busy / x.member),
      }),
    );
  const spread: SpreadReport[] = [];
  for (const service of perService.keys()) {
    if ((perService.get(service) ?? 0) === 0) continue;
    const rates = rows.filter((x) => x.first.service === service && x.member > 0).map((x) => x.requests / x.member);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    const sd = Math.sqrt(rates.reduce((a, b) => a + (b - mean) ** 2, 0) / rates.length);
    spread.push({ service, instances: rates.length, maxOverMean: round6(Math.max(...rates) / mean), cv: round6(sd / mean) });
  }
  return { instances, spread };
}

/**
 * One run's `maxOverMean` of `service`, computed as {@link instanceReports} computes the
 * pooled one, for its interval across seeds; null when the service had no request in it.
 */
function runMaxOverMean(r: RunResult, service: string): number | null {
  const rates = r.instances.filter((x) => x.service === service && x.memberMs > 0).map((x) => x.requests / x.memberMs);
  if (rates.length === 0) return null;
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  return mean > 0 ? round6(Math.max(...rates) / mean) : null;
}

/** Client-facing attempts per request over `runs`. */
function attemptsPerRequest(runs: readonly RunResult[]): number | null {
  let calls = 0;
  let attempts = 0;
  for (const r of runs)
    for (const l of r.layers)
      if (l.client) {
        calls += l.calls;
        attempts += l.attempts;
      }
  return calls > 0 ? round6(attempts / calls) : null;
}

/** Layers summed over runs (every run has the same layers, in the same order). */
function layerReports(runs: readonly RunResult[]): LayerReport[] {
  if (runs.length === 0) return [];
  return runs[0].layers.map((first, i) => {
    const sum: Record<string, number> = {};
    for (const r of runs) {
      const l = r.layers[i];
      for (const [k, v] of Object.entries(l)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
    }
    const total = sum as unknown as Omit<LayerStats, 'caller' | 'target' | 'client'>;
    return {
      caller: first.caller,
      target: first.target,
      client: first.client,
      ...total,
      attemptsPerCall: total.calls > 0 ? round6(total.attempts / total.calls) : null,
      successRate: total.calls > 0 ? round6(total.succeeded / total.calls) : null,
    };
  });
}

/** Failover counters summed over runs; a counter appears when any run has it. */
function sumFailover(runs: readonly FailoverCounts[]): FailoverCounts {
  const out: Record<string, number> = {};
  for (const counts of runs) for (const [k, v] of Object.entries(counts)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out;
}

function timelineReport(runs: readonly RunResult[]): VariantReport['timeline'] {
  if (runs.length === 0) return { bucketMs: 1000, latencyRelativeError: TIMELINE_ACCURACY, points: [] };
  const { bucketMs } = runs[0].timeline;
  const n = runs[0].timeline.requests.length;
  const points: TimelinePoint[] = [];
  for (let b = 0; b < n; b++) {
    let requests = 0;
    let succeeded = 0;
    const sketch = new QuantileSketch(TIMELINE_ACCURACY);
    for (const r of runs) {
      requests += r.timeline.requests[b];
      succeeded += r.timeline.succeeded[b];
      const s = r.timeline.latency[b];
      if (s) sketch.merge(s);
    }
    if (requests === 0) continue;
    points.push({
      t: round6((b * bucketMs) / 1000),
      requests,
      successRate: round6(succeeded / requests),
      p50: sketch.count > 0 ? orNull(sketch.quantile(0.5)) : null,
      p99: sketch.count > 0 ? orNull(sketch.quantile(0.99)) : null,
    });
  }
  return { bucketMs, latencyRelativeError: TIMELINE_ACCURACY, points };
}

const roundOrNull = (x: number | null): number | null => (x === null ? null : round6(x));

function faultReports(r: RunResult | undefined): FaultReport[] {
  return (r?.faults ?? []).map((f) => ({
    ...f,
    start: round6(f.start),
    end: f.end === Infinity ? null : round6(f.end),
    ...(f.effect === undefined
      ? {}
      : {
          effect: {
            ...f.effect,
            detectedMs: roundOrNull(f.effect.detectedMs),
            recoveredMs: roundOrNull(f.effect.recoveredMs),
            survivorLoad: roundOrNull(f.effect.survivorLoad),
          },
        }),
  }));
}

/** The first run's fault windows, with effects averaged over the runs that have the same window. */
function variantFaultReports(runs: readonly RunResult[]): FaultReport[] {
  return faultReports(runs[0]).map((f, i) => {
    if (f.effect === undefined) return f;
    const effects = runs.map((r) => r.faults[i]).filter((x) => x !== undefined && x.fault === f.fault && x.effect !== undefined).map((x) => x.effect as NonNullable<typeof x.effect>);
    const mean = (xs: readonly (number | null)[]): number | null => {
      const ok = xs.filter((x): x is number => x !== null);
      return ok.length === 0 ? null : round6(ok.reduce((a, b) => a + b, 0) / ok.length);
    };
    const by = effects.map((e) => e.detectedBy).filter((x) => x !== null);
    return {
      ...f,
      effect: {
        detectedMs: mean(effects.map((e) => e.detectedMs)),
        detectedBy: by.length === 0 ? null : [...new Set(by)].sort().join('+'),
        recoveredMs: mean(effects.map((e) => e.recoveredMs)),
        attempts: mean(effects.map((e) => e.attempts)) ?? 0,
        failed: mean(effects.map((e) => e.failed)) ?? 0,
        attemptsBeforeDetection: mean(effects.map((e) => e.attemptsBeforeDetection)) ?? 0,
        failedBeforeDetection: mean(effects.map((e) => e.failedBeforeDetection)) ?? 0,
        survivorLoad: mean(effects.map((e) => e.survivorLoad)),
        runs: effects.length,
        detectedRuns: effects.filter((e) => e.detectedMs !== null).length,
        recoveredRuns: effects.filter((e) => e.recoveredMs !== null).length,
      },
    };
  });
}

function membershipReports(runs: readonly RunResult[]): MembershipReport[] {
  if (runs.length === 0) return [];
  return runs[0].membership.map((m, i) => {
    const remaps = runs.map((r) => r.membership[i]?.keysRemapped).filter((x): x is number => x !== undefined);
    return {
      at: m.at,
      service: m.service,
      added: m.added,
      removed: m.removed,
      ...(remaps.length === 0 ? {} : { keysRemapped: round6(remaps.reduce((a, b) => a + b, 0) / remaps.length) }),
    };
  });
}

export function buildReport(
  scenario: { readonly name: string; readonly sha256: string },
  output: RunOutput,
  options: { readonly mode?: Report['mode']; readonly plugins?: readonly PluginIdentity[] } = {},
): Report {
  let accuracy = new QuantileSketch().relativeAccuracy;
  const variants = output.variants.map((v): VariantReport => {
    const pooled = new QuantileSketch();
    accuracy = pooled.relativeAccuracy;
    for (const r of v.runs) pooled.merge(r.latency);
    const windowMs = v.runs.length > 0 ? v.runs[0].windowMs : 0;
    const runs = v.runs.map((r): RunSummary => ({
      seed: r.seed,
      ...summarise(r.requests, r.windowMs, 1, r.latency),
      attemptsPerRequest: attemptsPerRequest([r]),
      ...r.failover,
      ...(r.faults.length === 0 ? {} : { faults: faultReports(r) }),
    }));
    const failover = sumFailover(v.runs.map((r) => r.failover));
    const { instances, spread } = instanceReports(v.runs);
    // The tables' max/mean is the first service's; its interval is over that service's per-run values.
    const first = spread[0]?.service;
    const maxOverMean = first === undefined ? [] : v.runs.map((r) => runMaxOverMean(r, first));
    return {
      name: v.name,
      summary: {
        ...summarise(sumCounts(v.runs), windowMs, v.runs.length, pooled),
        attemptsPerRequest: attemptsPerRequest(v.runs),
        ...failover,
        ci: { ...summaryIntervals(runs), ...countIntervals(runs, maxOverMean, COUNTER_FIGURES.filter((c) => failover[c] !== undefined)) },
      },
      layers: layerReports(v.runs),
      runs,
      instances,
      spread,
      membership: membershipReports(v.runs),
      timeline: timelineReport(v.runs),
      faults: variantFaultReports(v.runs),
      latencyDistribution: latencyDistribution(pooled),
    };
  });
  return {
    schema: REPORT_SCHEMA,
    generator: `meshsim ${VERSION}`,
    mode: options.mode ?? 'sim',
    scenario: { name: scenario.name, sha256: scenario.sha256 },
    ...(options.plugins === undefined || options.plugins.length === 0 ? {} : { plugins: options.plugins.map((p) => ({ file: p.file, sha256: p.sha256, kinds: [...p.kinds] })) }),
    seeds: output.seeds,
    percentiles: { method: 'ddsketch', relativeError: accuracy },
    statistics: { ...STATISTICS_METHOD, baseline: variants[0]?.name ?? null },
    variants: withComparisons(variants),
  };
}

/** Each variant after the first gets its `comparison` with the first (placed after `summary`). */
function withComparisons(variants: readonly VariantReport[]): VariantReport[] {
  const baseline = variants[0];
  return variants.map((v, i) => {
    if (i === 0) return v;
    const { name, summary, ...rest } = v;
    return { name, summary, comparison: compareRuns({ variant: name, baseline: baseline.name }, baseline.runs, v.runs, 'paired'), ...rest };
  });
}

/** The canonical serialisation: two-space indent, trailing newline. */
export function reportJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
