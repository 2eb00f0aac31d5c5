/**
 * The report (`meshsim/report@1`): a public, versioned, deterministic JSON document.
 * Same scenario bytes and seeds → byte-identical report.json; no wall-clock figures.
 * Latency percentiles come from the merged DDSketch, whose relative error is stated in
 * the report itself.
 */
import { QuantileSketch } from '../core/quantile-sketch.js';
import type { RunOutput } from '../runner/run.js';
import type { RequestCounts, RunResult } from '../sim/metrics.js';
import { VERSION } from '../version.js';

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
}

export interface RunSummary extends Summary {
  readonly seed: number;
}

export interface VariantReport {
  readonly name: string;
  readonly summary: Summary;
  readonly runs: readonly RunSummary[];
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly generator: string;
  readonly mode: 'sim';
  readonly scenario: { readonly name: string; readonly sha256: string };
  readonly seeds: readonly number[];
  /** How percentiles were computed, and their guaranteed relative error. */
  readonly percentiles: { readonly method: 'ddsketch'; readonly relativeError: number };
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

function summarise(requests: RequestCounts, windowMs: number, runs: number, latency: QuantileSketch): Summary {
  return {
    requests,
    successRate: requests.total > 0 ? round6(requests.succeeded / requests.total) : null,
    throughputPerSec: windowMs > 0 ? round6(requests.succeeded / runs / (windowMs / 1000)) : 0,
    latencyMs: latencySummary(latency),
  };
}

function sumCounts(runs: readonly RunResult[]): RequestCounts {
  const c = { total: 0, succeeded: 0, failed: 0, rejected: 0, timedOut: 0, inFlight: 0 };
  for (const r of runs) {
    c.total += r.requests.total;
    c.succeeded += r.requests.succeeded;
    c.failed += r.requests.failed;
    c.rejected += r.requests.rejected;
    c.timedOut += r.requests.timedOut;
    c.inFlight += r.requests.inFlight;
  }
  return c;
}

export function buildReport(scenario: { readonly name: string; readonly sha256: string }, output: RunOutput): Report {
  let accuracy = new QuantileSketch().relativeAccuracy;
  const variants = output.variants.map((v): VariantReport => {
    const pooled = new QuantileSketch();
    accuracy = pooled.relativeAccuracy;
    for (const r of v.runs) pooled.merge(r.latency);
    const windowMs = v.runs.length > 0 ? v.runs[0].windowMs : 0;
    return {
      name: v.name,
      summary: summarise(sumCounts(v.runs), windowMs, v.runs.length, pooled),
      runs: v.runs.map((r) => ({ seed: r.seed, ...summarise(r.requests, r.windowMs, 1, r.latency) })),
    };
  });
  return {
    schema: REPORT_SCHEMA,
    generator: `meshsim ${VERSION}`,
    mode: 'sim',
    scenario: { name: scenario.name, sha256: scenario.sha256 },
    seeds: output.seeds,
    percentiles: { method: 'ddsketch', relativeError: accuracy },
    variants,
  };
}

/** The canonical serialisation: two-space indent, trailing newline. */
export function reportJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
