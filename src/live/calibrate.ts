/**
 * Calibration of the simulator from a measured live run: what the live stack itself adds
 * to each request — loopback, the proxy, the load generator's and the fleet's event loops,
 * timer lateness — measured on one instance with a constant service time and no queueing,
 * once straight to the instance and once through a sidecar proxy. The proxied round trip
 * minus the service time, halved, is the one-way "network" latency per hop that the
 * simulator then uses (as an empirical distribution of 100 quantiles), so a simulation
 * and a live run of the same scenario pay the same fixed costs.
 */
import type { Scenario } from '../scenario/types.js';
import { runLive, type Layout } from './run.js';

export interface CalibrationOptions {
  readonly seed: number;
  /**
   * Constant service time of the calibration instance, ms (default 5). A whole number of
   * milliseconds, as the backends round every drawn service time to one (Node's timers
   * tick in whole milliseconds; see fleet/instance.ts): the calibration then measures the
   * timer lateness every request pays.
   */
  readonly serviceTimeMs?: number;
  /** Poisson rate of the calibration load, per second (default 100). */
  readonly rate?: number;
  /** How long each of the two phases offers load, ms (default 3000, the first third warm-up). */
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
  /** The process layout to measure (the one the runs will use). */
  readonly layout?: Layout;
}

export interface RoundTrip {
  readonly requests: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface Calibration {
  readonly method: string;
  readonly serviceTimeMs: number;
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Round trip, ms, load generator → instance → load generator (service time included). */
  readonly direct: RoundTrip;
  /** The same through a sidecar proxy. */
  readonly proxied: RoundTrip;
  /** proxied − direct at the median: the proxy's own overhead per request, ms. */
  readonly proxyOverheadMs: number;
  /** The one-way per-hop latency given to the simulator: quantiles 0.5%, 1.5%, … 99.5% of (proxied − service time) / 2, ms. */
  readonly hopLatencyMs: readonly number[];
  readonly hopLatencyMedianMs: number;
}

function calibrationScenario(serviceTimeMs: number, rate: number, durationMs: number): Scenario {
  const mesh = { balancer: { kind: 'round-robin' } };
  return {
    name: 'calibration',
    seed: 1,
    seeds: 1,
    duration: durationMs,
    warmup: durationMs / 3,
    drain: 1000,
    services: {
      calibration: {
        instances: 1,
        zones: ['default'],
        concurrency: Infinity,
        queue: Infinity,
        serviceTime: { dist: 'constant', value: serviceTimeMs },
        weight: 1,
        priority: 0,
        overrides: [],
        calls: [],
        mesh,
      },
    },
    network: { latency: { dist: 'constant', value: 0 } },
    workload: [{ name: 'calibration', target: 'calibration', zone: 'default', sidecars: 1, zones: ['default'], arrival: { process: 'poisson', rate, steps: [] } }],
    mesh,
    membership: [],
    faults: [],
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Measures the live stack's own costs (two short live runs) and derives the simulator's per-hop latency. */
export async function calibrate(options: CalibrationOptions): Promise<Calibration> {
  const serviceTimeMs = options.serviceTimeMs ?? 5;
  const rate = options.rate ?? 100;
  const durationMs = options.durationMs ?? 3000;
  const scenario = calibrationScenario(serviceTimeMs, rate, durationMs);
  const run = async (direct: boolean) => {
    const r = await runLive(scenario, { seed: options.seed, faults: [], bucketMs: 1000, signal: options.signal, direct, layout: options.layout });
    const g = r.groups[0];
    if (g.latency.count < 10) throw new Error(`calibration: only ${g.latency.count} requests succeeded ${direct ? 'direct' : 'through the proxy'}`);
    return g.latency;
  };
  const direct = await run(true);
  options.signal?.throwIfAborted();
  const proxied = await run(false);
  const trip = (s: typeof direct): RoundTrip => ({
    requests: s.count,
    mean: round3(s.mean()),
    p50: round3(s.quantile(0.5)),
    p90: round3(s.quantile(0.9)),
    p99: round3(s.quantile(0.99)),
  });
  const hop = Array.from({ length: 100 }, (_, k) => round3(Math.max(0, (proxied.quantile((k + 0.5) / 100) - serviceTimeMs) / 2)));
  return {
    method: 'one instance, constant service time, no queueing; Poisson load straight to it, then through a sidecar proxy; per-hop latency = (proxied round trip − service time) / 2',
    serviceTimeMs,
    ratePerSec: rate,
    durationMs,
    direct: trip(direct),
    proxied: trip(proxied),
    proxyOverheadMs: round3(proxied.quantile(0.5) - direct.quantile(0.5)),
    hopLatencyMs: hop,
    hopLatencyMedianMs: round3(Math.max(0, (proxied.quantile(0.5) - serviceTimeMs) / 2)),
  };
}
