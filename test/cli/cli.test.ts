/**
 * The `meshsim` command, in-process through `main(argv, io)`: reports written and printed,
 * reproducibility, seed and variant selection, and bad input (exit 2, the file and field
 * named, no stack trace, no report touched). One test runs the real executable.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyScenario } from '../_tiny-scenario.js';
import { cli, STACK_LINE, tempFiles } from './_run.js';

const ROOT = resolve(__dirname, '../..');
const { dir: TMP, fresh, writeScenario } = tempFiles('meshsim-cli-');

/** Small and quick: two variants, ~400 requests per run. */
const TINY = tinyScenario();




interface ReportLike {
  schema: string;
  seeds: number[];
  variants: Array<{ name: string; summary: { requests: { total: number } }; runs: Array<{ seed: number } & Record<string, unknown>> }>;
}
const readReport = (dir: string): ReportLike => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportLike;

describe('meshsim run', () => {
  it('writes report.json and report.md to --out and prints the comparison table', async () => {
    const file = writeScenario(TINY);
    const out = fresh('out');
    const r = await cli('run', file, '--out', out);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
    expect(existsSync(join(out, 'report.md'))).toBe(true);
    // The table: a header row naming the columns, one row per variant.
    expect(r.stdout).toContain('tiny');
    expect(r.stdout).toMatch(/^variant\b.*\bp99\b/m);
    expect(r.stdout).toMatch(/^rr\s+\d+/m);
    expect(r.stdout).toMatch(/^rand\s+\d+/m);
    const report = readReport(out);
    expect(report.schema).toBe('meshsim/report@1');
    expect(report.seeds).toEqual([3, 4]);
    expect(report.variants.map((v) => v.name)).toEqual(['rr', 'rand']);
    expect(report.variants[0].summary.requests.total).toBeGreaterThan(200);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/^# .*tiny/m);
  });

  it('--format json prints the report as valid JSON, the same bytes as report.json', async () => {
    const file = writeScenario(TINY);
    const out = fresh('out');
    const r = await cli('run', file, '--out', out, '--format', 'json');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as ReportLike;
    expect(printed.schema).toBe('meshsim/report@1');
    expect(r.stdout).toBe(readFileSync(join(out, 'report.json'), 'utf8'));
  });

  it('--format md prints a Markdown table, with its confidence intervals when there are two seeds or more', async () => {
    const out = fresh('out');
    const r = await cli('run', writeScenario(TINY), '--out', out, '--format', 'md');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\|.*variant.*\|/m);
    // The intervals section of report.md, as it is there (TINY has 2 seeds).
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const section = md.slice(md.indexOf('## 95% confidence intervals'), md.indexOf('\n## ', md.indexOf('## 95% confidence intervals') + 1) + 1);
    expect(section).toMatch(/^## 95% confidence intervals\n[\s\S]*\| rr \| \[/);
    expect(r.stdout).toContain(section.trimEnd());
    const one = await cli('run', writeScenario(tinyScenario({ seeds: 1 })), '--out', fresh('one'), '--format', 'md');
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('confidence');
  });

  it('the same file and seeds twice give a byte-identical report.json', async () => {
    const file = writeScenario(TINY);
    const a = fresh('a');
    const b = fresh('b');
    expect((await cli('run', file, '--out', a)).code).toBe(0);
    expect((await cli('run', file, '--out', b)).code).toBe(0);
    const bytesA = readFileSync(join(a, 'report.json'));
    expect(readFileSync(join(b, 'report.json')).equals(bytesA)).toBe(true);
    // No wall-clock figures inside.
    expect(bytesA.toString()).not.toMatch(/elapsed|duration_?s|wallclock|timestamp/i);
  });

  it('--seed and --seeds override the file; replication k uses seed + k', async () => {
    const file = writeScenario(TINY);
    const one = fresh('one');
    const three = fresh('three');
    expect((await cli('run', file, '--seed', '10', '--seeds', '1', '--out', one)).code).toBe(0);
    expect((await cli('run', file, '--seed', '9', '--seeds', '3', '--out', three)).code).toBe(0);
    expect(readReport(one).seeds).toEqual([10]);
    expect(readReport(three).seeds).toEqual([9, 10, 11]);
    // Seed 10 gives the same run whether it is replication 0 or 1.
    const run10 = readReport(one).variants[0].runs[0];
    const also10 = readReport(three).variants[0].runs.find((x) => x.seed === 10);
    expect(also10).toEqual(run10);
  });

  it('--variant runs only the named variants, in file order', async () => {
    const file = writeScenario(TINY);
    const out = fresh('out');
    const r = await cli('run', file, '--variant', 'rand', '--out', out);
    expect(r.code).toBe(0);
    expect(readReport(out).variants.map((v) => v.name)).toEqual(['rand']);
    const both = fresh('both');
    expect((await cli('run', file, '--variant', 'rand', 'rr', '--out', both)).code).toBe(0);
    expect(readReport(both).variants.map((v) => v.name)).toEqual(['rr', 'rand']);
  });

  it('an unknown variant: exit 2, the file and the known variants named, nothing written', async () => {
    const out = fresh('out');
    const file = writeScenario(TINY);
    const r = await cli('run', file, '--variant', 'nope', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`meshsim: ${file}: unknown variant "nope"; the scenario has: rr, rand\n`);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown variant close to known ones: did you mean, a typo of a name or a part of a sweep point\'s', async () => {
    const file = writeScenario(tinyScenario({ variants: { 'round-robin': '{}', random: '{ mesh.balancer: { kind: random } }' } }));
    const typo = await cli('run', file, '--variant', 'radnom');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe(`meshsim: ${file}: unknown variant "radnom" (did you mean "random"?); the scenario has: round-robin, random\n`);
    const swept = writeScenario(tinyScenario({ variants: { rr: '{}' }, tail: 'sweep:\n  services.api.instances: [1, 2, 3]\n' }));
    const part = await cli('validate', swept);
    expect(part.stdout).toContain('rr_instances-1, rr_instances-2, rr_instances-3');
    const r = await cli('run', swept, '--variant', 'instances-2');
    expect(r.stderr).toBe(`meshsim: ${swept}: unknown variant "instances-2" (did you mean "rr_instances-2"?); the scenario has: rr_instances-1, rr_instances-2, rr_instances-3\n`);
  });
});

describe('meshsim run: bad input', () => {
  it('a missing file: exit 2, the file named, no stack trace', async () => {
    const file = join(TMP, 'does-not-exist.yaml');
    const r = await cli('run', file, '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/cannot read/);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('an overloaded service with an unbounded queue: the run stops at the in-flight limit, exit 2, the file, seed and service named, nothing written', async () => {
    // 10 slots serving ~1,000/s offered 5,000/s for an hour: ~4,000 more requests wait each
    // second; the 4,194,304th in flight (simulated ~1,050 s in, ~2 s and ~0.9 GB here) stops the run.
    const file = writeScenario(
      [
        'schema: meshsim/scenario@1',
        'name: over',
        'seed: 1',
        'seeds: 1',
        'duration: 3600s',
        'warmup: 0s',
        'services:',
        '  api: { instances: 10, concurrency: 1, serviceTime: { dist: exponential, mean: 10ms } }',
        'network: { latency: { dist: exponential, mean: 200us } }',
        'workload:',
        '  - { name: c, target: api, arrival: { process: poisson, rate: 5000/s } }',
        'mesh:',
        '  balancer: { kind: round-robin }',
        '',
      ].join('\n'),
      'over.yaml',
    );
    const out = fresh('out');
    const r = await cli('run', file, '--out', out, '--workers', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^meshsim: .*over\.yaml: seed 1: the run stopped at [\d,.]+ s of simulated time with 4,194,304 requests in flight, /);
    expect(r.stderr).toContain('Service "api" holds 10 in service and 4,194,294 waiting in its instances\' queues: it is offered more than it can serve, and services.api.queue is unbounded.');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a YAML syntax error: exit 2, file:line:column, no stack trace', async () => {
    const file = writeScenario('name: x\nseed: [1\nseeds: 1\n', 'syntax.yaml');
    const r = await cli('run', file, '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: invalid YAML`));
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('an invalid field: exit 2, the file, line and field path named, no stack trace', async () => {
    const file = writeScenario(TINY.replace('    instances: 2\n', '    instances: 2\n    concurrency: -3\n'), 'invalid.yaml');
    const r = await cli('run', file, '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:10:`);
    expect(r.stderr).toContain('services.api.concurrency');
    expect(r.stderr).toContain('-3');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('an invalid field inside a variant names the variant', async () => {
    const file = writeScenario(TINY.replace('kind: random }', 'kind: randomm }'), 'variant.yaml');
    const r = await cli('run', file, '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('variants.rand');
    expect(r.stderr).toContain('mesh.balancer.kind');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('bad option values: exit 2, no stack trace', async () => {
    const file = writeScenario(TINY);
    for (const args of [
      ['--seeds', '0'],
      ['--seed', '-1'],
      ['--seed', '1.5'],
      ['--format', 'xml'],
      ['--bogus'],
    ]) {
      const r = await cli('run', file, '--out', fresh('out'), ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).not.toMatch(STACK_LINE);
    }
  });

  it('a failed run neither creates the --out directory nor touches an existing report.json', async () => {
    const good = writeScenario(TINY);
    const bad = writeScenario(TINY.replace('duration: 2s', 'duration: 2 parsecs'), 'bad.yaml');
    const out = fresh('out');
    expect((await cli('run', good, '--out', out)).code).toBe(0);
    const before = readFileSync(join(out, 'report.json'));
    const mtime = statSync(join(out, 'report.json')).mtimeMs;
    for (const args of [
      ['run', bad, '--out', out],
      ['run', good, '--variant', 'nope', '--out', out],
      ['run', join(TMP, 'missing.yaml'), '--out', out],
    ]) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(readFileSync(join(out, 'report.json')).equals(before)).toBe(true);
      expect(statSync(join(out, 'report.json')).mtimeMs).toBe(mtime);
    }
    const never = fresh('never');
    expect((await cli('run', bad, '--out', never)).code).toBe(2);
    expect(existsSync(never)).toBe(false);
  });

  it('--out naming an existing file is bad input: exit 2 and a message, not an internal error with a stack trace', async () => {
    // Bug (src/cli/program.ts runCommand → src/report/write.ts writeFileAtomic): the output
    // directory is only created after simulating, and the mkdir/rename error escapes as an
    // internal error (exit 70, stack trace printed).
    const notADir = writeScenario('not a directory\n', 'plain-file');
    const r = await cli('run', writeScenario(TINY), '--out', notADir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(notADir);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('--seed and --seeds past Number.MAX_SAFE_INTEGER are refused, not run as duplicate seeds', async () => {
    // Bug (src/cli/program.ts runCommand / src/runner/run.ts seedList): the file's schema
    // checks seed + seeds − 1 ≤ MAX_SAFE_INTEGER, but the command-line overrides skip it, so
    // --seed 9007199254740991 --seeds 3 runs seeds [2⁵³−1, 2⁵³, 2⁵³]: two identical
    // replications reported as independent.
    const out = fresh('out');
    const r = await cli('run', writeScenario(TINY), '--seed', String(Number.MAX_SAFE_INTEGER), '--seeds', '3', '--variant', 'rr', '--out', out);
    if (r.code === 0) {
      const seeds = readReport(out).seeds;
      expect(new Set(seeds).size).toBe(seeds.length);
    } else {
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });
});

describe('meshsim run: arguments users get wrong', () => {
  it('--variant before the file: the file is still found (--variant takes every word after it)', async () => {
    const file = writeScenario(TINY);
    const out = fresh('out');
    const r = await cli('run', '--variant', 'rand', file, '--out', out, '--no-html');
    expect(r.code).toBe(0);
    expect(readReport(out).variants.map((v) => v.name)).toEqual(['rand']);
  });

  it('--variant and no file: exit 2, a message saying why the file may be missing', async () => {
    const r = await cli('run', '--variant', 'rand');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'file'");
    expect(r.stderr).toContain('put the scenario file before --variant');
  });

  it('--seeds above the limit: exit 2 with the limit named', async () => {
    const r = await cli('run', writeScenario(TINY), '--seeds', '4294967296', '--out', fresh('out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('an integer from 1 to 100,000');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('an --out that cannot be created fails before simulating, and quickly', async () => {
    const file = writeScenario(TINY.replace('duration: 2s', 'duration: 600s'));
    const plain = writeScenario('x', 'plain');
    const started = performance.now();
    const r = await cli('run', file, '--out', join(plain, 'sub'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a part of the path is a file, not a directory');
    expect(performance.now() - started).toBeLessThan(5_000); // 600 s of load would take far longer
  });

  it('variants a sweep made identical: a warning on stderr, and the run goes on', async () => {
    const file = writeScenario(TINY);
    const r = await cli('run', file, '--sweep', 'mesh.balancer={kind: p2c},{kind: maglev}', '--seeds', '1', '--out', fresh('out'), '--no-html');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("meshsim: warning: 4 variants make only 2 distinct scenario(s): 'rr_balancer-p2c' = 'rand_balancer-p2c'");
    const v = await cli('validate', file, '--sweep', 'mesh.balancer={kind: p2c},{kind: maglev}');
    expect(v.code).toBe(0);
    expect(v.stderr).toContain('meshsim: warning: 4 variants make only 2 distinct scenario(s)');
    // And the maglev variants get keyless requests (scenario/warnings.ts), named once for both.
    expect(v.stderr).toContain(`meshsim: warning: ${file}: variants 'rr_balancer-maglev', 'rand_balancer-maglev': balancer maglev hashes request keys`);
    expect((await cli('validate', file)).stderr).toBe('');
  });
});

describe('meshsim help', () => {
  it('--help exits 0 and lists the run command', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/^\s+run \[options\] <file>/m);
  });

  it('run --help exits 0 and describes its options', async () => {
    const r = await cli('run', '--help');
    expect(r.code).toBe(0);
    const text = r.stdout + r.stderr;
    for (const option of ['--seed', '--seeds', '--variant', '--out', '--format']) expect(text).toContain(option);
  });

  it('an unknown command with --help: an unknown-command error and exit 2, not the top-level help and 0', async () => {
    const r = await cli('sweep', '--help');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("error: unknown command 'sweep'\n(run with --help for usage)\n");
    const typo = await cli('rn', 'x.yaml', '-h');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('(Did you mean run?)');
    expect((await cli('help', 'run')).code).toBe(0);
  });

  it('no arguments: the help, and exit 2', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/Usage: meshsim/);
    expect(r.stdout + r.stderr).toMatch(/\brun\b/);
  });
});

describe('the real executable', () => {
  it('output piped to a reader that stops early (| head): no EPIPE crash, the exit code stands', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'policies'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like `| head -0`: the reader is gone before the command writes its first byte.
    child.stdout.destroy();
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).not.toMatch(STACK_LINE);
    expect(code).toBe(0);
  }, 30_000);

  it('- reads the scenario from standard input (named <stdin>), capped at 4 MiB like a file', () => {
    const run = (input: string, ...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, input, maxBuffer: 1 << 20 });
    const ok = run(TINY, 'validate', '-');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^<stdin>: ok — scenario "tiny", /);
    expect(ok.status).toBe(0);
    const bad = run(TINY.replace('seed: 3', 'seed: three'), 'validate', '-');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^meshsim: <stdin>:3:7: seed: /);
    // An endless stream, as `yes | meshsim validate -` gives: read up to the cap, then refused.
    const big = run('x'.repeat(4 * 1024 * 1024 + 1), 'validate', '-');
    expect(big.status).toBe(2);
    expect(big.stderr).toBe('meshsim: <stdin>: cannot read scenario file: it is larger than 4,194,304 bytes (4 MiB), the most a scenario file may be\n');
  }, 60_000);

  it('node --import tsx src/cli/main.ts run <bad file>: exit code 2, a message, no stack trace', () => {
    const file = writeScenario(TINY.replace('seed: 3', 'seed: three'), 'bad-seed.yaml');
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', file, '--out', fresh('out')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain(file);
    expect(child.stderr).toContain('seed');
    expect(child.stderr).not.toMatch(STACK_LINE);
    expect(child.stdout).toBe('');
  });
});
