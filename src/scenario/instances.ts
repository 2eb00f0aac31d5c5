/**
 * One instance's settings: its service's, with the `overrides` that name its index laid
 * over them in file order (the last override of a field wins). The simulator and the live
 * fleet both build their instances from this, so the two worlds run the same instances.
 */
import type { DistSpec } from '../core/distribution-spec.js';
import type { Scenario, ServiceSpec } from './types.js';

export interface InstanceSettings {
  readonly serviceTime: DistSpec;
  /** Worker slots (Infinity: unbounded). */
  readonly concurrency: number;
  /** Wait-queue bound (Infinity: unbounded). */
  readonly queue: number;
  readonly weight: number;
  readonly priority: number;
  /** Round robin over the service's zones unless overridden. */
  readonly zone: string;
}

/** The settings of instance `index` (0-based; instances added by `membership` continue the numbering). */
export function instanceSettings(svc: ServiceSpec, index: number): InstanceSettings {
  let serviceTime = svc.serviceTime;
  let concurrency = svc.concurrency;
  let queue = svc.queue;
  let weight = svc.weight;
  let priority = svc.priority;
  let zone = svc.zones[index % svc.zones.length];
  for (const o of svc.overrides) {
    if (!o.instances.includes(index)) continue;
    serviceTime = o.serviceTime ?? serviceTime;
    concurrency = o.concurrency ?? concurrency;
    queue = o.queue ?? queue;
    weight = o.weight ?? weight;
    priority = o.priority ?? priority;
    zone = o.zone ?? zone;
  }
  return { serviceTime, concurrency, queue, weight, priority, zone };
}

/**
 * The address the simulator gives instance `index` of `service` (its endpoints carry it).
 * Ring-hash and maglev place endpoints by it, so `meshsim live` gives each real upstream
 * this as its hash key: the live rings and tables are then the simulated ones.
 */
export function simulatedAddress(service: string, index: number): string {
  return `${service}-${index}.sim:80`;
}

/** One membership change, resolved: which instances it adds and removes, and who is a member after it. */
export interface MembershipStep {
  readonly at: number;
  readonly service: string;
  /** Instance indices it adds (the next free ones) and removes. */
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** The service's members after it, ascending. */
  readonly members: readonly number[];
}

/** When each instance of a service is a member: from `joinAt` (0: from the start) until `leaveAt` (Infinity: to the end). */
export interface MembershipSpan {
  readonly joinAt: number;
  readonly leaveAt: number;
}

/**
 * The scenario's `membership` changes resolved as the simulator applies them: instances a
 * change adds take the next indices after the service's initial ones and earlier
 * additions; removed instances stop being members (they finish what they hold). Gives the
 * instances each service ever has (`spans`, by index) and every change with the member set
 * after it.
 */
export function membershipTimeline(scenario: Scenario): { readonly steps: readonly MembershipStep[]; readonly spans: ReadonlyMap<string, readonly MembershipSpan[]> } {
  const spans = new Map<string, { joinAt: number; leaveAt: number }[]>();
  const member = new Map<string, boolean[]>();
  for (const [name, svc] of Object.entries(scenario.services)) {
    spans.set(name, Array.from({ length: svc.instances }, () => ({ joinAt: 0, leaveAt: Infinity })));
    member.set(name, Array.from({ length: svc.instances }, () => true));
  }
  const steps: MembershipStep[] = [];
  for (const change of scenario.membership) {
    const list = spans.get(change.service);
    const is = member.get(change.service);
    if (list === undefined || is === undefined) throw new Error(`membership: unknown service '${change.service}'`);
    const added: number[] = [];
    for (let k = 0; k < change.add; k++) {
      added.push(list.length);
      list.push({ joinAt: change.at, leaveAt: Infinity });
      is.push(true);
    }
    for (const i of change.remove) {
      if (is[i]) list[i].leaveAt = change.at;
      is[i] = false;
    }
    steps.push({ at: change.at, service: change.service, added, removed: [...change.remove], members: is.flatMap((m, i) => (m ? [i] : [])) });
  }
  return { steps, spans };
}
