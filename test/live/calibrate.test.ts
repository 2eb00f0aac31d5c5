/**
 * Calibration: two short live measurements (straight to an instance, through a proxy)
 * give a per-hop latency for the simulator that is a proper distribution (100 ordered,
 * non-negative quantiles) consistent with the round trips measured.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { calibrate } from '../../src/live/calibrate.js';
import { liveChildren } from '../../src/live/process.js';

afterEach(() => {
  expect(liveChildren()).toEqual([]);
});

describe('calibrate', () => {
  it('measures round trips and derives the per-hop latency from the proxied one', async () => {
    const c = await calibrate({ seed: 1, serviceTimeMs: 3, rate: 150, durationMs: 800 });
    expect(c.serviceTimeMs).toBe(3);
    // Poisson(150/s × 0.6 s measured = 90): far more than the 10 the calibration needs.
    expect(c.direct.requests).toBeGreaterThan(30);
    expect(c.proxied.requests).toBeGreaterThan(30);
    // A timer never fires early by more than its ms truncation: each round trip holds the service time.
    expect(c.direct.p50).toBeGreaterThan(2);
    expect(c.proxied.p50).toBeGreaterThan(2);
    expect(c.hopLatencyMs).toHaveLength(100);
    for (let k = 1; k < 100; k++) expect(c.hopLatencyMs[k]).toBeGreaterThanOrEqual(c.hopLatencyMs[k - 1]);
    expect(c.hopLatencyMs[0]).toBeGreaterThanOrEqual(0);
    // Two hops at the median quantile give back the proxied median minus the service time (sketch error ≤ 1%).
    expect(c.hopLatencyMedianMs).toBeCloseTo(Math.max(0, (c.proxied.p50 - 3) / 2), 1);
    expect(c.proxyOverheadMs).toBeCloseTo(c.proxied.p50 - c.direct.p50, 2);
  }, 30_000);
});
