/**
 * One balancer kind for bench/balancers.bench.ts, in its own process (so its JIT state —
 * inline caches, inlining decisions — is its own and not shaped by the policies measured
 * before it), at each endpoint count: the steady-state cost of a request cycle and the
 * cost of a rebuild. Prints one JSON line.
 *
 * The balancer is built as the simulator builds it: `createBalancer(resolveBalancerOptions
 * ({ kind }), ports, env)` (default options, validated; Envoy kinds inside Envoy's layers)
 * with Ports { clock: a fake clock, rng: rngStream(1, 'bench'), timers: an Engine } and the
 * environment of client 0 of 100 in zone 'a' (the fleet10k scenario's 100 sidecars).
 * Endpoints: id `ep-i`, a unique address, zone 'a', weight 1 (`unit`) or 1 + i mod 4
 * (`weighted`), healthy, priority 0, metadata {}.
 *
 * Cycle: the clock advances 0.01 ms, `pick(ctx)`, `onStart(i)`, then the oldest of the 50
 * attempts in flight ends: `onEnd(j, outcome, now − its start)` (FIFO, so each attempt
 * lasts 50 picks = 0.5 ms and load-aware policies see 50 outstanding requests). Hashing
 * kinds get `ctx.hashKey` from 65,536 precomputed `hashKey(String(k))`, cycled. Outcomes
 * are successes (200) with a utilisation report of 0.5 (identical endpoints), so
 * weighted-least-utilization runs on weights learned from the qps it observes. The warm-up
 * runs until 12 s of fake time (past WLU's 10 s blackout: its weights are in use when
 * timed) or 0.3 s of wall time, whichever first, and sizes the repetitions. After them, 3
 * repetitions of the picks alone (no onStart/onEnd: the load state stays frozen) show the
 * split.
 *
 * Rebuild: alternately the n endpoints and the same with the last one replaced by a
 * newcomer (one leaves, one joins: a real membership change, so hashing policies rebuild
 * their tables), after a warm-up of ≥ 20 rebuilds and 30 ms (at most 150 ms), in batches
 * of ≥ 5 ms; median µs per rebuild.
 *
 *   node --expose-gc --import tsx bench/balancers-child.ts <kind|noop> <unit|weighted> [--sizes 10,1000,10000] [--reps 5] [--rep-ms 60]
 */
import { balancers, createBalancer, HASHING_KINDS, resolveBalancerOptions } from '../src/algorithms/registry.js';
import type { Balancer, BalancerEnvironment, Endpoint, Outcome } from '../src/algorithms/types.js';
import type { Ports } from '../src/core/ports.js';
import { rngStream } from '../src/core/rng.js';
import { hashKey } from '../src/core/xxhash64.js';
import { Engine } from '../src/sim/engine.js';

/** The harness alone: a balancer that does nothing (pick = a counter mod n). */
const NOOP = 'noop';

const TICK_MS = 0.01;
const IN_FLIGHT = 50;
const KEY_BITS = 16;
const KEY_MASK = (1 << KEY_BITS) - 1;
const WARMUP_FAKE_MS = 12_000;
const WARMUP_MIN_MS = 30;
const WARMUP_MAX_MS = 300;
const WARMUP_CHUNK = 1000;
const REBUILD_BATCH_MS = 5;
const PICK_REPS = 3;
const REBUILD_BUDGET_MS = 400;
const REBUILD_WARMUP_MIN_MS = 30;
const REBUILD_WARMUP_MAX_MS = 150;

export interface SizeMeasurement {
  readonly n: number;
  readonly warmupCycles: number;
  readonly warmupFakeMs: number;
  readonly cyclesPerRep: number;
  /** ns per cycle of each repetition, and their median. */
  readonly cycleNs: readonly number[];
  readonly cycleNsMedian: number;
  /** ns per pick alone (no onStart/onEnd, load state frozen) of each of 3 repetitions, and their median. */
  readonly pickNs: readonly number[];
  readonly pickNsMedian: number;
  /** µs of the first rebuild of a fresh balancer (cold: includes its JIT warm-up at the first size). */
  readonly firstBuildUs: number;
  readonly rebuildsPerBatch: number;
  /** µs per rebuild of each batch, and their median. */
  readonly rebuildUs: readonly number[];
  readonly rebuildUsMedian: number;
  /** Distinct endpoints among up to 100k picks after the timed ones (a sanity check). */
  readonly distinctPicked: number;
  readonly sink: number;
}

export interface BalancerChildResult {
  readonly kind: string;
  readonly weights: 'unit' | 'weighted';
  readonly hashing: boolean;
  readonly sizes: readonly SizeMeasurement[];
  readonly maxRssKB: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function makeEndpoint(i: number, weighted: boolean): Endpoint {
  return {
    id: `ep-${i}`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`,
    zone: 'a',
    weight: weighted ? 1 + (i % 4) : 1,
    health: 'healthy',
    priority: 0,
    metadata: {},
  };
}

class NoopBalancer implements Balancer {
  private n = 0;
  private next = 0;
  rebuild(endpoints: readonly Endpoint[]): void {
    this.n = endpoints.length;
  }
  pick(): number {
    const i = this.next;
    this.next = i + 1 === this.n ? 0 : i + 1;
    return i;
  }
  onStart(): void {}
  onEnd(): void {}
}

/** The fake clock: `t` advances by hand, TICK_MS per cycle. */
class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

const ENV: BalancerEnvironment = { localZone: 'a', clientIndex: 0, clientCount: 100, localZoneSizes: new Map([['a', 100]]), priorityLevels: 1 };

function build(kind: string, clock: FakeClock): Balancer {
  if (kind === NOOP) return new NoopBalancer();
  const engine = new Engine();
  engine.setModel({ handle() {} });
  const ports: Ports = { clock, rng: rngStream(1, 'bench'), timers: engine };
  return createBalancer(resolveBalancerOptions({ kind }), ports, ENV);
}

/**
 * Every attempt succeeds, with a utilisation report of 0.5: the endpoints are identical, so
 * they report alike (a report that differed by endpoint whatever its load would make
 * weighted-least-utilization starve the "busier" ones, a state no real fleet reaches).
 */
const OUTCOME: Outcome = { kind: 'success', status: 200, utilization: 0.5 };

/** The state a run of cycles carries from one call to the next. */
interface Loop {
  readonly balancer: Balancer;
  readonly clock: FakeClock;
  readonly ctx: { hashKey?: number };
  readonly keys: Float64Array | null;
  key: number;
  /** FIFO of the attempts in flight: endpoint and start time, slot = cycle mod IN_FLIGHT. */
  readonly flightIndex: Int32Array;
  readonly flightStart: Float64Array;
  slot: number;
  filled: number;
  /** Sum of the picks, so the loop's result is used. */
  sink: number;
}

/** `count` steady-state cycles. The one hot loop of this process (it runs one kind only). */
function cycles(s: Loop, count: number): void {
  const b = s.balancer;
  const clock = s.clock;
  const ctx = s.ctx;
  const keys = s.keys;
  const fi = s.flightIndex;
  const fs = s.flightStart;
  let slot = s.slot;
  let filled = s.filled;
  let key = s.key;
  let sink = s.sink;
  for (let c = 0; c < count; c++) {
    const now = (clock.t += TICK_MS);
    if (keys !== null) {
      ctx.hashKey = keys[key];
      key = (key + 1) & KEY_MASK;
    }
    const i = b.pick(ctx);
    b.onStart(i);
    if (filled === IN_FLIGHT) {
      const j = fi[slot];
      b.onEnd(j, OUTCOME, now - fs[slot]);
    } else filled++;
    fi[slot] = i;
    fs[slot] = now;
    slot = slot + 1 === IN_FLIGHT ? 0 : slot + 1;
    sink = (sink + i) | 0;
  }
  s.slot = slot;
  s.filled = filled;
  s.key = key;
  s.sink = sink;
}

/**
 * `count` picks alone (clock + 0.01 ms, `pick`), with no onStart/onEnd: the load state stays
 * as the cycles left it (50 in flight). Shows how a cycle splits between the pick and the
 * bookkeeping; a separate function, so it does not share the cycle loop's call sites.
 */
function picksOnly(s: Loop, count: number): void {
  const b = s.balancer;
  const clock = s.clock;
  const ctx = s.ctx;
  const keys = s.keys;
  let key = s.key;
  let sink = s.sink;
  for (let c = 0; c < count; c++) {
    clock.t += TICK_MS;
    if (keys !== null) {
      ctx.hashKey = keys[key];
      key = (key + 1) & KEY_MASK;
    }
    sink = (sink + b.pick(ctx)) | 0;
  }
  s.key = key;
  s.sink = sink;
}

/**
 * The same cycles as {@link cycles}, untimed, checking every pick is a valid index and
 * counting the distinct endpoints picked (a separate function, so the timed loop is not
 * shaped by the checks).
 */
function countPicks(s: Loop, count: number, n: number): number {
  const seen = new Uint8Array(n);
  let distinct = 0;
  const b = s.balancer;
  for (let c = 0; c < count; c++) {
    const now = (s.clock.t += TICK_MS);
    if (s.keys !== null) {
      s.ctx.hashKey = s.keys[s.key];
      s.key = (s.key + 1) & KEY_MASK;
    }
    const i = b.pick(s.ctx);
    if (!(i >= 0 && i < n)) throw new Error(`pick returned ${i} with ${n} healthy endpoints`);
    if (seen[i] === 0) {
      seen[i] = 1;
      distinct++;
    }
    b.onStart(i);
    const j = s.flightIndex[s.slot];
    b.onEnd(j, OUTCOME, now - s.flightStart[s.slot]);
    s.flightIndex[s.slot] = i;
    s.flightStart[s.slot] = now;
    s.slot = s.slot + 1 === IN_FLIGHT ? 0 : s.slot + 1;
  }
  return distinct;
}

function measureSize(kind: string, weighted: boolean, n: number, reps: number, repMs: number, keys: Float64Array | null): SizeMeasurement {
  gc();
  const clock = new FakeClock();
  const endpoints = Array.from({ length: n }, (_, i) => makeEndpoint(i, weighted));
  const balancer = build(kind, clock);
  const b0 = performance.now();
  balancer.rebuild(endpoints);
  const firstBuildUs = (performance.now() - b0) * 1000;

  const s: Loop = {
    balancer,
    clock,
    ctx: {},
    keys,
    key: 0,
    flightIndex: new Int32Array(IN_FLIGHT),
    flightStart: new Float64Array(IN_FLIGHT),
    slot: 0,
    filled: 0,
    sink: 0,
  };

  // Warm-up: JIT, load-aware state, and WLU's blackout (12 s of fake time), within 0.3 s.
  const w0 = performance.now();
  let warmupCycles = 0;
  for (;;) {
    cycles(s, WARMUP_CHUNK);
    warmupCycles += WARMUP_CHUNK;
    const ms = performance.now() - w0;
    if (ms >= WARMUP_MAX_MS || (ms >= WARMUP_MIN_MS && clock.t >= WARMUP_FAKE_MS)) break;
  }
  const nsPerCycle = ((performance.now() - w0) * 1e6) / warmupCycles;
  const cyclesPerRep = Math.max(1000, Math.round((repMs * 1e6) / nsPerCycle / 1000) * 1000);
  const warmupFakeMs = clock.t;

  const cycleNs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    cycles(s, cyclesPerRep);
    cycleNs.push(((performance.now() - t0) * 1e6) / cyclesPerRep);
  }
  const distinctPicked = countPicks(s, Math.min(cyclesPerRep, 100_000), n);

  // Picks alone: a short warm-up of this loop, then repetitions half as long as the cycles'.
  const picksPerRep = Math.max(1000, cyclesPerRep >> 1);
  picksOnly(s, Math.min(picksPerRep, 20_000));
  const pickNs: number[] = [];
  for (let r = 0; r < PICK_REPS; r++) {
    const t0 = performance.now();
    picksOnly(s, picksPerRep);
    pickNs.push(((performance.now() - t0) * 1e6) / picksPerRep);
  }

  // Rebuilds: alternate between the set and the set with its last endpoint replaced.
  const changed = endpoints.slice();
  changed[n - 1] = makeEndpoint(n, weighted);
  let flip = false;
  const rebuildOnce = (): void => {
    balancer.rebuild(flip ? endpoints : changed);
    flip = !flip;
  };
  // Warm-up (the JIT): ≥ 20 rebuilds and ≥ 30 ms, or 150 ms; it also sizes the batches.
  const c0 = performance.now();
  let warm = 0;
  for (;;) {
    rebuildOnce();
    rebuildOnce();
    warm += 2;
    const ms = performance.now() - c0;
    if (ms >= REBUILD_WARMUP_MAX_MS || (warm >= 20 && ms >= REBUILD_WARMUP_MIN_MS)) break;
  }
  const perRebuildMs = Math.max(1e-4, (performance.now() - c0) / warm);
  const rebuildsPerBatch = Math.max(2, 2 * Math.ceil(REBUILD_BATCH_MS / perRebuildMs / 2));
  const batches = Math.max(3, Math.min(reps, Math.floor(REBUILD_BUDGET_MS / (perRebuildMs * rebuildsPerBatch))));
  const rebuildUs: number[] = [];
  for (let k = 0; k < batches; k++) {
    const t0 = performance.now();
    for (let r = 0; r < rebuildsPerBatch; r++) rebuildOnce();
    rebuildUs.push(((performance.now() - t0) * 1000) / rebuildsPerBatch);
  }

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const med = (xs: number[]) => {
    const v = sorted(xs);
    const m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  };
  return {
    n,
    warmupCycles,
    warmupFakeMs,
    cyclesPerRep,
    cycleNs,
    cycleNsMedian: med(cycleNs),
    pickNs,
    pickNsMedian: med(pickNs),
    firstBuildUs,
    rebuildsPerBatch,
    rebuildUs,
    rebuildUsMedian: med(rebuildUs),
    distinctPicked,
    sink: s.sink,
  };
}

const [kind, weightsArg] = process.argv.slice(2);
if (!kind || (weightsArg !== 'unit' && weightsArg !== 'weighted') || (kind !== NOOP && !balancers.has(kind))) {
  process.stderr.write(`usage: balancers-child.ts <kind|${NOOP}> <unit|weighted> [--sizes 10,1000,10000] [--reps 5] [--rep-ms 60]\nkinds: ${[...balancers.keys()].join(', ')}\n`);
  process.exit(2);
}
const sizes = (arg('--sizes') ?? '10,1000,10000').split(',').map(Number);
const reps = Number(arg('--reps') ?? 5);
const repMs = Number(arg('--rep-ms') ?? 60);
const hashing = HASHING_KINDS.has(kind);
const keys = hashing ? Float64Array.from({ length: KEY_MASK + 1 }, (_, k) => hashKey(String(k))) : null;
const results: SizeMeasurement[] = [];
for (const n of sizes) results.push(measureSize(kind, weightsArg === 'weighted', n, reps, repMs, keys));
const result: BalancerChildResult = { kind, weights: weightsArg, hashing, sizes: results, maxRssKB: process.resourceUsage().maxRSS };
process.stdout.write(JSON.stringify(result) + '\n');
