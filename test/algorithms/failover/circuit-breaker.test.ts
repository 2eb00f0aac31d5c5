/**
 * Envoy circuit breakers: defaults, admission never past a limit over random acquire/release
 * sequences (checked against a plain model), exact overflow counters, the retry-limit
 * override a retry budget uses, and Envoy's "a pool with no connection may open one".
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, circuitBreakerConfigSchema } from '../../../src/algorithms/failover/circuit-breaker.js';

describe('config', () => {
  it("has Envoy's defaults and takes whole numbers ≥ 0", () => {
    expect(circuitBreakerConfigSchema.parse({})).toEqual({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    expect(circuitBreakerConfigSchema.safeParse({ maxRequests: -1 }).success).toBe(false);
    expect(circuitBreakerConfigSchema.safeParse({ maxRetries: 1.5 }).success).toBe(false);
    expect(circuitBreakerConfigSchema.safeParse({ max_requests: 1 }).success).toBe(false);
  });
});

type Resource = 'Request' | 'Pending' | 'Retry' | 'Connection';
const RESOURCES: Resource[] = ['Request', 'Pending', 'Retry', 'Connection'];

describe('admission', () => {
  it('property: never admits past a limit; overflow counters count exactly the refusals', () => {
    const op = fc.record({ resource: fc.constantFrom(...RESOURCES), acquire: fc.boolean() });
    fc.assert(
      fc.property(
        fc.record({ maxRequests: fc.nat(6), maxPendingRequests: fc.nat(6), maxRetries: fc.nat(6), maxConnections: fc.nat(6) }),
        fc.array(op, { minLength: 1, maxLength: 300, size: 'max' }),
        (limits, ops) => {
          const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse(limits));
          const limitOf: Record<Resource, number> = { Request: limits.maxRequests, Pending: limits.maxPendingRequests, Retry: limits.maxRetries, Connection: limits.maxConnections };
          const held: Record<Resource, number> = { Request: 0, Pending: 0, Retry: 0, Connection: 0 };
          const refused: Record<Resource, number> = { Request: 0, Pending: 0, Retry: 0, Connection: 0 };
          for (const { resource, acquire } of ops) {
            if (acquire) {
              const admitted = cb[`tryAcquire${resource}`]();
              if (admitted !== held[resource] < limitOf[resource]) throw new Error(`${resource}: admitted ${admitted} with ${held[resource]}/${limitOf[resource]} held`);
              if (admitted) held[resource]++;
              else refused[resource]++;
            } else if (held[resource] > 0) {
              cb[`release${resource}`]();
              held[resource]--;
            }
            // plain checks: expect() per step would dominate the run time
            const counts = [cb.activeRequests, cb.pendingRequests, cb.activeRetries, cb.activeConnections];
            RESOURCES.forEach((r, k) => {
              if (counts[k] !== held[r] || counts[k] > limitOf[r]) throw new Error(`${r}: count ${counts[k]}, model ${held[r]}, limit ${limitOf[r]}`);
            });
          }
          expect(cb.stats()).toEqual({
            requestOverflow: refused.Request,
            pendingOverflow: refused.Pending,
            retryOverflow: refused.Retry,
            connectionOverflow: refused.Connection,
          });
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });

  it('counts exactly: 1024 requests admitted, the next two refused, one admitted after a release', () => {
    const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse({}));
    for (let k = 0; k < 1024; k++) expect(cb.tryAcquireRequest()).toBe(true);
    expect(cb.requestsOpen).toBe(true);
    expect(cb.remainingRequests).toBe(0);
    expect(cb.tryAcquireRequest()).toBe(false);
    expect(cb.tryAcquireRequest()).toBe(false);
    cb.releaseRequest();
    expect(cb.requestsOpen).toBe(false);
    expect(cb.tryAcquireRequest()).toBe(true);
    expect(cb.requestOverflow).toBe(2);
    expect(cb.stats()).toEqual({ requestOverflow: 2, pendingOverflow: 0, retryOverflow: 0, connectionOverflow: 0 });
  });

  it('limit 0 refuses everything', () => {
    const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse({ maxRetries: 0 }));
    expect(cb.tryAcquireRetry()).toBe(false);
    expect(cb.retriesOpen).toBe(true);
    expect(cb.retryOverflow).toBe(1);
  });

  it('a release without an acquire throws', () => {
    const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse({}));
    expect(() => cb.releaseRequest()).toThrow(/without a matching acquire/);
    expect(() => cb.releasePending()).toThrow();
    expect(() => cb.releaseRetry()).toThrow();
    expect(() => cb.releaseConnection()).toThrow();
  });
});

describe('retries', () => {
  it('default limit maxRetries; a retry budget passes its own allowance', () => {
    const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse({}));
    expect([cb.tryAcquireRetry(), cb.tryAcquireRetry(), cb.tryAcquireRetry(), cb.tryAcquireRetry()]).toEqual([true, true, true, false]);
    // Envoy retry_budget: max(20% × (active + pending), 3) with 40 active requests → 8
    const budget = Math.max(Math.floor(0.2 * 40), 3);
    for (let k = 0; k < 5; k++) expect(cb.tryAcquireRetry(budget)).toBe(true);
    expect(cb.tryAcquireRetry(budget)).toBe(false);
    expect(cb.activeRetries).toBe(8);
    expect(cb.retryOverflow).toBe(2);
  });
});

describe('connections', () => {
  it('are a soft limit: at the cap an overflow is counted, but a pool with no connection still opens one', () => {
    const cb = new CircuitBreaker(circuitBreakerConfigSchema.parse({ maxConnections: 1 }));
    expect(cb.tryAcquireConnection()).toBe(true);
    expect(cb.tryAcquireConnection()).toBe(false);
    expect(cb.tryAcquireConnection(true)).toBe(true);
    expect(cb.activeConnections).toBe(2);
    expect(cb.connectionsOpen).toBe(true);
    expect(cb.connectionOverflow).toBe(2);
  });
});
