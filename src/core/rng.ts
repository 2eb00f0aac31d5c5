/**
 * Seeded random streams, one per purpose, for common random numbers (Law & Kelton, ch. 11):
 * each stream depends only on (scenario seed, purpose), so changing one part of a scenario
 * does not reshuffle the draws of another.
 *
 * Seeding goes through seedrandom (Alea, keyed by the (seed, purpose) string); the stream
 * itself is SFC32, Chris Doty-Humphrey's Small Fast Chaotic generator (PractRand-clean,
 * period ≥ 2^32, in practice ~2^127). Why not one of seedrandom's own generators: a
 * simulation holds one stream per instance, and xor4096's ~1 KB of state per stream made
 * 10,000-instance runs miss the cache on every draw (5× slower); SFC32's 16 bytes live in
 * one small typed array, whose writes never allocate.
 */
import seedrandom from 'seedrandom';
import type { Rng } from './ports.js';

/**
 * The seed string for (seed, purpose). JSON of the pair is injective (no two pairs share
 * it), so distinct (seed, purpose) pairs key distinct ARC4 streams.
 */
function seedString(seed: number, purpose: string): string {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  return JSON.stringify([seed, purpose]);
}

/** One SFC32 step on the 4 words of `s` at offset `o`; a draw in [0, 1) with 32-bit resolution. */
function sfc32Step(s: Int32Array, o: number): number {
  const a = s[o];
  const b = s[o + 1];
  const c = s[o + 2];
  const d = s[o + 3];
  const t = (((a + b) | 0) + d) | 0;
  s[o + 3] = (d + 1) | 0;
  s[o] = b ^ (b >>> 9);
  s[o + 1] = (c + (c << 3)) | 0;
  s[o + 2] = (((c << 21) | (c >>> 11)) + t) | 0;
  return (t >>> 0) / 4294967296;
}

/** SFC32 over a 4-word state. */
function sfc32(state: Int32Array): () => number {
  return () => sfc32Step(state, 0);
}

/**
 * An independent stream of uniform draws in [0, 1) (32-bit resolution) for `purpose`,
 * e.g. "arrivals/users", "service/api/3", "balancer/users/0".
 * `next` is the generator itself, so a draw is one call.
 */
export function rngStream(seed: number, purpose: string): Rng {
  const key = seedrandom.alea(seedString(seed, purpose));
  const state = new Int32Array(4);
  for (let i = 0; i < 4; i++) state[i] = key.int32();
  const next = sfc32(state);
  // Mix the keyed state before the first draw, as SFC's reference seeding does.
  for (let i = 0; i < 12; i++) next();
  return { next };
}

/**
 * The first four `int32()` words of `seedrandom.alea(key)`, written to `out` at `o`:
 * Baagoe's Alea seeding (Mash), bit for bit, without the closures and boxed numbers of
 * seedrandom's implementation. A bank seeds one stream per instance, and seeding 10,000
 * of them through seedrandom allocated ≈ 16 MB and took longer than building the rest of
 * a 10,000-instance world. Tested against seedrandom itself (test/core/rng.test.ts).
 */
export function aleaKey(key: string, out: Int32Array, o: number): void {
  let n = BLANK_MASH[0];
  let s0 = BLANK_MASH[1];
  let s1 = BLANK_MASH[2];
  let s2 = BLANK_MASH[3];
  n = mashInto(n, key);
  s0 -= (n >>> 0) * 2.3283064365386963e-10;
  if (s0 < 0) s0 += 1;
  n = mashInto(n, key);
  s1 -= (n >>> 0) * 2.3283064365386963e-10;
  if (s1 < 0) s1 += 1;
  n = mashInto(n, key);
  s2 -= (n >>> 0) * 2.3283064365386963e-10;
  if (s2 < 0) s2 += 1;
  let c = 1;
  for (let w = 0; w < 4; w++) {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10;
    s0 = s1;
    s1 = s2;
    c = t | 0;
    s2 = t - c;
    out[o + w] = (s2 * 0x100000000) | 0;
  }
}

/** Baagoe's Mash: the hash state `n` after hashing `data` into it. */
function mashInto(n: number, data: string): number {
  for (let i = 0; i < data.length; i++) {
    n += data.charCodeAt(i);
    let h = 0.02519603282416938 * n;
    n = h >>> 0;
    h -= n;
    h *= n;
    n = h >>> 0;
    h -= n;
    n += h * 0x100000000;
  }
  return n;
}

/** Mash's state and Alea's s0, s1, s2 after the three `mash(' ')` every seeding starts with. */
const BLANK_MASH: readonly [number, number, number, number] = (() => {
  let n = 0xefc8249d;
  const s: number[] = [];
  for (let k = 0; k < 3; k++) {
    n = mashInto(n, ' ');
    s.push((n >>> 0) * 2.3283064365386963e-10);
  }
  return [n, s[0], s[1], s[2]];
})();

/**
 * Many SFC32 streams (one per purpose) whose states sit side by side in one typed array,
 * `stride` words apart, for the simulator's hottest draws: a 10,000-instance world draws
 * each service time from the serving instance's own stream, and one state per cache line
 * beats 10,000 closures and typed-array objects scattered over the heap (measured in
 * bench/fleet10k). `select(i)` points the bank at stream i; `next()` draws from it. Stream
 * i produces exactly the draws `rngStream(seed, purposes[i])` would.
 *
 * The state array may be shared with other per-slot data: words [offset, offset + 4) of
 * each `stride`-word record belong to the bank.
 */
export class RngBank implements Rng {
  readonly state: Int32Array;
  private at = 0;

  constructor(
    seed: number,
    purposes: readonly string[],
    readonly stride = 4,
    readonly offset = 0,
    state?: Int32Array,
  ) {
    if (stride < 4 || offset < 0 || offset + 4 > stride) throw new RangeError(`RngBank: bad stride ${stride} / offset ${offset}`);
    this.state = state ?? new Int32Array(purposes.length * stride);
    if (this.state.length < purposes.length * stride) throw new RangeError('RngBank: state array too small');
    for (let i = 0; i < purposes.length; i++) {
      const o = i * stride + offset;
      aleaKey(seedString(seed, purposes[i]), this.state, o);
      for (let k = 0; k < 12; k++) sfc32Step(this.state, o);
    }
  }

  /** Points the bank at stream `i`. */
  select(i: number): void {
    this.at = i * this.stride + this.offset;
  }

  /** A draw from the selected stream. */
  next(): number {
    return sfc32Step(this.state, this.at);
  }

  /** Stream `i` as a stand-alone Rng (for samplers that keep state of their own). */
  stream(i: number): Rng {
    const s = this.state;
    const o = i * this.stride + this.offset;
    return { next: () => sfc32Step(s, o) };
  }
}

/** Hands out one stream per purpose from a scenario seed; asking twice for a purpose throws. */
export class RngStreams {
  private readonly issued = new Set<string>();

  constructor(readonly seed: number) {
    seedString(seed, '');
  }

  stream(purpose: string): Rng {
    if (this.issued.has(purpose)) {
      throw new Error(`rng stream "${purpose}" requested twice; every consumer needs its own purpose`);
    }
    this.issued.add(purpose);
    return rngStream(this.seed, purpose);
  }

  /** A bank of streams, one per purpose (each purpose counts as issued). See {@link RngBank}. */
  bank(purposes: readonly string[], stride = 4, offset = 0, state?: Int32Array): RngBank {
    for (const p of purposes) {
      if (this.issued.has(p)) throw new Error(`rng stream "${p}" requested twice; every consumer needs its own purpose`);
      this.issued.add(p);
    }
    return new RngBank(this.seed, purposes, stride, offset, state);
  }
}
