/**
 * What a live run takes from a scenario: instances with their overrides, and those its
 * membership changes add (cold when the service says so). The run itself is exercised end
 * to end in test/runner/live.test.ts and test/live/process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveInstances } from '../../src/live/run.js';
import { membershipTimeline } from '../../src/scenario/instances.js';
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

describe('membership in live runs', () => {
  const scenario = () =>
    loadScenario(
      writeScenario(
        `${tinyScenario({ duration: '5s', variants: { rr: '{}' } }).replace('    instances: 2\n', '    instances: 2\n    coldStart: { for: 5s, factor: 3 }\n')}membership:\n` +
          '  - { at: 1s, service: api, add: 2 }\n  - { at: 2s, service: api, remove: [0, 2] }\n  - { at: 3s, service: api, add: 1 }\n',
      ),
    ).base;

  it('resolves the changes as the simulator applies them: added instances take the next indices', () => {
    const { steps, spans } = membershipTimeline(scenario());
    expect(steps).toEqual([
      { at: 1000, service: 'api', added: [2, 3], removed: [], members: [0, 1, 2, 3] },
      { at: 2000, service: 'api', added: [], removed: [0, 2], members: [1, 3] },
      { at: 3000, service: 'api', added: [4], removed: [], members: [1, 3, 4] },
    ]);
    expect(spans.get('api')).toEqual([
      { joinAt: 0, leaveAt: 2000 },
      { joinAt: 0, leaveAt: Infinity },
      { joinAt: 1000, leaveAt: 2000 },
      { joinAt: 1000, leaveAt: Infinity },
      { joinAt: 3000, leaveAt: Infinity },
    ]);
  });

  it('starts every instance the service will ever have; those joining later are cold', () => {
    const inst = resolveInstances(scenario(), 1);
    expect(inst.map((i) => i.index)).toEqual([0, 1, 2, 3, 4]);
    expect(inst.map((i) => i.coldStart)).toEqual([undefined, undefined, { factor: 3, for: 5000, joinAt: 1000 }, { factor: 3, for: 5000, joinAt: 1000 }, { factor: 3, for: 5000, joinAt: 3000 }]);
  });
});
