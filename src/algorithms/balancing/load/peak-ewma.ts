/**
 * Peak EWMA: a latency estimate that jumps to every new peak at once and decays towards
 * faster observations exponentially in time; the load is `estimate × (pending + 1)`.
 * Follows tower's / linkerd2-proxy's `PeakEwma` (in ms instead of ns, and with the decay
 * factor computed as a ratio of exponentials, equal up to rounding; see `decayScale`):
 * - a newcomer starts at the prior `defaultRtt` (30 ms) stamped with the current time;
 * - update with an observed `rtt` at time `now`: if `rtt > est` then `est = rtt`, else
 *   `d = e^(−(now − stamp)/decay)`, `est = est·d + rtt·(1 − d)`; then `stamp = now`;
 * - every read first decays the estimate by feeding an RTT of 0 at the current time;
 * - every ended attempt feeds its latency, whatever its outcome (tower's completion
 *   handle fires on errors too), so fast failures pull the estimate down.
 *
 * Finagle adds a penalty (`cost == 0 && pending > 0` → `Penalty + pending`) for a node
 * with no latency history yet (Finagle starts at cost 0). meshsim does not: Linkerd has
 * no such rule, and with the 30 ms prior an endpoint never lacks history. The estimate
 * reaches exactly 0 only after ~750 decay periods without an observation (underflow,
 * ≈ 2 h at 10 s) or when every observed latency was 0 ms; such endpoints then cost 0
 * whatever their pending count, as in Linkerd.
 */
import type { Clock } from '../../../core/ports.js';
import type { Endpoint, Outcome } from '../../types.js';
import type { LoadMetric } from './types.js';

export interface PeakEwmaOptions {
  /** Prior RTT estimate for an endpoint never observed, ms (tower/Linkerd: 30 ms). */
  readonly defaultRttMs: number;
  /** Decay time constant τ, ms (Linkerd: 10 s). */
  readonly decayMs: number;
}

/** One Peak-EWMA step with decay factor `d` = e^(−Δt/τ) since the last update. */
export function peakEwmaStep(estimate: number, rtt: number, d: number): number {
  return estimate < rtt ? rtt : estimate * d + rtt * (1 - d);
}

/** One Peak-EWMA step: the estimate after observing `rtt` `elapsedMs` after the last update. */
export function peakEwmaUpdate(estimate: number, rtt: number, elapsedMs: number, decayMs: number): number {
  return peakEwmaStep(estimate, rtt, Math.exp(-Math.max(0, elapsedMs) / decayMs));
}

/**
 * Rebase the decay scale once the clock is this many decay periods past its origin, long
 * before e^(−x) could underflow (x ≈ 745).
 */
const REBASE_PERIODS = 256;

/**
 * Longest step, in decay periods, that {@link expNegSmall} covers to double precision:
 * 2^-10 (≈ 9.8 ms at Linkerd's 10 s decay). Past it the decay scale is re-anchored with
 * one Math.exp.
 */
export const MAX_SMALL_STEP = 2 ** -10;

/**
 * e^(−y) for 0 ≤ y ≤ {@link MAX_SMALL_STEP}: Taylor to degree 4 in Horner form. The first
 * term left out, y⁵/120 ≤ 7.4·10⁻¹⁸, is below half an ulp of the result (≈ 1.1·10⁻¹⁶), so
 * the value is within about one ulp of the exact e^(−y), as a correctly rounded exp's is.
 * A few multiplications instead of the C call Math.exp is in V8, which made up about a
 * third of a P2C peak-EWMA pick (bench/README.md, `picks`).
 */
export function expNegSmall(y: number): number {
  return 1 - y * (1 - y * (0.5 - y * (1 / 6 - y * (1 / 24))));
}

/**
 * Per endpoint, one 32-byte record (R_* offsets) instead of four arrays: a pick reads two
 * endpoints and an ended attempt updates one, so each costs one cache line per endpoint
 * (100 sidecars × 10,000 endpoints hold 32 MB of them: bench/fleet10k).
 */
const R_STRIDE = 4;
/** The RTT estimate, ms. */
const R_EST = 0;
/** g(stamp), where g(t) = e^(−(t − base)/τ); see {@link PeakEwmaLoad.decayScale}. */
const R_SCALE = 1;
/** Clock time of the estimate's last update (read or observation), ms. */
const R_STAMP = 2;
/** Attempts sent and not ended. */
const R_PENDING = 3;

export class PeakEwmaLoad implements LoadMetric {
  private rec: Float64Array = new Float64Array(0);
  private n = 0;
  private readonly defaultRtt: number;
  private readonly invDecay: number;
  private base: number;
  private scaleTime = NaN;
  private scaleNow = 1;
  /** A clock reading whose g was computed with Math.exp, and that g (see decayScale). */
  private anchorTime = NaN;
  private anchorScale = 1;

  constructor(
    private readonly clock: Clock,
    options: PeakEwmaOptions,
  ) {
    if (!(options.decayMs > 0) || !Number.isFinite(options.decayMs)) throw new RangeError(`peak EWMA decay must be finite and > 0 ms, got ${options.decayMs}`);
    if (!(options.defaultRttMs >= 0)) throw new RangeError(`peak EWMA default RTT must be ≥ 0 ms, got ${options.defaultRttMs}`);
    this.defaultRtt = options.defaultRttMs;
    this.invDecay = 1 / options.decayMs;
    this.base = clock.now();
  }

  rebuild(_endpoints: readonly Endpoint[], carry: Int32Array): void {
    const now = this.clock.now();
    const g = this.decayScale(now);
    const prev = this.rec;
    const prevN = this.n;
    const n = carry.length;
    const rec = new Float64Array(n * R_STRIDE);
    for (let i = 0; i < n; i++) {
      const j = carry[i];
      const o = i * R_STRIDE;
      if (j >= 0 && j < prevN) {
        rec.set(prev.subarray(j * R_STRIDE, (j + 1) * R_STRIDE), o);
      } else {
        rec[o + R_EST] = this.defaultRtt;
        rec[o + R_SCALE] = g;
        rec[o + R_STAMP] = now;
      }
    }
    this.rec = rec;
    this.n = n;
  }

  /**
   * g(now) = e^(−(now − base)/τ), computed once per distinct clock reading.
   * Hand-optimised: the decay factor since endpoint i's stamp, e^(−(now − stamp_i)/τ), is
   * g(now)/g(stamp_i), so the two loads a P2C pick reads (and the update at the end of the
   * attempt) cost a division each instead of an exp each — the exps were most of a pick.
   * And g itself takes no exp at most readings: g(now) = g(anchor)·e^(−(now − anchor)/τ)
   * with the second factor from {@link expNegSmall} while now − anchor ≤ τ/1024, the
   * anchor's g from Math.exp, re-anchored at the first reading past that step. Each g is
   * one polynomial away from an exact anchor (no error accumulates from step to step), so
   * the factor equals tower's up to rounding (a few ulps), and every endpoint sees the same
   * g(now), so equal states still compare equal. Every REBASE_PERIODS decay periods the
   * origin moves to now and each g(stamp_i) is recomputed from its stamp, so g never
   * underflows; a stamp so old that its g overflows to ∞ gives factor 0, as the exp would.
   */
  private decayScale(now: number): number {
    if (now !== this.scaleTime) {
      if ((now - this.base) * this.invDecay > REBASE_PERIODS) this.rebase(now);
      const y = (now - this.anchorTime) * this.invDecay;
      if (y >= 0 && y <= MAX_SMALL_STEP) {
        this.scaleNow = this.anchorScale * expNegSmall(y);
      } else {
        // The first reading, a step past the polynomial's range, or a new origin (NaN).
        this.anchorTime = now;
        this.anchorScale = Math.exp(-(now - this.base) * this.invDecay);
        this.scaleNow = this.anchorScale;
      }
      this.scaleTime = now;
    }
    return this.scaleNow;
  }

  private rebase(now: number): void {
    this.base = now;
    this.anchorTime = NaN; // g(anchor) was relative to the old origin
    const rec = this.rec;
    for (let o = 0; o < this.n * R_STRIDE; o += R_STRIDE) rec[o + R_SCALE] = Math.exp((now - rec[o + R_STAMP]) * this.invDecay);
  }

  /** The decayed RTT estimate of endpoint `i` now, ms (updates its stamp, as tower's read does). */
  rttEstimate(i: number): number {
    const now = this.clock.now();
    const g = this.decayScale(now);
    const rec = this.rec;
    const o = i * R_STRIDE;
    const d = g / rec[o + R_SCALE];
    rec[o + R_SCALE] = g;
    rec[o + R_STAMP] = now;
    return (rec[o + R_EST] *= d);
  }

  load(i: number): number {
    return this.rttEstimate(i) * (this.rec[i * R_STRIDE + R_PENDING] + 1);
  }

  /** Attempts sent to endpoint `i` and not ended yet. */
  pendingOf(i: number): number {
    return this.rec[i * R_STRIDE + R_PENDING];
  }

  onStart(i: number): void {
    if (i >= 0 && i < this.n) this.rec[i * R_STRIDE + R_PENDING]++;
  }

  onEnd(i: number, _outcome: Outcome, latencyMs: number): void {
    if (!(i >= 0 && i < this.n)) return;
    const now = this.clock.now();
    const g = this.decayScale(now);
    const rec = this.rec;
    const o = i * R_STRIDE;
    rec[o + R_EST] = peakEwmaStep(rec[o + R_EST], latencyMs > 0 ? latencyMs : 0, g / rec[o + R_SCALE]);
    rec[o + R_SCALE] = g;
    rec[o + R_STAMP] = now;
    if (rec[o + R_PENDING] > 0) rec[o + R_PENDING]--;
  }
}
