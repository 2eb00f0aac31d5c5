/**
 * Ring hash: Envoy's own test vectors (ring_hash_lb_test.cc) for ring construction, lookup
 * and retries; weight proportionality; disruption when an endpoint leaves; the balancer
 * contract (health, no key, determinism); bounded load.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRing, ringHash, ringHostFor64, ringPosition, RingHashBalancer, sortHashes, type HashRing } from '../../../src/algorithms/balancing/ring-hash.js';
import { boundedLoadSlots } from '../../../src/algorithms/balancing/_internals/bounded-load.js';
import { soloEnvironment, type Endpoint, type Health } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { rngStream } from '../../../src/core/rng.js';
import { expectHashKeyPlacement } from './_hashing.js';
import { hashKey, xxh64 } from '../../../src/core/xxhash64.js';
import { Engine } from '../../../src/sim/engine.js';

function ports(seed = 1): Ports {
  const engine = new Engine();
  engine.setModel({ handle() {} });
  return { clock: engine, rng: rngStream(seed, 'balancer/ring-hash-test'), timers: engine };
}

function endpoint(address: string, weight = 1, health: Health = 'healthy', id = address): Endpoint {
  return { id, address, zone: 'z1', weight, health, priority: 0, metadata: {} };
}

const ENVOY_HOSTS = [90, 91, 92, 93, 94, 95].map((p) => ({ address: `127.0.0.1:${p}`, weight: 1 }));

/** The full 64-bit hash of ring point i. */
const point = (ring: HashRing, i: number): bigint => (BigInt(ring.keys[i]) << 11n) + BigInt(ring.low[i]);

/** Share of the hash space owned by each host: the arcs ending at its points (the lookup takes the first point ≥ h). */
function arcShares(ring: HashRing, hostCount: number): number[] {
  const shares = new Array<number>(hostCount).fill(0);
  const n = ring.keys.length;
  for (let i = 0; i < n; i++) {
    const prev = i === 0 ? ring.keys[n - 1] - 2 ** 53 : ring.keys[i - 1];
    shares[ring.hosts[i]] += (ring.keys[i] - prev) / 2 ** 53;
  }
  return shares;
}

describe('buildRing: Envoy vectors', () => {
  it('builds the Basic ring: 6 hosts, minimum 12 → 12 points, 2 per host, at the positions Envoy lists', () => {
    const ring = buildRing(ENVOY_HOSTS, 12);
    expect(ring.keys.length).toBe(12);
    expect([ring.minHashesPerHost, ring.maxHashesPerHost]).toEqual([2, 2]);
    const expected: Array<[number, bigint]> = [
      [94, 833437586790550860n],
      [92, 928266305478181108n],
      [90, 1033482794131418490n],
      [95, 3551244743356806947n],
      [93, 3851675632748031481n],
      [91, 5583722120771150861n],
      [91, 6311230543546372928n],
      [93, 7700377290971790572n],
      [95, 13144177310400110813n],
      [92, 13444792449719432967n],
      [94, 15516499411664133160n],
      [90, 16117243373044804889n],
    ];
    expected.forEach(([port, hash], i) => {
      expect(point(ring, i)).toBe(hash);
      expect(ring.hosts[i]).toBe(port - 90);
    });
  });

  it('looks up like Envoy: first point ≥ hash, wrapping; retries step forward by attempt', () => {
    const ring = buildRing(ENVOY_HOSTS, 12);
    expect(ringHostFor64(ring, 0n)).toBe(4);
    expect(ringHostFor64(ring, (1n << 64n) - 1n)).toBe(4);
    expect(ringHostFor64(ring, 3551244743356806947n)).toBe(5);
    expect(ringHostFor64(ring, 3551244743356806948n)).toBe(3);
    expect(ringHostFor64(ring, 16117243373044804880n)).toBe(0);
    // BasicWithRetryHostPredicate: attempt 1 → next point (:92), attempt 2 → :90, attempt 13 wraps to :92.
    expect(ringHostFor64(ring, 0n, 1)).toBe(2);
    expect(ringHostFor64(ring, 0n, 2)).toBe(0);
    expect(ringHostFor64(ring, 0n, 13)).toBe(2);
  });

  it('UnevenHosts: 2 hosts, minimum 3 → 4 points', () => {
    const ring = buildRing([{ address: '127.0.0.1:80', weight: 1 }, { address: '127.0.0.1:81', weight: 1 }], 3);
    expect(Array.from(ring.keys.keys(), (i) => point(ring, i))).toEqual([
      5454692015285649509n,
      7859399908942313493n,
      13838424394637650569n,
      16064866803292627174n,
    ]);
    expect(Array.from(ring.hosts)).toEqual([0, 1, 0, 1]);
    const next = buildRing([{ address: '127.0.0.1:81', weight: 1 }, { address: '127.0.0.1:82', weight: 1 }], 3);
    expect(Array.from(next.keys.keys(), (i) => point(next, i))).toEqual([
      7859399908942313493n,
      8241336090459785962n,
      12882406409176325258n,
      16064866803292627174n,
    ]);
    expect(ringHostFor64(next, 0n)).toBe(0);
  });

  it('HostWeightedTinyRing: weights 1, 2, 3 on a ring of exactly 6 points', () => {
    const ring = buildRing(
      [
        { address: '127.0.0.1:90', weight: 1 },
        { address: '127.0.0.1:91', weight: 2 },
        { address: '127.0.0.1:92', weight: 3 },
      ],
      6,
      6,
    );
    expect(ring.keys.length).toBe(6);
    expect([ring.minHashesPerHost, ring.maxHashesPerHost]).toEqual([1, 3]);
    const expected: Array<[bigint, number]> = [
      [928266305478181108n, 2],
      [4443673547860492590n, 2],
      [5583722120771150861n, 1],
      [6311230543546372928n, 1],
      [13444792449719432967n, 2],
      [16117243373044804889n, 0],
    ];
    for (const [hash, host] of expected) expect(ringHostFor64(ring, hash)).toBe(host);
  });

  it('rejects minimum > maximum as Envoy does, and builds nothing for no hosts', () => {
    expect(() => buildRing(ENVOY_HOSTS, 20, 10)).toThrow('minimum_ring_size (20) > maximum_ring_size (10)');
    const empty = buildRing([]);
    expect(empty.keys.length).toBe(0);
    expect(ringPosition(empty, 5)).toBe(-1);
    expect(ringHostFor64(empty, 5n)).toBe(-1);
  });

  it('caps the scale at maximumRingSize and scales so the lightest host gets ⌈minW·min⌉ points', () => {
    // minW = 1/1001 → scale = ceil(1024/1001)·1001 = 2002 points; capped at scale 1500. The
    // running target then ends at 1500.0000000000002 in doubles, so the last host's
    // `while (current < target)` emits a 1501st point: Envoy's arithmetic, kept.
    const hosts = [{ address: 'a:1', weight: 1 }, { address: 'b:1', weight: 1000 }];
    expect(buildRing(hosts, 1024).keys.length).toBe(2002);
    const capped = buildRing(hosts, 1024, 1500);
    let target = 0;
    for (const w of [1, 1000]) target += 1500 * ((w * 1.0) / 1001);
    expect(target).toBeGreaterThan(1500);
    expect(capped.keys.length).toBe(1501);
    expect([capped.minHashesPerHost, capped.maxHashesPerHost]).toEqual([2, 1499]);
  });
});

describe('buildRing: structure', () => {
  const hostsArb = fc.array(fc.record({ weight: fc.integer({ min: 1, max: 10 }) }), { minLength: 1, maxLength: 40 }).map((ws) => ws.map((w, i) => ({ address: `10.1.${i >> 8}.${i & 255}:80`, weight: w.weight })));

  it('is sorted by the full 64-bit hash, each point is xxh64("<address>_<i>"), and point counts follow the running sums', () => {
    fc.assert(
      fc.property(hostsArb, fc.integer({ min: 1, max: 1500 }), (hosts, minRing) => {
        const ring = buildRing(hosts, minRing);
        const n = ring.keys.length;
        for (let i = 1; i < n; i++) expect(point(ring, i - 1) <= point(ring, i)).toBe(true);
        // Counts: host k owns ceil(T_k) − ceil(T_{k−1}) points, T_k the running target.
        const sum = hosts.reduce((a, h) => a + h.weight, 0);
        const minW = Math.min(...hosts.map((h) => h.weight / sum));
        const scale = Math.min(Math.ceil(minW * minRing) / minW, 8_388_608);
        const owned = new Array<number>(hosts.length).fill(0);
        for (let i = 0; i < n; i++) owned[ring.hosts[i]]++;
        // Each count is within 1 of scale·w (fractional accounting), and the points are the first `count` keys.
        hosts.forEach((h, k) => expect(Math.abs(owned[k] - scale * (h.weight / sum))).toBeLessThan(1 + 1e-9));
        const seen = new Set(Array.from(ring.keys.keys(), (i) => point(ring, i)));
        hosts.forEach((h, k) => {
          for (let i = 0; i < owned[k]; i++) expect(seen.has(xxh64(`${h.address}_${i}`))).toBe(true);
        });
      }),
      { seed: 11, numRuns: 30 },
    );
  });

  it('ringPosition (directory + binary search) is the plain first-key-≥-h search, wrapping', () => {
    const naive = (keys: Float64Array, h: number): number => {
      for (let i = 0; i < keys.length; i++) if (keys[i] >= h) return i;
      return 0;
    };
    fc.assert(
      fc.property(hostsArb, fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer({ min: 0, max: 2 ** 53 - 1 }), { maxLength: 50 }), (hosts, minRing, hs) => {
        const ring = buildRing(hosts, minRing);
        const probes = [0, 2 ** 53 - 1, ...hs];
        for (let i = 0; i < ring.keys.length; i += 7) probes.push(ring.keys[i], ring.keys[i] + 1, Math.max(0, ring.keys[i] - 1));
        for (const h of probes) expect(ringPosition(ring, h)).toBe(naive(ring.keys, h));
      }),
      { seed: 14, numRuns: 40 },
    );
  });

  it('sortHashes sorts (hi, lo) pairs stably, with the tags alongside, also for crowded buckets', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 7 }).map((x) => x * 0x20000000), fc.nat({ max: 4 })), { maxLength: 300 }), (pairs) => {
        const hi = Uint32Array.from(pairs, ([h]) => h);
        const lo = Uint32Array.from(pairs, ([, l]) => l);
        const tag = Int32Array.from(pairs, (_, i) => i);
        const sorted = sortHashes(hi, lo, tag);
        const expected = pairs.map(([h, l], i) => ({ h, l, i })).sort((a, b) => a.h - b.h || a.l - b.l);
        expect(Array.from(sorted.tag)).toEqual(expected.map((e) => e.i));
        expect(Array.from(sorted.hi)).toEqual(expected.map((e) => e.h));
        expect(Array.from(sorted.lo)).toEqual(expected.map((e) => e.l));
      }),
      { seed: 12, numRuns: 200 },
    );
  });

  it('gives hosts hash-space shares proportional to their weights', () => {
    // Weights 1..5 on a 2^16-point ring: host k holds c_k ≈ scale·w_k points (within 1, exactly
    // checked above). Its share of the hash space is a sum of c_k spacings of N uniform points,
    // mean c_k/N and sd ≈ sqrt(c_k)/N (spacings ≈ independent Exp(1)/N); allow 5 sd.
    const hosts = [1, 2, 3, 4, 5].map((w, i) => ({ address: `10.2.0.${i}:80`, weight: w }));
    const ring = buildRing(hosts, 1 << 16);
    const N = ring.keys.length;
    const shares = arcShares(ring, hosts.length);
    const counts = new Array<number>(hosts.length).fill(0);
    for (const h of ring.hosts) counts[h]++;
    hosts.forEach((h, k) => {
      expect(Math.abs(counts[k] / N - h.weight / 15)).toBeLessThan(1 / N + 1e-12);
      expect(Math.abs(shares[k] - counts[k] / N)).toBeLessThan((5 * Math.sqrt(counts[k])) / N);
    });
  });
});

describe('RingHashBalancer', () => {
  const make = (config: Record<string, unknown> = {}, seed = 1) => ringHash.create(ringHash.config.parse(config), ports(seed), soloEnvironment()) as RingHashBalancer;

  it('has Envoy defaults and validates options', () => {
    expect(ringHash.config.parse({})).toEqual({ minimumRingSize: 1024, maximumRingSize: 8_388_608 });
    expect(ringHash.config.parse({ hashBalanceFactor: 150 }).hashBalanceFactor).toBe(150);
    expect(ringHash.config.safeParse({ hashBalanceFactor: 99 }).success).toBe(false);
    expect(ringHash.config.safeParse({ hashBalanceFactor: 150.5 }).success).toBe(false);
    expect(ringHash.config.safeParse({ minimumRingSize: 2048, maximumRingSize: 1024 }).success).toBe(false);
    expect(ringHash.config.safeParse({ maximumRingSize: 8_388_609 }).success).toBe(false);
    expect(ringHash.config.safeParse({ ringSize: 5 }).success).toBe(false);
  });

  it('picks what Envoy picks for the request hash h·2^11 (h = hashKey), on every attempt', () => {
    const eps = Array.from({ length: 37 }, (_, i) => endpoint(`10.3.0.${i}:80`, 1 + (i % 4)));
    const lb = make();
    lb.rebuild(eps);
    const ring = lb.currentRing;
    for (let k = 0; k < 2000; k++) {
      const h = hashKey(`user-${k}`);
      for (const attempt of [0, 1, 2, 5]) {
        expect(lb.pick({ hashKey: h, attempt })).toBe(ringHostFor64(ring, BigInt(h) << 11n, attempt));
      }
    }
  });

  it('sends the same key to the same endpoint while membership is unchanged, also across no-op rebuilds', () => {
    const eps = Array.from({ length: 20 }, (_, i) => endpoint(`10.4.0.${i}:80`));
    const lb = make();
    lb.rebuild(eps);
    const first = Array.from({ length: 500 }, (_, k) => lb.pick({ hashKey: hashKey(`k${k}`) }));
    const ring = lb.currentRing;
    lb.rebuild(eps.map((e) => ({ ...e, zone: 'other', metadata: { x: '1' } })));
    expect(lb.currentRing).toBe(ring); // nothing hashed changed: no rebuild of the ring
    expect(Array.from({ length: 500 }, (_, k) => lb.pick({ hashKey: hashKey(`k${k}`) }))).toEqual(first);
    lb.rebuild(eps.map((e, i) => (i === 3 ? { ...e, weight: 2 } : e)));
    expect(lb.currentRing).not.toBe(ring); // a weight change rebuilds
  });

  it('maps ring positions to the current endpoint indices when only unrelated endpoints change health', () => {
    const eps = [endpoint('a:1'), endpoint('b:1', 1, 'unhealthy'), endpoint('c:1'), endpoint('d:1')];
    const lb = make();
    lb.rebuild(eps);
    const before = Array.from({ length: 300 }, (_, k) => eps[lb.pick({ hashKey: hashKey(`k${k}`) })].address);
    // b stays unhealthy but moves to the end: the eligible list (a, c, d) is unchanged, indices are not.
    const moved = [eps[0], eps[2], eps[3], eps[1]];
    lb.rebuild(moved);
    const after = Array.from({ length: 300 }, (_, k) => moved[lb.pick({ hashKey: hashKey(`k${k}`) })].address);
    expect(after).toEqual(before);
  });

  it('never picks an unhealthy endpoint, picks degraded ones, returns -1 when nothing is eligible', () => {
    const lb = make();
    const eps = [endpoint('a:1', 1, 'unhealthy'), endpoint('b:1', 1, 'degraded'), endpoint('c:1'), endpoint('d:1', 1, 'unhealthy')];
    lb.rebuild(eps);
    const seen = new Set<number>();
    for (let k = 0; k < 2000; k++) seen.add(lb.pick({ hashKey: hashKey(`k${k}`) }));
    expect([...seen].sort()).toEqual([1, 2]);
    lb.rebuild(eps.map((e) => ({ ...e, health: 'unhealthy' as const })));
    expect(lb.pick({ hashKey: 42 })).toBe(-1);
    expect(lb.pick({})).toBe(-1);
    lb.rebuild([]);
    expect(lb.pick({})).toBe(-1);
  });

  it('without a hash key, picks a valid endpoint at random in proportion to hash-space shares', () => {
    // Each pick draws a uniform hash; host k is hit with probability share_k. Binomial sd
    // sqrt(N·p(1−p)); allow 5 sd.
    const eps = [1, 2, 3].map((w, i) => endpoint(`10.5.0.${i}:80`, w));
    const lb = make({ minimumRingSize: 4096 });
    lb.rebuild(eps);
    const shares = arcShares(lb.currentRing, 3);
    const N = 30_000;
    const hits = [0, 0, 0];
    for (let k = 0; k < N; k++) hits[lb.pick({})]++;
    shares.forEach((p, k) => expect(Math.abs(hits[k] - N * p)).toBeLessThan(5 * Math.sqrt(N * p * (1 - p))));
  });

  it('treats any number as a key (reduced into [0, 2^53)) and is deterministic for a seed', () => {
    const eps = Array.from({ length: 5 }, (_, i) => endpoint(`10.6.0.${i}:80`));
    const a = make({}, 7);
    const b = make({}, 7);
    a.rebuild(eps);
    b.rebuild(eps);
    for (const key of [-1, 0.5, 2 ** 60, Number.NaN, Number.MAX_VALUE]) expect(a.pick({ hashKey: key })).toBeGreaterThanOrEqual(0);
    expect(Array.from({ length: 50 }, () => a.pick({}))).toEqual(Array.from({ length: 50 }, () => b.pick({})));
  });
});

describe('ring hash: disruption when one of n endpoints leaves', () => {
  /*
   * Bound. Point keys "<address>_<i>" do not depend on the other hosts, so the new ring keeps
   * every surviving point; it may add points (removing a host raises minW, and per-host
   * counts go from ceil(min/n) to ceil(min/(n−1))). A key moves between two survivors only if
   * it now lands on an ADDED point (checked exactly). The fraction of keys that do is
   * Binomial(K, A)/K, with A the added points' exact share of the hash space; we test
   * moved/K ≤ A + 5·sqrt(A(1−A)/K) + 1/K. A ≈ (k'−k)/k' with k = ceil(1024/n) points per host:
   * 0 when the counts do not change (n ≥ 33 at the default minimum), up to ~0.2 for small n:
   * whenever the ring has at least ~n² points (every survivor then gains points), Envoy's
   * ring hash is not minimal-disruption; its expected churn tends to (2n−1)/(n(n+1)).
   */
  it('moves keys between survivors only onto added points, and about 1/n + A of keys in all', () => {
    const K = 3000;
    const keys = Array.from({ length: K }, (_, k) => hashKey(`key-${k}`));
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 60 }), fc.nat(), fc.nat({ max: 1000 }), (n, which, salt) => {
        const hosts = Array.from({ length: n }, (_, i) => ({ address: `10.${salt % 250}.${i}.${salt % 7}:80`, weight: 1 }));
        const r = which % n;
        const before = buildRing(hosts);
        const after = buildRing(hosts.filter((_, i) => i !== r));
        const old = new Set(Array.from(before.keys.keys(), (i) => point(before, i)));
        const survivor = (h: number) => (h >= r ? h + 1 : h); // index in `after` → index in `hosts`
        let added = 0;
        for (let i = 0; i < after.keys.length; i++) {
          if (!old.has(point(after, i))) {
            const prev = i === 0 ? after.keys[after.keys.length - 1] - 2 ** 53 : after.keys[i - 1];
            added += (after.keys[i] - prev) / 2 ** 53;
          }
        }
        let survivorMoves = 0;
        let removedKeys = 0;
        let moves = 0;
        for (const h of keys) {
          const a = before.hosts[ringPosition(before, h)];
          const j = ringPosition(after, h);
          const b = survivor(after.hosts[j]);
          if (a === r) removedKeys++;
          if (a !== b) {
            moves++;
            if (a !== r) {
              survivorMoves++;
              expect(old.has(point(after, j))).toBe(false);
            }
          }
        }
        expect(survivorMoves / K).toBeLessThanOrEqual(added + 5 * Math.sqrt((added * (1 - added)) / K) + 1 / K);
        expect(moves).toBe(removedKeys + survivorMoves);
      }),
      { seed: 13, numRuns: 40 },
    );
  });
});

describe('ring hash with bounded load', () => {
  it('never sends a host above Envoy bound, and keeps the hashed host whenever it is within it', () => {
    // A synthetic sequence with hot keys (so hashed hosts do overload): at every pick, with the
    // counts before it, the chosen host must satisfy active ≤ slots(total, factor, w);
    // and if the plain ring host was within its bound, the pick is that host.
    for (const factor of [100, 125, 150, 200]) {
      const eps = Array.from({ length: 8 }, (_, i) => endpoint(`10.7.0.${i}:80`, 1 + (i % 3)));
      const lb = ringHash.create(ringHash.config.parse({ hashBalanceFactor: factor }), ports(factor), soloEnvironment()) as RingHashBalancer;
      const plain = ringHash.create(ringHash.config.parse({}), ports(factor), soloEnvironment());
      lb.rebuild(eps);
      plain.rebuild(eps);
      const sumW = eps.reduce((a, e) => a + e.weight, 0);
      const active = new Array<number>(eps.length).fill(0);
      const inFlight: number[] = [];
      const rng = rngStream(factor, 'test/bounded-ring');
      let overloadedHashHost = 0;
      for (let step = 0; step < 4000; step++) {
        if (inFlight.length > 0 && rng.next() < 0.45) {
          const [i] = inFlight.splice(Math.floor(rng.next() * inFlight.length), 1);
          active[i]--;
          lb.onEnd(i);
          continue;
        }
        const key = rng.next() < 0.7 ? `hot-${Math.floor(rng.next() * 3)}` : `cold-${step}`;
        const ctx = { hashKey: hashKey(key) };
        const total = active.reduce((a, b) => a + b, 0);
        const i = lb.pick(ctx);
        const hashed = plain.pick(ctx);
        const slots = (k: number) => boundedLoadSlots(total, factor, eps[k].weight / sumW);
        expect(active[i]).toBeLessThanOrEqual(slots(i));
        if (active[hashed] <= slots(hashed)) expect(i).toBe(hashed);
        else overloadedHashHost++;
        active[i]++;
        inFlight.push(i);
        lb.onStart(i);
      }
      expect(overloadedHashHost).toBeGreaterThan(100); // the bound was exercised
    }
  });
});

describe('ring-hash: an endpoint\'s hash_key metadata (Envoy envoy.lb hash_key)', () => {
  it('places it where an endpoint with that address would go, whatever its own address', () => {
    expectHashKeyPlacement(() => ringHash.create(ringHash.config.parse({}), ports(1), soloEnvironment()), (address, weight) => endpoint(address, weight));
  });
});
