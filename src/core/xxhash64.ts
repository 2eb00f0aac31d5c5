/**
 * XXH64, the 64-bit xxHash of Yann Collet (xxhash.h / doc/xxhash_spec.md), in pure
 * TypeScript, and the request-hash representation meshsim's hashing balancers use.
 *
 * Envoy hashes ring points, Maglev host keys and header values with
 * `HashUtil::xxHash64(s, seed)` = `XXH64(s.data(), s.size(), seed)`; this module computes
 * the same 64-bit values bit for bit (strings are hashed as their UTF-8 bytes).
 *
 * Representations:
 * - `xxh64(input, seed)` → the exact value as a bigint (convenient, slow: tests, tooling).
 * - `xxh64Into(bytes, length, seed, out)` → the exact value as two uint32 halves,
 *   `out[0]` = high 32 bits, `out[1]` = low 32 bits, with no allocation (ring and table
 *   construction hash millions of keys).
 * - `xxh64Hash53(input, seed)` / `hashKey(key)` → the high 53 bits, `floor(H / 2^11)`, an
 *   exact integer in [0, 2^53) (every such integer is a safe JS number).
 *
 * Where meshsim differs from Envoy: `PickContext.hashKey` is a number, so a request hash
 * carries 53 of xxHash64's 64 bits. The hashing balancers treat a request hash `h` as
 * Envoy's 64-bit hash `H = h · 2^11`, i.e. xxHash64 of the key with its low 11 bits
 * cleared, and are exact to Envoy for that value:
 * - ring hash (first point ≥ H): `p ≥ h·2^11 ⇔ floor(p / 2^11) ≥ h` for integers, so the
 *   lookup is exact on the 53-bit keys; it differs from Envoy's answer for the untruncated
 *   hash only when a ring point falls in the 2^11 values just below the request hash,
 *   probability ≤ ringSize · 2^11 / 2^64 ≈ 10^-9 per request at the 8M maximum ring;
 * - Maglev (`table[H mod M]`): the same slot as Envoy would use for `h·2^11`, which is not
 *   the slot Envoy uses for the untruncated hash (the low bits matter modulo M). The table,
 *   the per-host shares and the disruption on membership change are Envoy's exactly; only
 *   which slot (hence which host) a given key string lands on differs. Because 2^11 is
 *   invertible modulo an odd prime M, the slot is still uniform.
 * - bounded load seeds its probe shuffle with the low 32 bits of `h·2^11`.
 */

import type { Rng } from './ports.js';

const TWO_32 = 4294967296;
const TWO_21 = 2097152;
/** Bits of a 64-bit hash dropped to make a safe-integer request hash. */
export const HASH53_DROPPED_BITS = 11;
/** Request hashes are integers in [0, HASH53_SPAN). */
export const HASH53_SPAN = 2 ** 53;

// The five XXH64 primes, as (high, low) 32-bit halves.
const P1H = 0x9e3779b1 | 0;
const P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0;
const P2L = 0x27d4eb4f | 0;
const P3H = 0x165667b1 | 0;
const P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0;
const P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f | 0;
const P5L = 0x165667c5 | 0;

// Result registers of the 64-bit helpers below. Hand-optimised, for ring builds that hash
// millions of keys: returning {hi, lo} objects would allocate per operation, and halves are
// kept as int32 bit patterns (`| 0`), because V8 stores a uint32 ≥ 2^31 in a module
// variable as a boxed heap number (an allocation per write).
let RH = 0;
let RL = 0;

/**
 * (ah:al) · (bh:bl) mod 2^64 → RH:RL (halves as int32 bit patterns throughout). The 32×32
 * low product is split into 16-bit limbs with carries propagated so that every
 * intermediate is below 2^32 and stays in integer registers (a float division here was 2×
 * slower, measured).
 */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const t = Math.imul(a0, b0) >>> 0;
  const m1 = (Math.imul(a1, b0) >>> 0) + (t >>> 16);
  const m2 = (Math.imul(a0, b1) >>> 0) + (m1 & 0xffff);
  RL = (m2 << 16) | (t & 0xffff);
  RH = (Math.imul(a1, b1) + (m1 >>> 16) + (m2 >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) | 0;
}

/** (ah:al) + (bh:bl) mod 2^64 → RH:RL. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = (al + bl) | 0;
  RL = lo;
  RH = (ah + bh + ((lo >>> 0) < (al >>> 0) ? 1 : 0)) | 0;
}

/** rotl64((h:l), r) for 0 < r < 32 → RH:RL. */
function rotl(h: number, l: number, r: number): void {
  RH = (h << r) | (l >>> (32 - r));
  RL = (l << r) | (h >>> (32 - r));
}

// 16-bit limbs of the low halves of P1 and P2, for the hand-inlined multiplies in `round`.
const P1L0 = P1L & 0xffff;
const P1L1 = P1L >>> 16;
const P2L0 = P2L & 0xffff;
const P2L1 = P2L >>> 16;

/**
 * XXH64_round: acc = rotl(acc + input·P2, 31) · P1 → RH:RL. The hottest function, written
 * out by hand (same arithmetic as `mul`, `add`, `rotl`): V8 stopped inlining the helpers
 * into the long hash loop, and the calls cost more than the arithmetic (profiled).
 */
function round(accH: number, accL: number, inH: number, inL: number): void {
  let a0 = inL & 0xffff;
  let a1 = inL >>> 16;
  let t = Math.imul(a0, P2L0) >>> 0;
  let m1 = (Math.imul(a1, P2L0) >>> 0) + (t >>> 16);
  let m2 = (Math.imul(a0, P2L1) >>> 0) + (m1 & 0xffff);
  const xL = (m2 << 16) | (t & 0xffff);
  const xH = (Math.imul(a1, P2L1) + (m1 >>> 16) + (m2 >>> 16) + Math.imul(inH, P2L) + Math.imul(inL, P2H)) | 0;
  const sL = (accL + xL) | 0;
  const sH = (accH + xH + ((sL >>> 0) < (accL >>> 0) ? 1 : 0)) | 0;
  const rH = (sH << 31) | (sL >>> 1);
  const rL = (sL << 31) | (sH >>> 1);
  a0 = rL & 0xffff;
  a1 = rL >>> 16;
  t = Math.imul(a0, P1L0) >>> 0;
  m1 = (Math.imul(a1, P1L0) >>> 0) + (t >>> 16);
  m2 = (Math.imul(a0, P1L1) >>> 0) + (m1 & 0xffff);
  RL = (m2 << 16) | (t & 0xffff);
  RH = (Math.imul(a1, P1L1) + (m1 >>> 16) + (m2 >>> 16) + Math.imul(rH, P1L) + Math.imul(rL, P1H)) | 0;
}

/** XXH64_mergeRound: acc = (acc ^ round(0, val)) · P1 + P4 → RH:RL. */
function mergeRound(accH: number, accL: number, valH: number, valL: number): void {
  round(0, 0, valH, valL);
  mul(accH ^ RH, accL ^ RL, P1H, P1L);
  add(RH, RL, P4H, P4L);
}

function read32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/** XXH64 of bytes[0, length) with seed (seedH:seedL) → RH:RL. */
function xxh64Core(b: Uint8Array, length: number, seedH: number, seedL: number): void {
  // Split in three so that V8 inlines the helpers into each part (one big function exceeded
  // its inlining budget).
  if (length >= 32) {
    stripes(b, length, seedH, seedL);
    finish(b, length - (length % 32), length, RH, RL);
  } else {
    add(seedH, seedL, P5H, P5L);
    finish(b, 0, length, RH, RL);
  }
}

/** The 32-byte stripe loop and merge of inputs ≥ 32 bytes → RH:RL. */
function stripes(b: Uint8Array, length: number, seedH: number, seedL: number): void {
  let p = 0;
  add(seedH, seedL, P1H, P1L);
  add(RH, RL, P2H, P2L);
  let v1H = RH;
  let v1L = RL;
  add(seedH, seedL, P2H, P2L);
  let v2H = RH;
  let v2L = RL;
  let v3H = seedH;
  let v3L = seedL;
  // seed − P1 = seed + (2^64 − P1) = seed + (~P1 + 1); P1's low half is non-zero, so no carry.
  add(seedH, seedL, ~P1H, -P1L | 0);
  let v4H = RH;
  let v4L = RL;
  const limit = length - 32;
  do {
    round(v1H, v1L, read32(b, p + 4), read32(b, p));
    v1H = RH;
    v1L = RL;
    round(v2H, v2L, read32(b, p + 12), read32(b, p + 8));
    v2H = RH;
    v2L = RL;
    round(v3H, v3L, read32(b, p + 20), read32(b, p + 16));
    v3H = RH;
    v3L = RL;
    round(v4H, v4L, read32(b, p + 28), read32(b, p + 24));
    v4H = RH;
    v4L = RL;
    p += 32;
  } while (p <= limit);
  rotl(v1H, v1L, 1);
  let hH = RH;
  let hL = RL;
  rotl(v2H, v2L, 7);
  add(hH, hL, RH, RL);
  hH = RH;
  hL = RL;
  rotl(v3H, v3L, 12);
  add(hH, hL, RH, RL);
  hH = RH;
  hL = RL;
  rotl(v4H, v4L, 18);
  add(hH, hL, RH, RL);
  mergeRound(RH, RL, v1H, v1L);
  mergeRound(RH, RL, v2H, v2L);
  mergeRound(RH, RL, v3H, v3L);
  mergeRound(RH, RL, v4H, v4L);
}

/** Adds the length, consumes bytes[p, length) and avalanches (hH:hL) → RH:RL. */
function finish(b: Uint8Array, p: number, length: number, hH: number, hL: number): void {
  // h += length (length < 2^53)
  add(hH, hL, Math.floor(length / TWO_32) | 0, length | 0);
  hH = RH;
  hL = RL;
  while (p + 8 <= length) {
    round(0, 0, read32(b, p + 4), read32(b, p));
    rotl(hH ^ RH, hL ^ RL, 27);
    mul(RH, RL, P1H, P1L);
    add(RH, RL, P4H, P4L);
    hH = RH;
    hL = RL;
    p += 8;
  }
  if (p + 4 <= length) {
    mul(0, read32(b, p), P1H, P1L);
    rotl(hH ^ RH, hL ^ RL, 23);
    mul(RH, RL, P2H, P2L);
    add(RH, RL, P3H, P3L);
    hH = RH;
    hL = RL;
    p += 4;
  }
  while (p < length) {
    mul(0, b[p], P5H, P5L);
    rotl(hH ^ RH, hL ^ RL, 11);
    mul(RH, RL, P1H, P1L);
    hH = RH;
    hL = RL;
    p++;
  }
  // avalanche
  hL ^= hH >>> 1; // h ^= h >> 33
  mul(hH, hL, P2H, P2L);
  hH = RH;
  hL = RL ^ ((RL >>> 29) | (RH << 3)); // h ^= h >> 29
  hH ^= hH >>> 29;
  mul(hH, hL, P3H, P3L);
  RL ^= RH; // h ^= h >> 32
}

// Scratch buffer for UTF-8 encoding strings; grows, never shrinks.
let scratch = new Uint8Array(256);

/**
 * UTF-8 encodes `s` into a shared scratch buffer (valid until the next call) and returns
 * the byte length. Lone surrogates become U+FFFD, as TextEncoder does.
 */
export function utf8Scratch(s: string): { readonly bytes: Uint8Array; readonly length: number } {
  const n = encodeUtf8(s);
  return { bytes: scratch, length: n };
}

function encodeUtf8(s: string): number {
  if (scratch.length < s.length * 3) scratch = new Uint8Array(Math.max(s.length * 3, scratch.length * 2));
  const b = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[n++] = c;
    } else if (c < 0x800) {
      b[n++] = 0xc0 | (c >> 6);
      b[n++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[n++] = 0xf0 | (c >> 18);
          b[n++] = 0x80 | ((c >> 12) & 0x3f);
          b[n++] = 0x80 | ((c >> 6) & 0x3f);
          b[n++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      b[n++] = 0xe0 | (c >> 12);
      b[n++] = 0x80 | ((c >> 6) & 0x3f);
      b[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

function splitSeed(seed: bigint | number): void {
  if (typeof seed === 'bigint') {
    const s = BigInt.asUintN(64, seed);
    RH = Number(s >> 32n) | 0;
    RL = Number(s & 0xffffffffn) | 0;
    return;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`xxh64 seed must be a safe integer ≥ 0 or a bigint, got ${seed}`);
  }
  RH = Math.floor(seed / TWO_32) | 0;
  RL = seed | 0;
}

function hashInput(input: string | Uint8Array, seed: bigint | number): void {
  splitSeed(seed);
  const sH = RH;
  const sL = RL;
  if (typeof input === 'string') {
    const n = encodeUtf8(input); // may replace `scratch`: read it after
    xxh64Core(scratch, n, sH, sL);
  } else {
    xxh64Core(input, input.length, sH, sL);
  }
}

/** XXH64 of `input` (a string hashes as its UTF-8 bytes) with `seed` (taken mod 2^64), exactly. */
export function xxh64(input: string | Uint8Array, seed: bigint | number = 0): bigint {
  hashInput(input, seed);
  return (BigInt(RH >>> 0) << 32n) | BigInt(RL >>> 0);
}

/**
 * XXH64 of `bytes[0, length)` with a small seed (a safe integer ≥ 0), written to `out` as
 * `out[0]` = high 32 bits, `out[1]` = low 32 bits. Allocation-free: the hot path for
 * building rings and tables.
 */
export function xxh64Into(bytes: Uint8Array, length: number, seed: number, out: Uint32Array): void {
  xxh64Core(bytes, length, Math.floor(seed / TWO_32) | 0, seed | 0);
  out[0] = RH;
  out[1] = RL;
}

/** The high 53 bits of a 64-bit hash given as halves: `floor((hi·2^32 + lo) / 2^11)`. */
export function hash53FromHalves(hi: number, lo: number): number {
  return (hi >>> 0) * TWO_21 + (lo >>> HASH53_DROPPED_BITS);
}

/** The high 53 bits of XXH64(input, seed), an exact integer in [0, 2^53). */
export function xxh64Hash53(input: string | Uint8Array, seed: bigint | number = 0): number {
  hashInput(input, seed);
  return hash53FromHalves(RH, RL);
}

/**
 * The request hash for a key (a header value, a user id), in the representation the hashing
 * balancers expect in `PickContext.hashKey`: the high 53 bits of XXH64(key, 0). Envoy's
 * header hash policy computes XXH64(value, 0); see the module comment for the 11 bits that
 * do not fit in a JS number and what that changes.
 */
export function hashKey(key: string): number {
  return xxh64Hash53(key, 0);
}

/**
 * A `PickContext.hashKey` as a request hash: integers in [0, 2^53) (what {@link hashKey}
 * returns) pass through; any other number is reduced to `floor(|x|) mod 2^53` (non-finite → 0)
 * so that every number is a valid key.
 */
export function toRequestHash(x: number): number {
  if (x >= 0 && x < HASH53_SPAN && Math.floor(x) === x) return x;
  if (!Number.isFinite(x)) return 0;
  const f = Math.floor(Math.abs(x));
  return f < HASH53_SPAN ? f : f % HASH53_SPAN;
}

/**
 * A uniformly random request hash in [0, 2^53) from two draws (21 + 32 bits), for picks
 * without a key: Envoy's hashing balancers use `random()` when no hash policy applies.
 */
export function randomRequestHash(rng: Rng): number {
  return Math.floor(rng.next() * TWO_21) * TWO_32 + Math.floor(rng.next() * TWO_32);
}
