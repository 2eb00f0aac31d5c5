/**
 * Call graphs and failover settings in scenario files (issue #4, "Scenario syntax"):
 * services' `calls`, their own `mesh` laid over the top-level one, and `mesh.failover`'s
 * timeouts, retries, hedging and adaptive throttling — resolved values, and for each bad
 * input an error naming the file, line, field and what was expected.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenarioText } from '../../src/scenario/load.js';
import { printScenario } from '../../src/scenario/print.js';
import { resolveScenario, scenarioJsonSchema } from '../../src/scenario/schema.js';
import type { FailoverSpec, MeshSpec } from '../../src/scenario/types.js';
import { ISSUE_4, MINIMAL, edit, linesOf } from './_fixtures.js';
import { cli } from '../cli/_run.js';

const load = (text: string) => parseScenarioText(text, 'f.yaml').base;

/** Two services, api calling db; `api` and `mesh` are the YAML bodies to splice in. */
function twoTier(apiExtra: string, meshExtra = '', dbExtra = ''): string {
  return `name: two-tier
seed: 0
seeds: 1
duration: 10s
warmup: 0s
services:
  api:
    instances: 2
    serviceTime: { dist: constant, value: 1ms }
${apiExtra}
  db:
    instances: 2
    serviceTime: { dist: constant, value: 1ms }
${dbExtra}
network:
  latency: { dist: constant, value: 0s }
workload:
  - name: w
    target: api
    arrival: { process: constant, rate: 10/s }
mesh:
  balancer: { kind: round-robin }
${meshExtra}`;
}

const ENVOY_BACKOFF = { kind: 'envoy', base: 25 };

describe('the issue #4 example', () => {
  const s = load(ISSUE_4);

  it('resolves the top-level failover settings', () => {
    const f = s.mesh.failover as FailoverSpec;
    expect(s.mesh.balancer).toStrictEqual({ kind: 'p2c' });
    expect(f.timeout).toBe(1000);
    expect(f.perTryTimeout).toBe(300);
    expect(f.retries).toStrictEqual({
      max: 2,
      on: ['5xx', 'reset', 'connect-failure', 'timeout'],
      backoff: { kind: 'envoy', base: 25, max: 250 },
      budget: { kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 },
    });
    expect(f.hedge).toStrictEqual({ delay: 50, maxAttempts: 2, onPerTryTimeout: false });
    expect(f.circuitBreaker).toStrictEqual({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    expect(f.outlierDetection).toMatchObject({ consecutive5xx: 5, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 0.1 });
    expect(f.healthCheck).toMatchObject({ interval: 5000, timeout: 1000, unhealthyThreshold: 3, healthyThreshold: 2 });
    expect(f).not.toHaveProperty('adaptiveThrottling');
  });

  it("resolves the frontend's calls and lays its own mesh over the top-level one", () => {
    const frontend = s.services.frontend;
    expect(frontend.calls).toStrictEqual([{ service: 'backend', parallel: 10, probability: 1, onFailure: 'fail' }]);
    expect(frontend.mesh.balancer.kind).toBe('least-request');
    expect(frontend.mesh.failover).toStrictEqual({ ...s.mesh.failover, retries: { max: 1, on: ['5xx', 'timeout'], backoff: ENVOY_BACKOFF } });
    // The backend makes no calls and has no mesh of its own: it gets the top-level one.
    expect(s.services.backend.calls).toStrictEqual([]);
    expect(s.services.backend.mesh).toStrictEqual(s.mesh);
  });

  it('round-trips through printing', () => {
    expect(load(printScenario(s))).toStrictEqual(s);
  });
});

describe('calls', () => {
  it('fill in parallel 1, probability 1 and onFailure fail; take a probability as a percentage or a fraction', () => {
    const s = load(twoTier('    calls:\n      - service: db\n      - { service: db, parallel: 3, probability: 25%, onFailure: tolerate }\n      - { service: db, probability: 0.5 }'));
    expect(s.services.api.calls).toStrictEqual([
      { service: 'db', parallel: 1, probability: 1, onFailure: 'fail' },
      { service: 'db', parallel: 3, probability: 0.25, onFailure: 'tolerate' },
      { service: 'db', parallel: 1, probability: 0.5, onFailure: 'fail' },
    ]);
    expect(s.services.db.calls).toStrictEqual([]);
  });

  it('may form any acyclic graph (a diamond)', () => {
    const cache = '  cache:\n    instances: 1\n    serviceTime: { dist: constant, value: 1ms }\nnetwork:';
    const s = load(twoTier('    calls: [{ service: db }, { service: cache }]', '', '    calls: [{ service: cache }]').replace('network:', cache));
    expect(s.services.api.calls.map((c) => c.service)).toEqual(['db', 'cache']);
    expect(s.services.db.calls.map((c) => c.service)).toEqual(['cache']);
  });

  it('a cycle is an error naming it, at the call that starts it', () => {
    const text = twoTier('    calls: [{ service: db }]', '', '    calls: [{ service: api }]');
    expect(linesOf(text, 'c.yaml')).toEqual(['c.yaml:10:24: services.api.calls.0.service: call cycle api → db → api']);
  });

  it('a longer cycle is named whole', () => {
    const three = twoTier('    calls: [{ service: db }]', '', '    calls: [{ service: queue }]').replace(
      'network:',
      '  queue:\n    instances: 1\n    serviceTime: { dist: constant, value: 1ms }\n    calls: [{ service: api }]\nnetwork:',
    );
    expect(linesOf(three, 'c.yaml')).toEqual(['c.yaml:10:24: services.api.calls.0.service: call cycle api → db → queue → api']);
  });

  it('an unknown service is an error with a suggestion', () => {
    expect(linesOf(twoTier('    calls: [{ service: dv }]'), 'c.yaml')).toEqual(["c.yaml:10:24: services.api.calls.0.service: unknown service 'dv'; services: api, db"]);
    expect(linesOf(twoTier('    calls:\n      - service: dbb'), 'c.yaml')).toEqual(["c.yaml:11:18: services.api.calls.0.service: unknown service 'dbb' (did you mean 'db'?); services: api, db"]);
  });

  it('a service calling itself is an error', () => {
    expect(linesOf(twoTier('    calls: [{ service: db }, { service: api }]'), 'c.yaml')).toEqual([
      "c.yaml:10:41: services.api.calls.1.service: service 'api' calls itself; a service cannot call itself",
    ]);
  });

  it('parallel, probability, onFailure and unknown keys are checked', () => {
    expect(linesOf(twoTier('    calls:\n      - { service: db, parallel: 0, probability: 1.5, onFailure: ignore, retry: 1 }'), 'c.yaml')).toEqual([
      'c.yaml:11:34: services.api.calls.0.parallel: expected a fan-out: a whole number from 1 to 10,000; got 0',
      "c.yaml:11:50: services.api.calls.0.probability: expected a percentage like 20%, or a fraction between 0 and 1; got '1.5' (more than 100%)",
      "c.yaml:11:66: services.api.calls.0.onFailure: expected fail or tolerate; got 'ignore'",
      'c.yaml:11:74: services.api.calls.0.retry: unknown key; expected one of: service, parallel, probability, onFailure',
    ]);
    expect(linesOf(twoTier('    calls:\n      - { parallel: 2.5 }'), 'c.yaml')).toEqual([
      'c.yaml:11:9: services.api.calls.0.service: missing; expected the name of a service',
      'c.yaml:11:21: services.api.calls.0.parallel: expected a fan-out: a whole number from 1 to 10,000; got 2.5',
    ]);
    expect(linesOf(twoTier('    calls: { service: db }'), 'c.yaml')).toEqual(['c.yaml:10:12: services.api.calls: expected a list of calls, like [{ service: db }]; got a mapping']);
  });
});

describe('per-service mesh', () => {
  const TOP = '  failover:\n    timeout: 2s\n    retries: { max: 2, on: [5xx] }\n    outlierDetection: { consecutive5xx: 3 }';

  it('is the top-level mesh when a service gives none (and when it gives an empty one)', () => {
    const s = load(twoTier('    mesh: {}', TOP));
    expect(s.services.api.mesh).toStrictEqual(s.mesh);
    expect(s.services.db.mesh).toStrictEqual(s.mesh);
  });

  it('replaces the balancer, and each failover key it gives, keeping the others', () => {
    const s = load(twoTier('    mesh:\n      balancer: { kind: random }\n      failover:\n        timeout: 500ms\n        circuitBreaker: { maxRequests: 10 }', TOP));
    const top = s.mesh.failover as FailoverSpec;
    expect(s.services.api.mesh).toStrictEqual({
      balancer: { kind: 'random' },
      failover: { ...top, timeout: 500, circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 10, maxRetries: 3 } },
    });
    expect(s.services.api.mesh.failover?.retries).toStrictEqual({ max: 2, on: ['5xx'], backoff: ENVOY_BACKOFF });
    expect(s.services.db.mesh).toStrictEqual(s.mesh);
  });

  it('replaces a failover key whole: retries given by the service are not merged into the top-level ones', () => {
    const s = load(twoTier('    mesh: { failover: { retries: { on: [connect-failure] } } }', TOP));
    expect(s.services.api.mesh.failover?.retries).toStrictEqual({ max: 1, on: ['connect-failure'], backoff: ENVOY_BACKOFF });
  });

  it('gives a service failover settings when the top-level mesh has none, and a balancer alone keeps them absent', () => {
    const s = load(twoTier('    mesh: { failover: { timeout: 1s } }', '', '    mesh: { balancer: { kind: random } }'));
    expect(s.mesh).toStrictEqual({ balancer: { kind: 'round-robin' } });
    expect(s.services.api.mesh).toStrictEqual({ balancer: { kind: 'round-robin' }, failover: { timeout: 1000 } });
    expect(s.services.db.mesh).toStrictEqual({ balancer: { kind: 'random' } });
  });

  it('is checked like the top-level mesh, with the service in the path', () => {
    expect(linesOf(twoTier('    mesh:\n      balancer: { kind: rnadom }\n      falover: {}'), 'm.yaml')).toEqual([
      "m.yaml:11:25: services.api.mesh.balancer.kind: unknown balancer kind 'rnadom' (did you mean 'random'?); expected one of " +
        linesOf(edit(MINIMAL, 'kind: random', 'kind: rnadom'), 'm.yaml')[0].split('expected one of ')[1],
      "m.yaml:12:7: services.api.mesh.falover: unknown key; did you mean 'failover'?",
    ]);
  });

  it('changes with variants, like any other field', () => {
    const text = `${twoTier('', TOP)}\nvariants:\n  no-retries-at-api: { services.api.mesh.failover.retries: { max: 0, on: [5xx] } }\n`;
    const [variant] = parseScenarioText(text, 'v.yaml').variants;
    expect(variant.scenario.services.api.mesh.failover?.retries?.max).toBe(0);
    expect(variant.scenario.services.db.mesh.failover?.retries?.max).toBe(2);
  });

  it('prints only what differs from the top-level mesh, and round-trips', () => {
    const s = load(twoTier('    mesh:\n      balancer: { kind: random }\n      failover: { timeout: 500ms, outlierDetection: { consecutive5xx: 3 } }', TOP));
    const printed = printScenario(s);
    expect(printed).toContain('    mesh:\n      balancer: { kind: random }\n      failover:\n        timeout: 500ms\n  db:');
    expect(load(printed)).toStrictEqual(s);
  });
});

describe('mesh.failover', () => {
  const failover = (body: string) => twoTier('', `  failover:\n${body.replace(/^/gm, '    ')}`);
  const resolved = (body: string): FailoverSpec => load(failover(body)).mesh.failover as FailoverSpec;

  it('a failover with nothing in it is no failover', () => {
    const s = load(twoTier('', '  failover: {}'));
    expect(s.mesh).toStrictEqual({ balancer: { kind: 'round-robin' } });
    expect(s.services.api.mesh).toStrictEqual({ balancer: { kind: 'round-robin' } });
  });

  it('timeout and perTryTimeout are durations in ms', () => {
    expect(resolved('timeout: 1.5s\nperTryTimeout: 250ms')).toStrictEqual({ timeout: 1500, perTryTimeout: 250 });
  });

  it('perTryTimeout may be written in retries instead; it resolves to failover.perTryTimeout either way', () => {
    expect(resolved('retries: { on: [5xx], perTryTimeout: 200ms }')).toStrictEqual({ perTryTimeout: 200, retries: { max: 1, on: ['5xx'], backoff: ENVOY_BACKOFF } });
    expect(resolved('perTryTimeout: 200ms\nretries: { on: [5xx], perTryTimeout: 0.2s }')).toStrictEqual({
      perTryTimeout: 200,
      retries: { max: 1, on: ['5xx'], backoff: ENVOY_BACKOFF },
    });
  });

  it("a service's retries.perTryTimeout replaces the top-level perTryTimeout", () => {
    const s = load(twoTier('    mesh: { failover: { retries: { on: [5xx], perTryTimeout: 50ms } } }', '  failover: { perTryTimeout: 300ms }'));
    expect(s.mesh.failover).toStrictEqual({ perTryTimeout: 300 });
    expect(s.services.api.mesh.failover).toStrictEqual({ perTryTimeout: 50, retries: { max: 1, on: ['5xx'], backoff: ENVOY_BACKOFF } });
  });

  it('two different perTryTimeouts are an error', () => {
    expect(linesOf(failover('perTryTimeout: 300ms\nretries: { on: [5xx], perTryTimeout: 200ms }'), 'p.yaml')).toEqual([
      'p.yaml:25:42: mesh.failover.retries.perTryTimeout: perTryTimeout 200ms differs from mesh.failover.perTryTimeout (300ms); expected one per-try timeout: give it in one place (or the same value in both)',
    ]);
  });

  it('retries take every retry-on condition, timeout included, and the budget forms', () => {
    const r = resolved('retries:\n  max: 3\n  on: [gateway-error, timeout, 409]\n  budget: { kind: linkerd }\n  hostReselection: {}').retries;
    expect(r).toStrictEqual({
      max: 3,
      on: ['gateway-error', 'timeout', 409],
      backoff: ENVOY_BACKOFF,
      budget: { kind: 'linkerd', retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10_000 },
      hostReselection: { predicate: 'previous-hosts', maxAttempts: 1 },
    });
    expect(resolved('retries: { on: [5xx], budget: { kind: envoy-budget, budgetPercent: 10% } }').retries?.budget).toStrictEqual({
      kind: 'envoy-budget',
      budgetPercent: 0.1,
      minRetryConcurrency: 3,
    });
  });

  it("take the issue's budget shorthand as Envoy's retry budget, with its defaults", () => {
    const budget = (written: string) => resolved(`retries: { on: [5xx], budget: ${written} }`).retries?.budget;
    expect(budget('{ percent: 20%, minConcurrency: 3 }')).toStrictEqual({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 3 });
    expect(budget('{ percent: 0.5 }')).toStrictEqual({ kind: 'envoy-budget', budgetPercent: 0.5, minRetryConcurrency: 3 });
    expect(budget('{ minConcurrency: 10 }')).toStrictEqual({ kind: 'envoy-budget', budgetPercent: 0.2, minRetryConcurrency: 10 });
  });

  it('bad retries are errors naming the field and what was expected', () => {
    expect(linesOf(failover('retries:\n  max: -1\n  on: [5xx]\n  backof: { base: 10ms }\n  budget: { kind: lnkerd }'), 'r.yaml')).toEqual([
      'r.yaml:25:12: mesh.failover.retries.max: expected a number ≥ 0; got -1',
      "r.yaml:27:7: mesh.failover.retries.backof: unknown key; did you mean 'backoff'?",
      "r.yaml:28:23: mesh.failover.retries.budget.kind: unknown kind 'lnkerd' (did you mean 'linkerd'?); expected one of envoy-budget, envoy-max-retries, finagle, linkerd, grpc-throttling",
    ]);
    expect(linesOf(failover('retries: { on: [5xx], budget: { percent: 120%, minConcurency: 3 } }'), 'r.yaml')).toEqual([
      "r.yaml:24:46: mesh.failover.retries.budget.percent: expected a percentage like 20%, or a fraction between 0 and 1; got '120%' (more than 100%)",
      "r.yaml:24:52: mesh.failover.retries.budget.minConcurency: unknown key; did you mean 'minConcurrency'?",
    ]);
    expect(linesOf(failover('retries: { max: 2 }'), 'r.yaml')).toEqual(['r.yaml:24:5: mesh.failover.retries.on: missing; expected a list']);
  });

  it('hedge: delay, maxAttempts (default 2) and onPerTryTimeout (default false)', () => {
    expect(resolved('hedge: { delay: 50ms }').hedge).toStrictEqual({ delay: 50, maxAttempts: 2, onPerTryTimeout: false });
    expect(resolved('perTryTimeout: 100ms\nhedge: { onPerTryTimeout: true, maxAttempts: 5 }').hedge).toStrictEqual({ maxAttempts: 5, onPerTryTimeout: true });
    expect(resolved('retries: { on: [5xx], perTryTimeout: 100ms }\nhedge: { onPerTryTimeout: true }').hedge).toStrictEqual({ maxAttempts: 2, onPerTryTimeout: true });
  });

  it('a hedge without delay or onPerTryTimeout is an error, with an example', () => {
    const expected = 'a hedge needs delay or onPerTryTimeout: true; expected something like { delay: 50ms } (another attempt when none has answered within 50ms) or { onPerTryTimeout: true } (another attempt when a per-try timeout fires)';
    expect(linesOf(failover('hedge: { maxAttempts: 3 }'), 'h.yaml')).toEqual([`h.yaml:24:12: mesh.failover.hedge: ${expected}`]);
    expect(linesOf(failover('perTryTimeout: 1s\nhedge: { onPerTryTimeout: false }'), 'h.yaml')).toEqual([`h.yaml:25:12: mesh.failover.hedge: ${expected}`]);
  });

  it('onPerTryTimeout without a per-try timeout is an error; a service may inherit the top-level one', () => {
    expect(linesOf(failover('hedge: { onPerTryTimeout: true }'), 'h.yaml')).toEqual([
      'h.yaml:24:31: mesh.failover.hedge.onPerTryTimeout: onPerTryTimeout needs a per-try timeout, and there is none; expected mesh.failover.perTryTimeout, like perTryTimeout: 300ms',
    ]);
    expect(linesOf(twoTier('    mesh: { failover: { hedge: { onPerTryTimeout: true } } }'), 'h.yaml')).toEqual([
      'h.yaml:10:51: services.api.mesh.failover.hedge.onPerTryTimeout: onPerTryTimeout needs a per-try timeout, and there is none; expected services.api.mesh.failover.perTryTimeout or mesh.failover.perTryTimeout, like perTryTimeout: 300ms',
    ]);
    const inherited = load(twoTier('    mesh: { failover: { hedge: { onPerTryTimeout: true } } }', '  failover: { perTryTimeout: 100ms }'));
    expect(inherited.services.api.mesh.failover).toStrictEqual({ perTryTimeout: 100, hedge: { maxAttempts: 2, onPerTryTimeout: true } });
  });

  it('bad hedges, timeouts and adaptive throttling are errors naming the field', () => {
    expect(linesOf(failover('timeout: 0s\nperTryTimeout: 100\nhedge: { delay: 10ms, maxAttempts: 6, onPerTryTimout: true }\nadaptiveThrottling: { k: 0, windw: 1m }'), 'b.yaml')).toEqual([
      'b.yaml:24:14: mesh.failover.timeout: expected a duration > 0, like 250ms; got 0s',
      'b.yaml:25:20: mesh.failover.perTryTimeout: expected a duration with a unit, like 250ms; got 100',
      'b.yaml:26:40: mesh.failover.hedge.maxAttempts: expected a number of attempts, the first included: a whole number from 2 to 5; got 6',
      "b.yaml:26:43: mesh.failover.hedge.onPerTryTimout: unknown key; did you mean 'onPerTryTimeout'?",
      'b.yaml:27:30: mesh.failover.adaptiveThrottling.k: expected a number > 0; got 0',
      "b.yaml:27:33: mesh.failover.adaptiveThrottling.windw: unknown key; did you mean 'window'?",
    ]);
    expect(linesOf(failover('retrys: { on: [5xx] }'), 'b.yaml')).toEqual(["b.yaml:24:5: mesh.failover.retrys: unknown key; did you mean 'retries'?"]);
  });

  it('adaptiveThrottling takes the SRE book defaults', () => {
    expect(resolved('adaptiveThrottling: {}').adaptiveThrottling).toStrictEqual({ k: 2, window: 120_000, buckets: 120 });
    expect(resolved('adaptiveThrottling: { k: 1.5, window: 30s, buckets: 30 }').adaptiveThrottling).toStrictEqual({ k: 1.5, window: 30_000, buckets: 30 });
  });

  it('every mechanism round-trips through printing, top-level and per service', () => {
    const all = [
      'timeout: 1s',
      'perTryTimeout: 250ms',
      'retries: { max: 3, on: [5xx, timeout, retriable-status-codes], retriableStatusCodes: [429], backoff: { kind: grpc, initial: 10ms, max: 1s, multiplier: 2 }, budget: { kind: grpc-throttling }, hostReselection: { maxAttempts: 3 } }',
      'hedge: { delay: 20ms, maxAttempts: 3, onPerTryTimeout: true }',
      'circuitBreaker: { maxRequests: 100 }',
      'outlierDetection: { consecutive5xx: 3, maxEjectionPercent: 50% }',
      'healthCheck: { interval: 1s, timeout: 100ms, unhealthyThreshold: 2, healthyThreshold: 1 }',
      'adaptiveThrottling: { k: 1.1 }',
    ].join('\n');
    const s = load(twoTier(`    mesh:\n      failover:\n${all.replace(/^/gm, '        ')}\n    calls: [{ service: db, parallel: 2, probability: 10%, onFailure: tolerate }]`, `  failover:\n${all.replace(/^/gm, '    ')}`));
    expect(Object.keys(s.mesh.failover ?? {}).sort()).toEqual(['adaptiveThrottling', 'circuitBreaker', 'healthCheck', 'hedge', 'outlierDetection', 'perTryTimeout', 'retries', 'timeout']);
    expect(load(printScenario(s))).toStrictEqual(s);
  });
});

describe('the JSON schema for editors', () => {
  const schema = scenarioJsonSchema() as {
    properties: { services: { additionalProperties: { properties: Record<string, { items?: { properties: Record<string, unknown> }; properties?: Record<string, unknown> }> } }; mesh: { properties: { failover: { properties: Record<string, unknown> } } } };
  };

  it('describes calls, the per-service mesh and every failover key', () => {
    const service = schema.properties.services.additionalProperties.properties;
    expect(Object.keys(service.calls.items?.properties ?? {})).toEqual(['service', 'parallel', 'probability', 'onFailure']);
    expect(Object.keys(service.mesh.properties ?? {})).toEqual(['balancer', 'failover']);
    expect(Object.keys(schema.properties.mesh.properties.failover.properties)).toEqual([
      'timeout',
      'perTryTimeout',
      'retries',
      'hedge',
      'circuitBreaker',
      'outlierDetection',
      'healthCheck',
      'adaptiveThrottling',
    ]);
    expect(JSON.stringify(schema.properties.mesh.properties.failover.properties.retries)).toContain('"minConcurrency"');
    expect(JSON.stringify(schema.properties.mesh.properties.failover.properties.retries)).toContain('"timeout"');
  });
});

describe('meshsim validate and schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshsim-failover-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));


  it("validate accepts the issue's example", async () => {
    const file = join(dir, 'issue-4.yaml');
    writeFileSync(file, ISSUE_4);
    const { code, stdout } = await cli('validate', file);
    expect(code).toBe(0);
    expect(stdout).toContain('ok');
  });

  it('validate rejects a call cycle with exit 2, the place and no stack trace', async () => {
    const file = join(dir, 'cycle.yaml');
    writeFileSync(file, ISSUE_4.replace("    zones: [a, b]\n", '    zones: [a, b]\n    calls: [{ service: frontend }]\n'));
    const { code, stderr } = await cli('validate', file);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:12:18: services.frontend.calls.0.service: call cycle frontend → backend → frontend`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('schema prints the JSON schema with the new fields', async () => {
    const { code, stdout } = await cli('schema');
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as { properties: { mesh: MeshSpec } };
    expect(JSON.stringify(printed.properties.mesh)).toContain('"perTryTimeout"');
    expect(JSON.stringify(printed)).toContain('"onFailure"');
  });
});

describe('resolveScenario', () => {
  it('never throws on odd call graphs or meshes', () => {
    const base = (services: unknown, mesh: unknown = { balancer: { kind: 'random' } }) => ({
      name: 'x',
      seed: 0,
      seeds: 1,
      duration: '1s',
      warmup: '0s',
      services,
      network: { latency: { dist: 'constant', value: '0s' } },
      workload: [{ name: 'w', target: 'a', arrival: { process: 'constant', rate: '1/s' } }],
      mesh,
    });
    const a = { instances: 1, serviceTime: { dist: 'constant', value: '1ms' } };
    for (const raw of [
      base({ a: { ...a, calls: null } }),
      base({ a: { ...a, calls: [null] } }),
      base({ a: { ...a, calls: [{ service: 'toString' }] } }),
      base({ a: { ...a, calls: [{ service: '__proto__' }] } }),
      base({ a: { ...a, mesh: null } }),
      base({ a: { ...a, mesh: { failover: { retries: null, hedge: [] } } } }),
      base({ a }, { balancer: { kind: 'random' }, failover: { retries: { on: ['5xx'], budget: { kind: 7 } } } }),
      base({ a }, { balancer: { kind: 'random' }, failover: { retries: { on: ['5xx'], budget: [] } } }),
    ]) {
      expect(() => resolveScenario(raw)).not.toThrow();
      expect(resolveScenario(raw).ok).toBe(false);
    }
  });
});
