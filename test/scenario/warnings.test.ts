import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../../src/scenario/load.js';
import { scenarioWarnings } from '../../src/scenario/warnings.js';

/** A small valid scenario; `mesh`, `extra` (more top-level keys) and `variants` vary per test. */
function scenario(mesh: string, opts: { key?: string; calls?: boolean; variants?: string } = {}): string {
  return `schema: meshsim/scenario@1
name: warn
seed: 1
seeds: 1
duration: 1s
warmup: 0s
services:
  api:
    instances: 3
    serviceTime: { dist: exponential, mean: 5ms }
${opts.calls ? '    calls: [{ service: db }]\n' : ''}  db:
    instances: 2
    serviceTime: { dist: exponential, mean: 1ms }
network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 100/s }
${opts.key ? `    key: ${opts.key}\n` : ''}mesh:
  balancer: ${mesh}
${opts.variants ?? ''}`;
}

const warningsFor = (text: string): string[] => scenarioWarnings(parseScenarioText(text, 'warn.yaml').variants);

describe('scenarioWarnings', () => {
  it('says nothing about an ordinary scenario', () => {
    expect(warningsFor(scenario('{ kind: round-robin }'))).toEqual([]);
    expect(warningsFor(scenario('{ kind: ring-hash }', { key: '{ dist: zipf, n: 100, s: 1.1 }' }))).toEqual([]);
    expect(warningsFor(scenario('{ kind: weighted-round-robin, slowStart: { window: 10s } }'))).toEqual([]);
    expect(warningsFor(scenario('{ kind: least-request, slowStart: { window: 10s } }'))).toEqual([]);
  });

  it('warns when a hashing balancer gets no keys: from a workload, or on calls', () => {
    const [w] = warningsFor(scenario('{ kind: maglev }'));
    expect(w).toMatch(/balancer maglev hashes request keys, but workload 'users' gives its requests none/);
    expect(w).toMatch(/key: \{ dist: zipf/);
    const calls = warningsFor(scenario('{ kind: ring-hash }', { key: '{ dist: uniform, n: 100 }', calls: true }));
    expect(calls).toEqual([expect.stringMatching(/service 'api' balances its calls with ring-hash, but calls carry no hash key/)]);
  });

  it('warns when slow start is given to a policy that ignores weights', () => {
    for (const kind of ['round-robin', 'random', 'p2c', 'p2c-peak-ewma']) {
      const [w] = warningsFor(scenario(`{ kind: ${kind}, slowStart: { window: 30s } }`));
      expect(w).toMatch(new RegExp(`^mesh\\.balancer\\.slowStart has no effect: .* ${kind} ignores weights`));
    }
  });

  it('names the variants a warning applies to, once, unless it applies to all', () => {
    const variants = `variants:
  rr: {}
  hash-a: { mesh.balancer: { kind: ring-hash } }
  hash-b: { mesh.balancer: { kind: maglev } }
  hash-c: { mesh.balancer: { kind: maglev } }
`;
    const ws = warningsFor(scenario('{ kind: round-robin }', { variants }));
    expect(ws).toHaveLength(2);
    expect(ws[0]).toMatch(/^variant 'hash-a': balancer ring-hash/);
    expect(ws[1]).toMatch(/^variants 'hash-b', 'hash-c': balancer maglev/);
    expect(warningsFor(scenario('{ kind: maglev }', { variants: 'variants:\n  a: {}\n  b: {}\n' }))[0]).toMatch(/^balancer maglev/);
  });
});
