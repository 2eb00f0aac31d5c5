/**
 * Where the processes of a live run go: the load generator, one sidecar proxy and one
 * backend instance (constant 5 ms service time, no queueing) all in one process (bare, and
 * as `meshsim live --layout single` runs them, with its warm-up) or as `meshsim live`
 * places them by default (fleet and proxies in child processes, load generator in the
 * parent). Same Poisson load through the proxy; the round trip
 * over the 5 ms of service is what the layout costs. Interleaved repetitions, medians.
 *
 *   node --import tsx bench/live-layout.bench.ts [--rate 300] [--seconds 3] [--reps 3]
 */
import { BackendInstance } from '../src/live/fleet/instance.js';
import { generateLoad } from '../src/live/loadgen/loadgen.js';
import { startProxy } from '../src/live/proxy/index.js';
import { runLive } from '../src/live/run.js';
import type { Scenario } from '../src/scenario/types.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rate = arg('rate', 300);
const seconds = arg('seconds', 3);
const reps = arg('reps', 3);
const SERVICE = 5;
const duration = seconds * 1000;
const warmup = duration / 3;

interface Figures {
  p50: number;
  p90: number;
  p99: number;
}

async function oneProcess(seed: number): Promise<Figures> {
  const inst = new BackendInstance({ service: 'api', index: 0, zone: 'a', slots: Infinity, queue: Infinity, serviceTime: { dist: 'constant', value: SERVICE }, seed });
  await inst.listen();
  const proxy = await startProxy({ listen: { port: 0 }, upstreams: [{ address: inst.address }], mesh: { balancer: { kind: 'round-robin' } } });
  try {
    const [r] = await generateLoad([{ name: 'g', ports: [proxy.port], zone: 'a', arrival: { process: 'poisson', rate, steps: [] } }], { seed, duration, warmup, drain: 2000, bucketMs: 1000 });
    return { p50: r.latency.quantile(0.5), p90: r.latency.quantile(0.9), p99: r.latency.quantile(0.99) };
  } finally {
    await proxy.close();
    await inst.close();
  }
}

async function viaRunLive(seed: number, layout: 'split' | 'single'): Promise<Figures> {
  const mesh = { balancer: { kind: 'round-robin' } };
  const scenario: Scenario = {
    name: 'layout',
    seed,
    seeds: 1,
    duration,
    warmup,
    drain: 2000,
    services: { api: { instances: 1, zones: ['a'], concurrency: Infinity, queue: Infinity, serviceTime: { dist: 'constant', value: SERVICE }, weight: 1, priority: 0, overrides: [], calls: [], mesh } },
    network: { latency: { dist: 'constant', value: 0 } },
    workload: [{ name: 'g', target: 'api', zone: 'a', sidecars: 1, zones: ['a'], arrival: { process: 'poisson', rate, steps: [] } }],
    mesh,
    membership: [],
    faults: [],
  };
  const r = await runLive(scenario, { seed, faults: [], bucketMs: 1000, layout });
  const s = r.groups[0].latency;
  return { p50: s.quantile(0.5), p90: s.quantile(0.9), p99: s.quantile(0.99) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, Figures[]> = { 'one process (bare)': [], 'live --layout single': [], 'live --layout split': [] };
for (let k = 0; k < reps; k++) {
  results['one process (bare)'].push(await oneProcess(k + 1));
  results['live --layout single'].push(await viaRunLive(k + 1, 'single'));
  results['live --layout split'].push(await viaRunLive(k + 1, 'split'));
  process.stderr.write(`rep ${k + 1}/${reps} done\n`);
}
console.log(`Poisson ${rate}/s for ${seconds} s through one proxy to one instance (service ${SERVICE} ms), medians of ${reps} interleaved reps; round trip minus service time, ms:`);
console.log('layout                  p50     p90     p99');
console.log(`(load average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')})`);
for (const [name, rs] of Object.entries(results)) {
  const f = (q: keyof Figures): string => (median(rs.map((r) => r[q])) - SERVICE).toFixed(2).padStart(7);
  console.log(`${name.padEnd(22)}${f('p50')} ${f('p90')} ${f('p99')}`);
}
