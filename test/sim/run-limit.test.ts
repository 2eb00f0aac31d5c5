/**
 * The in-flight limit (MAX_IN_FLIGHT, lowered here through `maxInFlight`): a run whose
 * requests pile up past it stops with a RunLimitError that names the service and the field
 * that would bound it, instead of growing until the machine runs out of memory; a run that
 * stays under it gives the same result whatever the limit (the record pools' capacity never
 * shows in a result).
 */
import { describe, expect, it } from 'vitest';
import { MAX_IN_FLIGHT, RunLimitError, simulate } from '../../src/sim/world.js';
import { constant, headerLines, load, poisson, scenario } from './_scenario.js';

/** Throws what simulate throws, or fails the test. */
function stopped(run: () => unknown): RunLimitError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(RunLimitError);
    return e as RunLimitError;
  }
  throw new Error('the run did not stop');
}

describe('the in-flight limit', () => {
  it('is 4,194,304 requests by default', () => {
    expect(MAX_IN_FLIGHT).toBe(4_194_304);
  });

  it('stops an overloaded service with an unbounded queue, naming services.<name>.queue, when the limit is reached', () => {
    // 1,000 requests/s offered to one slot serving 100/s: ~900 more wait each second.
    const s = scenario({ duration: 10_000, serviceTime: constant(10), arrival: poisson(1000) });
    const e = stopped(() => simulate(s, 1, { maxInFlight: 256 }));
    expect(e.message).toMatch(/^the run stopped at 0\.\d+ s of simulated time with 256 requests in flight, the most one run may hold/);
    expect(e.message).toContain('Service "s" holds 1 in service and 255 waiting in its instances\' queues: it is offered more than it can serve, and services.s.queue is unbounded.');
    expect(e.message).toContain('To simulate it, bound the queue (services.s.queue: 1000 answers what overflows it with 503), give requests a timeout');
    // ~900 more in flight a second: 256 are reached in about 0.28 s, not at the end of the run.
    const at = Number(/stopped at ([\d.]+) s/.exec(e.message)?.[1]);
    expect(at).toBeGreaterThan(0.15);
    expect(at).toBeLessThan(0.45);
  });

  it('names services.<name>.concurrency when the requests are in service (an unbounded infinite server)', () => {
    const s = scenario({ duration: 10_000, concurrency: Infinity, serviceTime: constant(60_000), arrival: poisson(1000) });
    const e = stopped(() => simulate(s, 1, { maxInFlight: 512 }));
    expect(e.message).toContain('with 512 requests in flight');
    expect(e.message).toContain('Service "s" holds 512 in service and 0 waiting in its instances\' queues: services.s.concurrency is unbounded, and requests arrive faster than they finish.');
    expect(e.message).toContain('To simulate it, bound its concurrency (services.s.concurrency)');
  });

  it('never stops a run its bounds keep under the limit: a bounded queue answers the overflow instead', () => {
    const s = scenario({ duration: 5_000, queue: 100, serviceTime: constant(10), arrival: poisson(1000) });
    const r = simulate(s, 1, { maxInFlight: 128 });
    expect(r.conservation.issued).toBeGreaterThan(4_000);
  });

  it('changes nothing in a run that stays under it: the same result at the default limit and at one just above its peak', () => {
    // M/M/1-like at 80%: a few requests in flight, rarely more than 60.
    const s = scenario({ duration: 20_000, serviceTime: constant(8), arrival: poisson(100), queue: 60 });
    expect(simulate(s, 7, { maxInFlight: 64 })).toEqual(simulate(s, 7));
  });

  it('refuses a limit that is not a positive whole number', () => {
    const s = scenario({ duration: 1_000, serviceTime: constant(1), arrival: poisson(10) });
    expect(() => simulate(s, 1, { maxInFlight: 0 })).toThrow(/maxInFlight must be a positive whole number, got 0/);
    expect(() => simulate(s, 1, { maxInFlight: 1.5 })).toThrow(/got 1\.5/);
  });
});

/** Two closed-loop clients, one request allowed at a time by the breaker, with think time `think`. */
const loopYaml = (think: string): string =>
  [
    ...headerLines('loop', { duration: 3_000 }),
    'services:',
    '  api: { instances: 1, serviceTime: { dist: constant, value: 1ms } }',
    'network: { latency: { dist: constant, value: 1ms } }',
    'workload:',
    `  - { name: users, target: api, arrival: { process: closed, clients: 2, think: { dist: constant, value: ${think} } } }`,
    'mesh:',
    '  balancer: { kind: round-robin }',
    '  failover: { circuitBreaker: { maxRequests: 1 } }',
    '',
  ].join('\n');

describe('the stalled-clock limit', () => {
  it('stops a closed loop with zero think time answered at once by its breaker, naming the think time to fix', () => {
    // The second client's request overflows the breaker at once (no network hop), and with
    // think 0 it asks again at the same instant, forever.
    const e = stopped(() => simulate(load(loopYaml('0ms')), 1));
    expect(e.message).toBe(
      'simulated time stopped advancing at 0 s: more than 50,000,000 events at that instant: a closed loop whose think time can be 0 (workload.0.arrival.think) issues its next request at the same instant when one is answered at once, without a network hop (a breaker overflow, no healthy upstream, throttling). Give the think time a minimum above 0.',
    );
    // With a think time above 0 the same loop runs to its end.
    expect(simulate(load(loopYaml('10us')), 1).conservation.issued).toBeGreaterThan(100_000);
  }, 30_000);
});
