import { describe, expect, it } from 'vitest';
import { instanceSettings } from '../../src/scenario/instances.js';
import { parseScenarioText } from '../../src/scenario/load.js';

const scenario = parseScenarioText(
  `schema: meshsim/scenario@1
name: instances
seed: 1
seeds: 1
duration: 1s
warmup: 0s
services:
  api:
    instances: 4
    zones: [a, b, c]
    concurrency: 2
    queue: 10
    serviceTime: { dist: constant, value: 5ms }
    overrides:
      - { instances: [1, 3], concurrency: 8, zone: a }
      - { instances: [3], serviceTime: { dist: constant, value: 50ms }, concurrency: 1, weight: 3, priority: 1 }
network:
  latency: { dist: constant, value: 0s }
workload:
  - { name: users, target: api, arrival: { process: poisson, rate: 10/s } }
mesh:
  balancer: { kind: random }
`,
  'instances.yaml',
).base;

describe('instanceSettings', () => {
  const api = scenario.services.api;
  const all = [0, 1, 2, 3].map((i) => instanceSettings(api, i));

  it('gives the service settings, zones round robin, to an instance no override names', () => {
    expect(all[0]).toEqual({ serviceTime: api.serviceTime, concurrency: 2, queue: 10, weight: api.weight, priority: api.priority, zone: 'a' });
    expect(all[2].zone).toBe('c');
  });

  it('lays the overrides naming an instance over it in file order, the last one winning field by field', () => {
    expect(all[1]).toMatchObject({ concurrency: 8, zone: 'a', queue: 10 });
    expect(all[3]).toMatchObject({ concurrency: 1, zone: 'a', weight: 3, priority: 1, serviceTime: { dist: 'constant', value: 50 } });
  });
});
