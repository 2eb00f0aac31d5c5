/**
 * DDSketch (Masson, Rim & Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with
 * Relative-Error Guarantees", VLDB 2019): logarithmic buckets, index ⌈log_γ x⌉ with
 * γ = (1+α)/(1−α), so every quantile estimate is within relative error α of a true sample.
 *
 * Buckets are a dense Float64Array over a window of indices, grown on demand (by at least
 * half each time) and capped to the indices of [MIN, MAX] below: memory follows the spread of the
 * values seen (a few hundred buckets per decade at α = 0.5%), never the count, and is at most
 * ~4.8k buckets (39 KB) at the default α. Dense beats a sparse map on the hot path (one
 * Math.log, one bounds check, one increment); Float64 counts stay exact to 2^53 when shards
 * are merged, where Uint32 would overflow.
 *
 * The sum is kept exactly (a fixed-point superaccumulator over the double range, after
 * Neal, "Fast exact summation using small and large superaccumulators", 2015), so merging
 * is exactly associative and commutative: merge(a, b) serialises byte-identically to one
 * sketch fed a ++ b, in any order and any sharding.
 */

/** Values below this (ms, including 0) are counted in the zero bucket and estimated as 0. */
export const SKETCH_MIN_VALUE = 1e-9;
/** Values above this (ms) share the top bucket (their estimate is capped; max stays exact). */
export const SKETCH_MAX_VALUE = 1e12;

/** A sketch as plain JSON; keys and arrays are canonical, so equal sketches stringify equally. */
export interface SketchJSON {
  readonly relativeAccuracy: number;
  readonly count: number;
  readonly zeroCount: number;
  /** Exact minimum and maximum; null when empty. */
  readonly min: number | null;
  readonly max: number | null;
  /** The exact sum rounded to the nearest double (informative; `sumExact` is authoritative). */
  readonly sum: number;
  /** The exact sum as `<odd hex integer>p<binary exponent>`, or "0". */
  readonly sumExact: string;
  /** Bucket index of `bins[0]`; bins span the first to the last non-empty bucket. */
  readonly offset: number;
  readonly bins: readonly number[];
}

// --- exact sum ---------------------------------------------------------------------------

/** 32-bit limbs; limb k weighs 2^(32k − 1074). 66 cover every double, 2 spare take carries. */
const LIMBS = 68;
const TWO32 = 4294967296;
/** Flush carries before any limb can pass 2^53 (each add puts < 2^33 into a limb). */
const FLUSH_EVERY = 1 << 19;
const SCRATCH = new Float64Array(1);
const WORDS = new Uint32Array(SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = 1 - HI;

class ExactSum {
  readonly limbs = new Float64Array(LIMBS);
  private pending = 0;

  /** Adds a finite x ≥ 0. */
  add(x: number): void {
    SCRATCH[0] = x;
    const hi = WORDS[HI];
    const lo = WORDS[LO];
    const e = (hi >>> 20) & 0x7ff;
    // x = m · 2^(p − 1074) with m = mhi·2^32 + lo, 53 bits; placed at limb k, bit s.
    const mhi = e === 0 ? hi & 0xfffff : (hi & 0xfffff) | 0x100000;
    const p = e === 0 ? 0 : e - 1;
    const k = p >>> 5;
    const s = p & 31;
    const limbs = this.limbs;
    limbs[k] += (lo << s) >>> 0;
    // `(v >>> 1) >>> (31 − s)` is v >>> (32 − s), and 0 when s = 0.
    limbs[k + 1] += ((lo >>> 1) >>> (31 - s)) + ((mhi << s) >>> 0);
    limbs[k + 2] += (mhi >>> 1) >>> (31 - s);
    if (++this.pending === FLUSH_EVERY) this.normalize();
  }

  /** Propagates carries so every limb is in [0, 2^32): the canonical form. */
  normalize(): void {
    const limbs = this.limbs;
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const v = limbs[i] + carry;
      carry = Math.floor(v / TWO32);
      limbs[i] = v - carry * TWO32;
    }
    this.pending = 0;
  }

  merge(other: ExactSum): void {
    this.normalize();
    other.normalize();
    for (let i = 0; i < LIMBS; i++) this.limbs[i] += other.limbs[i];
    this.normalize();
  }

  /** The exact sum rounded to the nearest double. */
  toNumber(): number {
    this.normalize();
    const limbs = this.limbs;
    let top = LIMBS - 1;
    while (top >= 0 && limbs[top] === 0) top--;
    if (top < 0) return 0;
    const low = Math.max(0, top - 2);
    let m = 0n;
    for (let i = top; i >= low; i--) m = (m << 32n) | BigInt(limbs[i]);
    for (let i = 0; i < low; i++) {
      if (limbs[i] !== 0) {
        m |= 1n; // sticky bit: the 64+ leading bits then round correctly
        break;
      }
    }
    return Number(m) * Math.pow(2, 32 * low - 1074);
  }

  toJSON(): string {
    this.normalize();
    let n = 0n;
    for (let i = LIMBS - 1; i >= 0; i--) n = (n << 32n) | BigInt(this.limbs[i]);
    if (n === 0n) return '0';
    let exp = -1074;
    while ((n & 0xffffffffn) === 0n) {
      n >>= 32n;
      exp += 32;
    }
    while ((n & 1n) === 0n) {
      n >>= 1n;
      exp += 1;
    }
    return `${n.toString(16)}p${exp}`;
  }

  static parse(text: string): ExactSum {
    const out = new ExactSum();
    if (text === '0') return out;
    const match = /^([0-9a-f]+)p(-?\d+)$/.exec(text);
    if (match === null) throw new RangeError(`invalid SketchJSON: sumExact "${text}"`);
    const shift = Number(match[2]) + 1074;
    if (!(shift >= 0 && shift < 32 * LIMBS)) throw new RangeError(`invalid SketchJSON: sumExact "${text}"`);
    let n = BigInt(`0x${match[1]}`) << BigInt(shift);
    for (let i = 0; i < LIMBS; i++) {
      out.limbs[i] = Number(n & 0xffffffffn);
      n >>= 32n;
    }
    if (n !== 0n) throw new RangeError(`invalid SketchJSON: sumExact "${text}" out of range`);
    return out;
  }
}

// --- sketch ------------------------------------------------------------------------------

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function invalid(what: string): never {
  throw new RangeError(`invalid SketchJSON: ${what}`);
}

/**
 * A mergeable streaming quantile sketch of non-negative values (ms).
 *
 * `quantile(q)` estimates the order statistic of 0-based rank ⌊q·(n−1)⌋ (computed in
 * floating point) within relative error α; q = 0 and q = 1 return the exact min and max.
 */
export class QuantileSketch {
  readonly relativeAccuracy: number;
  private readonly lnGamma: number;
  private readonly invLnGamma: number;
  /** 2/(γ+1): bucket i is estimated as γ^i · 2/(γ+1). */
  private readonly estimateFactor: number;
  private readonly minIndex: number;
  private readonly maxIndex: number;

  private bins = new Float64Array(0);
  /** Bucket index of bins[0]. */
  private offset = 0;
  private zeros = 0;
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private readonly total = new ExactSum();
  private sumCache = 0;
  private sumStale = false;

  /** `relativeAccuracy` α in [1e-4, 1): below 1e-4 the index range would need ~2 MB per sketch. */
  constructor(relativeAccuracy = 0.005) {
    if (!(relativeAccuracy >= 1e-4 && relativeAccuracy < 1)) {
      throw new RangeError(`relativeAccuracy must be in [1e-4, 1), got ${relativeAccuracy}`);
    }
    this.relativeAccuracy = relativeAccuracy;
    const gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.lnGamma = Math.log(gamma);
    this.invLnGamma = 1 / this.lnGamma;
    this.estimateFactor = 2 / (gamma + 1);
    this.minIndex = Math.ceil(Math.log(SKETCH_MIN_VALUE) * this.invLnGamma);
    this.maxIndex = Math.ceil(Math.log(SKETCH_MAX_VALUE) * this.invLnGamma);
  }

  get count(): number {
    return this.n;
  }

  /** Exact sum of the values, rounded once to the nearest double. */
  get sum(): number {
    if (this.sumStale) {
      this.sumCache = this.total.toNumber();
      this.sumStale = false;
    }
    return this.sumCache;
  }

  /** Exact minimum; NaN when empty. */
  get min(): number {
    return this.n === 0 ? NaN : this.lo + 0;
  }

  /** Exact maximum; NaN when empty. */
  get max(): number {
    return this.n === 0 ? NaN : this.hi + 0;
  }

  /** Number of bucket slots allocated (memory is 8 bytes per slot). */
  get bucketCapacity(): number {
    return this.bins.length;
  }

  mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  /** Adds a finite value ≥ 0; throws a RangeError otherwise. */
  add(x: number): void {
    this.addLn(x, Math.log(x));
  }

  /**
   * `add(x)` with `lnX` = Math.log(x) already computed: a caller adding one value to
   * several sketches (the run's and a timeline bucket's) takes the logarithm once.
   */
  addLn(x: number, lnX: number): void {
    if (!(x >= 0 && x < Infinity)) throw new RangeError(`QuantileSketch.add expects a finite value ≥ 0, got ${x}`);
    this.n++;
    this.total.add(x);
    this.sumStale = true;
    if (x < this.lo) this.lo = x;
    if (x > this.hi) this.hi = x;
    if (x < SKETCH_MIN_VALUE) {
      this.zeros++;
      return;
    }
    // `| 0`: an int32 index, and ceil's -0 (for x just below 1) becomes 0.
    const j = (Math.ceil(lnX * this.invLnGamma) | 0) - this.offset;
    if (j >= 0 && j < this.bins.length) this.bins[j]++;
    else this.addOutside(j + this.offset);
  }

  private addOutside(index: number): void {
    const i = index < this.minIndex ? this.minIndex : index > this.maxIndex ? this.maxIndex : index;
    this.reserve(i, i);
    this.bins[i - this.offset]++;
  }

  /** Makes the window cover indices [from, to], padding the side(s) that grow. */
  private reserve(from: number, to: number): void {
    const len = this.bins.length;
    const curLo = this.offset;
    const curHi = this.offset + len - 1;
    if (len > 0 && from >= curLo && to <= curHi) return;
    const pad = Math.max(64, len >> 1);
    let newLo: number;
    let newHi: number;
    if (len === 0) {
      newLo = from - pad;
      newHi = to + pad;
    } else {
      newLo = from < curLo ? from - pad : curLo;
      newHi = to > curHi ? to + pad : curHi;
    }
    newLo = Math.max(newLo, this.minIndex);
    newHi = Math.min(newHi, this.maxIndex);
    const bins = new Float64Array(newHi - newLo + 1);
    if (len > 0) bins.set(this.bins, curLo - newLo);
    this.bins = bins;
    this.offset = newLo;
  }

  /** Adds `other`'s values exactly; throws if the relative accuracies differ. */
  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy) {
      throw new RangeError(
        `cannot merge sketches of relative accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`,
      );
    }
    const otherCount = other.n;
    if (otherCount === 0) return;
    const [first, last] = other.nonEmptySpan();
    if (first <= last) {
      this.reserve(first + other.offset, last + other.offset);
      const shift = other.offset - this.offset;
      const src = other.bins;
      const dst = this.bins;
      for (let j = first; j <= last; j++) dst[j + shift] += src[j];
    }
    this.zeros += other.zeros;
    this.n += otherCount;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    this.total.merge(other.total);
    this.sumStale = true;
  }

  /** Positions in `bins` of the first and last non-empty bucket (first > last when none). */
  private nonEmptySpan(): [number, number] {
    const bins = this.bins;
    let first = 0;
    while (first < bins.length && bins[first] === 0) first++;
    let last = bins.length - 1;
    while (last >= first && bins[last] === 0) last--;
    return [first, last];
  }

  /**
   * Estimate of the value of 0-based rank ⌊q·(n−1)⌋, within relative error α, clamped to
   * [min, max]. q = 0 → exact min, q = 1 → exact max, NaN when empty.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
    if (this.n === 0) return NaN;
    if (q === 0) return this.lo + 0;
    if (q === 1) return this.hi + 0;
    const rank = Math.floor(q * (this.n - 1));
    let estimate = 0;
    let cumulative = this.zeros;
    if (cumulative <= rank) {
      const bins = this.bins;
      for (let j = 0; j < bins.length; j++) {
        cumulative += bins[j];
        if (cumulative > rank) {
          estimate = Math.exp((this.offset + j) * this.lnGamma) * this.estimateFactor;
          break;
        }
      }
    }
    return estimate < this.lo ? this.lo + 0 : estimate > this.hi ? this.hi + 0 : estimate;
  }

  toJSON(): SketchJSON {
    const [first, last] = this.nonEmptySpan();
    const empty = this.n === 0;
    return {
      relativeAccuracy: this.relativeAccuracy,
      count: this.n,
      zeroCount: this.zeros,
      min: empty ? null : this.lo + 0,
      max: empty ? null : this.hi + 0,
      sum: this.sum,
      sumExact: this.total.toJSON(),
      offset: first <= last ? this.offset + first : 0,
      bins: first <= last ? Array.from(this.bins.subarray(first, last + 1)) : [],
    };
  }

  /** Rebuilds a sketch from {@link toJSON} output; throws a RangeError on inconsistent input. */
  static fromJSON(j: SketchJSON): QuantileSketch {
    if (typeof j !== 'object' || j === null) invalid('not an object');
    const s = new QuantileSketch(j.relativeAccuracy);
    if (!isCount(j.count)) invalid('count');
    if (!isCount(j.zeroCount)) invalid('zeroCount');
    if (!Number.isSafeInteger(j.offset)) invalid('offset');
    if (!Array.isArray(j.bins) || !j.bins.every(isCount)) invalid('bins');
    if (j.bins.length > 0 && (j.offset < s.minIndex || j.offset + j.bins.length - 1 > s.maxIndex)) {
      invalid('bins outside the index range');
    }
    let total = j.zeroCount;
    for (const c of j.bins) total += c;
    if (total !== j.count) invalid('count does not equal zeroCount plus the bins');
    if (j.count === 0) {
      if (j.min !== null || j.max !== null) invalid('min/max of an empty sketch must be null');
    } else {
      const { min, max } = j;
      if (typeof min !== 'number' || typeof max !== 'number' || !(min >= 0 && min <= max && max < Infinity)) {
        invalid('min/max');
      }
      s.lo = min;
      s.hi = max;
    }
    if (typeof j.sumExact !== 'string' || (j.count === 0 && j.sumExact !== '0')) invalid('sumExact');
    s.n = j.count;
    s.zeros = j.zeroCount;
    if (j.bins.length > 0) {
      s.bins = Float64Array.from(j.bins);
      s.offset = j.offset;
    }
    const parsed = ExactSum.parse(j.sumExact);
    s.total.limbs.set(parsed.limbs);
    s.sumStale = true;
    return s;
  }
}
