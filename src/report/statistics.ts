/**
 * Statistics across seeds (replications): confidence intervals for the summary figures and
 * the comparison of two variants.
 *
 * - **Interval**: Student's t over the per-seed values of a figure, mean ± t(0.975, n−1)·s/√n
 *   (s the sample standard deviation). It is an interval for the mean of the per-seed
 *   figure; the summary's pooled figure (a percentile of the merged sketch) need not be its
 *   centre. One seed: no interval. The success rate's is joined with the Wilson score
 *   interval of the pooled counts ({@link wilsonInterval}): the t interval is a point when
 *   every seed has the same rate, as 100% on each of a few seeds.
 * - **Totals** (counts the summary sums over the n seeds: requests, rejections, failover
 *   counters…): n × the interval of the per-seed count, so that the interval is on the scale
 *   of the total printed beside it.
 * - **Maxima** (latency max, the busiest instance's rate over the mean): the interval of the
 *   per-seed values, i.e. of one run's maximum. The pooled figure is the maximum over all
 *   seeds and can lie above it; an interval for a maximum over n runs would need the
 *   distribution's tail, which a handful of seeds cannot give.
 * - **Paired comparison** (the variants of one report share their seeds, and each seed
 *   gives every variant the same random streams): per seed the log ratio
 *   l = ln(variant / baseline); the estimate is exp(mean l) − 1, the geometric mean of the
 *   per-seed ratios less 1, its 95% interval exp of Student's t over the l values, − 1, and
 *   its p-value an exact two-sided sign-flip permutation test on mean(l) (all 2^n sign
 *   assignments for n ≤ 16 seeds, else a seeded Monte Carlo of {@link MONTE_CARLO_DRAWS}
 *   draws, p = (1 + hits) / (1 + draws)). On the log scale swapping the two variants negates
 *   every term, so interchangeable variants give terms symmetric about 0, as the test
 *   assumes; the mean of v/b − 1 is not symmetric (100 vs 200 and 200 vs 100 average +25%
 *   either way). A figure that is 0 on some seed (success rate, throughput) has no log
 *   ratio there: it falls back to (v − b)/mean(b) per seed, whose mean is
 *   mean(v)/mean(b) − 1. With n seeds the smallest exact p-value is 2/2^n, so significance at
 *   5% needs at least 6 seeds; seeds where both sides agree (a term of 0) cannot move the
 *   test, so n there counts only the seeds that differ ("too few differing seeds to tell").
 * - **Unpaired comparison** (two reports run on different seeds): relative difference of the
 *   per-seed means, R − 1 = mean(B) / mean(A) − 1, a delta-method t interval on the ratio of
 *   means (se² = R²(va/mean(A)² + vb/mean(B)²), va and vb the squared standard errors of the
 *   means, Welch–Satterthwaite degrees of freedom), which counts the uncertainty of the
 *   baseline's mean, and a two-sample permutation test on the difference of means (exact up
 *   to {@link EXACT_LIMIT} relabellings, else seeded Monte Carlo).
 *
 * A difference is *significant* when p < 0.05 and its interval excludes 0. A permutation test
 * has a smallest p-value it can give, whatever the data ({@link signFlipMinP},
 * {@link twoSampleMinP}); when that is not below 0.05 the verdict says there are too few
 * seeds for the test, not "no significant difference", which an interval far from 0 would
 * contradict.
 *
 * The quantile of Student's t is computed, not looked up: bisection on the CDF from the
 * regularised incomplete beta function (continued fraction), accurate to ~1e-10 for any
 * degrees of freedom, fractional ones (Welch) included.
 */
import { mean, sampleStandardDeviation } from 'simple-statistics';
import { rngStream } from '../core/rng.js';

/** Significance level; written out, since 1 − 0.95 is 0.050000000000000044 in floating point and would let p = 0.05 pass. */
export const ALPHA = 0.05;
export const CONFIDENCE = 1 - ALPHA;
/** Sign assignments are enumerated exactly up to this many seeds (2^16 = 65,536). */
export const EXACT_SIGN_FLIP_MAX = 16;
/** Relabellings of an unpaired test are enumerated exactly up to this many. */
export const EXACT_LIMIT = 200_000;
/** Monte Carlo draws of a permutation test that is too large to enumerate. */
export const MONTE_CARLO_DRAWS = 20_000;

/** The figures that have a value per seed, in report order. */
export const STAT_FIGURES = ['successRate', 'throughputPerSec', 'mean', 'p50', 'p90', 'p99', 'p999', 'attemptsPerRequest'] as const;
export type StatFigure = (typeof STAT_FIGURES)[number];

/**
 * Counts the summary gives as totals over seeds, whose interval is of the total (n × the
 * interval of the per-seed count): requests issued, rejected, timed out, and 5xx answers,
 * resets and connect failures together (the tables' `5xx/conn`).
 */
export const TOTAL_FIGURES = ['requests', 'rejected', 'timedOut', 'errorsResetsConnectFailures'] as const;
export type TotalFigure = (typeof TOTAL_FIGURES)[number];

/**
 * Failover counters the summary sums over seeds when the mechanism is configured (keys as in
 * the summary); their interval is of the total, like {@link TOTAL_FIGURES}.
 */
export const COUNTER_FIGURES = ['retries', 'retryBudgetDenied', 'hedges', 'hedgesWon', 'throttled', 'ejections', 'healthCheckFailures', 'breakerOverflows'] as const;
export type CounterFigure = (typeof COUNTER_FIGURES)[number];

/**
 * Maxima whose interval is of one run's value: latency `max` and `maxOverMean`, the busiest
 * instance's request rate over the mean of the first service in `spread` (the tables'
 * `max/mean`).
 */
export const MAXIMUM_FIGURES = ['max', 'maxOverMean'] as const;
export type MaximumFigure = (typeof MAXIMUM_FIGURES)[number];

/** How the report says its statistics were computed (top-level `statistics`). */
export const STATISTICS_METHOD = {
  confidence: CONFIDENCE,
  interval:
    "Student's t over the per-seed values: mean ± t(0.975, n−1)·s/√n (an interval for the per-seed mean; none with one seed), cut to the figure's range: successRate to [0, 1], the others at 0; successRate's joined with the Wilson score interval of the pooled succeeded/total counts (the wider bounds of the two), so that seeds all at the same rate (100%) do not give a point",
  comparison:
    'each variant against the first (the baseline), paired by seed: log ratio ln(variant/baseline) per seed, reported as exp(mean) − 1 (geometric mean of the per-seed ratios, − 1) with exp of a Student t 95% interval over the log ratios, − 1 (a figure that is 0 on some seed: (variant − baseline)/mean(baseline) per seed, mean(variant)/mean(baseline) − 1); p from an exact two-sided sign-flip permutation test over seeds (all 2^n assignments up to 16 seeds, else 20000 seeded Monte Carlo draws); significant when p < 0.05 and the interval excludes 0',
  totals:
    'counts summed over the n seeds (requests, rejected, timedOut, errorsResetsConnectFailures and the failover counters): n × the Student t interval of the per-seed count, an interval for the total, cut at 0',
  maxima:
    "max (latency) and maxOverMean: Student's t over the per-seed values, an interval for one run's maximum, cut at 0 (max) or 1 (maxOverMean); the pooled figure, the maximum over all seeds, can lie above it",
} as const;

/** What the statistics read from a summary (or a run) of a report. */
export interface FigureSource {
  readonly successRate: number | null;
  readonly throughputPerSec: number;
  readonly latencyMs: { readonly mean: number | null; readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly p999: number | null };
  readonly attemptsPerRequest: number | null;
}

export function figureValue(figure: StatFigure, s: FigureSource): number | null {
  switch (figure) {
    case 'successRate':
      return s.successRate;
    case 'throughputPerSec':
      return s.throughputPerSec;
    case 'attemptsPerRequest':
      return s.attemptsPerRequest;
    default:
      return s.latencyMs[figure];
  }
}

/** How a figure is named in a sentence. */
export const FIGURE_LABEL: Readonly<Record<StatFigure, string>> = {
  successRate: 'success rate',
  throughputPerSec: 'throughput',
  mean: 'mean latency',
  p50: 'p50',
  p90: 'p90',
  p99: 'p99',
  p999: 'p99.9',
  attemptsPerRequest: 'attempts per request',
};

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6 + 0;

// ---------------------------------------------------------------------------------------
// Student's t

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error ~1e-15). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Degrees of freedom beyond which t is taken as the normal distribution (they agree to ~1e-6). */
const NORMAL_DF = 1e6;

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0; Infinity: the normal). */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (t === 0) return 0.5;
  const nu = Math.min(df, NORMAL_DF);
  const tail = 0.5 * incompleteBeta(nu / (nu + t * t), nu / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let hi = 2;
  while (tCdf(hi, df) < p) hi *= 2;
  let lo = 0;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export type Interval = readonly [number, number];

/** Mean ± t(1 − α/2, n − 1)·s/√n over `xs`; null with fewer than two values. Not rounded. */
export function tInterval(xs: readonly number[], confidence = CONFIDENCE): Interval | null {
  if (xs.length < 2) return null;
  const m = mean([...xs]);
  const half = (tQuantile(1 - (1 - confidence) / 2, xs.length - 1) * sampleStandardDeviation([...xs])) / Math.sqrt(xs.length);
  return [m - half, m + half];
}

// ---------------------------------------------------------------------------------------
// Permutation tests

/** Whether `s` is at least as extreme as the observed statistic, with rounding slack. */
const atLeast = (s: number, observed: number, scale: number): boolean => s >= observed - 1e-9 * scale;

/**
 * Two-sided sign-flip permutation test of "the paired differences are symmetric about 0":
 * the fraction of sign assignments whose |Σ ±dᵢ| is at least the observed |Σ dᵢ|. Exact
 * (all 2^n assignments) for n ≤ 16, else `draws` seeded Monte Carlo assignments with
 * p = (1 + hits) / (1 + draws). Identical samples (all dᵢ = 0) give p = 1.
 */
export function signFlipPValue(d: readonly number[], draws = MONTE_CARLO_DRAWS): number {
  const n = d.length;
  if (n === 0) return 1;
  const observed = Math.abs(d.reduce((a, b) => a + b, 0));
  const scale = d.reduce((a, b) => a + Math.abs(b), 0);
  if (n <= EXACT_SIGN_FLIP_MAX) {
    let hits = 0;
    const total = 2 ** n;
    for (let mask = 0; mask < total; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i] : d[i];
      if (atLeast(Math.abs(s), observed, scale)) hits++;
    }
    return hits / total;
  }
  const rng = rngStream(0, 'statistics/sign-flip');
  let hits = 0;
  for (let k = 0; k < draws; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rng.next() < 0.5 ? -d[i] : d[i];
    if (atLeast(Math.abs(s), observed, scale)) hits++;
  }
  return (1 + hits) / (1 + draws);
}

/**
 * The smallest p-value {@link signFlipPValue} can give for `n` paired differences, whatever
 * they are: 2/2^n when exact (only the observed signs and their mirror image are as
 * extreme when every difference has the same sign), 1/(1 + draws) past
 * {@link EXACT_SIGN_FLIP_MAX}; 1 without differences.
 */
export function signFlipMinP(n: number, draws = MONTE_CARLO_DRAWS): number {
  if (n <= 0) return 1;
  return n <= EXACT_SIGN_FLIP_MAX ? 2 / 2 ** n : 1 / (1 + draws);
}

/**
 * The smallest p-value {@link twoSamplePValue} can give for samples of `na` and `nb` values:
 * of the C(na + nb, na) relabellings only the observed one is as extreme when the samples are
 * far apart, and its mirror image too when na = nb (2/C then); 1/(1 + draws) past
 * {@link EXACT_LIMIT} relabellings; 1 with an empty side.
 */
export function twoSampleMinP(na: number, nb: number, draws = MONTE_CARLO_DRAWS): number {
  if (na <= 0 || nb <= 0) return 1;
  const relabellings = binomial(na + nb, na);
  return relabellings <= EXACT_LIMIT ? (na === nb ? 2 : 1) / relabellings : 1 / (1 + draws);
}

/** The smallest count of seeds k (per side) for which `minP(k)` is below {@link ALPHA}. */
function fewestSeeds(minP: (k: number) => number): number {
  let k = 1;
  while (minP(k) >= ALPHA) k++;
  return k;
}

/** Paired seeds the sign-flip test needs to reach p < 0.05 at all: 6 (2/64 = 0.031). */
export const PAIRED_SEEDS_NEEDED = fewestSeeds((k) => signFlipMinP(k));
/** Seeds on each side the two-sample test needs to reach p < 0.05 at all: 4 (2/70 = 0.029). */
export const UNPAIRED_SEEDS_NEEDED = fewestSeeds((k) => twoSampleMinP(k, k));

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/**
 * Two-sided two-sample permutation test on the difference of means: the fraction of
 * relabellings of the pooled values whose |mean(B′) − mean(A′)| is at least the observed
 * one. Exact up to {@link EXACT_LIMIT} relabellings, else seeded Monte Carlo.
 */
export function twoSamplePValue(a: readonly number[], b: readonly number[], draws = MONTE_CARLO_DRAWS): number {
  const na = a.length;
  const nb = b.length;
  if (na === 0 || nb === 0) return 1;
  const pooled = [...a, ...b];
  const n = pooled.length;
  const total = pooled.reduce((x, y) => x + y, 0);
  const scale = pooled.reduce((x, y) => x + Math.abs(y), 0) / Math.min(na, nb);
  const stat = (sumA: number): number => Math.abs((total - sumA) / nb - sumA / na);
  const observed = stat(a.reduce((x, y) => x + y, 0));
  if (binomial(n, na) <= EXACT_LIMIT) {
    let hits = 0;
    let count = 0;
    // Every subset of size na of the pooled values as the A sample.
    const choose = (start: number, left: number, sum: number): void => {
      if (left === 0) {
        count++;
        if (atLeast(stat(sum), observed, scale)) hits++;
        return;
      }
      for (let i = start; i <= n - left; i++) choose(i + 1, left - 1, sum + pooled[i]);
    };
    choose(0, na, 0);
    return hits / count;
  }
  const rng = rngStream(0, 'statistics/two-sample');
  const idx = pooled.map((_, i) => i);
  let hits = 0;
  for (let k = 0; k < draws; k++) {
    // Partial Fisher–Yates: the first na positions are a uniform random subset.
    let sum = 0;
    for (let i = 0; i < na; i++) {
      const j = i + Math.floor(rng.next() * (n - i));
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      sum += pooled[idx[i]];
    }
    if (atLeast(stat(sum), observed, scale)) hits++;
  }
  return (1 + hits) / (1 + draws);
}

// ---------------------------------------------------------------------------------------
// Intervals and comparisons of report figures

/** The 95% interval of each figure over the per-seed values (null: fewer than two seeds with the figure). */
export type SummaryIntervals = { readonly [F in StatFigure]: Interval | null };

const roundInterval = (i: Interval | null): Interval | null => (i === null ? null : [round6(i[0]), round6(i[1])]);

const values = (figure: StatFigure, runs: readonly FigureSource[]): number[] => runs.map((r) => figureValue(figure, r)).filter((x): x is number => x !== null && Number.isFinite(x));

/**
 * The range each figure lives in: a success rate is a fraction, the others cannot be
 * negative. A t-interval over few disagreeing seeds can reach past it (a p50 of
 * [−0.8, 4.8] ms with two seeds); intersecting it with the range loses no coverage, since
 * the true value lies inside.
 */
const FIGURE_RANGE: Readonly<Record<StatFigure, readonly [number, number]>> = {
  successRate: [0, 1],
  throughputPerSec: [0, Infinity],
  mean: [0, Infinity],
  p50: [0, Infinity],
  p90: [0, Infinity],
  p99: [0, Infinity],
  p999: [0, Infinity],
  attemptsPerRequest: [0, Infinity],
};

/** `i` cut to `[lo, hi]` (null stays null). */
function clampInterval(i: Interval | null, [lo, hi]: readonly [number, number]): Interval | null {
  return i === null ? null : [Math.min(hi, Math.max(lo, i[0])), Math.min(hi, Math.max(lo, i[1]))];
}

/**
 * The Wilson score interval of a proportion, `succeeded` of `total` (total > 0):
 * (p̂ + z²/2N ± z·√(p̂(1 − p̂)/N + z²/4N²)) / (1 + z²/N), z the normal 1 − α/2 quantile. Unlike
 * p̂ ± z·√(p̂(1 − p̂)/N) it is not a point at p̂ = 0 or 1: all of N succeeding gives
 * [N/(N + z²), 1]. Not rounded.
 */
export function wilsonInterval(succeeded: number, total: number, confidence = CONFIDENCE): Interval {
  const z = tQuantile(1 - (1 - confidence) / 2, Infinity);
  const p = succeeded / total;
  const z2n = (z * z) / total;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt(p * (1 - p) / total + z2n / (4 * total))) / (1 + z2n);
  // Exactly 0 and 1 at the ends (the formula gives them up to rounding).
  return [succeeded <= 0 ? 0 : Math.max(0, centre - half), succeeded >= total ? 1 : Math.min(1, centre + half)];
}

/** A run of a report as {@link summaryIntervals} reads it: its figures and, when known, its request counts. */
export type IntervalSource = FigureSource & { readonly requests?: { readonly total: number; readonly succeeded: number } };

/**
 * The success rate's interval: the t interval over the per-seed rates joined with the Wilson
 * score interval of the pooled counts (the lower of the lower bounds, the higher of the
 * upper), cut to [0, 1]. The t interval carries the variation between seeds but is a point
 * when every seed has the same rate (100% on each of a few seeds, though failures are merely
 * rare); Wilson is never a point but counts requests as independent across seeds. Null with
 * fewer than two seeds (as every interval), and the t interval alone for runs without counts.
 */
function successRateInterval(runs: readonly IntervalSource[]): Interval | null {
  const t = tInterval(values('successRate', runs));
  if (t === null) return null;
  const counted = runs.filter((r) => r.successRate !== null);
  if (!counted.every((r) => r.requests !== undefined)) return t;
  const total = counted.reduce((a, r) => a + (r.requests?.total ?? 0), 0);
  const succeeded = counted.reduce((a, r) => a + (r.requests?.succeeded ?? 0), 0);
  if (!(total > 0)) return t;
  const w = wilsonInterval(succeeded, total);
  return [Math.min(t[0], w[0]), Math.max(t[1], w[1])];
}

export function summaryIntervals(runs: readonly IntervalSource[]): SummaryIntervals {
  const out: Partial<Record<StatFigure, Interval | null>> = {};
  for (const f of STAT_FIGURES) out[f] = roundInterval(clampInterval(f === 'successRate' ? successRateInterval(runs) : tInterval(values(f, runs)), FIGURE_RANGE[f]));
  return out as SummaryIntervals;
}

/**
 * n × {@link tInterval} of `xs`: the interval of a total over the n seeds, on the scale of the
 * total the summary prints (the per-seed mean's interval, scaled). Null with fewer than two
 * values. Not rounded.
 */
export function totalInterval(xs: readonly number[], confidence = CONFIDENCE): Interval | null {
  const i = tInterval(xs, confidence);
  return i === null ? null : [xs.length * i[0], xs.length * i[1]];
}

/** What {@link countIntervals} reads from a run of a report (a RunSummary): its counts, max and failover counters. */
export type CountSource = {
  readonly requests: { readonly total: number; readonly rejected: number; readonly timedOut: number; readonly errors: number; readonly resets: number; readonly connectFailures: number };
  readonly latencyMs: { readonly max: number | null };
} & { readonly [K in CounterFigure]?: number };

/**
 * The intervals of the summary figures beyond {@link STAT_FIGURES}. Present in reports
 * written since they were added; `counters` only for the failover counters the summary has.
 */
export type CountIntervals = { readonly [F in TotalFigure | MaximumFigure]: Interval | null } & { readonly [F in CounterFigure]?: Interval | null };

const finite = (xs: readonly (number | null)[]): number[] => xs.filter((x): x is number => x !== null && Number.isFinite(x));

/**
 * 95% intervals of the counts, maxima and failover counters of a summary, from its runs:
 * totals as {@link totalInterval} (a counter a run lacks counts 0 there, as in the summed
 * figure), maxima as {@link tInterval}. `maxOverMean` holds each run's value (null: the
 * service had no request in that run); `counters` are the failover counters the summary has,
 * each given an interval, in {@link COUNTER_FIGURES} order.
 */
export function countIntervals(runs: readonly CountSource[], maxOverMean: readonly (number | null)[], counters: readonly CounterFigure[]): CountIntervals {
  // Counts and maxima cannot be negative (max/mean not below 1): a t-interval reaching past
  // that bound with few seeds is cut at it, as its lower end says nothing more there.
  const atLeast = (floor: number, i: Interval | null): Interval | null => clampInterval(i, [floor, Infinity]);
  const total = (f: (r: CountSource) => number): Interval | null => roundInterval(atLeast(0, totalInterval(runs.map(f))));
  const out: Record<string, Interval | null> = {
    requests: total((r) => r.requests.total),
    rejected: total((r) => r.requests.rejected),
    timedOut: total((r) => r.requests.timedOut),
    errorsResetsConnectFailures: total((r) => r.requests.errors + r.requests.resets + r.requests.connectFailures),
    max: roundInterval(atLeast(0, tInterval(finite(runs.map((r) => r.latencyMs.max))))),
    maxOverMean: roundInterval(atLeast(1, tInterval(finite(maxOverMean)))),
  };
  for (const c of COUNTER_FIGURES) if (counters.includes(c)) out[c] = total((r) => r[c] ?? 0);
  return out as CountIntervals;
}

/** One figure of a variant against the baseline. Relative figures are fractions (−0.41 = 41% lower). */
export interface FigureComparison {
  /** Seeds compared (paired), or per-seed values on each side (unpaired: the smaller side). */
  readonly n: number;
  /**
   * Relative difference, variant / baseline − 1. Paired: the geometric mean over seeds of
   * variant / baseline, − 1 (mean(variant)/mean(baseline) − 1 when a seed has 0); unpaired:
   * mean(variant)/mean(baseline) − 1. Null when nothing could be compared.
   */
  readonly relative: number | null;
  /** 95% interval of the relative difference; null with fewer than two seeds. */
  readonly ci: Interval | null;
  /** Two-sided permutation-test p-value; null when nothing could be compared. */
  readonly p: number | null;
  /**
   * The smallest p-value the test could have given with these seeds, whatever the data
   * ({@link signFlipMinP} of the seeds whose values differ, as tied seeds cannot move the
   * sign-flip test; {@link twoSampleMinP}); at least 0.05: too few (differing) seeds for the
   * test to find any difference significant. Null when nothing could be compared; absent in
   * reports written before it was added.
   */
  readonly minP?: number | null;
  /** p < 0.05 and the interval excludes 0. */
  readonly significant: boolean;
  /**
   * The finding in words: `p99 is 41% lower (95% CI 35–47%)`, `no significant difference (…)`,
   * or, when `minP` is at least 0.05, `+143% vs … (95% CI …), too few seeds for the
   * permutation test (…)`.
   */
  readonly verdict: string;
}

export type ComparisonMethod = 'paired' | 'welch';

export interface VariantComparison {
  /** The variant compared against. */
  readonly baseline: string;
  /** `paired`: by seed (sign-flip test); `welch`: unpaired (delta-method t interval on the ratio of means with Welch–Satterthwaite df, two-sample permutation test). */
  readonly method: ComparisonMethod;
  readonly figures: { readonly [F in StatFigure]: FigureComparison };
}

/** A run of a report: its seed and figures. */
export interface SeededFigures extends FigureSource {
  readonly seed: number;
}

/**
 * Decimals for a percentage and its interval: two significant digits of the estimate, and
 * enough for the interval's bounds to differ (at most three).
 */
function decimals(relative: number, ci: Interval | null): number {
  const a = Math.abs(relative * 100);
  const own = a >= 10 ? 0 : a >= 1 ? 1 : 2;
  const width = ci === null ? 0 : (ci[1] - ci[0]) * 100;
  const forWidth = width > 0 ? Math.ceil(-Math.log10(width)) + 1 : 0;
  return Math.max(0, Math.min(3, Math.max(own, forWidth)));
}
const pct = (x: number, d: number): string => `${Math.abs(x * 100).toFixed(d)}%`;
const signedPct = (x: number, d: number): string => `${x >= 0 ? '+' : '−'}${pct(x, d)}`;

/** Who is compared, for the sentences: `<variant> p99 is 41% lower than <baseline>`. */
export interface Names {
  readonly variant: string;
  readonly baseline: string;
}

/** The seeds a test had, for a sentence: `3 seeds`, `1 seed`; `3 and 2 seeds` (unpaired, baseline first). */
export function seedsPhrase(n: number, nb?: number): string {
  if (nb !== undefined && nb !== n) return `${n} and ${nb} seeds`;
  return `${n} seed${n === 1 ? '' : 's'}${nb === undefined ? '' : ' on each side'}`;
}

/**
 * Why a comparison cannot be significant whatever its data: `too few seeds for the
 * permutation test (smallest possible p = 0.250 with 3 seeds; 6 paired seeds reach 0.031)`.
 * `seeds` (from {@link seedsPhrase}) is left out when unknown. `tied`: paired, and some
 * seeds gave the same value on both sides, which cannot move the sign-flip test, so that
 * `minP` is of the seeds that differ (`seeds` from {@link differingSeedsPhrase}): `too few
 * differing seeds to tell (smallest possible p = 0.125 with 3 of 8 seeds differing; …)`.
 */
export function tooFewSeedsNote(method: ComparisonMethod, minP: number, seeds?: string, tied = false): string {
  if (method === 'paired' && tied) {
    return `too few differing seeds to tell (smallest possible p = ${formatP(minP)}${seeds === undefined ? '' : ` with ${seeds}`}; seeds with the same value on both sides cannot move the sign-flip test, ${PAIRED_SEEDS_NEEDED} differing seeds reach ${formatP(signFlipMinP(PAIRED_SEEDS_NEEDED))})`;
  }
  const reach =
    method === 'paired'
      ? `${PAIRED_SEEDS_NEEDED} paired seeds reach ${formatP(signFlipMinP(PAIRED_SEEDS_NEEDED))}`
      : `${UNPAIRED_SEEDS_NEEDED} seeds on each side reach ${formatP(twoSampleMinP(UNPAIRED_SEEDS_NEEDED, UNPAIRED_SEEDS_NEEDED))}`;
  return `too few seeds for the permutation test (smallest possible p = ${formatP(minP)}${seeds === undefined ? '' : ` with ${seeds}`}; ${reach})`;
}

/** `3 of 8 seeds differing`: the seeds of a paired test whose values differ, of those compared. */
export function differingSeedsPhrase(differing: number, n: number): string {
  return `${differing} of ${n} seeds differing`;
}

/**
 * The seeds that differ in a paired comparison whose `minP` (2/2^k, k ≤ 16) is at least
 * 0.05: k, worked out from `minP`, as report.json does not carry it.
 */
function differingSeeds(minP: number): number {
  return Math.max(0, Math.round(1 - Math.log2(minP)));
}

/**
 * A comparison's `minP`; for one read from a report written before `minP` was added, worked
 * out again from `n` when paired (the sign-flip test's depends on n alone), else null.
 */
export function comparisonMinP(c: FigureComparison, method: ComparisonMethod): number | null {
  if (c.minP !== undefined) return c.minP;
  return c.p === null || method !== 'paired' ? null : signFlipMinP(c.n);
}

/**
 * Whether a compared figure was out of the test's reach: not significant, and its `minP` not
 * below 0.05. Not a figure with no difference at all (mean 0, p = 1; `same` in `meshsim
 * compare`): more seeds would not change that.
 */
export function tooFewSeeds(c: FigureComparison, method: ComparisonMethod): boolean {
  const minP = comparisonMinP(c, method);
  return !c.significant && minP !== null && minP >= ALPHA && !(c.relative === 0 && c.p === 1);
}

/**
 * Whether a compared figure is the same on every seed, paired: no difference at all (mean 0,
 * p = 1, an interval of [0, 0] or, from one seed, none). Not a difference of 0 on average
 * that seeds disagree on (+10% on one, −10% on another).
 */
export function sameOnEverySeed(c: FigureComparison, method: ComparisonMethod): boolean {
  return method === 'paired' && c.relative === 0 && c.p === 1 && (c.ci === null || (c.ci[0] === 0 && c.ci[1] === 0));
}

/**
 * The figures of a comparison the test could not have found significant, whatever the data,
 * grouped by their {@link tooFewSeedsNote} (paired, figures some seeds lack have a smaller
 * n); unpaired, `n` is the smaller side only, so the note leaves the counts out.
 */
export function tooFewSeedsGroups(figures: { readonly [F in StatFigure]: FigureComparison }, method: ComparisonMethod): { note: string; figures: StatFigure[] }[] {
  const groups = new Map<string, StatFigure[]>();
  for (const f of STAT_FIGURES) {
    const c = figures[f];
    const minP = comparisonMinP(c, method);
    if (minP === null || !tooFewSeeds(c, method)) continue;
    const differing = method === 'paired' ? differingSeeds(minP) : c.n;
    const tied = method === 'paired' && differing < c.n;
    const note = tooFewSeedsNote(method, minP, method === 'paired' ? (tied ? differingSeedsPhrase(differing, c.n) : seedsPhrase(c.n)) : undefined, tied);
    groups.set(note, [...(groups.get(note) ?? []), f]);
  }
  return [...groups].map(([note, fs]) => ({ note, figures: fs }));
}

/** Why a figure was not compared (`relative` null), from its verdict: `no seed where both have it`. */
export function notComparedReason(c: FigureComparison): string {
  return /\(([^()]*)\)$/.exec(c.verdict)?.[1] ?? 'nothing to compare';
}

/**
 * The figures of a comparison that were not compared (`relative` null: no seed had them on
 * both sides, or the baseline's is 0), grouped by their reason, in {@link STAT_FIGURES} order.
 * Said apart from "no significant difference", which would claim a test was run.
 */
export function notComparedGroups(figures: { readonly [F in StatFigure]: FigureComparison }): { reason: string; figures: StatFigure[] }[] {
  const groups = new Map<string, StatFigure[]>();
  for (const f of STAT_FIGURES) {
    if (figures[f].relative !== null) continue;
    const reason = notComparedReason(figures[f]);
    groups.set(reason, [...(groups.get(reason) ?? []), f]);
  }
  return [...groups].map(([reason, fs]) => ({ reason, figures: fs }));
}

/** The sentence of a compared figure: significant, out of the test's reach ({@link tooFewSeedsNote}), or not significant. */
function verdict(figure: StatFigure, names: Names, relative: number, ci: Interval | null, p: number, minP: number, method: ComparisonMethod, seeds: string, tied = false): { significant: boolean; verdict: string } {
  const label = `${names.variant} ${FIGURE_LABEL[figure]}`;
  const significant = ci !== null && p < ALPHA && (ci[0] > 0 || ci[1] < 0);
  if (significant) {
    const lower = relative < 0;
    const d = decimals(relative, ci);
    const [a, b] = lower ? [-ci[1], -ci[0]] : [ci[0], ci[1]];
    return { significant, verdict: `${label} is ${pct(relative, d)} ${lower ? 'lower' : 'higher'} than ${names.baseline} (95% CI ${pct(a, d).slice(0, -1)}–${pct(b, d)}, p = ${formatP(p)})` };
  }
  const d = decimals(relative, ci);
  const interval = ci === null ? 'no interval from one seed' : `95% CI ${signedPct(ci[0], d)} to ${signedPct(ci[1], d)}`;
  // Not "no significant difference": with an interval far from 0 that reads as a contradiction.
  if (minP >= ALPHA && !(relative === 0 && p === 1)) return { significant, verdict: `${label}: ${signedPct(relative, d)} vs ${names.baseline} (${interval}, p = ${formatP(p)}), ${tooFewSeedsNote(method, minP, seeds, tied)}` };
  return { significant, verdict: `${label}: no significant difference from ${names.baseline} (${signedPct(relative, d)}, ${interval}, p = ${formatP(p)})` };
}

export function formatP(p: number): string {
  return p < 0.001 ? '< 0.001' : p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}

function notComparable(figure: StatFigure, names: Names, n: number, why: string): FigureComparison {
  return { n, relative: null, ci: null, p: null, minP: null, significant: false, verdict: `${names.variant} ${FIGURE_LABEL[figure]}: not compared with ${names.baseline} (${why})` };
}

/**
 * The per-seed terms a paired comparison works on, for the seeds where both sides have the
 * figure: `log`, ln(v/b) on every seed when every value is positive (the estimate is then the
 * geometric mean of v/b, − 1); else `scaled`, (v − b) / mean(b) (the estimate is
 * mean(v)/mean(b) − 1). Null when no seed has both, or the baseline's mean is 0.
 */
export function pairedTerms(pairs: readonly (readonly [number, number])[]): { kind: 'log' | 'scaled'; terms: number[] } | null {
  if (pairs.length === 0) return null;
  if (pairs.every(([b, v]) => b > 0 && v > 0)) return { kind: 'log', terms: pairs.map(([b, v]) => Math.log(v / b)) };
  const mb = mean(pairs.map(([b]) => b));
  if (!(mb > 0)) return null;
  return { kind: 'scaled', terms: pairs.map(([b, v]) => (v - b) / mb) };
}

/**
 * One figure, paired by seed, over the seeds where both sides have it. When it is positive on
 * every seed on both sides, per seed the log ratio ln(v/b): its mean, Student t interval and
 * sign-flip test, reported back on the ratio scale, exp(mean) − 1 (the geometric mean of v/b,
 * − 1) with interval exp(bounds) − 1. Swapping baseline and variant negates every log ratio,
 * so the estimate of B against A is 1/(1 + that of A against B) − 1 and its test gives the same
 * p: interchangeable variants are symmetric about 0, as the sign-flip test assumes (the mean
 * of v/b − 1 is not: it is biased upward). When a seed has 0 (a success rate or throughput of
 * 0), the log ratio is undefined: then per seed (v − b)/mean(b), whose mean is
 * mean(v)/mean(b) − 1, with the t interval and sign-flip test on those. Not compared when the
 * baseline's is 0 on every such seed.
 */
export function pairedFigure(figure: StatFigure, names: Names, baseline: readonly SeededFigures[], variant: readonly SeededFigures[]): FigureComparison {
  const bySeed = new Map(baseline.map((r) => [r.seed, figureValue(figure, r)]));
  const pairs: [number, number][] = [];
  for (const r of variant) {
    const b = bySeed.get(r.seed);
    const v = figureValue(figure, r);
    if (b === undefined || b === null || v === null || !Number.isFinite(b) || !Number.isFinite(v)) continue;
    pairs.push([b, v]);
  }
  if (pairs.length === 0) return notComparable(figure, names, 0, 'no seed where both have it');
  const paired = pairedTerms(pairs);
  if (paired === null) return notComparable(figure, names, pairs.length, 'the baseline’s is 0 on every seed where both have it');
  const { kind, terms } = paired;
  const back = kind === 'log' ? (x: number): number => Math.expm1(x) : (x: number): number => x;
  const relative = round6(back(mean(terms)));
  const t = tInterval(terms);
  const ci = roundInterval(t === null ? null : [back(t[0]), back(t[1])]);
  const p = round6(signFlipPValue(terms));
  // Tied seeds (a term of 0) cannot move the sign-flip test: its floor is of the others.
  const differing = terms.filter((x) => x !== 0).length;
  const minP = round6(signFlipMinP(differing));
  if (differing === 0) return { n: terms.length, relative, ci, p, minP, significant: false, verdict: `${names.variant} ${FIGURE_LABEL[figure]}: the same as ${names.baseline} on every seed` };
  const tied = differing < terms.length;
  return { n: terms.length, relative, ci, p, minP, ...verdict(figure, names, relative, ci, p, minP, 'paired', tied ? differingSeedsPhrase(differing, terms.length) : seedsPhrase(terms.length), tied) };
}

/**
 * One figure, unpaired: R = mean(B)/mean(A), relative R − 1, with a delta-method interval on
 * the ratio of means, R − 1 ± t·se, se² = (vb + R²·va)/mean(A)² (= R²(va/mean(A)² +
 * vb/mean(B)²), va and vb the squared standard errors of the two means), t at the
 * Welch–Satterthwaite degrees of freedom of its two terms. Dividing a Welch interval on
 * mean(B) − mean(A) by mean(A), as before, treated the baseline's mean as known and fell short
 * of 95% (~90% at a true ratio of 2).
 */
export function welchFigure(figure: StatFigure, names: Names, baseline: readonly FigureSource[], variant: readonly FigureSource[]): FigureComparison {
  const a = values(figure, baseline);
  const b = values(figure, variant);
  const n = Math.min(a.length, b.length);
  if (n === 0) return notComparable(figure, names, 0, 'one side has no value');
  const ma = mean(a);
  if (ma === 0) return notComparable(figure, names, n, 'the baseline’s mean is 0');
  const mb = mean(b);
  const relative = round6(mb / ma - 1);
  let ci: Interval | null = null;
  if (a.length >= 2 && b.length >= 2) {
    const ratio = mb / ma;
    // The two terms of the ratio's variance: the baseline's mean's, scaled by R², and the variant's.
    const ta = (ratio ** 2 * sampleStandardDeviation(a) ** 2) / a.length / ma ** 2;
    const tb = sampleStandardDeviation(b) ** 2 / b.length / ma ** 2;
    const se = Math.sqrt(ta + tb);
    const df = se === 0 ? Infinity : (ta + tb) ** 2 / (ta ** 2 / (a.length - 1) + tb ** 2 / (b.length - 1));
    const half = se === 0 ? 0 : tQuantile(1 - ALPHA / 2, df) * se;
    ci = roundInterval([ratio - 1 - half, ratio - 1 + half]);
  }
  const p = round6(twoSamplePValue(a, b));
  const minP = round6(twoSampleMinP(a.length, b.length));
  return { n, relative, ci, p, minP, ...verdict(figure, names, relative, ci, p, minP, 'welch', seedsPhrase(a.length, b.length)) };
}

/** The figures compared (`p` not null) over a report's or a compare run's comparisons. */
export function comparisonsCount(comparisons: readonly ({ readonly figures: { readonly [F in StatFigure]: FigureComparison } } | undefined)[]): number {
  return comparisons.reduce((n, c) => n + (c === undefined ? 0 : STAT_FIGURES.filter((f) => c.figures[f].p !== null).length), 0);
}

/**
 * That the tests are not corrected for multiple comparisons: `each comparison at 5%, not
 * corrected for multiple comparisons: with 14 comparisons, about 0.7 may be flagged by
 * chance …`. Every figure of every variant is its own test at {@link ALPHA}; null with none.
 */
export function multipleComparisonsNote(count: number): string | null {
  if (count === 0) return null;
  const expected = Number((ALPHA * count).toFixed(2));
  return `Each comparison is tested at 5%, not corrected for multiple comparisons: with ${count} comparison${count === 1 ? '' : 's'}, about ${expected} (0.05 × ${count}) may be flagged significant by chance even where nothing differs.`;
}

/** Whether two sets of runs have the same seeds (then they can be paired). */
export function sameSeeds(a: readonly SeededFigures[], b: readonly SeededFigures[]): boolean {
  const sa = a.map((r) => r.seed).sort((x, y) => x - y);
  const sb = b.map((r) => r.seed).sort((x, y) => x - y);
  return sa.length === sb.length && sa.every((s, i) => s === sb[i]);
}

/** Every figure of `variant` against `baseline`; paired when they have the same seeds, else Welch. */
export function compareRuns(names: Names, baseline: readonly SeededFigures[], variant: readonly SeededFigures[], method: ComparisonMethod = sameSeeds(baseline, variant) ? 'paired' : 'welch'): VariantComparison {
  const figures: Partial<Record<StatFigure, FigureComparison>> = {};
  for (const f of STAT_FIGURES) figures[f] = method === 'paired' ? pairedFigure(f, names, baseline, variant) : welchFigure(f, names, baseline, variant);
  return { baseline: names.baseline, method, figures: figures as VariantComparison['figures'] };
}
