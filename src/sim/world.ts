/**
 * The simulated world: services made of instances (worker slots + bounded FIFO queue),
 * a network with per-hop latency and a cross-zone penalty, and client groups whose
 * sidecars offer open-loop (Poisson, constant, rate steps) or closed-loop load. Every
 * request goes through one of its group's mesh sidecars (src/mesh), exactly as in live
 * mode; membership changes (instances joining, possibly cold, or leaving) reach every
 * sidecar as an endpoint-set update.
 *
 * Requests and instances are struct-of-arrays with free lists, and events are
 * (kind, index) pairs: nothing is allocated per request, and memory grows with the
 * world (instances, requests in flight), never with the number of requests simulated.
 */
import type { Endpoint, Outcome } from '../algorithms/types.js';
import { createBalancer } from '../algorithms/registry.js';
import { OutlierDetector } from '../algorithms/failover/outlier-detection.js';
import { HealthChecker, type ProbeDone } from '../algorithms/failover/health-check.js';
import { CircuitBreaker } from '../algorithms/failover/circuit-breaker.js';
import { aliasSampler, zipfWeights } from '../core/discrete.js';
import { makeSampler, samplerIsStateless, type Sampler } from '../core/distributions.js';
import { RngStreams, type RngBank } from '../core/rng.js';
import type { Rng } from '../core/ports.js';
import type { DistSpec } from '../core/distribution-spec.js';
import { hashKey } from '../core/xxhash64.js';
import { Sidecar } from '../mesh/sidecar.js';
import type { KeySpec, Scenario, WorkloadSpec } from '../scenario/types.js';
import { faultWindows, type FaultWindow } from './faults.js';
import { Engine, FIRST_MODEL_KIND, type Model } from './engine.js';
import { RunMetrics, type FailoverCounts, type MembershipEffect, type RunResult } from './metrics.js';

// Event kinds (arg in parentheses).
const ARRIVAL = FIRST_MODEL_KIND; // open-loop arrival (group)
const CLOSED_ISSUE = FIRST_MODEL_KIND + 1; // a closed-loop client issues (group)
const AT_INSTANCE = FIRST_MODEL_KIND + 2; // request reaches its instance (request)
const SERVICE_DONE = FIRST_MODEL_KIND + 3; // instance finishes a request (request)
const AT_CLIENT = FIRST_MODEL_KIND + 4; // response reaches the client (request)
const TIMEOUT = FIRST_MODEL_KIND + 5; // client-side timeout (request)
const RATE_CHANGE = FIRST_MODEL_KIND + 6; // open-loop rate step boundary (group)
const MEMBERSHIP = FIRST_MODEL_KIND + 7; // scenario.membership[arg] takes effect
const FAULT_ON = FIRST_MODEL_KIND + 8; // fault window starts (window)
const FAULT_OFF = FIRST_MODEL_KIND + 9; // fault window ends (window)
const HC_AT_INSTANCE = FIRST_MODEL_KIND + 10; // a health-check probe reaches its instance (probe)
const HC_AT_CLIENT = FIRST_MODEL_KIND + 11; // its answer reaches the sidecar (probe)

/** Instance record layout (Int32 words; see World.inst). */
const I_STRIDE = 16;
const I_RNG = 0; // words 0–3: SFC32 state of the service-time stream
const I_BUSY = 4; // busy worker slots
const I_SLOTS = 5; // worker slots (UNBOUNDED: infinite server)
const I_QCAP = 6; // wait-queue bound (UNBOUNDED: none)
const I_QHEAD = 7; // oldest waiting request (-1: none), linked through rNext
const I_QTAIL = 8; // newest waiting request (-1: none)
const I_QLEN = 9; // waiting requests
const I_FAULTED = 10; // fault windows active on the instance (any kind): the hot path checks only this
const I_ZONE = 11; // zone id
const I_HELD = 12; // requests in service listed in inService (crash/hang tracking)
/** Stands for an unbounded slot count or queue bound (more than any pool of requests). */
const UNBOUNDED = 0x7fffffff;

/** A health-check probe in flight: it travels like a request but takes no worker slot. */
interface Probe {
  readonly group: number;
  readonly sidecar: number;
  readonly instance: number;
  readonly done: ProbeDone;
  ok: boolean;
  failure: 'network' | 'status';
}

/** "No healthy upstream": the sidecar answers 503 itself, as Envoy does. */
const NO_ENDPOINT: Outcome = { kind: 'rejected', status: 503 };

/** How a request ended at the server side (rCode). */
const C_OK = 0; // an HTTP answer: success when 2xx
const C_REJECTED = 1; // 503 from a full queue
const C_ERROR = 2; // a 5xx from an error fault
const C_RESET = 3; // connection reset (instance crashed mid-request)
const C_REFUSED = 4; // connection refused (instance down, partition refusing)
const TIMED_OUT: Outcome = { kind: 'timeout', status: 0 };

/** Request flags. */
const F_MEASURED = 1; // issued inside the measurement window
const F_CONCLUDED = 2; // the client has its answer (response or timeout)
const F_LOST = 4; // no response will ever come (swallowed by a hang or a dropping partition)

/** A calling client group: its sidecars, and its view of the target service. */
interface Group {
  readonly index: number;
  readonly spec: WorkloadSpec;
  readonly sidecars: readonly Sidecar[];
  /** Each sidecar's outlier detector and health checker, when the mesh configures them. */
  readonly outliers: readonly OutlierDetector[];
  readonly checkers: readonly HealthChecker[];
  /** Each sidecar's circuit breaker (max active requests), when configured. */
  readonly breakers: readonly CircuitBreaker[] | undefined;
  /** Zone id of each sidecar. */
  readonly sidecarZone: Int32Array;
  /** Round-robin assignment of requests to sidecars. */
  nextSidecar: number;
  /** Global instance of each current endpoint index; endpoint index of each global instance (-1: not a member). */
  instanceOf: Int32Array;
  readonly endpointOf: Int32Array;
  readonly poisson: boolean;
  readonly arrivals: Rng;
  readonly think: Sampler | undefined;
  readonly timeout: number;
  /** Draws a key index, and the key's hash (cached per key), when the workload has keys. */
  readonly key: (() => number) | undefined;
  readonly keyHash: Float64Array;
  /** Current open-loop rate in requests per ms, and the time of the next rate step. */
  rate: number;
  stepIndex: number;
  nextStepAt: number;
}

export interface WorldOptions {
  /** Seed of this replication (the scenario's seed + k). */
  readonly seed: number;
}

export class World implements Model {
  readonly engine = new Engine();
  private readonly scenario: Scenario;
  private readonly groups: Group[] = [];
  private readonly metrics: RunMetrics;
  private readonly loadEnd: number;
  private readonly warmup: number;

  // Instances (global index across services, including those that join later).
  private readonly instService: string[] = [];
  private readonly instLocal: number[] = [];
  private readonly instZone: string[] = [];
  private readonly zoneIds = new Map<string, number>();
  private readonly instWeight: Float64Array;
  private readonly instPriority: Int32Array;
  /**
   * The fields every request touches, one 64-byte record per instance (I_* offsets): its
   * service-time random stream, busy slots, slot count, queue bound, wait queue (a FIFO
   * linked through the requests' rNext), fault count and zone. One cache line per instance
   * instead of a dozen arrays and objects: with 10,000 instances the scattered layout
   * missed the cache on nearly every field (bench/fleet10k: 0.30 → see the note in
   * bench/results).
   */
  private readonly inst: Int32Array;
  /** The service-time streams, in words 0–3 of each instance record. */
  private readonly serviceRng: RngBank;
  /** Each instance's service-time sampler: shared per distribution when stateless (drawing from `serviceRng`). */
  private readonly instSample: Sampler[] = [];
  /** Slots per instance as numbers (Infinity when unbounded), for the report. */
  private readonly instSlots: Float64Array;
  /** 1 while an instance is a member of its service (joined, not removed). */
  private readonly instMember: Uint8Array;
  /** Cold start: service-time multiplier `coldFactor` at join, back to 1 at `coldUntil`. */
  private readonly instColdUntil: Float64Array;
  private readonly instColdFactor: Float64Array;
  private readonly instColdFor: Float64Array;
  // Faults: per-instance state, the windows of the run, and the requests each instance holds.
  private readonly windows: readonly FaultWindow[];
  /** Fault windows active on each instance (any kind): the hot path checks only this. */
  private readonly instDown: Int32Array;
  private readonly instHung: Int32Array;
  private readonly instPaused: Int32Array;
  private readonly instPauseEnd: Float64Array;
  private readonly instSlowFactor: Float64Array;
  private readonly instSlowAdd: (Sampler[] | undefined)[];
  private readonly instErrRate: Float64Array;
  private readonly instErrStatus: Int32Array;
  private readonly instErrFast: Uint8Array;
  private readonly instErrRng: (Rng | undefined)[];
  /** Active error windows per instance, newest last: the newest one applies. */
  private readonly instErrWindows: (FaultWindow[] | undefined)[];
  /** Requests in service on each instance (swap-remove arrays), for crashes and hangs. */
  private readonly inService: Int32Array[];
  private readonly activePartitions: FaultWindow[] = [];
  /** Health-check probes in flight, by id. */
  private readonly probes = new Map<number, Probe>();
  private nextProbe = 0;
  /** Only crashes and hangs need to know which requests an instance holds. */
  private readonly trackHeld: boolean;
  /** Cold starts or slow faults may change service times. */
  private readonly serviceModifiers: boolean;
  private readonly serviceStart = new Map<string, number>();
  private readonly serviceCount = new Map<string, number>();
  private readonly membershipEffects: MembershipEffect[] = [];
  private readonly streams: RngStreams;

  // Network.
  private readonly hop: Sampler;
  private readonly crossZone: Sampler | undefined;

  /** Reused pick context (balancers read it during the call only). */
  private readonly pickContext: { hashKey?: number; attempt?: number } = {};
  /** Reused outcome of a response (balancers read it during the call only). */
  private readonly response: { kind: Outcome['kind']; status: number; utilization?: number } = { kind: 'success', status: 200 };

  // Requests (struct-of-arrays pool).
  private cap = 0;
  private free: Int32Array = new Int32Array(0);
  private nFree = 0;
  private rIssued: Float64Array = new Float64Array(0);
  private rGroup: Int32Array = new Int32Array(0);
  private rSidecar: Int32Array = new Int32Array(0);
  private rInstance: Int32Array = new Int32Array(0);
  private rStatus: Int32Array = new Int32Array(0);
  private rFlags: Int32Array = new Int32Array(0);
  private rServiceStart: Float64Array = new Float64Array(0);
  private rTimeoutSeq: Float64Array = new Float64Array(0);
  private rUtil: Float64Array = new Float64Array(0);
  private rCode: Int32Array = new Int32Array(0);
  private rDoneSeq: Float64Array = new Float64Array(0);
  private rHeldAt: Int32Array = new Int32Array(0);
  private rNext: Int32Array = new Int32Array(0);

  constructor(scenario: Scenario, options: WorldOptions) {
    this.scenario = scenario;
    this.loadEnd = scenario.duration;
    this.warmup = scenario.warmup;
    const streams = new RngStreams(options.seed);
    this.streams = streams;

    const added = new Map<string, number>();
    for (const m of scenario.membership) added.set(m.service, (added.get(m.service) ?? 0) + m.add);
    const slots: number[] = [];
    const queues: number[] = [];
    const weights: number[] = [];
    const priorities: number[] = [];
    const coldFor: number[] = [];
    const coldFactor: number[] = [];
    const member: number[] = [];
    const dists: DistSpec[] = [];
    for (const [name, svc] of Object.entries(scenario.services)) {
      this.serviceStart.set(name, this.instService.length);
      const total = svc.instances + (added.get(name) ?? 0);
      this.serviceCount.set(name, total);
      for (let i = 0; i < total; i++) {
        let dist = svc.serviceTime;
        let slot = svc.concurrency;
        let queue = svc.queue;
        let weight = svc.weight;
        let priority = svc.priority;
        let zone = svc.zones[i % svc.zones.length];
        for (const o of svc.overrides) {
          if (!o.instances.includes(i)) continue;
          if (o.serviceTime) dist = o.serviceTime;
          if (o.concurrency !== undefined) slot = o.concurrency;
          if (o.queue !== undefined) queue = o.queue;
          if (o.weight !== undefined) weight = o.weight;
          if (o.priority !== undefined) priority = o.priority;
          if (o.zone !== undefined) zone = o.zone;
        }
        this.instService.push(name);
        this.instLocal.push(i);
        this.instZone.push(zone);
        dists.push(dist);
        slots.push(slot);
        queues.push(queue);
        weights.push(weight);
        priorities.push(priority);
        coldFor.push(svc.coldStart?.for ?? 0);
        coldFactor.push(svc.coldStart?.factor ?? 1);
        member.push(i < svc.instances ? 1 : 0);
      }
    }
    const n = this.instService.length;
    const rec = new Int32Array(n * I_STRIDE);
    this.inst = rec;
    this.serviceRng = streams.bank(
      this.instService.map((name, i) => `service/${name}/${this.instLocal[i]}`),
      I_STRIDE,
      I_RNG,
      rec,
    );
    // One sampler per distinct distribution object when it keeps no state of its own.
    const shared = new Map<DistSpec, Sampler>();
    for (let i = 0; i < n; i++) {
      const d = dists[i];
      let sample = samplerIsStateless(d) ? shared.get(d) : undefined;
      if (sample === undefined) {
        sample = makeSampler(d, samplerIsStateless(d) ? this.serviceRng : this.serviceRng.stream(i));
        if (samplerIsStateless(d)) shared.set(d, sample);
      }
      this.instSample.push(sample);
      const o = i * I_STRIDE;
      rec[o + I_SLOTS] = slots[i] === Infinity ? UNBOUNDED : slots[i];
      rec[o + I_QCAP] = queues[i] === Infinity ? UNBOUNDED : queues[i];
      rec[o + I_QHEAD] = -1;
      rec[o + I_QTAIL] = -1;
      rec[o + I_ZONE] = this.zoneId(this.instZone[i]);
    }
    this.instSlots = Float64Array.from(slots);
    this.instWeight = Float64Array.from(weights);
    this.instPriority = Int32Array.from(priorities);
    this.instMember = Uint8Array.from(member);
    this.instColdFor = Float64Array.from(coldFor);
    this.instColdFactor = Float64Array.from(coldFactor);
    this.instColdUntil = new Float64Array(n); // instances present at t = 0 are warm
    this.instDown = new Int32Array(n);
    this.instHung = new Int32Array(n);
    this.instPaused = new Int32Array(n);
    this.instPauseEnd = new Float64Array(n);
    this.instSlowFactor = new Float64Array(n).fill(1);
    this.instSlowAdd = new Array<Sampler[] | undefined>(n).fill(undefined);
    this.instErrRate = new Float64Array(n);
    this.instErrStatus = new Int32Array(n);
    this.instErrFast = new Uint8Array(n);
    this.instErrRng = new Array<Rng | undefined>(n).fill(undefined);
    this.instErrWindows = new Array<FaultWindow[] | undefined>(n).fill(undefined);
    this.inService = Array.from({ length: n }, () => new Int32Array(4));

    this.hop = makeSampler(scenario.network.latency, streams.stream('network/latency'));
    this.crossZone = scenario.network.crossZone ? makeSampler(scenario.network.crossZone, streams.stream('network/crossZone')) : undefined;

    this.metrics = new RunMetrics(options.seed, this.instService, this.instLocal, this.instZone, this.instSlots);
    for (let i = 0; i < n; i++) if (this.instMember[i]) this.metrics.joined(i, 0);

    scenario.workload.forEach((spec, index) => this.groups.push(this.makeGroup(spec, index, streams)));
    this.windows = faultWindows(scenario, streams, {
      serviceStart: this.serviceStart,
      serviceCount: this.serviceCount,
      zoneOf: (i) => this.instZone[i],
      groupIndex: (name) => scenario.workload.findIndex((w) => w.name === name),
      zoneId: (z) => this.zoneId(z),
      horizon: scenario.duration + scenario.drain,
    });
    this.metrics.setFaultWindows(this.windows);
    this.trackHeld = scenario.faults.some((f) => f.kind === 'crash' || f.kind === 'flap' || f.kind === 'hang');
    this.serviceModifiers = scenario.faults.some((f) => f.kind === 'slow') || Object.values(scenario.services).some((svc) => svc.coldStart !== undefined);
    this.metrics.setRunLength(scenario.duration + scenario.drain);

    this.growRequests(1024);
    this.engine.setModel(this);
  }

  private makeGroup(spec: WorkloadSpec, index: number, streams: RngStreams): Group {
    const sidecarCount = spec.sidecars;
    const sidecarZone = new Int32Array(sidecarCount);
    const zoneSizes = new Map<string, number>();
    for (let s = 0; s < sidecarCount; s++) {
      const zone = spec.zones[s % spec.zones.length];
      sidecarZone[s] = this.zoneId(zone);
      zoneSizes.set(zone, (zoneSizes.get(zone) ?? 0) + 1);
    }
    const endpointOf = new Int32Array(this.instService.length).fill(-1);
    const { endpoints, instanceOf } = this.membersOf(spec.target, endpointOf);
    const sidecars: Sidecar[] = [];
    const outliers: OutlierDetector[] = [];
    const checkers: HealthChecker[] = [];
    const odConfig = this.scenario.mesh.failover?.outlierDetection;
    const hcConfig = this.scenario.mesh.failover?.healthCheck;
    const cbConfig = this.scenario.mesh.failover?.circuitBreaker;
    for (let s = 0; s < sidecarCount; s++) {
      const balancer = createBalancer(
        this.scenario.mesh.balancer,
        { clock: this.engine, timers: this.engine, rng: streams.stream(`balancer/${spec.name}/${s}`) },
        { localZone: spec.zones[s % spec.zones.length], clientIndex: s, clientCount: sidecarCount, localZoneSizes: zoneSizes },
      );
      const outlierDetector = odConfig
        ? new OutlierDetector(odConfig, { clock: this.engine, timers: this.engine, rng: streams.stream(`outliers/${spec.name}/${s}`) })
        : undefined;
      if (outlierDetector) outliers.push(outlierDetector);
      const healthChecker = hcConfig
        ? new HealthChecker(hcConfig, { clock: this.engine, timers: this.engine, rng: streams.stream(`healthcheck/${spec.name}/${s}`) }, (endpoint, done) =>
            this.sendProbe(index, s, endpoint, done),
          )
        : undefined;
      if (healthChecker) checkers.push(healthChecker);
      sidecars.push(
        new Sidecar(`${spec.name}-${s}`, balancer, endpoints, {
          ...(outlierDetector ? { outlierDetector } : {}),
          ...(healthChecker ? { healthChecker } : {}),
        }),
      );
    }
    const arrival = spec.arrival;
    return {
      index,
      spec,
      sidecars,
      outliers,
      checkers,
      breakers: cbConfig ? sidecars.map(() => new CircuitBreaker(cbConfig)) : undefined,
      sidecarZone,
      nextSidecar: 0,
      instanceOf,
      endpointOf,
      poisson: arrival.process === 'poisson',
      arrivals: streams.stream(`arrivals/${spec.name}`),
      think: arrival.process === 'closed' ? makeSampler(arrival.think, streams.stream(`think/${spec.name}`)) : undefined,
      timeout: spec.timeout ?? Infinity,
      key: spec.key ? keySampler(spec.key, streams.stream(`keys/${spec.name}`)) : undefined,
      keyHash: new Float64Array(spec.key ? spec.key.n : 0).fill(NaN),
      rate: arrival.process === 'closed' ? 0 : arrival.rate / 1000,
      stepIndex: 0,
      nextStepAt: arrival.process === 'closed' || arrival.steps.length === 0 ? Infinity : arrival.steps[0].at,
    };
  }

  /** The current members of `service` as endpoint data, filling `endpointOf` (global → endpoint index). */
  private membersOf(service: string, endpointOf: Int32Array): { endpoints: Endpoint[]; instanceOf: Int32Array } {
    const start = this.serviceStart.get(service) ?? 0;
    const count = this.serviceCount.get(service) ?? 0;
    const endpoints: Endpoint[] = [];
    const instances: number[] = [];
    for (let i = start; i < start + count; i++) {
      endpointOf[i] = -1;
      if (!this.instMember[i]) continue;
      endpointOf[i] = endpoints.length;
      instances.push(i);
      const local = i - start;
      endpoints.push({
        id: `${service}-${local}`,
        address: `${service}-${local}.sim:80`,
        zone: this.instZone[i],
        weight: this.instWeight[i],
        health: 'healthy',
        priority: this.instPriority[i],
        metadata: {},
      });
    }
    return { endpoints, instanceOf: Int32Array.from(instances) };
  }

  /** Runs the whole replication: load for `duration`, then up to `drain` for stragglers. */
  run(): RunResult {
    this.scenario.membership.forEach((m, i) => this.engine.at(m.at, MEMBERSHIP, i));
    this.windows.forEach((w, i) => {
      this.engine.at(w.start, FAULT_ON, i);
      if (w.end !== Infinity) this.engine.at(w.end, FAULT_OFF, i);
    });
    for (const g of this.groups) this.startGroup(g);
    this.engine.run(this.scenario.duration + this.scenario.drain);
    // Count the unanswered requests independently of the counters, for the conservation check.
    const inUse = new Uint8Array(this.cap).fill(1);
    for (let i = 0; i < this.nFree; i++) inUse[this.free[i]] = 0;
    let inFlight = 0;
    let allInFlight = 0;
    for (let r = 0; r < this.cap; r++) {
      if (inUse[r] === 0 || (this.rFlags[r] & F_CONCLUDED) !== 0) continue;
      allInFlight++;
      if ((this.rFlags[r] & F_MEASURED) !== 0) inFlight++;
    }
    this.metrics.setFailoverCounts(this.failoverCounts());
    return this.metrics.finish(this.engine, this.scenario.duration - this.scenario.warmup, inFlight, allInFlight, this.membershipEffects);
  }

  /** Counters of the failover mechanisms the mesh configures, summed over every sidecar. */
  private failoverCounts(): FailoverCounts {
    const f = this.scenario.mesh.failover;
    const sum = (count: (g: Group) => number): number => this.groups.reduce((a, g) => a + count(g), 0);
    return {
      ...(f?.outlierDetection ? { ejections: sum((g) => g.outliers.reduce((a, od) => a + od.stats().ejectionsEnforcedTotal, 0)) } : {}),
      ...(f?.healthCheck ? { healthCheckFailures: sum((g) => g.checkers.reduce((a, hc) => a + hc.stats().failures, 0)) } : {}),
      ...(f?.circuitBreaker ? { breakerOverflows: sum((g) => (g.breakers ?? []).reduce((a, b) => a + b.requestOverflow, 0)) } : {}),
    };
  }

  handle(kind: number, arg: number): void {
    switch (kind) {
      case ARRIVAL:
        this.onArrival(this.groups[arg]);
        break;
      case CLOSED_ISSUE:
        if (this.engine.now() < this.loadEnd) this.issue(this.groups[arg]);
        break;
      case AT_INSTANCE:
        this.onAtInstance(arg);
        break;
      case SERVICE_DONE:
        this.onServiceDone(arg);
        break;
      case AT_CLIENT:
        this.onAtClient(arg);
        break;
      case TIMEOUT:
        if (this.rTimeoutSeq[arg] === this.engine.currentSeq) this.onTimeout(arg);
        break;
      case RATE_CHANGE:
        this.onRateChange(this.groups[arg]);
        break;
      case MEMBERSHIP:
        this.onMembership(arg);
        break;
      case FAULT_ON:
        this.onFault(this.windows[arg], true);
        break;
      case FAULT_OFF:
        this.onFault(this.windows[arg], false);
        break;
      case HC_AT_INSTANCE:
        this.onProbeAtInstance(arg);
        break;
      case HC_AT_CLIENT:
        this.onProbeAnswer(arg);
        break;
      default:
        throw new Error(`unknown event kind ${kind}`);
    }
  }

  private startGroup(g: Group): void {
    const arrival = g.spec.arrival;
    if (arrival.process === 'closed') {
      for (let c = 0; c < arrival.clients; c++) this.engine.at(g.think ? g.think() : 0, CLOSED_ISSUE, g.index);
    } else {
      this.scheduleNextArrival(g, 0);
    }
  }

  /** Draws the next open-loop arrival after `from`, honouring rate steps (memoryless). */
  private scheduleNextArrival(g: Group, from: number): void {
    const gap = g.rate > 0 ? (g.poisson ? -Math.log(1 - g.arrivals.next()) / g.rate : 1 / g.rate) : Infinity;
    const t = from + gap;
    if (t >= g.nextStepAt) {
      if (g.nextStepAt < this.loadEnd) this.engine.at(g.nextStepAt, RATE_CHANGE, g.index);
    } else if (t < this.loadEnd) {
      this.engine.at(t, ARRIVAL, g.index);
    }
  }

  private onRateChange(g: Group): void {
    const arrival = g.spec.arrival;
    if (arrival.process === 'closed') return;
    const step = arrival.steps[g.stepIndex++];
    g.rate = step.rate / 1000;
    g.nextStepAt = g.stepIndex < arrival.steps.length ? arrival.steps[g.stepIndex].at : Infinity;
    this.scheduleNextArrival(g, this.engine.now());
  }

  private onArrival(g: Group): void {
    this.issue(g);
    this.scheduleNextArrival(g, this.engine.now());
  }

  private onMembership(index: number): void {
    const change = this.scenario.membership[index];
    const start = this.serviceStart.get(change.service) ?? 0;
    const now = this.engine.now();
    const addedNow: number[] = [];
    const removedNow: number[] = [];
    // Instances join in index order after those already known (initial + earlier additions).
    let next = this.scenario.services[change.service].instances;
    for (let k = 0; k < index; k++) if (this.scenario.membership[k].service === change.service) next += this.scenario.membership[k].add;
    for (let k = 0; k < change.add; k++) {
      const inst = start + next + k;
      this.instMember[inst] = 1;
      if (this.instColdFor[inst] > 0) this.instColdUntil[inst] = now + this.instColdFor[inst];
      this.metrics.joined(inst, now);
      addedNow.push(next + k);
    }
    for (const local of change.remove) {
      const inst = start + local;
      this.instMember[inst] = 0;
      this.metrics.left(inst, now);
      removedNow.push(local);
    }
    let keysRemapped: number | undefined;
    for (const g of this.groups) {
      if (g.spec.target !== change.service) continue;
      const before = g.sidecars[0].endpoints;
      const { endpoints, instanceOf } = this.membersOf(change.service, g.endpointOf);
      g.instanceOf = instanceOf;
      for (const s of g.sidecars) s.setEndpoints(endpoints);
      if (keysRemapped === undefined && g.spec.key) keysRemapped = this.remappedKeys(g, before, endpoints, index);
    }
    this.membershipEffects.push({ at: now, service: change.service, added: addedNow, removed: removedNow, ...(keysRemapped === undefined ? {} : { keysRemapped }) });
  }

  /**
   * Fraction of a workload's keys (the first 10,000) that map to a different endpoint after
   * a membership change. Measured on a fresh probe balancer of the same policy, so the
   * measurement neither disturbs the simulated sidecars' state nor their random streams,
   * and shows the policy's own hashing stability (load-dependent effects left out).
   */
  private remappedKeys(g: Group, before: readonly Endpoint[], after: readonly Endpoint[], change: number): number {
    const probe = createBalancer(
      this.scenario.mesh.balancer,
      { clock: this.engine, timers: this.engine, rng: this.streams.stream(`probe/${g.spec.name}/${change}`) },
      { localZone: g.spec.zones[0], clientIndex: 0, clientCount: g.spec.sidecars, localZoneSizes: new Map([[g.spec.zones[0], 1]]) },
    );
    const keys = Math.min(g.keyHash.length, 10_000);
    const ctx: { hashKey?: number } = {};
    const owner: string[] = [];
    probe.rebuild(before);
    for (let k = 0; k < keys; k++) {
      ctx.hashKey = this.keyHashOf(g, k);
      const ep = probe.pick(ctx);
      owner.push(ep < 0 ? '' : before[ep].id);
    }
    probe.rebuild(after);
    let moved = 0;
    for (let k = 0; k < keys; k++) {
      ctx.hashKey = this.keyHashOf(g, k);
      const ep = probe.pick(ctx);
      if ((ep < 0 ? '' : after[ep].id) !== owner[k]) moved++;
    }
    return keys > 0 ? moved / keys : 0;
  }

  private keyHashOf(g: Group, k: number): number {
    let h = g.keyHash[k];
    if (h !== h) h = g.keyHash[k] = hashKey(String(k)); // NaN: not hashed yet
    return h;
  }

  private issue(g: Group): void {
    const now = this.engine.now();
    const r = this.allocRequest();
    const measured = now >= this.warmup;
    this.rIssued[r] = now;
    this.rGroup[r] = g.index;
    this.rFlags[r] = measured ? F_MEASURED : 0;
    this.rStatus[r] = 0;
    this.rCode[r] = C_OK;
    this.rTimeoutSeq[r] = -1;
    this.metrics.issued(measured);
    const s = g.nextSidecar;
    g.nextSidecar = s + 1 === g.sidecars.length ? 0 : s + 1;
    this.rSidecar[r] = s;
    const ctx = this.pickContext;
    if (g.key !== undefined) {
      ctx.hashKey = this.keyHashOf(g, g.key());
    } else {
      ctx.hashKey = undefined;
    }
    const sidecar = g.sidecars[s];
    if (g.breakers !== undefined && !g.breakers[s].tryAcquireRequest()) {
      // Envoy's max_requests breaker is open: the sidecar answers 503 at once (overflow).
      this.rInstance[r] = -1;
      this.conclude(r, g, NO_ENDPOINT, 0);
      this.releaseRequest(r);
      return;
    }
    const ep = sidecar.pick(ctx);
    if (ep < 0) {
      // Nothing to send to: the sidecar answers 503 at once, as Envoy does ("no healthy upstream").
      if (g.breakers !== undefined) g.breakers[s].releaseRequest();
      this.rInstance[r] = -1;
      this.conclude(r, g, NO_ENDPOINT, 0);
      this.releaseRequest(r);
      return;
    }
    const inst = g.instanceOf[ep];
    this.rInstance[r] = inst;
    if (measured) this.metrics.sent(inst);
    sidecar.attemptStarted(ep);
    if (g.timeout !== Infinity) this.rTimeoutSeq[r] = this.engine.at(now + g.timeout, TIMEOUT, r);
    if (this.activePartitions.length > 0) {
      const cut = this.partitioned(g, s, inst);
      if (cut === 'drop') {
        this.rFlags[r] |= F_LOST; // the request vanishes; only a timeout ends it
        return;
      }
      if (cut === 'refuse') {
        this.rCode[r] = C_REFUSED;
        this.rStatus[r] = 0;
        this.engine.at(now + this.hopLatency(g.sidecarZone[s], inst), AT_CLIENT, r);
        return;
      }
    }
    this.engine.at(now + this.hopLatency(g.sidecarZone[s], inst), AT_INSTANCE, r);
  }

  /**
   * Sends a health-check probe from sidecar `s` of group `gi` to its endpoint `endpoint`.
   * It crosses the network like a request and meets the same faults (refused by a down
   * instance, swallowed by a hang or a dropping partition, held by a pause, failed by an
   * error fault), but is answered without taking a worker slot; the checker's own timeout
   * handles the probes that never come back.
   */
  private sendProbe(gi: number, s: number, endpoint: number, done: ProbeDone): void {
    const g = this.groups[gi];
    const inst = g.instanceOf[endpoint];
    if (inst === undefined) return;
    const probe: Probe = { group: gi, sidecar: s, instance: inst, done, ok: true, failure: 'network' };
    const cut = this.activePartitions.length > 0 ? this.partitioned(g, s, inst) : undefined;
    if (cut === 'drop') return;
    const id = this.nextProbe++;
    this.probes.set(id, probe);
    const hop = this.hopLatency(g.sidecarZone[s], inst);
    if (cut === 'refuse') {
      probe.ok = false;
      this.engine.at(this.engine.now() + hop, HC_AT_CLIENT, id);
      return;
    }
    this.engine.at(this.engine.now() + hop, HC_AT_INSTANCE, id);
  }

  private onProbeAtInstance(id: number): void {
    const probe = this.probes.get(id);
    if (!probe) return;
    const inst = probe.instance;
    if (this.inst[inst * I_STRIDE + I_FAULTED] !== 0) {
      if (this.instHung[inst] > 0) {
        this.probes.delete(id); // never answered
        return;
      }
      if (this.instDown[inst] > 0) probe.ok = false;
      else if (this.instPaused[inst] > 0) {
        this.engine.at(this.instPauseEnd[inst], HC_AT_INSTANCE, id);
        return;
      } else if (this.instErrRate[inst] > 0 && this.errorDraw(inst)) {
        probe.ok = false;
        probe.failure = 'status';
      }
    }
    const g = this.groups[probe.group];
    this.engine.at(this.engine.now() + this.hopLatency(g.sidecarZone[probe.sidecar], inst), HC_AT_CLIENT, id);
  }

  private onProbeAnswer(id: number): void {
    const probe = this.probes.get(id);
    if (!probe) return;
    this.probes.delete(id);
    if (probe.ok) probe.done(true);
    else probe.done(false, probe.failure);
  }

  private partitioned(g: Group, sidecar: number, inst: number): 'drop' | 'refuse' | undefined {
    for (const w of this.activePartitions) {
      const hit = w.fromGroup >= 0 ? w.fromGroup === g.index && w.instances.has(inst) : w.fromZone === g.sidecarZone[sidecar] && w.toZone === this.inst[inst * I_STRIDE + I_ZONE];
      if (hit) return w.fault.mode ?? 'drop';
    }
    return undefined;
  }

  private hopLatency(zone: number, inst: number): number {
    const base = this.hop();
    return this.crossZone !== undefined && this.inst[inst * I_STRIDE + I_ZONE] !== zone ? base + this.crossZone() : base;
  }

  private zoneId(zone: string): number {
    let id = this.zoneIds.get(zone);
    if (id === undefined) {
      id = this.zoneIds.size;
      this.zoneIds.set(zone, id);
    }
    return id;
  }

  private onAtInstance(r: number): void {
    const inst = this.rInstance[r];
    const rec = this.inst;
    const o = inst * I_STRIDE;
    if (rec[o + I_FAULTED] !== 0 && this.faultedArrival(r, inst)) return;
    if (rec[o + I_BUSY] < rec[o + I_SLOTS]) {
      this.startService(r, inst);
    } else if (rec[o + I_QLEN] < rec[o + I_QCAP]) {
      this.enqueue(inst, r);
    } else {
      this.respond(r, inst, 503, C_REJECTED);
    }
  }

  /** An arrival at an instance under a fault; returns true when the fault disposed of it. */
  private faultedArrival(r: number, inst: number): boolean {
    if (this.instDown[inst] > 0) {
      this.respond(r, inst, 0, C_REFUSED);
      return true;
    }
    if (this.instHung[inst] > 0) {
      this.rFlags[r] |= F_LOST; // accepted, never answered
      return true;
    }
    if (this.instPaused[inst] > 0) {
      // Stopped world: nothing is answered, not even a rejection; the request waits for the pause end.
      this.enqueue(inst, r);
      return true;
    }
    if (this.instErrFast[inst] !== 0 && this.errorDraw(inst)) {
      this.respond(r, inst, this.instErrStatus[inst], C_ERROR);
      return true;
    }
    return false;
  }

  private errorDraw(inst: number): boolean {
    const rate = this.instErrRate[inst];
    return rate >= 1 || (this.instErrRng[inst] as Rng).next() < rate;
  }

  private startService(r: number, inst: number): void {
    this.inst[inst * I_STRIDE + I_BUSY]++;
    const now = this.engine.now();
    this.rServiceStart[r] = now;
    if (this.trackHeld) this.holdRequest(inst, r);
    this.serviceRng.select(inst);
    let work = this.instSample[inst]();
    if (this.serviceModifiers) work = this.modifiedWork(inst, work, now);
    this.rDoneSeq[r] = this.engine.at(now + work, SERVICE_DONE, r);
  }

  /** Service time under a cold start and slow faults. */
  private modifiedWork(inst: number, work: number, now: number): number {
    const coldUntil = this.instColdUntil[inst];
    if (coldUntil > now) work *= 1 + (this.instColdFactor[inst] - 1) * ((coldUntil - now) / this.instColdFor[inst]);
    work *= this.instSlowFactor[inst];
    const add = this.instSlowAdd[inst];
    if (add !== undefined) for (const extra of add) work += extra();
    return work;
  }

  private onServiceDone(r: number): void {
    // A completion voided by a crash or hang (its request slot may even be reused since).
    if (this.rDoneSeq[r] !== this.engine.currentSeq) return;
    const inst = this.rInstance[r];
    const rec = this.inst;
    const o = inst * I_STRIDE;
    const faulted = rec[o + I_FAULTED] !== 0;
    if (faulted && this.instPaused[inst] > 0) {
      // A stop-the-world pause: the work finishes when the pause does.
      this.rDoneSeq[r] = this.engine.at(this.instPauseEnd[inst], SERVICE_DONE, r);
      return;
    }
    this.rDoneSeq[r] = -1;
    // The load report rides on the response: busy slots / slots, this request included.
    const busy = rec[o + I_BUSY];
    this.rUtil[r] = rec[o + I_SLOTS] === UNBOUNDED ? 0 : busy / rec[o + I_SLOTS];
    rec[o + I_BUSY] = busy - 1;
    if (this.trackHeld) this.releaseHeld(inst, r);
    this.metrics.served(inst, this.engine.now() - this.rServiceStart[r]);
    if (rec[o + I_QLEN] > 0) this.startService(this.dequeue(inst), inst);
    if (faulted && this.instErrRate[inst] > 0 && this.instErrFast[inst] === 0 && this.errorDraw(inst)) this.respond(r, inst, this.instErrStatus[inst], C_ERROR);
    else this.respond(r, inst, 200, C_OK);
  }

  /** Appends request `r` to instance `inst`'s wait queue (a FIFO linked through rNext). */
  private enqueue(inst: number, r: number): void {
    const rec = this.inst;
    const o = inst * I_STRIDE;
    this.rNext[r] = -1;
    const tail = rec[o + I_QTAIL];
    if (tail < 0) rec[o + I_QHEAD] = r;
    else this.rNext[tail] = r;
    rec[o + I_QTAIL] = r;
    rec[o + I_QLEN]++;
  }

  /** Removes and returns the oldest waiting request of `inst`; its queue must not be empty. */
  private dequeue(inst: number): number {
    const rec = this.inst;
    const o = inst * I_STRIDE;
    const r = rec[o + I_QHEAD];
    const next = this.rNext[r];
    rec[o + I_QHEAD] = next;
    if (next < 0) rec[o + I_QTAIL] = -1;
    rec[o + I_QLEN]--;
    return r;
  }

  private holdRequest(inst: number, r: number): void {
    let held = this.inService[inst];
    const k = this.inst[inst * I_STRIDE + I_HELD]++;
    if (k === held.length) {
      const bigger = new Int32Array(held.length * 2);
      bigger.set(held);
      held = this.inService[inst] = bigger;
    }
    held[k] = r;
    this.rHeldAt[r] = k;
  }

  private releaseHeld(inst: number, r: number): void {
    const held = this.inService[inst];
    const k = this.rHeldAt[r];
    const last = --this.inst[inst * I_STRIDE + I_HELD];
    const moved = held[last];
    held[k] = moved;
    this.rHeldAt[moved] = k;
  }

  /** A fault window opens (`on`) or closes on its instances or path. */
  private onFault(w: FaultWindow, on: boolean): void {
    const f = w.fault;
    const d = on ? 1 : -1;
    if (f.kind === 'partition') {
      if (on) this.activePartitions.push(w);
      else this.activePartitions.splice(this.activePartitions.indexOf(w), 1);
      return;
    }
    for (const inst of w.instances) {
      this.inst[inst * I_STRIDE + I_FAULTED] += d;
      switch (f.kind) {
        case 'crash':
        case 'flap':
          if (on && this.instDown[inst] === 0) this.dropHeld(inst, true);
          this.instDown[inst] += d;
          break;
        case 'hang':
          if (on && this.instHung[inst] === 0) this.dropHeld(inst, false);
          this.instHung[inst] += d;
          break;
        case 'slow':
          if (f.factor !== undefined) this.instSlowFactor[inst] = on ? this.instSlowFactor[inst] * f.factor : this.instSlowFactor[inst] / f.factor;
          if (w.extra !== undefined) {
            const list = this.instSlowAdd[inst] ?? [];
            if (on) list.push(w.extra);
            else list.splice(list.indexOf(w.extra), 1);
            this.instSlowAdd[inst] = list.length > 0 ? list : undefined;
          }
          break;
        case 'error': {
          const list = this.instErrWindows[inst] ?? [];
          if (on) list.push(w);
          else list.splice(list.indexOf(w), 1);
          this.instErrWindows[inst] = list.length > 0 ? list : undefined;
          const top = list.length > 0 ? list[list.length - 1] : undefined;
          this.instErrRate[inst] = top ? (top.fault.rate ?? 1) : 0;
          this.instErrStatus[inst] = top?.fault.status ?? 503;
          this.instErrFast[inst] = top?.fault.fast === true ? 1 : 0;
          this.instErrRng[inst] = top?.rng;
          break;
        }
        case 'pause':
          this.instPaused[inst] += d;
          if (on) this.instPauseEnd[inst] = Math.max(this.instPauseEnd[inst], w.end);
          else if (this.instPaused[inst] === 0) {
            // The world resumes: start what fits, and answer what the queue bound cannot hold.
            const rec = this.inst;
            const o = inst * I_STRIDE;
            while (rec[o + I_QLEN] > 0 && rec[o + I_BUSY] < rec[o + I_SLOTS]) this.startService(this.dequeue(inst), inst);
            while (rec[o + I_QLEN] > rec[o + I_QCAP]) this.respond(this.dequeue(inst), inst, 503, C_REJECTED);
          }
          break;
      }
    }
  }

  /**
   * A crash resets every request the instance holds (in service or queued); a hang keeps
   * them forever. Either way the instance restarts empty, and completions already
   * scheduled for those requests are void.
   */
  private dropHeld(inst: number, reset: boolean): void {
    const held = this.inService[inst];
    const o = inst * I_STRIDE;
    const victims: number[] = [];
    for (let k = 0; k < this.inst[o + I_HELD]; k++) {
      victims.push(held[k]);
      this.rDoneSeq[held[k]] = -1;
    }
    while (this.inst[o + I_QLEN] > 0) victims.push(this.dequeue(inst));
    this.inst[o + I_HELD] = 0;
    this.inst[o + I_BUSY] = 0;
    if (reset) for (const r of victims) this.respond(r, inst, 0, C_RESET);
    else for (const r of victims) this.rFlags[r] |= F_LOST;
  }

  private respond(r: number, inst: number, status: number, code: number): void {
    if (code !== C_OK) this.rUtil[r] = -1;
    this.rStatus[r] = status;
    this.rCode[r] = code;
    const g = this.groups[this.rGroup[r]];
    this.engine.at(this.engine.now() + this.hopLatency(g.sidecarZone[this.rSidecar[r]], inst), AT_CLIENT, r);
  }

  private onAtClient(r: number): void {
    const flags = this.rFlags[r];
    if ((flags & F_CONCLUDED) === 0) {
      const g = this.groups[this.rGroup[r]];
      const latency = this.engine.now() - this.rIssued[r];
      const status = this.rStatus[r];
      const code = this.rCode[r];
      const outcome = this.response;
      outcome.kind =
        code === C_OK ? (status >= 200 && status < 300 ? 'success' : 'error') : code === C_REJECTED ? 'rejected' : code === C_ERROR ? 'error' : code === C_RESET ? 'reset' : 'connect-failure';
      outcome.status = status;
      const util = this.rUtil[r];
      outcome.utilization = util >= 0 && util !== Infinity && util === util ? util : undefined;
      this.endAttempt(g, r, outcome, latency);
      this.conclude(r, g, outcome, latency);
    }
    this.releaseRequest(r);
  }

  private onTimeout(r: number): void {
    const g = this.groups[this.rGroup[r]];
    const latency = this.engine.now() - this.rIssued[r];
    this.endAttempt(g, r, TIMED_OUT, latency);
    this.conclude(r, g, TIMED_OUT, latency);
    // The instance still finishes the work; the late response is dropped at the client.
    // A request no response will ever reach is done with now.
    if ((this.rFlags[r] & F_LOST) !== 0) this.releaseRequest(r);
  }

  /** Reports an attempt's end to the sidecar that sent it, if its endpoint is still a member. */
  private endAttempt(g: Group, r: number, outcome: Outcome, latency: number): void {
    const ep = g.endpointOf[this.rInstance[r]];
    if (ep >= 0) g.sidecars[this.rSidecar[r]].attemptEnded(ep, outcome, latency);
  }

  /** The client has its answer: count it, and let a closed-loop client think and go again. */
  private conclude(r: number, g: Group, outcome: Outcome, latency: number): void {
    if ((this.rFlags[r] & F_CONCLUDED) !== 0) throw new Error(`request ${r} concluded twice`);
    this.rFlags[r] |= F_CONCLUDED;
    if (g.breakers !== undefined && this.rInstance[r] >= 0) g.breakers[this.rSidecar[r]].releaseRequest();
    this.rTimeoutSeq[r] = -1;
    this.metrics.concluded((this.rFlags[r] & F_MEASURED) !== 0, outcome, latency, this.engine.now());
    if (g.think !== undefined) this.engine.after(g.think(), CLOSED_ISSUE, g.index);
  }

  private allocRequest(): number {
    if (this.nFree === 0) this.growRequests(this.cap * 2);
    return this.free[--this.nFree];
  }

  private releaseRequest(r: number): void {
    this.free[this.nFree++] = r;
  }

  private growRequests(cap: number): void {
    const old = this.cap;
    const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    const f64 = (k: number): Float64Array => new Float64Array(k);
    const i32 = (k: number): Int32Array => new Int32Array(k);
    this.rIssued = grow(this.rIssued, f64);
    this.rServiceStart = grow(this.rServiceStart, f64);
    this.rTimeoutSeq = grow(this.rTimeoutSeq, f64);
    this.rUtil = grow(this.rUtil, f64);
    this.rGroup = grow(this.rGroup, i32);
    this.rSidecar = grow(this.rSidecar, i32);
    this.rInstance = grow(this.rInstance, i32);
    this.rStatus = grow(this.rStatus, i32);
    this.rFlags = grow(this.rFlags, i32);
    this.rCode = grow(this.rCode, i32);
    this.rDoneSeq = grow(this.rDoneSeq, f64);
    this.rHeldAt = grow(this.rHeldAt, i32);
    this.rNext = grow(this.rNext, i32);
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.nFree));
    let k = this.nFree;
    for (let i = cap - 1; i >= old; i--) free[k++] = i;
    this.free = free;
    this.nFree = k;
    this.cap = cap;
  }
}

function keySampler(spec: KeySpec, rng: Rng): () => number {
  if (spec.dist === 'uniform') return () => Math.floor(rng.next() * spec.n);
  return aliasSampler(zipfWeights(spec.n, spec.s), rng);
}

/** Simulates one replication of a resolved scenario. */
export function simulate(scenario: Scenario, seed: number): RunResult {
  return new World(scenario, { seed }).run();
}
