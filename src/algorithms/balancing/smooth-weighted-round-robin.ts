/**
 * Smooth weighted round robin with passive failure marking.
 * Follows nginx's upstream round robin (ngx_http_upstream_get_peer / free_round_robin_peer):
 * - each pick, every eligible peer does `cw += ew; total += ew; if (ew < w) ew++`, the
 *   largest `cw` wins (the first one on ties) and `best.cw −= total`; weights 5, 1, 2
 *   give a, c, a, a, b, a, c, a;
 * - a failed attempt does `fails++`, `accessed = checked = now`, `ew −= w/max_fails`
 *   (floored at 0); a peer is skipped while `fails ≥ max_fails` and
 *   `now − checked ≤ fail_timeout`; once that has passed it gets one probe (picking it
 *   sets `checked = now`, which puts it out again) until a success (`accessed <
 *   checked`) clears `fails`;
 * - a group of exactly one endpoint ignores failures (nginx's `peers->single`).
 * Exactness: with integer weights and no failures, from a fresh start every Σw
 * consecutive picks hold each healthy endpoint exactly w_i times (all cw return to 0
 * after Σw picks, so the sequence is periodic).
 * A failure is an attempt with no response (status 0: error, timeout, reset, connect
 * failure), matching nginx's default `proxy_next_upstream error timeout`; HTTP 5xx
 * responses are not failures.
 * Differs from nginx: time is the Clock port in ms (nginx counts whole seconds);
 * `w/max_fails` is exact division (nginx's integers truncate, so w=1, max_fails=3 lowers
 * ew by 1/3 here and by 0 in nginx); unhealthy endpoints are skipped like `down`
 * peers; no per-request `tried` set, backup group or max_conns; state (cw, ew, fails)
 * is kept by endpoint id across rebuilds (nginx resets it on reload), and `ew` is capped
 * at a lowered weight.
 *
 * Speed: nginx's pick walks every peer (O(n): 41 µs at 10,000 endpoints). In the steady
 * state (integer weights, every `ew = w`, no failures counted) each `cw` grows by its own
 * `w` per pick, so `cw_i = base_i + t·w_i` after t picks: peers of equal weight keep their
 * order, and a pick is the best of one heap per distinct weight (O(G + log n), G distinct
 * weights), `base_best −= Σw`. The values are integers, so the picks are exactly nginx's;
 * a failure, a rebuild or fractional state goes back to the walk (see SwrrSteadyState).
 */
import { z } from 'zod';
import type { Clock, Ports } from '../../core/ports.js';
import { zDuration } from '../../core/units.js';
import type { Balancer, BalancerDefinition, Endpoint, Outcome, PickContext } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';
import { carryFloat64, EndpointCarry } from './load/types.js';

export interface SmoothWeightedRoundRobinConfig {
  /** Failures within `failTimeout` that take an endpoint out; 0 disables failure marking. */
  readonly maxFails: number;
  /** How long a failed endpoint stays out, and the window failures count in, ms. */
  readonly failTimeout: number;
}

/** Whether an ended attempt counts as an nginx peer failure (no response arrived). */
export function isNginxFailure(outcome: Outcome): boolean {
  return outcome.kind !== 'success' && outcome.kind !== 'cancelled' && outcome.status === 0;
}

/**
 * One nginx smooth-WRR selection over peers 0..n−1 with no failure state: updates `current`
 * (cw) and `effective` (ew) in place and returns the chosen peer, or -1 if `n` is 0.
 */
export function smoothWrrStep(weights: ArrayLike<number>, effective: Float64Array, current: Float64Array): number {
  let best = -1;
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    current[i] += effective[i];
    total += effective[i];
    if (effective[i] < weights[i]) effective[i] = Math.min(weights[i], effective[i] + 1);
    if (best < 0 || current[i] > current[best]) best = i;
  }
  if (best >= 0) current[best] -= total;
  return best;
}

/** Below these the steady state's integers stay exact (|cw| ≲ t·w + 2Σw < 2^53). */
const STEADY_MAX_WEIGHT = 2 ** 20;
const STEADY_MAX_TICKS = 2 ** 20;

/**
 * The steady state of a smooth WRR: `cw_i = base_i + t·w_i` for the eligible endpoints,
 * `base` kept in the balancer's `current` array while this is active. One max-heap per
 * distinct weight orders its endpoints by (base desc, index asc), the order of their `cw`.
 */
class SwrrSteadyState {
  t = 0;
  private readonly groups: { readonly w: number; readonly heap: Int32Array }[] = [];

  constructor(
    private readonly base: Float64Array,
    private readonly weight: Float64Array,
    eligible: Int32Array,
    private readonly total: number,
  ) {
    const byWeight = new Map<number, number[]>();
    for (const i of eligible) {
      const list = byWeight.get(weight[i]);
      if (list === undefined) byWeight.set(weight[i], [i]);
      else list.push(i);
    }
    for (const [w, members] of byWeight) {
      const heap = Int32Array.from(members);
      for (let k = (heap.length >> 1) - 1; k >= 0; k--) this.siftDown(heap, k);
      this.groups.push({ w, heap });
    }
  }

  /** One nginx pick: the largest cw (the lowest index on ties); its base falls by Σw. */
  pick(): number {
    const t = ++this.t;
    const base = this.base;
    let best = -1;
    let bestValue = -Infinity;
    let bestGroup = 0;
    for (let g = 0; g < this.groups.length; g++) {
      const { w, heap } = this.groups[g];
      const i = heap[0];
      const v = base[i] + t * w;
      if (v > bestValue || (v === bestValue && i < best)) {
        best = i;
        bestValue = v;
        bestGroup = g;
      }
    }
    base[best] -= this.total;
    this.siftDown(this.groups[bestGroup].heap, 0);
    return best;
  }

  /** Writes each eligible endpoint's cw back into `base` (the balancer's `current`). */
  materialize(): void {
    for (const { w, heap } of this.groups) for (const i of heap) this.base[i] += this.t * w;
    this.t = 0;
  }

  private siftDown(heap: Int32Array, k: number): void {
    const base = this.base;
    const n = heap.length;
    const x = heap[k];
    for (;;) {
      let c = 2 * k + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (base[heap[r]] > base[heap[c]] || (base[heap[r]] === base[heap[c]] && heap[r] < heap[c]))) c = r;
      const y = heap[c];
      if (base[y] > base[x] || (base[y] === base[x] && y < x)) {
        heap[k] = y;
        k = c;
      } else break;
    }
    heap[k] = x;
  }
}

export class SmoothWeightedRoundRobinBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private single = false;
  private weight: Float64Array = new Float64Array(0);
  private effective: Float64Array = new Float64Array(0);
  private current: Float64Array = new Float64Array(0);
  private fails: Float64Array = new Float64Array(0);
  private accessed: Float64Array = new Float64Array(0);
  private checked: Float64Array = new Float64Array(0);
  private readonly carry = new EndpointCarry();
  /** The steady state, while it holds (see SwrrSteadyState); undefined: nginx's walk. */
  private steady: SwrrSteadyState | undefined = undefined;
  /** Eligible weights are whole numbers the steady state can add exactly. */
  private integral = false;
  /** Eligible endpoints whose ew is below their weight, and whose failures are counted. */
  private recovering = 0;
  private failing = 0;
  private isEligible: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly clock: Clock,
    private readonly maxFails: number,
    private readonly failTimeout: number,
    /** Always walk every endpoint (nginx's own loop; the reference the steady state is tested against). */
    private readonly walkOnly = false,
  ) {}

  rebuild(endpoints: readonly Endpoint[]): void {
    this.leaveSteadyState();
    const carry = this.carry.next(endpoints);
    const n = endpoints.length;
    const weight = new Float64Array(n);
    for (let i = 0; i < n; i++) weight[i] = endpoints[i].weight;
    const effective = carryFloat64(this.effective, carry, NaN);
    for (let i = 0; i < n; i++) if (!(effective[i] <= weight[i])) effective[i] = weight[i]; // newcomer (NaN) or lowered weight
    this.weight = weight;
    this.effective = effective;
    this.current = carryFloat64(this.current, carry, 0);
    this.fails = carryFloat64(this.fails, carry, 0);
    this.accessed = carryFloat64(this.accessed, carry, 0);
    this.checked = carryFloat64(this.checked, carry, 0);
    this.eligible = healthyIndices(endpoints);
    this.single = n === 1;
    this.recovering = 0;
    this.failing = 0;
    this.isEligible = new Uint8Array(n);
    let total = 0;
    let integral = true;
    for (const i of this.eligible) {
      this.isEligible[i] = 1;
      if (effective[i] < weight[i]) this.recovering++;
      if (this.fails[i] > 0) this.failing++;
      total += weight[i];
      if (!Number.isInteger(weight[i]) || weight[i] > STEADY_MAX_WEIGHT) integral = false;
    }
    this.integral = integral && total <= 2 ** 31;
  }

  pick(_ctx?: PickContext): number {
    const eligible = this.eligible;
    if (this.single) return eligible.length === 1 ? eligible[0] : -1;
    const now = this.clock.now();
    if (this.steady === undefined && eligible.length > 1 && !this.walkOnly) this.enterSteadyState();
    const steady = this.steady;
    if (steady !== undefined) {
      if (steady.t >= STEADY_MAX_TICKS) {
        this.leaveSteadyState();
        this.enterSteadyState();
      }
      const best = (this.steady as SwrrSteadyState).pick();
      if (now - this.checked[best] > this.failTimeout) this.checked[best] = now;
      return best;
    }
    const { weight, effective, current, fails, checked } = this;
    const maxFails = this.maxFails;
    let best = -1;
    let total = 0;
    for (let k = 0; k < eligible.length; k++) {
      const i = eligible[k];
      if (maxFails > 0 && fails[i] >= maxFails && now - checked[i] <= this.failTimeout) continue;
      current[i] += effective[i];
      total += effective[i];
      if (effective[i] < weight[i]) {
        effective[i] = Math.min(weight[i], effective[i] + 1);
        if (effective[i] === weight[i]) this.recovering--;
      }
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best < 0) return -1;
    current[best] -= total;
    if (now - checked[best] > this.failTimeout) checked[best] = now;
    return best;
  }

  onStart(): void {}

  onEnd(index: number, outcome: Outcome, _latencyMs?: number): void {
    if (this.single || !(index >= 0 && index < this.weight.length)) return;
    if (isNginxFailure(outcome)) {
      const now = this.clock.now();
      if (this.maxFails > 0) this.leaveSteadyState();
      if (this.fails[index]++ === 0 && this.isEligible[index] === 1) this.failing++;
      this.accessed[index] = now;
      this.checked[index] = now;
      const wasFull = this.effective[index] >= this.weight[index];
      if (this.maxFails > 0) this.effective[index] -= this.weight[index] / this.maxFails;
      if (this.effective[index] < 0) this.effective[index] = 0;
      if (wasFull && this.effective[index] < this.weight[index] && this.isEligible[index] === 1) this.recovering++;
    } else if (this.accessed[index] < this.checked[index]) {
      if (this.fails[index] > 0 && this.isEligible[index] === 1) this.failing--;
      this.fails[index] = 0;
    }
  }

  /** Enters the steady state when it holds: whole weights, every ew = w, no failure counted, whole cw. */
  private enterSteadyState(): void {
    if (!this.integral || this.recovering > 0 || (this.maxFails > 0 && this.failing > 0)) return;
    let total = 0;
    for (const i of this.eligible) {
      if (!Number.isInteger(this.current[i])) return;
      total += this.weight[i];
    }
    this.steady = new SwrrSteadyState(this.current, this.weight, this.eligible, total);
  }

  private leaveSteadyState(): void {
    this.steady?.materialize();
    this.steady = undefined;
  }
}

export const smoothWeightedRoundRobin: BalancerDefinition<SmoothWeightedRoundRobinConfig> = {
  kind: 'smooth-weighted-round-robin',
  family: 'balancing',
  summary: "nginx's smooth weighted round robin: interleaved picks in exact weight proportion, failed endpoints skipped for fail_timeout.",
  follows:
    'nginx upstream round robin: cw += ew, pick the largest cw (first on ties), cw −= total, ew recovers by 1 per pick; on a failure (no response) ew −= w/max_fails and the peer is skipped while fails ≥ max_fails within fail_timeout (defaults 1, 10s). Time in ms, exact division, state kept across rebuilds.',
  config: z.strictObject({
    maxFails: z.int().min(0).default(1),
    failTimeout: zDuration.default(10_000),
  }),
  create: (config: SmoothWeightedRoundRobinConfig, ports: Ports) =>
    new SmoothWeightedRoundRobinBalancer(ports.clock, config.maxFails, config.failTimeout),
};
