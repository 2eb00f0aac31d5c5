/**
 * `meshsim run FILE --shard i/n`: instead of report.json, the shard report of this slice
 * of the runs (report/shard.ts, `meshsim/shard@1`), written atomically as
 * `<out>/shard-<i>-of-<n>.json` for `meshsim merge` to combine (commands/merge.ts).
 */
import { join } from 'node:path';
import { buildShard, shardFileName, shardJson, type ShardOptions } from '../../report/shard.js';
import type { ShardSpec } from '../../runner/plan.js';
import type { PluginIdentity } from '../../scenario/plugins.js';
import type { ExecutedPlan } from '../../runner/run.js';
import type { LoadedScenario } from '../../scenario/types.js';
import { readSource } from '../../scenario/load.js';

/** Writes the shard report; returns the exit code (0). */
export function writeShardReport(
  loaded: LoadedScenario,
  options: ShardOptions & { readonly variant?: readonly string[] },
  shard: ShardSpec,
  executed: ExecutedPlan,
  dir: string,
  io: { readonly stderr: (text: string) => void },
  started: number,
  write: (path: string, content: string) => void,
  plugins: readonly PluginIdentity[],
): number {
  const source = loaded.source ?? readSource(loaded.file).toString('utf8');
  const doc = buildShard(
    loaded,
    source,
    { seed: options.seed, seeds: options.seeds, variants: options.variant, sweep: options.sweep },
    executed.plan,
    shard,
    executed.runs,
    plugins,
  );
  const path = join(dir, shardFileName(shard));
  write(path, shardJson(doc));
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  io.stderr(`wrote ${path}: shard ${shard.index}/${shard.count}, ${doc.runs.length} of ${doc.plan.runs} run(s) (${seconds} s); combine the shards with meshsim merge\n`);
  return 0;
}
