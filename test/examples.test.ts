/**
 * The sharding examples (examples/k8s/, examples/github-actions/) are valid YAML and
 * consistent: the shards they run are exactly 1..n of the n their --shard names, they
 * write where the merge step reads, and the merge runs `meshsim merge`.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseShardSpec } from '../src/runner/plan.js';

const ROOT = resolve(__dirname, '..');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are untyped YAML

function load(path: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, path), 'utf8'));
  for (const d of docs) expect(d.errors, path).toEqual([]);
  return docs.map((d) => d.toJS() as Doc);
}

describe('examples/k8s', () => {
  const [pvc, shards] = load('examples/k8s/shards-job.yaml');
  const [merge] = load('examples/k8s/merge-job.yaml');

  it('an Indexed Job whose completions are the n of --shard, index + 1 as i', () => {
    expect(pvc.kind).toBe('PersistentVolumeClaim');
    expect(shards.kind).toBe('Job');
    expect(shards.spec.completionMode).toBe('Indexed');
    const container = shards.spec.template.spec.containers[0];
    const command = [...container.command, ...container.args].join(' ');
    const m = /--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)\/(\d+)/.exec(command);
    expect(m).not.toBeNull();
    const n = Number(m?.[1]);
    expect(shards.spec.completions).toBe(n);
    // Every index 0..n-1 gives a valid shard i/n.
    for (let k = 0; k < n; k++) expect(parseShardSpec(`${k + 1}/${n}`)).toEqual({ index: k + 1, count: n });
    expect(command).toMatch(/main\.js run \/scenario\/scenario\.yaml/);
  });

  it('the merge Job reads the directory the shards write, on the same claim', () => {
    const out = /--out (\S+)/.exec(shards.spec.template.spec.containers[0].args.join(' '))?.[1];
    const args: string[] = merge.spec.template.spec.containers[0].args;
    expect(args[0]).toBe('merge');
    expect(args[1]).toBe(out);
    const claim = (job: Doc): string => job.spec.template.spec.volumes.find((v: Doc) => v.persistentVolumeClaim).persistentVolumeClaim.claimName;
    expect(claim(shards)).toBe(pvc.metadata.name);
    expect(claim(merge)).toBe(pvc.metadata.name);
  });
});

describe('examples/github-actions', () => {
  const [wf] = load('examples/github-actions/meshsim-sweep.yml');

  it('a matrix over shards 1..SHARDS, each uploading its shard report, then a merge job', () => {
    const n = Number(wf.env.SHARDS);
    const shard = wf.jobs.shard;
    expect(shard.strategy.matrix.shard).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const steps: Doc[] = shard.steps;
    const run = steps.find((s) => typeof s.run === 'string' && s.run.includes('--shard'));
    expect(run?.run).toContain('--shard ${{ matrix.shard }}/${{ env.SHARDS }} --out shards');
    const upload = steps.find((s) => s.uses === 'actions/upload-artifact@v4');
    expect(upload?.with.path).toBe('shards/');
    expect(upload?.with.name).toBe('meshsim-shard-${{ matrix.shard }}');
    const merge = wf.jobs.merge;
    expect(merge.needs).toBe('shard');
    const download = (merge.steps as Doc[]).find((s) => s.uses === 'actions/download-artifact@v4');
    expect(download?.with).toMatchObject({ pattern: 'meshsim-shard-*', path: 'shards', 'merge-multiple': true });
    expect((merge.steps as Doc[]).some((s) => typeof s.run === 'string' && /\$MESHSIM merge shards /.test(s.run))).toBe(true);
  });
});
