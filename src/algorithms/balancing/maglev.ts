/**
 * Maglev: consistent hashing by a lookup table (Eisenbud et al., "Maglev: A Fast and
 * Reliable Software Network Load Balancer", NSDI 2016, §3.4 listing 1), as Envoy's MAGLEV
 * load balancer builds it (maglev_lb.cc) with xxHash64.
 *
 * Table of prime size M (65537; at most 5,000,011): hosts sorted by key (the `hash_key` metadata, else the address); each
 * host's permutation is `offset = xxh64(key) mod M`, `skip = xxh64(key, seed 1) mod (M−1) + 1`,
 * slot `(offset + skip·next) mod M`. Weighted fill: iterations it = 1, 2, …; within an
 * iteration each host in turn places one entry (its next free slot) only if
 * `it · w ≥ target`, then `target += maxW` (w, maxW normalised weights); until the table is
 * full. Lookup `table[H mod M]`, O(1). A retry (attempt k > 0) looks up `H ^ (2^64 − k)`.
 * With `hashBalanceFactor`, Envoy's bounded-load re-pick applies (_internals/bounded-load.ts).
 *
 * Where meshsim differs from Envoy:
 * - request hashes are 53 bits h (src/core/xxhash64.ts), looked up as Envoy would look up
 *   `H = h · 2^11`: slot `H mod M`, and on retry k `(H ^ (2^64 − k)) mod M`, both computed
 *   exactly on 32-bit halves. The table is Envoy's exactly, but the slot a given key lands
 *   in differs from Envoy's for the untruncated xxHash64 of that key;
 * - the table is built over healthy and degraded endpoints (Envoy: healthy hosts only, all
 *   hosts in panic, which the Envoy layer wrapper handles); weights may be fractional;
 *   hosts with equal addresses keep endpoint order (Envoy: pointer order);
 * - `ctx.attempt` is passed as Envoy's host-selection attempt, as if every retry were
 *   rejected by a retry host predicate (without one, Envoy re-picks the same host);
 * - no `use_hostname_for_hashing`; the table is rebuilt only when the eligible
 *   (hash key, weight) list changes.
 */
import { z } from 'zod';
import type { Ports, Rng } from '../../core/ports.js';
import { randomRequestHash, toRequestHash, utf8Scratch, xxh64Into } from '../../core/xxhash64.js';
import type { Balancer, BalancerDefinition, Endpoint, PickContext } from '../types.js';
import { healthyIndices } from './_internals/healthy.js';
import { BoundedLoad, endpointHashKey, HostListSnapshot, normalizeHostWeights } from './_internals/bounded-load.js';

/** Envoy's default table size (the paper's recommendation, §5.3) and its upper limit. */
export const DEFAULT_TABLE_SIZE = 65537;
export const MAX_TABLE_SIZE = 5_000_011;

const TWO_32 = 4294967296;

/** A host as the table sees it. */
export interface MaglevHost {
  readonly address: string;
  /** Relative weight, > 0. */
  readonly weight: number;
}

/** A built Maglev table. */
export interface MaglevTable {
  /** `table[slot]` = the host at that slot, as an index into the host list it was built from. */
  readonly table: Int32Array;
  /** Entries per host (index into the host list). */
  readonly counts: Int32Array;
  /** Envoy's `min_entries_per_host` / `max_entries_per_host` stats. */
  readonly minEntriesPerHost: number;
  readonly maxEntriesPerHost: number;
}

/** Trial division; table sizes are at most ~5·10^6. */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** (hi·2^32 + lo) mod m for uint32 halves and m ≤ 2^26: every intermediate stays below 2^53. */
function mod64(hi: number, lo: number, m: number): number {
  return ((hi % m) * (TWO_32 % m) + lo) % m;
}

/** Lexicographic comparison of byte strings (C++ string_view order). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Builds Envoy's Maglev table for `hosts` (any order: hosts are sorted by address bytes
 * first). Throws on a table size that is not a prime ≤ 5,000,011.
 */
export function buildMaglevTable(hosts: readonly MaglevHost[], tableSize = DEFAULT_TABLE_SIZE): MaglevTable {
  if (!isPrime(tableSize) || tableSize > MAX_TABLE_SIZE) {
    throw new RangeError(`maglev table size must be a prime ≤ ${MAX_TABLE_SIZE}, got ${tableSize}`);
  }
  const M = tableSize;
  const n = hosts.length;
  const table = new Int32Array(M).fill(-1);
  const counts = new Int32Array(n);
  if (n === 0) return { table: new Int32Array(0), counts, minEntriesPerHost: 0, maxEntriesPerHost: 0 };

  const { normalized, max: maxW } = normalizeHostWeights(hosts.map((h) => h.weight));
  const keys = hosts.map((h) => {
    const { bytes, length } = utf8Scratch(h.address);
    return bytes.slice(0, length);
  });
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => compareBytes(keys[a], keys[b]) || a - b);

  // Table build entries, in key order.
  const host = new Int32Array(n);
  const skip = new Float64Array(n);
  const pos = new Float64Array(n); // (offset + skip·next) mod M, advanced incrementally
  const weight = new Float64Array(n);
  const target = new Float64Array(n);
  const out = new Uint32Array(2);
  for (let e = 0; e < n; e++) {
    const k = order[e];
    host[e] = k;
    xxh64Into(keys[k], keys[k].length, 0, out);
    pos[e] = mod64(out[0], out[1], M);
    xxh64Into(keys[k], keys[k].length, 1, out);
    skip[e] = mod64(out[0], out[1], M - 1) + 1;
    weight[e] = normalized[k];
  }

  let filled = 0;
  for (let iteration = 1; filled < M; iteration++) {
    for (let e = 0; e < n && filled < M; e++) {
      // A host of weight maxW places an entry every iteration; one of maxW/3 every third.
      if (iteration * weight[e] < target[e]) continue;
      target[e] += maxW;
      let c = pos[e];
      while (table[c] !== -1) {
        c += skip[e];
        if (c >= M) c -= M;
      }
      table[c] = host[e];
      c += skip[e];
      if (c >= M) c -= M;
      pos[e] = c;
      counts[host[e]]++;
      filled++;
    }
  }
  let min = M;
  let max = 0;
  for (let k = 0; k < n; k++) {
    min = Math.min(min, counts[k]);
    max = Math.max(max, counts[k]);
  }
  return { table, counts, minEntriesPerHost: min, maxEntriesPerHost: max };
}

/**
 * Envoy's `MaglevTable::chooseHost` slot for a full 64-bit hash: `hash mod M`, after
 * `hash ^= ~0 − attempt + 1` (that is, XOR with 2^64 − attempt) on a retry.
 */
export function maglevSlot64(hash: bigint, attempt: number, tableSize: number): number {
  let h = BigInt.asUintN(64, hash);
  if (attempt > 0) h ^= (1n << 64n) - BigInt(attempt);
  return Number(h % BigInt(tableSize));
}

/** The slot Envoy uses for the 64-bit hash `h53 · 2^11` on attempt k > 0 (k < 2^32), without bigints. */
function retrySlot(h53: number, attempt: number, M: number): number {
  const hi = Math.floor(h53 / 2097152);
  const lo = (h53 * 2048) >>> 0; // h53·2^11 is exact; >>> 0 keeps its low 32 bits
  // 2^64 − k = 0xFFFFFFFF : (2^32 − k) for 1 ≤ k < 2^32.
  return mod64((hi ^ 0xffffffff) >>> 0, (lo ^ (TWO_32 - attempt)) >>> 0, M);
}

/**
 * `x mod m` for an integer 0 ≤ x < 2^53 − 2^23 and m < 2^23, by one float division: about 4× as
 * fast as `%` on non-int32 doubles (which V8 compiles to an fmod call). `fl(x/m)` is within
 * 1/m of x/m and never rounds down past an integer, so the floor is the true quotient or one
 * more; `q·m ≤ x + m < 2^53` is exact, and one correction fixes the remainder.
 */
function fastMod(x: number, m: number): number {
  const r = x - Math.floor(x / m) * m;
  return r < 0 ? r + m : r;
}
const FAST_MOD_LIMIT = 2 ** 53 - 2 ** 23;

export interface MaglevConfig {
  readonly tableSize: number;
  /** Envoy's `hash_balance_factor` (≥ 100); absent = no load bound. */
  readonly hashBalanceFactor?: number | undefined;
}

export class MaglevBalancer implements Balancer {
  private eligible: Int32Array = new Int32Array(0);
  private built: MaglevTable | undefined;
  /**
   * `byHash53[s] = table[(s · 2^11) mod M]`, so a first attempt with request hash h reads
   * `byHash53[h mod M]` = `table[(h·2^11) mod M]`: one reduction per pick instead of two.
   */
  private byHash53: Int32Array = new Int32Array(0);
  private readonly snapshot = new HostListSnapshot();
  private readonly bounded: BoundedLoad | undefined;

  constructor(
    private readonly config: MaglevConfig,
    private readonly rng: Rng,
  ) {
    this.bounded = config.hashBalanceFactor === undefined ? undefined : new BoundedLoad(config.hashBalanceFactor);
  }

  /** The current table (entries index the eligible endpoints, in endpoint order); undefined before the first rebuild. */
  get currentTable(): MaglevTable | undefined {
    return this.built;
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const eligible = healthyIndices(endpoints);
    if (!this.built || !this.snapshot.matches(endpoints, eligible)) {
      const M = this.config.tableSize;
      const built = buildMaglevTable(Array.from(eligible, (i): MaglevHost => ({ address: endpointHashKey(endpoints[i]), weight: endpoints[i].weight })), M);
      const byHash53 = new Int32Array(built.table.length);
      for (let s = 0, c = 0, step = 2048 % M; s < byHash53.length; s++) {
        byHash53[s] = built.table[c];
        c += step;
        if (c >= M) c -= M;
      }
      this.built = built;
      this.byHash53 = byHash53;
      this.snapshot.update(endpoints, eligible);
    }
    this.eligible = eligible;
    this.bounded?.rebuildEligible(endpoints, eligible);
  }

  pick(ctx: PickContext): number {
    const byHash53 = this.byHash53;
    const M = byHash53.length;
    if (M === 0) return -1;
    const h = ctx.hashKey === undefined ? randomRequestHash(this.rng) : toRequestHash(ctx.hashKey);
    const attempt = ctx.attempt;
    let position: number;
    // Envoy's attempt is a uint32.
    if (attempt !== undefined && attempt >= 1) position = (this.built as MaglevTable).table[retrySlot(h, Math.min(Math.floor(attempt), 0xffffffff), M)];
    else position = byHash53[h < FAST_MOD_LIMIT ? fastMod(h, M) : h % M];
    return this.eligible[this.bounded ? this.bounded.choose(position, h) : position];
  }

  onStart(index: number): void {
    this.bounded?.onStart(index);
  }

  onEnd(index: number): void {
    this.bounded?.onEnd(index);
  }
}

export const maglev: BalancerDefinition<MaglevConfig> = {
  kind: 'maglev',
  family: 'balancing',
  summary: 'Consistent hashing by a Maglev lookup table (O(1) picks, minimal disruption), weighted; optional bounded load.',
  follows:
    'Envoy MAGLEV (xxHash64, table_size 65537, prime ≤ 5000011, optional hash_balance_factor). ' +
    'Request hashes carry the high 53 bits of xxHash64; table built over healthy and degraded endpoints; retries rehash by attempt.',
  config: z.strictObject({
    tableSize: z
      .number()
      .int()
      .max(MAX_TABLE_SIZE)
      .refine(isPrime, { message: `tableSize must be a prime number (≤ ${MAX_TABLE_SIZE}), e.g. 65537` })
      .default(DEFAULT_TABLE_SIZE),
    hashBalanceFactor: z
      .number()
      .int()
      .min(100)
      .optional()
      .describe("Envoy's hash_balance_factor: cap each host at factor/100 × its weighted share of active requests (≥ 100); absent = no cap."),
  }),
  create: (config: MaglevConfig, ports: Ports) => new MaglevBalancer(config, ports.rng),
};
