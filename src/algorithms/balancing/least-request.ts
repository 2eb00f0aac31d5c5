/**
 * Least request: prefer endpoints with fewer active requests.
 * Follows Envoy's LEAST_REQUEST (`LeastRequestLoadBalancer` on `EdfLoadBalancerBase`):
 * - all healthy weights equal (or ≤ 1 endpoint): N_CHOICES draws `choices` (default 2)
 *   endpoints WITH replacement (`rand % n`) and keeps a draw only if it has strictly fewer
 *   active requests than the candidate so far (ties keep the earlier draw); FULL_SCAN
 *   (`fullScan: true`) takes the minimum over all, choosing among ties by reservoir
 *   sampling (the k-th tie replaces the candidate when `rand % k == 0`);
 * - weights differ: an EDF schedule on `w / (active + 1)^activeRequestBias` (default
 *   bias 1.0), built at each rebuild from the active counts of that moment and
 *   fast-forwarded by the balancer's random seed, like Envoy's `createWithPicks`; a pick
 *   pops the earliest deadline and re-queues that endpoint with its weight recomputed
 *   from its active count at pick time (before the new request starts). Other endpoints'
 *   deadlines are not refreshed when their counts change, exactly as in Envoy.
 * The active count is a pluggable {@link LoadMetric} (outstanding requests by default).
 * Differs from Envoy: no slow start, no `count_pending_requests` (meshsim attempts are
 * active from `onStart`, there is no separate connection-pool pending state), and the
 * newer "explicit bias forces weighted selection" runtime flag is not modelled.
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import type { Balancer, BalancerDefinition, Endpoint, Outcome, PickContext } from '../types.js';
import { EdfScheduler } from './_internals/edf.js';
import { healthyIndices } from './_internals/healthy.js';
import { drawIndex } from './_internals/p2c.js';
import { OutstandingRequests } from './load/outstanding.js';
import { EndpointCarry, type LoadMetric } from './load/types.js';
import { drawEnvoySeed, weightsEqual } from './weighted-round-robin.js';

export interface LeastRequestConfig {
  /** Endpoints drawn (with replacement) per pick when weights are equal; Envoy's choice_count, ≥ 2. */
  readonly choices: number;
  /** Envoy's FULL_SCAN selection method instead of N_CHOICES. */
  readonly fullScan: boolean;
  /** Exponent on (active + 1) in the weighted schedule; 0 makes it plain weighted round robin. */
  readonly activeRequestBias: number;
}

/** Envoy's dynamic host weight `w / (active + 1)^bias`. */
export function leastRequestWeight(weight: number, active: number, bias: number): number {
  if (bias === 0) return weight;
  if (bias === 1) return weight / (active + 1);
  return weight / Math.pow(active + 1, bias);
}

export class LeastRequestBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private weights: Float64Array = new Float64Array(0);
  private weighted = false;
  private readonly edf = new EdfScheduler();
  private readonly carry = new EndpointCarry();
  private readonly choices: number;
  private readonly fullScan: boolean;
  private readonly bias: number;

  constructor(
    private readonly rng: Rng,
    private readonly seed: number,
    readonly metric: LoadMetric,
    config: LeastRequestConfig,
  ) {
    this.choices = config.choices;
    this.fullScan = config.fullScan;
    this.bias = config.activeRequestBias;
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    this.metric.rebuild(endpoints, this.carry.next(endpoints));
    const eligible = healthyIndices(endpoints);
    this.eligible = eligible;
    this.weighted = eligible.length > 1 && !weightsEqual(endpoints, eligible);
    if (!this.weighted) return;
    const n = eligible.length;
    const weights = new Float64Array(n);
    const dynamic = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      weights[k] = endpoints[eligible[k]].weight;
      dynamic[k] = leastRequestWeight(weights[k], this.metric.load(eligible[k]), this.bias);
    }
    this.weights = weights;
    this.edf.build(dynamic, this.seed);
  }

  pick(_ctx?: PickContext): number {
    const eligible = this.eligible;
    const n = eligible.length;
    if (n === 0) return -1;
    if (this.weighted) {
      const slot = this.edf.peek();
      this.edf.pickAndAdd(leastRequestWeight(this.weights[slot], this.metric.load(eligible[slot]), this.bias));
      return eligible[slot];
    }
    return this.fullScan ? this.pickFullScan() : this.pickNChoices();
  }

  private pickNChoices(): number {
    const eligible = this.eligible;
    const n = eligible.length;
    const metric = this.metric;
    let candidate = eligible[drawIndex(this.rng, n)];
    let candidateLoad = metric.load(candidate);
    for (let c = 1; c < this.choices; c++) {
      const sampled = eligible[drawIndex(this.rng, n)];
      const load = metric.load(sampled);
      if (load < candidateLoad) {
        candidate = sampled;
        candidateLoad = load;
      }
    }
    return candidate;
  }

  private pickFullScan(): number {
    const eligible = this.eligible;
    const metric = this.metric;
    let candidate = eligible[0];
    let candidateLoad = metric.load(candidate);
    let ties = 1;
    for (let k = 1; k < eligible.length; k++) {
      const sampled = eligible[k];
      const load = metric.load(sampled);
      if (load < candidateLoad) {
        candidate = sampled;
        candidateLoad = load;
        ties = 1;
      } else if (load === candidateLoad) {
        ties++;
        if (drawIndex(this.rng, ties) === 0) candidate = sampled;
      }
    }
    return candidate;
  }

  onStart(index: number): void {
    this.metric.onStart(index);
  }

  onEnd(index: number, outcome: Outcome, latencyMs: number): void {
    this.metric.onEnd(index, outcome, latencyMs);
  }
}

/** The most draws a least-request pick may make (Envoy's choice_count has no bound; 1,000 is far past any use). */
export const MAX_CHOICES = 1000;

export const leastRequest: BalancerDefinition<LeastRequestConfig> = {
  kind: 'least-request',
  family: 'balancing',
  summary: 'Fewest active requests: best of N random draws (or a full scan) with equal weights, an EDF schedule on weight/(active+1)^bias otherwise.',
  follows:
    'Envoy LEAST_REQUEST: N_CHOICES (choice_count 2, draws with replacement, strictly fewer wins, ties keep the first draw) or FULL_SCAN (reservoir-sampled ties); unequal weights → EDF on w/(active+1)^active_request_bias (1.0), re-weighted only when picked. No slow start or count_pending_requests.',
  config: z.strictObject({
    // Each pick draws `choices` times: bounded so that a slip (choices: 2000000) is an error, not
    // a run that never ends; comparing every host is what fullScan does.
    choices: z
      .int()
      .min(2)
      .max(MAX_CHOICES, { error: (issue) => `expected a whole number from 2 to ${MAX_CHOICES} (each pick draws that many hosts; fullScan: true compares every host); got ${String(issue.input)}` })
      .default(2),
    fullScan: z.boolean().default(false),
    activeRequestBias: z.number().min(0).default(1),
  }),
  create: (config: LeastRequestConfig, ports: Ports) =>
    new LeastRequestBalancer(ports.rng, drawEnvoySeed(ports.rng), new OutstandingRequests(), config),
};
