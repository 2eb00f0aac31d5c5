/**
 * One instance's settings: its service's, with the `overrides` that name its index laid
 * over them in file order (the last override of a field wins). The simulator and the live
 * fleet both build their instances from this, so the two worlds run the same instances.
 */
import type { DistSpec } from '../core/distribution-spec.js';
import type { ServiceSpec } from './types.js';

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
