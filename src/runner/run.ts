/**
 * The runner: every selected variant × every seed of a loaded scenario, each replication
 * an independent simulation (seed = scenario seed + k). Results come back in a fixed
 * order — variants in file order, seeds ascending — so reports are reproducible.
 */
import type { LoadedScenario, Scenario, Variant } from '../scenario/types.js';
import type { RunResult } from '../sim/metrics.js';
import { simulate } from '../sim/world.js';

export interface RunOptions {
  /** Overrides the scenario's base seed. */
  readonly seed?: number;
  /** Overrides the scenario's number of replications. */
  readonly seeds?: number;
  /** Only these variants (by name), in the scenario's order. */
  readonly variants?: readonly string[];
  /** Called after each replication (for progress output). */
  readonly onRun?: (done: number, total: number, variant: string, seed: number) => void;
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

/** Thrown for a --variant name the scenario does not have. */
export class UnknownVariantError extends Error {
  constructor(
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`unknown variant "${requested}"; the scenario has: ${known.join(', ')}`);
    this.name = 'UnknownVariantError';
  }
}

export function selectVariants(loaded: LoadedScenario, names: readonly string[] | undefined): readonly Variant[] {
  if (!names || names.length === 0) return loaded.variants;
  const known = loaded.variants.map((v) => v.name);
  for (const n of names) if (!known.includes(n)) throw new UnknownVariantError(n, known);
  return loaded.variants.filter((v) => names.includes(v.name));
}

export function seedList(base: Scenario, options: Pick<RunOptions, 'seed' | 'seeds'>): number[] {
  const seed = options.seed ?? base.seed;
  const count = options.seeds ?? base.seeds;
  return Array.from({ length: count }, (_, k) => seed + k);
}

export function runScenario(loaded: LoadedScenario, options: RunOptions = {}): RunOutput {
  const variants = selectVariants(loaded, options.variants);
  const seeds = seedList(loaded.base, options);
  const total = variants.length * seeds.length;
  let done = 0;
  const results = variants.map((v) => ({
    name: v.name,
    scenario: v.scenario,
    runs: seeds.map((seed) => {
      const result = simulate(v.scenario, seed);
      options.onRun?.(++done, total, v.name, seed);
      return result;
    }),
  }));
  return { seeds, variants: results };
}
