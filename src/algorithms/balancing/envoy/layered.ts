/**
 * The Envoy layers around any endpoint policy: priority levels, panic, locality weighting or
 * zone-aware routing, and slow start. The wrapper decides WHICH host set a request goes to;
 * the inner policy (round robin, least request, ring hash, …) picks the endpoint inside it.
 *
 * Follows Envoy's ZoneAwareLoadBalancerBase::hostSourceToUse + EdfLoadBalancerBase, pick
 * order: priority (healthy or degraded load, see priority.ts) → panic check (panicking level:
 * all its hosts, see panic.ts) → locality (if locality weighting, see locality.ts) else
 * zone-aware (P0 only, see zone-aware.ts) → endpoint algorithm. Like Envoy's per-HostsSource
 * schedulers, there is one inner balancer instance per host set it may pick from: per level
 * its healthy hosts, its degraded hosts, all its hosts (only while it panics, handed over
 * with every host marked healthy), and per locality its healthy / degraded hosts. Instances
 * live across rebuilds (keyed by host set), are created with the wrapper's ports and env
 * (so they share its Rng), and every onStart/onEnd of an endpoint is forwarded to each
 * instance whose host set holds it, the way Envoy's host stats (rq_active) are shared by its
 * schedulers. That includes host sets not in use since some rebuild (a level's healthy hosts
 * while it panics, its "all hosts" once it recovers, the localities while zone-aware routing
 * is off): each keeps its members of its last fill, minus those that left the endpoint set,
 * so when it is used again its inner knows what is in flight on them (least request's active
 * counts, peak EWMA's pending, bounded load's).
 *
 * Where meshsim differs: locality = Endpoint.zone, priority = Endpoint.priority (levels
 * 0..max, empty ones included as Envoy has them); no excluded hosts, fail_traffic_on_panic,
 * runtime overrides or weighted priority health; the priority draw is always random (Envoy's
 * hash-based ring hash / Maglev choose the level with the request hash) and is skipped when
 * one host set has all the load; locality weighting and zone-aware routing apply to any
 * inner policy (Envoy: not to ring hash / Maglev); slow start (see slow-start.ts) applies to
 * any inner policy by re-weighting endpoints, refreshed at most every `refreshInterval`
 * (default min(1 s, window/10)) on the first pick after it, rebuilding only the host sets
 * that hold a ramping endpoint (cost O(their size) per refresh).
 * Fast path: with one priority level, no degraded host (or the level in panic) and no
 * locality layer in effect, the single inner balancer gets the caller's own array (or a
 * same-indexed copy carrying panic health / slow-start weights: the level's healthy hosts
 * and, while it panics, its "all hosts" are then one inner over the same endpoints) and
 * pick goes straight to it, one branch of overhead; so do onStart/onEnd while no host set
 * of an earlier rebuild is held (after zone-aware routing was on, say, they also reach its
 * localities' inners).
 * An endpoint that leaves a host set in use (turns unhealthy, or leaves the endpoint set) is
 * forgotten by that set's inner; should it return while attempts to it are in flight, that
 * inner counts them from 0 (never below) until they end.
 */
import { z } from 'zod';
import type { Clock, Ports, Rng } from '../../../core/ports.js';
import { zDuration, zPercent } from '../../../core/units.js';
import type { Balancer, BalancerDefinition, BalancerEnvironment, Endpoint, Outcome, PickContext } from '../../types.js';
import { carryIndices } from '../load/types.js';
import { declaredLocalityWeight, effectiveLocalityWeight, LocalityScheduler, randomSeedPicks } from './locality.js';
import { priorityState } from './panic.js';
import { choosePriority, NO_PRIORITY, overprovisioningPercent, type LevelCounts } from './priority.js';
import { SlowStartTracker, slowStartHealth, slowStartWeight, type SlowStartOptions } from './slow-start.js';
import { chooseZone, DEFAULT_MIN_CLUSTER_SIZE, zoneRouting, type ZoneRouting } from './zone-aware.js';

/** The option names the layer wrapper owns; every other option of a spec belongs to the inner policy. */
export const LAYER_KEYS = ['overprovisioningFactor', 'panicThreshold', 'localityWeighted', 'zoneAware', 'slowStart'] as const;
export type LayerKey = (typeof LAYER_KEYS)[number];

const zoneAwareSchema = z
  .union([z.boolean(), z.strictObject({ minClusterSize: z.number().int().min(0).default(DEFAULT_MIN_CLUSTER_SIZE) })])
  .transform((v): false | { minClusterSize: number } => (v === false ? false : v === true ? { minClusterSize: DEFAULT_MIN_CLUSTER_SIZE } : v));

const slowStartSchema = z.strictObject({
  window: zDuration.refine((ms) => ms > 0, { message: 'slowStart.window must be > 0' }),
  aggression: z.number().positive().default(1),
  minWeight: zPercent.default(0.1),
  /** How often slow-start weights are recomputed (default min(1s, window/10)). */
  refreshInterval: zDuration.refine((ms) => ms > 0, { message: 'slowStart.refreshInterval must be > 0' }).optional(),
});

/** Options of the Envoy layers, all optional with Envoy's defaults. */
export const layerConfigSchema = z
  .strictObject({
    /** Envoy overprovisioning_factor (1.4 = 140%). */
    overprovisioningFactor: z.number().positive().default(1.4),
    /** Envoy healthy_panic_threshold (50%); 0 disables panic. */
    panicThreshold: zPercent.default(0.5),
    /** Envoy locality_weighted_lb_config: pick a zone by weight × availability first. */
    localityWeighted: z.boolean().default(false),
    /** Envoy zone_aware_lb_config: `true`, `{ minClusterSize }`, or false/absent (off). */
    zoneAware: zoneAwareSchema.default(false),
    /** Envoy slow_start_config: `{ window, aggression, minWeight, refreshInterval }`; absent = off. */
    slowStart: slowStartSchema.optional(),
  })
  .refine((c) => !(c.localityWeighted && c.zoneAware !== false), {
    message: "localityWeighted and zoneAware are mutually exclusive (Envoy's locality_config_specifier is a oneof)",
  });

export type LayerConfig = z.output<typeof layerConfigSchema>;
export type LayerInput = z.input<typeof layerConfigSchema>;

/** Whether a `{ kind, ...options }` spec sets any layer option. */
export function hasLayerOptions(options: Readonly<Record<string, unknown>>): boolean {
  return LAYER_KEYS.some((k) => options[k] !== undefined);
}

/** Splits a spec's options into the layer options and the inner policy's options. */
export function splitLayerOptions(options: Readonly<Record<string, unknown>>): { layers: Record<string, unknown>; inner: Record<string, unknown> } {
  const layers: Record<string, unknown> = {};
  const inner: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) ((LAYER_KEYS as readonly string[]).includes(k) ? layers : inner)[k] = v;
  return { layers, inner };
}

/** One host set with its inner balancer. */
interface Slot {
  readonly balancer: Balancer;
  /**
   * Local index → index in the wrapper's endpoint array (of this rebuild, also for a stale
   * slot); empty while the slot is filled as the direct one (`identity`).
   */
  globalOf: Int32Array;
  /** The array the inner was last rebuilt with: its ids are the slot's members. */
  fed: readonly Endpoint[];
  /** Filled as the direct slot: local index = the index in that rebuild's endpoint array. */
  identity: boolean;
  /** Hand the inner every host marked healthy (a panicking level's "all hosts"). */
  forceHealthy: boolean;
  /** Rebuild number this slot was last filled in (an older one: the slot is stale). */
  epoch: number;
}

interface Level {
  healthy: Slot | null;
  degraded: Slot | null;
  all: Slot | null;
  /** Locality host sets (locality weighting: every level; zone-aware: P0), by zone index. */
  localityHealthy: (Slot | null)[];
  localityDegraded: (Slot | null)[];
  healthyLocalities: LocalityScheduler | null;
  degradedLocalities: LocalityScheduler | null;
}

const MAX_MEMBERSHIPS = 3;
const NO_INDICES = new Int32Array(0);

function markHealthy(e: Endpoint): Endpoint {
  return e.health === 'healthy' ? e : { ...e, health: 'healthy' };
}

export class LayeredBalancer implements Balancer {
  private readonly slots = new Map<string, Slot>();
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly opPercent: number;
  private readonly thresholdPercent: number;
  private readonly slowStart: (SlowStartOptions & { refreshInterval: number }) | null;
  private readonly tracker: SlowStartTracker | null;

  private epoch = 0;
  /** The caller's endpoints, and the same with slow-start weights applied. */
  private endpoints: readonly Endpoint[] = [];
  private weighted: Endpoint[] = [];
  /** The endpoints of the last rebuild as they were then (a copy unless frozen). */
  private previous: readonly Endpoint[] = [];
  /** Fast path: the one inner balancer, with indices equal to the caller's. */
  private direct: Slot | null = null;
  /** The direct inner when no stale slot exists: then it alone hears onStart/onEnd. */
  private only: Balancer | null = null;

  private levels: Level[] = [];
  private healthyLoad = new Int32Array(0);
  private degradedLoad = new Int32Array(0);
  private panic: boolean[] = [];
  /** The choosePriority result when one host set has all the load (no draw needed), else NaN. */
  private onlyChoice = NaN;
  private zone: ZoneRouting | null = null;

  /**
   * Per endpoint, the slots holding it and its index there, MAX_MEMBERSHIPS entries per
   * endpoint in flat arrays so onStart/onEnd do no lookup and allocate nothing.
   */
  private memberSlot: (Slot | null)[] = [];
  private memberLocal = new Int32Array(0);
  /**
   * Per endpoint `i`, the stale slots holding it (slots filled in an earlier rebuild but not
   * in this one) and its index there: entries staleStart[i] .. staleStart[i + 1] − 1 of
   * staleBalancer / staleLocal (empty arrays when there is no stale slot).
   */
  private staleStart = NO_INDICES;
  private staleBalancer: Balancer[] = [];
  private staleLocal = NO_INDICES;

  /** Slow start: endpoints currently re-weighted, and when to recompute. */
  private slowMask = new Uint8Array(0);
  private nextRefresh = Infinity;

  constructor(
    private readonly inner: BalancerDefinition<unknown>,
    private readonly innerConfig: unknown,
    private readonly layers: LayerConfig,
    private readonly ports: Ports,
    private readonly env: BalancerEnvironment,
  ) {
    this.clock = ports.clock;
    this.rng = ports.rng;
    this.opPercent = overprovisioningPercent(layers.overprovisioningFactor);
    this.thresholdPercent = Math.round(layers.panicThreshold * 100);
    const ss = layers.slowStart;
    this.slowStart = ss ? { ...ss, refreshInterval: ss.refreshInterval ?? Math.min(1000, ss.window / 10) } : null;
    this.tracker = this.slowStart ? new SlowStartTracker(this.slowStart) : null;
  }

  private slot(key: string): Slot {
    let s = this.slots.get(key);
    if (!s) {
      s = { balancer: this.inner.create(this.innerConfig, this.ports, this.env), globalOf: NO_INDICES, fed: [], identity: false, forceHealthy: false, epoch: -1 };
      this.slots.set(key, s);
    }
    return s;
  }

  /** Fills slot `key` with the endpoints at `members` (global indices) and rebuilds its inner balancer. */
  private fill(key: string, members: number[], forceHealthy: boolean): Slot {
    const s = this.slot(key);
    s.globalOf = Int32Array.from(members);
    s.identity = false;
    s.forceHealthy = forceHealthy;
    s.epoch = this.epoch;
    this.rebuildSlot(s);
    for (let k = 0; k < members.length; k++) {
      const g = members[k];
      const base = g * MAX_MEMBERSHIPS;
      let m = 0;
      while (m < MAX_MEMBERSHIPS - 1 && this.memberSlot[base + m] !== null) m++;
      this.memberSlot[base + m] = s;
      this.memberLocal[base + m] = k;
    }
    return s;
  }

  private rebuildSlot(s: Slot): void {
    const src = this.weighted;
    const arr = new Array<Endpoint>(s.globalOf.length);
    for (let k = 0; k < arr.length; k++) arr[k] = s.forceHealthy ? markHealthy(src[s.globalOf[k]]) : src[s.globalOf[k]];
    s.balancer.rebuild(arr);
    s.fed = arr;
  }

  rebuild(endpoints: readonly Endpoint[]): void {
    const previous = this.previous;
    // What the next rebuild maps stale slots from: a copy unless frozen (the caller may reuse its array).
    this.previous = Object.isFrozen(endpoints) ? endpoints : endpoints.slice();
    this.epoch++;
    this.endpoints = endpoints;
    const n = endpoints.length;
    const now = this.slowStart ? this.clock.now() : 0;
    this.applySlowStart(now, true);

    // Priority levels 0..max.
    let maxP = -1;
    for (const e of endpoints) maxP = Math.max(maxP, priorityOf(e));
    const counts: { total: number; healthy: number; degraded: number }[] = [];
    for (let p = 0; p <= maxP; p++) counts.push({ total: 0, healthy: 0, degraded: 0 });
    for (const e of endpoints) {
      const c = counts[priorityOf(e)];
      c.total++;
      if (e.health === 'healthy') c.healthy++;
      else if (e.health === 'degraded') c.degraded++;
    }
    const state = priorityState(counts as LevelCounts[], this.opPercent, this.thresholdPercent);
    this.healthyLoad = Int32Array.from(state.healthyLoad);
    this.degradedLoad = Int32Array.from(state.degradedLoad);
    this.panic = state.panic;
    this.onlyChoice = NaN;
    for (let p = 0; p <= maxP; p++) {
      if (state.healthyLoad[p] === 100) this.onlyChoice = p;
      if (state.degradedLoad[p] === 100) this.onlyChoice = -p - 1;
    }

    // Zone-aware routing structure (P0 only, not in panic).
    const zoneAware = this.layers.zoneAware;
    const localityWeighted = this.layers.localityWeighted;
    const p0Zones = maxP >= 0 && (zoneAware !== false || localityWeighted) ? zonesOf(endpoints, 0, this.env.localZone) : [];
    this.zone = null;
    if (zoneAware !== false && maxP >= 0 && !state.panic[0]) {
      const healthyPerZone = new Float64Array(p0Zones.length);
      const index = new Map(p0Zones.map((z, i) => [z, i]));
      for (const e of endpoints) if (priorityOf(e) === 0 && e.health === 'healthy') healthyPerZone[index.get(e.zone)!]++;
      const routing = zoneRouting({
        zones: p0Zones,
        healthy: healthyPerZone,
        localZone: this.env.localZone,
        localZoneSizes: this.env.localZoneSizes,
        minClusterSize: zoneAware.minClusterSize,
      });
      if (routing.mode !== 'none') this.zone = routing;
    }

    const slowActive = this.nextRefresh !== Infinity;
    if (maxP === 0 && !localityWeighted && this.zone === null && (state.panic[0] || counts[0].degraded === 0)) {
      // Fast path: one level, one host set, the caller's indices. Its inner holds every
      // endpoint (the unhealthy ones too, which it leaves out itself), so while the level
      // panics the same inner serves as its "all hosts", handed them marked healthy.
      const s = this.slot('healthy:0');
      s.globalOf = NO_INDICES;
      s.identity = true;
      s.forceHealthy = state.panic[0];
      s.epoch = this.epoch;
      const arr = state.panic[0] ? this.weighted.map(markHealthy) : slowActive ? this.weighted : endpoints;
      s.balancer.rebuild(arr);
      s.fed = arr;
      this.direct = s;
      this.levels = [];
      this.memberSlot = [];
      this.memberLocal = NO_INDICES;
      this.trackStale(previous, endpoints);
      return;
    }
    this.direct = null;

    // General path: host sets per level (and per locality where a locality layer is on).
    this.memberSlot = new Array<Slot | null>(n * MAX_MEMBERSHIPS).fill(null);
    this.memberLocal = new Int32Array(n * MAX_MEMBERSHIPS);
    const byLevel: number[][] = [];
    for (let p = 0; p <= maxP; p++) byLevel.push([]);
    for (let i = 0; i < n; i++) byLevel[priorityOf(endpoints[i])].push(i);
    const levels: Level[] = [];
    for (let p = 0; p <= maxP; p++) {
      const members = byLevel[p];
      const healthy = members.filter((i) => endpoints[i].health === 'healthy');
      const degraded = members.filter((i) => endpoints[i].health === 'degraded');
      const level: Level = {
        healthy: healthy.length > 0 ? this.fill(`healthy:${p}`, healthy, false) : null,
        degraded: degraded.length > 0 ? this.fill(`degraded:${p}`, degraded, false) : null,
        all: state.panic[p] ? this.fill(`all:${p}`, members, true) : null,
        localityHealthy: [],
        localityDegraded: [],
        healthyLocalities: null,
        degradedLocalities: null,
      };
      const perZone = localityWeighted || (p === 0 && this.zone !== null);
      if (perZone && !state.panic[p]) {
        const zones = p === 0 ? p0Zones : zonesOf(endpoints, p, this.env.localZone);
        const index = new Map(zones.map((z, i) => [z, i]));
        const zh: number[][] = zones.map(() => []);
        const zd: number[][] = zones.map(() => []);
        const total = new Float64Array(zones.length);
        const weight = new Float64Array(zones.length).fill(NaN);
        for (const i of members) {
          const e = endpoints[i];
          const z = index.get(e.zone)!;
          total[z]++;
          if (e.health === 'healthy') zh[z].push(i);
          else if (e.health === 'degraded') zd[z].push(i);
          if (Number.isNaN(weight[z])) weight[z] = declaredLocalityWeight(e) ?? NaN;
        }
        level.localityHealthy = zh.map((m, z) => (m.length > 0 ? this.fill(`healthy:${p}:${zones[z]}`, m, false) : null));
        level.localityDegraded = zd.map((m, z) => (m.length > 0 ? this.fill(`degraded:${p}:${zones[z]}`, m, false) : null));
        if (localityWeighted) {
          const factor = this.opPercent / 100;
          const w = (z: number): number => (Number.isNaN(weight[z]) ? 1 : weight[z]);
          level.healthyLocalities = new LocalityScheduler();
          level.healthyLocalities.build(
            zones.map((_, z) => effectiveLocalityWeight(w(z), zh[z].length, total[z], factor)),
            randomSeedPicks(this.rng),
          );
          level.degradedLocalities = new LocalityScheduler();
          level.degradedLocalities.build(
            zones.map((_, z) => effectiveLocalityWeight(w(z), zd[z].length, total[z], factor)),
            randomSeedPicks(this.rng),
          );
        }
      }
      levels.push(level);
    }
    this.levels = levels;
    this.trackStale(previous, endpoints);
  }

  /**
   * Keeps the stale slots (filled in an earlier rebuild, not in this one: the healthy hosts
   * of a level while it panics, its "all hosts" once it no longer does, the localities while
   * zone-aware routing is off, …) hearing every onStart/onEnd of their members, as Envoy's
   * schedulers all read the same host stats: a slot used again later then holds the true
   * load of each member that stayed. A stale slot keeps its members (by id) from its last
   * fill: their indices are mapped from `previous` to `endpoints` here, and members that
   * left the endpoint set are dropped (its inner rebuilt without them, so it forgets them as
   * a filled slot does). Builds the per-endpoint stale lists onStart/onEnd walk, and
   * `only`, the one-branch fast path, when nothing is stale.
   */
  private trackStale(previous: readonly Endpoint[], endpoints: readonly Endpoint[]): void {
    const n = endpoints.length;
    let newOf: Int32Array | null = null;
    let total = 0;
    const stale: Slot[] = [];
    for (const s of this.slots.values()) {
      if (s.epoch === this.epoch || s.fed.length === 0) continue;
      if (newOf === null) {
        // previous index → index in `endpoints` (-1: left).
        newOf = new Int32Array(previous.length).fill(-1);
        const carry = carryIndices(previous, endpoints);
        for (let i = 0; i < n; i++) if (carry[i] >= 0) newOf[carry[i]] = i;
      }
      const m = s.fed.length;
      let at = new Int32Array(m);
      let kept = 0;
      for (let k = 0; k < m; k++) {
        const g = s.identity ? k : s.globalOf[k];
        at[k] = g >= 0 && g < newOf.length ? newOf[g] : -1;
        if (at[k] >= 0) kept++;
      }
      if (kept < m) {
        const fed = new Array<Endpoint>(kept);
        const compact = new Int32Array(kept);
        for (let k = 0, j = 0; k < m; k++) {
          if (at[k] < 0) continue;
          fed[j] = s.fed[k];
          compact[j++] = at[k];
        }
        s.balancer.rebuild(fed);
        s.fed = fed;
        at = compact;
      }
      s.globalOf = at;
      s.identity = false;
      if (kept > 0) {
        stale.push(s);
        total += kept;
      }
    }
    if (stale.length === 0) {
      this.staleStart = NO_INDICES;
      this.staleBalancer = [];
      this.staleLocal = NO_INDICES;
    } else {
      const start = new Int32Array(n + 1);
      for (const s of stale) for (let k = 0; k < s.globalOf.length; k++) start[s.globalOf[k] + 1]++;
      for (let i = 0; i < n; i++) start[i + 1] += start[i];
      const next = start.slice(0, n);
      const balancers = new Array<Balancer>(total);
      const local = new Int32Array(total);
      for (const s of stale) {
        for (let k = 0; k < s.globalOf.length; k++) {
          const at = next[s.globalOf[k]]++;
          balancers[at] = s.balancer;
          local[at] = k;
        }
      }
      this.staleStart = start;
      this.staleBalancer = balancers;
      this.staleLocal = local;
    }
    this.only = this.direct !== null && stale.length === 0 ? this.direct.balancer : null;
  }

  /**
   * Recomputes the slow-start weights into `this.weighted`. On a rebuild (`entering`) the
   * tracker first learns which endpoints joined or turned healthy. Returns nothing; sets
   * `nextRefresh` (Infinity once no endpoint is in its window).
   */
  private applySlowStart(now: number, entering: boolean): void {
    const ss = this.slowStart;
    const endpoints = this.endpoints;
    if (!ss || !this.tracker) {
      this.weighted = endpoints as Endpoint[];
      return;
    }
    const n = endpoints.length;
    if (entering) {
      this.tracker.observe(
        endpoints.map((e) => e.id),
        endpoints.map(slowStartHealth),
        now,
      );
      this.slowMask = new Uint8Array(n);
      this.weighted = endpoints.slice();
    }
    let any = false;
    for (let i = 0; i < n; i++) {
      const e = endpoints[i];
      const start = this.tracker.startOf(e.id);
      const inWindow = e.health === 'healthy' && now - start < ss.window;
      if (inWindow) {
        this.weighted[i] = { ...e, weight: slowStartWeight(e.weight, now - start, ss) };
        this.slowMask[i] = 1;
        any = true;
      } else if (this.slowMask[i] === 1) {
        this.weighted[i] = e;
        this.slowMask[i] = 2; // left its window since the last refresh: its host sets need one more rebuild
      }
    }
    this.nextRefresh = any ? now + ss.refreshInterval : Infinity;
  }

  /** Periodic slow-start refresh: new weights, and a rebuild of every host set holding a re-weighted endpoint. */
  private refresh(): void {
    const now = this.clock.now();
    this.applySlowStart(now, false);
    const mask = this.slowMask;
    if (this.direct !== null) {
      const s = this.direct;
      s.fed = s.forceHealthy ? this.weighted.map(markHealthy) : this.weighted;
      s.balancer.rebuild(s.fed);
    } else {
      const dirty = new Set<Slot>();
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] === 0) continue;
        for (let m = 0; m < MAX_MEMBERSHIPS; m++) {
          const s = this.memberSlot[i * MAX_MEMBERSHIPS + m];
          if (s) dirty.add(s);
        }
      }
      for (const s of dirty) this.rebuildSlot(s);
    }
    for (let i = 0; i < mask.length; i++) if (mask[i] === 2) mask[i] = 0;
  }

  pick(ctx: PickContext): number {
    if (this.nextRefresh !== Infinity && this.clock.now() >= this.nextRefresh) this.refresh();
    const direct = this.direct;
    if (direct !== null) return direct.balancer.pick(ctx);

    let choice = this.onlyChoice;
    if (Number.isNaN(choice)) {
      choice = choosePriority(Math.floor(this.rng.next() * 100) + 1, this.healthyLoad, this.degradedLoad);
      if (choice === NO_PRIORITY) return -1;
    }
    const degraded = choice < 0;
    const p = degraded ? -choice - 1 : choice;
    const level = this.levels[p];
    if (level === undefined) return -1;
    let s: Slot | null;
    if (this.panic[p]) {
      s = level.all;
    } else {
      s = null;
      let fellThrough = true;
      const scheduler = degraded ? level.degradedLocalities : level.healthyLocalities;
      if (scheduler !== null) {
        const z = scheduler.pick();
        if (z >= 0) {
          s = degraded ? level.localityDegraded[z] : level.localityHealthy[z];
          fellThrough = false;
        }
      } else if (p === 0 && this.zone !== null) {
        const z = chooseZone(this.zone, this.rng);
        s = degraded ? level.localityDegraded[z] : level.localityHealthy[z];
        fellThrough = false;
      }
      if (fellThrough) s = degraded ? level.degraded : level.healthy;
    }
    if (s === null) return -1;
    const local = s.balancer.pick(ctx);
    return local < 0 ? -1 : s.globalOf[local];
  }

  onStart(index: number): void {
    const only = this.only;
    if (only !== null) only.onStart(index);
    else this.forwardStart(index);
  }

  onEnd(index: number, outcome: Outcome, latencyMs: number): void {
    const only = this.only;
    if (only !== null) only.onEnd(index, outcome, latencyMs);
    else this.forwardEnd(index, outcome, latencyMs);
  }

  /** onStart to every slot holding endpoint `index` (kept apart so the fast path stays small). */
  private forwardStart(index: number): void {
    const direct = this.direct;
    if (direct !== null) {
      direct.balancer.onStart(index);
    } else {
      const base = index * MAX_MEMBERSHIPS;
      for (let m = 0; m < MAX_MEMBERSHIPS; m++) {
        const s = this.memberSlot[base + m];
        if (s === null || s === undefined) break;
        s.balancer.onStart(this.memberLocal[base + m]);
      }
    }
    const start = this.staleStart;
    if (index >= 0 && index + 1 < start.length) {
      for (let at = start[index], end = start[index + 1]; at < end; at++) this.staleBalancer[at].onStart(this.staleLocal[at]);
    }
  }

  /** onEnd to every slot holding endpoint `index`. */
  private forwardEnd(index: number, outcome: Outcome, latencyMs: number): void {
    const direct = this.direct;
    if (direct !== null) {
      direct.balancer.onEnd(index, outcome, latencyMs);
    } else {
      const base = index * MAX_MEMBERSHIPS;
      for (let m = 0; m < MAX_MEMBERSHIPS; m++) {
        const s = this.memberSlot[base + m];
        if (s === null || s === undefined) break;
        s.balancer.onEnd(this.memberLocal[base + m], outcome, latencyMs);
      }
    }
    const start = this.staleStart;
    if (index >= 0 && index + 1 < start.length) {
      for (let at = start[index], end = start[index + 1]; at < end; at++) this.staleBalancer[at].onEnd(this.staleLocal[at], outcome, latencyMs);
    }
  }
}

/** An endpoint's priority level (integers ≥ 0; anything else counts as 0). */
function priorityOf(e: Endpoint): number {
  const p = e.priority;
  return Number.isInteger(p) && p > 0 ? p : 0;
}

/** The zones of level `p`, sorted, with the local zone first (Envoy's local locality is index 0). */
function zonesOf(endpoints: readonly Endpoint[], p: number, localZone: string): string[] {
  const set = new Set<string>();
  for (const e of endpoints) if (priorityOf(e) === p) set.add(e.zone);
  const zones = [...set].sort();
  const i = zones.indexOf(localZone);
  if (i > 0) {
    zones.splice(i, 1);
    zones.unshift(localZone);
  }
  return zones;
}

/**
 * Wraps `inner` (created with `innerConfig`) in the Envoy layers. Always safe to call: with
 * every endpoint at priority 0, no locality layer in effect and no slow start it delegates
 * straight to one inner instance.
 */
export function layered<C>(inner: BalancerDefinition<C>, innerConfig: C, layers: LayerConfig, ports: Ports, env: BalancerEnvironment): Balancer {
  return new LayeredBalancer(inner as BalancerDefinition<unknown>, innerConfig, layers, ports, env);
}
