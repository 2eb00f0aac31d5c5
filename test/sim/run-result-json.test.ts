/**
 * The lossless JSON form of a run's result: through JSON text and back, a result reports
 * byte-identically (report.json) and its sketches merge to identical bytes; numbers JSON
 * has no literal for survive; malformed input is refused with the field named.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../src/core/quantile-sketch.js';
import { buildReport, reportJson } from '../../src/report/report.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import type { RunResult } from '../../src/sim/metrics.js';
import { RunResultJsonError, runResultFromJSON, runResultToJSON } from '../../src/sim/run-result-json.js';
import { simulate } from '../../src/sim/world.js';
import { richScenario } from '../_rich-scenario.js';

const loaded = parseScenarioText(richScenario(), 'rich.yaml');
const throughText = (r: RunResult): RunResult => runResultFromJSON(JSON.parse(JSON.stringify(runResultToJSON(r))));
const reportOf = (variant: number, runs: readonly RunResult[]): string =>
  reportJson(
    buildReport(
      { name: 'rich', sha256: loaded.sha256 },
      { seeds: runs.map((r) => r.seed), variants: [{ name: loaded.variants[variant].name, scenario: loaded.variants[variant].scenario, runs }] },
    ),
  );

describe('runResultToJSON / runResultFromJSON', () => {
  const fixed = simulate(loaded.variants[0].scenario, 7);

  it('carries the parts that matter: unbounded slots, an open fault window, sketches, timeline', () => {
    expect(fixed.instances.some((i) => i.slots === Infinity)).toBe(true);
    expect(fixed.faults.some((f) => f.end === Infinity)).toBe(true);
    const back = throughText(fixed);
    expect(back.instances.map((i) => i.slots)).toEqual(fixed.instances.map((i) => i.slots));
    expect(back.faults).toEqual(fixed.faults);
    expect(back.latency).toBeInstanceOf(QuantileSketch);
    expect(back.timeline.requests).toBeInstanceOf(Float64Array);
    expect(Array.from(back.timeline.requests)).toEqual(Array.from(fixed.timeline.requests));
    expect(back.timeline.latency.map((s) => s?.toJSON())).toEqual(fixed.timeline.latency.map((s) => s?.toJSON()));
    // Sketches compare by their canonical form (a rebuilt one holds only its non-empty span of bins).
    expect(back.latency.toJSON()).toEqual(fixed.latency.toJSON());
    const { latency: _l1, timeline: _t1, ...backRest } = back;
    const { latency: _l2, timeline: _t2, ...fixedRest } = fixed;
    expect(backRest).toEqual(fixedRest);
  });

  // 12 (variant, seeds) cases of ~300 requests per run: a few hundred ms.
  test.prop([fc.integer({ min: 0, max: 2 }), fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 3 })], { numRuns: 12, seed: 5 })(
    'a report from results through JSON text is byte-identical, and their sketches merge to identical bytes',
    (variant, seeds) => {
      const runs = seeds.map((seed) => simulate(loaded.variants[variant].scenario, seed));
      const back = runs.map(throughText);
      expect(reportOf(variant, back)).toBe(reportOf(variant, runs));
      const merged = (rs: readonly RunResult[]): string => {
        const s = new QuantileSketch();
        for (const r of rs) s.merge(r.latency);
        return JSON.stringify(s.toJSON());
      };
      expect(merged(back)).toBe(merged(runs));
      expect(merged([...back].reverse())).toBe(merged(runs));
      // Encoding is a fixed point: once through, the JSON is the same again.
      expect(JSON.stringify(runResultToJSON(back[0]))).toBe(JSON.stringify(runResultToJSON(runs[0])));
    },
  );

  it('keeps ±Infinity, NaN and -0 wherever they occur', () => {
    const odd: RunResult = {
      ...fixed,
      endTimeMs: -0,
      instances: fixed.instances.map((i, k) => ({ ...i, memberMs: k === 0 ? NaN : i.memberMs, busyMs: k === 1 ? -Infinity : i.busyMs })),
    };
    const back = throughText(odd);
    expect(Object.is(back.endTimeMs, -0)).toBe(true);
    expect(back.instances[0].memberMs).toBeNaN();
    expect(back.instances[1].busyMs).toBe(-Infinity);
    expect(JSON.stringify(runResultToJSON(odd))).toContain('{"$num":"-0"}');
  });

  it('refuses malformed input, naming the field', () => {
    const good = JSON.parse(JSON.stringify(runResultToJSON(fixed))) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>): unknown => ({ ...good, ...patch });
    expect(() => runResultFromJSON(null)).toThrow(/run: expected an object/);
    expect(() => runResultFromJSON(bad({ seed: 'x' }))).toThrow(/run\.seed: expected a number/);
    expect(() => runResultFromJSON(bad({ instances: {} }))).toThrow(/run\.instances: expected an array/);
    expect(() => runResultFromJSON(bad({ latency: { ...(good.latency as object), count: 1e9 } }))).toThrow(/run\.latency: invalid SketchJSON/);
    expect(() => runResultFromJSON(bad({ timeline: { ...(good.timeline as object), requests: [1, 'a'] } }))).toThrow(/timeline\.requests: expected an array of numbers/);
    expect(() => runResultFromJSON(bad({ timeline: { ...(good.timeline as object), requests: [] } }))).toThrow(/same length/);
    expect(() => runResultFromJSON(bad({ windowMs: { $num: 'Huge' } }))).toThrow(RunResultJsonError);
    expect(() => runResultFromJSON(bad({ failover: { retries: { $num: 'Huge' } } }))).toThrow(/run\.failover\.retries: unknown special number "Huge"/);
  });
});
