/**
 * What the two consistent-hashing policies (ring hash, Maglev) share: Envoy's host-weight
 * normalisation, a snapshot of the host list so a rebuild that changes nothing they hash is
 * skipped, and "consistent hashing with bounded loads" (Mirrokni, Thorup, Zadimoghaddam,
 * arXiv:1608.01350) as Envoy's `BoundedLoadHashingLoadBalancer` does it
 * (thread_aware_lb_impl.cc, `hash_balance_factor`):
 *
 * - `total_slots = ceil((overall_active + 1) · factor / 100)` (integer arithmetic),
 *   `slots = max(ceil(total_slots · w), 1)` with `w` the host's normalised weight;
 *   a host is overloaded when its active requests exceed `slots`;
 * - an overloaded pick probes the other hosts in a random order seeded by the request hash
 *   (`std::mt19937(hash)`, a Fisher–Yates walk: the "random jumps" of arXiv:1908.08762,
 *   which avoid cascading overflow onto the ring neighbour), taking the first host that is
 *   not overloaded, else the least overloaded one.
 *
 * Envoy counts a host as overloaded only when `active > slots`, so a host at exactly `slots`
 * still takes the request and may reach `slots + 1` (the paper's bins stop at capacity);
 * meshsim keeps Envoy's comparison. Where meshsim differs: Envoy reads the cluster-wide
 * `upstream_rq_active` and the host's `rq_active` of the whole Envoy process; here the
 * counts are the attempts this balancer saw start and not yet end (one client's view).
 * Attempts in flight on an endpoint that leaves the set are dropped from the counts.
 */
import type { Endpoint } from '../../types.js';

/**
 * Envoy's `normalizeHostWeights`: `w_i / Σw` for each host, with the smallest and largest
 * normalised weight (ring hash scales by the smallest, Maglev fills by the largest).
 */
export function normalizeHostWeights(weights: ArrayLike<number>): { readonly normalized: Float64Array; readonly min: number; readonly max: number } {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i];
  const normalized = new Float64Array(weights.length);
  let min = 1.0;
  let max = 0.0;
  for (let i = 0; i < weights.length; i++) {
    const w = (weights[i] * 1.0) / sum;
    normalized[i] = w;
    min = Math.min(min, w);
    max = Math.max(max, w);
  }
  return { normalized, min, max };
}

/**
 * Where ring-hash and maglev place an endpoint: its `hash_key` metadata when set (Envoy's
 * `envoy.lb` endpoint metadata `hash_key`, gRPC A76), else its address.
 */
export function endpointHashKey(e: Endpoint): string {
  return e.metadata.hash_key ?? e.address;
}

/** The (hash key, weight) list a hashing table was built from, to skip rebuilds that change neither. */
export class HostListSnapshot {
  private addresses: string[] = [];
  private weights: number[] = [];

  /** True when `eligible` lists the same hash keys with the same weights, in the same order, as last `update`. */
  matches(endpoints: readonly Endpoint[], eligible: Int32Array): boolean {
    if (eligible.length !== this.addresses.length) return false;
    for (let k = 0; k < eligible.length; k++) {
      const e = endpoints[eligible[k]];
      if (endpointHashKey(e) !== this.addresses[k] || e.weight !== this.weights[k]) return false;
    }
    return true;
  }

  update(endpoints: readonly Endpoint[], eligible: Int32Array): void {
    this.addresses = Array.from(eligible, (i) => endpointHashKey(endpoints[i]));
    this.weights = Array.from(eligible, (i) => endpoints[i].weight);
  }
}

/**
 * MT19937, the 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) exactly as
 * `std::mt19937`: Envoy seeds one with the request hash to order its bounded-load probes,
 * so the same key probes the same hosts in the same order.
 */
export class Mt19937 {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed = 5489) {
    this.seed(seed);
  }

  /** `seed(s)`: s is taken mod 2^32, as `std::mt19937` does with its 32-bit word size. */
  seed(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const p = mt[i - 1];
      mt[i] = (Math.imul(1812433253, (p ^ (p >>> 30)) >>> 0) + i) >>> 0;
    }
    this.index = 624;
  }

  /** The next 32-bit output, in [0, 2^32). */
  next(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = (mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    }
    this.index = 0;
  }
}

/**
 * Envoy's `uniform_int(random, k)`: `x = random() / floor(2^32 / k)` in integer arithmetic,
 * redrawn while `x ≥ k`. (Both operands are below 2^32, so the float division floors exactly.)
 */
export function uniformInt(random: Mt19937, k: number): number {
  const d = Math.floor(4294967296 / k);
  let x = k;
  while (x >= k) x = Math.floor(random.next() / d);
  return x;
}

/** Envoy's per-host slot count: `max(ceil(ceil((overall+1)·factor/100) · w), 1)`. */
export function boundedLoadSlots(overallActive: number, factor: number, weight: number): number {
  const totalSlots = Math.floor(((overallActive + 1) * factor + 99) / 100);
  return Math.max(Math.ceil(totalSlots * weight), 1);
}

/**
 * Active-request tracking plus the bounded-load re-pick, over the hosts of a hashing table.
 * Hosts are addressed by their position in the table's host list ("eligible position");
 * active counts by endpoint index, as onStart/onEnd report them.
 */
export class BoundedLoad {
  private endpoints: readonly Endpoint[] = [];
  private active: Int32Array = new Int32Array(0);
  private total = 0;
  private eligible: Int32Array = new Int32Array(0);
  private weights: Float64Array = new Float64Array(0);
  private order: Int32Array = new Int32Array(0);
  private readonly random = new Mt19937();

  /** @param factor Envoy's `hash_balance_factor`, an integer ≥ 100 (percent of the average load). */
  constructor(readonly factor: number) {}

  /** Adopts a new endpoint array, weighting each eligible endpoint by its normalised weight. */
  rebuildEligible(endpoints: readonly Endpoint[], eligible: Int32Array): void {
    this.rebuild(endpoints, eligible, normalizeHostWeights(Array.from(eligible, (i) => endpoints[i].weight)).normalized);
  }

  /**
   * Adopts a new endpoint array: `eligible[k]` is the endpoint at table position k and
   * `normalizedWeights[k]` its normalised weight. Active counts follow endpoints by id.
   */
  rebuild(endpoints: readonly Endpoint[], eligible: Int32Array, normalizedWeights: Float64Array): void {
    const active = new Int32Array(endpoints.length);
    let total = 0;
    if (this.total > 0) {
      const previous = this.endpoints;
      const byId = new Map<string, number>();
      for (let i = 0; i < previous.length; i++) if (this.active[i] > 0) byId.set(previous[i].id, this.active[i]);
      for (let i = 0; i < endpoints.length; i++) {
        const n = byId.get(endpoints[i].id);
        if (n !== undefined) {
          active[i] = n;
          total += n;
          byId.delete(endpoints[i].id);
        }
      }
    }
    this.endpoints = endpoints;
    this.active = active;
    this.total = total;
    this.eligible = eligible;
    this.weights = normalizedWeights;
    if (this.order.length !== eligible.length) this.order = new Int32Array(eligible.length);
  }

  onStart(index: number): void {
    if (index >= 0 && index < this.active.length) {
      this.active[index]++;
      this.total++;
    }
  }

  onEnd(index: number): void {
    if (index >= 0 && index < this.active.length && this.active[index] > 0) {
      this.active[index]--;
      this.total--;
    }
  }

  /** Active attempts on endpoint `index`, and in total (for tests and reports). */
  activeOn(index: number): number {
    return this.active[index] ?? 0;
  }

  get totalActive(): number {
    return this.total;
  }

  /** Envoy's `hostOverloadFactor`: active / slots; above 1 means overloaded. */
  overloadFactor(position: number): number {
    const slots = boundedLoadSlots(this.total, this.factor, this.weights[position]);
    return this.active[this.eligible[position]] / slots;
  }

  /**
   * Envoy's `BoundedLoadHashingLoadBalancer::chooseHost`, after the inner policy chose
   * position `first` for request hash `hash53` (Envoy's 64-bit hash `hash53 · 2^11`).
   * Returns the position to use. O(1) unless `first` is overloaded.
   */
  choose(first: number, hash53: number): number {
    if (this.overloadFactor(first) <= 1.0) return first;
    // std::mt19937(hash) keeps the hash's low 32 bits; hash53·2^11 is exact in a double.
    return this.probe(first, (hash53 * 2048) >>> 0);
  }

  /**
   * The overloaded case: hosts in the Fisher–Yates order of an MT19937 seeded with `seed32`,
   * skipping `first`; the first host not overloaded, else the least overloaded (`first` on
   * ties). O(n) plus seeding the generator (624 words), as in Envoy.
   */
  probe(first: number, seed32: number): number {
    let least = first;
    let leastFactor = this.overloadFactor(first);
    const n = this.eligible.length;
    const order = this.order;
    for (let i = 0; i < n; i++) order[i] = i;
    this.random.seed(seed32);
    for (let i = 0; i < n; i++) {
      const j = uniformInt(this.random, n - i);
      const k = order[i + j];
      order[i + j] = order[i];
      order[i] = k;
      if (k === first) continue;
      const f = this.overloadFactor(k);
      if (f <= 1.0) return k;
      if (leastFactor > f) {
        least = k;
        leastFactor = f;
      }
    }
    return least;
  }
}

/** The order in which Envoy's bounded load probes n hosts for a 32-bit seed (the same walk as {@link BoundedLoad.probe}). */
export function probeOrder(seed32: number, n: number): number[] {
  const random = new Mt19937(seed32);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = uniformInt(random, n - i);
    const k = order[i + j];
    order[i + j] = order[i];
    order[i] = k;
  }
  return order;
}
