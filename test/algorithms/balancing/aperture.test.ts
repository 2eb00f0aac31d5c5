/**
 * Deterministic aperture: Finagle's ring arithmetic (coordinate, width, overlap weights),
 * the tiling property (summed over all clients every server is covered equally), the load
 * spread over a fleet of clients, window confinement, and the common policy properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aperture,
  ApertureBalancer,
  coordinateOffset,
  dApertureWidth,
  INT_MAX,
  ringIndices,
  ringPick,
  ringPickSecond,
  ringRange,
  ringWeight,
} from '../../../src/algorithms/balancing/aperture.js';
import { soloEnvironment, type BalancerEnvironment } from '../../../src/algorithms/types.js';
import { rngStream } from '../../../src/core/rng.js';
import { commonPolicyProperties, endpoints, OK, testWorld } from './_weighted-load-fixtures.js';

const defaults = aperture.config.parse({});

function client(index: number, count: number): BalancerEnvironment {
  return { localZone: 'z1', clientIndex: index, clientCount: count, localZoneSizes: new Map([['z1', count]]) };
}

describe('aperture', () => {
  commonPolicyProperties((ports) => aperture.create(defaults, ports, client(3, 7)));

  it('has Finagle defaults', () => {
    expect(defaults).toEqual({ minDeterministicAperture: 12, minApertureOverride: 0, peerOffset: 0, maxEffort: 5, load: 'outstanding', defaultRtt: 30, decay: 10_000 });
    expect(aperture.config.safeParse({ aperture: 3 }).success).toBe(false);
  });
});

describe('ring arithmetic', () => {
  it('coordinate: (i/C + peerOffset/Int.MaxValue) mod 1', () => {
    expect(coordinateOffset(0, 4)).toBe(0);
    expect(coordinateOffset(3, 4)).toBe(0.75);
    expect(coordinateOffset(3, 4, INT_MAX / 2)).toBeCloseTo(0.25, 12);
    expect(coordinateOffset(0, 4, -INT_MAX / 4)).toBeCloseTo(0.75, 12);
  });

  it('width: min(1, ⌈(A/N)/(1/C)⌉ · 1/C)', () => {
    expect(dApertureWidth(1 / 10, 1 / 100, 12)).toBeCloseTo(0.2, 12); // ⌈1.2⌉ = 2 slices of 1/10
    expect(dApertureWidth(1 / 4, 1 / 30, 12)).toBe(0.5); // ⌈1.6⌉ = 2 slices of 1/4
    expect(dApertureWidth(1 / 100, 1 / 10, 10)).toBe(1);
    expect(dApertureWidth(1, 1 / 100, 12)).toBe(1); // a lone client uses every server
    expect(dApertureWidth(1 / 1000, 1 / 100, 12)).toBeCloseTo(0.12, 12);
  });

  it('overlap weights: partial at the edges, 1 inside, summing to width·N', () => {
    // 10 servers, window [0.05, 0.35): half of 0, all of 1 and 2, half of 3.
    expect(ringIndices(10, 0.05, 0.3)).toEqual([0, 1, 2, 3]);
    expect(ringRange(10, 0.05, 0.3)).toBe(4);
    [0.5, 1, 1, 0.5, 0].forEach((w, j) => expect(ringWeight(j, 10, 0.05, 0.3)).toBeCloseTo(w, 9));
    // Both ends of a full-width window in server 0: it is still covered whole.
    expect(ringWeight(0, 10, 0.05, 1)).toBeCloseTo(1, 9);
    // A window wrapping past 1: [0.9, 1.1) covers 9 and 0.
    expect(ringIndices(10, 0.9, 0.2)).toEqual([9, 0]);
    expect(ringWeight(0, 10, 0.9, 0.2)).toBeCloseTo(1, 12);
    expect(ringWeight(9, 10, 0.9, 0.2)).toBeCloseTo(1, 12);
    expect(ringWeight(5, 10, 0.9, 0.2)).toBe(0);
  });

  it('every client window has the stated width; summed over the clients every server is covered C·width times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: INT_MAX }), (n, c, peerOffset) => {
        const width = dApertureWidth(1 / c, 1 / n, Math.min(12, n));
        expect(width).toBeGreaterThanOrEqual(Math.min(12, n) / n - 1e-12);
        expect(width).toBeLessThanOrEqual(1);
        expect(Math.abs(width * c - Math.round(width * c))).toBeLessThan(1e-9); // whole client slices
        const coverage = new Float64Array(n);
        for (let i = 0; i < c; i++) {
          const offset = coordinateOffset(i, c, peerOffset);
          let sum = 0;
          for (const j of ringIndices(n, offset, width)) {
            const w = ringWeight(j, n, offset, width);
            coverage[j] += w;
            sum += w;
          }
          // Finagle's ring range trims the window's end by a relative 1e-6, hence the tolerance.
          expect(Math.abs(sum - width * n)).toBeLessThan(1e-5 * width * n);
        }
        for (let j = 0; j < n; j++) expect(Math.abs(coverage[j] - c * width)).toBeLessThan(1e-5 * c * width + 1e-9);
      }),
      { seed: 17, numRuns: 400 },
    );
  });

  it('the first draw lands on a server in proportion to its overlap; the second avoids it', () => {
    const rng = rngStream(2, 'aperture/ring');
    const counts = new Array<number>(10).fill(0);
    const n = 100_000;
    let badSecond = 0;
    for (let k = 0; k < n; k++) {
      const a = ringPick(rng, 10, 0.05, 0.3);
      counts[a]++;
      const b = ringPickSecond(rng, a, 10, 0.05, 0.3);
      if (b === a || b > 3) badSecond++;
    }
    expect(badSecond).toBe(0);
    // Expected shares 0.5/3, 1/3, 1/3, 0.5/3 of the window; 5σ bounds.
    const expected = [1 / 6, 1 / 3, 1 / 3, 1 / 6];
    expected.forEach((p, j) => expect(Math.abs(counts[j] / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n)));
    expect(counts.slice(4).every((x) => x === 0)).toBe(true);
    // A window that is one server wide leaves no second choice.
    expect(ringPickSecond(rng, 3, 10, 0.3, 0.1)).toBe(3);
  });
});

describe('ApertureBalancer', () => {
  it('picks only inside its window, and each client’s window has the stated width', () => {
    const eps = endpoints(100);
    for (let i = 0; i < 10; i++) {
      const lb = new ApertureBalancer(rngStream(i, 'aperture/window'), defaults, client(i, 10));
      lb.rebuild(eps);
      expect(lb.window.width).toBeCloseTo(0.2, 12);
      const allowed = new Set(ringIndices(100, lb.window.offset, lb.window.width).map((j) => `e${String(j)}`));
      // Ring order is by id: e0, e1, e10, e11, …; map ring positions to ids.
      const sortedIds = eps.map((e) => e.id).sort();
      const allowedIds = new Set([...allowed].map((s) => sortedIds[Number(s.slice(1))]));
      expect(allowedIds.size).toBe(20);
      for (let k = 0; k < 500; k++) expect(allowedIds.has(eps[lb.pick()].id)).toBe(true);
    }
  });

  it('a fleet of clients spreads load evenly over the servers (max/mean within the binomial bound)', () => {
    const nServers = 50;
    const nClients = 20;
    const perClient = 5000;
    const eps = endpoints(nServers);
    const counts = new Array<number>(nServers).fill(0);
    for (let c = 0; c < nClients; c++) {
      const lb = new ApertureBalancer(rngStream(c, 'aperture/fleet'), defaults, client(c, nClients));
      lb.rebuild(eps);
      for (let k = 0; k < perClient; k++) counts[lb.pick()]++; // no load: the first draw wins (∝ overlap)
    }
    const mean = (nClients * perClient) / nServers; // 2000
    // Each server's count is a sum of binomials with mean 2000: 5σ ≈ 5·√2000 ≈ 224 → 11%.
    expect(Math.max(...counts) / mean).toBeLessThan(1 + (5 * Math.sqrt(mean)) / mean);
    expect(Math.min(...counts) / mean).toBeGreaterThan(1 - (5 * Math.sqrt(mean)) / mean);
  });

  it('weighted P2C inside the window: the less loaded (per overlap weight) of the two draws wins', () => {
    const { ports } = testWorld(4);
    const lb = aperture.create(defaults, ports, soloEnvironment()) as ApertureBalancer;
    const eps = endpoints(4);
    lb.rebuild(eps);
    // Load endpoint 0 heavily: it should now almost never win (only when drawn twice — impossible, draws are distinct).
    for (let k = 0; k < 10; k++) lb.onStart(0);
    for (let k = 0; k < 2000; k++) expect(lb.pick()).not.toBe(0);
    for (let k = 0; k < 10; k++) lb.onEnd(0, OK, 1);
    let zero = 0;
    for (let k = 0; k < 4000; k++) if (lb.pick() === 0) zero++;
    expect(zero).toBeGreaterThan(500);
  });

  it('prefers healthy over degraded endpoints in the window', () => {
    const { ports } = testWorld(5);
    const lb = aperture.create(defaults, ports, soloEnvironment());
    const eps = endpoints([{ health: 'degraded' }, {}, { health: 'degraded' }, {}]);
    lb.rebuild(eps);
    for (let k = 0; k < 2000; k++) expect(eps[lb.pick({})].health).toBe('healthy');
    lb.rebuild(endpoints([{ health: 'degraded' }, { health: 'unhealthy' }]));
    expect(lb.pick({})).toBe(0);
  });

  it('keeps outstanding counts by id across rebuilds', () => {
    const { ports } = testWorld(6);
    const lb = aperture.create(defaults, ports, soloEnvironment());
    const eps = endpoints(2);
    lb.rebuild(eps);
    for (let k = 0; k < 5; k++) lb.onStart(1);
    lb.rebuild([eps[1], eps[0]]); // e1 now at index 0
    for (let k = 0; k < 100; k++) expect(lb.pick({})).toBe(1);
    for (let k = 0; k < 5; k++) lb.onEnd(0, OK, 1);
    lb.onEnd(0, OK, 1); // an extra end never goes below 0
  });

  it('load: peak-ewma compares latency cost instead of counts (Finagle AperturePeakEwma)', () => {
    const { ports, engine } = testWorld(8);
    const lb = aperture.create(aperture.config.parse({ load: 'peak-ewma' }), ports, soloEnvironment()) as ApertureBalancer;
    expect(lb.metric.constructor.name).toBe('PeakEwmaLoad');
    lb.rebuild(endpoints(4));
    // Endpoint 2 answered slowly once, nothing is outstanding anywhere: it loses every pair it is in.
    lb.onStart(2);
    lb.onEnd(2, OK, 500);
    engine.run(engine.now() + 1);
    for (let k = 0; k < 2000; k++) expect(lb.pick()).not.toBe(2);
    // With outstanding requests as the load (the default) the slow answer leaves no trace.
    const plain = aperture.create(defaults, testWorld(8).ports, soloEnvironment());
    plain.rebuild(endpoints(4));
    plain.onStart(2);
    plain.onEnd(2, OK, 500);
    expect(Array.from({ length: 2000 }, () => plain.pick({})).filter((e) => e === 2).length).toBeGreaterThan(200);
  });

  it('minApertureOverride sets the logical aperture', () => {
    const lb = new ApertureBalancer(rngStream(1, 'x'), { ...defaults, minApertureOverride: 30 }, client(0, 10));
    lb.rebuild(endpoints(100));
    expect(lb.window.width).toBeCloseTo(0.3, 12);
  });
});
