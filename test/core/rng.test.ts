import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { aleaKey, RngBank, RngStreams, rngStream } from '../../src/core/rng.js';
import type { Rng } from '../../src/core/ports.js';

const draw = (rng: Rng, n: number): Float64Array => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next();
  return out;
};

/** Pearson correlation; for independent uniforms it is ≈ N(0, 1/n). */
const correlation = (a: Float64Array, b: Float64Array): number => {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
};

const PURPOSES = ['arrivals/users', 'service/api/3', 'network', 'balancer/users/0', 'faults'];
const N = 100_000;
/** Five standard errors of a correlation estimate from N independent pairs. */
const CORR_TOL = 5 / Math.sqrt(N);

describe('rngStream', () => {
  it('is deterministic in (seed, purpose)', () => {
    expect(draw(rngStream(42, 'service/api/3'), 1000)).toEqual(draw(rngStream(42, 'service/api/3'), 1000));
  });

  it('pins the first draws (a change here reshuffles every recorded report)', () => {
    expect(Array.from(draw(rngStream(42, 'arrivals/users'), 3))).toEqual([
      0.5148173067718744, 0.04411058151163161, 0.8912839479744434,
    ]);
  });

  it('draws in [0, 1) with mean 1/2 and variance 1/12', () => {
    const xs = draw(rngStream(7, 'network'), N);
    let sum = 0;
    let sq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const x of xs) {
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sq += x * x;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const mean = sum / N;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    // Var(U²) = 1/5 − 1/9 = 4/45.
    expect(Math.abs(sq / N - 1 / 3)).toBeLessThan(5 * Math.sqrt(4 / 45 / N));
  });

  it('gives uncorrelated streams for different purposes', () => {
    const streams = PURPOSES.map((p) => draw(rngStream(1, p), N));
    for (let i = 0; i < streams.length; i++) {
      for (let j = i + 1; j < streams.length; j++) {
        expect(Math.abs(correlation(streams[i], streams[j]))).toBeLessThan(CORR_TOL);
      }
    }
  });

  it('gives uncorrelated streams for adjacent seeds and similar purposes', () => {
    const pairs: [Rng, Rng][] = [
      [rngStream(1, 'service/api/3'), rngStream(2, 'service/api/3')],
      [rngStream(1, 'service/api/3'), rngStream(1, 'service/api/4')],
      [rngStream(1, 'balancer/users/0'), rngStream(1, 'balancer/users/1')],
    ];
    for (const [a, b] of pairs) expect(Math.abs(correlation(draw(a, N), draw(b, N)))).toBeLessThan(CORR_TOL);
  });

  it('has no lag-1 autocorrelation', () => {
    const xs = draw(rngStream(3, 'faults'), N + 1);
    expect(Math.abs(correlation(xs.subarray(0, N), xs.subarray(1)))).toBeLessThan(CORR_TOL);
  });

  it('builds the seed string unambiguously', () => {
    const first = (seed: number, purpose: string) => rngStream(seed, purpose).next();
    expect(first(12, '3')).not.toBe(first(1, '23'));
    expect(first(1, 'a')).not.toBe(first(1, 'a\0'));
    expect(first(1, '')).not.toBe(first(1, ' '));
  });

  it('rejects a non-finite seed', () => {
    expect(() => rngStream(NaN, 'x')).toThrow(RangeError);
    expect(() => new RngStreams(Infinity)).toThrow(RangeError);
  });
});

describe('RngStreams', () => {
  it('throws when a purpose is requested twice', () => {
    const streams = new RngStreams(5);
    streams.stream('faults');
    expect(() => streams.stream('faults')).toThrow(/faults/);
  });

  it('gives each purpose the same stream whatever else is requested (common random numbers)', () => {
    const a = new RngStreams(9);
    const arrivalsA = draw(a.stream('arrivals/users'), 100);
    const b = new RngStreams(9);
    draw(b.stream('service/api/0'), 50);
    draw(b.stream('faults'), 50);
    expect(draw(b.stream('arrivals/users'), 100)).toEqual(arrivalsA);
    expect(draw(rngStream(9, 'arrivals/users'), 100)).toEqual(arrivalsA);
  });
});

describe('RngBank', () => {
  const purposes = ['service/api/0', 'service/api/1', 'service/db/0'];

  it('gives stream i exactly the draws of rngStream(seed, purposes[i]), interleaved or not', () => {
    const bank = new RngStreams(4).bank(purposes, 16, 0, new Int32Array(16 * purposes.length));
    const got: number[][] = purposes.map(() => []);
    // Interleave the streams in an irregular order.
    for (let k = 0; k < 300; k++) {
      const i = (k * 7 + (k >> 3)) % purposes.length;
      bank.select(i);
      got[i].push(bank.next());
    }
    purposes.forEach((p, i) => expect(got[i]).toEqual(Array.from(draw(rngStream(4, p), got[i].length))));
  });

  it('hands out a stand-alone view of one stream that shares its state', () => {
    const bank = new RngStreams(4).bank(purposes);
    const view = bank.stream(2);
    const first = view.next();
    bank.select(2);
    const second = bank.next();
    expect([first, second]).toEqual(Array.from(draw(rngStream(4, 'service/db/0'), 2)));
  });

  it('leaves the words of a shared record outside its own alone', () => {
    const rec = new Int32Array(8 * 2).fill(77);
    const bank = new RngBank(1, ['a', 'b'], 8, 2, rec);
    bank.select(1);
    bank.next();
    for (const w of [0, 1, 6, 7, 8, 9, 14, 15]) expect(rec[w]).toBe(77);
    expect(() => new RngBank(1, ['a'], 4, 1)).toThrow(RangeError);
  });

  it('counts its purposes as issued', () => {
    const streams = new RngStreams(1);
    streams.bank(['x']);
    expect(() => streams.stream('x')).toThrow(/twice/);
  });
});

describe('aleaKey', () => {
  it("writes the first four int32() words of seedrandom's Alea for any key, bit for bit", () => {
    const out = new Int32Array(6);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.integer({ min: 0, max: 2 }), (key, o) => {
        out.fill(7);
        aleaKey(key, out, o);
        const alea = seedrandom.alea(key);
        expect(Array.from(out.subarray(o, o + 4))).toEqual([alea.int32(), alea.int32(), alea.int32(), alea.int32()]);
        // Nothing outside its four words.
        for (let w = 0; w < out.length; w++) if (w < o || w >= o + 4) expect(out[w]).toBe(7);
      }),
      { numRuns: 2000 },
    );
    // The keys a simulation uses: JSON of (seed, purpose), thousands of instances.
    for (let i = 0; i < 5000; i++) {
      const key = JSON.stringify([i % 3 === 0 ? -i / 7 : i, `service/api/${i}`]);
      aleaKey(key, out, 1);
      const alea = seedrandom.alea(key);
      expect(Array.from(out.subarray(1, 5))).toEqual([alea.int32(), alea.int32(), alea.int32(), alea.int32()]);
    }
  });
});
