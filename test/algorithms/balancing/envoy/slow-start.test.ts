/**
 * Slow start: Envoy's weight formula, and when an endpoint enters slow start (join healthy,
 * unhealthy → healthy, re-join after leaving).
 */
import { describe, expect, it } from 'vitest';
import { slowStartFactor, slowStartHealth, slowStartWeight, SlowStartTracker } from '../../../../src/algorithms/balancing/envoy/slow-start.js';
import type { Endpoint, Health } from '../../../../src/algorithms/types.js';

const opts = { window: 10_000, aggression: 1, minWeight: 0.1 };

describe('slowStartFactor', () => {
  it('is max(minWeight, tf^(1/aggression)) with tf = max(1 ms, elapsed)/window', () => {
    expect(slowStartFactor(0, opts)).toBe(0.1); // tf = 1/10000, floored
    expect(slowStartFactor(500, opts)).toBe(0.1);
    expect(slowStartFactor(1000, opts)).toBe(0.1);
    expect(slowStartFactor(5000, opts)).toBe(0.5);
    expect(slowStartFactor(9999, opts)).toBeCloseTo(0.9999, 12);
    expect(slowStartFactor(10_000, opts)).toBe(1);
    expect(slowStartFactor(50_000, opts)).toBe(1);
    expect(slowStartFactor(2500, { ...opts, aggression: 2 })).toBeCloseTo(0.5, 12); // √0.25
    expect(slowStartFactor(5000, { ...opts, aggression: 0.5 })).toBeCloseTo(0.25, 12); // 0.5²
    expect(slowStartFactor(0, { ...opts, minWeight: 0 })).toBeCloseTo(1e-4, 12); // 1 ms floor on elapsed
    expect(slowStartFactor(NaN, opts)).toBe(1); // never entered
  });

  it('scales the weight', () => {
    expect(slowStartWeight(4, 5000, opts)).toBe(2);
  });
});

describe('SlowStartTracker', () => {
  it('starts endpoints that join healthy, at the rebuild time', () => {
    const t = new SlowStartTracker(opts);
    expect(t.observe(['a', 'b'], ['healthy', 'unhealthy'], 100)).toBe(true);
    expect(t.startOf('a')).toBe(100);
    expect(t.startOf('b')).toBeNaN();
    expect(t.inWindow('a', 10_099)).toBe(true);
    expect(t.inWindow('a', 10_100)).toBe(false);
  });

  it('restarts an endpoint that turns healthy after being unhealthy (and one that was degraded on arrival)', () => {
    const t = new SlowStartTracker(opts);
    t.observe(['a', 'b'], ['healthy', 'degraded'], 0);
    t.observe(['a', 'b'], ['unhealthy', 'degraded'], 20_000);
    expect(t.observe(['a', 'b'], ['healthy', 'healthy'], 30_000)).toBe(true);
    expect(t.startOf('a')).toBe(30_000);
    expect(t.startOf('b')).toBe(30_000);
  });

  it('does not restart on healthy → degraded → healthy, nor on unrelated rebuilds', () => {
    const t = new SlowStartTracker(opts);
    t.observe(['a'], ['healthy'], 0);
    t.observe(['a'], ['degraded'], 1000);
    t.observe(['a'], ['healthy'], 2000);
    expect(t.startOf('a')).toBe(0);
    expect(t.observe(['a'], ['healthy'], 20_000)).toBe(false);
  });

  it('an endpoint that leaves and comes back is new again', () => {
    const t = new SlowStartTracker(opts);
    t.observe(['a', 'b'], ['healthy', 'healthy'], 0);
    t.observe(['a'], ['healthy'], 50_000);
    expect(t.startOf('b')).toBeNaN();
    t.observe(['a', 'b'], ['healthy', 'healthy'], 60_000);
    expect(t.startOf('b')).toBe(60_000);
    expect(t.startOf('a')).toBe(0);
  });
});

describe('outlier ejection is not a failed health check', () => {
  const ep = (health: Health, healthWithoutEjection?: Health): Endpoint => ({
    id: 'a',
    address: '10.0.0.1:80',
    zone: 'z',
    weight: 1,
    health,
    priority: 0,
    metadata: {},
    ...(healthWithoutEjection ? { healthWithoutEjection } : {}),
  });

  it('slowStartHealth: the health apart from an ejection', () => {
    expect(slowStartHealth(ep('healthy'))).toBe('healthy');
    expect(slowStartHealth(ep('unhealthy'))).toBe('unhealthy');
    expect(slowStartHealth(ep('unhealthy', 'healthy'))).toBe('healthy');
    expect(slowStartHealth(ep('unhealthy', 'degraded'))).toBe('degraded');
    expect(slowStartHealth(ep('unhealthy', 'unhealthy'))).toBe('unhealthy');
  });

  it('an ejection and its end keep the start time', () => {
    const t = new SlowStartTracker(opts);
    t.observe(['a'], ['healthy'], 0);
    t.observe(['a'], [slowStartHealth(ep('unhealthy', 'healthy'))], 5000);
    t.observe(['a'], ['healthy'], 8000);
    expect(t.startOf('a')).toBe(0);
  });

  it('a host failing its checks that passes them while still ejected starts when it passes, not when it returns', () => {
    const t = new SlowStartTracker(opts);
    t.observe(['a'], ['healthy'], 0);
    t.observe(['a'], [slowStartHealth(ep('unhealthy'))], 20_000); // fails its checks
    t.observe(['a'], [slowStartHealth(ep('unhealthy', 'unhealthy'))], 21_000); // ejected too
    t.observe(['a'], [slowStartHealth(ep('unhealthy', 'healthy'))], 25_000); // passes, still ejected
    t.observe(['a'], ['healthy'], 31_000); // the ejection ends
    expect(t.startOf('a')).toBe(25_000);
  });
});
