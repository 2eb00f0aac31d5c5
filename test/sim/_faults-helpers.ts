/**
 * Helpers for the fault-injection tests: scenarios with a `faults:` section (built on the
 * one-service, one-workload builder of ./_scenario.ts), a FaultContext that mirrors the
 * world's, and small readers of a RunResult's timeline.
 */
import { RngStreams } from '../../src/core/rng.js';
import { faultWindows, type FaultContext, type FaultWindow } from '../../src/sim/faults.js';
import type { RunResult } from '../../src/sim/metrics.js';
import type { Scenario } from '../../src/scenario/types.js';
import { load, scenarioYaml, type Options } from './_scenario.js';

/** The `faults:` section for faults written as YAML flow mappings. */
export function faultsYaml(faults: readonly string[]): string {
  return faults.length === 0 ? '' : 'faults:\n' + faults.map((f) => `  - ${f}\n`).join('');
}

/** YAML of the builder's one-service (`s`), one-workload (`c`) scenario with these faults. */
export const withFaultsYaml = (o: Options, faults: readonly string[]): string => scenarioYaml(o) + faultsYaml(faults);

/** The builder's scenario with these faults, loaded by the real loader. */
export const withFaults = (o: Options, faults: readonly string[]): Scenario => load(withFaultsYaml(o, faults));

/** The fault context the world builds (global instance numbering in service order, zones with overrides). */
export function faultContext(s: Scenario, horizon: number = s.duration + s.drain): FaultContext {
  const serviceStart = new Map<string, number>();
  const serviceCount = new Map<string, number>();
  const zones: string[] = [];
  for (const [name, svc] of Object.entries(s.services)) {
    const added = s.membership.filter((m) => m.service === name).reduce((acc, m) => acc + m.add, 0);
    const total = svc.instances + added;
    serviceStart.set(name, zones.length);
    serviceCount.set(name, total);
    for (let i = 0; i < total; i++) {
      let zone = svc.zones[i % svc.zones.length];
      for (const o of svc.overrides) if (o.instances.includes(i) && o.zone !== undefined) zone = o.zone;
      zones.push(zone);
    }
  }
  const ids = new Map<string, number>();
  const zoneId = (z: string): number => {
    if (!ids.has(z)) ids.set(z, ids.size);
    return ids.get(z) as number;
  };
  return {
    serviceStart,
    serviceCount,
    zoneOf: (i) => zones[i],
    groupIndex: (name) => s.workload.findIndex((w) => w.name === name),
    zoneId,
    horizon,
  };
}

/** The fault windows of replication `seed`, up to `horizon` (default: the run's end). */
export function windowsOf(s: Scenario, seed: number, horizon?: number): FaultWindow[] {
  return faultWindows(s, new RngStreams(seed), faultContext(s, horizon));
}

export const sum = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0);

/** Timeline buckets lying wholly inside [from, to) ms. */
export function bucketsWithin(r: RunResult, from: number, to: number): number[] {
  const out: number[] = [];
  const w = r.timeline.bucketMs;
  for (let b = 0; b < r.timeline.requests.length; b++) if (b * w >= from && (b + 1) * w <= to) out.push(b);
  return out;
}

/** Half-width of a z-sigma band for a Binomial(n, p) count. */
export const binomialBand = (n: number, p: number, z = 5): number => z * Math.sqrt(n * p * (1 - p));

/** Sample mean and standard deviation. */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}
