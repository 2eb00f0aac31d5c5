import { simulate } from '../src/sim/world.js';
import type { Scenario } from '../src/scenario/types.js';
function fleet(n: number, requests: number): Scenario {
  const rate = 0.8 * n / 10 * 1000;
  return {
    name: 'fleet', seed: 1, seeds: 1, duration: requests / rate * 1000, warmup: 0, drain: 10000,
    services: { api: { instances: n, zones: ['a'], concurrency: 1, queue: Infinity, serviceTime: { dist: 'exponential', mean: 10 }, overrides: [] } },
    network: { latency: { dist: 'exponential', mean: 0.2 } },
    workload: [{ name: 'users', target: 'api', zone: 'a', arrival: { process: 'poisson', rate, steps: [] } }],
    mesh: { balancer: { kind: 'random' } },
  };
}
const N = Number(process.argv[2] ?? 1e6);
const out: string[] = [];
for (let rep = 0; rep < 3; rep++) {
  const t0 = performance.now();
  const r = simulate(fleet(100, N), 1);
  const dt = (performance.now() - t0) / 1000;
  out.push((r.requests.total / dt / 1e6).toFixed(2));
  if (rep === 0) console.log('mean', r.latency.mean().toFixed(3), 'events', r.eventsProcessed);
}
console.log('M req/s', out.join(' '), 'rss', (process.memoryUsage().rss / 1e6).toFixed(0), 'MB');
