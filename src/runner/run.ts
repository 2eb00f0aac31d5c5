/**
 * The runner: every selected variant × every seed of a loaded scenario, each replication
 * an independent simulation (seed = scenario seed + k). Results come back in a fixed
 * order — variants in file order, seeds ascending — so reports are reproducible; in
 * parallel (worker threads, pool.ts) or sharded (plan.ts) too: each run depends only on
 * its (variant, seed), and results are placed by their canonical position.
 */
import { availableParallelism } from 'node:os';
import type { LoadedScenario, Scenario, Variant } from '../scenario/types.js';
import { suggestions } from '../scenario/errors.js';
import type { RunResult } from '../sim/metrics.js';
import { simulate } from '../sim/world.js';
import { RunStopError, type RunRef } from '../core/run-stop.js';
import { planRuns, shardRuns, type PlannedRun, type ShardSpec } from './plan.js';
import { runOnWorkers, type PoolOutput, type WorkerStats } from './pool.js';

export interface RunOptions {
  /** Overrides the scenario's base seed. */
  readonly seed?: number;
  /** Overrides the scenario's number of replications. */
  readonly seeds?: number;
  /** Only these variants (by name), in the scenario's order. */
  readonly variants?: readonly string[];
  /** Called after each replication (for progress output), in completion order. */
  readonly onRun?: (done: number, total: number, variant: string, seed: number, result: RunResult) => void;
}

export interface ParallelRunOptions extends RunOptions {
  /**
   * Simulations at a time (at most one per run): the calling thread and `workers − 1` worker
   * threads (pool.ts); 1 runs in-process. Default: os.availableParallelism(),
   * or 1 when the runs would simulate fewer than {@link IN_PROCESS_BELOW_REQUESTS} requests.
   */
  readonly workers?: number;
  /** Only this shard's slice of the runs (plan.ts). */
  readonly shard?: ShardSpec;
  /** Requests in flight one run may hold before it stops with a RunLimitError (default MAX_IN_FLIGHT). */
  readonly maxInFlight?: number;
}

export interface VariantResult {
  readonly name: string;
  readonly scenario: Scenario;
  readonly runs: readonly RunResult[];
}

export interface RunOutput {
  readonly seeds: readonly number[];
  readonly variants: readonly VariantResult[];
}

/** At most this many variant names are listed in the message of an unknown one (a sweep can have 10,000). */
const VARIANTS_LISTED = 20;

/** Thrown for a --variant name the scenario does not have: the file, the closest names, the names it has. */
export class UnknownVariantError extends Error {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
    readonly file?: string,
  ) {
    // A typo of a name, else a sweep point's part of names (`max-1` of `max-1_budgetPercent-20pct`).
    const typos = suggestions(requested, known);
    const parts = known.filter((k) => k.split('_').includes(requested) || k.startsWith(`${requested}_`)).slice(0, 3);
    const guesses = typos.length > 0 ? typos : parts;
    const hint = guesses.length === 0 ? '' : ` (did you mean ${guesses.map((g) => `"${g}"`).join(' or ')}?)`;
    const listed = known.length <= VARIANTS_LISTED ? known.join(', ') : `${known.slice(0, VARIANTS_LISTED).join(', ')}, … ${(known.length - VARIANTS_LISTED).toLocaleString('en-US')} more (meshsim validate lists them all)`;
    super(`${file === undefined ? '' : `${file}: `}unknown variant "${requested}"${hint}; the scenario has: ${listed}`);
    this.name = 'UnknownVariantError';
  }
}

export function selectVariants(loaded: LoadedScenario, names: readonly string[] | undefined): readonly Variant[] {
  if (!names || names.length === 0) return loaded.variants;
  const known = loaded.variants.map((v) => v.name);
  for (const n of names) if (!known.includes(n)) throw new UnknownVariantError(n, known, loaded.file);
  return loaded.variants.filter((v) => names.includes(v.name));
}

export function seedList(base: Scenario, options: Pick<RunOptions, 'seed' | 'seeds'>): number[] {
  const seed = options.seed ?? base.seed;
  const count = options.seeds ?? base.seeds;
  return Array.from({ length: count }, (_, k) => seed + k);
}

/**
 * simulate() of `variants[variant]` (or of `scenario`, a form of it), with a run stopped by
 * its input (a RunStopError: a run limit, a plugin's broken contract) told as the scenario
 * file's error: the file, and the variant and seed of the run.
 */
export function simulateRun(loaded: LoadedScenario, variants: readonly Variant[], variant: number, seed: number, scenario: Scenario = variants[variant].scenario, maxInFlight?: number): RunResult {
  try {
    return simulate(scenario, seed, { maxInFlight });
  } catch (e) {
    if (e instanceof RunStopError) throw inScenario(loaded, variants, e, { variant, seed });
    throw e;
  }
}

/**
 * A run's error that is the scenario's or a plugin's fault (a RunStopError), its message
 * prefixed with the scenario file and the variant (of several) and seed of the run.
 */
export function inScenario(loaded: LoadedScenario, variants: readonly Variant[], e: RunStopError, run: RunRef | undefined = e.run): RunStopError {
  if (run === undefined) return e;
  const which = variants.length > 1 ? `variant "${variants[run.variant].name}", seed ${run.seed}` : `seed ${run.seed}`;
  return e.at(`${loaded.file}: ${which}: ${e.message}`, run);
}

export function runScenario(loaded: LoadedScenario, options: RunOptions = {}): RunOutput {
  const variants = selectVariants(loaded, options.variants);
  const seeds = seedList(loaded.base, options);
  const total = variants.length * seeds.length;
  let done = 0;
  const results = variants.map((v, variant) => ({
    name: v.name,
    scenario: v.scenario,
    runs: seeds.map((seed) => {
      const result = simulateRun(loaded, variants, variant, seed);
      options.onRun?.(++done, total, v.name, seed, result);
      return result;
    }),
  }));
  return { seeds, variants: results };
}

/** The selected variants, seeds and canonical run list of a scenario under `options`. */
export interface RunPlan {
  readonly variants: readonly Variant[];
  readonly seeds: readonly number[];
  readonly runs: readonly PlannedRun[];
}

export function runPlan(loaded: LoadedScenario, options: Pick<RunOptions, 'seed' | 'seeds' | 'variants'> = {}): RunPlan {
  const variants = selectVariants(loaded, options.variants);
  const seeds = seedList(loaded.base, options);
  return { variants, seeds, runs: planRuns(variants.length, seeds) };
}

/** One executed replication, at its canonical position. */
export interface ExecutedRun extends PlannedRun {
  readonly result: RunResult;
}

export interface ExecutedPlan {
  readonly plan: RunPlan;
  /** The runs executed (all, or the shard's), in canonical order. */
  readonly runs: readonly ExecutedRun[];
  /** Per worker thread (empty when run in-process). */
  readonly workers: readonly WorkerStats[];
}

/**
 * Requests a plan's runs will issue, estimated from the open-loop arrival rates (the
 * highest rate of each workload over the duration); Infinity with a closed-loop workload.
 */
export function estimatedRequests(plan: RunPlan, runs: readonly PlannedRun[] = plan.runs): number {
  let total = 0;
  for (const run of runs) {
    const s = plan.variants[run.variant].scenario;
    for (const w of s.workload) {
      if (w.arrival.process === 'closed') return Infinity;
      const rate = Math.max(w.arrival.rate, ...w.arrival.steps.map((st) => st.rate));
      total += (rate * s.duration) / 1000;
    }
  }
  return total;
}

/**
 * Below this many simulated requests in all (~0.5 s of one core at 2M requests/s), the
 * default is to run in-process: starting threads and warming each one's JIT (0.2–0.5 s
 * measured on a 2-core machine) costs about what it could save. (Jest likewise runs small
 * suites in band.)
 */
export const IN_PROCESS_BELOW_REQUESTS = 1_000_000;

/** Default worker count: every core the process may use, or 1 (in-process) for a plan too small to gain. */
export function defaultWorkers(plan?: RunPlan, runs?: readonly PlannedRun[]): number {
  if (plan !== undefined && estimatedRequests(plan, runs) < IN_PROCESS_BELOW_REQUESTS) return 1;
  return availableParallelism();
}

/**
 * Executes the plan's runs (or the shard's), on `options.workers` threads or in-process
 * with 1, and returns them in canonical order whatever order they finished in.
 */
export async function executePlan(loaded: LoadedScenario, options: ParallelRunOptions = {}): Promise<ExecutedPlan> {
  const plan = runPlan(loaded, options);
  const todo = options.shard === undefined ? [...plan.runs] : shardRuns(plan.runs, options.shard);
  const workers = Math.min(options.workers ?? defaultWorkers(plan, todo), todo.length);
  let done = 0;
  const report = (run: PlannedRun, result: RunResult): void =>
    options.onRun?.(++done, todo.length, plan.variants[run.variant].name, run.seed, result);
  if (workers <= 1) {
    const runs = todo.map((run) => {
      const result = simulateRun(loaded, plan.variants, run.variant, run.seed, undefined, options.maxInFlight);
      report(run, result);
      return { ...run, result };
    });
    return { plan, runs, workers: [] };
  }
  let pooled: PoolOutput;
  try {
    pooled = await runOnWorkers(
      plan.variants.map((v) => v.scenario),
      todo,
      { workers, maxInFlight: options.maxInFlight, onResult: (position, result) => report(todo[position], result) },
    );
  } catch (e) {
    if (e instanceof RunStopError) throw inScenario(loaded, plan.variants, e);
    throw e;
  }
  return { plan, runs: todo.map((run, i) => ({ ...run, result: pooled.results[i] })), workers: pooled.workers };
}

/** The runner's output from every run of a plan (each at its canonical index). */
export function assembleOutput(plan: RunPlan, results: readonly RunResult[]): RunOutput {
  if (results.length !== plan.runs.length) throw new Error(`assembleOutput: ${results.length} results for ${plan.runs.length} runs`);
  const n = plan.seeds.length;
  return {
    seeds: plan.seeds,
    variants: plan.variants.map((v, i) => ({ name: v.name, scenario: v.scenario, runs: results.slice(i * n, (i + 1) * n) })),
  };
}

/** {@link runScenario} with worker threads (all cores by default): the same output, byte for byte. */
export async function runScenarioParallel(loaded: LoadedScenario, options: Omit<ParallelRunOptions, 'shard'> = {}): Promise<RunOutput> {
  const executed = await executePlan(loaded, options);
  return assembleOutput(executed.plan, executed.runs.map((r) => r.result));
}
