/**
 * Deterministic aperture: each client talks to a small, contiguous window of the servers,
 * and the clients' windows tile the server ring so every server gets the same share of the
 * whole fleet's traffic. Inside its window a client balances by weighted P2C.
 *
 * Follows Finagle's DeterministicAperture, Ring, ProcessCoordinate and WeightedP2CPick
 * (Twitter eng. blog, "Deterministic Aperture", 2019):
 *   - clients and servers are laid on the unit ring: client i of C at offset
 *     (i/C + peerOffset/Int.MaxValue) mod 1, server j of N at [j/N, (j+1)/N);
 *   - the logical aperture A = min(12, N) (or `minApertureOverride`); the window is
 *     [offset, offset + width), width = min(1, ⌈(A/N)/(1/C)⌉·(1/C)), so windows are a whole
 *     number of client slices and cover the ring evenly;
 *   - each server in the window is weighted by its overlap with it (edge servers partially);
 *   - pick: a = the server at a uniform point of the window, b = a uniform point of the
 *     window minus a's arc (distinct when possible); the healthier wins, else the lower
 *     load/weight (weights within 1e-4: the lower load), ties to a. The load is a LoadMetric:
 *     outstanding requests (Finagle's ApertureLeastLoaded, the default) or, with
 *     `load: peak-ewma`, Linkerd's peak EWMA cost (Finagle's AperturePeakEwma). A winner that is not fully healthy is
 *     re-picked up to `maxEffort` times (Finagle's Balancer).
 *
 * Where meshsim differs: the ring holds the eligible (healthy or degraded) endpoints sorted
 * by id, so a health change re-tiles the ring for all clients alike (Finagle keeps failed
 * nodes in the ring and steers around them by status); degraded plays Finagle's Busy.
 * Endpoint weights are ignored (Finagle's WeightedAperture is not modelled). The client
 * coordinate is env.clientIndex / env.clientCount.
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { Balancer, BalancerDefinition, BalancerEnvironment, Endpoint, Outcome } from '../types.js';
import { OutstandingRequests } from './load/outstanding.js';
import { PeakEwmaLoad } from './load/peak-ewma.js';
import { EndpointCarry, type LoadMetric } from './load/types.js';

/** Finagle normalises peerOffset by Int.MaxValue. */
export const INT_MAX = 2147483647;

/** Finagle's `minDeterministicAperture` flag default. */
export const MIN_DETERMINISTIC_APERTURE = 12;

/** Finagle Ring's epsilon for comparing ranges. */
const EPSILON = 1e-6;

/** The client's ring coordinate: (clientIndex/clientCount + peerOffset/Int.MaxValue) mod 1, in [0, 1). */
export function coordinateOffset(clientIndex: number, clientCount: number, peerOffset = 0): number {
  const unit = 1 / clientCount;
  const coord = (clientIndex * unit + peerOffset / INT_MAX) % 1;
  return coord < 0 ? coord + 1 : coord;
}

/** Finagle's dApertureWidth: min(1, ⌈(A·remoteUnit)/localUnit⌉·localUnit). */
export function dApertureWidth(localUnitWidth: number, remoteUnitWidth: number, logicalAperture: number): number {
  const unitAperture = logicalAperture * remoteUnitWidth;
  const n = Math.ceil(unitAperture / localUnitWidth);
  return Math.min(1, n * localUnitWidth);
}

/** The ring index a position in [0, 1) falls on. */
export function ringIndex(position: number, size: number): number {
  return Math.floor(position * size) % size;
}

/** Length of the intersection of [b0, e0) and [b1, e1). */
function intersect(b0: number, e0: number, b1: number, e1: number): number {
  return Math.max(0, Math.min(e0, e1) - Math.max(b0, b1));
}

/** Start of `index`'s arc, shifted by one turn when the window wraps past it (Finagle Ring.weight). */
function arcStart(index: number, size: number, offset: number, width: number): number {
  const ab0 = index / size;
  return ab0 + 1 < offset + width ? ab0 + 1 : ab0;
}

/**
 * The share of server `index`'s arc that lies in [offset, offset + width), in [0, 1]. Unlike
 * Finagle's Ring.weight, which measures only one copy of the arc, both copies (before and
 * after the wrap) are counted, so a window whose two ends fall in the same server (width
 * near 1) still weighs it by its whole overlap.
 */
export function ringWeight(index: number, size: number, offset: number, width: number): number {
  const unit = 1 / size;
  const ab = index / size;
  return (intersect(ab, ab + unit, offset, offset + width) + intersect(ab + 1, ab + 1 + unit, offset, offset + width)) / unit;
}

/**
 * How many servers [offset, offset + width) touches (Finagle Ring.range). Computed from the
 * first arc and the last arc starting before the window's end, ignoring arcs touched by less
 * than 1e-6 of their width: Finagle's version, `index((offset + width)·(1 − ε) mod 1)`,
 * returns 0 instead of N when the end wraps to within ε past a server boundary.
 */
export function ringRange(size: number, offset: number, width: number): number {
  if (1 - width <= EPSILON) return size;
  const first = Math.floor(offset * size);
  const last = Math.ceil((offset + width) * size - EPSILON) - 1;
  return Math.min(size, Math.max(0, last - first + 1));
}

/** The servers [offset, offset + width) touches, in ring order from the one at `offset`. */
export function ringIndices(size: number, offset: number, width: number): number[] {
  const out: number[] = [];
  const first = ringIndex(offset, size);
  const r = ringRange(size, offset, width);
  for (let k = 0; k < r; k++) out.push((first + k) % size);
  return out;
}

/** A uniform point of the window, as a ring index (Finagle Ring.pick). */
export function ringPick(rng: Rng, size: number, offset: number, width: number): number {
  return ringIndex((offset + rng.next() * width) % 1, size);
}

/** A uniform point of the window outside `a`'s arc (Finagle Ring.tryPickSecond); `a` if nothing else is there. */
export function ringPickSecond(rng: Rng, a: number, size: number, offset: number, width: number): number {
  const unit = 1 / size;
  const ab = arcStart(a, size, offset, width);
  const ae = ab + unit;
  const overlap = intersect(ab, ae, offset, offset + width);
  const width1 = width - overlap;
  if (width1 <= EPSILON) return a;
  let pos = offset + rng.next() * width1;
  if (pos >= ae - overlap) pos += overlap;
  return ringIndex(pos % 1, size);
}

export interface ApertureConfig {
  /** Finagle's minDeterministicAperture flag: the logical aperture is min(this, N). */
  readonly minDeterministicAperture: number;
  /** Finagle's minApertureOverride: when ≥ 1, the logical aperture regardless of N. 0 = unset. */
  readonly minApertureOverride: number;
  /** Rotation shared by the clients of one peer group, in units of 1/Int.MaxValue. */
  readonly peerOffset: number;
  /** Re-picks when the winner is degraded (Finagle's maxEffort). */
  readonly maxEffort: number;
  /** The load P2C compares inside the window: Finagle's ApertureLeastLoaded or AperturePeakEwma. */
  readonly load: 'outstanding' | 'peak-ewma';
  /** Peak EWMA's prior and decay (as p2c-peak-ewma's), used with `load: peak-ewma`. */
  readonly defaultRtt: number;
  readonly decay: number;
}

export class ApertureBalancer implements Balancer {
  /** Ring position → endpoint index; per ring position: overlap with the window (0 outside), degraded flag. */
  private ring = new Int32Array(0);
  private weight = new Float64Array(0);
  private degraded = new Uint8Array(0);
  private windowHasHealthy = false;
  private offset: number;
  private width = 1;
  private readonly carry = new EndpointCarry();

  constructor(
    private readonly rng: Rng,
    private readonly config: ApertureConfig,
    private readonly env: BalancerEnvironment,
    /** The load compared inside the window (indices of the caller's endpoint array). */
    readonly metric: LoadMetric = new OutstandingRequests(),
  ) {
    this.offset = coordinateOffset(env.clientIndex, Math.max(1, env.clientCount), config.peerOffset);
  }

  /** The window as [offset, width] on the ring of the last rebuild (for tests and reports). */
  get window(): { offset: number; width: number; size: number } {
    return { offset: this.offset, width: this.width, size: this.ring.length };
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.metric.rebuild(endpoints, this.carry.next(endpoints));
    const eligible: number[] = [];
    for (let i = 0; i < endpoints.length; i++) if (endpoints[i].health !== 'unhealthy') eligible.push(i);
    eligible.sort((x, y) => (endpoints[x].id < endpoints[y].id ? -1 : endpoints[x].id > endpoints[y].id ? 1 : x - y));
    const n = eligible.length;
    this.ring = Int32Array.from(eligible);
    this.weight = new Float64Array(n);
    this.degraded = new Uint8Array(n);
    this.windowHasHealthy = false;
    if (n === 0) return;
    const aperture = this.config.minApertureOverride >= 1 ? this.config.minApertureOverride : Math.min(this.config.minDeterministicAperture, n);
    this.width = dApertureWidth(1 / Math.max(1, this.env.clientCount), 1 / n, aperture);
    for (let j = 0; j < n; j++) this.degraded[j] = endpoints[eligible[j]].health === 'degraded' ? 1 : 0;
    for (const j of ringIndices(n, this.offset, this.width)) {
      this.weight[j] = ringWeight(j, n, this.offset, this.width);
      if (this.degraded[j] === 0 && this.weight[j] > 0) this.windowHasHealthy = true;
    }
  }

  private pickOnce(): number {
    const n = this.ring.length;
    const a = ringPick(this.rng, n, this.offset, this.width);
    const b = ringPickSecond(this.rng, a, n, this.offset, this.width);
    if (this.degraded[a] !== this.degraded[b]) return this.degraded[a] === 0 ? a : b;
    const aw = this.weight[a] === 0 ? 1 : this.weight[a];
    const bw = this.weight[b] === 0 ? 1 : this.weight[b];
    const la = this.metric.load(this.ring[a]);
    const lb = this.metric.load(this.ring[b]);
    if (Math.abs(aw - bw) < 1e-4) return la <= lb ? a : b;
    return la / aw <= lb / bw ? a : b;
  }

  pick(): number {
    const n = this.ring.length;
    if (n === 0) return -1;
    if (n === 1) return this.ring[0];
    let j = this.pickOnce();
    for (let tries = 0; this.degraded[j] === 1 && this.windowHasHealthy && tries < this.config.maxEffort; tries++) j = this.pickOnce();
    return this.ring[j];
  }

  onStart(index: number): void {
    this.metric.onStart(index);
  }

  onEnd(index: number, outcome: Outcome, latencyMs: number): void {
    this.metric.onEnd(index, outcome, latencyMs);
  }
}

const apertureSchema = z.strictObject({
  minDeterministicAperture: z.number().int().min(1).default(MIN_DETERMINISTIC_APERTURE),
  minApertureOverride: z.number().int().min(0).default(0),
  peerOffset: z.number().int().default(0),
  maxEffort: z.number().int().min(0).default(5),
  load: z.enum(['outstanding', 'peak-ewma']).default('outstanding'),
  defaultRtt: zDuration.default(30),
  decay: zDuration.refine((ms) => ms > 0, { message: 'decay must be longer than 0s' }).default(10_000),
});

export const aperture: BalancerDefinition<ApertureConfig> = {
  kind: 'aperture',
  family: 'balancing',
  summary: "Finagle's deterministic aperture: each client uses a contiguous window of ~12 servers, windows tile the ring evenly, weighted P2C inside.",
  follows:
    'Finagle DeterministicAperture + WeightedP2CPick over outstanding requests (ApertureLeastLoaded; load: peak-ewma for AperturePeakEwma): client offset (i/C + peerOffset/Int.MaxValue) mod 1, width min(1, ⌈(A/N)·C⌉/C), A = min(12, N), servers weighted by window overlap. Differs: the ring holds only healthy/degraded endpoints sorted by id (Finagle keeps failed nodes and avoids them by status); endpoint weights are ignored.',
  config: apertureSchema,
  create: (config: ApertureConfig, ports: Ports, env: BalancerEnvironment) =>
    new ApertureBalancer(ports.rng, config, env, config.load === 'peak-ewma' ? new PeakEwmaLoad(ports.clock, { defaultRttMs: config.defaultRtt, decayMs: config.decay }) : new OutstandingRequests()),
};
