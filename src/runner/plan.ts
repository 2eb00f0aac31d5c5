/**
 * The run plan: every selected variant × seed of a scenario as one canonical list (variants
 * in file order, seeds ascending; run k is variant ⌊k / seeds⌋, seed k mod seeds), and its
 * deterministic slices for sharding, as test runners shard suites (Playwright and Jest
 * `--shard i/n`): shard i of n (1-based) takes runs k with k mod n = i − 1, so shards
 * differ by at most one run and each gets runs of every part of a sweep.
 */
export interface PlannedRun {
  /** Position in the canonical order. */
  readonly index: number;
  /** Index into the plan's variants. */
  readonly variant: number;
  readonly seed: number;
}

/** Shard `index` (1-based) of `count`. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** Thrown for an unusable `--shard` value; the message says what was expected. */
export class ShardSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShardSpecError';
  }
}

/** The canonical list of runs of `variants` × `seeds`. */
export function planRuns(variantCount: number, seeds: readonly number[]): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (let v = 0; v < variantCount; v++) for (const seed of seeds) runs.push({ index: runs.length, variant: v, seed });
  return runs;
}

/** Parses `i/n` (1 ≤ i ≤ n): shard i of n. */
export function parseShardSpec(text: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) throw new ShardSpecError(`expected i/n, like 1/4 (shard i of n, 1 ≤ i ≤ n), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count)) throw new ShardSpecError(`the shard count n must be at most ${Number.MAX_SAFE_INTEGER.toLocaleString('en-US')}, got "${text}"`);
  if (count < 1) throw new ShardSpecError(`the shard count n must be at least 1, got "${text}"`);
  if (!Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new ShardSpecError(`the shard index i must be between 1 and n = ${count}, got "${text}" (shards are numbered from 1)`);
  }
  return { index, count };
}

/** The runs shard `shard` takes: canonical positions k with k mod n = i − 1, in order. */
export function shardRuns<T extends { readonly index: number }>(runs: readonly T[], shard: ShardSpec): T[] {
  return runs.filter((r) => r.index % shard.count === shard.index - 1);
}
