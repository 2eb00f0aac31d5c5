/**
 * What a live run takes from a scenario: instances with their overrides, and the
 * scenarios it refuses (with the field named). The run itself is exercised end to end in
 * test/runner/live.test.ts and test/live/process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { liveUnsupported, resolveInstances } from '../../src/live/run.js';
import { loadScenario } from '../../src/scenario/load.js';
import { tempFiles } from '../cli/_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

const { writeScenario } = tempFiles('meshsim-live-run-');

describe('resolveInstances', () => {
  it('places instances in zones round robin and applies overrides', () => {
    const loaded = loadScenario(
      writeScenario(
        tinyScenario({ variants: { rr: '{}' } }).replace(
          '    instances: 2\n',
          '    instances: 3\n    zones: [a, b]\n    concurrency: 2\n    queue: 5\n    overrides:\n      - { instances: [2], concurrency: 8, weight: 3, serviceTime: { dist: constant, value: 9ms } }\n',
        ),
      ),
    );
    const inst = resolveInstances(loaded.base, 7);
    expect(inst.map((i) => [i.service, i.index, i.zone, i.slots, i.queue, i.weight, i.seed])).toEqual([
      ['api', 0, 'a', 2, 5, 1, 7],
      ['api', 1, 'b', 2, 5, 1, 7],
      ['api', 2, 'a', 8, 5, 3, 7],
    ]);
    expect(inst[2].serviceTime).toEqual({ dist: 'constant', value: 9 });
    expect(inst[0].serviceTime).toEqual({ dist: 'exponential', mean: 2 });
  });
});

describe('liveUnsupported', () => {
  it('names membership changes, and accepts the rest (request keys included)', () => {
    const base = tinyScenario({ variants: { rr: '{}' } });
    expect(liveUnsupported(loadScenario(writeScenario(base)).base)).toBeUndefined();
    expect(liveUnsupported(loadScenario(writeScenario(`${base}membership:\n  - { at: 1s, service: api, add: 1 }\n`)).base)).toMatch(/^membership:/);
    const keyed = base.replace('    target: api\n', '    target: api\n    key: { dist: uniform, n: 100 }\n');
    expect(keyed).not.toBe(base);
    expect(liveUnsupported(loadScenario(writeScenario(keyed)).base)).toBeUndefined();
  });
});
