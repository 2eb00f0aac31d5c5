/**
 * Samplers, moments and quantiles for the duration distributions of a scenario (all ms).
 * Sampling by inversion where the inverse CDF is cheap, Marsaglia's polar method for
 * normals, rejection for truncation (Devroye, "Non-Uniform Random Variate Generation",
 * 1986); Φ by Marsaglia (JSS 2004), Φ⁻¹ by Acklam's rational approximation.
 *
 * `makeSampler` resolves the kind once and returns a closure specialised to it: no switch
 * and no allocation per draw.
 */
import type { DistSpec, MixtureComponent } from './distribution-spec.js';
import type { Rng } from './ports.js';

export type Sampler = () => number;

/** z such that Φ(z) = 0.99. */
const Z99 = 2.3263478740408408;

/**
 * Largest value any ms parameter may take (~31.7 years). With the limits on lognormal
 * sigma and pareto shape below, this keeps every possible sample finite: the polar
 * method yields |z| ≤ ~12.1 and 1 − U ≥ 2⁻⁵³ for any double U in [0, 1).
 */
export const MAX_MS = 1e12;
const MAX_LN_SIGMA = 10;
const MIN_PARETO_SHAPE = 0.1;
const MAX_MU = Math.log(MAX_MS);

type LognormalSpec = Extract<DistSpec, { dist: 'lognormal' }>;

function lognormalParams(spec: LognormalSpec): { mu: number; sigma: number } {
  if ('median' in spec) {
    const mu = Math.log(spec.median);
    return { mu, sigma: (Math.log(spec.p99) - mu) / Z99 };
  }
  return { mu: spec.mu, sigma: spec.sigma };
}

const isMs = (x: number): boolean => Number.isFinite(x) && x >= 0 && x <= MAX_MS;
const msRule = `must be a number of ms in [0, ${MAX_MS}]`;

/** A human-readable reason why `spec` is invalid, or undefined when it is valid. */
export function validateDist(spec: DistSpec): string | undefined {
  switch (spec.dist) {
    case 'constant':
      return isMs(spec.value) ? undefined : `value ${msRule}`;
    case 'uniform':
      if (!isMs(spec.min)) return `min ${msRule}`;
      if (!isMs(spec.max)) return `max ${msRule}`;
      return spec.max >= spec.min ? undefined : 'max must be ≥ min';
    case 'exponential':
      if (!isMs(spec.mean)) return `mean ${msRule}`;
      return spec.mean > 0 ? undefined : 'mean must be > 0';
    case 'normal':
      // Truncation at 0 resamples; a mean ≥ 0 keeps the acceptance rate ≥ 1/2.
      if (!isMs(spec.mean)) return `mean ${msRule}`;
      if (!(spec.stddev >= 0)) return 'stddev must be ≥ 0';
      return isMs(spec.stddev) ? undefined : `stddev ${msRule}`;
    case 'lognormal': {
      if ('median' in spec) {
        if (!isMs(spec.median) || spec.median === 0) return `median must be > 0 and ≤ ${MAX_MS} ms`;
        if (!isMs(spec.p99)) return `p99 ${msRule}`;
        if (!(spec.p99 > spec.median)) return 'p99 must be greater than median';
        const { sigma } = lognormalParams(spec);
        if (!(sigma <= MAX_LN_SIGMA)) {
          return `p99/median must be ≤ ${Math.exp(MAX_LN_SIGMA * Z99).toPrecision(3)} (sigma ≤ ${MAX_LN_SIGMA})`;
        }
        return undefined;
      }
      if (!Number.isFinite(spec.mu) || spec.mu > MAX_MU) {
        return `mu must be a finite number ≤ ln(${MAX_MS}) ≈ ${MAX_MU.toFixed(2)}`;
      }
      if (!(spec.sigma >= 0)) return 'sigma must be ≥ 0';
      return spec.sigma <= MAX_LN_SIGMA ? undefined : `sigma must be ≤ ${MAX_LN_SIGMA}`;
    }
    case 'pareto':
      if (!isMs(spec.scale) || spec.scale === 0) return `scale must be > 0 and ≤ ${MAX_MS} ms`;
      if (!Number.isFinite(spec.shape) || spec.shape < MIN_PARETO_SHAPE) {
        return `shape must be ≥ ${MIN_PARETO_SHAPE}`;
      }
      return undefined;
    case 'empirical':
      if (!Array.isArray(spec.values) || spec.values.length === 0 || !spec.values.every(isMs)) {
        return `values must be non-empty and ≥ 0 (each ≤ ${MAX_MS} ms)`;
      }
      return undefined;
    case 'mixture': {
      if (!Array.isArray(spec.of) || spec.of.length === 0) return 'mixture needs at least one component';
      for (let i = 0; i < spec.of.length; i++) {
        const c = spec.of[i];
        if (!(Number.isFinite(c.weight) && c.weight > 0)) return 'weights must be positive';
        const inner = validateDist(c);
        if (inner !== undefined) return `of[${i}]: ${inner}`;
      }
      return undefined;
    }
    default: {
      const unknown: { dist?: unknown } = spec;
      return `unknown dist ${JSON.stringify(unknown.dist)}`;
    }
  }
}

function assertValid(spec: DistSpec): void {
  const problem = validateDist(spec);
  if (problem !== undefined) throw new RangeError(`invalid ${spec.dist} distribution: ${problem}`);
}

/** A standard normal generator by Marsaglia's polar method, caching the second variate. */
function stdNormal(rng: Rng): Sampler {
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * rng.next() - 1;
      v = 2 * rng.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    spare = v * f;
    hasSpare = true;
    return u * f;
  };
}

function cumulativeWeights(of: readonly MixtureComponent[]): Float64Array {
  let total = 0;
  for (const c of of) total += c.weight;
  const cum = new Float64Array(of.length);
  let acc = 0;
  for (let i = 0; i < of.length; i++) {
    acc += of[i].weight;
    cum[i] = acc / total;
  }
  cum[of.length - 1] = 1; // u < 1 always selects a component despite rounding
  return cum;
}

function buildSampler(spec: DistSpec, rng: Rng): Sampler {
  switch (spec.dist) {
    case 'constant': {
      const value = spec.value;
      return () => value;
    }
    case 'uniform': {
      const min = spec.min;
      const span = spec.max - spec.min;
      return () => min + span * rng.next();
    }
    case 'exponential': {
      const mean = spec.mean;
      // 1 − U is in (0, 1]; `0 −` turns the -0 of log(1) into +0.
      return () => 0 - mean * Math.log(1 - rng.next());
    }
    case 'normal': {
      const { mean, stddev } = spec;
      if (stddev === 0) return () => mean;
      const z = stdNormal(rng);
      return () => {
        let x: number;
        do {
          x = mean + stddev * z();
        } while (x < 0);
        return x;
      };
    }
    case 'lognormal': {
      const { mu, sigma } = lognormalParams(spec);
      if (sigma === 0) {
        const value = Math.exp(mu);
        return () => value;
      }
      const z = stdNormal(rng);
      return () => Math.exp(mu + sigma * z());
    }
    case 'pareto': {
      const scale = spec.scale;
      const exponent = -1 / spec.shape;
      // exp(log) is twice as fast as Math.pow here and as accurate for our purpose.
      return () => scale * Math.exp(Math.log(1 - rng.next()) * exponent);
    }
    case 'empirical': {
      const values = Float64Array.from(spec.values);
      const n = values.length;
      return () => values[Math.floor(rng.next() * n)];
    }
    case 'mixture': {
      const samplers = spec.of.map((c) => buildSampler(c, rng));
      const cum = cumulativeWeights(spec.of);
      const k = cum.length;
      if (k === 1) return samplers[0];
      if (k <= 8) {
        return () => {
          const u = rng.next();
          let i = 0;
          while (u >= cum[i]) i++;
          return samplers[i]();
        };
      }
      return () => {
        const u = rng.next();
        let lo = 0;
        let hi = k - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (u < cum[mid]) hi = mid;
          else lo = mid + 1;
        }
        return samplers[lo]();
      };
    }
  }
}

/**
 * Whether a sampler for `spec` keeps no state between draws besides its Rng's, so one
 * sampler may serve many streams by switching the Rng underneath it (RngBank.select).
 * The normal-based kinds cache a second variate, so they do not.
 */
export function samplerIsStateless(spec: DistSpec): boolean {
  switch (spec.dist) {
    case 'normal':
    case 'lognormal':
      return false;
    case 'mixture':
      return spec.of.every(samplerIsStateless);
    default:
      return true;
  }
}

/**
 * A sampler for `spec` drawing from `rng` (which it then owns: the normal-based kinds
 * cache a second variate). Throws a RangeError when `validateDist` rejects the spec.
 */
export function makeSampler(spec: DistSpec, rng: Rng): Sampler {
  assertValid(spec);
  return buildSampler(spec, rng);
}

/** Standard normal density. */
function phi(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Standard normal CDF for x ≥ 0 (Marsaglia 2004 Taylor series; absolute error ~1e-15). */
function bigPhi(x: number): number {
  if (x > 8.5) return 1;
  const x2 = x * x;
  let s = x;
  let t = 0;
  let b = x;
  for (let i = 3; s !== t; i += 2) {
    t = s;
    b *= x2 / i;
    s = t + b;
  }
  return 0.5 + s * phi(x);
}

/** Inverse standard normal CDF (Acklam; relative error < 1.2e-9). */
function inverseNormal(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

function mean(spec: DistSpec): number {
  switch (spec.dist) {
    case 'constant':
      return spec.value;
    case 'uniform':
      return (spec.min + spec.max) / 2;
    case 'exponential':
      return spec.mean;
    case 'normal': {
      // E[X | X ≥ 0] = μ + σ·φ(a)/Φ(a), a = μ/σ (inverse Mills ratio).
      if (spec.stddev === 0) return spec.mean;
      const a = spec.mean / spec.stddev;
      return spec.mean + (spec.stddev * phi(a)) / bigPhi(a);
    }
    case 'lognormal': {
      const { mu, sigma } = lognormalParams(spec);
      return Math.exp(mu + (sigma * sigma) / 2);
    }
    case 'pareto':
      return spec.shape > 1 ? (spec.shape * spec.scale) / (spec.shape - 1) : Infinity;
    case 'empirical': {
      let sum = 0;
      for (const v of spec.values) sum += v;
      return sum / spec.values.length;
    }
    case 'mixture': {
      let total = 0;
      let acc = 0;
      for (const c of spec.of) {
        total += c.weight;
        acc += c.weight * mean(c);
      }
      return acc / total;
    }
  }
}

/** The exact mean of `spec` in ms (Infinity for pareto with shape ≤ 1). */
export function distMean(spec: DistSpec): number {
  assertValid(spec);
  return mean(spec);
}

/**
 * The q-quantile (inverse CDF) of `spec` in ms where a closed form exists (constant,
 * uniform, exponential, lognormal, pareto); undefined for normal, empirical and mixture.
 */
export function distQuantile(spec: DistSpec, q: number): number | undefined {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  assertValid(spec);
  switch (spec.dist) {
    case 'constant':
      return spec.value;
    case 'uniform':
      return spec.min + (spec.max - spec.min) * q;
    case 'exponential':
      return 0 - spec.mean * Math.log1p(-q);
    case 'lognormal': {
      const { mu, sigma } = lognormalParams(spec);
      if (sigma === 0) return Math.exp(mu);
      if ('median' in spec && q === 0.5) return spec.median;
      if ('median' in spec && q === 0.99) return spec.p99;
      return Math.exp(mu + sigma * inverseNormal(q));
    }
    case 'pareto':
      return spec.scale * Math.pow(1 - q, -1 / spec.shape);
    default:
      return undefined;
  }
}
