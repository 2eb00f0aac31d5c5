/**
 * Fixtures for the Envoy layer tests: endpoints with priority, zone and metadata; test
 * inner policies (a recording one, and a weight-proportional random one); binomial bounds.
 */
import { z } from 'zod';
import type { Balancer, BalancerDefinition, Endpoint, Health, Outcome } from '../../../../src/algorithms/types.js';
import type { Ports, Rng } from '../../../../src/core/ports.js';

export interface HostSpec {
  readonly id?: string;
  readonly priority?: number;
  readonly zone?: string;
  readonly health?: Health;
  readonly weight?: number;
  readonly metadata?: Record<string, string>;
}

export function hosts(specs: readonly HostSpec[]): Endpoint[] {
  return specs.map((s, i) => ({
    id: s.id ?? `h${i}`,
    address: `10.0.${Math.floor(i / 250)}.${i % 250}:8080`,
    zone: s.zone ?? 'z1',
    weight: s.weight ?? 1,
    health: s.health ?? 'healthy',
    priority: s.priority ?? 0,
    metadata: s.metadata ?? {},
  }));
}

/** `count` hosts of one level/zone, the first `healthy` healthy and the rest unhealthy (or `rest`). */
export function group(count: number, healthy: number, opts: { priority?: number; zone?: string; rest?: Health; prefix?: string; metadata?: Record<string, string> } = {}): HostSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${opts.prefix ?? `p${opts.priority ?? 0}-${opts.zone ?? 'z1'}`}-${i}`,
    priority: opts.priority ?? 0,
    zone: opts.zone ?? 'z1',
    health: i < healthy ? 'healthy' : (opts.rest ?? 'unhealthy'),
    metadata: opts.metadata,
  }));
}

/** 5σ binomial half-width for a proportion p estimated from n draws. */
export function tol(p: number, n: number): number {
  return 5 * Math.sqrt(Math.max(p * (1 - p), 1e-9) / n) + 1e-9;
}

/** Uniform over non-unhealthy endpoints, in proportion to their weights (a weight-aware inner for tests). */
export class WeightedDraw implements Balancer {
  private cum = new Float64Array(0);
  private idx = new Int32Array(0);
  constructor(private readonly rng: Rng) {}
  rebuild(endpoints: readonly Endpoint[]): void {
    const idx: number[] = [];
    const cum: number[] = [];
    let acc = 0;
    endpoints.forEach((e, i) => {
      if (e.health === 'unhealthy') return;
      acc += e.weight;
      idx.push(i);
      cum.push(acc);
    });
    this.idx = Int32Array.from(idx);
    this.cum = Float64Array.from(cum);
  }
  pick(): number {
    const n = this.idx.length;
    if (n === 0) return -1;
    const u = this.rng.next() * this.cum[n - 1];
    let k = 0;
    while (k < n - 1 && u >= this.cum[k]) k++;
    return this.idx[k];
  }
  onStart(): void {}
  onEnd(): void {}
}

export const weightedDraw: BalancerDefinition<Record<string, never>> = {
  kind: 'test-weighted-draw',
  family: 'balancing',
  summary: 'test',
  follows: 'test',
  config: z.strictObject({}),
  create: (_c: Record<string, never>, ports: Ports) => new WeightedDraw(ports.rng),
};

/** An inner policy that records what it is given and forwards picks to a uniform draw. */
export class Recording implements Balancer {
  last: readonly Endpoint[] = [];
  rebuilds = 0;
  readonly started: string[] = [];
  readonly ended: string[] = [];
  readonly outcomes: Outcome[] = [];
  constructor(private readonly rng: Rng) {}
  rebuild(endpoints: readonly Endpoint[]): void {
    this.last = endpoints;
    this.rebuilds++;
  }
  pick(): number {
    const ok = this.last.map((e, i) => (e.health === 'unhealthy' ? -1 : i)).filter((i) => i >= 0);
    return ok.length === 0 ? -1 : ok[Math.floor(this.rng.next() * ok.length)];
  }
  onStart(i: number): void {
    this.started.push(this.last[i].id);
  }
  onEnd(i: number, outcome: Outcome): void {
    this.ended.push(this.last[i].id);
    this.outcomes.push(outcome);
  }
}

/** A recording inner definition; `instances` collects every instance the wrapper creates. */
export function recordingDefinition(): { def: BalancerDefinition<Record<string, never>>; instances: Recording[] } {
  const instances: Recording[] = [];
  return {
    instances,
    def: {
      kind: 'test-recording',
      family: 'balancing',
      summary: 'test',
      follows: 'test',
      config: z.strictObject({}),
      create: (_c: Record<string, never>, ports: Ports) => {
        const r = new Recording(ports.rng);
        instances.push(r);
        return r;
      },
    },
  };
}

/**
 * An inner policy that counts attempts in flight per endpoint id, as least request does
 * (kept by id across rebuilds, forgotten when the id leaves, never below 0), and picks
 * uniformly. `counts()` is what it believes is in flight on each endpoint it holds.
 */
export class Counting implements Balancer {
  private ids: string[] = [];
  private active = new Map<string, number>();
  constructor(private readonly rng: Rng) {}
  rebuild(endpoints: readonly Endpoint[]): void {
    this.ids = endpoints.map((e) => e.id);
    this.active = new Map(this.ids.map((id) => [id, this.active.get(id) ?? 0]));
  }
  pick(): number {
    return this.ids.length === 0 ? -1 : Math.floor(this.rng.next() * this.ids.length);
  }
  onStart(i: number): void {
    this.active.set(this.ids[i], this.active.get(this.ids[i])! + 1);
  }
  onEnd(i: number): void {
    this.active.set(this.ids[i], Math.max(0, this.active.get(this.ids[i])! - 1));
  }
  counts(): ReadonlyMap<string, number> {
    return this.active;
  }
}

/** A counting inner definition; `instances` collects every instance the wrapper creates. */
export function countingDefinition(): { def: BalancerDefinition<Record<string, never>>; instances: Counting[] } {
  const instances: Counting[] = [];
  return {
    instances,
    def: {
      kind: 'test-counting',
      family: 'balancing',
      summary: 'test',
      follows: 'test',
      config: z.strictObject({}),
      create: (_c: Record<string, never>, ports: Ports) => {
        const r = new Counting(ports.rng);
        instances.push(r);
        return r;
      },
    },
  };
}
