/**
 * The fidelity report (`meshsim/fidelity@1`): a simulation and a live run of the same
 * scenario side by side, variant by variant — p50/p90/p99, success rate, attempts per
 * request, per-instance traffic share — with the simulation's error relative to live,
 * each figure checked against its target, and whether the two worlds rank the variants
 * the same way on every headline metric. Built from `meshsim/report@1` reports, so the
 * figures are exactly those `meshsim run` and `meshsim live` report.
 *
 * What the verdicts compare: a live run is one sample path, and one run's figures scatter
 * from seed to seed (under peak EWMA one instance's share of a 700-request run moved
 * between 25% and 39% over 12 simulated seeds), so the simulation's mean over its seeds
 * and a single live run differ by that luck as well as by the simulator's error. When the
 * simulation of the live run's own seeds is given (its "twin": the live run draws its
 * arrivals, service times and the algorithms' choices from the same streams), the
 * verdicts compare the twin with live, and the all-seed estimate is shown beside it with
 * its range over seeds and its own misses, for context.
 */
import type { Calibration, LiveEnvironment } from '../runner/fidelity.js';
import { round6, type Report, type VariantReport } from './report.js';
import { pluginsLine } from './markdown.js';

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

/** The figures of one simulation against live. */
export interface FidelityFigures {
  readonly p50: RelativeFigure;
  readonly p90: RelativeFigure;
  readonly p99: RelativeFigure;
  readonly successRate: PointsFigure;
  readonly attemptsPerRequest: RelativeFigure;
  readonly shares: readonly ShareFigure[];
}

/** Smallest and largest value of a figure over the simulated seeds (one run each). */
export interface SeedRange {
  readonly min: number | null;
  readonly max: number | null;
}

/** The all-seed simulation against live, with each figure's range over the seeds. */
export interface FidelityEstimate extends FidelityFigures {
  readonly requests: number;
  readonly range: { readonly p50: SeedRange; readonly p90: SeedRange; readonly p99: SeedRange; readonly successRate: SeedRange; readonly attemptsPerRequest: SeedRange };
}

/**
 * One variant. Its figures (`sim`) are those of the simulation the verdicts compare with
 * live: the twin (the live run's seeds) when there is one, else the all-seed simulation.
 */
export interface FidelityVariant extends FidelityFigures {
  readonly name: string;
  /** Requests issued in the measurement window, per run (the simulation's averaged over its seeds). */
  readonly requests: { readonly sim: number; readonly live: number };
  /** With a twin: the all-seed simulation against the same live run (context, not the verdict). */
  readonly estimate?: FidelityEstimate;
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
  /** The plugin modules both worlds ran (as report.json records them); absent when none. */
  readonly plugins?: Report['plugins'];
  readonly targets: typeof FIDELITY_TARGETS;
  readonly calibration: Calibration | null;
  /**
   * Which simulation the verdicts compare with live: `same-seeds`, the simulation of the
   * live run's seeds (`sim.compared`); `all-seeds`, the simulation over `sim.seeds`.
   */
  readonly verdicts: 'same-seeds' | 'all-seeds';
  readonly sim: { readonly seeds: readonly number[]; readonly compared: readonly number[] };
  readonly live: { readonly seeds: readonly number[]; readonly environment?: LiveEnvironment };
  readonly variants: readonly FidelityVariant[];
  readonly ranking: readonly RankingAgreement[];
  /** Every figure that misses its target, in words; empty when all are met. */
  readonly misses: readonly string[];
  /** With a twin: the figures of the all-seed estimate outside the targets (context). */
  readonly estimateMisses?: readonly string[];
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

function figuresOf(sim: VariantReport, live: VariantReport): FidelityFigures {
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
    p50: relative(s.latencyMs.p50, l.latencyMs.p50, FIDELITY_TARGETS.latencyRelative),
    p90: relative(s.latencyMs.p90, l.latencyMs.p90, FIDELITY_TARGETS.latencyRelative),
    p99: relative(s.latencyMs.p99, l.latencyMs.p99),
    successRate: points(s.successRate, l.successRate, FIDELITY_TARGETS.successRatePoints),
    attemptsPerRequest: relative(s.attemptsPerRequest, l.attemptsPerRequest),
    shares,
  };
}

const perRun = (r: VariantReport): number => round6(r.summary.requests.total / Math.max(1, r.runs.length));

function range(values: readonly (number | null)[]): SeedRange {
  const xs = values.filter((x): x is number => x !== null);
  return xs.length === 0 ? { min: null, max: null } : { min: Math.min(...xs), max: Math.max(...xs) };
}

function estimateOf(sim: VariantReport, live: VariantReport): FidelityEstimate {
  return {
    requests: perRun(sim),
    ...figuresOf(sim, live),
    range: {
      p50: range(sim.runs.map((r) => r.latencyMs.p50)),
      p90: range(sim.runs.map((r) => r.latencyMs.p90)),
      p99: range(sim.runs.map((r) => r.latencyMs.p99)),
      successRate: range(sim.runs.map((r) => r.successRate)),
      attemptsPerRequest: range(sim.runs.map((r) => r.attemptsPerRequest)),
    },
  };
}

const HEADLINE: readonly { readonly metric: HeadlineMetric; readonly better: 'lower' | 'higher'; readonly tie: (a: number, b: number) => boolean }[] = [
  { metric: 'p50', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'p90', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'p99', better: 'lower', tie: (a, b) => Math.abs(a - b) <= FIDELITY_TARGETS.latencyRelative * Math.min(a, b) },
  { metric: 'successRate', better: 'higher', tie: (a, b) => Math.abs(a - b) * 100 <= FIDELITY_TARGETS.successRatePoints },
  { metric: 'attemptsPerRequest', better: 'lower', tie: (a, b) => Math.abs(a - b) <= 0.01 },
];

type Named = FidelityFigures & { readonly name: string };

function figure(v: Named, metric: HeadlineMetric, side: 'sim' | 'live'): number | null {
  return v[metric][side];
}

function ranking(variants: readonly Named[]): RankingAgreement[] {
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

function missesOf(variants: readonly Named[], rankings: readonly RankingAgreement[]): string[] {
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

/**
 * The fidelity report of `sim` (the all-seed simulation) and `live`; with `twin`, the
 * simulation of exactly the live run's seeds, the verdicts compare the twin with live and
 * the all-seed figures become each variant's `estimate`.
 */
export function buildFidelityReport(sim: Report, live: Report, calibration: Calibration | null, environment?: LiveEnvironment, twin?: Report): FidelityReport {
  const liveByName = new Map(live.variants.map((v) => [v.name, v]));
  const twinByName = new Map(twin?.variants.map((v) => [v.name, v]));
  const variants: FidelityVariant[] = sim.variants.flatMap((v) => {
    const l = liveByName.get(v.name);
    if (!l) return [];
    const t = twinByName.get(v.name);
    if (twin === undefined || t === undefined) return [{ name: v.name, requests: { sim: perRun(v), live: perRun(l) }, ...figuresOf(v, l) }];
    return [{ name: v.name, requests: { sim: perRun(t), live: perRun(l) }, ...figuresOf(t, l), estimate: estimateOf(v, l) }];
  });
  const rankings = ranking(variants);
  const estimates = variants.flatMap((v) => (v.estimate ? [{ ...v.estimate, name: v.name }] : []));
  return {
    schema: FIDELITY_SCHEMA,
    generator: sim.generator,
    scenario: sim.scenario,
    ...(sim.plugins === undefined ? {} : { plugins: sim.plugins }),
    targets: FIDELITY_TARGETS,
    calibration,
    verdicts: twin === undefined ? 'all-seeds' : 'same-seeds',
    sim: { seeds: sim.seeds, compared: twin === undefined ? sim.seeds : twin.seeds },
    live: { seeds: live.seeds, ...(environment === undefined ? {} : { environment }) },
    variants,
    ranking: rankings,
    misses: missesOf(variants, rankings),
    ...(twin === undefined ? {} : { estimateMisses: missesOf(estimates, ranking(estimates)) }),
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
    ...(r.plugins === undefined ? [] : [pluginsLine(r.plugins)]),
    `- simulation: seeds ${r.sim.seeds.join(', ')}; live: seed ${r.live.seeds.join(', ')} (one real run per variant, for the scenario's duration)`,
    r.verdicts === 'same-seeds'
      ? `- verdicts compare live with the simulation of its own seed${r.sim.compared.length > 1 ? 's' : ''} (${r.sim.compared.join(', ')}): both draw arrivals, service times and the algorithms' choices from the same random streams, so they differ by what the simulator models, not by the luck of one run; the estimate over all ${r.sim.seeds.length} seeds is beside it, with its range over seeds`
      : `- verdicts compare live with the simulation over all its seeds`,
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
  const twin = r.verdicts === 'same-seeds';
  const simHead = twin ? `simulation, seed${r.sim.compared.length > 1 ? 's' : ''} ${r.sim.compared.join(', ')}` : 'simulation';
  lines.push(
    '## Side by side',
    '',
    `| variant | figure | ${simHead} | live | error | target |${twin ? ` all ${r.sim.seeds.length} seeds [range] | error |` : ''}`,
    `|---|---|--:|--:|--:|:-:|${twin ? '--:|--:|' : ''}`,
  );
  const f3 = (x: number | null): string => x?.toFixed(3) ?? '–';
  for (const v of r.variants) {
    const e = v.estimate;
    const est = (text: string, error: string): string => (e ? ` ${text} | ${error} |` : '');
    const inRange = (x: number | null, rg: SeedRange, f: (y: number | null) => string): string => `${f(x)} [${f(rg.min)}–${f(rg.max)}]`;
    lines.push(`| ${v.name} | requests per run | ${Math.round(v.requests.sim)} | ${Math.round(v.requests.live)} | | |${est(e ? String(Math.round(e.requests)) : '', '')}`);
    for (const m of ['p50', 'p90', 'p99'] as const)
      lines.push(`| | ${m} ms | ${ms(v[m].sim)} | ${ms(v[m].live)} | ${signed(v[m].error)} |${mark(v[m].pass)} |${e ? est(inRange(e[m].sim, e.range[m], ms), signed(e[m].error) + mark(e[m].pass)) : ''}`);
    lines.push(
      `| | success rate | ${pct(v.successRate.sim)} | ${pct(v.successRate.live)} | ${pp(v.successRate.errorPoints)} |${mark(v.successRate.pass)} |${e ? est(inRange(e.successRate.sim, e.range.successRate, pct), pp(e.successRate.errorPoints) + mark(e.successRate.pass)) : ''}`,
    );
    lines.push(
      `| | attempts/request | ${f3(v.attemptsPerRequest.sim)} | ${f3(v.attemptsPerRequest.live)} | ${signed(v.attemptsPerRequest.error)} | |${e ? est(inRange(e.attemptsPerRequest.sim, e.range.attemptsPerRequest, f3), signed(e.attemptsPerRequest.error)) : ''}`,
    );
    for (const s of v.shares) {
      const es = e?.shares.find((x) => x.service === s.service && x.index === s.index);
      lines.push(`| | share ${s.service}/${s.index} | ${pct(s.sim)} | ${pct(s.live)} | ${pp(s.errorPoints)} |${mark(s.pass)} |${e ? est(pct(es?.sim ?? null), pp(es?.errorPoints ?? null) + mark(es?.pass)) : ''}`);
    }
  }
  if (r.ranking.length > 0) {
    lines.push('', '## Ranking of variants (best first)', '', '| metric | simulation | live | agree |', '|---|---|---|:-:|');
    for (const k of r.ranking) lines.push(`| ${k.metric} | ${k.sim.join(', ')} | ${k.live.join(', ')} |${mark(k.agree)} |`);
    lines.push('', 'Pairs closer than the target in either world (10% latency, 1 pt success rate, 0.01 attempts) count as ties and agree either way.');
  }
  lines.push('', '## Misses', '');
  if (r.misses.length === 0) lines.push('None: every figure is within its target.');
  else for (const m of r.misses) lines.push(`- ${m}`);
  if (r.estimateMisses !== undefined) {
    lines.push('', `### The estimate over all ${r.sim.seeds.length} seeds against the same live run (context)`, '');
    if (r.estimateMisses.length === 0) lines.push('Every figure within its target too.');
    else {
      lines.push('Outside the targets (a single live run also carries its own luck: compare with the range over seeds above):', '');
      for (const m of r.estimateMisses) lines.push(`- ${m}`);
    }
  }
  return lines.join('\n') + '\n';
}
