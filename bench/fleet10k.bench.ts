/**
 * End-to-end throughput and memory of `meshsim run` on a large mesh,
 * bench/scenarios/fleet10k.yaml: 10,000 instances of one service (concurrency 1, unbounded
 * queue, exponential service of mean 10 ms, exponential hops of mean 200us), one Poisson
 * workload at 80% utilisation (800,000/s) spread over 100 client sidecars, each with its own
 * balancer over all 10,000 endpoints; no warm-up, one seed, 2.5 s ≈ 2M requests.
 * The p2c variant runs 3 times (its median is the headline); random and p2c-peak-ewma run
 * once each after it when the time budget (≈ 60 s for the whole bench) allows. How a run
 * is measured: bench/scenario-bench.ts; meshsim runs as compiled JavaScript under plain
 * node (as users run dist/cli/main.js), or with `--form ts` from TypeScript through tsx.
 *
 *   node --import tsx bench/fleet10k.bench.ts [--reps 3] [--variants p2c,random,p2c-peak-ewma] [--budget 60] [--form js|ts] [--json]
 */
import { benchMain } from './lib.js';
import { runScenarioBench } from './scenario-bench.js';

export const runFleet10k = (options?: Parameters<typeof runScenarioBench>[1]) =>
  runScenarioBench(
    {
      name: 'fleet10k',
      title: 'meshsim run, 10,000 instances, 100 sidecars',
      scenario: 'fleet10k.yaml',
      headline: 'p2c',
      variants: ['p2c', 'random', 'p2c-peak-ewma'],
      target: 1e6,
    },
    options,
  );

await benchMain(import.meta.url, () => runFleet10k());
