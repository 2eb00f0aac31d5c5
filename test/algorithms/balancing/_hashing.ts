/**
 * Shared by the ring-hash and Maglev tests: an endpoint's `hash_key` metadata (Envoy's
 * `envoy.lb` `hash_key`) places it where an endpoint with that address would go, whatever
 * its own address.
 */
import { expect } from 'vitest';
import type { Balancer, Endpoint } from '../../../src/algorithms/types.js';
import { hashKey } from '../../../src/core/xxhash64.js';

export function expectHashKeyPlacement(create: () => Balancer, endpoint: (address: string, weight: number) => Endpoint): void {
  const keys = Array.from({ length: 9 }, (_, i) => `api-${i}.sim:80`);
  const weight = (k: string): number => 1 + (k.length % 3);
  const byAddress = create();
  byAddress.rebuild(keys.map((k) => endpoint(k, weight(k))));
  const byKey = create();
  byKey.rebuild(keys.map((k, i) => ({ ...endpoint(`127.0.0.1:${40000 + i}`, weight(k)), metadata: { hash_key: k } })));
  const plain = create();
  plain.rebuild(keys.map((k, i) => endpoint(`127.0.0.1:${40000 + i}`, weight(k))));
  let differs = 0;
  for (let r = 0; r < 2000; r++) {
    const ctx = { hashKey: hashKey(String(r)) };
    const want = byAddress.pick(ctx);
    expect(byKey.pick(ctx)).toBe(want);
    if (plain.pick(ctx) !== want) differs++;
  }
  expect(differs).toBeGreaterThan(500); // the addresses alone would place them elsewhere
}
