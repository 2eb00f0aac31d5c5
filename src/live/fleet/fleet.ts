/**
 * The backend fleet of a live run: one BackendInstance per instance of every service, the
 * scenario's fault windows applied to them on the run's clock, and the downstream calls of
 * call graphs sent through each calling service's own proxy (one per caller → target).
 * Fault windows arrive resolved (which instances, when), computed by the same code the
 * simulator uses, so both worlds fail the same instances at the same times.
 */
import { Agent, request } from 'node:http';
import { makeSampler, type Sampler } from '../../core/distributions.js';
import type { DistSpec } from '../../core/distribution-spec.js';
import { rngStream } from '../../core/rng.js';
import { BackendInstance, CALLER_HEADER, CALLER_ZONE_HEADER, type InstanceConfig, type InstanceFault, type InstanceStats } from './instance.js';
import { timerMs } from '../realtime.js';

/** One resolved fault window (instance indices are per service). */
export interface LiveFaultWindow {
  /** Position of the fault in the scenario's `faults`. */
  readonly index: number;
  readonly kind: 'crash' | 'hang' | 'slow' | 'error' | 'pause' | 'partition' | 'flap';
  /** Run time, ms; `end` may be Infinity. */
  readonly start: number;
  readonly end: number;
  /** The service hit (for a partition: its `to`); absent for a zone-to-zone partition. */
  readonly service?: string;
  readonly instances: readonly number[];
  readonly factor?: number;
  readonly serviceTime?: DistSpec;
  readonly rate?: number;
  readonly status?: number;
  readonly fast?: boolean;
  readonly mode?: 'drop' | 'refuse';
  readonly from?: string;
  readonly fromZone?: string;
  readonly toZone?: string;
}

export interface FleetConfig {
  readonly seed: number;
  readonly instances: readonly InstanceConfig[];
  readonly faults: readonly LiveFaultWindow[];
  /** The measurement window [from, to) in run time (ms): busy time is counted within it. */
  readonly window?: { readonly from: number; readonly to: number };
}

/** `<caller>-><target>` → the port of the caller's proxy towards the target. */
export type CallerProxies = Readonly<Record<string, number>>;

export class Fleet {
  readonly instances: readonly BackendInstance[];
  private callers: CallerProxies = {};
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly timers = new Set<NodeJS.Timeout>();
  private t0 = performance.now();

  constructor(readonly config: FleetConfig) {
    this.instances = config.instances.map(
      (c) =>
        new BackendInstance(
          c,
          (service) => this.callThrough(c, service),
          () => performance.now() - this.t0,
        ),
    );
  }

  /** Starts every instance's listener; returns `<service>/<index>` → address. */
  async listen(): Promise<Record<string, string>> {
    await Promise.all(this.instances.map((i) => i.listen()));
    return Object.fromEntries(this.instances.map((i) => [`${i.config.service}/${i.config.index}`, i.address]));
  }

  setCallers(callers: CallerProxies): void {
    this.callers = callers;
  }

  /** Starts the run clock (`t0` in this process's performance.now() time) and the fault schedule. */
  go(t0: number): void {
    this.t0 = t0;
    for (const i of this.instances) {
      i.resetStats(this.config.window);
      i.restartStreams();
    }
    const now = performance.now() - t0;
    for (const w of this.config.faults) {
      const targets = this.targetsOf(w);
      if (targets.length === 0) continue;
      const fault = this.instanceFault(w);
      const on = (): void => {
        for (const t of targets) void t.faultOn(fault);
        if (w.end !== Infinity) this.at(w.end - (performance.now() - t0), off);
      };
      const off = (): void => {
        for (const t of targets) void t.faultOff(fault);
      };
      this.at(w.start - now, on);
    }
  }

  private at(delay: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, timerMs(delay));
    this.timers.add(t);
  }

  private targetsOf(w: LiveFaultWindow): BackendInstance[] {
    if (w.service === undefined) {
      // A zone-to-zone partition: every instance in the target zone.
      return w.toZone === undefined ? [] : this.instances.filter((i) => i.config.zone === w.toZone);
    }
    return this.instances.filter((i) => i.config.service === w.service && w.instances.includes(i.config.index) && (w.toZone === undefined || i.config.zone === w.toZone));
  }

  private instanceFault(w: LiveFaultWindow): InstanceFault {
    switch (w.kind) {
      case 'crash':
      case 'flap':
        return { kind: 'crash' };
      case 'hang':
      case 'pause':
        return { kind: w.kind };
      case 'slow':
        return { kind: 'slow', factor: w.factor, extra: w.serviceTime ? this.slowSampler(w.index, w.serviceTime) : undefined };
      case 'error':
        return { kind: 'error', rate: w.rate ?? 1, status: w.status ?? 503, fast: w.fast === true, rng: this.errorRng(w.index) };
      case 'partition':
        return {
          kind: 'partition',
          mode: w.mode ?? 'drop',
          matches: (caller, zone) => (w.from === undefined || caller === w.from) && (w.fromZone === undefined || zone === w.fromZone),
        };
    }
  }

  private readonly errorRngs = new Map<number, ReturnType<typeof rngStream>>();
  private readonly slowSamplers = new Map<number, Sampler>();

  /** One extra-work sampler per slow fault, shared by its windows (as in the simulator). */
  private slowSampler(index: number, spec: DistSpec): Sampler {
    let s = this.slowSamplers.get(index);
    if (!s) this.slowSamplers.set(index, (s = makeSampler(spec, rngStream(this.config.seed, `faults/${index}/slow`))));
    return s;
  }

  /** One stream per error fault, shared by its windows and instances (as in the simulator). */
  private errorRng(index: number): ReturnType<typeof rngStream> {
    let r = this.errorRngs.get(index);
    if (!r) this.errorRngs.set(index, (r = rngStream(this.config.seed, `faults/${index}/errors`)));
    return r;
  }

  /** A downstream call of `caller`'s instance to `service`, through the caller's proxy. */
  private callThrough(caller: InstanceConfig, service: string): Promise<boolean> {
    const port = this.callers[`${caller.service}->${service}`];
    if (port === undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/', method: 'GET', agent: this.agent, headers: { [CALLER_HEADER]: caller.service, [CALLER_ZONE_HEADER]: caller.zone } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300));
          res.on('error', () => resolve(false));
        },
      );
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  stats(): InstanceStats[] {
    return this.instances.map((i) => i.stats());
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.instances.map((i) => i.close()));
    this.agent.destroy();
  }
}
