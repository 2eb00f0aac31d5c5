import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseScenarioText } from '../../src/scenario/load.js';
import { resolveScenario, scenarioJsonSchema } from '../../src/scenario/schema.js';
import { tinyScenario } from '../_tiny-scenario.js';
import { MINIMAL, QUICKSTART } from './_fixtures.js';

type RawDocument = { warmup: string; services: Record<string, Record<string, unknown>>; workload: Record<string, unknown>[] };
const minimal = () => parseYaml(MINIMAL) as RawDocument;

describe('resolveScenario', () => {
  it('resolves a raw document', () => {
    const r = resolveScenario(parseYaml(QUICKSTART));
    expect(r.ok).toBe(true);
  });

  it('reports problems by path, marking those about a key rather than its value', () => {
    const doc = minimal();
    doc.services.api.instancez = 3;
    doc.services['bad.name'] = doc.services.api;
    const r = resolveScenario(doc);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues).toEqual([
      { path: ['services', 'api', 'instancez'], message: "unknown key; did you mean 'instances'?", atKey: true },
      {
        path: ['services', 'bad.name'],
        message: "expected a service name of letters, digits, - and _; got 'bad.name'",
        expected: 'a service name of letters, digits, - and _',
        atKey: true,
      },
    ]);
  });

  it('runs cross-field checks once every field is valid, and reports them all', () => {
    const doc = minimal();
    doc.warmup = '10s';
    doc.workload.push({ name: 'w', target: 'db', arrival: { process: 'poisson', rate: '1/s', steps: [{ at: '2s', rate: '2/s' }, { at: '1s', rate: '3/s' }] } });
    const r = resolveScenario(doc);
    expect(!r.ok && r.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'warmup: warmup (10s) must be shorter than duration (10s)',
      "workload.1.name: duplicate workload name 'w' (also workload.0)",
      "workload.1.target: unknown service 'db'; services: api",
      'workload.1.arrival.steps.1.at: steps must be in increasing order of time: 1s does not come after 2s',
    ]);
  });

  it('keeps a balancer’s kind and its parsed options', () => {
    const r = resolveScenario(minimal());
    expect(r.ok && r.scenario.mesh.balancer).toStrictEqual({ kind: 'random' });
  });

  it('never throws on odd input', () => {
    for (const raw of [undefined, null, 0, 'x', [], {}, { services: { __proto__: 1 } }, { schema: 7 }, { mesh: { balancer: { kind: 'toString' } } }]) {
      expect(() => resolveScenario(raw)).not.toThrow();
      expect(resolveScenario(raw).ok).toBe(false);
    }
  });
});

describe('an error fault', () => {
  const withFault = (status: number) => ({ ...minimal(), faults: [{ kind: 'error', target: { service: 'api' }, at: '1s', rate: '50%', status }] });

  it('answers with a 5xx: a status below 500 is refused (the simulator would count it a failure, the live proxy a success)', () => {
    for (const status of [200, 404, 409, 499, 600]) {
      const r = resolveScenario(withFault(status));
      expect(r.ok, String(status)).toBe(false);
      expect(!r.ok && r.issues, String(status)).toEqual([
        expect.objectContaining({
          path: ['faults', 0, 'status'],
          message: `expected a 5xx HTTP status code from 500 to 599, like 503 (an error fault answers with a server error); got ${status}`,
        }),
      ]);
    }
    for (const status of [500, 503, 599]) {
      const r = resolveScenario(withFault(status));
      expect(r.ok && r.scenario.faults[0].status, String(status)).toBe(status);
    }
  });
});

describe('scenarioJsonSchema', () => {
  const schema = scenarioJsonSchema() as {
    title: string;
    type: string;
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, { properties?: Record<string, unknown> }>;
  };

  it('describes the file format for editors', () => {
    expect(schema.title).toBe('meshsim/scenario@1');
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['name', 'seed', 'seeds', 'duration', 'warmup', 'services', 'network', 'workload', 'mesh']);
    expect(Object.keys(schema.properties)).toContain('variants');
  });

  it('offers one alternative per registered balancer', () => {
    const balancer = JSON.stringify(schema.properties.mesh.properties?.balancer);
    expect(balancer).toContain('"const":"round-robin"');
    expect(balancer).toContain('"const":"random"');
  });

  it('gives durations a pattern', () => {
    expect(JSON.stringify(schema.properties.duration)).toContain('"pattern"');
  });

  it("takes a sweep's values as a list or as a range string, as validate does (max: 0..3)", () => {
    const sweep = schema.properties.sweep as { additionalProperties: { oneOf: { type: string; pattern?: string; minItems?: number }[] } };
    const [list, range] = sweep.additionalProperties.oneOf;
    expect(list).toMatchObject({ type: 'array', minItems: 1 });
    expect(range.type).toBe('string');
    // JSON Schema patterns are ECMA-262 regular expressions with the u flag, and no flag else.
    const pattern = new RegExp(range.pattern ?? '', 'u');
    for (const text of ['0..3', '10%..50% step 20%', '100ms..500ms STEP 100ms', ' 1 .. 4 ']) expect(pattern.test(text), text).toBe(true);
    for (const text of ['0,1,2', 'p2c', '..3', '0..', '10%..50% by 10%']) expect(pattern.test(text), text).toBe(false);
    // What the pattern describes loads: the range stands for its values.
    const loaded = parseScenarioText(tinyScenario({ variants: { rr: '{}' }, tail: "sweep:\n  services.api.instances: 1..3\n  network.latency.value: 100us..300us step 100us\n" }), 'ranges.yaml');
    expect(loaded.variants).toHaveLength(9);
  });

  it('is plain JSON', () => {
    expect(JSON.parse(JSON.stringify(schema))).toStrictEqual(schema);
  });
});
