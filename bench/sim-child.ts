/**
 * One meshsim simulation for bench/simpy.bench.ts, in its own process (a cold start, like
 * each SimPy run): loads a scenario, sets its `duration` (hence its request count), runs
 * `simulate()` from src/sim/world.ts once and prints one JSON line with the wall time of
 * `simulate()` alone (SimPy's figure likewise times `env.run` alone), the completed
 * requests and their mean latency.
 *
 *   node --import tsx bench/sim-child.ts <scenario.yaml> <duration-ms> [seed=1]
 */
import { loadScenario } from '../src/scenario/load.js';
import { simulate } from '../src/sim/world.js';

export interface SimChildResult {
  readonly requests: number;
  readonly succeeded: number;
  readonly wallSeconds: number;
  /** Completed (succeeded) requests per wall second of simulate(). */
  readonly requestsPerSec: number;
  readonly meanLatencyMs: number;
  readonly eventsProcessed: number;
  readonly maxRssKB: number;
}

const [file, durationArg, seedArg] = process.argv.slice(2);
const duration = Number(durationArg);
if (!file || !(duration > 0)) {
  process.stderr.write('usage: sim-child.ts <scenario.yaml> <duration-ms> [seed]\n');
  process.exit(2);
}
const scenario = { ...loadScenario(file).base, duration };
const t0 = performance.now();
const r = simulate(scenario, seedArg === undefined ? scenario.seed : Number(seedArg));
const wallSeconds = (performance.now() - t0) / 1000;
const result: SimChildResult = {
  requests: r.requests.total,
  succeeded: r.requests.succeeded,
  wallSeconds,
  requestsPerSec: r.requests.succeeded / wallSeconds,
  meanLatencyMs: r.latency.mean(),
  eventsProcessed: r.eventsProcessed,
  maxRssKB: process.resourceUsage().maxRSS,
};
process.stdout.write(JSON.stringify(result) + '\n');
