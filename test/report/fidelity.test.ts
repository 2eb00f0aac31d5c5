/**
 * The fidelity report: the simulation's error relative to live per figure, each checked
 * against its target, ranking agreement with ties, and the misses in words — on reports
 * built by hand, so every expected figure is known exactly.
 */
import { describe, expect, it } from 'vitest';
import { buildFidelityReport, fidelityMarkdown, FIDELITY_TARGETS } from '../../src/report/fidelity.js';
import type { Report, VariantReport } from '../../src/report/report.js';

interface Figures {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly success: number;
  readonly attempts: number;
  readonly shares: readonly number[];
}

function variant(name: string, f: Figures, runs = 1): VariantReport {
  return {
    name,
    summary: {
      requests: { total: 1000 * runs, succeeded: Math.round(1000 * runs * f.success), failed: 0, rejected: 0, timedOut: 0, errors: 0, resets: 0, connectFailures: 0, inFlight: 0 },
      successRate: f.success,
      throughputPerSec: 100,
      latencyMs: { mean: f.p50, p50: f.p50, p90: f.p90, p99: f.p99, p999: f.p99, max: f.p99 },
      attemptsPerRequest: f.attempts,
      ci: { successRate: null, throughputPerSec: null, mean: null, p50: null, p90: null, p99: null, p999: null, attemptsPerRequest: null },
    },
    layers: [],
    runs: Array.from({ length: runs }, () => ({}) as VariantReport['runs'][number]),
    instances: f.shares.map((share, index) => ({ service: 'api', index, zone: 'a', requests: 0, share, utilization: null, meanBusy: 0 })),
    spread: [],
    membership: [],
    timeline: { bucketMs: 1000, latencyRelativeError: 0.01, points: [] },
    faults: [],
  } as unknown as VariantReport;
}

function report(mode: 'sim' | 'live', variants: readonly VariantReport[]): Report {
  return {
    schema: 'meshsim/report@1',
    generator: 'meshsim test',
    mode,
    scenario: { name: 's', sha256: 'x' },
    seeds: mode === 'sim' ? [1, 2, 3] : [1],
    percentiles: { method: 'ddsketch', relativeError: 0.005 },
    statistics: { baseline: null } as unknown as Report['statistics'],
    variants,
  };
}

describe('buildFidelityReport', () => {
  const live = report('live', [
    variant('rr', { p50: 10, p90: 40, p99: 80, success: 0.99, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }),
    variant('ewma', { p50: 8, p90: 15, p99: 30, success: 1, attempts: 1, shares: [0.3, 0.3, 0.3, 0.1] }),
  ]);

  it('gives the simulation’s error relative to live and checks each target', () => {
    const sim = report('sim', [
      variant('rr', { p50: 10.5, p90: 46, p99: 90, success: 0.985, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }, 3),
      variant('ewma', { p50: 8.4, p90: 15, p99: 31, success: 0.975, attempts: 1.02, shares: [0.31, 0.31, 0.31, 0.07] }, 3),
    ]);
    const f = buildFidelityReport(sim, live, null);
    const [rr, ewma] = f.variants;
    expect(rr.requests).toEqual({ sim: 1000, live: 1000 });
    expect(rr.p50).toEqual({ sim: 10.5, live: 10, error: 0.05, pass: true });
    expect(rr.p90).toEqual({ sim: 46, live: 40, error: 0.15, pass: false });
    expect(rr.p99.pass).toBeUndefined();
    expect(rr.successRate).toEqual({ sim: 0.985, live: 0.99, errorPoints: -0.5, pass: true });
    expect(ewma.successRate).toMatchObject({ errorPoints: -2.5, pass: false });
    expect(ewma.attemptsPerRequest.error).toBeCloseTo(0.02, 9);
    expect(ewma.shares.map((s) => s.errorPoints)).toEqual([1, 1, 1, -3]);
    expect(ewma.shares.every((s) => s.pass)).toBe(true); // 3 points is on the target
    expect(f.targets).toEqual(FIDELITY_TARGETS);
    expect(f.misses).toEqual([
      'rr: p90 46.00 ms simulated vs 40.00 ms live (+15.0%, target ±10%)',
      'ewma: success rate 97.5% simulated vs 100.0% live (-2.50 pt, target ±1 pt)',
      'ranking by successRate differs: rr > ewma in the simulation, < live',
    ]);
    const md = fidelityMarkdown(f);
    expect(md).toMatch(/\| rr \| requests per run \| 1000 \| 1000 \| \| \|/);
    expect(md).toMatch(/## Misses/);
  });

  it('ranks variants in both worlds; pairs closer than the target are ties and agree', () => {
    const sim = report('sim', [
      variant('rr', { p50: 10, p90: 40, p99: 78, success: 0.99, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }),
      // p50 8.5 vs rr 10 in sim: 15% apart; live 8 vs 10: the same order. p99 sim 79 vs 78: a tie.
      variant('ewma', { p50: 8.5, p90: 16, p99: 79, success: 0.995, attempts: 1, shares: [0.3, 0.3, 0.3, 0.1] }),
    ]);
    const f = buildFidelityReport(sim, live, null);
    const byMetric = Object.fromEntries(f.ranking.map((r) => [r.metric, r]));
    expect(byMetric.p50).toMatchObject({ sim: ['ewma', 'rr'], live: ['ewma', 'rr'], agree: true });
    expect(byMetric.p99).toMatchObject({ sim: ['rr', 'ewma'], live: ['ewma', 'rr'], agree: true, disagreements: [] });
    expect(byMetric.successRate.agree).toBe(true);
    expect(f.misses).toEqual([]);
    expect(fidelityMarkdown(f)).toMatch(/None: every figure is within its target/);
  });

  it('with the simulation of the live seed (its twin), judges the twin and shows the all-seed estimate with its range over seeds', () => {
    const withRuns = (v: VariantReport, p50s: readonly number[]): VariantReport => ({
      ...v,
      runs: p50s.map((p50, k) => ({ seed: k + 1, latencyMs: { p50, p90: p50 * 4, p99: p50 * 8 }, successRate: 0.99 - k / 100, attemptsPerRequest: 1 })) as unknown as VariantReport['runs'],
    });
    const sim = report('sim', [
      withRuns(variant('rr', { p50: 12, p90: 48, p99: 96, success: 0.98, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }, 3), [10, 12, 14]),
      withRuns(variant('ewma', { p50: 8.4, p90: 15, p99: 31, success: 1, attempts: 1, shares: [0.36, 0.3, 0.3, 0.04] }, 3), [8, 8.4, 8.8]),
    ]);
    // The simulation of seed 1 alone: rr within every target; ewma's first share 4 points off.
    const twin = report('sim', [
      variant('rr', { p50: 10.2, p90: 41, p99: 81, success: 0.99, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }),
      variant('ewma', { p50: 8.1, p90: 15.5, p99: 30, success: 1, attempts: 1, shares: [0.34, 0.3, 0.28, 0.08] }),
    ]);
    const f = buildFidelityReport(sim, live, null, undefined, { ...twin, seeds: [1] });
    expect(f.verdicts).toBe('same-seeds');
    expect(f.sim).toEqual({ seeds: [1, 2, 3], compared: [1] });
    const [rr, ewma] = f.variants;
    // The verdicts are the twin's...
    expect(rr.p50).toEqual({ sim: 10.2, live: 10, error: 0.02, pass: true });
    expect(ewma.shares.map((x) => x.pass)).toEqual([false, true, true, true]);
    expect(f.misses).toEqual(['ewma: api/0 share 34.0% simulated vs 30.0% live (+4.00 pt, target ±3 pt)']);
    // ...and the all-seed estimate stands beside them, with its own misses and ranges.
    expect(rr.estimate?.p50).toEqual({ sim: 12, live: 10, error: 0.2, pass: false });
    expect(rr.estimate?.range.p50).toEqual({ min: 10, max: 14 });
    expect(rr.estimate?.range.successRate).toEqual({ min: 0.97, max: 0.99 });
    expect(rr.estimate?.requests).toBe(1000);
    expect(f.estimateMisses).toEqual([
      'rr: p50 12.00 ms simulated vs 10.00 ms live (+20.0%, target ±10%)',
      'rr: p90 48.00 ms simulated vs 40.00 ms live (+20.0%, target ±10%)',
      'ewma: api/0 share 36.0% simulated vs 30.0% live (+6.00 pt, target ±3 pt)',
      'ewma: api/3 share 4.0% simulated vs 10.0% live (-6.00 pt, target ±3 pt)',
    ]);
    const md = fidelityMarkdown(f);
    expect(md).toMatch(/verdicts compare live with the simulation of its own seed \(1\)/);
    expect(md).toMatch(/\| variant \| figure \| simulation, seed 1 \| live \| error \| target \| all 3 seeds \[range\] \| error \|/);
    expect(md).toMatch(/\| \| p50 ms \| 10\.20 \| 10\.00 \| \+2\.0% \| ✅ \| 12\.00 \[10\.00–14\.00\] \| \+20\.0% ❌ \|/);
    expect(md).toMatch(/### The estimate over all 3 seeds against the same live run/);
    // Without a twin the report is as before: the all-seed simulation is judged.
    expect(buildFidelityReport(sim, live, null)).toMatchObject({ verdicts: 'all-seeds', sim: { seeds: [1, 2, 3], compared: [1, 2, 3] } });
    expect(buildFidelityReport(sim, live, null).estimateMisses).toBeUndefined();
  });

  it('carries the plugins both worlds ran, after the scenario, and names them in fidelity.md; none: no key, no line', () => {
    const sim = report('sim', [variant('rr', { p50: 10, p90: 40, p99: 80, success: 0.99, attempts: 1, shares: [0.25, 0.25, 0.25, 0.25] }, 3)]);
    const plugins = [{ file: 'mine.mjs', sha256: 'e'.repeat(64), kinds: ['mine'] }];
    const f = buildFidelityReport({ ...sim, plugins }, live, null);
    expect(Object.keys(f).slice(2, 4)).toEqual(['scenario', 'plugins']);
    expect(f.plugins).toEqual(plugins);
    expect(fidelityMarkdown(f)).toContain(`\n- plugins: mine.mjs (mine; sha256 \`${'e'.repeat(64)}\`)\n`);
    const none = buildFidelityReport(sim, live, null);
    expect('plugins' in none).toBe(false);
    expect(fidelityMarkdown(none)).not.toContain('- plugins:');
  });

  it('states the calibration it used', () => {
    const calibration = {
      method: 'm',
      serviceTimeMs: 5,
      ratePerSec: 200,
      durationMs: 2000,
      direct: { requests: 300, mean: 6, p50: 5.8, p90: 6.5, p99: 9 },
      proxied: { requests: 300, mean: 7, p50: 6.6, p90: 7.5, p99: 11 },
      proxyOverheadMs: 0.8,
      hopLatencyMs: Array.from({ length: 100 }, (_, k) => 0.5 + k / 100),
      hopLatencyMedianMs: 0.8,
    };
    const f = buildFidelityReport(report('sim', live.variants), live, calibration);
    expect(f.calibration).toEqual(calibration);
    expect(fidelityMarkdown(f)).toMatch(/Proxy overhead at the median: 0\.80 ms/);
  });
});
