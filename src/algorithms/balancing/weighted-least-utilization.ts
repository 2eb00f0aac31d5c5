/**
 * Weighted round robin with weights learned from server-reported utilisation: an endpoint
 * that serves its traffic at lower utilisation gets proportionally more.
 *
 * Follows gRPC's weighted_round_robin (gRFC A58) and C-core's implementation:
 *   - weight = qps / (utilization + eps/qps · errorUtilizationPenalty) (0 when utilization
 *     is 0: no update); a weight counts only once the endpoint has reported for
 *     `blackoutPeriod` (10 s) without a gap of `weightExpirationPeriod` (3 min); an expired
 *     weight is dropped and the blackout starts again with the next report; an endpoint
 *     that (re)becomes ready starts a new blackout;
 *   - every `weightUpdatePeriod` (1 s, at least 100 ms) the scheduler is rebuilt from the
 *     usable weights; unknown (0) weights get the mean of the known ones; fewer than one
 *     known weight (all unknown) or fewer than two endpoints → plain round robin from a
 *     random start;
 *   - the scheduler is C-core's StaticStrideScheduler: weights scaled so the largest is
 *     65535 (capped at 10× the mean, floored at 1% of it), and a shared 32-bit sequence
 *     number: backend = seq mod n, generation = ⌊seq / n⌋, accepted when
 *     (w·generation + backend·32767) mod 65535 ≥ 65535 − w.
 *
 * Where meshsim differs: in gRPC qps and eps come with each ORCA report from the server;
 * meshsim's Outcome carries only `utilization`, so qps and eps are what THIS client
 * observed of the endpoint over the last update period (every ended attempt counts toward
 * qps, every non-success toward eps) and utilization is the mean reported in that period.
 * With utilisation ∝ load/capacity this still makes weight ∝ capacity. Weights are
 * recomputed lazily, on the first pick after each update period (no timer: a balancer has
 * no close(), and an idle client needs no updates), so ports.timers is not used.
 */
import { z } from 'zod';
import type { Clock, Ports, Rng } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { Balancer, BalancerDefinition, Endpoint, Outcome } from '../types.js';
import { carryFloat64, EndpointCarry } from './load/types.js';

/** C-core's kMaxWeight, kMaxRatio, kMinRatio. */
export const STRIDE_MAX_WEIGHT = 65535;
const STRIDE_MAX_RATIO = 10;
const STRIDE_MIN_RATIO = 0.01;
const STRIDE_OFFSET = 32767; // kMaxWeight / 2

/** A58: `qps / (utilization + eps/qps · penalty)`, 0 when utilization ≤ 0 (the report is ignored). */
export function endpointWeight(qps: number, eps: number, utilization: number, penalty: number): number {
  let u = utilization;
  if (u > 0 && qps > 0) u += (eps / qps) * penalty;
  return u > 0 ? qps / u : 0;
}

/** Per endpoint: the last weight, since when it has reported (Infinity: not yet), when it last did. */
export interface WeightState {
  weight: number;
  nonEmptySince: number;
  lastUpdated: number;
}

/** A58 GetWeight: the usable weight at `now` (0 = unknown); an expired weight restarts the blackout. */
export function usableWeight(state: WeightState, now: number, blackoutMs: number, expirationMs: number): number {
  if (now - state.lastUpdated >= expirationMs) {
    state.nonEmptySince = Infinity;
    return 0;
  }
  if (blackoutMs > 0 && now - state.nonEmptySince < blackoutMs) return 0;
  return state.weight;
}

/**
 * C-core StaticStrideScheduler::Make: integer weights (1..65535) for the float weights, or
 * null when there are fewer than 2 endpoints or no known weight (the caller falls back to RR).
 */
export function strideWeights(floatWeights: ArrayLike<number>): Uint16Array | null {
  const n = floatWeights.length;
  if (n < 2) return null;
  let zeros = 0;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const w = floatWeights[i];
    sum += w;
    if (w > max) max = w;
    if (w === 0) zeros++;
  }
  if (zeros === n) return null;
  const mean = sum / (n - zeros);
  if (max / mean > STRIDE_MAX_RATIO) max = STRIDE_MAX_RATIO * mean;
  const scale = STRIDE_MAX_WEIGHT / max;
  const scaledMean = Math.round(scale * mean);
  const lower = Math.max(1, Math.round(scaledMean * STRIDE_MIN_RATIO));
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const w = floatWeights[i];
    out[i] = w === 0 ? scaledMean : Math.max(Math.round(Math.min(w, max) * scale), lower);
  }
  return out;
}

/** One step of the stride pick for sequence number `seq` (uint32): the backend index if accepted, else -1. */
export function strideAccept(weights: Uint16Array, seq: number): number {
  const n = weights.length;
  const backend = seq % n;
  const generation = Math.floor(seq / n);
  const w = weights[backend];
  const mod = (w * generation + backend * STRIDE_OFFSET) % STRIDE_MAX_WEIGHT;
  return mod < STRIDE_MAX_WEIGHT - w ? -1 : backend;
}

export interface WeightedLeastUtilizationConfig {
  readonly blackoutPeriod: number;
  readonly weightExpirationPeriod: number;
  readonly weightUpdatePeriod: number;
  readonly errorUtilizationPenalty: number;
}

export class WeightedLeastUtilizationBalancer implements Balancer {
  private readonly carry = new EndpointCarry();
  /** Eligible (non-unhealthy) endpoint indices; the scheduler's slots. */
  private eligible = new Int32Array(0);
  private wasEligible: Float64Array = new Float64Array(0);
  // Weight state per endpoint index (carried across rebuilds by id).
  private weight: Float64Array = new Float64Array(0);
  private nonEmptySince: Float64Array = new Float64Array(0);
  private lastUpdated: Float64Array = new Float64Array(0);
  // Observations of the current update period.
  private count: Float64Array = new Float64Array(0);
  private errors: Float64Array = new Float64Array(0);
  private utilSum: Float64Array = new Float64Array(0);
  private utilN: Float64Array = new Float64Array(0);
  private firstReport: Float64Array = new Float64Array(0);
  private lastReport: Float64Array = new Float64Array(0);
  private windowStart: number;
  private nextUpdate: number;
  private readonly period: number;

  private scheduler: Uint16Array | null = null;
  /** C-core's scheduler_state_: a 32-bit sequence shared by successive schedulers, random start. */
  private seq: number;
  /** Round-robin fallback index. */
  private rr: number;

  constructor(
    private readonly clock: Clock,
    rng: Rng,
    private readonly config: WeightedLeastUtilizationConfig,
  ) {
    this.windowStart = clock.now();
    this.period = Math.max(100, config.weightUpdatePeriod);
    this.nextUpdate = this.windowStart + this.period;
    this.seq = Math.floor(rng.next() * 0x1_0000_0000);
    this.rr = Math.floor(rng.next() * 0x1_0000_0000);
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const carry = this.carry.next(endpoints);
    const n = endpoints.length;
    this.weight = carryFloat64(this.weight, carry, 0);
    this.nonEmptySince = carryFloat64(this.nonEmptySince, carry, Infinity);
    this.lastUpdated = carryFloat64(this.lastUpdated, carry, -Infinity);
    this.count = carryFloat64(this.count, carry, 0);
    this.errors = carryFloat64(this.errors, carry, 0);
    this.utilSum = carryFloat64(this.utilSum, carry, 0);
    this.utilN = carryFloat64(this.utilN, carry, 0);
    this.firstReport = carryFloat64(this.firstReport, carry, NaN);
    this.lastReport = carryFloat64(this.lastReport, carry, NaN);
    const was = carryFloat64(this.wasEligible, carry, 0);
    const eligibleNow = new Float64Array(n);
    const eligible: number[] = [];
    for (let i = 0; i < n; i++) {
      if (endpoints[i].health === 'unhealthy') continue;
      eligible.push(i);
      eligibleNow[i] = 1;
      if (was[i] === 0) this.nonEmptySince[i] = Infinity; // OnSubchannelBecomesReady
    }
    this.wasEligible = eligibleNow;
    this.eligible = Int32Array.from(eligible);
    this.buildScheduler(this.clock.now());
  }

  private buildScheduler(now: number): void {
    const k = this.eligible.length;
    const w = new Float64Array(k);
    const state: WeightState = { weight: 0, nonEmptySince: 0, lastUpdated: 0 };
    for (let j = 0; j < k; j++) {
      const i = this.eligible[j];
      state.weight = this.weight[i];
      state.nonEmptySince = this.nonEmptySince[i];
      state.lastUpdated = this.lastUpdated[i];
      w[j] = usableWeight(state, now, this.config.blackoutPeriod, this.config.weightExpirationPeriod);
      this.nonEmptySince[i] = state.nonEmptySince;
    }
    this.scheduler = strideWeights(w);
  }

  /** Turns the period's observations into weights, then rebuilds the scheduler (A58's update timer). */
  private update(now: number): void {
    const elapsedSec = (now - this.windowStart) / 1000;
    const n = this.weight.length;
    if (elapsedSec > 0) {
      for (let i = 0; i < n; i++) {
        if (this.utilN[i] > 0) {
          const qps = this.count[i] / elapsedSec;
          const eps = this.errors[i] / elapsedSec;
          const w = endpointWeight(qps, eps, this.utilSum[i] / this.utilN[i], this.config.errorUtilizationPenalty);
          if (w > 0) {
            if (this.nonEmptySince[i] === Infinity) this.nonEmptySince[i] = this.firstReport[i];
            this.lastUpdated[i] = this.lastReport[i];
            this.weight[i] = w;
          }
        }
        this.count[i] = 0;
        this.errors[i] = 0;
        this.utilSum[i] = 0;
        this.utilN[i] = 0;
        this.firstReport[i] = NaN;
        this.lastReport[i] = NaN;
      }
    }
    this.windowStart = now;
    this.nextUpdate = now + this.period;
    this.buildScheduler(now);
  }

  pick(): number {
    const eligible = this.eligible;
    const k = eligible.length;
    if (k === 0) return -1;
    const now = this.clock.now();
    if (now >= this.nextUpdate) this.update(now);
    const weights = this.scheduler;
    if (weights === null) {
      const j = this.rr % k;
      this.rr = (this.rr + 1) >>> 0;
      return eligible[j];
    }
    // Expected iterations: max/mean of the scaled weights, ≤ 10 by the cap.
    let j: number;
    do {
      j = strideAccept(weights, this.seq);
      this.seq = (this.seq + 1) >>> 0;
    } while (j < 0);
    return eligible[j];
  }

  onStart(): void {}

  onEnd(index: number, outcome: Outcome): void {
    if (index < 0 || index >= this.count.length) return;
    this.count[index]++;
    if (outcome.kind !== 'success' && outcome.kind !== 'cancelled') this.errors[index]++;
    const u = outcome.utilization;
    if (u !== undefined) {
      const now = this.clock.now();
      this.utilSum[index] += u;
      this.utilN[index]++;
      if (Number.isNaN(this.firstReport[index])) this.firstReport[index] = now;
      this.lastReport[index] = now;
    }
  }
}

const wluSchema = z.strictObject({
  blackoutPeriod: zDuration.default(10_000),
  weightExpirationPeriod: zDuration.default(180_000),
  weightUpdatePeriod: zDuration.default(1_000),
  errorUtilizationPenalty: z.number().min(0).default(1),
});

export const weightedLeastUtilization: BalancerDefinition<WeightedLeastUtilizationConfig> = {
  kind: 'weighted-least-utilization',
  family: 'balancing',
  summary: 'Weighted round robin by weights learned from server-reported utilisation: qps / (utilisation + eps/qps · penalty).',
  follows:
    "gRPC weighted_round_robin (gRFC A58) with C-core's static stride scheduler: blackout 10 s, expiration 3 min, update period 1 s, error penalty 1.0, unknown weights → mean, no known weight → round robin. Differs: qps and eps are measured by the client over each update period (Outcome carries only utilisation), utilisation is that period's mean report, and updates run lazily on the first pick after each period instead of on a timer.",
  config: wluSchema,
  create: (config: WeightedLeastUtilizationConfig, ports: Ports) => new WeightedLeastUtilizationBalancer(ports.clock, ports.rng, config),
};
