import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expNegSmall, MAX_SMALL_STEP, PeakEwmaLoad, peakEwmaUpdate } from '../../../../src/algorithms/balancing/load/peak-ewma.js';
import { EndpointCarry } from '../../../../src/algorithms/balancing/load/types.js';
import { CONNECT_FAILURE, endpoints, OK, testWorld } from '../_weighted-load-fixtures.js';

const TAU = 10_000;

function setup(n = 2, options = { defaultRttMs: 30, decayMs: TAU }) {
  const world = testWorld();
  const m = new PeakEwmaLoad(world.ports.clock, options);
  const carry = new EndpointCarry();
  const eps = endpoints(n);
  m.rebuild(eps, carry.next(eps));
  return { world, m, carry };
}

describe('peakEwmaUpdate', () => {
  it('adopts a peak at once', () => {
    expect(peakEwmaUpdate(30, 250, 1, TAU)).toBe(250);
    expect(peakEwmaUpdate(30, 250, 0, TAU)).toBe(250);
  });

  it('moves towards a lower RTT by 1 − e^(−Δt/τ)', () => {
    const d = Math.exp(-5000 / TAU);
    expect(peakEwmaUpdate(100, 20, 5000, TAU)).toBeCloseTo(100 * d + 20 * (1 - d), 12);
    expect(peakEwmaUpdate(100, 20, 0, TAU)).toBe(100); // no time passed: no weight on the new sample
    expect(peakEwmaUpdate(100, 100, 3000, TAU)).toBeCloseTo(100, 12);
  });

  it('always lies between the observation and max(estimate, observation)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (est, rtt, dt) => {
        const next = peakEwmaUpdate(est, rtt, dt, TAU);
        expect(next).toBeGreaterThanOrEqual(Math.min(est, rtt) - 1e-9);
        expect(next).toBeLessThanOrEqual(Math.max(est, rtt) + 1e-9);
      }),
      { seed: 31, numRuns: 500 },
    );
  });
});

describe('PeakEwmaLoad', () => {
  it('starts a new endpoint at the 30 ms prior: cost = 30 × (pending + 1)', () => {
    const { m } = setup();
    expect(m.load(0)).toBe(30);
    m.onStart(0);
    m.onStart(0);
    expect(m.load(0)).toBe(90);
    expect(m.pendingOf(0)).toBe(2);
  });

  it('a latency spike sets the estimate to the RTT immediately', () => {
    const { world, m } = setup();
    m.onStart(0);
    world.advanceTo(400);
    m.onEnd(0, OK, 400);
    expect(m.rttEstimate(0)).toBe(400);
    expect(m.load(0)).toBe(400);
  });

  it('decays on every read as if an RTT of 0 were observed: est·e^(−Δt/τ)', () => {
    const { world, m } = setup();
    m.onStart(0);
    world.advanceTo(100);
    m.onEnd(0, OK, 100); // est = 100 at t = 100
    world.advanceTo(100 + TAU);
    expect(m.rttEstimate(0)).toBeCloseTo(100 * Math.exp(-1), 10); // 36.79 ms
    world.advanceTo(100 + 3 * TAU);
    expect(m.rttEstimate(0)).toBeCloseTo(100 * Math.exp(-3), 10); // piecewise reads compose
    // The untouched prior decays from the time it was stamped (rebuild at t = 0).
    expect(m.rttEstimate(1)).toBeCloseTo(30 * Math.exp(-(100 + 3 * TAU) / TAU), 10);
  });

  it('blends a lower RTT by the time since the last update, including reads', () => {
    const { world, m } = setup();
    m.onStart(0);
    world.advanceTo(200);
    m.onEnd(0, OK, 200); // est 200 @ 200
    world.advanceTo(2200);
    m.load(0); // read: est = 200·e^(−0.2) @ 2200
    world.advanceTo(7200);
    m.onStart(0);
    m.onEnd(0, OK, 10); // 5 s after the read
    const afterRead = 200 * Math.exp(-0.2);
    const d = Math.exp(-0.5);
    expect(m.rttEstimate(0)).toBeCloseTo(afterRead * d + 10 * (1 - d), 10);
  });

  it('feeds failures too (tower does), so a fast failure pulls the estimate down', () => {
    const { world, m } = setup();
    world.advanceTo(5000);
    m.onStart(0);
    m.onEnd(0, CONNECT_FAILURE, 1); // 5 s after the prior was stamped at t = 0
    const d = Math.exp(-0.5);
    expect(m.rttEstimate(0)).toBeCloseTo(30 * d + 1 * (1 - d), 10); // ≈ 18.6 ms
    expect(m.pendingOf(0)).toBe(0);
  });

  it('keeps estimate and pending across a rebuild for endpoints that stay; newcomers get the prior', () => {
    const { world, m, carry } = setup(0);
    const before = endpoints([{ id: 'a' }, { id: 'b' }]);
    m.rebuild(before, carry.next(before));
    m.onStart(1);
    m.onStart(1);
    world.advanceTo(50);
    m.onEnd(1, OK, 500); // b: est 500, pending 1
    const after = endpoints([{ id: 'c' }, { id: 'b' }]);
    m.rebuild(after, carry.next(after));
    expect(m.rttEstimate(1)).toBe(500);
    expect(m.pendingOf(1)).toBe(1);
    expect(m.load(1)).toBe(1000);
    expect(m.load(0)).toBe(30);
  });

  it('stays exact over long horizons (the decay scale rebases every 256 τ without drift)', () => {
    // Endpoint 0 is read every 50 τ for 2000 τ; endpoint 1 observes and is read rarely. Both
    // must match the closed forms: pure decay composes to est·e^(−t/τ).
    const { world, m } = setup(2, { defaultRttMs: 30, decayMs: 1000 });
    m.onStart(1);
    m.onEnd(1, OK, 5e300);
    for (let t = 50_000; t <= 2_000_000; t += 50_000) {
      world.advanceTo(t);
      const expected = 30 * Math.exp(-t / 1000);
      const got = m.rttEstimate(0);
      if (expected > 1e-300) expect(got / expected).toBeCloseTo(1, 9);
      else expect(got).toBeLessThan(1e-290);
    }
    // Endpoint 1 unread for 2000 τ: its factor underflows to 0, as e^(−2000) does.
    expect(m.rttEstimate(1)).toBe(0);
    // After rebases, a fresh observation blends with the right weight.
    m.onStart(0);
    m.onEnd(0, OK, 40); // a peak over a ~0 estimate: adopted
    world.advanceTo(2_000_500);
    m.onStart(0);
    m.onEnd(0, OK, 10);
    const d = Math.exp(-0.5);
    expect(m.rttEstimate(0)).toBeCloseTo(40 * d + 10 * (1 - d), 10);
  });

  it('decays exactly at fine-grained readings too (no exp call per reading, no drift)', () => {
    // Readings 0.01 ms to 30 ms apart: most fall within an anchor's polynomial range, some
    // re-anchor. After each, the estimate must equal the closed form 30·e^(−t/τ): every
    // read is one polynomial from an exact anchor, so errors stay at rounding level.
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 1, max: 30, noNaN: true })), { minLength: 1, maxLength: 300 }), (steps) => {
        const { world, m } = setup(1);
        let t = 0;
        for (const dt of steps) {
          t += dt;
          world.advanceTo(t);
          expect(Math.abs(m.rttEstimate(0) / (30 * Math.exp(-t / TAU)) - 1)).toBeLessThan(1e-13);
        }
      }),
    );
  });

  it('honours the options and validates them', () => {
    const { m } = setup(1, { defaultRttMs: 5, decayMs: 1000 });
    expect(m.load(0)).toBe(5);
    const world = testWorld();
    expect(() => new PeakEwmaLoad(world.ports.clock, { defaultRttMs: 30, decayMs: 0 })).toThrow(RangeError);
    expect(() => new PeakEwmaLoad(world.ports.clock, { defaultRttMs: -1, decayMs: 10 })).toThrow(RangeError);
  });
});

describe('expNegSmall', () => {
  it('is e^(−y) to within an ulp or so over [0, 2^-10], the steps it is used for', () => {
    const ulp = 2 ** -53; // of results in (0.999, 1]
    fc.assert(
      fc.property(fc.double({ min: 0, max: MAX_SMALL_STEP, noNaN: true }), (y) => {
        expect(Math.abs(expNegSmall(y) - Math.exp(-y))).toBeLessThanOrEqual(2 * ulp);
      }),
    );
    expect(expNegSmall(0)).toBe(1);
    expect(MAX_SMALL_STEP).toBe(1 / 1024);
  });
});
