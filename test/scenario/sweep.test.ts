/**
 * Sweeps (src/scenario/sweep.ts, loaded by src/scenario/load.ts): a `sweep:` grid expands
 * into variants in key order, last key fastest, named from the values; on top of each named
 * variant; bad paths, values and sizes are errors naming `sweep.<path>`; printing keeps it.
 */
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../../src/scenario/load.js';
import { printScenario } from '../../src/scenario/print.js';
import { expandRange, expandSweep, identicalVariants, identicalVariantsWarning, MAX_SWEEP_POINTS, parseSweepOption, stableJson, sweepSize } from '../../src/scenario/sweep.js';
import { VARIANT_NAME } from '../../src/scenario/schema.js';
import { errorOf, linesOf, MINIMAL } from './_fixtures.js';

/** MINIMAL with a retry policy to sweep, and `extra` appended. */
const RETRYING = MINIMAL.replace('  balancer: { kind: random }\n', '  balancer: { kind: random }\n  failover:\n    retries: { max: 1, on: [5xx], budget: { kind: envoy-budget } }\n');
const withSweep = (extra: string): string => `${RETRYING}${extra}`;

const GRID = withSweep(`sweep:
  mesh.failover.retries.max: [0, 1, 2, 3]
  mesh.failover.retries.budget.budgetPercent: [10%, 30%, 50%]
  mesh.balancer: [{ kind: round-robin }, { kind: p2c }]
`);

describe('sweep: expansion', () => {
  it('is the Cartesian product in key order, the last key fastest, named from the values', () => {
    const loaded = parseScenarioText(GRID, 'g.yaml');
    expect(loaded.variants).toHaveLength(4 * 3 * 2);
    const names = loaded.variants.map((v) => v.name);
    expect(names.slice(0, 4)).toEqual([
      'max-0_budgetPercent-10pct_balancer-round-robin',
      'max-0_budgetPercent-10pct_balancer-p2c',
      'max-0_budgetPercent-30pct_balancer-round-robin',
      'max-0_budgetPercent-30pct_balancer-p2c',
    ]);
    expect(names.at(-1)).toBe('max-3_budgetPercent-50pct_balancer-p2c');
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(VARIANT_NAME);
    // Each point's values are applied (and resolved: 30% → 0.3).
    const v = loaded.variants.find((x) => x.name === 'max-2_budgetPercent-30pct_balancer-p2c')!;
    expect(v.scenario.mesh.balancer.kind).toBe('p2c');
    expect(v.scenario.mesh.failover?.retries?.max).toBe(2);
    expect(v.scenario.mesh.failover?.retries?.budget).toMatchObject({ kind: 'envoy-budget', budgetPercent: 0.3 });
    // The base keeps the sweep as written; the variants do not carry it.
    expect(loaded.base.sweep).toEqual({
      'mesh.failover.retries.max': [0, 1, 2, 3],
      'mesh.failover.retries.budget.budgetPercent': ['10%', '30%', '50%'],
      'mesh.balancer': [{ kind: 'round-robin' }, { kind: 'p2c' }],
    });
    expect(v.scenario.sweep).toBeUndefined();
  });

  it('is deterministic', () => {
    const a = parseScenarioText(GRID, 'g.yaml').variants;
    const b = parseScenarioText(GRID, 'g.yaml').variants;
    expect(a).toEqual(b);
  });

  it('applies on top of each named variant: variants × points, named variant_point', () => {
    const text = withSweep(`variants:
  rr: { mesh.balancer: { kind: round-robin } }
  two: { services.api.instances: 2 }
sweep:
  mesh.failover.retries.max: [0, 2]
`);
    const loaded = parseScenarioText(text, 'v.yaml');
    expect(loaded.variants.map((v) => v.name)).toEqual(['rr_max-0', 'rr_max-2', 'two_max-0', 'two_max-2']);
    const [rr0, , , two2] = loaded.variants.map((v) => v.scenario);
    expect(rr0.mesh.balancer.kind).toBe('round-robin');
    expect(rr0.mesh.failover?.retries?.max).toBe(0);
    expect(two2.services.api.instances).toBe(2);
    expect(two2.mesh.balancer.kind).toBe('random');
    expect(two2.mesh.failover?.retries?.max).toBe(2);
  });

  it('the sweep wins over a named variant that sets the same path', () => {
    const text = withSweep(`variants:
  three: { mesh.failover.retries.max: 3 }
sweep:
  mesh.failover.retries.max: [0, 1]
`);
    expect(parseScenarioText(text, 'v.yaml').variants.map((v) => v.scenario.mesh.failover?.retries?.max)).toEqual([0, 1]);
  });

  it('names: longer labels for paths ending alike, JSON for objects without a kind, kinds made distinct', () => {
    const axes = [
      { key: 'services.api.instances', values: [1, 2] },
      { key: 'services.db.instances', values: [3] },
      { key: 'mesh.balancer', values: [{ kind: 'p2c' }, { kind: 'p2c', choices: 3 }, { kind: 'random' }] },
      { key: 'mesh.failover.retries', values: [{ on: ['5xx'], max: 1 }] },
      { key: 'workload.0', values: [-1] },
    ];
    const names = expandSweep(axes).map((p) => p.name);
    expect(sweepSize(axes)).toBe(6);
    expect(names[0]).toBe('api.instances-1_db.instances-3_balancer-kind-p2c_retries-max-1-on-5xx_workload.0--1');
    expect(names[1]).toBe('api.instances-1_db.instances-3_balancer-choices-3-kind-p2c_retries-max-1-on-5xx_workload.0--1');
    expect(names[2]).toBe('api.instances-1_db.instances-3_balancer-random_retries-max-1-on-5xx_workload.0--1');
    for (const name of names) expect(name).toMatch(VARIANT_NAME);
  });

  it('names: values with nothing readable fall back to an index, taken names get a suffix', () => {
    expect(expandSweep([{ key: 'name', values: ['!!', '??'] }]).map((p) => p.name)).toEqual(['name-v0', 'name-v1']);
    expect(expandSweep([{ key: 'x', values: [1] }], 'a', new Set(['a_x-1'])).map((p) => p.name)).toEqual(['a_x-1-2']);
    expect(expandSweep([{ key: 'x', values: ['é'] }], '').map((p) => p.name)).toEqual(['x-v0']);
  });

  it('stableJson sorts keys', () => {
    expect(stableJson({ b: 1, a: [true, null, 'x'] })).toBe('{"a":[true,null,"x"],"b":1}');
  });
});

describe('sweep: ranges', () => {
  it('expand whole numbers with both ends included, and units or fractions by a step', () => {
    expect(expandRange('0..3')).toEqual([0, 1, 2, 3]);
    expect(expandRange('-1 .. 1')).toEqual([-1, 0, 1]);
    expect(expandRange('5..5')).toEqual([5]);
    expect(expandRange('10%..50% step 10%')).toEqual(['10%', '20%', '30%', '40%', '50%']);
    expect(expandRange('100ms..300ms step 100ms')).toEqual(['100ms', '200ms', '300ms']);
    expect(expandRange('0.1..0.3 step 0.1')).toEqual([0.1, 0.2, 0.3]); // no 0.30000000000000004
    expect(expandRange('0..10 step 4')).toEqual([0, 4, 8]); // the end is included only when a step lands on it
  });

  it('say what is wrong with a malformed range', () => {
    expect(() => expandRange('3..0')).toThrow(/runs backwards/);
    expect(() => expandRange('10%..50%')).toThrow(/needs a step, like 10%\.\.50% step 10%/);
    expect(() => expandRange('10%..50ms step 10%')).toThrow(/same unit/);
    expect(() => expandRange('0..3 step 0')).toThrow(/not a range|above 0/);
    expect(() => expandRange('1..x')).toThrow(/is not a range like 0\.\.3/);
    expect(() => expandRange(`0..${MAX_SWEEP_POINTS}`)).toThrow(/at most/);
  });

  it('in a file and on the command line, a range stands for its values, alone or in a list', () => {
    const file = parseScenarioText(withSweep('sweep:\n  mesh.failover.retries.max: 0..2\n  mesh.failover.retries.budget.budgetPercent: [10%..30% step 10%, 50%]\n'), 'q.yaml');
    const listed = parseScenarioText(withSweep('sweep:\n  mesh.failover.retries.max: [0, 1, 2]\n  mesh.failover.retries.budget.budgetPercent: [10%, 20%, 30%, 50%]\n'), 'q.yaml');
    expect(file.variants.map((v) => v.name)).toEqual(listed.variants.map((v) => v.name));
    expect(file.variants.map((v) => v.scenario)).toEqual(listed.variants.map((v) => v.scenario));
    expect(parseSweepOption('mesh.failover.retries.max=0..3')).toEqual({ key: 'mesh.failover.retries.max', values: [0, 1, 2, 3] });
    expect(parseSweepOption('x.budgetPercent=10%..30% step 10%,50%').values).toEqual(['10%', '20%', '30%', '50%']);
    expect(() => parseSweepOption('x.max=3..1')).toThrow(/^x\.max: '3\.\.1': the range runs backwards/);
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries.max: 3..0\n'))).toEqual([
      "q.yaml:21:30: sweep.mesh.failover.retries.max: '3..0': the range runs backwards; write the smaller end first",
    ]);
  });
});

describe('sweep: errors', () => {
  it('an empty list, a value that is not a list, an empty sweep', () => {
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries.max: []\n'))).toEqual([
      'q.yaml:21:30: sweep.mesh.failover.retries.max: an empty list; expected at least one value to sweep over',
    ]);
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries.max: 2\n'))).toEqual([
      'q.yaml:21:30: sweep.mesh.failover.retries.max: expected a list of values to sweep over, like [0, 1, 2]; got 2',
    ]);
    expect(linesOf(withSweep('sweep: {}\n'))[0]).toMatch(/^q\.yaml:20:8: sweep: an empty sweep/);
    expect(linesOf(withSweep('sweep: [1]\n'))[0]).toMatch(/^q\.yaml:20:8: sweep: expected a mapping of dotted paths to lists of values/);
  });

  it('a path not in the schema names sweep.<path>, once, with a suggestion', () => {
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries.maxx: [1, 2, 3]\n'))).toEqual(["q.yaml:21:3: sweep.mesh.failover.retries.maxx: unknown key; did you mean 'max'?"]);
  });

  it('a bad value is placed at that value', () => {
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries.max: [0, -1]\n  mesh.balancer.kind: [p2c, p2cc]\n'))).toEqual([
      'q.yaml:21:34: sweep.mesh.failover.retries.max: expected a number ≥ 0; got -1',
      expect.stringMatching(/^q\.yaml:22:29: sweep\.mesh\.balancer\.kind: unknown balancer kind 'p2cc' \(did you mean 'p2c'\?\)/),
    ]);
    expect(linesOf(withSweep('sweep:\n  mesh.failover.retries: [{ max: 1 }]\n'))).toEqual(['q.yaml:21:27: sweep.mesh.failover.retries → on: missing; expected a list']);
  });

  it('paths that cannot be applied, or swept', () => {
    expect(linesOf(withSweep('sweep:\n  services.api.instances.x: [1]\n'))).toEqual([
      "q.yaml:21:3: sweep.services.api.instances.x: cannot apply override: cannot set 'x' inside services.api.instances: it is 1, not a mapping",
    ]);
    expect(linesOf(withSweep('sweep:\n  variants.x: [1]\n  sweep.y: [1]\n  assert: [[]]\n  a..b: [1]\n'))).toEqual([
      "q.yaml:21:3: sweep.variants.x: a sweep cannot set 'variants'",
      "q.yaml:22:3: sweep.sweep.y: a sweep cannot set 'sweep'",
      "q.yaml:23:3: sweep.assert: a sweep cannot set 'assert'",
      "q.yaml:24:3: sweep.a..b: invalid path 'a..b': expected dotted keys like mesh.balancer or workload.0.arrival.rate",
    ]);
  });

  it('a problem a point causes elsewhere names the swept path', () => {
    const text = MINIMAL + 'sweep:\n  mesh.failover.retries.max: [1, 2]\n';
    expect(linesOf(text)).toEqual(['q.yaml:19:3: sweep.mesh.failover.retries.max → mesh.failover.retries.on: missing; expected a list']);
  });

  it('a value listed twice', () => {
    expect(linesOf(withSweep('sweep:\n  mesh.balancer: [{ kind: p2c }, { kind: random }, { kind: p2c }]\n'))).toEqual([
      'q.yaml:21:52: sweep.mesh.balancer.2: {"kind":"p2c"} is listed twice; each value once',
    ]);
  });

  it(`a grid over ${MAX_SWEEP_POINTS} points`, () => {
    const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
    const text = withSweep(`sweep:\n  services.api.instances: ${list(101)}\n  workload.0.sidecars: ${list(100)}\n`);
    expect(linesOf(text)).toEqual(['q.yaml:20:1: sweep: a grid of 101 × 100 = 10100 points; at most 10000 (sweep fewer values, or split the sweep into files)']);
    expect(() => expandSweep([{ key: 'a', values: new Array(101).fill(0) }, { key: 'b', values: new Array(100).fill(0) }])).toThrow(RangeError);
  });

  it('a variant cannot override sweep', () => {
    expect(errorOf(withSweep('variants:\n  a: { sweep.x: [1] }\n')).message).toContain("a variant cannot override 'sweep'");
  });

  it('assert rules name the expanded variants', () => {
    const text = withSweep("sweep:\n  mesh.failover.retries.max: [0, 1]\nassert:\n  - { variant: max-1, rule: p99 < 1s }\n  - { variant: max-9, rule: p99 < 1s }\n");
    expect(linesOf(text)).toEqual(["q.yaml:24:16: assert.1.variant: unknown variant 'max-9' (did you mean 'max-0'?); the sweep's variants are max-0, max-1"]);
    expect(parseScenarioText(text.replace('max-9', 'max-0'), 'q.yaml').base.assert).toHaveLength(2);
  });

  it('a rule naming a named variant under a sweep checks each of its points (it runs only as them)', () => {
    const text = withSweep(
      "variants:\n  rr: { mesh.balancer: { kind: round-robin } }\n  rnd: {}\nsweep:\n  mesh.failover.retries.max: [0, 1]\nassert:\n  - p99 < 1s\n  - { variant: rr, rule: successRate > 99.99% }\n  - { variant: rnd_max-1, rule: p50 < 1s }\n",
    );
    const loaded = parseScenarioText(text, 'q.yaml');
    expect(loaded.variants.map((v) => v.name)).toEqual(['rr_max-0', 'rr_max-1', 'rnd_max-0', 'rnd_max-1']);
    expect(loaded.base.assert?.map((r) => [r.variant, r.text])).toEqual([
      [undefined, 'p99 < 1s'],
      ['rr_max-0', 'successRate > 99.99%'],
      ['rr_max-1', 'successRate > 99.99%'],
      ['rnd_max-1', 'p50 < 1s'],
    ]);
    expect(linesOf(text.replace('variant: rr,', 'variant: rrr,'))).toEqual([
      "q.yaml:27:16: assert.1.variant: unknown variant 'rrr' (did you mean 'rr'?); the sweep's variants are rr_max-0, rr_max-1, rnd_max-0, rnd_max-1",
    ]);
  });

  it('seed, seeds and name belong to the file: a sweep (in the file or --sweep) cannot set them', () => {
    for (const key of ['seed', 'seeds', 'name']) {
      const text = withSweep(`sweep:\n  ${key}: [1, 2]\n`);
      expect(errorOf(text).message, key).toContain(`sweep.${key}: a sweep cannot set '${key}': `);
      expect(() => parseSweepOption(`${key}=1,2`), key).toThrow(`a sweep cannot set '${key}': `);
    }
    expect(errorOf(withSweep('sweep:\n  seeds: [1, 3]\n')).message).toContain('every variant runs the same seeds (paired, seed by seed, in the comparisons); set them at the top of the file, or with --seed/--seeds');
  });

  it("--sweep does not replace a file's malformed sweep (a list, an empty list, null): the file's error stands", () => {
    const axis = [parseSweepOption('mesh.failover.retries.max=0,1')];
    for (const bad of ['sweep:\n  - mesh.failover.retries.max: [0, 1]\n', 'sweep: []\n', 'sweep: null\n']) {
      expect(() => parseScenarioText(withSweep(bad), 'q.yaml', { sweep: axis }), bad).toThrow(/sweep: expected a mapping of dotted paths to lists of values/);
    }
  });
});

describe('sweep: from the command line (--sweep)', () => {
  it('parses PATH=VALUES as a YAML flow sequence, brackets optional', () => {
    expect(parseSweepOption('mesh.failover.retries.max=0,1,2')).toEqual({ key: 'mesh.failover.retries.max', values: [0, 1, 2] });
    expect(parseSweepOption('mesh.failover.retries.max=[0, 1]')).toEqual({ key: 'mesh.failover.retries.max', values: [0, 1] });
    expect(parseSweepOption('mesh.balancer={kind: p2c},{kind: random}')).toEqual({ key: 'mesh.balancer', values: [{ kind: 'p2c' }, { kind: 'random' }] });
    expect(parseSweepOption('x.budgetPercent=10%, 30%')).toEqual({ key: 'x.budgetPercent', values: ['10%', '30%'] });
    expect(parseSweepOption('x.on=[[5xx, reset], [5xx]]')).toEqual({ key: 'x.on', values: [['5xx', 'reset'], ['5xx']] });
    expect(parseSweepOption('x.on=[5xx, reset],[5xx]')).toEqual({ key: 'x.on', values: [['5xx', 'reset'], ['5xx']] });
    expect(parseSweepOption('x.label=a=b')).toEqual({ key: 'x.label', values: ['a=b'] });
  });

  it('rejects what is not PATH=VALUES', () => {
    expect(() => parseSweepOption('mesh.balancer')).toThrow(/expected PATH=VALUES/);
    expect(() => parseSweepOption('=1')).toThrow(/missing the path/);
    expect(() => parseSweepOption('a.b=')).toThrow(/no values after 'a.b='/);
    expect(() => parseSweepOption('a.b=[]')).toThrow(/expected at least one value/);
    expect(() => parseSweepOption('a.b={kind: p2c')).toThrow(/cannot read the values as YAML/);
    expect(() => parseSweepOption('a.b=1,1')).toThrow(/listed twice/);
    expect(() => parseSweepOption('variants.a=1')).toThrow(/cannot set 'variants'/);
  });

  it('combines with the file: replaces keys of the same path in place, adds the others after', () => {
    const loaded = parseScenarioText(GRID, 'g.yaml', {
      sweep: [parseSweepOption('mesh.failover.retries.budget.budgetPercent=20%'), parseSweepOption('services.api.instances=1,2')],
    });
    expect(loaded.variants).toHaveLength(4 * 1 * 2 * 2);
    expect(loaded.variants[0].name).toBe('max-0_budgetPercent-20pct_balancer-round-robin_instances-1');
    expect(Object.keys(loaded.base.sweep ?? {})).toEqual(['mesh.failover.retries.max', 'mesh.failover.retries.budget.budgetPercent', 'mesh.balancer', 'services.api.instances']);
  });

  it('works on a file without a sweep; its problems name --sweep, not a line', () => {
    expect(parseScenarioText(RETRYING, 'r.yaml', { sweep: [parseSweepOption('mesh.failover.retries.max=0,1')] }).variants.map((v) => v.name)).toEqual(['max-0', 'max-1']);
    try {
      parseScenarioText(RETRYING, 'r.yaml', { sweep: [parseSweepOption('mesh.failover.retries.max=0,-1')] });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toBe('r.yaml: --sweep mesh.failover.retries.max: expected a number ≥ 0; got -1');
    }
  });
});

describe('sweep: printing', () => {
  it('round-trips: the printed scenario keeps its sweep and expands the same', () => {
    const loaded = parseScenarioText(GRID, 'g.yaml');
    const printed = printScenario(loaded.base);
    expect(printed).toContain('sweep:\n  mesh.failover.retries.max: [ 0, 1, 2, 3 ]\n');
    const again = parseScenarioText(printed, 'p.yaml');
    expect(again.base).toEqual(loaded.base);
    expect(again.variants).toEqual(loaded.variants);
  });
});

describe('sweep: identical variants', () => {
  const TWO = `${MINIMAL}variants:\n  rr: { mesh.balancer: { kind: round-robin } }\n  p2c: { mesh.balancer: { kind: p2c } }\n`;

  it('a sweep over the path every variant sets makes copies: found, grouped in variant order', () => {
    const loaded = parseScenarioText(TWO, 'q.yaml', { sweep: [parseSweepOption('mesh.balancer={kind: random},{kind: maglev}')] });
    const groups = identicalVariants(loaded.variants);
    expect(groups).toEqual([
      ['rr_balancer-random', 'p2c_balancer-random'],
      ['rr_balancer-maglev', 'p2c_balancer-maglev'],
    ]);
    expect(identicalVariantsWarning(groups, loaded.variants.length)).toBe(
      "4 variants make only 2 distinct scenario(s): 'rr_balancer-random' = 'p2c_balancer-random'; 'rr_balancer-maglev' = 'p2c_balancer-maglev'. " +
        'Identical variants give identical results; a sweep over a path that every variant sets replaces what the variants set.',
    );
  });

  it('variants that differ anywhere, even where it changes no result, are not copies', () => {
    // With max 0 the budget never acts, yet the scenarios differ: no warning.
    const loaded = parseScenarioText(withSweep('sweep:\n  mesh.failover.retries.max: [0, 1]\n  mesh.failover.retries.budget.budgetPercent: [10%, 20%]\n'), 'q.yaml');
    expect(identicalVariants(loaded.variants)).toEqual([]);
    expect(identicalVariantsWarning([], loaded.variants.length)).toBeUndefined();
  });
});
