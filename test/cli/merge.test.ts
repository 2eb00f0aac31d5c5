/**
 * `meshsim run --shard i/n` and `meshsim merge`, in-process through `main(argv, io)`: the
 * shards' merge writes report.json, report.md and the HTML report byte-identical to one run's (with
 * --seeds, --variant and --sweep too, and n > runs); assert: rules are checked at merge;
 * bad --shard values and bad sets of shards exit 2 with a message and no stack trace, and
 * write nothing.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, dirSnapshot, STACK_LINE, tempFiles } from './_run.js';
import { richScenario } from '../_rich-scenario.js';
import { tinyScenario } from '../_tiny-scenario.js';

const ROOT = resolve(__dirname, '../..');
const { fresh, writeScenario } = tempFiles('meshsim-merge-');
const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

async function runShards(file: string, n: number, out: string, extra: readonly string[] = []): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const r = await cli('run', file, '--shard', `${i}/${n}`, '--out', out, ...extra);
    expect(r.stderr).toContain(`wrote ${join(out, `shard-${i}-of-${n}.json`)}: shard ${i}/${n}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  }
}

describe('meshsim run --shard + meshsim merge', () => {
  it('merge of shards 1..n writes the bytes of one run (n = 1, 2, 4, 9 > 6 runs)', async () => {
    const file = writeScenario(richScenario());
    const single = fresh('single');
    const one = await cli('run', file, '--out', single, '--format', 'md');
    expect(one.code).toBe(0);
    for (const n of [1, 2, 4, 9]) {
      const shards = fresh(`shards-${n}`);
      await runShards(file, n, shards);
      expect(existsSync(join(shards, 'report.json'))).toBe(false);
      const out = fresh(`merged-${n}`);
      const merged = await cli('merge', shards, '--out', out, '--format', 'md');
      expect(merged.code).toBe(0);
      expect(merged.stderr).toContain(`merging ${n} shard(s) of rich`);
      expect(read(out, 'report.json')).toBe(read(single, 'report.json'));
      expect(read(out, 'report.md')).toBe(read(single, 'report.md'));
      // And the HTML report: index.html, the chart specs and the scenario copy (from the shards' source).
      expect(dirSnapshot(out)).toEqual(dirSnapshot(single));
      expect(merged.stdout).toBe(one.stdout);
    }
  });

  it('with --seeds, --variant and --sweep, from shard files in separate directories', async () => {
    const sample = join(ROOT, 'scenarios/sweep-retries.yaml');
    const opts = ['--seeds', '2', '--sweep', 'mesh.failover.retries.max=0,2', '--variant', 'max-0_budgetPercent-20pct', 'max-2_budgetPercent-20pct', 'max-2_budgetPercent-100pct'];
    const single = fresh('single');
    expect((await cli('run', sample, '--out', single, ...opts)).code).toBe(0);
    const dirs = [fresh('a'), fresh('b'), fresh('c')];
    for (let i = 1; i <= 3; i++) expect((await cli('run', sample, '--shard', `${i}/3`, '--out', dirs[i - 1], ...opts)).code).toBe(0);
    const out = fresh('merged');
    const files = dirs.map((d, i) => join(d, `shard-${i + 1}-of-3.json`)).reverse();
    expect((await cli('merge', ...files, '--out', out)).code).toBe(0);
    expect(read(out, 'report.json')).toBe(read(single, 'report.json'));
  });

  it('checks assert: rules at merge, as run does (exit 1, report written)', async () => {
    const file = writeScenario(tinyScenario({ tail: 'assert:\n  - p50 > 1h\n' }));
    const single = fresh('single');
    const one = await cli('run', file, '--out', single);
    expect(one.code).toBe(1);
    const shards = fresh('shards');
    await runShards(file, 2, shards);
    const out = fresh('merged');
    const merged = await cli('merge', shards, '--out', out);
    expect(merged.code).toBe(1);
    expect(merged.stdout).toBe(one.stdout);
    expect(read(out, 'report.json')).toBe(read(single, 'report.json'));
  });

  it('with --variant leaving out a rule’s variant: the skipped rule is in both report.json, byte for byte, and fails nothing', async () => {
    const file = writeScenario(tinyScenario({ tail: 'assert:\n  - p99 < 1s\n  - { variant: rand, rule: p50 > 1h }\n' }));
    const single = fresh('single');
    const one = await cli('run', file, '--out', single, '--variant', 'rr');
    expect(one.code).toBe(0);
    expect(read(single, 'report.json')).toContain('"skipped": true');
    const shards = fresh('shards');
    await runShards(file, 2, shards, ['--variant', 'rr']);
    const out = fresh('merged');
    const merged = await cli('merge', shards, '--out', out);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toBe(one.stdout);
    expect(read(out, 'report.json')).toBe(read(single, 'report.json'));
    expect(read(out, 'report.md')).toBe(read(single, 'report.md'));
  });

  it('bad --shard values exit 2 before simulating', async () => {
    const file = writeScenario(tinyScenario());
    for (const [value, message] of [
      ['0/2', /between 1 and n = 2/],
      ['3/2', /between 1 and n = 2/],
      ['x', /expected i\/n, like 1\/4/],
      ['1/0', /at least 1/],
    ] as const) {
      const out = fresh('out');
      const r = await cli('run', file, '--shard', value, '--out', out);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("option '--shard <i/n>' argument");
      expect(existsSync(out)).toBe(false);
    }
    const w = await cli('run', file, '--workers', '0');
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/--workers <n>.*expected a worker count \(an integer from 1 to 1,024\), got "0"/);
  });

  it('--format with --shard exits 2 (a shard prints no report: it used to be ignored, leaving `> out.json` empty); --no-html is no loss', async () => {
    const file = writeScenario(tinyScenario());
    for (const extra of [['--format', 'json'], ['--format', 'table'], ['--format', 'md', '--no-html']]) {
      const out = fresh('out');
      const r = await cli('run', file, '--shard', '1/2', ...extra, '--out', out);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toBe('meshsim: --format cannot go with --shard: a shard prints no report and writes only shard-1-of-2.json; give --format to meshsim merge, which makes the report\n');
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    }
    const out = fresh('out');
    expect((await cli('run', file, '--shard', '1/2', '--no-html', '--out', out)).code).toBe(0);
    expect(readdirSync(out)).toEqual(['shard-1-of-2.json']);
  });

  it('bad sets of shards exit 2 naming the problem, with no stack trace, writing nothing', async () => {
    const tiny = writeScenario(tinyScenario());
    const other = writeScenario(tinyScenario({ name: 'other' }));
    const three = fresh('three');
    await runShards(tiny, 3, three);
    const otherShards = fresh('other');
    await runShards(other, 3, otherShards);
    const corrupt = fresh('corrupt.json');
    writeFileSync(corrupt, read(three, 'shard-1-of-3.json').slice(0, 200));
    const future = fresh('future.json');
    writeFileSync(future, read(three, 'shard-2-of-3.json').replace('"schema":"meshsim/shard@1"', '"schema":"meshsim/shard@9"'));
    const single = fresh('single');
    await cli('run', tiny, '--out', single);
    const empty = fresh('empty');
    await cli('run', tiny, '--shard', '1/1', '--out', empty); // a directory with one shard…
    const cases: Array<[string[], RegExp]> = [
      [[join(three, 'shard-1-of-3.json'), join(otherShards, 'shard-2-of-3.json'), join(three, 'shard-3-of-3.json')], /are shards of different scenarios: "other" .* vs "tiny"/],
      [[join(three, 'shard-1-of-3.json'), join(three, 'shard-3-of-3.json')], /missing shard\(s\) 2\/3 \(have 1\/3, 3\/3\)/],
      [[three, join(three, 'shard-2-of-3.json')], /shard 2\/3 is given twice: .*shard-2-of-3\.json and .*shard-2-of-3\.json/],
      [[corrupt], /corrupt\.json: not a shard report: invalid JSON/],
      [[future], /future\.json: unsupported shard report version "meshsim\/shard@9"/],
      [[join(single, 'report.json')], /report\.json: is a report \(meshsim\/report@1\), not a shard report/],
      [[single], /no shard reports \(shard-<i>-of-<n>\.json\) in this directory/],
      [[fresh('nowhere')], /^meshsim: \S*nowhere: no such file or directory; expected a shard report \(shard-<i>-of-<n>\.json\) or a directory holding the shard reports that `meshsim run FILE --shard i\/n --out DIR` writes$/m],
      [[three, empty], /shard-1-of-1\.json is shard 1\/1 but .*shard-1-of-3\.json is shard 1\/3/],
    ];
    for (const [args, message] of cases) {
      const out = fresh('out');
      const r = await cli('merge', ...args, '--out', out);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(existsSync(out)).toBe(false);
    }
    // Nothing in the shard directories but the shards.
    expect(readdirSync(three).sort()).toEqual(['shard-1-of-3.json', 'shard-2-of-3.json', 'shard-3-of-3.json']);
  });

  it('merge --help teaches: examples and exit codes', async () => {
    const r = await cli('merge', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('meshsim merge shards --out reports/sweep-retries');
    expect(r.stdout).toContain('Exit codes:');
    const run = await cli('run', '--help');
    expect(run.stdout).toContain('--shard <i/n>');
    expect(run.stdout).toContain('--workers <n>');
  });
});
