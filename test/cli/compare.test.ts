/**
 * `meshsim compare A B`: paired and unpaired comparisons of real reports, the three output
 * formats, refusing other scenarios unless --force, and bad input (exit 2, file named, no
 * stack trace).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, STACK_LINE } from './_run.js';

const TMP = mkdtempSync(join(tmpdir(), 'meshsim-compare-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const TINY = (name = 'tiny'): string => `schema: meshsim/scenario@1
name: ${name}
seed: 3
seeds: 6
duration: 2s
warmup: 200ms
services:
  api:
    instances: 3
    concurrency: 1
    serviceTime: { dist: exponential, mean: 4ms }
    overrides:
      - instances: [0]
        serviceTime: { dist: exponential, mean: 20ms }
network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 300/s }
mesh:
  balancer: { kind: round-robin }
variants:
  rr: {}
  lr: { mesh.balancer: { kind: least-request } }
`;


const dir = (name: string): string => join(TMP, name);

beforeAll(async () => {
  writeFileSync(dir('tiny.yaml'), TINY());
  writeFileSync(dir('other.yaml'), TINY('other'));
  for (const [out, ...args] of [
    ['all'],
    ['rr', '--variant', 'rr'],
    ['lr', '--variant', 'lr'],
    ['all-later-seeds', '--seed', '100'],
  ]) {
    expect((await cli('run', dir('tiny.yaml'), '--out', dir(out), '--format', 'json', ...args)).code).toBe(0);
  }
  expect((await cli('run', dir('other.yaml'), '--out', dir('other'), '--format', 'json')).code).toBe(0);
});

describe('meshsim compare', () => {
  it('single variants under different names, same seeds: paired, with a significant p99 difference', async () => {
    const r = await cli('compare', dir('rr'), join(dir('lr'), 'report.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('lr [B] vs rr [A] — paired by seed');
    expect(r.stdout).toMatch(/^p99 .*\*.*(lower|higher)$/m);
    const json = JSON.parse((await cli('compare', dir('rr'), dir('lr'), '--format', 'json')).stdout);
    expect(json.schema).toBe('meshsim/compare@1');
    expect(json.pairs).toHaveLength(1);
    expect(json.pairs[0]).toMatchObject({ baselineVariant: 'rr', variant: 'lr', method: 'paired' });
    expect(json.pairs[0].figures.p99).toMatchObject({ significant: true, n: 6 });
    expect(json.pairs[0].figures.p99.p).toBeCloseTo(2 / 64, 6);
  });

  it('same-named variants; a report against itself is the same on every seed', async () => {
    const json = JSON.parse((await cli('compare', dir('all'), dir('all'), '--format', 'json')).stdout);
    expect(json.pairs.map((p: { variant: string }) => p.variant)).toEqual(['rr', 'lr']);
    for (const pair of json.pairs) for (const f of Object.values(pair.figures) as { p: number; significant: boolean }[]) expect(f).toMatchObject({ p: 1, significant: false });
  });

  it('different seeds: unpaired, Welch, and said so', async () => {
    const r = await cli('compare', dir('all'), dir('all-later-seeds'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('unpaired (different seeds): delta-method interval on B/A, Welch df');
    const json = JSON.parse((await cli('compare', dir('all'), dir('all-later-seeds'), '--format', 'json')).stdout);
    expect(json.pairs[0].method).toBe('welch');
  });

  it('--format md: a pull-request comment', async () => {
    const r = await cli('compare', dir('rr'), dir('lr'), '--format', 'md');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## meshsim compare: tiny/);
    expect(r.stdout).toContain('### lr [B] vs rr [A]');
    expect(r.stdout).toContain('| figure | A | B | change | 95% CI | p | |');
    expect(r.stdout).toMatch(/^- lr \[B\] p99 is \d+(\.\d+)?% (lower|higher) than rr \[A\] \(95% CI/m);
  });

  it('refuses reports of different scenarios, unless --force', async () => {
    const r = await cli('compare', dir('all'), dir('other'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('different scenarios: scenario "tiny" vs "other"');
    expect(r.stderr).toContain('--force');
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(STACK_LINE);
    const forced = await cli('compare', dir('all'), dir('other'), '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('warning:');
  });

  it('bad input: exit 2, the file named, no stack trace', async () => {
    mkdirSync(dir('empty'));
    writeFileSync(dir('bad.json'), '{ not json');
    writeFileSync(dir('other-schema.json'), JSON.stringify({ schema: 'meshsim/report@9' }));
    writeFileSync(dir('broken.json'), JSON.stringify({ schema: 'meshsim/report@1', scenario: { name: 'x' } }));
    const cases: [string[], string][] = [
      [[dir('all'), dir('nope')], `${dir('nope')}: no such file or directory`],
      [[dir('all'), dir('empty')], `${join(dir('empty'), 'report.json')}: cannot read it`],
      [[dir('all'), dir('bad.json')], `${dir('bad.json')}: not JSON`],
      [[dir('all'), dir('other-schema.json')], 'not a meshsim/report@1 report (schema "meshsim/report@9")'],
      [[dir('all'), dir('broken.json')], `${dir('broken.json')}: invalid report at scenario.sha256`],
      [[dir('all')], 'compare needs at least two reports'],
    ];
    for (const [args, message] of cases) {
      const r = await cli('compare', ...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });

  it('a folder of shard reports but no report.json: says to merge them first', async () => {
    const shards = dir('shards');
    for (const i of [1, 2]) expect((await cli('run', dir('tiny.yaml'), '--shard', `${i}/2`, '--seeds', '1', '--out', shards)).code).toBe(0);
    const r = await cli('compare', dir('all'), shards);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `meshsim: ${join(shards, 'report.json')}: cannot read it (no report.json there; it holds 2 shard report(s) of a sharded run: merge them first, e.g. \`meshsim merge ${shards} --out ${shards}\`)\n`,
    );
    // Which works: merged there, the folder compares.
    expect((await cli('merge', shards, '--out', shards, '--format', 'json')).code).toBe(0);
    expect((await cli('compare', dir('all'), shards, '--format', 'json')).code).toBe(0);
  });

  it('variants without a counterpart are named in a warning', async () => {
    const r = await cli('compare', dir('rr'), dir('all'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('variant lr has no counterpart');
    const none = await cli('compare', dir('lr'), dir('rr'), '--format', 'json');
    expect(none.code).toBe(0); // single variants under different names are paired
  });

  it('--help documents it with examples', async () => {
    const r = await cli('compare', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--force');
    expect(r.stdout).toContain('--format');
  });
});
