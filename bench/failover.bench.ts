/**
 * What the failover machinery costs: `meshsim run` on bench/scenarios/fleet100-failover.yaml,
 * the e2e bench's 100-instance model (random balancing, Poisson at 80% utilisation) with an
 * overall timeout, per-try timeouts, retries (Envoy backoff, Envoy retry budget) and outlier
 * detection on every sidecar, against the same model without them; 5% of one instance's
 * answers fail, so retries, the budget and ejections all do real work. ≈ 2M requests per
 * run. Target (issue #4): the failover variant keeps ≥ 1M simulated requests per second.
 * How a run is measured: bench/scenario-bench.ts; meshsim runs as compiled JavaScript under
 * plain node (as users run dist/cli/main.js), or with `--form ts` from TypeScript through tsx.
 *
 *   node --import tsx bench/failover.bench.ts [--reps 3] [--variants failover,plain] [--budget 60] [--form js|ts] [--json]
 */
import { benchMain } from './lib.js';
import { runScenarioBench } from './scenario-bench.js';

export const runFailover = (options?: Parameters<typeof runScenarioBench>[1]) =>
  runScenarioBench(
    {
      name: 'failover',
      title: 'meshsim run, 100 instances, timeouts + retries with budget + outlier detection',
      scenario: 'fleet100-failover.yaml',
      headline: 'failover',
      variants: ['failover', 'plain'],
      target: 1e6,
    },
    options,
  );

await benchMain(import.meta.url, () => runFailover());
