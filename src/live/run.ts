/**
 * One live run of one scenario variant: the backend fleet in a child process, every
 * sidecar proxy (one per workload sidecar, one per calling service → target) in another,
 * and the load generator in this one, all on 127.0.0.1. The three event loops are apart
 * so that none adds its own queueing to the others' latencies (measured: on 2 cores, one
 * shared loop moved p50 by more than the proxy's own overhead). Every process started is
 * stopped when the run ends, fails or is aborted.
 *
 * What the scenario says and the live run does:
 * - services, instances, slots, queue bounds, service times, overrides, calls: emulated
 *   by the fleet (src/live/fleet);
 * - the network: the real loopback (the scenario's `network` latency is not added; the
 *   fidelity command feeds the measured loopback and proxy overhead to the simulator);
 * - workloads: src/live/loadgen, through the group's sidecar proxies round robin;
 * - faults: resolved windows (the simulator's own resolution) applied by the fleet.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { instanceSettings, membershipTimeline, simulatedAddress } from '../scenario/instances.js';
import type { Scenario } from '../scenario/types.js';
import type { LiveFaultWindow } from './fleet/fleet.js';
import { CALLER_HEADER, type InstanceConfig, type InstanceStats } from './fleet/instance.js';
import { generateLoad, KEY_HEADER, type GroupResult } from './loadgen/loadgen.js';
import { fleetService } from './fleet/service.js';
import { ChildHost, childModule, InProcessHost, type Host } from './process.js';
import { sidecarsService } from './sidecars/service.js';
import type { ProxyConfig, ProxyStats } from './proxy/index.js';
import { timerMs } from './realtime.js';
import { loadedPlugins } from '../scenario/plugins.js';

export interface LiveRunOptions {
  readonly seed: number;
  /** Resolved fault windows (instance indices per service). */
  readonly faults: readonly LiveFaultWindow[];
  /** Timeline bucket width, ms. */
  readonly bucketMs: number;
  readonly signal?: AbortSignal;
  /** Load-generator bounds (see LoadOptions). */
  readonly maxRequests?: number;
  readonly maxInFlight?: number;
  /** Workload groups send straight to their target's instances (round robin), no proxy: for calibration. */
  readonly direct?: boolean;
  /**
   * `split` (default): the fleet and the proxies each in a child process, the load
   * generator here; `single`: all three in this process (one event loop, no process hops).
   */
  readonly layout?: Layout;
}

export type Layout = 'split' | 'single';

/** One instance as a live run saw it. */
export interface LiveInstance extends InstanceStats {
  readonly zone: string;
  readonly slots: number;
  readonly address: string;
  /** Attempts its callers' proxies sent it during the measurement window. */
  readonly windowAttempts: number;
}

/** One proxy's counters: over the measurement window and over the whole run. */
export interface LiveProxy {
  readonly caller: string;
  readonly target: string;
  /** A workload's (client-facing) sidecar. */
  readonly client: boolean;
  readonly sidecar: number;
  readonly window: ProxyStats;
  readonly total: ProxyStats;
}

export interface LiveRunResult {
  readonly groups: readonly GroupResult[];
  readonly instances: readonly LiveInstance[];
  readonly proxies: readonly LiveProxy[];
  /** Whether the run was cut short by its signal. */
  readonly aborted: boolean;
}

/**
 * Every instance a scenario's services ever have (those `membership` adds included, each
 * started with the fleet and joining the balancers at its time, cold when the service says
 * so), with their overrides applied, in service then index order.
 */
export function resolveInstances(scenario: Scenario, seed: number): (InstanceConfig & { readonly weight: number; readonly priority: number })[] {
  const { spans } = membershipTimeline(scenario);
  const out: (InstanceConfig & { weight: number; priority: number })[] = [];
  for (const [name, svc] of Object.entries(scenario.services)) {
    (spans.get(name) ?? []).forEach(({ joinAt }, i) => {
      const { serviceTime, concurrency: slots, queue, weight, priority, zone } = instanceSettings(svc, i);
      const cold = joinAt > 0 && svc.coldStart !== undefined ? { coldStart: { factor: svc.coldStart.factor, for: svc.coldStart.for, joinAt } } : {};
      out.push({ service: name, index: i, zone, slots, queue, serviceTime, seed, weight, priority, calls: svc.calls, ...cold });
    });
  }
  return out;
}

interface ProxyPlan {
  readonly caller: string;
  readonly target: string;
  readonly client: boolean;
  readonly sidecar: number;
  readonly config: ProxyConfig;
}

function proxyPlans(scenario: Scenario, seed: number, instances: ReturnType<typeof resolveInstances>, addresses: Readonly<Record<string, string>>): ProxyPlan[] {
  // Every instance the service will ever have is an upstream; those present at the start are members.
  const initial = (service: string): { members?: string[] } =>
    scenario.membership.some((m) => m.service === service) ? { members: Array.from({ length: scenario.services[service].instances }, (_, i) => `${service}/${i}`) } : {};
  const upstreams = (service: string): ProxyConfig['upstreams'] =>
    instances
      .filter((i) => i.service === service)
      // Hash keys: the simulated endpoints' addresses, so ring-hash and maglev build the simulator's rings and tables.
      .map((i) => ({ address: addresses[`${i.service}/${i.index}`], name: `${i.service}/${i.index}`, zone: i.zone, weight: i.weight, priority: i.priority, hashKey: simulatedAddress(i.service, i.index) }));
  const localityWeightsOf = (service: string): Pick<ProxyConfig, 'localityWeights'> => {
    const w = scenario.services[service]?.localityWeights;
    return w === undefined ? {} : { localityWeights: w };
  };
  // What the algorithms of sidecar `index` of callers in `zones` are told, as the simulator tells them.
  const environment = (zones: readonly string[], index: number): ProxyConfig['environment'] => {
    const localZoneSizes: Record<string, number> = {};
    for (const z of zones) localZoneSizes[z] = (localZoneSizes[z] ?? 0) + 1;
    return { clientIndex: index, clientCount: zones.length, localZoneSizes };
  };
  const plans: ProxyPlan[] = [];
  for (const w of scenario.workload) {
    const sidecarZones = Array.from({ length: w.sidecars }, (_, s) => w.zones[s % w.zones.length]);
    for (let s = 0; s < w.sidecars; s++) {
      plans.push({
        caller: w.name,
        target: w.target,
        client: true,
        sidecar: s,
        // The streams of the simulator's sidecar s of this workload (see ProxyConfig.streamScope).
        config: {
          listen: { port: 0 },
          upstreams: upstreams(w.target),
          ...localityWeightsOf(w.target),
          mesh: scenario.mesh,
          zone: w.zones[s % w.zones.length],
          seed,
          streamScope: `${w.name}/${s}`,
          environment: environment(sidecarZones, s),
          ...initial(w.target),
          // The load generator sends each request's key (drawn as the simulator draws it) in this header.
          ...(w.key === undefined ? {} : { hashKey: { header: KEY_HEADER } }),
        },
      });
    }
  }
  for (const [name, svc] of Object.entries(scenario.services)) {
    // The simulator gives every instance of the caller a sidecar (those joining later too), each in its zone.
    const instanceZones = instances.filter((i) => i.service === name).map((i) => i.zone);
    for (const target of [...new Set(svc.calls.map((c) => c.service))]) {
      plans.push({
        caller: name,
        target,
        client: false,
        sidecar: 0,
        // One proxy stands for the simulator's sidecars of every instance of `name`: it draws from the first's streams.
        config: {
          listen: { port: 0 },
          upstreams: upstreams(target),
          ...localityWeightsOf(target),
          mesh: svc.mesh,
          zone: instanceZones[0],
          seed,
          streamScope: `${name}→${target}/0`,
          environment: environment(instanceZones, 0),
          ...initial(target),
        },
      });
    }
  }
  return plans;
}

function minus(a: ProxyStats, b: ProxyStats | undefined): ProxyStats {
  if (!b) return a;
  const base = new Map(b.upstreams.map((u) => [u.address, u]));
  return {
    requests: a.requests - b.requests,
    succeeded: a.succeeded - b.succeeded,
    failed: a.failed - b.failed,
    attempts: a.attempts - b.attempts,
    retries: a.retries - b.retries,
    hedges: a.hedges - b.hedges,
    hedgesWon: a.hedgesWon - b.hedgesWon,
    overflows: a.overflows - b.overflows,
    budgetDenied: a.budgetDenied - b.budgetDenied,
    noHealthy: a.noHealthy - b.noHealthy,
    throttled: a.throttled - b.throttled,
    perTryTimeouts: a.perTryTimeouts - b.perTryTimeouts,
    routeTimeouts: a.routeTimeouts - b.routeTimeouts,
    healthCheckFailures: a.healthCheckFailures - b.healthCheckFailures,
    upstreams: a.upstreams.map((u) => {
      const o = base.get(u.address);
      return o ? { address: u.address, attempts: u.attempts - o.attempts, succeeded: u.succeeded - o.succeeded, failed: u.failed - o.failed, ejections: u.ejections - o.ejections } : u;
    }),
  };
}

/**
 * Sends `perPort` requests to each port, four at a time, and waits for the answers
 * (whatever they are): measured, a cold proxy answers its first second of requests 10×
 * slower than a warm one (connection set-up, V8 compiling the request path).
 */
async function warmUp(ports: readonly number[], signal: AbortSignal | undefined, perPort = 200): Promise<void> {
  const agent = new Agent({ keepAlive: true });
  const inFlight = new Set<ClientRequest>();
  // Interrupted: the requests out are dropped and no more go (with slow instances the
  // warm-up can take many seconds, and Ctrl-C waited for all of it).
  const stop = (): void => {
    for (const req of inFlight) req.destroy();
  };
  signal?.addEventListener('abort', stop, { once: true });
  const one = (port: number): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: { [CALLER_HEADER]: 'meshsim-warm-up' }, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      });
      inFlight.add(req);
      req.on('close', () => {
        inFlight.delete(req);
        resolve();
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve());
      req.end();
    });
  try {
    await Promise.all(
      ports.map(async (port) => {
        for (let k = 0; k < perPort && signal?.aborted !== true; k += 4) await Promise.all([one(port), one(port), one(port), one(port)]);
      }),
    );
  } finally {
    signal?.removeEventListener('abort', stop);
    agent.destroy();
  }
  signal?.throwIfAborted();
}

/** Runs `scenario` live once and returns what was measured. */
export async function runLive(scenario: Scenario, options: LiveRunOptions): Promise<LiveRunResult> {
  const instances = resolveInstances(scenario, options.seed);
  const single = options.layout === 'single';
  const fleet: Host = single ? new InProcessHost('fleet', fleetService()) : new ChildHost('fleet', childModule(import.meta.url, 'fleet/child'));
  const sidecars: Host = single ? new InProcessHost('proxies', sidecarsService()) : new ChildHost('proxies', childModule(import.meta.url, 'sidecars/child'));
  const timers = new Set<NodeJS.Timeout>();
  try {
    const addresses = await fleet.request<Record<string, string>>({ type: 'start', config: { seed: options.seed, instances, faults: options.faults, window: { from: scenario.warmup, to: scenario.duration } } });
    const plans = proxyPlans(scenario, options.seed, instances, addresses);
    const ports = await sidecars.request<number[]>({ type: 'start', plugins: loadedPlugins(), configs: plans.map((p) => p.config) });
    const callers: Record<string, number> = {};
    plans.forEach((p, i) => {
      if (!p.client) callers[`${p.caller}->${p.target}`] = ports[i];
    });
    await fleet.request({ type: 'callers', callers });
    options.signal?.throwIfAborted();
    // Warm up: a few requests through every client proxy (or straight to the instances), so
    // connection pools exist and the code is compiled before the first measured request.
    await warmUp(
      options.direct
        ? instances.map((i) => Number(addresses[`${i.service}/${i.index}`].split(':')[1]))
        : plans.flatMap((p, i) => (p.client ? [ports[i]] : [])),
      options.signal,
    );

    // The algorithms and the instances' random streams start afresh with the load, as the
    // simulator's start at time 0: the warm-up's picks, latencies and service-time draws
    // are not the run's (they made the live run a different sample path than its twin).
    await sidecars.request({ type: 'restart' });

    // The run's time origin, a little ahead so every process is ready when it comes.
    const origin = performance.timeOrigin + performance.now() + 100;
    const localOrigin = origin - performance.timeOrigin;
    const clock = (): number => performance.now() - localOrigin;
    await fleet.request({ type: 'go', origin });
    // Membership changes: at each one's time, the proxies towards its service see the new
    // member set (a discovery update; the message takes about a millisecond to arrive).
    for (const step of membershipTimeline(scenario).steps) {
      const proxies = plans.flatMap((p, i) => (p.target === step.service ? [i] : []));
      const names = step.members.map((i) => `${step.service}/${i}`);
      const t = setTimeout(
        () => {
          timers.delete(t);
          sidecars.request({ type: 'members', proxies, names }).catch(() => undefined);
        },
        timerMs(step.at - clock()),
      );
      timers.add(t);
    }
    const atStart = sidecars.request<ProxyStats[]>({ type: 'stats' });
    const snapshot = (at: number): Promise<ProxyStats[] | undefined> =>
      new Promise((resolve) => {
        const t = setTimeout(
          () => {
            timers.delete(t);
            sidecars.request<ProxyStats[]>({ type: 'stats' }).then(resolve, () => resolve(undefined));
          },
          timerMs(at - clock()),
        );
        timers.add(t);
      });
    const atWarmup = scenario.warmup > 0 ? snapshot(scenario.warmup) : atStart;
    const groups = await generateLoad(
      scenario.workload.map((w) => ({
        name: w.name,
        ports: options.direct
          ? instances.filter((i) => i.service === w.target).map((i) => Number(addresses[`${i.service}/${i.index}`].split(':')[1]))
          : plans.flatMap((p, i) => (p.client && p.caller === w.name ? [ports[i]] : [])),
        zone: w.zones[0],
        arrival: w.arrival,
        timeout: w.timeout,
        key: w.key,
      })),
      {
        seed: options.seed,
        duration: scenario.duration,
        warmup: scenario.warmup,
        drain: scenario.drain,
        bucketMs: options.bucketMs,
        now: clock,
        signal: options.signal,
        maxRequests: options.maxRequests,
        maxInFlight: options.maxInFlight,
      },
    );
    const aborted = options.signal?.aborted === true;
    const before = aborted ? undefined : await atWarmup;
    const final = await sidecars.request<ProxyStats[]>({ type: 'stats' });
    const fleetStats = await fleet.request<InstanceStats[]>({ type: 'stats' });
    // A proxy counts a request when it ends: the window is what ended from the warm-up's end
    // to the end of the run (the requests of the measurement window, give or take the few
    // that straddle its start).
    const window = plans.map((_, i) => minus(final[i], before?.[i]));
    const attemptsTo = new Map<string, number>();
    for (const w of window) for (const u of w.upstreams) attemptsTo.set(u.address, (attemptsTo.get(u.address) ?? 0) + u.attempts);
    return {
      groups,
      aborted,
      proxies: plans.map((p, i) => ({ caller: p.caller, target: p.target, client: p.client, sidecar: p.sidecar, window: window[i], total: final[i] })),
      instances: instances.map((c, k) => {
        const address = addresses[`${c.service}/${c.index}`];
        return { ...fleetStats[k], zone: c.zone, slots: c.slots, address, windowAttempts: attemptsTo.get(address) ?? 0 };
      }),
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    await Promise.all([sidecars.stop(), fleet.stop()]);
  }
}
