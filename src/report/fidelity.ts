/**
 * The fidelity report (`meshsim/fidelity@1`): a simulation and a live run of the same
 * scenario side by side, variant by variant — p50/p90/p99, success rate, attempts per
 * request, per-instance traffic share — with the simulation's error relative to live,
 * each figure checked against its target, and whether the two worlds rank the variants
 * the same way on every headline metric. Built from two `meshsim/report@1` reports, so
 * the figures are exactly those `meshsim run` and `meshsim live` report.
 */
import type { Calibration, LiveEnvironment } from '../runner/fidelity.js';
import { round6, type Report, type VariantReport } from './report.js';

export const FIDELITY_SCHEMA = 'meshsim/fidelity@1';

/** The targets of issue #6: how close the simulation must come to live. */
export const FIDELITY_TARGETS = {
  /** |sim − live| of the success rate, in percentage points. */
  successRatePoints: 1,
  /** |sim / live − 1| of p50 and p90. */
  latencyRelative: 0.1,
  /** |sim − live| of each instance's share of its service's traffic, in percentage points. */
  sharePoints: 3,
} as const;

/** A latency figure: both worlds, and the simulation's relative error (sim / live − 1). */
export interface RelativeFigure {
  readonly sim: number | null;
  readonly live: number | null;
  readonly error: number | null;
  /** Whether the error is within its target; absent for figures without one. */
  readonly pass?: boolean;
}

/** A rate or share: both worlds, and the simulation's error in percentage points (sim − live). */
export interface PointsFigure {
  readonly sim: number | null;
  readonly live: number | null;
  readonly errorPoints: number | null;
  readonly pass?: boolean;
}

export interface ShareFigure extends PointsFigure {
  readonly service: string;
  readonly index: number;
}

export interface FidelityVariant {
  readonly name: string;
  /** Requests issued in the measurement window, per run (the simulation's averaged over its seeds). */
  readonly requests: { readonly sim: number; readonly live: number };
  readonly p50: RelativeFigure;
  readonly p90: RelativeFigure;
  readonly p99: RelativeFigure;
  readonly successRate: PointsFigure;
  readonly attemptsPerRequest: RelativeFigure;
  readonly shares: readonly ShareFigure[];
}

export type HeadlineMetric = 'p50' | 'p90' | 'p99' | 'successRate' | 'attemptsPerRequest';

export interface RankingAgreement {
  readonly metric: HeadlineMetric;
  /** Variants best first in each world. */
  readonly sim: readonly string[];
  readonly live: readonly string[];
  /**
   * True when every pair of variants is ordered the same way in both worlds, or is a tie in
   * one of them (closer than the figure's target: 10% for latency, 1 point for success
   * rate, 0.01 for attempts per request).
   */
  readonly agree: boolean;
  /** Pairs ordered the other way round: "a < b in sim, a > b live". */
  readonly disagreements: readonly string[];
}

export interface FidelityReport {
  readonly schema: typeof FIDELITY_SCHEMA;
  readonly generator: string;
  readonly scenario: { readonly name: string; readonly sha256: string };
  readonly targets: typeof FIDELITY_TARGETS;
  readonly calibration: Calibration | null;
  readonly sim: { readonly seeds: readonly number[] };
  readonly live: { readonly seeds: readonly number[]; readonly environment?: LiveEnvironment };
  readonly variants: readonly FidelityVariant[];
  readonly ranking: readonly RankingAgreement[];
  /** Every figure that misses its target, in words; empty when all are met. */
  readonly misses: readonly string[];
}

const rel = (sim: number | null, live: number | null): number | null => (sim === null || live === null || live === 0 ? null : round6(sim / live - 1));
const pts = (sim: number | null, live: number | null): number | null => (sim === null || live === null ? null : round6((sim - live) * 100));

function relative(sim: number | null, live: number | null, target?: number): RelativeFigure {
  const error = rel(sim, live);
  return { sim, live, error, ...(target === undefined ? {} : { pass: error !== null && Math.abs(error) <= target + 1e-9 }) };
}

function points(sim: number | null, live: number | null, target: number): PointsFigure {
  const errorPoints = pts(sim, live);
  return { sim, live, errorPoints, pass: errorPoints !== null && Math.abs(errorPoints) <= target + 1e-9 };
}

function variantFidelity(sim: VariantReport, live: VariantReport): FidelityVariant {
  const liveShares = new Map(live.instances.map((i) => [`${i.service}/${i.index}`, i.share]));
  const simShares = new Map(sim.instances.map((i) => [`${i.service}/${i.index}`, i.share]));
  const keys = [...new Set([...simShares.keys(), ...liveShares.keys()])];
  const shares = keys.map((k) => {
    const [service, index] = k.split('/');
    return { service, index: Number(index), ...points(simShares.get(k) ?? 0, liveShares.get(k) ?? 0, FIDELITY_TARGETS.sharePoints) };
  });
  const s = sim.summary;
  const l = live.summary;
  return {
    name: sim.name,
    requests: { sim: round6(s.requests.total / Math.max(1, sim.runs.length)), live: round6(l.requests.total / Math.max(1, live.runs.length)) },
    p50: relative(s.latencyMs.p50, l.latencyMs.p50, FIDELITY_TARGETS.latencyRelative),
    p90: relative(s.latencyMs.p90, l.latencyMs.p90, FIDELITY_TARGETS.latencyRelative),
    p99: relative(s.latencyMs.p99, l.latencyMs.p99),
    successRate: points(s.successRate, l.successRate, FIDELITY_TARGETS.successRatePoints),
    attemptsPerRequest: relative(s.attemptsPerRequest, l.attemptsPerRequest),
    shares,
  };
}

const HEADLINE: readonly { readonly metric: HeadlineMetric; readonly better: 'lower' | 'higher'; readonly tie: (a: number, b: number) => boolean }[] = [
  { metric: 'p50', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'p90', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'p99', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'successRate', better: 'higher', tie: (a, b) => Math.abs(a - b) * 100 <= FIDELITY_TARGETS.successRatePoints },
  { metric: 'attemptsPerRequest', better: 'lower', tie: (a, b) => Math.abs(a - b) <= 0.01 },
];

function figure(v: FidelityVariant, metric: HeadlineMetric, side: 'sim' | 'live'): number | null {
  return v[metric][side];
}

function ranking(variants: readonly FidelityVariant[]): RankingAgreement[] {
  if (variants.length < 2) return [];
  return HEADLINE.map(({ metric, better, tie }) => {
    const order = (side: 'sim' | 'live'): string[] =>
      [...variants]
        .sort((a, b) => {
          const x = figure(a, metric, side) ?? (better === 'lower' ? Infinity : -Infinity);
          const y = figure(b, metric, side) ?? (better === 'lower' ? Infinity : -Infinity);
          return better === 'lower' ? x - y : y - x;
        })
        .map((v) => v.name);
    const disagreements: string[] = [];
    for (let i = 0; i < variants.length; i++) {
      for (let j = i + 1; j < variants.length; j++) {
        const a = variants[i];
        const b = variants[j];
        const [sa, sb, la, lb] = [figure(a, metric, 'sim'), figure(b, metric, 'sim'), figure(a, metric, 'live'), figure(b, metric, 'live')];
        if (sa === null || sb === null || la === null || lb === null) continue;
        if (tie(sa, sb) || tie(la, lb)) continue;
        if (Math.sign(sa - sb) !== Math.sign(la - lb)) disagreements.push(`${a.name} ${sa < sb ? '<' : '>'} ${b.name} in the simulation, ${la < lb ? '<' : '>'} live`);
      }
    }
    return { metric, sim: order('sim'), live: order('live'), agree: disagreements.length === 0, disagreements };
  });
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | null): string => (x === null ? '–' : x.toFixed(2));
const pp = (x: number | null): string => (x === null ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(2)} pt`);
const signed = (x: number | null): string => (x === null ? '–' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`);

function missesOf(variants: readonly FidelityVariant[], rankings: readonly RankingAgreement[]): string[] {
  const out: string[] = [];
  for (const v of variants) {
    if (v.successRate.pass === false) out.push(`${v.name}: success rate ${pct(v.successRate.sim)} simulated vs ${pct(v.successRate.live)} live (${pp(v.successRate.errorPoints)}, target ±${FIDELITY_TARGETS.successRatePoints} pt)`);
    for (const m of ['p50', 'p90'] as const) {
      const f = v[m];
      if (f.pass === false) out.push(`${v.name}: ${m} ${ms(f.sim)} ms simulated vs ${ms(f.live)} ms live (${signed(f.error)}, target ±${FIDELITY_TARGETS.latencyRelative * 100}%)`);
    }
    for (const s of v.shares) {
      if (s.pass === false) out.push(`${v.name}: ${s.service}/${s.index} share ${pct(s.sim)} simulated vs ${pct(s.live)} live (${pp(s.errorPoints)}, target ±${FIDELITY_TARGETS.sharePoints} pt)`);
    }
  }
  for (const r of rankings) if (!r.agree) out.push(`ranking by ${r.metric} differs: ${r.disagreements.join('; ')}`);
  return out;
}

export function buildFidelityReport(sim: Report, live: Report, calibration: Calibration | null, environment?: LiveEnvironment): FidelityReport {
  const liveByName = new Map(live.variants.map((v) => [v.name, v]));
  const variants = sim.variants.flatMap((v) => {
    const l = liveByName.get(v.name);
    return l ? [variantFidelity(v, l)] : [];
  });
  const rankings = ranking(variants);
  return {
    schema: FIDELITY_SCHEMA,
    generator: sim.generator,
    scenario: sim.scenario,
    targets: FIDELITY_TARGETS,
    calibration,
    sim: { seeds: sim.seeds },
    live: { seeds: live.seeds, ...(environment === undefined ? {} : { environment }) },
    variants,
    ranking: rankings,
    misses: missesOf(variants, rankings),
  };
}

export function fidelityJson(report: FidelityReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

const mark = (pass: boolean | undefined): string => (pass === undefined ? '' : pass ? ' ✅' : ' ❌');

/** fidelity.md: the side-by-side tables, the rankings and the misses. */
export function fidelityMarkdown(r: FidelityReport): string {
  const lines = [
    `# meshsim fidelity: ${r.scenario.name}`,
    '',
    `- scenario sha256: \`${r.scenario.sha256}\``,
    `- simulation: seeds ${r.sim.seeds.join(', ')}; live: seed ${r.live.seeds.join(', ')} (one real run per variant, for the scenario's duration)`,
    ...(r.live.environment
      ? [
          `- live: layout ${r.live.environment.layout}, ${r.live.environment.cpus} CPUs, load average ${r.live.environment.loadAverage.start} at the start and ${r.live.environment.loadAverage.end} at the end (other work on the machine shows in every live figure)`,
        ]
      : []),
    `- error = simulation relative to live: sim/live − 1 for latencies and attempts, sim − live in percentage points for rates and shares`,
    `- targets: success rate ±${r.targets.successRatePoints} pt, p50 and p90 ±${r.targets.latencyRelative * 100}%, per-instance share ±${r.targets.sharePoints} pt, same ranking of variants on every headline metric`,
    '',
  ];
  const c = r.calibration;
  if (c) {
    lines.push(
      '## Calibration',
      '',
      `${c.method}. Service time ${c.serviceTimeMs} ms, ${c.ratePerSec}/s for ${c.durationMs / 1000} s each.`,
      '',
      '| round trip (ms) | requests | mean | p50 | p90 | p99 |',
      '|---|--:|--:|--:|--:|--:|',
      `| straight to the instance | ${c.direct.requests} | ${ms(c.direct.mean)} | ${ms(c.direct.p50)} | ${ms(c.direct.p90)} | ${ms(c.direct.p99)} |`,
      `| through a sidecar proxy | ${c.proxied.requests} | ${ms(c.proxied.mean)} | ${ms(c.proxied.p50)} | ${ms(c.proxied.p90)} | ${ms(c.proxied.p99)} |`,
      '',
      `Proxy overhead at the median: ${ms(c.proxyOverheadMs)} ms. The simulator's network latency per hop: empirical, median ${ms(c.hopLatencyMedianMs)} ms (p90 ${ms(c.hopLatencyMs[89])} ms, p99 ${ms(c.hopLatencyMs[98])} ms).`,
      '',
    );
  } else lines.push('No calibration: the simulator used the scenario\'s own network latency.', '');
  lines.push('## Side by side', '', '| variant | figure | simulation | live | error | target |', '|---|---|--:|--:|--:|:-:|');
  for (const v of r.variants) {
    lines.push(`| ${v.name} | requests per run | ${Math.round(v.requests.sim)} | ${Math.round(v.requests.live)} | | |`);
    for (const m of ['p50', 'p90', 'p99'] as const) lines.push(`| | ${m} ms | ${ms(v[m].sim)} | ${ms(v[m].live)} | ${signed(v[m].error)} |${mark(v[m].pass)} |`);
    lines.push(`| | success rate | ${pct(v.successRate.sim)} | ${pct(v.successRate.live)} | ${pp(v.successRate.errorPoints)} |${mark(v.successRate.pass)} |`);
    lines.push(`| | attempts/request | ${v.attemptsPerRequest.sim?.toFixed(3) ?? '–'} | ${v.attemptsPerRequest.live?.toFixed(3) ?? '–'} | ${signed(v.attemptsPerRequest.error)} | |`);
    for (const s of v.shares) lines.push(`| | share ${s.service}/${s.index} | ${pct(s.sim)} | ${pct(s.live)} | ${pp(s.errorPoints)} |${mark(s.pass)} |`);
  }
  if (r.ranking.length > 0) {
    lines.push('', '## Ranking of variants (best first)', '', '| metric | simulation | live | agree |', '|---|---|---|:-:|');
    for (const k of r.ranking) lines.push(`| ${k.metric} | ${k.sim.join(', ')} | ${k.live.join(', ')} |${mark(k.agree)} |`);
    lines.push('', 'Pairs closer than the target in either world (10% latency, 1 pt success rate, 0.01 attempts) count as ties and agree either way.');
  }
  lines.push('', '## Misses', '');
  if (r.misses.length === 0) lines.push('None: every figure is within its target.');
  else for (const m of r.misses) lines.push(`- ${m}`);
  return lines.join('\n') + '\n';
}
