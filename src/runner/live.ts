/**
 * The live runner: every selected variant of a scenario run for real (src/live/run.ts),
 * one after another, each measured run turned into the simulator's RunResult so the same
 * report builder, the same tables and `meshsim compare` serve both worlds. Fault windows
 * are resolved by the simulator's own code (src/sim/faults.ts) from the same seed, so a
 * live run fails the instances the simulation fails, at the same times.
 *
 * What a live RunResult holds: request counts, latency and the timeline from the load
 * generator; per-instance requests from the proxies (attempts sent in the measurement
 * window), served and busy time from the fleet; layers and failover counters from the
 * proxies' own counters (layers over the measurement window, failover counters over the
 * whole run, as the simulator counts them).
 */
import { QuantileSketch } from '../core/quantile-sketch.js';
import { RngStreams } from '../core/rng.js';
import type { LiveFaultWindow } from '../live/fleet/fleet.js';
import { resolveInstances, runLive, type Layout, type LiveRunResult } from '../live/run.js';
import { membershipTimeline } from '../scenario/instances.js';
import type { LoadedScenario, Scenario } from '../scenario/types.js';
import { faultWindows, type FaultWindow } from '../sim/faults.js';
import { TIMELINE_ACCURACY, timelineBucketMs, type FailoverCounts, type FaultRecord, type LayerStats, type RunResult } from '../sim/metrics.js';
import { selectVariants, type RunOutput } from './run.js';

export interface LiveOptions {
  /** The seed of the live run (default: the scenario's). */
  readonly seed?: number;
  /** Live runs per variant, seeds seed, seed + 1, … (default 1). */
  readonly seeds?: number;
  readonly variants?: readonly string[];
  readonly signal?: AbortSignal;
  /** Where the processes go (see LiveRunOptions.layout; default split). */
  readonly layout?: Layout;
  /** Called before each live run. */
  readonly onRun?: (index: number, total: number, variant: string, seed: number) => void;
}

/** The fault windows of `scenario` for `seed`, as the simulator resolves them. */
export function resolveFaultWindows(scenario: Scenario, seed: number): FaultWindow[] {
  const instances = resolveInstances(scenario, seed);
  const serviceStart = new Map<string, number>();
  const serviceCount = new Map<string, number>();
  instances.forEach((i, k) => {
    if (!serviceStart.has(i.service)) serviceStart.set(i.service, k);
    serviceCount.set(i.service, (serviceCount.get(i.service) ?? 0) + 1);
  });
  const zones: string[] = [];
  const services = Object.keys(scenario.services);
  return faultWindows(scenario, new RngStreams(seed), {
    serviceStart,
    serviceCount,
    zoneOf: (i) => instances[i].zone,
    groupIndex: (caller) => {
      const w = scenario.workload.findIndex((x) => x.name === caller);
      const s = services.indexOf(caller);
      return w >= 0 ? w : s >= 0 ? scenario.workload.length + s : -1;
    },
    zoneId: (z) => (zones.includes(z) ? zones.indexOf(z) : zones.push(z) - 1),
    horizon: scenario.duration + scenario.drain,
  });
}

function liveWindows(scenario: Scenario, windows: readonly FaultWindow[], seed: number): LiveFaultWindow[] {
  const instances = resolveInstances(scenario, seed);
  return windows.map((w) => {
    const f = w.fault;
    const service = f.kind === 'partition' ? f.target.to : f.target.service;
    return {
      index: w.index,
      kind: f.kind,
      start: w.start,
      end: w.end,
      ...(service === undefined ? {} : { service }),
      instances: [...w.instances].map((g) => instances[g].index),
      ...(f.factor === undefined ? {} : { factor: f.factor }),
      ...(f.serviceTime === undefined ? {} : { serviceTime: f.serviceTime }),
      ...(f.rate === undefined ? {} : { rate: f.rate }),
      ...(f.status === undefined ? {} : { status: f.status }),
      ...(f.fast === undefined ? {} : { fast: f.fast }),
      ...(f.mode === undefined ? {} : { mode: f.mode }),
      ...(f.target.from === undefined ? {} : { from: f.target.from }),
      ...(f.target.fromZone === undefined ? {} : { fromZone: f.target.fromZone }),
      ...(f.target.toZone === undefined ? {} : { toZone: f.target.toZone }),
    };
  });
}

/** The failover counters the scenario's meshes configure, from the proxies' whole-run counters. */
function failoverCounts(scenario: Scenario, live: LiveRunResult): FailoverCounts {
  const meshes = [scenario.mesh, ...Object.values(scenario.services).filter((s) => s.calls.length > 0).map((s) => s.mesh)];
  const any = (has: (f: NonNullable<Scenario['mesh']['failover']>) => unknown): boolean => meshes.some((m) => m.failover !== undefined && has(m.failover));
  const sum = (count: (p: LiveRunResult['proxies'][number]) => number): number => live.proxies.reduce((a, p) => a + count(p), 0);
  return {
    ...(any((f) => f.outlierDetection) ? { ejections: sum((p) => p.total.upstreams.reduce((a, u) => a + u.ejections, 0)) } : {}),
    ...(any((f) => f.healthCheck) ? { healthCheckFailures: sum((p) => p.total.healthCheckFailures) } : {}),
    ...(any((f) => f.circuitBreaker) ? { breakerOverflows: sum((p) => p.total.overflows) } : {}),
    ...(any((f) => f.retries) ? { retries: sum((p) => p.total.retries), retryBudgetDenied: sum((p) => p.total.budgetDenied) } : {}),
    ...(any((f) => f.hedge) ? { hedges: sum((p) => p.total.hedges), hedgesWon: sum((p) => p.total.hedgesWon) } : {}),
    ...(any((f) => f.adaptiveThrottling) ? { throttled: sum((p) => p.total.throttled) } : {}),
  };
}

function layers(live: LiveRunResult): LayerStats[] {
  const out = new Map<string, LayerStats>();
  for (const p of live.proxies) {
    const key = `${p.client ? 'w' : 's'}:${p.caller}->${p.target}`;
    const w = p.window;
    const prev = out.get(key);
    out.set(key, {
      caller: p.caller,
      target: p.target,
      client: p.client,
      calls: (prev?.calls ?? 0) + w.requests,
      attempts: (prev?.attempts ?? 0) + w.attempts,
      succeeded: (prev?.succeeded ?? 0) + w.succeeded,
      failed: (prev?.failed ?? 0) + w.failed,
      retries: (prev?.retries ?? 0) + w.retries,
      hedges: (prev?.hedges ?? 0) + w.hedges,
      hedgesWon: (prev?.hedgesWon ?? 0) + w.hedgesWon,
      perTryTimeouts: (prev?.perTryTimeouts ?? 0) + w.perTryTimeouts,
      deadlines: (prev?.deadlines ?? 0) + w.routeTimeouts,
      overflows: (prev?.overflows ?? 0) + w.overflows,
      noEndpoint: (prev?.noEndpoint ?? 0) + w.noHealthy,
      budgetDenied: (prev?.budgetDenied ?? 0) + w.budgetDenied,
      throttled: (prev?.throttled ?? 0) + w.throttled,
    });
  }
  return [...out.values()];
}

/** A live run as the simulator's RunResult. */
export function liveRunResult(scenario: Scenario, seed: number, windows: readonly FaultWindow[], live: LiveRunResult, bucketMs: number): RunResult {
  const latency = new QuantileSketch();
  const requests = { total: 0, succeeded: 0, failed: 0, rejected: 0, timedOut: 0, errors: 0, resets: 0, connectFailures: 0, inFlight: 0 };
  const all = { issued: 0, succeeded: 0, failed: 0, inFlight: 0 };
  const n = Math.max(0, ...live.groups.map((g) => g.timeline.requests.length));
  const tRequests = new Float64Array(n);
  const tSucceeded = new Float64Array(n);
  const tLatency: (QuantileSketch | undefined)[] = new Array<QuantileSketch | undefined>(n).fill(undefined);
  for (const g of live.groups) {
    latency.merge(g.latency);
    for (const k of Object.keys(requests) as (keyof typeof requests)[]) requests[k] += g.window[k];
    for (const k of Object.keys(all) as (keyof typeof all)[]) all[k] += g.all[k];
    g.timeline.requests.forEach((x, b) => (tRequests[b] += x));
    g.timeline.succeeded.forEach((x, b) => (tSucceeded[b] += x));
    g.timeline.latency.forEach((s, b) => {
      if (s) (tLatency[b] ??= new QuantileSketch(TIMELINE_ACCURACY)).merge(s);
    });
  }
  const timeline = membershipTimeline(scenario);
  const faults: FaultRecord[] = liveWindows(scenario, windows, seed).map((w) => ({
    fault: w.index,
    kind: w.kind,
    start: w.start,
    end: w.end,
    ...(w.service === undefined ? {} : { service: w.service }),
    instances: [...w.instances].sort((a, b) => a - b),
  }));
  return {
    seed,
    requests,
    latency,
    windowMs: scenario.duration - scenario.warmup,
    endTimeMs: scenario.duration + scenario.drain,
    eventsProcessed: 0,
    instances: live.instances.map((i) => {
      // Member from its join until it leaves or the load ends (membership changes).
      const span = timeline.spans.get(i.service)?.[i.index] ?? { joinAt: 0, leaveAt: Infinity };
      return {
        service: i.service,
        index: i.index,
        zone: i.zone,
        slots: i.slots,
        requests: i.windowAttempts,
        served: i.served,
        busyMs: i.busyMs,
        // Within the measurement window [warmup, duration), as busy time is (and as the simulator counts both).
        memberMs: Math.max(0, Math.min(span.leaveAt, scenario.duration) - Math.max(span.joinAt, scenario.warmup)),
      };
    }),
    // As the simulator reports them, without keysRemapped (a figure of the hashing policy alone: simulate it).
    membership: timeline.steps.map((m) => ({ at: m.at, service: m.service, added: [...m.added], removed: [...m.removed] })),
    faults,
    failover: failoverCounts(scenario, live),
    layers: layers(live),
    timeline: { bucketMs, requests: tRequests, succeeded: tSucceeded, latency: tLatency },
    conservation: all,
  };
}

/** Runs the selected variants live, one after another; the output feeds buildReport as a simulation's does. */
export async function runScenarioLive(loaded: LoadedScenario, options: LiveOptions = {}): Promise<RunOutput & { readonly aborted: boolean }> {
  const variants = selectVariants(loaded, options.variants);
  const first = options.seed ?? loaded.base.seed;
  const seeds = Array.from({ length: options.seeds ?? 1 }, (_, k) => first + k);
  const results = [];
  let k = 0;
  let aborted = false;
  for (const v of variants) {
    const runs: RunResult[] = [];
    for (const seed of seeds) {
      if (options.signal?.aborted) break;
      options.onRun?.(k++, variants.length * seeds.length, v.name, seed);
      const windows = resolveFaultWindows(v.scenario, seed);
      const bucketMs = timelineBucketMs(v.scenario.duration + v.scenario.drain);
      let live: LiveRunResult;
      try {
        live = await runLive(v.scenario, { seed, faults: liveWindows(v.scenario, windows, seed), bucketMs, signal: options.signal, layout: options.layout });
      } catch (e) {
        // Interrupted while starting up: the run stopped its processes; nothing to report.
        if (options.signal?.aborted) break;
        throw e;
      }
      aborted ||= live.aborted;
      runs.push(liveRunResult(v.scenario, seed, windows, live, bucketMs));
    }
    results.push({ name: v.name, scenario: v.scenario, runs });
  }
  return { seeds, variants: results, aborted: aborted || options.signal?.aborted === true };
}
