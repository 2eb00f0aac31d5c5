/**
 * The runner in parallel: worker threads (here from the TypeScript sources, through tsx)
 * give results that report byte-identically to the in-process run, in canonical order;
 * shards execute exactly their slice; the default worker count.
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { buildReport, reportJson } from '../../src/report/report.js';
import { assembleOutput, defaultWorkers, estimatedRequests, executePlan, IN_PROCESS_BELOW_REQUESTS, runPlan, runScenario, runScenarioParallel } from '../../src/runner/run.js';
import { runOnWorkers } from '../../src/runner/pool.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { richScenario } from '../_rich-scenario.js';
import { RunLimitError } from '../../src/sim/world.js';

const loaded = parseScenarioText(richScenario({ seeds: 3 }), 'rich.yaml');
const json = (output: ReturnType<typeof runScenario>): string => reportJson(buildReport({ name: 'rich', sha256: loaded.sha256 }, output));

describe('executePlan', () => {
  it('on 2 workers (this thread and a worker thread) reports byte-identically to in-process, whatever the completion order', async () => {
    const single = json(runScenario(loaded));
    const seen: string[] = [];
    const executed = await executePlan(loaded, { workers: 2, onRun: (done, total, variant, seed) => seen.push(`${done}/${total} ${variant}:${seed}`) });
    expect(executed.workers).toHaveLength(2);
    // Who ran what depends on timing (both take runs from one shared queue); every run ran once.
    expect(executed.workers.reduce((a, w) => a + w.runs, 0)).toBe(9);
    expect(seen).toHaveLength(9);
    expect(seen.map((s) => s.split(' ')[0])).toEqual(Array.from({ length: 9 }, (_, i) => `${i + 1}/9`));
    expect(executed.runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(json(assembleOutput(executed.plan, executed.runs.map((r) => r.result)))).toBe(single);
    expect(json(await runScenarioParallel(loaded, { workers: 1 }))).toBe(single);
  });

  it('runs only the shard’s slice, in canonical order (on threads as in-process)', async () => {
    for (const workers of [1, 2]) {
      const executed = await executePlan(loaded, { workers, shard: { index: 2, count: 4 } });
      expect(executed.runs.map((r) => [r.index, r.variant, r.seed])).toEqual([
        [1, 0, 8],
        [5, 1, 9],
      ]);
    }
  });

  it('propagates a failing simulation, on this thread or a worker thread, as an error naming the run', async () => {
    const broken = { ...loaded, variants: [{ name: 'broken', scenario: { ...loaded.base, services: {} } }, ...loaded.variants] };
    await expect(executePlan(broken, { workers: 2, seeds: 1 })).rejects.toThrow(/simulating variant #0 seed 7 failed/);
    const scenarios = broken.variants.map((v) => v.scenario);
    await expect(runOnWorkers(scenarios, [{ variant: 1, seed: 7 }, { variant: 0, seed: 7 }], { workers: 2, callerSimulates: false })).rejects.toThrow(
      /simulating variant #0 seed 7 failed in a worker thread/,
    );
  });
});

describe('runOnWorkers', () => {
  it('with every run on worker threads, gives the in-process results in the order asked, each run once', async () => {
    const plan = runPlan(loaded);
    const scenarios = plan.variants.map((v) => v.scenario);
    const order: number[] = [];
    const out = await runOnWorkers(scenarios, plan.runs, { workers: 3, callerSimulates: false, onResult: (position) => order.push(position) });
    expect(out.workers).toHaveLength(3);
    expect(out.workers[0].runs).toBe(0); // the calling thread only coordinated
    expect(out.workers[1].runs + out.workers[2].runs).toBe(plan.runs.length);
    for (const w of out.workers.slice(1)) if (w.runs > 0) expect(w.peakHeapBytes).toBeGreaterThan(0);
    expect([...order].sort((a, b) => a - b)).toEqual(plan.runs.map((_, i) => i));
    expect(json(assembleOutput(plan, out.results))).toBe(json(runScenario(loaded)));
  });

  it('with no runs, starts no thread', async () => {
    expect(await runOnWorkers([loaded.base], [], { workers: 4 })).toEqual({ results: [], workers: [] });
  });
});

describe('defaultWorkers', () => {
  it('is every core, except for plans too small to gain (in-process)', () => {
    const plan = runPlan(loaded);
    // 3 variants × 3 seeds × 200/s × 1.5 s.
    expect(estimatedRequests(plan)).toBe(2700);
    expect(defaultWorkers(plan)).toBe(1);
    expect(defaultWorkers()).toBe(availableParallelism());
    const big = parseScenarioText(richScenario().replace('rate: 200/s', 'rate: 200000/s'), 'big.yaml');
    expect(estimatedRequests(runPlan(big))).toBeGreaterThanOrEqual(IN_PROCESS_BELOW_REQUESTS);
    expect(defaultWorkers(runPlan(big))).toBe(availableParallelism());
    const closed = parseScenarioText(richScenario().replace('{ process: poisson, rate: 200/s }', '{ process: closed, clients: 2, think: { dist: constant, value: 1ms } }'), 'closed.yaml');
    expect(estimatedRequests(runPlan(closed))).toBe(Infinity);
  });
});

describe('a run that reaches the in-flight limit', () => {
  // One slot serving 100/s, offered 1,000/s: with an unbounded queue the requests pile up
  // (~900 more a second); the bounded variant answers the overflow with 503 instead.
  const over = parseScenarioText(
    [
      'schema: meshsim/scenario@1',
      'name: over',
      'seed: 5',
      'seeds: 2',
      'duration: 5s',
      'warmup: 0s',
      'services:',
      '  api: { instances: 1, concurrency: 1, queue: 50, serviceTime: { dist: constant, value: 10ms } }',
      'network: { latency: { dist: constant, value: 100us } }',
      'workload:',
      '  - { name: c, target: api, arrival: { process: poisson, rate: 1000/s } }',
      'mesh:',
      '  balancer: { kind: round-robin }',
      'variants:',
      '  bounded: {}',
      '  unbounded: { services.api.queue: unbounded }',
      '',
    ].join('\n'),
    'over.yaml',
  );

  it('stops the plan with a RunLimitError naming the file, the variant and the seed, in-process and on worker threads alike', async () => {
    for (const workers of [1, 2]) {
      const error = await executePlan(over, { workers, seeds: 1, maxInFlight: 256 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `workers: ${workers}`).toBeInstanceOf(RunLimitError);
      expect((error as RunLimitError).message, `workers: ${workers}`).toMatch(
        /^over\.yaml: variant "unbounded", seed 5: the run stopped at [\d.]+ s of simulated time with 256 requests in flight, .* services\.api\.queue is unbounded\./,
      );
      expect((error as RunLimitError).run).toEqual({ variant: 1, seed: 5 });
    }
  });

  it('leaves a plan without such a run alone: the bounded variant runs to its end under the same limit', async () => {
    const executed = await executePlan(over, { workers: 1, variants: ['bounded'], maxInFlight: 256 });
    expect(executed.runs.map((r) => r.seed)).toEqual([5, 6]);
  });
});
