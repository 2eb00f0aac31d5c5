/**
 * Fault injection: turns a scenario's `faults:` into concrete time windows over concrete
 * instances (or network paths) for one replication. Fixed windows come straight from the
 * file; periodic ones repeat every `every`; stochastic ones alternate exponential
 * time-to-failure (mtbf) and time-to-repair (mttr), the classic alternating renewal model
 * of reliability engineering. Random choices (which fraction of instances, the stochastic
 * schedule, which responses an error fault fails) come from each fault's own seeded
 * streams, so adding a fault never reshuffles the rest of the simulation.
 *
 * A `fraction` target is chosen among the service's members at each window's start
 * (membership changes at that instant apply first), never among instances that have not
 * joined yet or have left. The choice is drawn once, before the schedule, among the
 * members at the schedule's `at`, and drawn again only for a window whose start sees
 * another member set: a service whose membership never changes draws exactly what it
 * always did, one choice for every window.
 */
import type { Rng } from '../core/ports.js';
import { makeSampler, type Sampler } from '../core/distributions.js';
import type { RngStreams } from '../core/rng.js';
import { membershipTimeline, type MembershipStep } from '../scenario/instances.js';
import type { FaultSpec, Scenario } from '../scenario/types.js';

export interface FaultWindow {
  /** Position of the fault in `scenario.faults`. */
  readonly index: number;
  readonly fault: FaultSpec;
  readonly start: number;
  /** Infinity: active to the end of the run. */
  readonly end: number;
  /** Global instance indices hit (instance faults), or the partition's target instances. */
  readonly instances: ReadonlySet<number>;
  /** Partition by workload: the calling group's index; -1 otherwise. */
  readonly fromGroup: number;
  /** Partition by zones: zone ids; -1 otherwise. */
  readonly fromZone: number;
  readonly toZone: number;
  /** Error faults: the stream deciding which responses fail. */
  readonly rng?: Rng;
  /** Slow faults with `serviceTime`: the extra work per request. */
  readonly extra?: Sampler;
}

export interface FaultContext {
  readonly serviceStart: ReadonlyMap<string, number>;
  readonly serviceCount: ReadonlyMap<string, number>;
  readonly zoneOf: (instance: number) => string;
  readonly groupIndex: (workload: string) => number;
  readonly zoneId: (zone: string) => number;
  /** End of the run (duration + drain), ms. */
  readonly horizon: number;
}

/** The fault windows of one replication, in scenario order then time order. */
export function faultWindows(scenario: Scenario, streams: RngStreams, ctx: FaultContext): FaultWindow[] {
  const out: FaultWindow[] = [];
  const steps = scenario.faults.some((f) => f.target.fraction !== undefined) ? membershipTimeline(scenario).steps : [];
  scenario.faults.forEach((fault, index) => {
    const rng = streams.stream(`faults/${index}`);
    const members = fault.target.fraction === undefined ? undefined : new Members(scenario, fault, steps);
    let pickedAmong = members?.at(fault.schedule.at);
    let instances = targetInstances(fault, rng, ctx, pickedAmong);
    const t = fault.target;
    const fromGroup = fault.kind === 'partition' && t.from !== undefined ? ctx.groupIndex(t.from) : -1;
    const fromZone = fault.kind === 'partition' && t.fromZone !== undefined ? ctx.zoneId(t.fromZone) : -1;
    const toZone = fault.kind === 'partition' && t.toZone !== undefined ? ctx.zoneId(t.toZone) : -1;
    const errors = fault.kind === 'error' ? streams.stream(`faults/${index}/errors`) : undefined;
    const extra = fault.kind === 'slow' && fault.serviceTime ? makeSampler(fault.serviceTime, streams.stream(`faults/${index}/slow`)) : undefined;
    for (const [start, end] of schedule(fault, rng, ctx.horizon)) {
      if (members !== undefined) {
        // Windows come in time order: the members at this start, and a new choice if they
        // changed (drawn after this window's schedule draws, before the next window's).
        const now = members.at(start);
        if (!sameMembers(now, pickedAmong)) {
          instances = targetInstances(fault, rng, ctx, now);
          pickedAmong = now;
        }
      }
      out.push({ index, fault, start, end, instances, fromGroup, fromZone, toZone, ...(errors ? { rng: errors } : {}), ...(extra ? { extra } : {}) });
    }
  });
  return out;
}

/**
 * The members (local indices, ascending) of a fault's service over time, read forwards:
 * `at(t)` takes every membership change at or before `t`, so `t` must not decrease.
 */
class Members {
  private readonly steps: readonly MembershipStep[];
  private next = 0;
  private current: readonly number[];

  constructor(scenario: Scenario, fault: FaultSpec, all: readonly MembershipStep[]) {
    const service = fault.kind === 'partition' ? fault.target.to : fault.target.service;
    this.steps = all.filter((s) => s.service === service);
    const initial = service === undefined ? 0 : (scenario.services[service]?.instances ?? 0);
    this.current = Array.from({ length: initial }, (_, i) => i);
  }

  at(t: number): readonly number[] {
    while (this.next < this.steps.length && this.steps[this.next].at <= t) this.current = this.steps[this.next++].members;
    return this.current;
  }
}

function sameMembers(a: readonly number[], b: readonly number[] | undefined): boolean {
  if (a === b) return true;
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The instances a fault hits. `members`: for a `fraction` target, the service's members
 * (local indices) to choose among.
 */
function targetInstances(fault: FaultSpec, rng: Rng, ctx: FaultContext, members: readonly number[] | undefined): Set<number> {
  const t = fault.target;
  const service = fault.kind === 'partition' ? t.to : t.service;
  if (service === undefined) return new Set(); // a zone-to-zone partition
  const start = ctx.serviceStart.get(service) ?? 0;
  const count = ctx.serviceCount.get(service) ?? 0;
  let all = Array.from({ length: count }, (_, i) => start + i);
  if (t.instances) all = t.instances.map((i) => start + i);
  else if (t.zone !== undefined) all = all.filter((i) => ctx.zoneOf(i) === t.zone);
  else if (t.fraction !== undefined) {
    if (members !== undefined) all = members.map((i) => start + i);
    // A seeded partial Fisher–Yates shuffle picks ceil(fraction × n) distinct instances.
    const k = Math.min(all.length, Math.ceil(t.fraction * all.length - 1e-9));
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng.next() * (all.length - i));
      [all[i], all[j]] = [all[j], all[i]];
    }
    all = all.slice(0, k);
  }
  return new Set(all);
}

function* schedule(fault: FaultSpec, rng: Rng, horizon: number): Generator<[number, number]> {
  const s = fault.schedule;
  if ('mtbf' in s) {
    let t = s.at;
    for (;;) {
      t += -Math.log(1 - rng.next()) * s.mtbf;
      if (t >= horizon) return;
      const repair = -Math.log(1 - rng.next()) * s.mttr;
      yield [t, t + repair];
      t += repair;
    }
  }
  if (s.every === undefined) {
    if (s.at < horizon) yield [s.at, s.at + s.for];
    return;
  }
  for (let t = s.at; t < horizon; t += s.every) yield [t, t + s.for];
}
