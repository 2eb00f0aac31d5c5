/**
 * `assert:` rules in scenario files: the rule parser (every comparison, every unit, the
 * messages), loading them (file, line, `assert.<i>` path, unknown variants) and the JSON
 * Schema. Printing them back: print.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ASSERT_METRICS, ASSERT_OPS, METRIC_NAMES, parseRule } from '../../src/scenario/assert.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { scenarioJsonSchema } from '../../src/scenario/schema.js';
import type { AssertRule } from '../../src/scenario/types.js';
import { linesOf, MINIMAL, QUICKSTART } from './_fixtures.js';

/** The rule `text` parses to, or the message it fails with. */
function rule(text: string): AssertRule {
  const r = parseRule(text);
  if (!r.ok) throw new Error(`expected '${text}' to parse; got: ${r.message}`);
  return r.rule;
}
function problem(text: string): string {
  const r = parseRule(text);
  if (r.ok) throw new Error(`expected '${text}' to be refused; got ${JSON.stringify(r.rule)}`);
  return r.message;
}

/** QUICKSTART (variants round-robin and random) with an `assert:` section appended, its first item on line FIRST_ITEM_LINE. */
const withAsserts = (...items: string[]): string => `${QUICKSTART}assert:\n${items.map((i) => `  - ${i}\n`).join('')}`;
const FIRST_ITEM_LINE = QUICKSTART.split('\n').length + 1;

describe('parseRule', () => {
  it('reads every comparison, with or without spaces around it', () => {
    for (const op of ASSERT_OPS) {
      expect(rule(`p99 ${op} 250ms`)).toEqual({ metric: 'p99', op, value: 250, text: `p99 ${op} 250ms` });
      expect(rule(`p99${op}250ms`)).toEqual({ metric: 'p99', op, value: 250, text: `p99 ${op} 250ms` });
    }
    expect(rule('  failed   ==   0  ')).toEqual({ metric: 'failed', op: '==', value: 0, text: 'failed == 0' });
  });

  it('reads latencies as durations, in ms', () => {
    for (const metric of ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const) expect(rule(`${metric} < 1.5s`).value).toBe(1500);
    expect(rule('p99 < 250us').value).toBe(0.25);
    expect(rule('max <= 2m').value).toBe(120_000);
  });

  it('reads successRate and errorRate as percentages or fractions', () => {
    expect(rule('successRate >= 99.9%').value).toBeCloseTo(0.999, 12);
    expect(rule('successRate > 0.995').value).toBe(0.995);
    expect(rule('errorRate < 0.1%').value).toBeCloseTo(0.001, 12);
    expect(rule('errorRate == 0').value).toBe(0);
  });

  it('reads throughput as a rate, per second', () => {
    expect(rule('throughput > 900/s').value).toBe(900);
    expect(rule('throughput > 54000/m').value).toBe(900);
  });

  it('reads attemptsPerRequest, counts and counters as plain numbers', () => {
    expect(rule('attemptsPerRequest < 1.2').value).toBe(1.2);
    for (const metric of ['requests', 'failed', 'rejected', 'timedOut', 'retries', 'retryBudgetDenied', 'hedges', 'hedgesWon', 'throttled', 'ejections', 'healthCheckFailures', 'breakerOverflows'] as const) {
      expect(rule(`${metric} <= 100`)).toEqual({ metric, op: '<=', value: 100, text: `${metric} <= 100` });
    }
    expect(rule('requests > 1e5').value).toBe(100_000);
  });

  it('knows every metric of the AssertMetric type', () => {
    expect(METRIC_NAMES).toHaveLength(22);
    for (const metric of METRIC_NAMES) expect(ASSERT_METRICS[metric].about.length).toBeGreaterThan(0);
  });

  it('refuses a value without the unit its metric needs', () => {
    expect(problem('p99 < 250')).toBe("expected a duration with a unit, like 250ms; got '250' (no unit); p99 is a latency");
    expect(problem('throughput > 900')).toBe("expected a rate with a unit, like 1500/s; got '900'; throughput is a rate");
    expect(problem('successRate > 99.9')).toMatch(/^expected a percentage like 20%, or a fraction between 0 and 1; got '99.9' \(more than 100%\); successRate is a fraction$/);
    expect(problem('attemptsPerRequest < 1.2x')).toBe("expected a plain number, like 1.2; got '1.2x'; attemptsPerRequest is a plain number");
    expect(problem('retries < 10%')).toMatch(/^expected a plain number/);
    expect(problem('p99 < 250 parsecs')).toMatch(/unknown duration unit 'parsecs'/);
  });

  it('names an unknown metric, with a did-you-mean', () => {
    expect(problem('p99.9 < 1s')).toMatch(/^unknown metric 'p99.9' \(did you mean 'p999'\?\); expected one of p50, p90, p99, p999, max, mean, successRate, /);
    expect(problem('successrate > 99%')).toMatch(/did you mean 'successRate'\?/);
    expect(problem('throughtput > 900/s')).toMatch(/did you mean 'throughput'\?/);
    expect(problem('latency < 1s')).toMatch(/^unknown metric 'latency'; expected one of /);
    expect(problem('250ms > p99')).toMatch(/^unknown metric '250ms' \(the metric comes first, like 'p99 < 250ms'\)/);
  });

  it('names a missing or unknown comparison, with a did-you-mean', () => {
    expect(problem('p99 = 250ms')).toBe("expected a comparison after 'p99' (<, <=, >, >=, == or !=); got '=' (did you mean '=='?)");
    expect(problem('p99 =< 250ms')).toMatch(/got '=<' \(did you mean '<='\?\)/);
    expect(problem('p99 <> 250ms')).toMatch(/did you mean '!='\?/);
    expect(problem('p99 250ms')).toBe("expected a comparison after 'p99' (<, <=, >, >=, == or !=); got '250ms'");
    expect(problem('p99')).toMatch(/got nothing$/);
  });

  it('refuses an empty rule, a missing threshold and two comparisons in one rule', () => {
    expect(problem('')).toMatch(/^expected a rule like 'p99 < 250ms'/);
    expect(problem('   ')).toMatch(/^expected a rule like/);
    expect(problem('< 250ms')).toMatch(/^expected a metric before the comparison/);
    expect(problem('p99 <')).toBe("missing threshold after 'p99 <'; expected a duration with a unit, like 250ms");
    expect(problem('p99 < 1s and p90 < 500ms')).toMatch(/one comparison per rule: give each its own list item$/);
  });

  it('never evaluates anything', () => {
    expect(problem('p99 < process.exit(1)')).toMatch(/^expected a duration/);
    expect(problem('constructor < 1')).toMatch(/^unknown metric 'constructor'/);
    expect(problem('__proto__ < 1')).toMatch(/^unknown metric '__proto__'/);
  });
});

describe('assert: in scenario files', () => {
  it('resolves string rules and { variant, rule } items, in file order, on the base scenario only', () => {
    const loaded = parseScenarioText(withAsserts('p99 < 250ms', 'successRate >= 99.9%', '{ variant: random, rule: attemptsPerRequest < 1.2 }'), 'q.yaml');
    expect(loaded.base.assert).toEqual([
      { metric: 'p99', op: '<', value: 250, text: 'p99 < 250ms' },
      { metric: 'successRate', op: '>=', value: 99.9 / 100, text: 'successRate >= 99.9%' },
      { variant: 'random', metric: 'attemptsPerRequest', op: '<', value: 1.2, text: 'attemptsPerRequest < 1.2' },
    ]);
    expect(loaded.variants.map((v) => v.scenario.assert)).toEqual([undefined, undefined]);
  });

  it('is optional, and an empty list is kept', () => {
    expect(parseScenarioText(QUICKSTART, 'q.yaml').base).not.toHaveProperty('assert');
    expect(parseScenarioText(`${MINIMAL}assert: []\n`, 'm.yaml').base.assert).toEqual([]);
  });

  it('errors name the file, line, assert.<i> path and what was expected', () => {
    const n = FIRST_ITEM_LINE;
    expect(linesOf(withAsserts('p99 < 250ms', 'p99 < 250', 'p98 < 1s', '{ variant: random, rule: throughput > 900 }', '42'))).toEqual([
      `q.yaml:${n + 1}:5: assert.1: expected a duration with a unit, like 250ms; got '250' (no unit); p99 is a latency`,
      `q.yaml:${n + 2}:5: assert.2: unknown metric 'p98' (did you mean 'p90'?); expected one of ${METRIC_NAMES.join(', ')}`,
      `q.yaml:${n + 3}:30: assert.3.rule: expected a rate with a unit, like 1500/s; got '900'; throughput is a rate`,
      `q.yaml:${n + 4}:5: assert.4: expected a rule like 'p99 < 250ms', or one for a single variant, like { variant: p2c, rule: 'attemptsPerRequest < 1.2' }; got 42`,
    ]);
  });

  it('a { variant, rule } item: unknown keys get a did-you-mean, missing ones are named', () => {
    const n = FIRST_ITEM_LINE;
    expect(linesOf(withAsserts('{ variant: random, rules: p99 < 1s }', '{ rule: p99 < 1s }'))).toEqual([
      `q.yaml:${n}:24: assert.0.rules: unknown key; did you mean 'rule'?`,
      `q.yaml:${n + 1}:5: assert.1.variant: missing; expected the name of a variant`,
    ]);
  });

  it('a rule for a variant that does not exist is an error, with a did-you-mean', () => {
    expect(linesOf(withAsserts('p99 < 1s', '{ variant: randon, rule: p99 < 1s }'))).toEqual([
      `q.yaml:${FIRST_ITEM_LINE + 1}:16: assert.1.variant: unknown variant 'randon' (did you mean 'random'?); variants: round-robin, random`,
    ]);
    // A file without variants has one, named base.
    expect(parseScenarioText(`${MINIMAL}assert:\n  - { variant: base, rule: p99 < 1s }\n`, 'm.yaml').base.assert).toEqual([{ variant: 'base', metric: 'p99', op: '<', value: 1000, text: 'p99 < 1s' }]);
    expect(linesOf(`${MINIMAL}assert:\n  - { variant: p2c, rule: p99 < 1s }\n`, 'm.yaml')).toEqual(["m.yaml:19:16: assert.0.variant: unknown variant 'p2c'; variants: base"]);
  });

  it('a variant cannot override assert', () => {
    const text = withAsserts('p99 < 1s').replace('random: { mesh.balancer: { kind: random } }', 'random: { mesh.balancer: { kind: random }, assert: [] }');
    expect(linesOf(text)).toEqual([
      "q.yaml:38:46: variants.random → assert: cannot apply override: a variant cannot override 'assert'; give a rule for one variant in the top-level assert, like { variant: <name>, rule: 'p99 < 250ms' }",
    ]);
  });

  it('assert must be a list', () => {
    expect(linesOf(`${MINIMAL}assert: p99 < 1s\n`, 'm.yaml')).toEqual([
      "m.yaml:18:9: assert: expected a list of rules, like ['p99 < 250ms', 'successRate >= 99.9%']; got 'p99 < 1s'",
    ]);
  });

  it('the JSON Schema describes assert items for editors', () => {
    const schema = scenarioJsonSchema() as { properties: Record<string, { type?: string; items?: { anyOf?: unknown[] } }> };
    expect(schema.properties.assert.type).toBe('array');
    expect(schema.properties.assert.items?.anyOf).toHaveLength(2);
  });
});
