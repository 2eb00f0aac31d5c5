/**
 * The simulated world: services made of instances (worker slots + bounded FIFO queue),
 * a network with per-hop latency and a cross-zone penalty, and client groups offering
 * open-loop (Poisson, constant, rate steps) or closed-loop load. Every request goes
 * through its caller's mesh sidecar (src/mesh), exactly as in live mode.
 *
 * Requests and instances are struct-of-arrays with free lists, and events are
 * (kind, index) pairs: nothing is allocated per request, and memory grows with the
 * world (instances, requests in flight), never with the number of requests simulated.
 */
import type { Endpoint, Outcome } from '../algorithms/types.js';
import { createBalancer } from '../algorithms/registry.js';
import { makeSampler, type Sampler } from '../core/distributions.js';
import { RngStreams } from '../core/rng.js';
import type { Rng } from '../core/ports.js';
import { Sidecar } from '../mesh/sidecar.js';
import type { Scenario, WorkloadSpec } from '../scenario/types.js';
import { Engine, FIRST_MODEL_KIND, type Model } from './engine.js';
import { RunMetrics, type RunResult } from './metrics.js';
import { IntRing } from './int-ring.js';

// Event kinds (arg in parentheses).
const ARRIVAL = FIRST_MODEL_KIND; // open-loop arrival (group)
const CLOSED_ISSUE = FIRST_MODEL_KIND + 1; // a closed-loop client issues (group)
const AT_INSTANCE = FIRST_MODEL_KIND + 2; // request reaches its instance (request)
const SERVICE_DONE = FIRST_MODEL_KIND + 3; // instance finishes a request (request)
const AT_CLIENT = FIRST_MODEL_KIND + 4; // response reaches the client (request)
const TIMEOUT = FIRST_MODEL_KIND + 5; // client-side timeout (request)
const RATE_CHANGE = FIRST_MODEL_KIND + 6; // open-loop rate step boundary (group)

const OK: Outcome = { kind: 'success', status: 200 };
const REJECTED: Outcome = { kind: 'rejected', status: 503 };
const NO_ENDPOINT: Outcome = { kind: 'connect-failure', status: 503 };
const TIMED_OUT: Outcome = { kind: 'timeout', status: 0 };

/** Request flags. */
const F_MEASURED = 1; // issued inside the measurement window
const F_CONCLUDED = 2; // the client has its answer (response or timeout)

interface Group {
  readonly index: number;
  readonly spec: WorkloadSpec;
  readonly sidecar: Sidecar;
  /** Global instance index of each endpoint index. */
  readonly instanceOf: Int32Array;
  readonly zone: number;
  /** Poisson (exponential gaps) rather than constant-rate arrivals. */
  readonly poisson: boolean;
  readonly arrivals: Rng;
  readonly think: Sampler | undefined;
  readonly timeout: number;
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

  // Instances (global index across services).
  private readonly instZone: string[] = [];
  /** Zone of each instance as a small integer (compared on every hop). */
  private readonly instZoneId: Int32Array;
  private readonly zoneIds = new Map<string, number>();
  private readonly instService: string[] = [];
  private readonly instBusy: Int32Array;
  private readonly instSlots: Float64Array;
  private readonly instQueueCap: Float64Array;
  private readonly instQueue: IntRing[] = [];
  private readonly instSample: Sampler[] = [];

  // Network.
  private readonly hop: Sampler;
  private readonly crossZone: Sampler | undefined;

  // Requests (struct-of-arrays pool).
  private cap = 0;
  private free: Int32Array = new Int32Array(0);
  private nFree = 0;
  private rIssued: Float64Array = new Float64Array(0);
  private rGroup: Int32Array = new Int32Array(0);
  private rEndpoint: Int32Array = new Int32Array(0);
  private rInstance: Int32Array = new Int32Array(0);
  private rStatus: Int32Array = new Int32Array(0);
  private rFlags: Int32Array = new Int32Array(0);
  private rServiceStart: Float64Array = new Float64Array(0);
  private rTimeoutSeq: Float64Array = new Float64Array(0);

  constructor(scenario: Scenario, options: WorldOptions) {
    this.scenario = scenario;
    this.loadEnd = scenario.duration;
    this.warmup = scenario.warmup;
    const streams = new RngStreams(options.seed);

    const serviceStart = new Map<string, number>();
    const slotsInit: number[] = [];
    const queueInit: number[] = [];
    for (const [name, svc] of Object.entries(scenario.services)) {
      serviceStart.set(name, this.instZone.length);
      for (let i = 0; i < svc.instances; i++) {
        const override = svc.overrides.filter((o) => o.instances.includes(i));
        let dist = svc.serviceTime;
        let slots = svc.concurrency;
        let queue = svc.queue;
        for (const o of override) {
          if (o.serviceTime) dist = o.serviceTime;
          if (o.concurrency !== undefined) slots = o.concurrency;
          if (o.queue !== undefined) queue = o.queue;
        }
        this.instZone.push(svc.zones[i % svc.zones.length]);
        this.instService.push(name);
        this.instSample.push(makeSampler(dist, streams.stream(`service/${name}/${i}`)));
        this.instQueue.push(new IntRing(16));
        slotsInit.push(slots);
        queueInit.push(queue);
      }
    }
    const n = this.instZone.length;
    this.instZoneId = Int32Array.from(this.instZone, (z) => this.zoneId(z));
    this.instBusy = new Int32Array(n);
    this.instSlots = Float64Array.from(slotsInit);
    this.instQueueCap = Float64Array.from(queueInit);

    this.hop = makeSampler(scenario.network.latency, streams.stream('network/latency'));
    this.crossZone = scenario.network.crossZone
      ? makeSampler(scenario.network.crossZone, streams.stream('network/crossZone'))
      : undefined;

    this.metrics = new RunMetrics(options.seed, n, this.instService);

    scenario.workload.forEach((spec, index) => {
      const start = serviceStart.get(spec.target);
      const svc = scenario.services[spec.target];
      if (start === undefined || !svc) throw new Error(`workload ${spec.name}: unknown target ${spec.target}`);
      const endpoints: Endpoint[] = [];
      const instanceOf = new Int32Array(svc.instances);
      for (let i = 0; i < svc.instances; i++) {
        instanceOf[i] = start + i;
        endpoints.push({
          id: `${spec.target}-${i}`,
          address: `${spec.target}-${i}.sim:80`,
          zone: this.instZone[start + i],
          weight: 1,
          health: 'healthy',
          priority: 0,
          metadata: {},
        });
      }
      const balancer = createBalancer(scenario.mesh.balancer, {
        clock: this.engine,
        timers: this.engine,
        rng: streams.stream(`balancer/${spec.name}/0`),
      });
      const arrival = spec.arrival;
      const group: Group = {
        index,
        spec,
        sidecar: new Sidecar(`${spec.name}-0`, balancer, endpoints),
        instanceOf,
        zone: this.zoneId(spec.zone),
        poisson: arrival.process === 'poisson',
        arrivals: streams.stream(`arrivals/${spec.name}`),
        think: arrival.process === 'closed' ? makeSampler(arrival.think, streams.stream(`think/${spec.name}`)) : undefined,
        timeout: spec.timeout ?? Infinity,
        rate: arrival.process === 'closed' ? 0 : arrival.rate / 1000,
        stepIndex: 0,
        nextStepAt: arrival.process === 'closed' || arrival.steps.length === 0 ? Infinity : arrival.steps[0].at,
      };
      this.groups.push(group);
    });

    this.growRequests(1024);
    this.engine.setModel(this);
  }

  /** Runs the whole replication: load for `duration`, then up to `drain` for stragglers. */
  run(): RunResult {
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
    return this.metrics.finish(this.engine, this.scenario.duration - this.scenario.warmup, inFlight, allInFlight);
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
      default:
        throw new Error(`unknown event kind ${kind}`);
    }
  }

  private startGroup(g: Group): void {
    const arrival = g.spec.arrival;
    if (arrival.process === 'closed') {
      for (let c = 0; c < arrival.clients; c++) this.engine.at(g.think ? g.think() : 0, CLOSED_ISSUE, g.index);
    } else {
      // The first step may start at 0; a group whose initial rate is 0 waits for a step.
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

  private issue(g: Group): void {
    const now = this.engine.now();
    const r = this.allocRequest();
    const measured = now >= this.warmup;
    this.rIssued[r] = now;
    this.rGroup[r] = g.index;
    this.rFlags[r] = measured ? F_MEASURED : 0;
    this.rStatus[r] = 0;
    this.rTimeoutSeq[r] = -1;
    this.metrics.issued(measured);
    const ep = g.sidecar.pick();
    this.rEndpoint[r] = ep;
    if (ep < 0) {
      // Nothing to send to: the sidecar answers 503 at once, as Envoy does ("no healthy upstream").
      this.rInstance[r] = -1;
      this.conclude(r, g, NO_ENDPOINT, 0);
      this.releaseRequest(r);
      return;
    }
    const inst = g.instanceOf[ep];
    this.rInstance[r] = inst;
    g.sidecar.attemptStarted(ep);
    if (g.timeout !== Infinity) this.rTimeoutSeq[r] = this.engine.at(now + g.timeout, TIMEOUT, r);
    this.engine.at(now + this.hopLatency(g.zone, inst), AT_INSTANCE, r);
  }

  private hopLatency(zone: number, inst: number): number {
    const base = this.hop();
    return this.crossZone !== undefined && this.instZoneId[inst] !== zone ? base + this.crossZone() : base;
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
    if (this.instBusy[inst] < this.instSlots[inst]) {
      this.startService(r, inst);
    } else {
      const q = this.instQueue[inst];
      if (q.length < this.instQueueCap[inst]) q.push(r);
      else this.respond(r, inst, 503);
    }
  }

  private startService(r: number, inst: number): void {
    this.instBusy[inst]++;
    const now = this.engine.now();
    this.rServiceStart[r] = now;
    this.engine.at(now + this.instSample[inst](), SERVICE_DONE, r);
  }

  private onServiceDone(r: number): void {
    const inst = this.rInstance[r];
    this.instBusy[inst]--;
    this.metrics.served(inst, this.engine.now() - this.rServiceStart[r]);
    const q = this.instQueue[inst];
    if (q.length > 0) this.startService(q.shift(), inst);
    this.respond(r, inst, 200);
  }

  private respond(r: number, inst: number, status: number): void {
    this.rStatus[r] = status;
    const g = this.groups[this.rGroup[r]];
    this.engine.at(this.engine.now() + this.hopLatency(g.zone, inst), AT_CLIENT, r);
  }

  private onAtClient(r: number): void {
    const flags = this.rFlags[r];
    if ((flags & F_CONCLUDED) === 0) {
      const g = this.groups[this.rGroup[r]];
      const latency = this.engine.now() - this.rIssued[r];
      const status = this.rStatus[r];
      const outcome = status === 200 ? OK : REJECTED;
      g.sidecar.attemptEnded(this.rEndpoint[r], outcome, latency);
      this.conclude(r, g, outcome, latency);
    }
    this.releaseRequest(r);
  }

  private onTimeout(r: number): void {
    const g = this.groups[this.rGroup[r]];
    const latency = this.engine.now() - this.rIssued[r];
    g.sidecar.attemptEnded(this.rEndpoint[r], TIMED_OUT, latency);
    this.conclude(r, g, TIMED_OUT, latency);
    // The instance still finishes the work; the late response is dropped at the client.
  }

  /** The client has its answer: count it, and let a closed-loop client think and go again. */
  private conclude(r: number, g: Group, outcome: Outcome, latency: number): void {
    if ((this.rFlags[r] & F_CONCLUDED) !== 0) throw new Error(`request ${r} concluded twice`);
    this.rFlags[r] |= F_CONCLUDED;
    this.rTimeoutSeq[r] = -1;
    this.metrics.concluded((this.rFlags[r] & F_MEASURED) !== 0, outcome, latency);
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
    this.rGroup = grow(this.rGroup, i32);
    this.rEndpoint = grow(this.rEndpoint, i32);
    this.rInstance = grow(this.rInstance, i32);
    this.rStatus = grow(this.rStatus, i32);
    this.rFlags = grow(this.rFlags, i32);
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.nFree));
    let k = this.nFree;
    for (let i = cap - 1; i >= old; i--) free[k++] = i;
    this.free = free;
    this.nFree = k;
    this.cap = cap;
  }
}

/** Simulates one replication of a resolved scenario. */
export function simulate(scenario: Scenario, seed: number): RunResult {
  return new World(scenario, { seed }).run();
}
