import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../../src/scenario/load.js';
import { applyOverrides, parseOverridePath } from '../../src/scenario/variants.js';
import { QUICKSTART, linesOf } from './_fixtures.js';

/** QUICKSTART with its variants section (from line 37 on) replaced by `body`. */
function withVariants(body: string): string {
  return `${QUICKSTART.slice(0, QUICKSTART.indexOf('variants:\n'))}variants:\n${body}`;
}

const variantsOf = (text: string) => Object.fromEntries(parseScenarioText(text, 'v.yaml').variants.map((v) => [v.name, v.scenario]));

describe('variants', () => {
  it('apply dotted-path overrides to the base, in file order', () => {
    const loaded = parseScenarioText(QUICKSTART, 'q.yaml');
    expect(loaded.variants.map((v) => v.name)).toEqual(['round-robin', 'random']);
    expect(loaded.variants[0].scenario).toStrictEqual(loaded.base);
    // Services without a mesh of their own take the top-level one, variants included.
    const random = { balancer: { kind: 'random' } };
    const services = Object.fromEntries(Object.entries(loaded.base.services).map(([name, svc]) => [name, { ...svc, mesh: random }]));
    expect(loaded.variants[1].scenario).toStrictEqual({ ...loaded.base, services, mesh: random });
  });

  it('keep file order even for names that look like numbers', () => {
    const text = withVariants('  b: {}\n  "2": {}\n  a: {}\n  "1": {}\n');
    expect(parseScenarioText(text, 'v.yaml').variants.map((v) => v.name)).toEqual(['b', '2', 'a', '1']);
  });

  it('index lists with numeric segments and reach into services by name', () => {
    const v = variantsOf(withVariants('  busy:\n    workload.0.arrival.rate: 3000/s\n    services.api.instances: 20\n    duration: 90s\n')).busy;
    const base = parseScenarioText(QUICKSTART, 'q.yaml').base;
    expect(v.workload[0].arrival).toStrictEqual({ process: 'poisson', rate: 3000, steps: [{ at: 20_000, rate: 3000 }] });
    expect(v.services.api.instances).toBe(20);
    expect(v.duration).toBe(90_000);
    expect(v.workload[1]).toStrictEqual(base.workload[1]);
    expect(base.services.api.instances).toBe(10);
  });

  it('replace values, never merge them', () => {
    const v = variantsOf(withVariants('  fixed:\n    services.api.serviceTime: { dist: constant, value: 20ms }\n')).fixed;
    expect(v.services.api.serviceTime).toStrictEqual({ dist: 'constant', value: 20 });
  });

  it('create missing fields and mappings on the way', () => {
    const text = withVariants('  flat:\n    network: { latency: { dist: constant, value: 1ms } }\n  zoned:\n    network.crossZone: { dist: constant, value: 5ms }\n');
    const { flat, zoned } = variantsOf(text);
    expect(flat.network).toStrictEqual({ latency: { dist: 'constant', value: 1 } });
    expect(zoned.network.crossZone).toStrictEqual({ dist: 'constant', value: 5 });
  });

  it('later overrides apply on top of earlier ones', () => {
    const v = variantsOf(withVariants('  v:\n    mesh.balancer: { kind: round-robin }\n    mesh.balancer.kind: random\n')).v;
    expect(v.mesh.balancer).toStrictEqual({ kind: 'random' });
  });

  it('an empty variant runs the base', () => {
    const loaded = parseScenarioText(withVariants('  baseline:\n  other: {}\n'), 'v.yaml');
    expect(loaded.variants.map((v) => v.name)).toEqual(['baseline', 'other']);
    for (const v of loaded.variants) expect(v.scenario).toStrictEqual(loaded.base);
  });

  it('defaults are resolved per variant', () => {
    const v = variantsOf(withVariants('  slow:\n    workload.0.timeout: 30s\n    services.api.zones: [b, c]\n    workload.0.zone: c\n')).slow;
    expect(v.drain).toBe(30_000);
    expect(v.workload[0].zone).toBe('c');
  });
});

describe('variant errors', () => {
  it('name the variant and point at the override that brought the bad value', () => {
    expect(linesOf(withVariants('  random: { mesh.balancer: { kind: randm } }\n'))).toEqual([
      "q.yaml:37:36: variants.random → mesh.balancer.kind: unknown balancer kind 'randm' (did you mean 'random'?); expected one of round-robin, weighted-round-robin, smooth-weighted-round-robin, random, weighted-random, least-request, p2c, p2c-peak-ewma, ring-hash, maglev, aperture, weighted-least-utilization, or a plugin's kind (load it with --plugin FILE)",
    ]);
  });

  it('point into the override value for nested problems', () => {
    expect(linesOf(withVariants('  slow:\n    services.api:\n      instances: 3\n      serviceTime: { dist: constant, value: 5 }\n'))).toEqual([
      'q.yaml:40:45: variants.slow → services.api.serviceTime.value: expected a duration with a unit, like 250ms; got 5',
    ]);
  });

  it('a misspelt path is an unknown key at the override', () => {
    expect(linesOf(withVariants('  v:\n    mesh.balancr: { kind: random }\n'))).toEqual([
      "q.yaml:38:5: variants.v → mesh.balancr: unknown key; did you mean 'balancer'?",
    ]);
  });

  it('a problem the override causes elsewhere points at the base line', () => {
    expect(linesOf(withVariants('  v:\n    services.api.zones: [x, y]\n'))).toEqual([
      "q.yaml:28:11: variants.v → workload.0.zone: unknown zone 'a'; zones of this scenario's services: x, y, default",
    ]);
  });

  it('paths that cannot be applied', () => {
    expect(linesOf(withVariants('  v:\n    workload.5.timeout: 1s\n    workload.users.timeout: 1s\n    seed.value: 3\n    mesh..balancer: {}\n    variants.x: {}\n'))).toEqual([
      'q.yaml:38:5: variants.v → workload.5.timeout: cannot apply override: workload has 2 items; there is no item 5',
      "q.yaml:39:5: variants.v → workload.users.timeout: cannot apply override: workload is a list; expected an index (0 to 1), got 'users'",
      "q.yaml:40:5: variants.v → seed.value: cannot apply override: a variant cannot override 'seed': every variant runs the same seeds (paired, seed by seed, in the comparisons); set them at the top of the file, or with --seed/--seeds",
      "q.yaml:41:5: variants.v → mesh..balancer: cannot apply override: invalid override path 'mesh..balancer': expected dotted keys like mesh.balancer or workload.0.arrival.rate",
      "q.yaml:42:5: variants.v → variants.x: cannot apply override: a variant cannot override 'variants'",
    ]);
  });

  it('variant names and bodies are checked', () => {
    expect(linesOf(withVariants('  "two words": {}\n  -dash: {}\n  v: [mesh.balancer]\n'))).toEqual([
      "q.yaml:37:3: variants.two words: expected a variant name of letters, digits, ., - and _; got 'two words'",
      "q.yaml:38:3: variants.-dash: expected a variant name of letters, digits, ., - and _; got '-dash'",
      'q.yaml:39:6: variants.v: expected a mapping of overrides by dotted path, like { mesh.balancer: { kind: random } }; got a list',
    ]);
  });

  it('a problem of the base is reported once, not again for every variant', () => {
    const text = withVariants('  a: { services.api.instances: 2 }\n  b: { services.api.instances: 4 }\n').replace('warmup: 5s', 'warmup: 5');
    expect(linesOf(text)).toEqual(['q.yaml:7:9: warmup: expected a duration with a unit, like 250ms; got 5']);
  });
});

describe('applyOverrides', () => {
  it('leaves the base document untouched', () => {
    const base = { a: { b: 1 }, list: [1, 2], variants: { x: {} } };
    const { document, problems } = applyOverrides(base, [
      { key: 'a.b', value: 2 },
      { key: 'list.1', value: 5 },
      { key: 'c.d', value: { e: 1 } },
    ]);
    expect(problems).toEqual([]);
    expect(document).toStrictEqual({ a: { b: 2 }, list: [1, 5], c: { d: { e: 1 } } });
    expect(base).toStrictEqual({ a: { b: 1 }, list: [1, 2], variants: { x: {} } });
  });

  it('sets keys such as __proto__ as plain data', () => {
    const { document } = applyOverrides({}, [{ key: '__proto__.polluted', value: true }]);
    expect(Object.keys(document as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parses dotted paths', () => {
    expect(parseOverridePath('workload.0.arrival.rate')).toEqual(['workload', '0', 'arrival', 'rate']);
    expect(parseOverridePath('a..b')).toMatch(/invalid override path/);
  });

  it('refuses seed, seeds and name: they belong to the file (every variant runs the same seeds; the name names the report)', () => {
    expect(parseOverridePath('seeds')).toBe(
      "a variant cannot override 'seeds': every variant runs the same seeds (paired, seed by seed, in the comparisons); set them at the top of the file, or with --seed/--seeds",
    );
    expect(parseOverridePath('seed')).toMatch(/^a variant cannot override 'seed': every variant runs the same seeds/);
    expect(parseOverridePath('name')).toBe("a variant cannot override 'name': the file's name names its report; variants are named by their keys");
    const lines = linesOf(withVariants('  few: { seeds: 1 }\n  many: { seeds: 5, seed: 100 }\n'));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/variants\.(few|many) → seeds?: cannot apply override: a variant cannot override 'seeds?': /);
  });
});
