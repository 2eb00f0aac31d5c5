/**
 * Ring hash: consistent hashing on a Ketama ring (Karger et al. 1997; libketama), as
 * Envoy's RING_HASH load balancer builds and searches it (ring_hash_lb.cc) with xxHash64.
 *
 * Ring: `scale = min(ceil(minW · minimumRingSize) / minW, maximumRingSize)` with minW the
 * smallest normalised weight; walking the hosts in order with running sums `current` and
 * `target += scale · w`, each host emits points `xxh64("<address>_<i>")` for i = 0, 1, …
 * while `current < target`; the points are sorted. Lookup: the first point ≥ the request
 * hash, wrapping to the first point (Ketama's search; here a binary search within a
 * directory bucket of the hash's top bits: O(log n) worst case, O(1) expected). A retry
 * (attempt k > 0) takes the point k places further on, as Envoy does for its host-selection
 * retries.
 * With `hashBalanceFactor`, Envoy's bounded-load re-pick applies (see _internals/bounded-load.ts).
 *
 * Where meshsim differs from Envoy:
 * - request hashes are 53 bits (see src/core/xxhash64.ts): the lookup is Envoy's for the
 *   64-bit hash with its low 11 bits cleared, which differs from Envoy's answer for the full
 *   hash with probability ≤ ringSize · 2^-53 per request;
 * - the ring is built over healthy and degraded endpoints (Envoy: healthy hosts only, all
 *   hosts in panic, which the Envoy layer wrapper handles); weights may be fractional;
 * - `ctx.attempt` is passed as Envoy's host-selection attempt, as if every retry were
 *   rejected by a retry host predicate (without one, Envoy re-picks the same host);
 * - no MURMUR_HASH_2 option and no `use_hostname_for_hashing`: points hash the endpoint's
 *   `hash_key` metadata when it has one (Envoy's `envoy.lb` `hash_key`), else its address;
 * - the ring is rebuilt only when the eligible (hash key, weight) list changes.
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import { randomRequestHash, toRequestHash, utf8Scratch, xxh64Into, HASH53_DROPPED_BITS } from '../../core/xxhash64.js';
import type { Balancer, BalancerDefinition, Endpoint, PickContext } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';
import { BoundedLoad, endpointHashKey, HostListSnapshot, normalizeHostWeights } from './_internals/bounded-load.js';

/** Envoy's defaults and limits (`minimum_ring_size`, `maximum_ring_size`, both ≤ 8M). */
export const DEFAULT_MINIMUM_RING_SIZE = 1024;
export const DEFAULT_MAXIMUM_RING_SIZE = 8_388_608;

/** A host as the ring sees it. */
export interface RingHost {
  /** What its points hash: the endpoint's hash key (see endpointHashKey). */
  readonly address: string;
  /** Relative weight, > 0. */
  readonly weight: number;
}

/** A built ring: points sorted by their 64-bit hash `keys[i] · 2^11 + low[i]`. */
export interface HashRing {
  /** The high 53 bits of each point's hash, ascending (exact integers). */
  readonly keys: Float64Array;
  /** The low 11 bits of each point's hash. */
  readonly low: Uint16Array;
  /** The host of each point, as an index into the host list the ring was built from. */
  readonly hosts: Int32Array;
  /** Envoy's `min_hashes_per_host` / `max_hashes_per_host` stats. */
  readonly minHashesPerHost: number;
  readonly maxHashesPerHost: number;
  /**
   * Search directory: `directory[t]` = index of the first key ≥ t · directorySpan, for
   * t = 0 … 2^bits with 2^bits ≥ the ring size, so a lookup binary-searches only the keys
   * sharing its top bits (about one, for uniform hashes) instead of the whole ring.
   */
  readonly directory: Int32Array;
  readonly directorySpan: number;
  /** 1 / directorySpan (a power of two, so `x · directoryScale` is exact and cheaper than a division). */
  readonly directoryScale: number;
}

const EMPTY_RING: HashRing = {
  keys: new Float64Array(0),
  low: new Uint16Array(0),
  hosts: new Int32Array(0),
  minHashesPerHost: 0,
  maxHashesPerHost: 0,
  directory: new Int32Array(1),
  directorySpan: 2 ** 53,
  directoryScale: 2 ** -53,
};

const TWO_21 = 2097152;
const UNDERSCORE = 0x5f;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * Builds Envoy's ring for `hosts` (in this order: the order decides which host gets a
 * fractional point). Throws if minimumRingSize > maximumRingSize, as Envoy does.
 */
export function buildRing(hosts: readonly RingHost[], minimumRingSize = DEFAULT_MINIMUM_RING_SIZE, maximumRingSize = DEFAULT_MAXIMUM_RING_SIZE): HashRing {
  if (minimumRingSize > maximumRingSize) {
    throw new RangeError(`ring hash: minimum_ring_size (${minimumRingSize}) > maximum_ring_size (${maximumRingSize})`);
  }
  const n = hosts.length;
  if (n === 0) return EMPTY_RING;
  const { normalized, min: minW } = normalizeHostWeights(hosts.map((h) => h.weight));
  const scale = Math.min(Math.ceil(minW * minimumRingSize) / minW, maximumRingSize);

  // Points per host: Envoy's `while (current < target) { emit; ++current; }` with integral
  // `current` emits exactly max(0, ceil(target) − current) points.
  const counts = new Float64Array(n);
  let current = 0;
  let target = 0;
  let size = 0;
  let minHashes = Infinity;
  let maxHashes = 0;
  for (let k = 0; k < n; k++) {
    target += scale * normalized[k];
    const c = Math.max(0, Math.ceil(target) - current);
    counts[k] = c;
    current += c;
    size += c;
    minHashes = Math.min(minHashes, c);
    maxHashes = Math.max(maxHashes, c);
  }

  const hi = new Uint32Array(size);
  const lo = new Uint32Array(size);
  const owner = new Int32Array(size);
  const out = new Uint32Array(2);
  let key = new Uint8Array(64);
  let p = 0;
  for (let k = 0; k < n; k++) {
    const { bytes, length } = utf8Scratch(hosts[k].address);
    if (key.length < length + 24) key = new Uint8Array(length + 24);
    key.set(bytes.subarray(0, length));
    key[length] = UNDERSCORE;
    // The decimal digits of i live at key[prefix, len) and are incremented in place.
    const prefix = length + 1;
    key[prefix] = DIGIT_0;
    let len = prefix + 1;
    for (let i = 0, c = counts[k]; i < c; i++) {
      if (i > 0) len = incrementDecimal(key, prefix, len);
      xxh64Into(key, len, 0, out);
      hi[p] = out[0];
      lo[p] = out[1];
      owner[p] = k;
      p++;
    }
  }
  const sorted = sortHashes(hi, lo, owner);
  const keys = new Float64Array(size);
  const low = new Uint16Array(size);
  for (let i = 0; i < size; i++) {
    keys[i] = sorted.hi[i] * TWO_21 + (sorted.lo[i] >>> HASH53_DROPPED_BITS);
    low[i] = sorted.lo[i] & 0x7ff;
  }
  const bits = Math.max(1, Math.ceil(Math.log2(size)));
  const directorySpan = 2 ** (53 - bits);
  const directory = new Int32Array((1 << bits) + 1);
  for (let t = 0, j = 0; t < directory.length; t++) {
    const bound = t * directorySpan;
    while (j < size && keys[j] < bound) j++;
    directory[t] = j;
  }
  return { keys, low, hosts: sorted.tag, minHashesPerHost: minHashes, maxHashesPerHost: maxHashes, directory, directorySpan, directoryScale: 2 ** (bits - 53) };
}

/** Adds one to the decimal number at buf[from, to); returns its new end (one further on a carry out). */
function incrementDecimal(buf: Uint8Array, from: number, to: number): number {
  let j = to - 1;
  while (j >= from && buf[j] === DIGIT_9) buf[j--] = DIGIT_0;
  if (j >= from) {
    buf[j]++;
    return to;
  }
  buf[from] = DIGIT_0 + 1; // 99…9 + 1 = 100…0
  buf[to] = DIGIT_0;
  return to + 1;
}

/**
 * Sorts 64-bit values given as (hi, lo) uint32 halves ascending, carrying `tag` along;
 * stable (equal hashes keep host order). Returns the sorted arrays (new ones).
 *
 * Hand-optimised for rings of up to 8M points, where a comparison sort in JS takes many
 * seconds: one counting-sort pass on the top bits spreads the (uniform) hashes over
 * ~n/4 buckets, then each bucket is insertion-sorted in cache. Expected O(n); a bucket
 * that is unexpectedly crowded (non-uniform input) falls back to a stable comparison sort,
 * so the worst case stays O(n log n). (An LSD radix sort made 8 scattering passes over
 * 3 arrays and was 2–3× slower at 8M, measured.)
 */
export function sortHashes(hi: Uint32Array, lo: Uint32Array, tag: Int32Array): { hi: Uint32Array; lo: Uint32Array; tag: Int32Array } {
  const n = hi.length;
  const bits = Math.max(1, Math.min(24, Math.ceil(Math.log2(Math.max(2, n))) - 2));
  const shift = 32 - bits;
  const start = new Int32Array((1 << bits) + 1);
  for (let i = 0; i < n; i++) start[(hi[i] >>> shift) + 1]++;
  for (let d = 1; d < start.length; d++) start[d] += start[d - 1];
  const fill = start.slice(0, start.length - 1);
  const sHi = new Uint32Array(n);
  const sLo = new Uint32Array(n);
  const sTag = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = fill[hi[i] >>> shift]++;
    sHi[j] = hi[i];
    sLo[j] = lo[i];
    sTag[j] = tag[i];
  }
  for (let d = 0; d + 1 < start.length; d++) {
    const from = start[d];
    const to = start[d + 1];
    if (to - from < 2) continue;
    if (to - from <= 64) insertionSort(sHi, sLo, sTag, from, to);
    else comparisonSort(sHi, sLo, sTag, from, to);
  }
  return { hi: sHi, lo: sLo, tag: sTag };
}

/** Stable insertion sort of [from, to) by (hi, lo). */
function insertionSort(hi: Uint32Array, lo: Uint32Array, tag: Int32Array, from: number, to: number): void {
  for (let i = from + 1; i < to; i++) {
    const h = hi[i];
    const l = lo[i];
    const t = tag[i];
    let j = i - 1;
    while (j >= from && (hi[j] > h || (hi[j] === h && lo[j] > l))) {
      hi[j + 1] = hi[j];
      lo[j + 1] = lo[j];
      tag[j + 1] = tag[j];
      j--;
    }
    hi[j + 1] = h;
    lo[j + 1] = l;
    tag[j + 1] = t;
  }
}

/** Stable comparison sort of [from, to) by (hi, lo) (Array.prototype.sort is stable). */
function comparisonSort(hi: Uint32Array, lo: Uint32Array, tag: Int32Array, from: number, to: number): void {
  const idx = Array.from({ length: to - from }, (_, k) => from + k);
  idx.sort((a, b) => hi[a] - hi[b] || lo[a] - lo[b]);
  const h = idx.map((i) => hi[i]);
  const l = idx.map((i) => lo[i]);
  const t = idx.map((i) => tag[i]);
  hi.set(h, from);
  lo.set(l, from);
  tag.set(t, from);
}

/**
 * Index of the first point with key ≥ h53, wrapping to 0 past the end (what Ketama's
 * `ketama_get_server` binary search, which Envoy ports, returns); -1 on an empty ring.
 * With h53 = H >> 11 this is Envoy's lookup for the 64-bit hash `h53 · 2^11`, since
 * `p ≥ h53·2^11 ⇔ (p >> 11) ≥ h53` for integers. O(log n) worst case; the directory makes
 * the expected cost O(1) (5× faster at 10k points, measured).
 */
export function ringPosition(ring: HashRing, h53: number): number {
  const n = ring.keys.length;
  if (n === 0) return -1;
  const i = lowerBound(ring, h53);
  return i === n ? 0 : i;
}

/** The first index with keys[i] ≥ x (keys.length if none), searching only x's directory bucket. */
function lowerBound(ring: HashRing, x: number): number {
  const keys = ring.keys;
  const t = Math.floor(x * ring.directoryScale);
  let lo = ring.directory[t];
  let hi = ring.directory[t + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Envoy's `Ring::chooseHost(hash, attempt)` for a full 64-bit hash: the host (index into
 * the ring's host list) of the first point ≥ hash, wrapping, moved `attempt` points on; -1
 * on an empty ring. Exact on all 64 bits (for tests and tools; picks use {@link ringPosition}).
 */
export function ringHostFor64(ring: HashRing, hash: bigint, attempt = 0): number {
  const n = ring.keys.length;
  if (n === 0) return -1;
  const h = BigInt.asUintN(64, hash);
  const h53 = Number(h >> 11n);
  const l11 = Number(h & 0x7ffn);
  let i = lowerBound(ring, h53);
  while (i < n && ring.keys[i] === h53 && ring.low[i] < l11) i++;
  if (i === n) i = 0;
  if (attempt > 0) i = (i + attempt) % n;
  return ring.hosts[i];
}

export interface RingHashConfig {
  readonly minimumRingSize: number;
  readonly maximumRingSize: number;
  /** Envoy's `hash_balance_factor` (≥ 100); absent = no load bound. */
  readonly hashBalanceFactor?: number | undefined;
}

export class RingHashBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private ring: HashRing = EMPTY_RING;
  private readonly snapshot = new HostListSnapshot();
  private readonly bounded: BoundedLoad | undefined;

  constructor(
    private readonly config: RingHashConfig,
    private readonly rng: Rng,
  ) {
    this.bounded = config.hashBalanceFactor === undefined ? undefined : new BoundedLoad(config.hashBalanceFactor);
  }

  /** The current ring (points' hosts index the eligible endpoints, in endpoint order). */
  get currentRing(): HashRing {
    return this.ring;
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const eligible = healthyIndices(endpoints);
    if (!this.snapshot.matches(endpoints, eligible)) {
      const hosts = Array.from(eligible, (i): RingHost => ({ address: endpointHashKey(endpoints[i]), weight: endpoints[i].weight }));
      this.ring = buildRing(hosts, this.config.minimumRingSize, this.config.maximumRingSize);
      this.snapshot.update(endpoints, eligible);
    }
    this.eligible = eligible;
    this.bounded?.rebuildEligible(endpoints, eligible);
  }

  pick(ctx: PickContext): number {
    const keys = this.ring.keys;
    const n = keys.length;
    if (n === 0) return -1;
    const h = ctx.hashKey === undefined ? randomRequestHash(this.rng) : toRequestHash(ctx.hashKey);
    const lo = lowerBound(this.ring, h);
    let i = lo === n ? 0 : lo;
    const attempt = ctx.attempt;
    if (attempt !== undefined && attempt >= 1) i = (i + Math.floor(attempt)) % n;
    const position = this.ring.hosts[i];
    return this.eligible[this.bounded ? this.bounded.choose(position, h) : position];
  }

  onStart(index: number): void {
    this.bounded?.onStart(index);
  }

  onEnd(index: number): void {
    this.bounded?.onEnd(index);
  }
}

const zHashBalanceFactor = z
  .number()
  .int()
  .min(100)
  .optional()
  .describe("Envoy's hash_balance_factor: cap each host at factor/100 × its weighted share of active requests (≥ 100); absent = no cap.");

export const ringHash: BalancerDefinition<RingHashConfig> = {
  kind: 'ring-hash',
  family: 'balancing',
  summary: 'Consistent hashing on a Ketama ring of xxHash64 points, weighted; optional bounded load.',
  follows:
    'Envoy RING_HASH (xxHash64, minimum_ring_size 1024, maximum_ring_size 8M, optional hash_balance_factor). ' +
    'Request hashes carry the high 53 bits of xxHash64; ring built over healthy and degraded endpoints; retries step forward by attempt.',
  config: z
    .strictObject({
      minimumRingSize: z.number().int().min(1).max(DEFAULT_MAXIMUM_RING_SIZE).default(DEFAULT_MINIMUM_RING_SIZE),
      maximumRingSize: z.number().int().min(1).max(DEFAULT_MAXIMUM_RING_SIZE).default(DEFAULT_MAXIMUM_RING_SIZE),
      hashBalanceFactor: zHashBalanceFactor,
    })
    .refine((c) => c.minimumRingSize <= c.maximumRingSize, {
      message: 'minimumRingSize must not exceed maximumRingSize',
      path: ['minimumRingSize'],
    }),
  create: (config: RingHashConfig, ports: Ports) => new RingHashBalancer(config, ports.rng),
};
