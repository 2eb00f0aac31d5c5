/**
 * The simulated world: services made of instances (worker slots + bounded FIFO queue),
 * a network with per-hop latency and a cross-zone penalty, client groups whose sidecars
 * offer open-loop (Poisson, constant, rate steps) or closed-loop load, and services that
 * call other services while they serve (call graphs), each caller through its own sidecars.
 *
 * Every call goes through a sidecar of its caller (src/mesh), exactly as in live mode:
 * endpoint set → health view → balancer pick → transport, with the caller's failover
 * settings around it: an overall deadline, per-try timeouts, retries with Envoy's backoff
 * and a cross-request budget, hedging, a circuit breaker and adaptive throttling. The
 * decisions are the world-agnostic functions of src/algorithms/failover; this file only
 * moves requests and keeps the timers.
 *
 * A call (one logical request from a caller) has one or more attempts (one per try, retry
 * or hedge). Calls, attempts and instances are records in typed arrays with free lists,
 * and events are (kind, index) pairs: nothing is allocated per request, memory grows with
 * the world and the requests in flight, never with the number of requests simulated.
 * Timers are events checked against the sequence number the record remembers, so a timer
 * that lost its reason (its call concluded, its record was reused) does nothing.
 */
import type { Endpoint, Outcome } from '../algorithms/types.js';
import { createBalancer, END_BLIND_KINDS } from '../algorithms/registry.js';
import type { OutlierDetector } from '../algorithms/failover/outlier-detection.js';
import type { HealthChecker, ProbeDone } from '../algorithms/failover/health-check.js';
import type { CircuitBreaker } from '../algorithms/failover/circuit-breaker.js';
import { throttleAccepts, type AdaptiveThrottle } from '../algorithms/failover/adaptive-throttling.js';
import { envoyAttemptEndAction } from '../algorithms/failover/hedging.js';
import { hasResponse, pickAvoidingPreviousHosts } from '../algorithms/failover/retry-policy.js';
import { endAttempt, retryDecision, type RetryLimiter } from '../algorithms/failover/retry-limiter.js';
import { LOCALITY_WEIGHT_KEY } from '../algorithms/balancing/envoy/locality.js';
import { keySampler } from '../core/discrete.js';
import { makeSampler, samplerIsStateless, type Sampler } from '../core/distributions.js';
import type { DistSpec } from '../core/distribution-spec.js';
import { RngStreams, type RngBank } from '../core/rng.js';
import type { Rng } from '../core/ports.js';
import { hashKey } from '../core/xxhash64.js';
import type { Sidecar } from '../mesh/sidecar.js';
import { createSidecarPolicies, resolveRouter, type RouterSettings, type SidecarPolicies } from '../mesh/policies.js';
import type { CallSpec, FailoverSpec, MeshSpec, Scenario, WorkloadSpec } from '../scenario/types.js';
import { instanceSettings, membershipTimeline, simulatedAddress, type MembershipStep } from '../scenario/instances.js';
import { faultWindows, type FaultWindow } from './faults.js';
import { Engine, FIRST_MODEL_KIND, type Model } from './engine.js';
import { MAX_IN_FLIGHT, RunLimitError } from './limits.js';
import { TimerFifo } from './timer-fifo.js';
import { RunMetrics, type FailoverCounts, type FaultEffect, type LayerStats, type MembershipEffect, type RunResult } from './metrics.js';

// Event kinds (arg in parentheses).
/** The metadata of an endpoint that has none (shared: balancers only read it). */
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

const ARRIVAL = FIRST_MODEL_KIND; // open-loop arrival (pool)
const CLOSED_ISSUE = FIRST_MODEL_KIND + 1; // a closed-loop client issues (pool)
const AT_INSTANCE = FIRST_MODEL_KIND + 2; // an attempt reaches its instance (attempt)
const SERVICE_DONE = FIRST_MODEL_KIND + 3; // an instance finishes an attempt's own work (attempt)
const AT_CLIENT = FIRST_MODEL_KIND + 4; // an attempt's response reaches the sidecar (attempt)
const DEADLINE = FIRST_MODEL_KIND + 5; // the earliest of a pool's call deadlines (pool)
const RATE_CHANGE = FIRST_MODEL_KIND + 6; // open-loop rate step boundary (pool)
const MEMBERSHIP = FIRST_MODEL_KIND + 7; // scenario.membership[arg] takes effect
const FAULT_ON = FIRST_MODEL_KIND + 8; // fault window starts (window)
const FAULT_OFF = FIRST_MODEL_KIND + 9; // fault window ends (window)
const HC_AT_INSTANCE = FIRST_MODEL_KIND + 10; // a health-check probe reaches its instance (probe)
const HC_AT_CLIENT = FIRST_MODEL_KIND + 11; // its answer reaches the sidecar (probe)
const TRY_TIMEOUT = FIRST_MODEL_KIND + 12; // the earliest of a pool's per-try timeouts (pool)
const RETRY_SEND = FIRST_MODEL_KIND + 13; // an admitted retry's backoff is over (retry token)
const HEDGE = FIRST_MODEL_KIND + 14; // the earliest of a pool's hedging delays (pool)
const PAUSE_RESUME = FIRST_MODEL_KIND + 15; // a paused instance applies its queue bound, after the completions its pause deferred (instance)

/** Instance record layout (Int32 words; see World.inst). */
const I_STRIDE = 16;
const I_RNG = 0; // words 0–3: SFC32 state of the service-time stream
const I_BUSY = 4; // busy worker slots
const I_SLOTS = 5; // worker slots (UNBOUNDED: infinite server)
const I_QCAP = 6; // wait-queue bound (UNBOUNDED: none)
const I_QHEAD = 7; // oldest waiting attempt (-1: none), linked through aNext
const I_QTAIL = 8; // newest waiting attempt (-1: none)
const I_QLEN = 9; // waiting attempts
const I_FAULTED = 10; // fault windows active on the instance (any kind): the hot path checks only this
const I_ZONE = 11; // zone id
const I_HELD = 12; // attempts in service listed in inService (crash/hang/pause tracking)
/**
 * Stands for an unbounded slot count or queue bound (more than any pool of requests). The
 * largest finite bound a scenario may give (MAX_SLOTS in src/scenario/schema.ts) is the same
 * number, and behaves the same; a larger one would not fit the Int32 record.
 */
const UNBOUNDED = 0x7fffffff;

/** A slot count or queue bound as its Int32 record word; throws for one the word cannot hold (it would wrap). */
function slotsWord(x: number, what: string): number {
  if (x === Infinity) return UNBOUNDED;
  if (!Number.isInteger(x) || x < 0 || x > UNBOUNDED) throw new RangeError(`${what} ${x} does not fit the instance record: expected a whole number from 0 to ${UNBOUNDED}, or Infinity`);
  return x;
}

/** Host reselection: per call, the number of instances tried, then up to MAX_TRIED of them (World.tried). */
const T_STRIDE = 8;
const MAX_TRIED = T_STRIDE - 1;

const CF_MEASURED = 1; // issued inside the measurement window
const CF_CONCLUDED = 2; // the caller has its answer
const CF_MESH_DEADLINE = 4; // the deadline is the sidecar's route timeout (answers 504), not the client's own
const CF_HOLDS_RETRY = 8; // it holds a retry its limiter admitted (Envoy: one at most, until its next retry decision or its end)


const AF_ENDED = 1; // the sidecar is done with it (answered, timed out or cancelled)
const AF_LOST = 2; // no response will ever come (a hang, a dropping partition)
const AF_BY_RETRY = 4; // launched by an admitted retry or hedge
const AF_HEDGED = 8; // its per-try timeout's hedge was admitted: never retried itself (Envoy's upstream_request.retried)
const AF_GONE = 16; // the server side dropped it (crash or hang): its downstream results are void
const AF_CHILD_FAIL = 32; // a downstream call of the current step failed fatally
const AF_ISSUING = 64; // its downstream calls are being issued (completions must not resume it yet)
const AF_HEDGE = 128; // it is a hedge (for hedges won)
const AF_TIMEOUT_RECORDED = 256; // its soft per-try timeout went to outlier detection: a route timeout is not recorded again
const AF_WAITED = 512; // (sendAttempt's argument only) it waited for a connection: the limiter already counts it

/** How an attempt ended at the server side (A_CODE). */
const C_OK = 0; // an HTTP answer: success when 2xx
const C_REJECTED = 1; // 503 from a full queue
const C_ERROR = 2; // a 5xx from an error fault, or a failed dependency
const C_RESET = 3; // connection reset (instance crashed mid-request)
const C_REFUSED = 4; // connection refused (instance down, partition refusing)

/** "No healthy upstream" or a breaker overflow: the sidecar answers 503 itself, as Envoy does. */
const LOCAL_503: Outcome = { kind: 'rejected', status: 503 };
const TIMED_OUT: Outcome = { kind: 'timeout', status: 0 };
const ROUTE_TIMEOUT: Outcome = { kind: 'timeout', status: 504 };
/** Status an instance answers with when a dependency it needed failed. */
const DEPENDENCY_FAILED_STATUS = 503;

/** A health-check probe in flight: it travels like a request but takes no worker slot. */
interface Probe {
  readonly pool: number;
  readonly sidecar: number;
  readonly instance: number;
  readonly done: ProbeDone;
  ok: boolean;
  failure: 'network' | 'status';
}

/** What one instance-fault window did, as it happens (see FaultEffect). */
interface WindowWatch {
  readonly window: FaultWindow;
  readonly service: string;
  open: boolean;
  detectedAt: number;
  detectedBy: FaultEffect['detectedBy'];
  awaitingRecovery: boolean;
  recoveredAt: number;
  attempts: number;
  failed: number;
  attemptsBefore: number;
  failedBefore: number;
  /** Attempts sent to the service's other instances so far, at the window's start and end. */
  survivorsAtStart: number;
  survivorsAtEnd: number;
}

/** A pool's failover settings, resolved for the hot path (src/mesh/policies.ts). */
type PoolFailover = RouterSettings;
const resolveFailover = resolveRouter;

/**
 * A client pool: the sidecars of one caller (a workload's client sidecars, or the
 * instances of a calling service, one sidecar each) towards one target service.
 */
interface Pool {
  readonly index: number;
  readonly name: string;
  /** Caller id for partitions: a workload's index, or workloads + the calling service's index. */
  readonly caller: number;
  readonly target: string;
  readonly mesh: MeshSpec;
  readonly sidecars: readonly Sidecar[];
  readonly outliers: readonly OutlierDetector[];
  readonly checkers: readonly HealthChecker[];
  readonly breakers: readonly CircuitBreaker[] | undefined;
  /** With breakers: each sidecar's attempts waiting for a connection (id = call × 4 + flag bits). */
  readonly connQueues: readonly TimerFifo[] | undefined;
  draining: boolean;
  readonly limiters: readonly RetryLimiter[] | undefined;
  readonly throttles: readonly AdaptiveThrottle[] | undefined;
  /** Each sidecar's stream for backoff jitter. */
  readonly jitter: readonly Rng[];
  readonly failover: PoolFailover;
  readonly sidecarZone: Int32Array;
  instanceOf: Int32Array;
  readonly endpointOf: Int32Array;
  readonly stats: LayerCounters;
  /** Pending deadlines, per-try timeouts and hedging delays (one delay each per pool). */
  readonly deadlines: TimerFifo;
  readonly tries: TimerFifo;
  readonly hedges: TimerFifo;
  /**
   * Nothing watches the moment this pool's answers arrive (see World.answersAtOnce): a
   * workload's open-loop pool with no failover and a balancer of END_BLIND_KINDS.
   */
  readonly unobservedAnswers: boolean;
  // Workload pools only.
  readonly workload: WorkloadSpec | undefined;
  nextSidecar: number;
  readonly poisson: boolean;
  readonly arrivals: Rng | undefined;
  readonly think: Sampler | undefined;
  readonly key: (() => number) | undefined;
  readonly keyHash: Float64Array;
  /** Open loop: arrivals per ms (Poisson) and per second (constant), and the step in force. */
  rate: number;
  perSecond: number;
  stepIndex: number;
  nextStepAt: number;
  /** Constant arrivals: when the rate in force took effect, and the arrivals scheduled since. */
  phaseStart: number;
  phaseCount: number;
}

type LayerCounters = { -readonly [K in keyof Omit<LayerStats, 'caller' | 'target' | 'client'>]: number };

/** A calling service's downstream steps, resolved. */
interface CallStep {
  readonly spec: CallSpec;
  readonly pool: number;
}

export { MAX_IN_FLIGHT, MAX_EVENTS_AT_ONE_TIME, RunLimitError } from './limits.js';

export interface WorldOptions {
  /** Seed of this replication (the scenario's seed + k). */
  readonly seed: number;
  /** false: every answer gets its AT_CLIENT event (tests compare the two ways; see answersAtOnce). Default true. */
  readonly elide?: boolean;
  /** Requests (and attempts) one run may hold in flight at once; default {@link MAX_IN_FLIGHT}. Tests lower it. */
  readonly maxInFlight?: number;
}

export class World implements Model {
  readonly engine = new Engine();
  private readonly scenario: Scenario;
  private readonly pools: Pool[] = [];
  private readonly workloadPools: Pool[] = [];
  private readonly metrics: RunMetrics;
  private readonly loadEnd: number;
  /** When the run stops (duration + drain): answers arriving then or later stay in flight. */
  private readonly runEnd: number;
  /**
   * Event elision: some pool's answers may be taken when the instance sends them rather
   * than by an AT_CLIENT event at their arrival, because nothing observes that moment but
   * the request's own latency and timeline bucket, both known when the answer leaves: the
   * pool's balancer ignores ends, no failover mechanism, deadline, closed-loop client or
   * fault watches the answer, and the run has no faults. A quarter fewer events per plain
   * request; the same report.json byte for byte (the draws happen in the same order and
   * the remaining events keep their relative order).
   */
  private readonly answersAtOnce: boolean;
  private readonly warmup: number;

  // Instances (global index across services, including those that join later).
  private readonly instService: string[] = [];
  private readonly instServiceIndex: number[] = [];
  private readonly instLocal: number[] = [];
  private readonly instZone: string[] = [];
  private readonly zoneIds = new Map<string, number>();
  private readonly instWeight: Float64Array;
  private readonly instPriority: Int32Array;
  /**
   * The fields every request touches, one 64-byte record per instance (I_* offsets): its
   * service-time random stream, busy slots, slot count, queue bound, wait queue (linked
   * through the attempts' aNext), fault count and zone. One cache line per instance
   * instead of a dozen arrays and objects: with 10,000 instances the scattered layout
   * missed the cache on nearly every field (bench/fleet10k went 6.3 s → 3.3 s).
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
  /** Each service's downstream call steps (by service index), and the stream deciding optional calls. */
  private readonly serviceSteps: (readonly CallStep[])[] = [];
  private readonly callRng: (Rng | undefined)[] = [];
  // Faults: per-instance state, the windows of the run, and the attempts each instance holds.
  private readonly windows: readonly FaultWindow[];
  private readonly instDown: Int32Array;
  private readonly instHung: Int32Array;
  private readonly instPaused: Int32Array;
  private readonly instPauseEnd: Float64Array;
  /**
   * Per paused instance, the work its pause froze: for each attempt whose own work was in
   * progress at the pause start, in completion order, the attempt, its generation and the
   * service time it had left (flat triples); resumed at the pause end.
   */
  private readonly instFrozen: (number[] | undefined)[];
  private readonly instSlowFactor: Float64Array;
  private readonly instSlowAdd: (Sampler[] | undefined)[];
  private readonly instErrRate: Float64Array;
  private readonly instErrStatus: Int32Array;
  private readonly instErrFast: Uint8Array;
  private readonly instErrRng: (Rng | undefined)[];
  /** Active error windows per instance, newest last: the newest one applies. */
  private readonly instErrWindows: (FaultWindow[] | undefined)[];
  /** Attempts in service on each instance (swap-remove arrays), for crashes, hangs and pauses. */
  private readonly inService: Int32Array[];
  private readonly activePartitions: FaultWindow[] = [];
  /** Per fault window on instances (by position in `windows`), what it did; undefined for partitions. */
  private readonly watches: (WindowWatch | undefined)[];
  /** Open (or awaiting recovery) watches of each instance, when it has any. */
  private readonly instWatches: (WindowWatch[] | undefined)[];
  /** Some fault window on instances exists: attempts are counted for its effects. */
  private readonly watching: boolean;
  /** Attempts sent to each instance over the whole run (for the survivors' load). */
  private readonly instAttempts: Float64Array;
  /** Health-check probes in flight, by id. */
  private readonly probes = new Map<number, Probe>();
  private nextProbe = 0;
  /** Only crashes, hangs and pauses need to know which attempts an instance holds. */
  private readonly trackHeld: boolean;
  /** Cold starts or slow faults may change service times. */
  private readonly serviceModifiers: boolean;
  private readonly serviceNames: string[];
  private readonly serviceStart = new Map<string, number>();
  private readonly serviceCount = new Map<string, number>();
  private readonly membershipEffects: MembershipEffect[] = [];
  /** scenario.membership resolved: the instances each change adds and removes. */
  private readonly membershipSteps: readonly MembershipStep[];
  private readonly streams: RngStreams;

  // Network.
  private readonly hop: Sampler;
  private readonly crossZone: Sampler | undefined;

  /** Reused pick context (balancers read it during the call only). */
  private readonly pickContext: { hashKey?: number; attempt?: number } = {};
  /** Reused outcome of a response (balancers read it during the call only). */
  private readonly response: { kind: Outcome['kind']; status: number; utilization?: number } = { kind: 'success', status: 200 };
  /** Scratch list of endpoint indices already tried (host reselection). */
  private readonly triedScratch = new Int32Array(MAX_TRIED);

  // Calls and attempts: one typed array per field (c*: calls, a*: attempts), indexed by
  // record number, with free lists. Struct-of-arrays on purpose: each event reads a few
  // fields of a record it has not touched for milliseconds, and small dense arrays stay in
  // cache where 128-byte records did not (fleet10k: 3.8 s → see bench/results; reports
  // identical). Always access them through `this`: code that issues calls may grow them.
  /** Client pool (caller → target). */
  private cPool = new Int32Array(0);
  /** Sidecar within the pool. */
  private cSidecar = new Int32Array(0);
  /** Time the caller issued it. */
  private cIssued = new Float64Array(0);
  /** CF_*. */
  private cFlags = new Int32Array(0);
  /** Attempt being served that made this call (-1: a workload's request). */
  private cParent = new Int32Array(0);
  /** That attempt record's generation (guards against reuse). */
  private cParentGen = new Int32Array(0);
  /** Attempts sent. */
  private cSent = new Int32Array(0);
  /** Attempts sent and not ended. */
  private cOut = new Int32Array(0);
  /**
   * Retries and hedges used up (Envoy's num_retries − retries_remaining_): every retry
   * decision that asked the limiter for one, admitted or refused, as RetryStateImpl::
   * shouldRetry decrements retries_remaining_ before asking the resource manager.
   */
  private cRetries = new Int32Array(0);
  /** Retries and hedges admitted: the backoff's n (Envoy's backoff advances only when a retry is admitted). */
  private cAdmitted = new Int32Array(0);
  /** Admitted retries waiting out their backoff. */
  private cPendingRetry = new Int32Array(0);
  /** Its attempts waiting in the sidecar's pool for a connection. */
  private cWaiting = new Int32Array(0);
  /** Positions of its deadline and hedge timers in its pool's FIFOs (-1: none). */
  private cDeadlinePos = new Float64Array(0);
  private cHedgePos = new Float64Array(0);
  /** Generation of the call record (bumped on every allocation): stale retry timers check it. */
  private cGen = new Int32Array(0);
  /** Hash key (NaN: none). */
  private cKey = new Float64Array(0);
  /** Newest attempt of the call (-1: none), linked through aSib. */
  private cAttHead = new Int32Array(0);
  /** Attempt records still referring to this call (and pins). */
  private cLive = new Int32Array(0);
  private tried = new Int32Array(0);
  private cCap = 0;
  /** Calls and attempts (each) the record pools may hold: growing past it stops the run (RunLimitError). */
  private readonly maxInFlight: number;
  private cFree = new Int32Array(0);
  private cNFree = 0;
  /** Its call. */
  private aCall = new Int32Array(0);
  /** Global instance it was sent to. */
  private aInst = new Int32Array(0);
  /** Time sent. */
  private aSent = new Float64Array(0);
  /** HTTP status of its response (0: none). */
  private aStatus = new Int32Array(0);
  /** How it ended at the server (C_OK...). */
  private aCode = new Int32Array(0);
  /** AF_*. */
  private aFlags = new Int32Array(0);
  /** Time its worker slot was taken. */
  private aSvcStart = new Float64Array(0);
  /** Sequence of its pending SERVICE_DONE (-1: none; voided by crash/hang/pause). */
  private aDoneSeq = new Float64Array(0);
  /** Time of its pending SERVICE_DONE (kept only when trackHeld: a pause freezes what is left). */
  private aDoneAt = new Float64Array(0);
  /** Utilisation reported with the response (-1: none). */
  private aUtil = new Float64Array(0);
  /** Position in inService[instance]. */
  private aHeldAt = new Int32Array(0);
  /** Zone id of the sidecar that sent it (for the response hop). */
  private aZone = new Int32Array(0);
  /** Previous attempt of the same call (-1: none). */
  private aSib = new Int32Array(0);
  /** Call-graph step being served (-1: own work not done yet). */
  private aStep = new Int32Array(0);
  /** Downstream calls of the current step not ended. */
  private aPending = new Int32Array(0);
  /** Generation of the record (bumped on every allocation). */
  private aGen = new Int32Array(0);
  /** Retry timers (RETRY_SEND tokens): the call, its generation then, and whether it is a hedge. */
  private tCall = new Int32Array(0);
  private tGen = new Int32Array(0);
  private tHedge = new Uint8Array(0);
  private readonly tFree: number[] = [];
  /** Position of its per-try timer in its pool's FIFO (-1: none). */
  private aTryPos = new Float64Array(0);
  /** Next attempt in its instance's wait queue (-1: last). */
  private aNext = new Int32Array(0);
  private aCap = 0;
  private aFree = new Int32Array(0);
  private aNFree = 0;

  constructor(scenario: Scenario, options: WorldOptions) {
    this.scenario = scenario;
    this.loadEnd = scenario.duration;
    this.runEnd = scenario.duration + scenario.drain;
    this.warmup = scenario.warmup;
    const streams = new RngStreams(options.seed);
    this.streams = streams;
    this.serviceNames = Object.keys(scenario.services);

    const timeline = membershipTimeline(scenario);
    this.membershipSteps = timeline.steps;
    const slots: number[] = [];
    const queues: number[] = [];
    const weights: number[] = [];
    const priorities: number[] = [];
    const coldFor: number[] = [];
    const coldFactor: number[] = [];
    const member: number[] = [];
    const dists: DistSpec[] = [];
    this.serviceNames.forEach((name, serviceIndex) => {
      const svc = scenario.services[name];
      this.serviceStart.set(name, this.instService.length);
      const total = timeline.spans.get(name)?.length ?? svc.instances;
      this.serviceCount.set(name, total);
      for (let i = 0; i < total; i++) {
        const inst = instanceSettings(svc, i);
        this.instService.push(name);
        this.instServiceIndex.push(serviceIndex);
        this.instLocal.push(i);
        this.instZone.push(inst.zone);
        dists.push(inst.serviceTime);
        slots.push(inst.concurrency);
        queues.push(inst.queue);
        weights.push(inst.weight);
        priorities.push(inst.priority);
        coldFor.push(svc.coldStart?.for ?? 0);
        coldFactor.push(svc.coldStart?.factor ?? 1);
        member.push(i < svc.instances ? 1 : 0);
      }
    });
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
      const stateless = samplerIsStateless(d);
      let sample = stateless ? shared.get(d) : undefined;
      if (sample === undefined) {
        sample = makeSampler(d, stateless ? this.serviceRng : this.serviceRng.stream(i));
        if (stateless) shared.set(d, sample);
      }
      this.instSample.push(sample);
      const o = i * I_STRIDE;
      rec[o + I_SLOTS] = slotsWord(slots[i], 'concurrency');
      rec[o + I_QCAP] = slotsWord(queues[i], 'queue');
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
    this.instFrozen = new Array<number[] | undefined>(n).fill(undefined);
    this.instSlowFactor = new Float64Array(n).fill(1);
    this.instSlowAdd = new Array<Sampler[] | undefined>(n).fill(undefined);
    this.instErrRate = new Float64Array(n);
    this.instErrStatus = new Int32Array(n);
    this.instErrFast = new Uint8Array(n);
    this.instErrRng = new Array<Rng | undefined>(n).fill(undefined);
    this.instErrWindows = new Array<FaultWindow[] | undefined>(n).fill(undefined);

    this.hop = makeSampler(scenario.network.latency, streams.stream('network/latency'));
    this.crossZone = scenario.network.crossZone ? makeSampler(scenario.network.crossZone, streams.stream('network/crossZone')) : undefined;

    this.metrics = new RunMetrics(options.seed, this.instService, this.instLocal, this.instZone, this.instSlots);
    for (let i = 0; i < n; i++) if (this.instMember[i]) this.metrics.joined(i, 0);

    const workloads = scenario.workload.length;
    scenario.workload.forEach((spec, index) => {
      const pool = this.makePool(spec.name, index, spec.target, scenario.mesh, spec, streams);
      this.workloadPools.push(pool);
    });
    // Calling services: one pool per (caller, target), with one sidecar per caller instance.
    this.serviceNames.forEach((name, serviceIndex) => {
      const svc = scenario.services[name];
      const byTarget = new Map<string, number>();
      const steps: CallStep[] = [];
      for (const call of svc.calls) {
        let pool = byTarget.get(call.service);
        if (pool === undefined) {
          pool = this.makePool(name, workloads + serviceIndex, call.service, svc.mesh, undefined, streams).index;
          byTarget.set(call.service, pool);
        }
        steps.push({ spec: call, pool });
      }
      this.serviceSteps.push(steps);
      this.callRng.push(steps.some((s) => s.spec.probability < 1) ? streams.stream(`calls/${name}`) : undefined);
    });

    this.windows = faultWindows(scenario, streams, {
      serviceStart: this.serviceStart,
      serviceCount: this.serviceCount,
      zoneOf: (i) => this.instZone[i],
      groupIndex: (caller) => {
        const w = scenario.workload.findIndex((x) => x.name === caller);
        const s = this.serviceNames.indexOf(caller);
        return w >= 0 ? w : s >= 0 ? workloads + s : -1;
      },
      zoneId: (z) => this.zoneId(z),
      horizon: scenario.duration + scenario.drain,
    });
    this.metrics.setFaultWindows(this.windows);
    this.watches = this.windows.map((w) =>
      w.fault.kind === 'partition' || w.fault.target.service === undefined
        ? undefined
        : {
            window: w,
            service: w.fault.target.service,
            open: false,
            detectedAt: NaN,
            detectedBy: null,
            awaitingRecovery: false,
            recoveredAt: NaN,
            attempts: 0,
            failed: 0,
            attemptsBefore: 0,
            failedBefore: 0,
            survivorsAtStart: 0,
            survivorsAtEnd: 0,
          },
    );
    this.instWatches = new Array<WindowWatch[] | undefined>(n).fill(undefined);
    this.watching = this.watches.some((w) => w !== undefined);
    this.instAttempts = new Float64Array(n);
    this.trackHeld = scenario.faults.some((f) => f.kind === 'crash' || f.kind === 'flap' || f.kind === 'hang' || f.kind === 'pause');
    this.inService = this.trackHeld ? Array.from({ length: n }, () => new Int32Array(4)) : [];
    this.serviceModifiers = scenario.faults.some((f) => f.kind === 'slow') || Object.values(scenario.services).some((svc) => svc.coldStart !== undefined);
    this.metrics.setRunLength(this.runEnd);
    this.metrics.setWindow(scenario.warmup, scenario.duration);
    this.answersAtOnce = options.elide !== false && scenario.faults.length === 0 && this.pools.some((p) => p.unobservedAnswers);

    // Start with room for the requests a typical run keeps in flight (they grow by doubling).
    this.maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
    if (!Number.isSafeInteger(this.maxInFlight) || this.maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive whole number, got ${this.maxInFlight}`);
    this.growCalls(Math.min(16_384, this.maxInFlight));
    this.growAttempts(Math.min(16_384, this.maxInFlight));
    this.engine.setModel(this);
  }

  private makePool(callerName: string, caller: number, target: string, mesh: MeshSpec, workload: WorkloadSpec | undefined, streams: RngStreams): Pool {
    const index = this.pools.length;
    const name = `${callerName}→${target}`;
    // Sidecars: a workload's own, or one per instance of the calling service (in its zone).
    let zones: string[];
    if (workload) {
      zones = Array.from({ length: workload.sidecars }, (_, s) => workload.zones[s % workload.zones.length]);
    } else {
      const start = this.serviceStart.get(callerName) ?? 0;
      zones = Array.from({ length: this.serviceCount.get(callerName) ?? 0 }, (_, s) => this.instZone[start + s]);
    }
    const count = zones.length;
    const sidecarZone = Int32Array.from(zones, (z) => this.zoneId(z));
    const zoneSizes = new Map<string, number>();
    for (const z of zones) zoneSizes.set(z, (zoneSizes.get(z) ?? 0) + 1);
    const endpointOf = new Int32Array(this.instService.length).fill(-1);
    const { endpoints, instanceOf } = this.membersOf(target, endpointOf);
    const priorityLevels = this.priorityLevels(target);
    const f = mesh.failover;
    // Stream names: a workload's keep their historical names (reports stay comparable).
    const tag = workload ? workload.name : name;
    const failover = resolveFailover(f, workload?.timeout);
    const sidecars: Sidecar[] = [];
    const outliers: OutlierDetector[] = [];
    const checkers: HealthChecker[] = [];
    const built: SidecarPolicies[] = [];
    for (let s = 0; s < count; s++) {
      const policies = createSidecarPolicies(`${tag}-${s}`, mesh, failover, endpoints, {
        clock: this.engine,
        timers: this.engine,
        stream: (purpose) => streams.stream(`${purpose}/${tag}/${s}`),
        env: { localZone: zones[s], clientIndex: s, clientCount: count, localZoneSizes: zoneSizes, priorityLevels },
        probe: (endpoint, done) => this.sendProbe(index, s, endpoint, done),
        onEjection: (ep, ejected) => {
          if (ejected) this.noticed(index, ep, 'outlier-detection');
        },
        onHealth: (ep, healthy) => {
          if (!healthy) this.noticed(index, ep, 'health-check');
        },
      });
      built.push(policies);
      sidecars.push(policies.sidecar);
      if (policies.outlierDetector) outliers.push(policies.outlierDetector);
      if (policies.healthChecker) checkers.push(policies.healthChecker);
    }
    const limiters = failover.maxRetries > 0 ? built.map((b) => b.limiter as RetryLimiter) : undefined;
    const throttles = f?.adaptiveThrottling ? built.map((b) => b.throttle as AdaptiveThrottle) : undefined;
    const jitter = failover.backoff ? built.map((b) => b.jitter as Rng) : [];
    const arrival = workload?.arrival;
    const pool: Pool = {
      index,
      name,
      caller,
      target,
      mesh,
      sidecars,
      outliers,
      checkers,
      breakers: f?.circuitBreaker ? built.map((b) => b.breaker as CircuitBreaker) : undefined,
      connQueues: f?.circuitBreaker ? sidecars.map(() => new TimerFifo()) : undefined,
      draining: false,
      limiters,
      throttles,
      jitter,
      failover,
      sidecarZone,
      instanceOf,
      endpointOf,
      stats: emptyLayer(),
      deadlines: new TimerFifo(),
      tries: new TimerFifo(),
      hedges: new TimerFifo(),
      // No mesh failover (so no retries, hedges or per-try timeouts); a deadline can still come from the workload's timeout.
      unobservedAnswers: workload !== undefined && workload.arrival.process !== 'closed' && f === undefined && failover.deadline === Infinity && END_BLIND_KINDS.has(mesh.balancer.kind),
      workload,
      nextSidecar: 0,
      poisson: arrival?.process === 'poisson',
      arrivals: workload ? streams.stream(`arrivals/${workload.name}`) : undefined,
      think: arrival?.process === 'closed' && workload ? makeSampler(arrival.think, streams.stream(`think/${workload.name}`)) : undefined,
      key: workload?.key ? keySampler(workload.key, streams.stream(`keys/${workload.name}`)) : undefined,
      keyHash: new Float64Array(workload?.key ? workload.key.n : 0).fill(NaN),
      rate: arrival === undefined || arrival.process === 'closed' ? 0 : arrival.rate / 1000,
      perSecond: arrival === undefined || arrival.process === 'closed' ? 0 : arrival.rate,
      stepIndex: 0,
      phaseStart: 0,
      phaseCount: 0,
      nextStepAt: arrival === undefined || arrival.process === 'closed' || arrival.steps.length === 0 ? Infinity : arrival.steps[0].at,
    };
    this.pools.push(pool);
    return pool;
  }

  /** The current members of `service` as endpoint data, filling `endpointOf` (global → endpoint index). */
  private membersOf(service: string, endpointOf: Int32Array): { endpoints: readonly Endpoint[]; instanceOf: Int32Array } {
    const start = this.serviceStart.get(service) ?? 0;
    const count = this.serviceCount.get(service) ?? 0;
    const endpoints: Endpoint[] = [];
    const instances: number[] = [];
    // Envoy's locality weights travel as endpoint metadata (balancing/envoy/locality.ts).
    const localityMetadata = new Map(Object.entries(this.scenario.services[service]?.localityWeights ?? {}).map(([zone, w]) => [zone, { [LOCALITY_WEIGHT_KEY]: String(w) }]));
    for (let i = start; i < start + count; i++) {
      endpointOf[i] = -1;
      if (!this.instMember[i]) continue;
      endpointOf[i] = endpoints.length;
      instances.push(i);
      const local = i - start;
      endpoints.push({
        id: `${service}-${local}`,
        address: simulatedAddress(service, local),
        zone: this.instZone[i],
        weight: this.instWeight[i],
        health: 'healthy',
        priority: this.instPriority[i],
        metadata: localityMetadata.get(this.instZone[i]) ?? NO_METADATA,
      });
    }
    // Frozen: every sidecar of the pool shares this list, and balancers may keep it as it is.
    return { endpoints: Object.freeze(endpoints), instanceOf: Int32Array.from(instances) };
  }

  /** Runs the whole replication: load for `duration`, then up to `drain` for stragglers. */
  run(): RunResult {
    this.scenario.membership.forEach((m, i) => this.engine.at(m.at, MEMBERSHIP, i));
    this.windows.forEach((w, i) => {
      this.engine.at(w.start, FAULT_ON, i);
      if (w.end !== Infinity) this.engine.at(w.end, FAULT_OFF, i);
    });
    for (const p of this.workloadPools) this.startWorkload(p);
    try {
      this.engine.run(this.runEnd);
    } catch (e) {
      throw e instanceof RunLimitError && e.message.startsWith('simulated time stopped') ? this.stalled(e) : e;
    }
    // Count the unanswered requests independently of the counters, for the conservation check.
    const inUse = new Uint8Array(this.cCap).fill(1);
    for (let i = 0; i < this.cNFree; i++) inUse[this.cFree[i]] = 0;
    let inFlight = 0;
    let allInFlight = 0;
    for (let c = 0; c < this.cCap; c++) {
      if (inUse[c] === 0 || (this.cParent[c] | 0) >= 0 || (this.cFlags[c] & CF_CONCLUDED) !== 0) continue;
      allInFlight++;
      if ((this.cFlags[c] & CF_MEASURED) !== 0) inFlight++;
    }
    this.metrics.setFailoverCounts(this.failoverCounts());
    this.metrics.setFaultEffects(this.watches.map((w) => (w === undefined ? undefined : this.effectOf(w))));
    this.metrics.setLayers(
      this.pools.map((p) => ({ caller: p.name.slice(0, p.name.indexOf('→')), target: p.target, client: p.workload !== undefined, ...p.stats })),
    );
    return this.metrics.finish(this.engine, this.scenario.duration - this.scenario.warmup, inFlight, allInFlight, this.membershipEffects);
  }

  /** Counters of the failover mechanisms the meshes configure, summed over every sidecar. */
  private failoverCounts(): FailoverCounts {
    const sum = (count: (p: Pool) => number): number => this.pools.reduce((a, p) => a + count(p), 0);
    const any = (has: (f: FailoverSpec) => unknown): boolean => this.pools.some((p) => p.mesh.failover !== undefined && has(p.mesh.failover));
    return {
      ...(any((f) => f.outlierDetection) ? { ejections: sum((p) => p.outliers.reduce((a, od) => a + od.stats().ejectionsEnforcedTotal, 0)) } : {}),
      ...(any((f) => f.healthCheck) ? { healthCheckFailures: sum((p) => p.checkers.reduce((a, hc) => a + hc.stats().failures, 0)) } : {}),
      ...(any((f) => f.circuitBreaker) ? { breakerOverflows: sum((p) => p.stats.overflows) } : {}),
      ...(any((f) => f.retries) ? { retries: sum((p) => p.stats.retries), retryBudgetDenied: sum((p) => p.stats.budgetDenied) } : {}),
      ...(any((f) => f.hedge) ? { hedges: sum((p) => p.stats.hedges), hedgesWon: sum((p) => p.stats.hedgesWon) } : {}),
      ...(any((f) => f.adaptiveThrottling) ? { throttled: sum((p) => p.stats.throttled) } : {}),
    };
  }

  handle(kind: number, arg: number): void {
    switch (kind) {
      case ARRIVAL:
        this.onArrival(this.pools[arg]);
        break;
      case CLOSED_ISSUE:
        if (this.engine.now() < this.loadEnd) this.issueWorkload(this.pools[arg]);
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
      case DEADLINE:
        this.fireTimers(this.pools[arg].deadlines, DEADLINE, arg);
        break;
      case TRY_TIMEOUT:
        this.fireTimers(this.pools[arg].tries, TRY_TIMEOUT, arg);
        break;
      case RETRY_SEND:
        this.onRetrySend(arg);
        break;
      case HEDGE:
        this.fireTimers(this.pools[arg].hedges, HEDGE, arg);
        break;
      case RATE_CHANGE:
        this.onRateChange(this.pools[arg]);
        break;
      case MEMBERSHIP:
        this.onMembership(arg);
        break;
      case FAULT_ON:
        this.onFault(this.windows[arg], true);
        this.watchFault(arg, true);
        break;
      case FAULT_OFF:
        this.onFault(this.windows[arg], false);
        this.watchFault(arg, false);
        break;
      case HC_AT_INSTANCE:
        this.onProbeAtInstance(arg);
        break;
      case HC_AT_CLIENT:
        this.onProbeAnswer(arg);
        break;
      case PAUSE_RESUME:
        this.onPauseResume(arg);
        break;
      default:
        throw new Error(`unknown event kind ${kind}`);
    }
  }

  // ---- Workloads ---------------------------------------------------------------------

  private startWorkload(p: Pool): void {
    const arrival = (p.workload as WorkloadSpec).arrival;
    if (arrival.process === 'closed') {
      for (let c = 0; c < arrival.clients; c++) this.engine.at(p.think ? p.think() : 0, CLOSED_ISSUE, p.index);
    } else {
      this.scheduleNextArrival(p, 0);
    }
  }

  /**
   * Schedules the next open-loop arrival after `from`, honouring rate steps. Poisson draws
   * an exponential gap (memoryless: a step redraws from its time). A constant process at
   * rate r issues at s, s + 1/r, s + 2/r, … from the time s its rate took effect (0, or the
   * step's time), so r·T requests over [s, s + T); the k-th time is computed as k·1000/r in
   * one division, not summed gap by gap, so no rounding drift adds or loses one at a boundary.
   */
  private scheduleNextArrival(p: Pool, from: number): void {
    let t: number;
    if (p.poisson) t = p.rate > 0 ? from + -Math.log(1 - (p.arrivals as Rng).next()) / p.rate : Infinity;
    else t = p.perSecond > 0 ? p.phaseStart + (p.phaseCount++ * 1000) / p.perSecond : Infinity;
    if (t >= p.nextStepAt) {
      if (p.nextStepAt < this.loadEnd) this.engine.at(p.nextStepAt, RATE_CHANGE, p.index);
    } else if (t < this.loadEnd) {
      this.engine.at(t, ARRIVAL, p.index);
    }
  }

  private onRateChange(p: Pool): void {
    const arrival = (p.workload as WorkloadSpec).arrival;
    if (arrival.process === 'closed') return;
    const step = arrival.steps[p.stepIndex++];
    p.rate = step.rate / 1000;
    p.perSecond = step.rate;
    p.nextStepAt = p.stepIndex < arrival.steps.length ? arrival.steps[p.stepIndex].at : Infinity;
    p.phaseStart = this.engine.now();
    p.phaseCount = 0;
    this.scheduleNextArrival(p, this.engine.now());
  }

  private onArrival(p: Pool): void {
    this.issueWorkload(p);
    this.scheduleNextArrival(p, this.engine.now());
  }

  /** A workload client issues a request through the next of its sidecars (round robin). */
  private issueWorkload(p: Pool): void {
    const measured = this.engine.now() >= this.warmup;
    this.metrics.issued(measured);
    const s = p.nextSidecar;
    p.nextSidecar = s + 1 === p.sidecars.length ? 0 : s + 1;
    const key = p.key !== undefined ? this.keyHashOf(p, p.key()) : NaN;
    this.issueCall(p, s, -1, 0, key);
  }

  private onMembership(index: number): void {
    // Which instances join (the next indices after those already known) and leave: the
    // resolution live mode applies too (scenario/instances.ts).
    const change = this.membershipSteps[index];
    const start = this.serviceStart.get(change.service) ?? 0;
    const now = this.engine.now();
    for (const local of change.added) {
      const inst = start + local;
      this.instMember[inst] = 1;
      if (this.instColdFor[inst] > 0) this.instColdUntil[inst] = now + this.instColdFor[inst];
      this.metrics.joined(inst, now);
    }
    for (const local of change.removed) {
      const inst = start + local;
      this.instMember[inst] = 0;
      this.metrics.left(inst, now);
    }
    let keysRemapped: number | undefined;
    for (const p of this.pools) {
      if (p.target !== change.service) continue;
      const before = p.sidecars[0]?.endpoints ?? [];
      const { endpoints, instanceOf } = this.membersOf(change.service, p.endpointOf);
      p.instanceOf = instanceOf;
      for (const s of p.sidecars) s.setEndpoints(endpoints);
      if (keysRemapped === undefined && p.workload?.key) keysRemapped = this.remappedKeys(p, before, endpoints, index);
    }
    this.membershipEffects.push({ at: now, service: change.service, added: [...change.added], removed: [...change.removed], ...(keysRemapped === undefined ? {} : { keysRemapped }) });
  }

  /**
   * Fraction of a workload's keys (the first 10,000) that map to a different endpoint after
   * a membership change. Measured on a fresh probe balancer of the same policy, so the
   * measurement neither disturbs the simulated sidecars' state nor their random streams,
   * and shows the policy's own hashing stability (load-dependent effects left out).
   */
  private remappedKeys(p: Pool, before: readonly Endpoint[], after: readonly Endpoint[], change: number): number {
    const w = p.workload as WorkloadSpec;
    const probe = createBalancer(
      p.mesh.balancer,
      { clock: this.engine, timers: this.engine, rng: this.streams.stream(`probe/${w.name}/${change}`) },
      { localZone: w.zones[0], clientIndex: 0, clientCount: w.sidecars, localZoneSizes: new Map([[w.zones[0], 1]]), priorityLevels: this.priorityLevels(p.target) },
    );
    const keys = Math.min(p.keyHash.length, 10_000);
    const ctx: { hashKey?: number } = {};
    const owner: string[] = [];
    probe.rebuild(before);
    for (let k = 0; k < keys; k++) {
      ctx.hashKey = this.keyHashOf(p, k);
      const ep = probe.pick(ctx);
      owner.push(ep < 0 ? '' : before[ep].id);
    }
    probe.rebuild(after);
    let moved = 0;
    for (let k = 0; k < keys; k++) {
      ctx.hashKey = this.keyHashOf(p, k);
      const ep = probe.pick(ctx);
      if ((ep < 0 ? '' : after[ep].id) !== owner[k]) moved++;
    }
    return keys > 0 ? moved / keys : 0;
  }

  private keyHashOf(p: Pool, k: number): number {
    let h = p.keyHash[k];
    if (h !== h) h = p.keyHash[k] = hashKey(String(k)); // NaN: not hashed yet
    return h;
  }

  // ---- Calls: the sidecar side ---------------------------------------------------------

  /**
   * A caller issues a call through sidecar `s` of pool `p`: `parent` is the attempt being
   * served that needs it (with its record generation), or -1 for a workload's request.
   */
  private issueCall(p: Pool, s: number, parent: number, parentGen: number, key: number): void {
    const now = this.engine.now();
    const c = this.allocCall();
    const measured = now >= this.warmup;
    this.cPool[c] = p.index;
    this.cSidecar[c] = s;
    this.cIssued[c] = now;
    this.cFlags[c] = measured ? CF_MEASURED : 0;
    this.cParent[c] = parent;
    this.cParentGen[c] = parentGen;
    this.cOut[c] = 0;
    this.cAttHead[c] = -1;
    this.cLive[c] = 0;
    // The fields below are read only where the pool's settings use them (each guarded by
    // the same setting), so a plain pool leaves them alone: fewer cold lines per call.
    const f = p.failover;
    // Timer positions: a call may conclude before its timer is armed (a throttled or unsendable one).
    if (f.deadline !== Infinity) this.cDeadlinePos[c] = -1;
    if (f.hedgeDelay !== Infinity) this.cHedgePos[c] = -1;
    if (f.any) {
      this.cSent[c] = 0;
      this.cRetries[c] = 0;
      this.cAdmitted[c] = 0;
      this.cPendingRetry[c] = 0;
      if (f.trackTried) this.tried[c * T_STRIDE] = 0;
    }
    if (p.key !== undefined) this.cKey[c] = key;
    if (p.breakers !== undefined) this.cWaiting[c] = 0;
    if (measured) p.stats.calls++;
    if (p.limiters !== undefined) p.limiters[s].onRequest();
    if (p.throttles !== undefined && !p.throttles[s].admit()) {
      // The SRE book's adaptive throttling rejects it locally, before any attempt.
      if (measured) p.stats.throttled++;
      this.conclude(c, LOCAL_503, false);
      return;
    }
    if (f.deadline !== Infinity) {
      if (f.deadlineIsMesh) this.cFlags[c] |= CF_MESH_DEADLINE;
      this.cDeadlinePos[c] = this.addTimer(p.deadlines, now + f.deadline, c, DEADLINE, p.index);
    }
    this.pin(c);
    this.sendAttempt(c, 0);
    // Sending may have concluded the call (a local 503), so check before arming the hedge.
    if (f.hedgeDelay !== Infinity && (this.cFlags[c] & CF_CONCLUDED) === 0) this.cHedgePos[c] = this.addTimer(p.hedges, now + f.hedgeDelay, c, HEDGE, p.index);
    this.unpin(c);
  }

  /**
   * Keeps call `c`'s record from being freed (and reused) while a caller still works on it
   * through code that may conclude it and start new calls.
   */
  private pin(c: number): void {
    this.cLive[c]++;
  }

  private unpin(c: number): void {
    if (--this.cLive[c] === 0 && (this.cFlags[c] & CF_CONCLUDED) !== 0) this.freeCall(c);
  }

  /**
   * Sends one attempt of call `c` (`flags`: AF_BY_RETRY / AF_HEDGE for a retry or hedge,
   * AF_WAITED for one that was waiting for a connection). When nothing can be sent the
   * sidecar answers 503 itself: a breaker overflow ends the call unless other attempts are
   * still out; no healthy endpoint for a retry or hedge ends it at once, other attempts
   * cancelled, as Envoy's doRetry answers "no healthy upstream" (for a first attempt there
   * are no others).
   */
  private sendAttempt(c: number, flags: number): void {
    const p = this.pools[this.cPool[c] | 0];
    const s = this.cSidecar[c] | 0;
    const measured = (this.cFlags[c] & CF_MEASURED) !== 0;
    // The limiter counts an attempt from the moment it waits for a connection (Envoy's
    // retry budget: active + pending requests), so one that waited is counted already.
    const waited = (flags & AF_WAITED) !== 0;
    const ctx = this.pickContext;
    ctx.hashKey = p.key !== undefined ? this.cKey[c] : undefined;
    ctx.attempt = p.failover.any ? this.cSent[c] : undefined;
    const sidecar = p.sidecars[s];
    if (p.breakers !== undefined) {
      const cb = p.breakers[s];
      // HTTP/1.1: an attempt needs a connection of its own. At max_connections it waits in
      // the pool for one (up to max_pending_requests); past that, or past max_requests, the
      // breaker is open and the sidecar answers 503 at once (an overflow).
      if (!cb.tryAcquireConnection(cb.activeConnections === 0)) {
        if (cb.tryAcquirePending()) {
          this.waitForConnection(p, s, c, flags);
          return;
        }
        if (measured) p.stats.overflows++;
        this.notSent(c, p, s, waited);
        return;
      }
      if (!cb.tryAcquireRequest()) {
        cb.releaseConnection();
        if (measured) p.stats.overflows++;
        this.notSent(c, p, s, waited);
        return;
      }
    }
    let ep: number;
    // Retries avoid tried hosts with hostReselection; hedges always do (gRPC A6 hands the
    // balancer the addresses already used), re-picking up to 3 times without the option.
    const reselect = (flags & AF_HEDGE) !== 0 ? Math.max(p.failover.reselect, 3) : p.failover.reselect;
    const triedN = p.failover.trackTried ? this.tried[c * T_STRIDE] : 0;
    if (reselect > 0 && triedN > 0) {
      // Envoy's previous_hosts predicate: re-pick while the pick is a host already tried.
      const tried = this.triedScratch;
      let k = 0;
      for (let i = 0; i < triedN; i++) {
        const e = p.endpointOf[this.tried[c * T_STRIDE + 1 + i]];
        if (e >= 0) tried[k++] = e;
      }
      ep = pickAvoidingPreviousHosts(sidecar, ctx, tried, k, reselect);
    } else {
      ep = sidecar.pick(ctx);
    }
    if (ep < 0) {
      // Nothing to send to: "no healthy upstream", the call's answer even with attempts out.
      this.releaseBreaker(p, s);
      if (measured) p.stats.noEndpoint++;
      this.notSent(c, p, s, waited, (flags & AF_BY_RETRY) !== 0);
      return;
    }
    const inst = p.instanceOf[ep];
    const now = this.engine.now();
    const a = this.allocAttempt();
    this.aCall[a] = c;
    this.aInst[a] = inst;
    this.aSent[a] = now;
    // aStatus, aCode and aUtil are set with the response (respond, or a refusal below).
    this.aFlags[a] = flags & ~AF_WAITED;
    this.aDoneSeq[a] = -1;
    this.aStep[a] = -1;
    this.aPending[a] = 0;
    this.aSib[a] = this.cAttHead[c] | 0;
    this.aZone[a] = p.sidecarZone[s];
    this.cAttHead[c] = a;
    this.cLive[c]++;
    if (p.failover.any) this.cSent[c]++;
    this.cOut[c]++;
    if (p.failover.trackTried && triedN < MAX_TRIED) {
      this.tried[c * T_STRIDE + 1 + triedN] = inst;
      this.tried[c * T_STRIDE] = triedN + 1;
    }
    if (measured) {
      p.stats.attempts++;
      this.metrics.sent(inst);
    }
    if (this.watching) {
      this.instAttempts[inst]++;
      if (this.instWatches[inst] !== undefined) this.watchSent(inst);
    }
    if (p.limiters !== undefined && !waited) p.limiters[s].onAttemptStart();
    sidecar.attemptStarted(ep);
    // aTryPos is read only in pools with per-try timeouts.
    if (p.failover.perTry !== Infinity) this.aTryPos[a] = this.addTimer(p.tries, now + p.failover.perTry, a, TRY_TIMEOUT, p.index);
    if (this.activePartitions.length > 0) {
      const cut = this.partitioned(p, s, inst);
      if (cut === 'drop') {
        this.aFlags[a] |= AF_LOST; // the request vanishes; only a timeout ends it
        return;
      }
      if (cut === 'refuse') {
        this.aStatus[a] = 0;
        this.aCode[a] = C_REFUSED;
        this.aUtil[a] = -1;
        this.engine.at(now + this.hopLatency(p.sidecarZone[s], inst), AT_CLIENT, a);
        return;
      }
    }
    this.engine.at(now + this.hopLatency(p.sidecarZone[s], inst), AT_INSTANCE, a);
  }

  /**
   * An attempt that could not be sent: the sidecar's local 503 (Envoy never retries it). A
   * retry decision all the same (Envoy's overflow reset asks shouldRetry): the retry the call
   * holds is given back. One that `waited` for a connection stops counting for the limiter.
   * The 503 is the call's answer when nothing else is outstanding, or at once when `final`
   * (no healthy upstream for a retry or hedge: Envoy's doRetry sends it and resets the rest).
   */
  private notSent(c: number, p: Pool, s: number, waited: boolean, final = false): void {
    if (p.limiters !== undefined) {
      this.retryDecision(c, p.limiters[s], false);
      if (waited) p.limiters[s].onAttemptEnd();
    }
    if (final || this.cOut[c] + this.othersWaiting(c, p) === 0) this.conclude(c, LOCAL_503, false);
  }

  /**
   * Call `c`'s retry decision (Envoy's RetryStateImpl::shouldRetry): the retry the call holds,
   * if any, is given back (resetRetry); then, when `wants`, the limiter is asked for another,
   * which the call holds until its next decision or its end. Returns whether one was admitted.
   */
  private retryDecision(c: number, limiter: RetryLimiter, wants: boolean): boolean {
    const holds = (this.cFlags[c] & CF_HOLDS_RETRY) !== 0;
    this.cFlags[c] &= ~CF_HOLDS_RETRY;
    const admitted = retryDecision(limiter, holds, wants);
    if (admitted) this.cFlags[c] |= CF_HOLDS_RETRY;
    return admitted;
  }

  /** Call `c`'s admitted retries in backoff plus its attempts waiting for a connection. */
  private othersWaiting(c: number, p: Pool): number {
    return (p.failover.any ? this.cPendingRetry[c] : 0) + (p.breakers !== undefined ? this.cWaiting[c] : 0);
  }

  /** A response reached the sidecar. */
  private onAtClient(a: number): void {
    if ((this.aFlags[a] & AF_ENDED) === 0) this.attemptDone(a, this.outcomeOf(a));
    this.releaseAttempt(a);
  }

  /** Attempt `a`'s answer as the sidecar sees it (in the one reused Outcome object). */
  private outcomeOf(a: number): Outcome {
    const status = this.aStatus[a];
    const code = this.aCode[a];
    const outcome = this.response;
    outcome.kind =
      code === C_OK ? (status >= 200 && status < 300 ? 'success' : 'error') : code === C_REJECTED ? 'rejected' : code === C_ERROR ? 'error' : code === C_RESET ? 'reset' : 'connect-failure';
    outcome.status = status;
    const util = this.aUtil[a];
    outcome.utilization = util >= 0 && util !== Infinity && util === util ? util : undefined;
    return outcome;
  }

  /** An attempt's per-try timeout fired before its answer. */
  private onTryTimeout(a: number): void {
    if ((this.aFlags[a] & AF_ENDED) !== 0) return;
    const c = this.aCall[a] | 0;
    const p = this.pools[this.cPool[c] | 0];
    const measured = (this.cFlags[c] & CF_MEASURED) !== 0;
    if (measured) p.stats.perTryTimeouts++;
    const f = p.failover;
    if (f.hedgeOnPerTry) {
      // Envoy hedge_on_per_try_timeout (router onSoftPerTryTimeout): the attempt goes on, but
      // outlier detection records the timeout now; another attempt is asked for now,
      // against the retries left and the budget, without asking the retry conditions. A
      // retry decision (shouldHedgeRetryPerTryTimeout) even with no retry left: the retry
      // the call holds is given back first. Only an admitted hedge marks the attempt hedged
      // (upstream_request.retried(true)); refused, it is left running and its end is a retry
      // decision like any other.
      if ((this.aFlags[a] & AF_TIMEOUT_RECORDED) !== 0) return;
      this.aFlags[a] |= AF_TIMEOUT_RECORDED;
      const s = this.cSidecar[c] | 0;
      const ep = p.endpointOf[this.aInst[a] | 0];
      if (ep >= 0) p.sidecars[s].attemptSoftTimeout(ep);
      if (p.limiters === undefined) return;
      // Asking uses up one of the call's retries, admitted or not (retries_remaining_--).
      const wants = this.cRetries[c] < f.maxRetries;
      if (wants) this.cRetries[c]++;
      if (this.retryDecision(c, p.limiters[s], wants)) {
        this.aFlags[a] |= AF_HEDGED;
        this.scheduleRetry(c, p, s, true);
      } else if (wants && measured) p.stats.budgetDenied++;
      return;
    }
    // Without hedging the sidecar gives up on the attempt: it ends as a timeout.
    this.attemptDone(a, TIMED_OUT);
    if ((this.aFlags[a] & AF_LOST) !== 0) this.releaseAttempt(a);
  }

  /**
   * An attempt ended with `outcome` (not cancelled): feed the balancer, outlier detection,
   * breaker and limiter, then let Envoy's router decide: answer the caller,
   * retry after the backoff, or wait for the other attempts.
   */
  private attemptDone(a: number, outcome: Outcome): void {
    const flags = this.aFlags[a];
    this.aFlags[a] = flags | AF_ENDED;
    const c = this.aCall[a] | 0;
    this.cOut[c]--;
    const p = this.pools[this.cPool[c] | 0];
    if (p.failover.perTry !== Infinity) this.stopTimer(p.tries, this.aTryPos, a);
    const s = this.cSidecar[c] | 0;
    const inst = this.aInst[a] | 0;
    const ep = p.endpointOf[inst];
    // Counted before the sidecar hears of it: the failure that triggers an ejection precedes it.
    if (this.watching && this.instWatches[inst] !== undefined) this.watchEnded(inst, outcome.kind === 'success', this.aSent[a]);
    if (ep >= 0) p.sidecars[s].attemptEnded(ep, outcome, this.engine.now() - this.aSent[a]);
    this.releaseBreaker(p, s);
    const f = p.failover;
    if (!f.any) {
      this.conclude(c, outcome, false);
      if (p.breakers !== undefined) this.drainConnQueue(p, s);
      return;
    }
    const retriable = f.retry !== undefined && outcome.kind !== 'success' && f.retry.matches(outcome);
    const hedged = (flags & AF_HEDGED) !== 0;
    const wantsRetry = retriable && !hedged && this.cRetries[c] < f.maxRetries && (this.cFlags[c] & CF_CONCLUDED) === 0;
    let admitted = false;
    if (p.limiters !== undefined) {
      // The end of an attempt that was not hedged is the call's retry decision (Envoy's
      // shouldRetry on its headers or reset): the retry the call holds is given back first.
      // Asking uses up one of the call's retries, admitted or not (retries_remaining_--).
      const holds = !hedged && (this.cFlags[c] & CF_HOLDS_RETRY) !== 0;
      if (holds) this.cFlags[c] &= ~CF_HOLDS_RETRY;
      if (wantsRetry) this.cRetries[c]++;
      admitted = endAttempt(p.limiters[s], retriable, holds, wantsRetry);
      if (admitted) this.cFlags[c] |= CF_HOLDS_RETRY;
      if (wantsRetry && !admitted && (this.cFlags[c] & CF_MEASURED) !== 0) p.stats.budgetDenied++;
    }
    const others = this.cOut[c] + this.othersWaiting(c, p);
    const action = envoyAttemptEndAction(hasResponse(outcome), retriable, hedged, admitted, others);
    if (action === 'retry') this.scheduleRetry(c, p, s, false);
    else if (action === 'final') this.conclude(c, outcome, outcome.kind === 'success' && (flags & AF_HEDGE) !== 0);
    if (p.breakers !== undefined) this.drainConnQueue(p, s);
  }

  /**
   * An admitted retry (or per-try-timeout hedge) waits out Envoy's backoff, then goes; the
   * decision that admitted it already counted it in cRetries.
   */
  private scheduleRetry(c: number, p: Pool, s: number, hedge: boolean): void {
    const n = ++this.cAdmitted[c];
    this.cPendingRetry[c]++;
    const measured = (this.cFlags[c] & CF_MEASURED) !== 0;
    if (measured) {
      if (hedge) p.stats.hedges++;
      else p.stats.retries++;
    }
    const delay = p.failover.backoff ? p.failover.backoff(n, p.jitter[s]) : 0;
    // Several retries of one call may wait at once (a hedge and the attempt it hedges both
    // failing): each gets its own timer token.
    const t = this.allocToken();
    this.tCall[t] = c;
    this.tGen[t] = this.cGen[c];
    this.tHedge[t] = hedge ? 1 : 0;
    this.engine.at(this.engine.now() + delay, RETRY_SEND, t);
  }

  /** A retry's backoff is over: send it, unless its call ended meanwhile (conclude settled it). */
  private onRetrySend(t: number): void {
    const c = this.tCall[t];
    const live = this.tGen[t] === this.cGen[c] && (this.cFlags[c] & CF_CONCLUDED) === 0;
    const hedge = this.tHedge[t] === 1;
    this.tFree.push(t);
    if (!live) return;
    this.cPendingRetry[c]--;
    this.sendAttempt(c, AF_BY_RETRY | (hedge ? AF_HEDGE : 0));
  }

  private allocToken(): number {
    const t = this.tFree.pop();
    if (t !== undefined) return t;
    const n = this.tCall.length;
    this.tCall = grown(this.tCall, new Int32Array(Math.max(64, n * 2)));
    this.tGen = grown(this.tGen, new Int32Array(this.tCall.length));
    this.tHedge = grown(this.tHedge, new Uint8Array(this.tCall.length));
    for (let k = this.tCall.length - 1; k > n; k--) this.tFree.push(k);
    return n;
  }

  /** The hedging delay passed without an answer: send another attempt if allowed. */
  private onHedge(c: number): void {
    const p = this.pools[this.cPool[c] | 0];
    const f = p.failover;
    if (this.cOut[c] === 0 || this.cOut[c] >= f.hedgeMax || this.cRetries[c] >= f.maxRetries) return;
    const s = this.cSidecar[c] | 0;
    const measured = (this.cFlags[c] & CF_MEASURED) !== 0;
    // Asking uses up one of the call's retries, admitted or not, as for Envoy's retries.
    this.cRetries[c]++;
    if (p.limiters !== undefined && !this.retryDecision(c, p.limiters[s], true)) {
      if (measured) p.stats.budgetDenied++;
      return;
    }
    this.cAdmitted[c]++;
    if (measured) p.stats.hedges++;
    this.pin(c);
    this.sendAttempt(c, AF_BY_RETRY | AF_HEDGE);
    if ((this.cFlags[c] & CF_CONCLUDED) === 0 && this.cOut[c] < f.hedgeMax && this.cRetries[c] < f.maxRetries) {
      this.cHedgePos[c] = this.addTimer(p.hedges, this.engine.now() + f.hedgeDelay, c, HEDGE, p.index);
    }
    this.unpin(c);
  }

  /** Cancels record `i`'s timer in `fifo`, whose position `positions[i]` holds (-1: none). */
  private stopTimer(fifo: TimerFifo, positions: Float64Array, i: number): void {
    if (positions[i] >= 0) {
      fifo.cancel(positions[i]);
      positions[i] = -1;
    }
  }

  /** An attempt that held a connection and a request slot of the sidecar's breaker gave them back. */
  private releaseBreaker(p: Pool, s: number): void {
    if (p.breakers === undefined) return;
    p.breakers[s].releaseRequest();
    p.breakers[s].releaseConnection();
  }

  /** Adds a timer to one of a pool's FIFOs, arming its engine event if none is pending. */
  private addTimer(fifo: TimerFifo, at: number, id: number, kind: number, pool: number): number {
    const pos = fifo.push(at, id);
    if (!fifo.armed) {
      fifo.armed = true;
      this.engine.at(at, kind, pool);
    }
    return pos;
  }

  /**
   * A pool's timer FIFO reached its head: fire every timer due now that was not cancelled
   * (a call's end cancels its deadline and hedge timers, an attempt's end its per-try
   * timer), then arm the next.
   */
  private fireTimers(fifo: TimerFifo, kind: number, pool: number): void {
    fifo.armed = false;
    const now = this.engine.now();
    // Timers added while firing (a hedge arming the next) wait for the next event.
    for (let k = fifo.length; k > 0 && fifo.nextAt <= now; k--) {
      const id = fifo.shift();
      if (id < 0) continue;
      if (kind === TRY_TIMEOUT) {
        this.aTryPos[id] = -1;
        this.onTryTimeout(id);
      } else if (kind === DEADLINE) {
        this.cDeadlinePos[id] = -1;
        this.onDeadline(id);
      } else {
        this.cHedgePos[id] = -1;
        this.onHedge(id);
      }
    }
    // Timers already cancelled need no event of their own: skip to the first live one.
    fifo.dropCancelled();
    if (fifo.length > 0 && !fifo.armed) {
      fifo.armed = true;
      this.engine.at(fifo.nextAt, kind, pool);
    }
  }

  /** The call's deadline passed: the caller gets a timeout (504 from the sidecar's route timeout). */
  private onDeadline(c: number): void {
    const p = this.pools[this.cPool[c] | 0];
    if ((this.cFlags[c] & CF_MEASURED) !== 0) p.stats.deadlines++;
    this.conclude(c, (this.cFlags[c] & CF_MESH_DEADLINE) !== 0 ? ROUTE_TIMEOUT : TIMED_OUT, false, true);
  }

  /**
   * The caller has its answer: attempts still out are cancelled (on a deadline they end as
   * timeouts, which Envoy reports to outlier detection unless a soft per-try timeout
   * already did; a lost hedge race ends them silently),
   * then the workload counts it, or the instance that made the call carries on.
   */
  private conclude(c: number, outcome: Outcome, hedgeWon: boolean, deadline = false, now = this.engine.now()): void {
    if ((this.cFlags[c] & CF_CONCLUDED) !== 0) throw new Error(`call ${c} concluded twice`);
    this.cFlags[c] |= CF_CONCLUDED;
    this.pin(c);
    const p = this.pools[this.cPool[c] | 0];
    const f = p.failover;
    if (f.deadline !== Infinity) this.stopTimer(p.deadlines, this.cDeadlinePos, c);
    if (f.hedgeDelay !== Infinity) this.stopTimer(p.hedges, this.cHedgePos, c);
    const s = this.cSidecar[c] | 0;
    const measured = (this.cFlags[c] & CF_MEASURED) !== 0;
    if (p.breakers !== undefined && this.cWaiting[c] > 0) this.stopWaiting(c, p, s);
    if (this.cOut[c] > 0) this.cancelAttempts(c, p, s, deadline);
    // Admitted retries abandoned during their backoff; the retry the call holds is given back.
    if (f.any) this.cPendingRetry[c] = 0;
    if (p.limiters !== undefined && (this.cFlags[c] & CF_HOLDS_RETRY) !== 0) {
      this.cFlags[c] &= ~CF_HOLDS_RETRY;
      p.limiters[s].onRetryEnd();
    }
    const ok = outcome.kind === 'success';
    if (p.limiters !== undefined) p.limiters[s].onRequestEnd(ok);
    // Adaptive throttling counts per call, as it admitted it: an accept by its final answer.
    if (p.throttles !== undefined && throttleAccepts(outcome)) p.throttles[s].onAccepted();
    if (measured) {
      if (ok) p.stats.succeeded++;
      else p.stats.failed++;
      if (hedgeWon) p.stats.hedgesWon++;
    }
    const latency = now - this.cIssued[c];
    const parent = this.cParent[c] | 0;
    if (parent < 0) {
      this.metrics.concluded(measured, outcome, latency, now);
      if (p.think !== undefined) this.engine.after(p.think(), CLOSED_ISSUE, p.index);
    } else {
      this.childDone(parent, (this.cParentGen[c] | 0), ok);
    }
    this.unpin(c);
  }

  /** Cancels the attempts of call `c` still out (see conclude). */
  private cancelAttempts(c: number, p: Pool, s: number, deadline: boolean): void {
    const now = this.engine.now();
    for (let a = this.cAttHead[c] | 0; a >= 0; ) {
      const next = this.aSib[a] | 0;
      const flags = this.aFlags[a];
      if ((flags & AF_ENDED) === 0) {
        this.aFlags[a] = flags | AF_ENDED;
        this.cOut[c]--;
        if (p.failover.perTry !== Infinity) this.stopTimer(p.tries, this.aTryPos, a);
        const inst = this.aInst[a];
        const ep = p.endpointOf[inst];
        // A deadline ends it as a timeout (a failure of its instance; outlier detection hears
        // of it unless its soft per-try timeout already told it); a lost hedge race just stops it.
        if (deadline && this.watching && this.instWatches[inst] !== undefined) this.watchEnded(inst, false, this.aSent[a]);
        if (ep >= 0) {
          if (deadline) p.sidecars[s].attemptEnded(ep, TIMED_OUT, now - this.aSent[a], (flags & AF_TIMEOUT_RECORDED) === 0);
          else p.sidecars[s].attemptCancelled(ep, now - this.aSent[a]);
        }
        this.releaseBreaker(p, s);
        if (p.limiters !== undefined) p.limiters[s].onAttemptEnd();
        if ((flags & AF_LOST) !== 0) this.releaseAttempt(a);
      }
      a = next;
    }
    if (p.breakers !== undefined) this.drainConnQueue(p, s);
  }

  /** Attempt flag bits kept with an attempt waiting for a connection (in its queue id). */
  private static readonly WAIT_BITS = [0, AF_BY_RETRY, AF_HEDGE, AF_BY_RETRY | AF_HEDGE];

  /**
   * An attempt of call `c` waits in sidecar `s`'s pool for a connection (Envoy: pending); it
   * counts for the limiter from now on (Envoy's retry budget is a share of active + pending
   * requests).
   */
  private waitForConnection(p: Pool, s: number, c: number, flags: number): void {
    const bits = ((flags & AF_BY_RETRY) !== 0 ? 1 : 0) | ((flags & AF_HEDGE) !== 0 ? 2 : 0);
    (p.connQueues as TimerFifo[])[s].push(this.engine.now(), c * 4 + bits);
    this.cWaiting[c]++;
    if (p.limiters !== undefined && (flags & AF_WAITED) === 0) p.limiters[s].onAttemptStart();
  }

  /** Connections freed: send the attempts waiting for them, oldest first. */
  private drainConnQueue(p: Pool, s: number): void {
    if (p.draining) return; // the outer drain carries on
    const q = (p.connQueues as TimerFifo[])[s];
    const cb = (p.breakers as CircuitBreaker[])[s];
    p.draining = true;
    try {
      for (;;) {
        q.dropCancelled();
        if (q.length === 0 || cb.activeConnections >= cb.config.maxConnections) break;
        const id = q.shift();
        cb.releasePending();
        const c = id >> 2;
        this.cWaiting[c]--;
        this.sendAttempt(c, World.WAIT_BITS[id & 3] | AF_WAITED);
      }
    } finally {
      p.draining = false;
    }
  }

  /** The call ended: its attempts still waiting for a connection give up (and stop counting for the limiter). */
  private stopWaiting(c: number, p: Pool, s: number): void {
    const cb = (p.breakers as CircuitBreaker[])[s];
    const limiter = p.limiters?.[s];
    (p.connQueues as TimerFifo[])[s].cancelWhere(
      (id) => id >> 2 === c,
      () => {
        cb.releasePending();
        limiter?.onAttemptEnd();
      },
    );
    this.cWaiting[c] = 0;
  }

  // ---- Instances: the server side -------------------------------------------------------

  private onAtInstance(a: number): void {
    const inst = this.aInst[a] | 0;
    const rec = this.inst;
    const o = inst * I_STRIDE;
    if (rec[o + I_FAULTED] !== 0 && this.faultedArrival(a, inst)) return;
    if (rec[o + I_BUSY] < rec[o + I_SLOTS]) {
      this.startService(a, inst);
    } else if (rec[o + I_QLEN] < rec[o + I_QCAP]) {
      this.enqueue(inst, a);
    } else {
      this.respond(a, inst, 503, C_REJECTED);
    }
  }

  /** An arrival at an instance under a fault; returns true when the fault disposed of it. */
  private faultedArrival(a: number, inst: number): boolean {
    if (this.instDown[inst] > 0) {
      this.respond(a, inst, 0, C_REFUSED);
      return true;
    }
    if (this.instHung[inst] > 0) {
      this.lose(a); // accepted, never answered
      return true;
    }
    if (this.instPaused[inst] > 0) {
      // Stopped world: nothing is answered, not even a rejection; the request waits for the pause end.
      this.enqueue(inst, a);
      return true;
    }
    if (this.instErrFast[inst] !== 0 && this.errorDraw(inst)) {
      this.respond(a, inst, this.instErrStatus[inst], C_ERROR);
      return true;
    }
    return false;
  }

  /** No response will come for attempt `a`; if the sidecar already gave up on it, it is done with. */
  private lose(a: number): void {
    this.aFlags[a] |= AF_LOST;
    if ((this.aFlags[a] & AF_ENDED) !== 0) this.releaseAttempt(a);
  }

  private errorDraw(inst: number): boolean {
    const rate = this.instErrRate[inst];
    return rate >= 1 || (this.instErrRng[inst] as Rng).next() < rate;
  }

  private startService(a: number, inst: number): void {
    this.inst[inst * I_STRIDE + I_BUSY]++;
    const now = this.engine.now();
    this.aSvcStart[a] = now;
    this.serviceRng.select(inst);
    let work = this.instSample[inst]();
    if (this.serviceModifiers) work = this.modifiedWork(inst, work, now);
    const done = now + work;
    this.aDoneSeq[a] = this.engine.at(done, SERVICE_DONE, a);
    if (this.trackHeld) this.holdAttempt(inst, a, done);
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

  private onServiceDone(a: number): void {
    // A completion voided by a crash or hang (its record may even be reused since).
    if (this.aDoneSeq[a] !== this.engine.currentSeq) return;
    const inst = this.aInst[a] | 0;
    if (this.inst[inst * I_STRIDE + I_FAULTED] !== 0 && this.instPaused[inst] > 0) {
      // A stop-the-world pause (its work in progress was frozen at its start, so this is a
      // continuation deferred by one): it carries on when the pause ends.
      this.deferToPauseEnd(a, inst);
      return;
    }
    this.aDoneSeq[a] = -1;
    const steps = this.serviceSteps[this.instServiceIndex[inst]];
    if (steps.length === 0) this.finish(a, inst, false);
    else this.advance(a, inst, steps);
  }

  /**
   * The attempt's own work is done, or its downstream calls of one step all ended: issue
   * the next step's calls (each made with its probability, `parallel` copies at once),
   * or answer when no step is left. The worker slot stays held throughout.
   */
  private advance(a: number, inst: number, steps: readonly CallStep[]): void {
    const local = this.instLocal[inst];
    for (;;) {
      if ((this.aFlags[a] & AF_CHILD_FAIL) !== 0) {
        this.finish(a, inst, true);
        return;
      }
      const step = ++this.aStep[a];
      if (step >= steps.length) {
        this.finish(a, inst, false);
        return;
      }
      const { spec, pool } = steps[step];
      if (spec.probability < 1 && (this.callRng[this.instServiceIndex[inst]] as Rng).next() >= spec.probability) continue;
      this.aPending[a] = spec.parallel;
      this.aFlags[a] |= AF_ISSUING;
      const gen = this.aGen[a];
      const p = this.pools[pool];
      for (let k = 0; k < spec.parallel; k++) this.issueCall(p, local, a, gen, NaN);
      this.aFlags[a] &= ~AF_ISSUING;
      // Calls that ended at once (a local 503) may have completed the step already.
      if (this.aPending[a] > 0) return;
    }
  }

  /** A downstream call made by attempt `a` (generation `gen`) ended. */
  private childDone(a: number, gen: number, ok: boolean): void {
    if (this.aGen[a] !== gen || (this.aFlags[a] & AF_GONE) !== 0) return; // its server side is gone
    const inst = this.aInst[a] | 0;
    const steps = this.serviceSteps[this.instServiceIndex[inst]];
    if (!ok && steps[this.aStep[a]].spec.onFailure === 'fail') this.aFlags[a] |= AF_CHILD_FAIL;
    if (--this.aPending[a] > 0 || (this.aFlags[a] & AF_ISSUING) !== 0) return;
    if (this.inst[inst * I_STRIDE + I_FAULTED] !== 0 && this.instPaused[inst] > 0) {
      // Paused: it carries on (next step, or its answer) when the pause ends.
      this.deferToPauseEnd(a, inst);
      return;
    }
    this.advance(a, inst, steps);
  }

  /** The attempt is served: free its slot, start the next waiting one, answer. */
  private finish(a: number, inst: number, dependencyFailed: boolean): void {
    const rec = this.inst;
    const o = inst * I_STRIDE;
    const busy = rec[o + I_BUSY];
    // The load report rides on the response: busy slots / slots, this request included.
    this.aUtil[a] = rec[o + I_SLOTS] === UNBOUNDED ? 0 : busy / rec[o + I_SLOTS];
    rec[o + I_BUSY] = busy - 1;
    if (this.trackHeld) this.releaseHeld(inst, a);
    this.metrics.served(inst, this.aSvcStart[a], this.engine.now());
    if (rec[o + I_QLEN] > 0) this.startService(this.dequeue(inst), inst);
    if (dependencyFailed) this.respond(a, inst, DEPENDENCY_FAILED_STATUS, C_ERROR);
    else if (rec[o + I_FAULTED] !== 0 && this.instErrRate[inst] > 0 && this.instErrFast[inst] === 0 && this.errorDraw(inst)) this.respond(a, inst, this.instErrStatus[inst], C_ERROR);
    else this.respond(a, inst, 200, C_OK);
  }

  /** Appends attempt `a` to instance `inst`'s wait queue (a FIFO linked through aNext). */
  private enqueue(inst: number, a: number): void {
    const rec = this.inst;
    const o = inst * I_STRIDE;
    this.aNext[a] = -1;
    const tail = rec[o + I_QTAIL];
    if (tail < 0) rec[o + I_QHEAD] = a;
    else this.aNext[tail] = a;
    rec[o + I_QTAIL] = a;
    rec[o + I_QLEN]++;
  }

  /** Removes and returns the oldest waiting attempt of `inst`; its queue must not be empty. */
  private dequeue(inst: number): number {
    const rec = this.inst;
    const o = inst * I_STRIDE;
    const a = rec[o + I_QHEAD];
    const next = this.aNext[a];
    rec[o + I_QHEAD] = next;
    if (next < 0) rec[o + I_QTAIL] = -1;
    rec[o + I_QLEN]--;
    return a;
  }

  /** Attempt `a` (held by paused instance `inst`) carries on when the pause ends. */
  private deferToPauseEnd(a: number, inst: number): void {
    const end = this.instPauseEnd[inst];
    this.aDoneAt[a] = end;
    this.aDoneSeq[a] = this.engine.at(end, SERVICE_DONE, a);
  }

  /** Lists attempt `a`, in service until `done`, among those instance `inst` holds. */
  private holdAttempt(inst: number, a: number, done: number): void {
    this.aDoneAt[a] = done;
    let held = this.inService[inst];
    const k = this.inst[inst * I_STRIDE + I_HELD]++;
    if (k === held.length) {
      const bigger = new Int32Array(held.length * 2);
      bigger.set(held);
      held = this.inService[inst] = bigger;
    }
    held[k] = a;
    this.aHeldAt[a] = k;
  }

  private releaseHeld(inst: number, a: number): void {
    const held = this.inService[inst];
    const k = this.aHeldAt[a] | 0;
    const last = --this.inst[inst * I_STRIDE + I_HELD];
    const moved = held[last];
    held[k] = moved;
    this.aHeldAt[moved] = k;
  }

  private respond(a: number, inst: number, status: number, code: number): void {
    if (code !== C_OK) this.aUtil[a] = -1;
    this.aStatus[a] = status;
    this.aCode[a] = code;
    const at = this.engine.now() + this.hopLatency(this.aZone[a], inst);
    if (this.answersAtOnce && at < this.runEnd && this.pools[this.cPool[this.aCall[a] | 0] | 0].unobservedAnswers) this.answeredUnobserved(a, at);
    else this.engine.at(at, AT_CLIENT, a);
  }

  /**
   * The answer of attempt `a` will reach its sidecar at `at`, and nothing but the request's
   * own figures depends on that moment (see answersAtOnce): onAtClient's work now, the
   * call concluded as of `at`. The balancer's onEnd is not called: it does nothing.
   */
  private answeredUnobserved(a: number, at: number): void {
    this.aFlags[a] |= AF_ENDED;
    const c = this.aCall[a] | 0;
    this.cOut[c]--;
    this.conclude(c, this.outcomeOf(a), false, false, at);
    this.releaseAttempt(a);
  }

  // ---- Faults, probes, network ------------------------------------------------------------

  // ---- Fault effects: detection, recovery, and what the fault cost ---------------------------

  /** Attempts sent so far to the instances of `service` outside `window`. */
  private survivorAttempts(service: string, window: FaultWindow): number {
    const start = this.serviceStart.get(service) ?? 0;
    const count = this.serviceCount.get(service) ?? 0;
    let sum = 0;
    for (let i = start; i < start + count; i++) if (!window.instances.has(i)) sum += this.instAttempts[i];
    return sum;
  }

  private watchFault(index: number, on: boolean): void {
    const w = this.watches[index];
    if (w === undefined) return;
    if (on) {
      w.open = true;
      w.survivorsAtStart = this.survivorAttempts(w.service, w.window);
      for (const inst of w.window.instances) (this.instWatches[inst] ??= []).push(w);
      return;
    }
    w.open = false;
    w.survivorsAtEnd = this.survivorAttempts(w.service, w.window);
    w.awaitingRecovery = true;
  }

  /** Watches of `inst` stop once closed and recovered. */
  private unwatch(inst: number, w: WindowWatch): void {
    const list = this.instWatches[inst];
    if (list === undefined) return;
    const k = list.indexOf(w);
    if (k >= 0) list.splice(k, 1);
    if (list.length === 0) this.instWatches[inst] = undefined;
  }

  private watchSent(inst: number): void {
    const list = this.instWatches[inst];
    if (list === undefined) return;
    for (const w of list) {
      if (!w.open) continue;
      w.attempts++;
      if (w.detectedAt !== w.detectedAt) w.attemptsBefore++;
    }
  }

  /**
   * An attempt sent at `sentAt` to `inst` ended. A failure counts for an open window only
   * when the attempt was sent during it (counted by watchSent), so `failed` ≤ `attempts`:
   * one sent before the window and failed by it (reset by a crash) is not the fault's cost
   * in attempts it received.
   */
  private watchEnded(inst: number, ok: boolean, sentAt: number): void {
    const list = this.instWatches[inst] as WindowWatch[];
    for (let k = list.length - 1; k >= 0; k--) {
      const w = list[k];
      if (w.open) {
        if (!ok && sentAt >= w.window.start) {
          w.failed++;
          if (w.detectedAt !== w.detectedAt) w.failedBefore++;
        }
      } else if (ok && w.awaitingRecovery) {
        w.awaitingRecovery = false;
        w.recoveredAt = this.engine.now();
        for (const i of w.window.instances) this.unwatch(i, w);
      }
    }
  }

  /** A sidecar of pool `pi` ejected endpoint `ep`, or saw its health checks fail. */
  private noticed(pi: number, ep: number, by: NonNullable<FaultEffect['detectedBy']>): void {
    const inst = this.pools[pi].instanceOf[ep];
    if (inst === undefined) return;
    const list = this.instWatches[inst];
    if (list === undefined) return;
    for (const w of list) {
      if (!w.open || w.detectedAt === w.detectedAt) continue;
      w.detectedAt = this.engine.now();
      w.detectedBy = by;
    }
  }

  private effectOf(w: WindowWatch): FaultEffect {
    const { start, end } = w.window;
    const detected = w.detectedAt === w.detectedAt;
    const recovered = w.recoveredAt === w.recoveredAt;
    const count = this.serviceCount.get(w.service) ?? 0;
    const survivors = count - w.window.instances.size;
    // Load is offered until `duration`: a window open past it is measured up to there.
    const stop = Math.min(end, this.loadEnd);
    const atEnd = w.open ? this.survivorAttempts(w.service, w.window) : w.survivorsAtEnd;
    const during = stop > start ? (atEnd - w.survivorsAtStart) / (stop - start) : NaN;
    const before = start > 0 ? w.survivorsAtStart / start : NaN;
    const ratio = survivors > 0 && before > 0 && during === during ? during / before : NaN;
    return {
      detectedMs: detected ? w.detectedAt - start : null,
      detectedBy: detected ? w.detectedBy : null,
      recoveredMs: recovered ? w.recoveredAt - end : null,
      attempts: w.attempts,
      failed: w.failed,
      attemptsBeforeDetection: w.attemptsBefore,
      failedBeforeDetection: w.failedBefore,
      survivorLoad: ratio === ratio ? ratio : null,
    };
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
          if (on && this.instPaused[inst] === 0) this.freezeWork(inst);
          this.instPaused[inst] += d;
          if (on) this.instPauseEnd[inst] = Math.max(this.instPauseEnd[inst], w.end);
          else if (this.instPaused[inst] === 0) {
            this.thawWork(inst);
            // The world resumes once the completions due at this instant (work frozen with
            // nothing left, continuations deferred to the pause end) have freed their slots:
            // they were scheduled before this event, so they come first.
            this.engine.at(this.engine.now(), PAUSE_RESUME, inst);
          }
          break;
      }
    }
  }

  /**
   * A pause starts on instance `inst`: the own work of each attempt in service stops, its
   * pending completion is voided and the service time it had left is kept, in completion
   * order (time, then scheduling order), for thawWork. Attempts waiting on downstream
   * calls have no completion pending: a call ending during the pause defers their next
   * step to its end (childDone).
   */
  private freezeWork(inst: number): void {
    const held = this.inService[inst];
    const n = this.inst[inst * I_STRIDE + I_HELD];
    const running: number[] = [];
    for (let k = 0; k < n; k++) if (this.aDoneSeq[held[k]] >= 0) running.push(held[k]);
    if (running.length === 0) return;
    running.sort((x, y) => this.aDoneAt[x] - this.aDoneAt[y] || this.aDoneSeq[x] - this.aDoneSeq[y]);
    const now = this.engine.now();
    const frozen: number[] = [];
    for (const a of running) {
      frozen.push(a, this.aGen[a], this.aDoneAt[a] - now);
      this.aDoneSeq[a] = -1;
    }
    this.instFrozen[inst] = frozen;
  }

  /**
   * A pause ends on instance `inst`: the work it froze carries on, each attempt completing
   * after the service time it had left, unless a crash or hang dropped it meanwhile.
   */
  private thawWork(inst: number): void {
    const frozen = this.instFrozen[inst];
    if (frozen === undefined) return;
    this.instFrozen[inst] = undefined;
    const now = this.engine.now();
    for (let k = 0; k < frozen.length; k += 3) {
      const a = frozen[k];
      if (this.aGen[a] !== frozen[k + 1] || (this.aFlags[a] & AF_GONE) !== 0) continue;
      const done = now + frozen[k + 2];
      this.aDoneAt[a] = done;
      this.aDoneSeq[a] = this.engine.at(done, SERVICE_DONE, a);
    }
  }

  /**
   * The end of a pause, after its deferred completions (each started the oldest waiting
   * request in its slot): start what still fits, then keep the `queue` oldest waiting
   * requests and answer 503 to the newer ones, which arrived while paused beyond the bound
   * (those that arrived before it were admitted by it then).
   */
  private onPauseResume(inst: number): void {
    if (this.instPaused[inst] > 0) return; // paused again at this instant: its end resumes it
    const rec = this.inst;
    const o = inst * I_STRIDE;
    while (rec[o + I_QLEN] > 0 && rec[o + I_BUSY] < rec[o + I_SLOTS]) this.startService(this.dequeue(inst), inst);
    const keep = rec[o + I_QCAP];
    if (rec[o + I_QLEN] <= keep) return;
    // Cut the list after its `keep` oldest entries; the rest (newest) are rejected, oldest of them first.
    let a = rec[o + I_QHEAD];
    let last = -1;
    for (let k = 0; k < keep; k++) {
      last = a;
      a = this.aNext[a];
    }
    if (last < 0) rec[o + I_QHEAD] = -1;
    else this.aNext[last] = -1;
    rec[o + I_QTAIL] = last;
    rec[o + I_QLEN] = keep;
    while (a >= 0) {
      const next = this.aNext[a];
      this.respond(a, inst, 503, C_REJECTED);
      a = next;
    }
  }

  /**
   * A crash resets every attempt the instance holds (in service or queued); a hang keeps
   * them forever. Either way the instance restarts empty, completions already scheduled
   * for those attempts are void, and the downstream calls they were waiting on no longer
   * matter to them.
   */
  private dropHeld(inst: number, reset: boolean): void {
    const held = this.inService[inst];
    const o = inst * I_STRIDE;
    const victims: number[] = [];
    for (let k = 0; k < this.inst[o + I_HELD]; k++) {
      const a = held[k];
      victims.push(a);
      this.aDoneSeq[a] = -1;
      this.aFlags[a] |= AF_GONE;
    }
    while (this.inst[o + I_QLEN] > 0) victims.push(this.dequeue(inst));
    this.inst[o + I_HELD] = 0;
    this.inst[o + I_BUSY] = 0;
    if (reset) for (const a of victims) this.respond(a, inst, 0, C_RESET);
    else for (const a of victims) this.lose(a);
  }

  /**
   * Sends a health-check probe from sidecar `s` of pool `pi` to its endpoint `endpoint`.
   * It crosses the network like a request and meets the same faults (refused by a down
   * instance, swallowed by a hang or a dropping partition, held by a pause, failed by an
   * error fault), but is answered without taking a worker slot; the checker's own timeout
   * handles the probes that never come back.
   */
  private sendProbe(pi: number, s: number, endpoint: number, done: ProbeDone): void {
    const p = this.pools[pi];
    const inst = p.instanceOf[endpoint];
    if (inst === undefined) return;
    const probe: Probe = { pool: pi, sidecar: s, instance: inst, done, ok: true, failure: 'network' };
    const cut = this.activePartitions.length > 0 ? this.partitioned(p, s, inst) : undefined;
    if (cut === 'drop') return;
    const id = this.nextProbe++;
    this.probes.set(id, probe);
    const hop = this.hopLatency(p.sidecarZone[s], inst);
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
    const p = this.pools[probe.pool];
    this.engine.at(this.engine.now() + this.hopLatency(p.sidecarZone[probe.sidecar], inst), HC_AT_CLIENT, id);
  }

  private onProbeAnswer(id: number): void {
    const probe = this.probes.get(id);
    if (!probe) return;
    this.probes.delete(id);
    if (probe.ok) probe.done(true);
    else probe.done(false, probe.failure);
  }

  private partitioned(p: Pool, sidecar: number, inst: number): 'drop' | 'refuse' | undefined {
    for (const w of this.activePartitions) {
      const hit = w.fromGroup >= 0 ? w.fromGroup === p.caller && w.instances.has(inst) : w.fromZone === p.sidecarZone[sidecar] && w.toZone === this.inst[inst * I_STRIDE + I_ZONE];
      if (hit) return w.fault.mode ?? 'drop';
    }
    return undefined;
  }

  private hopLatency(zone: number, inst: number): number {
    const base = this.hop();
    return this.crossZone !== undefined && this.inst[inst * I_STRIDE + I_ZONE] !== zone ? base + this.crossZone() : base;
  }

  /** Distinct priority levels among every instance of `service`, later joiners included. */
  private priorityLevels(service: string): number {
    const start = this.serviceStart.get(service) ?? 0;
    const levels = new Set<number>();
    for (let i = start; i < start + (this.serviceCount.get(service) ?? 0); i++) levels.add(this.instPriority[i]);
    return levels.size;
  }

  private zoneId(zone: string): number {
    let id = this.zoneIds.get(zone);
    if (id === undefined) {
      id = this.zoneIds.size;
      this.zoneIds.set(zone, id);
    }
    return id;
  }

  // ---- Record pools -------------------------------------------------------------------------

  private allocCall(): number {
    if (this.cNFree === 0) this.growCalls(this.doubled(this.cCap, 'requests'));
    const c = this.cFree[--this.cNFree];
    this.cGen[c]++;
    return c;
  }

  private freeCall(c: number): void {
    this.cFree[this.cNFree++] = c;
  }

  private allocAttempt(): number {
    if (this.aNFree === 0) this.growAttempts(this.doubled(this.aCap, 'attempts'));
    const a = this.aFree[--this.aNFree];
    this.aGen[a]++;
    return a;
  }

  /** The attempt's record is no longer needed (answered, or lost after the sidecar gave up). */
  private releaseAttempt(a: number): void {
    const c = this.aCall[a] | 0;
    // Unlink it from its call's attempts first: the record will be reused by other calls.
    if (this.cAttHead[c] === a) {
      this.cAttHead[c] = this.aSib[a];
    } else {
      let x = this.cAttHead[c];
      while (x >= 0 && this.aSib[x] !== a) x = this.aSib[x];
      if (x >= 0) this.aSib[x] = this.aSib[a];
    }
    this.aFree[this.aNFree++] = a;
    this.unpin(c); // its reference to the call goes, as a pin would
  }

  /** The engine's stalled-clock error, with the closed loops that can cause it (think time that can be 0) named. */
  private stalled(e: RunLimitError): RunLimitError {
    const loops = this.scenario.workload.flatMap((w, i) => (w.arrival.process === 'closed' && canBeZero(w.arrival.think) ? [`workload.${i}.arrival.think`] : []));
    const why =
      loops.length > 0
        ? `: a closed loop whose think time can be 0 (${loops.join(', ')}) issues its next request at the same instant when one is answered at once, without a network hop (a breaker overflow, no healthy upstream, throttling). Give the think time a minimum above 0.`
        : '.';
    return new RunLimitError(`${e.message}${why}`);
  }

  /** A record pool's next capacity: twice `cap`, at most maxInFlight; a full pool at the limit stops the run. */
  private doubled(cap: number, what: 'requests' | 'attempts'): number {
    if (cap >= this.maxInFlight) throw this.overloaded(what);
    return Math.min(cap * 2, this.maxInFlight);
  }

  /**
   * The error of a run that reached maxInFlight: when, and the service holding the most
   * of them (in service and waiting in its instances' queues), with what would bound it.
   */
  private overloaded(what: 'requests' | 'attempts'): RunLimitError {
    const rec = this.inst;
    const held = new Map<string, { busy: number; waiting: number; unboundedQueue: boolean; unboundedSlots: boolean }>();
    for (let i = 0; i < this.instService.length; i++) {
      const o = i * I_STRIDE;
      const name = this.instService[i];
      const h = held.get(name) ?? { busy: 0, waiting: 0, unboundedQueue: false, unboundedSlots: false };
      h.busy += rec[o + I_BUSY];
      h.waiting += rec[o + I_QLEN];
      h.unboundedQueue ||= rec[o + I_QCAP] === UNBOUNDED;
      h.unboundedSlots ||= rec[o + I_SLOTS] === UNBOUNDED;
      held.set(name, h);
    }
    let top: [string, { busy: number; waiting: number; unboundedQueue: boolean; unboundedSlots: boolean }] | undefined;
    for (const entry of held) if (top === undefined || entry[1].busy + entry[1].waiting > top[1].busy + top[1].waiting) top = entry;
    const count = this.maxInFlight.toLocaleString('en-US');
    const at = `${(this.engine.now() / 1000).toLocaleString('en-US', { maximumFractionDigits: 3 })} s`;
    let where = '';
    let fix = 'give requests a timeout (mesh.failover.timeout, or the workload\'s timeout), or lower the load';
    if (top !== undefined && top[1].busy + top[1].waiting > 0) {
      const [name, h] = top;
      where = ` Service "${name}" holds ${h.busy.toLocaleString('en-US')} in service and ${h.waiting.toLocaleString('en-US')} waiting in its instances' queues`;
      if (h.waiting >= h.busy && h.unboundedQueue) {
        where += `: it is offered more than it can serve, and services.${name}.queue is unbounded.`;
        fix = `bound the queue (services.${name}.queue: 1000 answers what overflows it with 503), ${fix}`;
      } else if (h.busy > h.waiting && h.unboundedSlots) {
        where += `: services.${name}.concurrency is unbounded, and requests arrive faster than they finish.`;
        fix = `bound its concurrency (services.${name}.concurrency), ${fix}`;
      } else where += '.';
    }
    return new RunLimitError(
      `the run stopped at ${at} of simulated time with ${count} ${what} in flight, the most one run may hold (their records take ~0.9 GB).${where} ` +
        `To simulate it, ${fix}.`,
    );
  }

  private growCalls(cap: number): void {
    const old = this.cCap;
    this.cPool = grown(this.cPool, new Int32Array(cap));
    this.cSidecar = grown(this.cSidecar, new Int32Array(cap));
    this.cIssued = grown(this.cIssued, new Float64Array(cap));
    this.cFlags = grown(this.cFlags, new Int32Array(cap));
    this.cParent = grown(this.cParent, new Int32Array(cap));
    this.cParentGen = grown(this.cParentGen, new Int32Array(cap));
    this.cSent = grown(this.cSent, new Int32Array(cap));
    this.cOut = grown(this.cOut, new Int32Array(cap));
    this.cRetries = grown(this.cRetries, new Int32Array(cap));
    this.cAdmitted = grown(this.cAdmitted, new Int32Array(cap));
    this.cPendingRetry = grown(this.cPendingRetry, new Int32Array(cap));
    this.cGen = grown(this.cGen, new Int32Array(cap));
    this.cWaiting = grown(this.cWaiting, new Int32Array(cap));
    this.cDeadlinePos = grown(this.cDeadlinePos, new Float64Array(cap));
    this.cHedgePos = grown(this.cHedgePos, new Float64Array(cap));
    this.cKey = grown(this.cKey, new Float64Array(cap));
    this.cAttHead = grown(this.cAttHead, new Int32Array(cap));
    this.cLive = grown(this.cLive, new Int32Array(cap));
    this.tried = grown(this.tried, new Int32Array(cap * T_STRIDE));
    const free = new Int32Array(cap);
    free.set(this.cFree.subarray(0, this.cNFree));
    let k = this.cNFree;
    for (let i = cap - 1; i >= old; i--) free[k++] = i;
    this.cFree = free;
    this.cNFree = k;
    this.cCap = cap;
  }

  private growAttempts(cap: number): void {
    const old = this.aCap;
    this.aCall = grown(this.aCall, new Int32Array(cap));
    this.aInst = grown(this.aInst, new Int32Array(cap));
    this.aSent = grown(this.aSent, new Float64Array(cap));
    this.aStatus = grown(this.aStatus, new Int32Array(cap));
    this.aCode = grown(this.aCode, new Int32Array(cap));
    this.aFlags = grown(this.aFlags, new Int32Array(cap));
    this.aSvcStart = grown(this.aSvcStart, new Float64Array(cap));
    this.aDoneSeq = grown(this.aDoneSeq, new Float64Array(cap));
    this.aDoneAt = grown(this.aDoneAt, new Float64Array(cap));
    this.aUtil = grown(this.aUtil, new Float64Array(cap));
    this.aHeldAt = grown(this.aHeldAt, new Int32Array(cap));
    this.aZone = grown(this.aZone, new Int32Array(cap));
    this.aSib = grown(this.aSib, new Int32Array(cap));
    this.aStep = grown(this.aStep, new Int32Array(cap));
    this.aPending = grown(this.aPending, new Int32Array(cap));
    this.aGen = grown(this.aGen, new Int32Array(cap));
    this.aNext = grown(this.aNext, new Int32Array(cap));
    this.aTryPos = grown(this.aTryPos, new Float64Array(cap));
    const free = new Int32Array(cap);
    free.set(this.aFree.subarray(0, this.aNFree));
    let k = this.aNFree;
    for (let i = cap - 1; i >= old; i--) free[k++] = i;
    this.aFree = free;
    this.aNFree = k;
    this.aCap = cap;
  }
}

/** Whether a sample of `spec` can be exactly 0 (a normal is truncated at 0). */
function canBeZero(spec: DistSpec): boolean {
  switch (spec.dist) {
    case 'constant':
      return spec.value === 0;
    case 'uniform':
      return spec.min === 0;
    case 'normal':
      return true;
    case 'empirical':
      return spec.values.includes(0);
    case 'mixture':
      return spec.of.some(canBeZero);
    default:
      return false;
  }
}

/** `bigger` with `old` copied into its start. */
function grown<T extends Float64Array | Int32Array | Uint8Array>(old: T, bigger: T): T {
  bigger.set(old);
  return bigger;
}

function emptyLayer(): LayerCounters {
  return { calls: 0, attempts: 0, succeeded: 0, failed: 0, retries: 0, hedges: 0, hedgesWon: 0, perTryTimeouts: 0, deadlines: 0, overflows: 0, noEndpoint: 0, budgetDenied: 0, throttled: 0 };
}

/** Simulates one replication of a resolved scenario (throws RunLimitError for one that outgrows `maxInFlight`). */
export function simulate(scenario: Scenario, seed: number, options: Pick<WorldOptions, 'maxInFlight'> = {}): RunResult {
  return new World(scenario, { seed, maxInFlight: options.maxInFlight }).run();
}
