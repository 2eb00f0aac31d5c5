import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ScenarioError } from '../../src/scenario/errors.js';
import { loadScenario, parseScenarioText } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/types.js';
import { MINIMAL, QUICKSTART, edit, errorOf, linesOf } from './_fixtures.js';

const QUICKSTART_RESOLVED: Scenario = {
  name: 'quickstart',
  description: 'A small fleet behind one balancer.',
  seed: 1,
  seeds: 3,
  duration: 60_000,
  warmup: 5000,
  drain: 2000,
  services: {
    api: {
      instances: 10,
      zones: ['a', 'b'],
      concurrency: 4,
      queue: 64,
      serviceTime: { dist: 'lognormal', median: 20, p99: 150 },
      weight: 1,
      priority: 0,
      overrides: [{ instances: [3], serviceTime: { dist: 'lognormal', median: 200, p99: 1000 } }],
      calls: [],
      mesh: { balancer: { kind: 'round-robin' } },
    },
    db: {
      instances: 2,
      zones: ['default'],
      concurrency: Infinity,
      queue: Infinity,
      serviceTime: { dist: 'exponential', mean: 5 },
      weight: 1,
      priority: 0,
      overrides: [],
      calls: [],
      mesh: { balancer: { kind: 'round-robin' } },
    },
  },
  network: { latency: { dist: 'exponential', mean: 0.2 }, crossZone: { dist: 'constant', value: 1 } },
  workload: [
    { name: 'users', target: 'api', zone: 'a', sidecars: 1, zones: ['a'], arrival: { process: 'poisson', rate: 1500, steps: [{ at: 20_000, rate: 3000 }] }, timeout: 2000 },
    { name: 'batch', target: 'db', zone: 'default', sidecars: 1, zones: ['default'], arrival: { process: 'closed', clients: 50, think: { dist: 'exponential', mean: 10 } } },
  ],
  mesh: { balancer: { kind: 'round-robin' } },
  membership: [],
  faults: [],
};

describe('parseScenarioText: valid scenarios', () => {
  it('resolves a full scenario: units converted, defaults filled in', () => {
    const loaded = parseScenarioText(QUICKSTART, 'quickstart.yaml');
    expect(loaded.file).toBe('quickstart.yaml');
    expect(loaded.sha256).toBe(createHash('sha256').update(QUICKSTART).digest('hex'));
    expect(loaded.base).toStrictEqual(QUICKSTART_RESOLVED);
    expect(loaded.variants.map((v) => v.name)).toEqual(['round-robin', 'random']);
  });

  it('fills in every default of a minimal scenario', () => {
    const { base, variants } = parseScenarioText(MINIMAL, 'minimal.yaml');
    expect(base.drain).toBe(10_000);
    expect(base.services.api).toStrictEqual({
      instances: 1,
      zones: ['default'],
      concurrency: 1,
      queue: Infinity,
      serviceTime: { dist: 'constant', value: 1 },
      weight: 1,
      priority: 0,
      overrides: [],
      calls: [],
      mesh: { balancer: { kind: 'random' } },
    });
    expect(base.workload[0]).toStrictEqual({ name: 'w', target: 'api', zone: 'default', sidecars: 1, zones: ['default'], arrival: { process: 'constant', rate: 10, steps: [] } });
    expect(base.membership).toStrictEqual([]);
    expect(base.network).toStrictEqual({ latency: { dist: 'constant', value: 0 } });
    expect(base).not.toHaveProperty('description');
    expect(variants).toStrictEqual([{ name: 'base', scenario: base }]);
  });

  it('defaults drain to the longest workload timeout', () => {
    const text = edit(MINIMAL, '    arrival: { process: constant, rate: 10/s }', '    arrival: { process: constant, rate: 10/s }\n    timeout: 1.5s');
    expect(parseScenarioText(text, 'x.yaml').base.drain).toBe(1500);
    expect(parseScenarioText(`${text}drain: 0s\n`, 'x.yaml').base.drain).toBe(0);
  });

  it('reads every distribution', () => {
    const dists: [string, unknown][] = [
      ['{ dist: constant, value: 1ms }', { dist: 'constant', value: 1 }],
      ['{ dist: uniform, min: 1ms, max: 3ms }', { dist: 'uniform', min: 1, max: 3 }],
      ['{ dist: exponential, mean: 250us }', { dist: 'exponential', mean: 0.25 }],
      ['{ dist: normal, mean: 10ms, stddev: 2ms }', { dist: 'normal', mean: 10, stddev: 2 }],
      ['{ dist: lognormal, median: 20ms, p99: 150ms }', { dist: 'lognormal', median: 20, p99: 150 }],
      ['{ dist: lognormal, mu: 3, sigma: 0.5 }', { dist: 'lognormal', mu: 3, sigma: 0.5 }],
      ['{ dist: pareto, scale: 5ms, shape: 1.5 }', { dist: 'pareto', scale: 5, shape: 1.5 }],
      ['{ dist: empirical, values: [1ms, 2ms, 1s] }', { dist: 'empirical', values: [1, 2, 1000] }],
      [
        '{ dist: mixture, of: [{ weight: 0.99, dist: constant, value: 10ms }, { weight: 0.01, dist: lognormal, mu: 6, sigma: 1 }] }',
        { dist: 'mixture', of: [{ weight: 0.99, dist: 'constant', value: 10 }, { weight: 0.01, dist: 'lognormal', mu: 6, sigma: 1 }] },
      ],
    ];
    for (const [text, spec] of dists) {
      const scenario = parseScenarioText(edit(MINIMAL, '{ dist: constant, value: 1ms }', text), 'x.yaml').base;
      expect(scenario.services.api.serviceTime).toStrictEqual(spec);
    }
  });

  it('reads JSON files, and JSON is YAML too', () => {
    const json = JSON.stringify(parseYaml(QUICKSTART), null, 2);
    expect(parseScenarioText(json, 'q.json').base).toStrictEqual(QUICKSTART_RESOLVED);
    expect(parseScenarioText(json, 'q.yaml').base).toStrictEqual(QUICKSTART_RESOLVED);
  });

  it('accepts YAML anchors and aliases', () => {
    const text = `${edit(MINIMAL, 'serviceTime: { dist: constant, value: 1ms }', 'serviceTime: &fast { dist: constant, value: 1ms }')}`.replace(
      'latency: { dist: constant, value: 0s }',
      'latency: *fast',
    );
    expect(parseScenarioText(text, 'x.yaml').base.network.latency).toStrictEqual({ dist: 'constant', value: 1 });
  });
});

describe('parseScenarioText: errors name the file, line, field and what was expected', () => {
  it('a bare number where a duration is needed', () => {
    const error = errorOf(edit(QUICKSTART, 'duration: 60s', 'duration: 60'));
    expect(error.message).toBe('q.yaml:6:11: duration: expected a duration with a unit, like 250ms; got 60');
    expect(error).toMatchObject({ file: 'q.yaml', line: 6, column: 11, path: 'duration', expected: 'a duration with a unit, like 250ms' });
  });

  it('a misspelt key, with a suggestion (and no second error for the key it misses)', () => {
    expect(linesOf(edit(QUICKSTART, '    serviceTime: { dist: lognormal, median: 20ms', '    servceTime: { dist: lognormal, median: 20ms'))).toEqual([
      "q.yaml:14:5: services.api.servceTime: unknown key; did you mean 'serviceTime'?",
    ]);
  });

  it('an unknown key with no likely intent lists the known keys', () => {
    expect(linesOf(edit(QUICKSTART, 'network:\n', 'network:\n  jitter: 1ms\n'))).toEqual([
      'q.yaml:23:3: network.jitter: unknown key; expected one of: latency, crossZone',
    ]);
  });

  it('a workload aimed at a service that does not exist', () => {
    expect(linesOf(edit(QUICKSTART, '    target: api', '    target: apx'))).toEqual([
      "q.yaml:27:13: workload.0.target: unknown service 'apx' (did you mean 'api'?); services: api, db",
    ]);
  });

  it('a zone no service is in', () => {
    expect(linesOf(edit(QUICKSTART, '    zone: a', '    zone: c'))).toEqual([
      "q.yaml:28:11: workload.0.zone: unknown zone 'c'; zones of this scenario's services: a, b, default",
    ]);
  });

  it('locality weights: for zones of the service, and above 0', () => {
    const at = (weights: string): string => edit(QUICKSTART, '    zones: [a, b]\n', `    zones: [a, b]\n    localityWeights: ${weights}\n`);
    expect(parseScenarioText(at('{ a: 1, b: 2.5 }'), 'q.yaml').base.services.api.localityWeights).toEqual({ a: 1, b: 2.5 });
    expect(linesOf(at('{ a: 1, x: 2 }'))).toEqual(["q.yaml:12:33: services.api.localityWeights.x: unknown zone 'x'; service 'api' has zones: a, b"]);
    expect(linesOf(at('{ a: 0 }'))).toEqual(['q.yaml:12:27: services.api.localityWeights.a: expected a locality weight: a number > 0; got 0']);
  });

  it('an unknown balancer kind lists the registered kinds', () => {
    const error = errorOf(edit(QUICKSTART, '{ kind: round-robin }\nvariants', '{ kind: round-robn }\nvariants'));
    expect(error.message).toBe(
      "q.yaml:35:21: mesh.balancer.kind: unknown balancer kind 'round-robn' (did you mean 'round-robin'?); expected one of round-robin, weighted-round-robin, smooth-weighted-round-robin, random, weighted-random, least-request, p2c, p2c-peak-ewma, ring-hash, maglev, aperture, weighted-least-utilization, or a plugin's kind (load it with --plugin FILE)",
    );
    expect(error.expected).toBe(
      "one of round-robin, weighted-round-robin, smooth-weighted-round-robin, random, weighted-random, least-request, p2c, p2c-peak-ewma, ring-hash, maglev, aperture, weighted-least-utilization, or a plugin's kind (load it with --plugin FILE)",
    );
  });

  it('balancer options are checked by the balancer’s own schema', () => {
    expect(linesOf(edit(QUICKSTART, '{ kind: round-robin }\nvariants', '{ kind: round-robin, weights: [1, 2] }\nvariants'))).toEqual([
      "q.yaml:35:34: mesh.balancer.weights: unknown option; balancer 'round-robin' takes: overprovisioningFactor, panicThreshold, localityWeighted, zoneAware, slowStart",
    ]);
  });

  it('an override of an instance that does not exist', () => {
    expect(linesOf(edit(QUICKSTART, '      - instances: [3]', '      - instances: [12]'))).toEqual([
      "q.yaml:16:21: services.api.overrides.0.instances.0: instance 12 does not exist: service 'api' has 10 instances, numbered 0 to 9",
    ]);
  });

  it('warmup not shorter than duration', () => {
    expect(linesOf(edit(QUICKSTART, 'warmup: 5s', 'warmup: 2m'))).toEqual(['q.yaml:7:9: warmup: warmup (2m) must be shorter than duration (1m)']);
  });

  it('a missing field points at its parent', () => {
    const error = errorOf(edit(QUICKSTART, '    serviceTime: { dist: exponential, mean: 5ms }\n', ''));
    expect(error.message).toBe('q.yaml:18:3: services.db.serviceTime: missing; expected a distribution, like { dist: exponential, mean: 10ms }');
  });

  it('an unknown distribution, with a suggestion', () => {
    expect(linesOf(edit(QUICKSTART, 'dist: lognormal, median: 20ms', 'dist: lognorml, median: 20ms'))).toEqual([
      "q.yaml:14:26: services.api.serviceTime.dist: unknown distribution 'lognorml' (did you mean 'lognormal'?); expected one of constant, uniform, exponential, normal, lognormal, pareto, empirical, mixture",
    ]);
  });

  it('distribution parameters are checked by the distribution library', () => {
    expect(linesOf(edit(QUICKSTART, 'p99: 150ms', 'p99: 10ms'))).toEqual(['q.yaml:14:56: services.api.serviceTime.p99: p99 must be greater than median']);
  });

  it('lognormal takes one pair of parameters', () => {
    expect(linesOf(edit(QUICKSTART, 'median: 20ms, p99: 150ms', 'median: 20ms, sigma: 1'))).toEqual([
      'q.yaml:14:18: services.api.serviceTime: lognormal takes either median and p99 (durations) or mu and sigma (numbers, of ln(ms)), not both',
    ]);
  });

  it('numbers out of range', () => {
    expect(linesOf(edit(QUICKSTART, 'seeds: 3', 'seeds: 0'))).toEqual(['q.yaml:5:8: seeds: expected a whole number ≥ 1; got 0']);
    expect(linesOf(edit(QUICKSTART, 'seed: 1', 'seed: -1'))).toEqual(['q.yaml:4:7: seed: expected a whole number ≥ 0; got -1']);
    expect(linesOf(edit(QUICKSTART, 'instances: 10', 'instances: 2.5'))).toEqual(['q.yaml:10:16: services.api.instances: expected a whole number ≥ 1; got 2.5']);
    expect(linesOf(edit(QUICKSTART, 'concurrency: 4', 'concurrency: 0'))).toEqual([
      'q.yaml:12:18: services.api.concurrency: expected a whole number from 1 to 2,147,483,647, or unbounded (no limit); got 0',
    ]);
    expect(linesOf(edit(QUICKSTART, 'queue: 64', 'queue: lots'))).toEqual(["q.yaml:13:12: services.api.queue: expected a whole number from 0 to 2,147,483,647, or unbounded (no limit); got 'lots'"]);
    expect(linesOf(edit(QUICKSTART, 'rate: 1500/s', 'rate: 0/s'))).toEqual(['q.yaml:29:40: workload.0.arrival.rate: expected a rate > 0, like 1500/s; got 0/s']);
  });

  it('duplicate workload names', () => {
    expect(linesOf(edit(QUICKSTART, '  - name: batch', '  - name: users'))).toEqual(["q.yaml:31:11: workload.1.name: duplicate workload name 'users' (also workload.0)"]);
  });

  it('an unknown schema version', () => {
    expect(linesOf(edit(QUICKSTART, 'schema: meshsim/scenario@1', 'schema: meshsim/scenario@2'))).toEqual([
      "q.yaml:1:9: schema: unsupported schema 'meshsim/scenario@2'; this version of meshsim reads meshsim/scenario@1",
    ]);
  });

  it('no services, no workload', () => {
    const text = edit(edit(MINIMAL, 'services:\n  api:\n    instances: 1\n    serviceTime: { dist: constant, value: 1ms }\n', 'services: {}\n'), 'workload:\n  - name: w\n    target: api\n    arrival: { process: constant, rate: 10/s }\n', 'workload: []\n');
    expect(linesOf(text, 'm.yaml')).toEqual(['m.yaml:6:11: services: expected at least one service', 'm.yaml:9:11: workload: expected at least one workload']);
  });

  it('reports every field problem at once, in file order', () => {
    let text = edit(QUICKSTART, 'duration: 60s', 'duration: 60');
    text = edit(text, 'concurrency: 4', 'concurrency: none');
    text = edit(text, 'mean: 200us', 'mean: 200');
    const error = errorOf(text);
    expect(error.issues.map((i) => `${i.line}: ${i.path}`)).toEqual(['6: duration', '12: services.api.concurrency', '23: network.latency.mean']);
    expect(error.message.split('\n')).toHaveLength(3);
    expect(error.line).toBe(6);
  });

  it('caps the listed problems', () => {
    const junk = Array.from({ length: 60 }, (_, i) => `junk${i}: 1`).join('\n');
    const error = errorOf(`${QUICKSTART}${junk}\n`);
    expect(error.issues).toHaveLength(60);
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(51);
    expect(lines[50]).toBe('... and 10 more problems');
  });

  it('a top level that is not a mapping', () => {
    expect(linesOf('- a\n- b\n')).toEqual([
      'q.yaml:1:1: expected a scenario: a mapping with name, seed, seeds, duration, warmup, services, network, workload and mesh; got a list',
    ]);
    expect(linesOf('')).toEqual([
      'q.yaml: the file is empty; expected a meshsim/scenario@1 scenario: a mapping with name, seed, seeds, duration, warmup, services, network, workload and mesh',
    ]);
  });

  it('YAML syntax errors, with line and column', () => {
    expect(linesOf(edit(QUICKSTART, 'zones: [a, b]', 'zones: [a, b'))).toEqual([
      'q.yaml:12:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(linesOf(edit(QUICKSTART, 'seeds: 3', 'seed: 3'))).toEqual(['q.yaml:5:1: invalid YAML: Map keys must be unique']);
  });

  it('several YAML documents: one scenario per file, the documents counted, at the second (not the YAML library\'s advice)', () => {
    expect(linesOf(`${MINIMAL}---\n${MINIMAL}---\n${MINIMAL}`)).toEqual([
      'q.yaml:18:1: one scenario per file; found 3 YAML documents (each --- line starts another): put each scenario in a file of its own',
    ]);
    // A --- opening the one document is no second one.
    expect(parseScenarioText(`---\n${MINIMAL}`, 'q.yaml').base.name).toBe('minimal');
  });

  it('JSON syntax errors, with line and column', () => {
    const json = JSON.stringify(parseYaml(QUICKSTART), null, 2).replace('"seeds": 3,', '"seeds": 3,,');
    // The reason is V8's wording, which varies between Node versions; the place does not.
    const lines = linesOf(json, 'q.json');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^q\.json:6:14: invalid JSON: \S/);
  });

  it('JSON field errors are located too', () => {
    const json = JSON.stringify(parseYaml(QUICKSTART), null, 2).replace('"seeds": 3', '"seeds": "three"');
    expect(linesOf(json, 'q.json')).toEqual(["q.json:6:12: seeds: expected a whole number ≥ 1; got 'three'"]);
  });
});

describe('loadScenario', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshsim-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and hashes its bytes', () => {
    const file = join(dir, 'quickstart.yaml');
    writeFileSync(file, QUICKSTART);
    const loaded = loadScenario(file);
    expect(loaded.file).toBe(file);
    expect(loaded.sha256).toBe(createHash('sha256').update(QUICKSTART).digest('hex'));
    expect(loaded.base).toStrictEqual(QUICKSTART_RESOLVED);
  });

  it('a missing file is a ScenarioError', () => {
    const file = join(dir, 'nope.yaml');
    const error = (() => {
      try {
        loadScenario(file);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).message).toBe(`${file}: cannot read scenario file: no such file`);
  });

  it('bytes that are not UTF-8 are a ScenarioError', () => {
    const file = join(dir, 'binary.yaml');
    writeFileSync(file, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe]));
    expect(() => loadScenario(file)).toThrow(`${file}: cannot read scenario file: it is not valid UTF-8 text`);
  });
});

describe('robustness', () => {
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

  /** Every path to a value in a JSON document. */
  function pathsOf(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
    const here = [prefix];
    if (Array.isArray(value)) return here.concat(value.flatMap((v, i) => pathsOf(v, [...prefix, i])));
    if (value !== null && typeof value === 'object') return here.concat(Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k])));
    return here;
  }

  function mutate(doc: Json, path: (string | number)[], op: 'delete' | 'replace' | 'insert', value: Json, key: string): Json {
    if (path.length === 0) return op === 'replace' ? value : doc;
    const copy = structuredClone(doc) as Json;
    let parent = copy as Record<string, Json> | Json[];
    for (const segment of path.slice(0, -1)) parent = (parent as Record<string, Json>)[segment] as Record<string, Json>;
    const last = path[path.length - 1];
    const target = (parent as Record<string, Json>)[last];
    if (op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op === 'replace') {
      (parent as Record<string, Json>)[last] = value;
    } else if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }

  const base = parseYaml(QUICKSTART) as Json;
  const paths = pathsOf(base);

  it('mutated documents either load or fail with a ScenarioError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            path: fc.constantFrom(...paths),
            op: fc.constantFrom('delete' as const, 'replace' as const, 'insert' as const),
            value: fc.jsonValue() as fc.Arbitrary<Json>,
            key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'servceTime', 'kind', 'dist')),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.boolean(),
        (mutations, asJson) => {
          let doc = base;
          for (const m of mutations) {
            const exists = pathsOf(doc).some((p) => p.length === m.path.length && p.every((s, i) => s === m.path[i]));
            if (exists) doc = mutate(doc, m.path, m.op, m.value, m.key);
          }
          const text = asJson ? JSON.stringify(doc) : stringifyYaml(doc);
          try {
            parseScenarioText(text, asJson ? 'm.json' : 'm.yaml');
          } catch (error) {
            if (!(error instanceof ScenarioError)) throw error;
            for (const issue of error.issues) expect(issue.message.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('mangled text either loads or fails with a ScenarioError', () => {
    fc.assert(
      fc.property(fc.nat(QUICKSTART.length), fc.nat(20), fc.string({ maxLength: 5 }), (at, cut, insert) => {
        const text = QUICKSTART.slice(0, at) + insert + QUICKSTART.slice(at + cut);
        try {
          parseScenarioText(text, 'm.yaml');
        } catch (error) {
          if (!(error instanceof ScenarioError)) throw error;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
