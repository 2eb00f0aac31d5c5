/**
 * The proxy's /metrics text, rendered by prom-client from meshsim's own counters. The
 * histograms are loaded through prom-client's internal record (it has no setter), so this
 * pins what a prom-client update must not change: cumulative `le` buckets, sum and count.
 */
import { describe, expect, it } from 'vitest';
import { ProxyCounters, proxyRegistry } from '../../../src/live/proxy/metrics.js';

describe('proxyRegistry', () => {
  it('renders the request histogram with cumulative buckets, sum and count, and counts by code', async () => {
    const counters = new ProxyCounters([{ address: '127.0.0.1:1', name: 'api-0' }]);
    for (const ms of [0.2, 0.7, 3, 3, 40, 2000]) counters.requestEnded(200, ms, true);
    counters.requestEnded(503, 1, false);
    const text = await proxyRegistry(counters, () => undefined).metrics();
    const line = (prefix: string): number => {
      const found = text.split('\n').find((l) => l.startsWith(prefix + ' '));
      if (found === undefined) throw new Error(`no line ${prefix} in:\n${text}`);
      return Number(found.slice(prefix.length + 1));
    };
    const bucket = (le: string): number => line(`meshsim_proxy_request_duration_seconds_bucket{le="${le}"}`);
    expect(bucket('0.0005')).toBe(1);
    expect(bucket('0.001')).toBe(3); // 0.2 ms, 0.7 ms and the 1 ms 503
    expect(bucket('0.005')).toBe(5);
    expect(bucket('0.05')).toBe(6);
    expect(bucket('2.5')).toBe(7);
    expect(bucket('+Inf')).toBe(7);
    expect(line('meshsim_proxy_request_duration_seconds_count')).toBe(7);
    expect(line('meshsim_proxy_request_duration_seconds_sum')).toBeCloseTo((0.2 + 0.7 + 3 + 3 + 40 + 2000 + 1) / 1000, 9);
    expect(line('meshsim_proxy_requests_total{code="200"}')).toBe(6);
    expect(line('meshsim_proxy_requests_total{code="503"}')).toBe(1);
  });

  it('renders again from the current counters on every scrape', async () => {
    const counters = new ProxyCounters([]);
    const registry = proxyRegistry(counters, () => undefined);
    counters.requestEnded(200, 2, true);
    expect(await registry.metrics()).toContain('meshsim_proxy_request_duration_seconds_count 1');
    counters.requestEnded(200, 2, true);
    expect(await registry.metrics()).toContain('meshsim_proxy_request_duration_seconds_count 2');
  });
});
