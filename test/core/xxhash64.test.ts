/**
 * XXH64 against known vectors (generated once with Debian's python3-xxhash 3.0, the
 * reference C library's Python binding, and hard-coded here), against a BigInt
 * transcription of the spec for random inputs, and the request-hash helpers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rngStream } from '../../src/core/rng.js';
import {
  HASH53_SPAN,
  hash53FromHalves,
  hashKey,
  randomRequestHash,
  toRequestHash,
  xxh64,
  xxh64Hash53,
  xxh64Into,
} from '../../src/core/xxhash64.js';

/** [input, XXH64(utf8(input), 0), XXH64(utf8(input), 1)] from python3-xxhash. */
const STRING_VECTORS: ReadonlyArray<readonly [string, bigint, bigint]> = [
  ['', 17241709254077376921n, 15397730242686860875n],
  ['a', 15154266338359012955n, 16051599287423682246n],
  ['ab', 7347350983217793633n, 1571953340945042543n],
  ['abc', 4952883123889572249n, 13738734796240226568n],
  ['abcd', 15997673941747208908n, 17716243314014721363n],
  ['abcdefg', 1756566643212976685n, 4203856576878172345n],
  ['abcdefgh', 4238821247360054455n, 9440972358994176609n],
  ['abcdefghi', 2878261200250560019n, 6238036807928448109n],
  ['hello world', 5020219685658847592n, 12689740520296003527n],
  ['127.0.0.1:90_0', 16117243373044804889n, 15580919109578915572n],
  ['0123456789abcdef0123456789abcde', 2296772312821464551n, 16343324858014715693n],
  ['0123456789abcdef0123456789abcdef', 7217744722875508421n, 327508608130000036n],
  ['0123456789abcdef0123456789abcdef0', 16750722032750888982n, 8227518102116468759n],
  ['The quick brown fox jumps over the lazy dog', 802816344064684476n, 16091521683136104155n],
  ['x'.repeat(63), 13278436854273420360n, 647268264286416306n],
  ['y'.repeat(64), 7249148676544672184n, 14101840736759244571n],
  ['z'.repeat(100), 15208130141468915309n, 5883885087182782563n],
  ['w'.repeat(1000), 14092660555662868392n, 15091793198946138330n],
  ['h\u00e9llo', 4310053764713069540n, 18388139763335696559n],
  ['\u65e5\u672c\u8a9e\u306e\u30ad\u30fc', 675055771887424373n, 3291680138372113577n],
  ['emoji \ud83d\ude00 key', 11963023401656428495n, 10768098523803158310n],
  ['user-12345', 7239958382889648396n, 10326920934938710887n],
  ['\u0000\u0001\u007f\u0080\u07ff\u0800\uffff', 15865932709086415418n, 13051620103388964585n],
];

/** [input, XXH64(input, 2^64 − 1)]. */
const MAX_SEED_VECTORS: ReadonlyArray<readonly [string, bigint]> = [
  ['', 2994696410035606400n],
  ['abc', 2895935887265243510n],
  ['0123456789abcdef0123456789abcdef0', 4010602995243075283n],
];

/** [hex bytes, seed 0, seed 1]: random bytes (Python random.Random(42)) of lengths around the 4/8/32-byte boundaries. */
const BYTE_VECTORS: ReadonlyArray<readonly [string, bigint, bigint]> = [
  ['', 17241709254077376921n, 15397730242686860875n],
  ['39', 2104849252515447450n, 3491396741381841123n],
  ['0c8c7d', 12449657173151960508n, 4142539426077713346n],
  ['7247342c', 6175722125934938332n, 12155033881136333096n],
  ['d8100f2f6f770d', 9981151631444153779n, 18258557199310609357n],
  ['65d670e58e0351d8', 12251373730772272787n, 17522838635713472299n],
  ['ae8e4f6eac342fc231b7b08716eb3f', 2932030199294725650n, 11517273625891594212n],
  ['c12896b96223177494287733c28ee8ba', 15912066001278253721n, 16933100197174889744n],
  ['53bdb56b8824577d53ecc28a70a61c7510a1cd89216ca16cffcaea4987477e', 7044400469233445464n, 6246202653819338736n],
  ['86dbccb97046fc2e18384e51d820c5c3ef80053a88ae3996de50e801865b3698', 14716680464910811086n, 2003173605220090550n],
  ['654ebf5200a5fa0939b99d7a1d7b282bf8234041f35487d86c669fccbfe0e73d7e', 8054119611777750510n, 9460425139246899752n],
  ['7320ad0a757003241e752210a924798ef86d43f27cf2d0613031dcb5d8d2ef1b321fcead377f6261e547d85d8eec7f26e23219072f7955d0f8f66dcd1e54c2', 12473480987484343241n, 11870686193859139263n],
  ['01c787e892d8f94f61976f1d1fa01d19f4501d295f232278ce3d7e1429d6a18568a07a87ca4399eaa12504ea33256d8743b2237dbd9150e09a04993544873b36', 985384463919228356n, 11797913045017101174n],
  ['4f8b906baf6887fa801a2fd88d1601aa428652e2da0439264c12bd4bdc41159dba14b76b7f34b5d04f79535ad30c5baad27f885137c313f07166ebb39c74720c62', 567094897740201670n, 2043664939074323088n],
  ['cca88e238eb3cca90e3b855b871337deb0a0df3bc5618216df0064badc23a9a03f999ed1a7ce974162d7c2599acf009b926bdca4eee2e26df2562b91ab2f789e73654b0c177df325e9d463c4fdcc7c4b0236d9705aed197f3ee944eda2e2dae451f3e6847e8df87a8ce12792788baba329464d76c44e6d20d4d0a9eed41f69', 5801735551498319879n, 10620823907565939600n],
  ['d7c70ac2f403b498c7d670f9708bdff80ec7accf54ef410dc90d2adb45ec5d1985c2a76ce8a7acc28ed78129f0091ab37223140f7e660a4e7a40f23a6fee83bc553a539f370d9fc0cb65267c349a3d15b1dbbd23ae06d7fa36ddb9eb4ede5a8af7eedf89a57d2c8ee67cedc2ac0efda65df96cb584ae8f8d05612b7bd0fa7bf3fbe5082f9671cf7c9cbcf2b0d9a9b4e88a9c80763d62a13d5e626ef78d9033639774b85b9a07408c171b9540fb340691f0f5e1ae5e1a81f43a21cdfb251b4d4c9b2b7f3cd573c2e6', 14119647235763256024n, 15808424907246052055n],
];

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

// --- a direct BigInt transcription of doc/xxhash_spec.md, as an independent reference ------

const M64 = (1n << 64n) - 1n;
const Q1 = 0x9e3779b185ebca87n;
const Q2 = 0xc2b2ae3d27d4eb4fn;
const Q3 = 0x165667b19e3779f9n;
const Q4 = 0x85ebca77c2b2ae63n;
const Q5 = 0x27d4eb2f165667c5n;
const rot = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const rnd = (acc: bigint, lane: bigint): bigint => (rot((acc + lane * Q2) & M64, 31n) * Q1) & M64;
const lane64 = (b: Uint8Array, i: number): bigint => {
  let x = 0n;
  for (let k = 7; k >= 0; k--) x = (x << 8n) | BigInt(b[i + k]);
  return x;
};
const lane32 = (b: Uint8Array, i: number): bigint => BigInt(b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) | (BigInt(b[i + 3]) << 24n);

function referenceXxh64(b: Uint8Array, seed: bigint): bigint {
  const n = b.length;
  let p = 0;
  let h: bigint;
  if (n >= 32) {
    const v = [(seed + Q1 + Q2) & M64, (seed + Q2) & M64, seed, (seed - Q1) & M64];
    for (; p + 32 <= n; p += 32) for (let k = 0; k < 4; k++) v[k] = rnd(v[k], lane64(b, p + 8 * k));
    h = (rot(v[0], 1n) + rot(v[1], 7n) + rot(v[2], 12n) + rot(v[3], 18n)) & M64;
    for (const x of v) h = (((h ^ rnd(0n, x)) * Q1) & M64) + Q4 & M64;
  } else {
    h = (seed + Q5) & M64;
  }
  h = (h + BigInt(n)) & M64;
  for (; p + 8 <= n; p += 8) h = ((rot(h ^ rnd(0n, lane64(b, p)), 27n) * Q1 & M64) + Q4) & M64;
  if (p + 4 <= n) {
    h = ((rot(h ^ ((lane32(b, p) * Q1) & M64), 23n) * Q2 & M64) + Q3) & M64;
    p += 4;
  }
  for (; p < n; p++) h = (rot(h ^ ((BigInt(b[p]) * Q5) & M64), 11n) * Q1) & M64;
  h ^= h >> 33n;
  h = (h * Q2) & M64;
  h ^= h >> 29n;
  h = (h * Q3) & M64;
  h ^= h >> 32n;
  return h;
}

describe('xxh64', () => {
  it('matches the reference library on strings (UTF-8), seeds 0 and 1', () => {
    for (const [input, h0, h1] of STRING_VECTORS) {
      expect(xxh64(input), JSON.stringify(input)).toBe(h0);
      expect(xxh64(input, 1), JSON.stringify(input)).toBe(h1);
      expect(xxh64(input, 1n)).toBe(h1);
    }
  });

  it('matches the reference library with the largest seed', () => {
    for (const [input, h] of MAX_SEED_VECTORS) {
      expect(xxh64(input, (1n << 64n) - 1n)).toBe(h);
      expect(xxh64(input, -1n)).toBe(h); // bigint seeds are taken mod 2^64
    }
  });

  it('matches the reference library on byte arrays of every length class', () => {
    for (const [hex, h0, h1] of BYTE_VECTORS) {
      expect(xxh64(fromHex(hex)), hex).toBe(h0);
      expect(xxh64(fromHex(hex), 1), hex).toBe(h1);
    }
  });

  it("reproduces Envoy's ring points (ring_hash_lb_test.cc, Basic)", () => {
    expect(xxh64('127.0.0.1:90_0')).toBe(16117243373044804889n);
    expect(xxh64('127.0.0.1:94_1')).toBe(833437586790550860n);
    expect(xxh64('127.0.0.1:95_0')).toBe(3551244743356806947n);
  });

  it('agrees with a BigInt transcription of the spec on random bytes and seeds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: 0n, max: M64 }), (bytes, seed) => {
        expect(xxh64(bytes, seed)).toBe(referenceXxh64(bytes, seed));
      }),
      { seed: 1, numRuns: 400 },
    );
  });

  it('hashes a string as its UTF-8 bytes (TextEncoder), lone surrogates as U+FFFD', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        expect(xxh64(s)).toBe(xxh64(new TextEncoder().encode(s)));
      }),
      { seed: 2, numRuns: 300 },
    );
    expect(xxh64('\ud800x')).toBe(xxh64(new TextEncoder().encode('\ud800x')));
  });

  it('rejects number seeds that are not safe non-negative integers', () => {
    expect(() => xxh64('a', -1)).toThrow(RangeError);
    expect(() => xxh64('a', 0.5)).toThrow(RangeError);
    expect(() => xxh64('a', 2 ** 53)).toThrow(RangeError);
  });
});

describe('xxh64Into (halves) and the 53-bit forms', () => {
  it('writes the high and low halves of the same value, with no allocation of its own', () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER), (bytes, seed) => {
        const padded = new Uint8Array(bytes.length + 7); // bytes beyond `length` must be ignored
        padded.set(bytes);
        padded.fill(0xab, bytes.length);
        xxh64Into(padded, bytes.length, seed, out);
        expect((BigInt(out[0]) << 32n) | BigInt(out[1])).toBe(xxh64(bytes, seed));
      }),
      { seed: 3, numRuns: 200 },
    );
  });

  it('xxh64Hash53 and hashKey are the high 53 bits, exact integers below 2^53', () => {
    for (const [input, h0, h1] of STRING_VECTORS) {
      expect(xxh64Hash53(input)).toBe(Number(h0 >> 11n));
      expect(xxh64Hash53(input, 1)).toBe(Number(h1 >> 11n));
      expect(hashKey(input)).toBe(Number(h0 >> 11n));
      expect(Number.isSafeInteger(hashKey(input))).toBe(true);
    }
    expect(hash53FromHalves(0xffffffff, 0xffffffff)).toBe(2 ** 53 - 1);
    expect(hash53FromHalves(0, 0x7ff)).toBe(0);
  });
});

describe('request hashes', () => {
  it('toRequestHash passes integers in [0, 2^53) through and reduces anything else into that range', () => {
    expect(toRequestHash(0)).toBe(0);
    expect(toRequestHash(HASH53_SPAN - 1)).toBe(HASH53_SPAN - 1);
    expect(toRequestHash(-7)).toBe(7);
    expect(toRequestHash(3.9)).toBe(3);
    expect(toRequestHash(Number.NaN)).toBe(0);
    expect(toRequestHash(Number.POSITIVE_INFINITY)).toBe(0);
    expect(toRequestHash(2 ** 60)).toBe(0);
    fc.assert(
      fc.property(fc.double(), (x) => {
        const h = toRequestHash(x);
        expect(Number.isSafeInteger(h) && h >= 0 && h < HASH53_SPAN).toBe(true);
      }),
      { seed: 4, numRuns: 500 },
    );
  });

  it('randomRequestHash draws integers in [0, 2^53) whose top and bottom bits are both uniform', () => {
    const rng = rngStream(5, 'xxhash64/random');
    const N = 20_000;
    let top = 0;
    let bottom = 0;
    for (let i = 0; i < N; i++) {
      const h = randomRequestHash(rng);
      expect(Number.isSafeInteger(h) && h >= 0 && h < HASH53_SPAN).toBe(true);
      if (h >= 2 ** 52) top++;
      if (h % 2 === 1) bottom++;
    }
    // Each is Binomial(N, 1/2): sd = sqrt(N)/2 ≈ 71; allow 5 sd.
    const tol = 5 * Math.sqrt(N) / 2;
    expect(Math.abs(top - N / 2)).toBeLessThan(tol);
    expect(Math.abs(bottom - N / 2)).toBeLessThan(tol);
  });
});
