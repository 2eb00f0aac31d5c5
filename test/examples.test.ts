/**
 * The sharding examples (examples/k8s/, examples/github-actions/) are valid YAML and
 * consistent: the shards they run are exactly 1..n of the n their --shard names, they
 * write where the merge step reads, and the merge runs `meshsim merge`. The sample CI
 * workflow (.github/workflows/meshsim.yml) runs the scenarios on the base commit and on the
 * pull request, compares them with `meshsim compare --format md`, posts the comment before
 * failing on a gate, and asks for no more than it needs. Every `$MESHSIM <command>` line in
 * the workflows uses only options that `meshsim <command> --help` lists. README.md's YAML
 * blocks are valid as printed: the annotated scenario, the sweep on top of it, the proxy config.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { parseShardSpec } from '../src/runner/plan.js';
import { buildProgram } from '../src/cli/program.js';
import { resolveProxyConfig } from '../src/live/proxy/config.js';
import { parseScenarioText } from '../src/scenario/load.js';

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

/** The `$MESHSIM <command> …` invocations of a shell script, as argument lists (quotes removed, up to a redirection, pipe, `;` or comment). */
function meshsimCommands(script: string): string[][] {
  const out: string[][] = [];
  for (const m of script.matchAll(/\$MESHSIM\s+([^\n]*)/g)) {
    const args: string[] = [];
    for (const token of m[1].match(/"[^"]*"|'[^']*'|\S+/g) ?? []) {
      if (/^(\d?>>?|<|\||&&|\|\||;|#)/.test(token)) break;
      args.push(token.replace(/^(["'])(.*)\1$/, '$2'));
    }
    out.push(args);
  }
  return out;
}

const PROGRAM = buildProgram({ stdout: () => {}, stderr: () => {}, isTTY: false }, () => {});

/** Checks one `meshsim` argument list against the command's options, as `meshsim <command> --help` lists them. */
function expectKnownOptions(args: readonly string[], where: string): void {
  const [name, ...rest] = args;
  const command: Command | undefined = PROGRAM.commands.find((c) => c.name() === name);
  expect(command, `${where}: meshsim ${name}`).toBeDefined();
  const help = command!.helpInformation();
  for (let i = 0; i < rest.length; i++) {
    if (!rest[i].startsWith('--')) continue;
    const flag = rest[i].split('=')[0];
    const option = command!.options.find((o) => o.long === flag);
    expect(option, `${where}: meshsim ${name} ${flag}`).toBeDefined();
    expect(help, `${where}: meshsim ${name} --help lists ${flag}`).toContain(flag);
    if (option!.required && !rest[i].includes('=')) {
      const value = rest[i + 1];
      expect(value !== undefined && !value.startsWith('--'), `${where}: ${flag} needs a value`).toBe(true);
      if (option!.argChoices && !value.includes('$')) expect(option!.argChoices, `${where}: ${flag} ${value}`).toContain(value);
      i++;
    }
  }
}

describe('.github/workflows/meshsim.yml', () => {
  const PATH = '.github/workflows/meshsim.yml';
  const [wf] = load(PATH);
  const jobs = Object.values(wf.jobs as Record<string, Doc>);
  const job = jobs[0];
  const steps: Doc[] = job.steps;
  const named = (re: RegExp): Doc => {
    const found = steps.filter((s) => re.test(s.name ?? ''));
    expect(found, String(re)).toHaveLength(1);
    return found[0];
  };
  const runStep = (side: 'base' | 'pr'): Doc => {
    const found = steps.filter((s) => s['working-directory'] === side && typeof s.run === 'string' && /\$MESHSIM run /.test(s.run));
    expect(found, side).toHaveLength(1);
    return found[0];
  };
  const compareStep = (): Doc => {
    const found = steps.filter((s) => typeof s.run === 'string' && /\$MESHSIM compare /.test(s.run));
    expect(found).toHaveLength(1);
    return found[0];
  };
  /** Where `meshsim run` writes, relative to the workspace: the step's directory joined with its --out. */
  const outDir = (step: Doc): string => {
    const run = meshsimCommands(step.run).find((a) => a[0] === 'run');
    const out = run?.[run.indexOf('--out') + 1];
    expect(out, step.name).toBeDefined();
    return posix.join(step['working-directory'] ?? '.', out!);
  };

  it('runs on pull requests, with contents: read and pull-requests: write only, and well-known actions', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect(wf.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(jobs).toHaveLength(1);
    expect(job.permissions).toBeUndefined();
    for (const s of steps) if (s.uses) expect(s.uses).toMatch(/^actions\/(checkout|setup-node|github-script|upload-artifact)@v\d+$/);
    expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with['node-version']).toBe(20);
    // The token reaches the comment step alone: the checkouts (whose code runs) keep none.
    for (const s of steps.filter((x) => x.uses?.startsWith('actions/checkout@'))) expect(s.with['persist-credentials']).toBe(false);
  });

  it('checks out the pull request into pr/ and the base commit into base/, and installs and builds each', () => {
    const checkouts = steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkouts.map((s) => s.with.path).sort()).toEqual(['base', 'pr']);
    expect(checkouts.find((s) => s.with.path === 'base')?.with.ref).toBe('${{ github.event.pull_request.base.sha }}');
    expect(checkouts.find((s) => s.with.path === 'pr')?.with.ref).toBeUndefined(); // the pull request (GitHub's test merge)
    for (const side of ['base', 'pr']) {
      expect(steps.some((s) => s['working-directory'] === side && /^npm ci\b/.test(s.run ?? '')), side).toBe(true);
    }
    expect(job.env.MESHSIM).toBe('node dist/cli/main.js'); // each checkout's own build, run in its directory
    expect(steps.indexOf(runStep('base'))).toBeLessThan(steps.indexOf(runStep('pr')));
  });

  it('simulates every scenario of SCENARIOS on both sides, and compares base with pr as Markdown', () => {
    const scenarios = String(job.env.SCENARIOS).split(/\s+/).filter(Boolean);
    expect(scenarios.length).toBeGreaterThan(0);
    for (const file of scenarios) expect(existsSync(join(ROOT, file)), file).toBe(true);
    for (const side of ['base', 'pr'] as const) {
      expect(runStep(side).run).toContain('for file in $SCENARIOS');
      expect(outDir(runStep(side))).toBe(`reports/${side}/$name`);
    }
    const step = compareStep();
    const dir = step['working-directory'] ?? '.';
    expect(step.env.MESHSIM).toBe('node ../pr/dist/cli/main.js'); // the pull request's meshsim
    const compares = meshsimCommands(step.run).filter((a) => a[0] === 'compare');
    expect(compares.length).toBeGreaterThanOrEqual(2);
    for (const args of compares) {
      // base (A, before) first, pr (B, after) second: the report.json files the run steps write.
      expect(args.slice(1, 3).map((f) => posix.join(dir, f))).toEqual(['reports/base/$name/report.json', 'reports/pr/$name/report.json']);
      expect(args.join(' ')).toContain('--format md');
    }
    // A changed scenario (compare refuses it) is compared with --force, and the comment says so.
    expect(compares.some((a) => a.includes('--force'))).toBe(true);
    expect(compares.some((a) => !a.includes('--force'))).toBe(true);
    expect(step.run).toMatch(/The scenario changed/);
    // A scenario the base branch lacks: its report alone.
    expect(runStep('base').run).toMatch(/if \[ ! -f "\$file" \]/);
    expect(step.run).toMatch(/New scenario/);
  });

  it('keeps two scenarios of one file name apart (runs both run steps with a stub meshsim)', () => {
    const work = mkdtempSync(join(tmpdir(), 'meshsim-wf-'));
    try {
      // The stub writes what `meshsim run FILE --out DIR` would (a report.json naming FILE) and exits as the file says.
      const stub = join(work, 'meshsim-stub');
      writeFileSync(stub, '#!/bin/bash\nmkdir -p "$4" && echo "{\\"file\\": \\"$2\\"}" > "$4/report.json"\ngrep -q fail "$2" && exit 1\nexit 0\n');
      chmodSync(stub, 0o755);
      const files = ['scenarios/a/x.yaml', 'scenarios/b/x.yaml', './top.yaml'];
      for (const side of ['base', 'pr'] as const) {
        for (const f of files) {
          mkdirSync(join(work, side, posix.dirname(f)), { recursive: true });
          writeFileSync(join(work, side, f), f === 'scenarios/b/x.yaml' ? 'fail\n' : 'ok\n');
        }
        const output = join(work, `${side}.out`);
        const r = spawnSync('bash', ['-e', '-c', runStep(side).run], {
          cwd: join(work, side),
          env: { ...process.env, SCENARIOS: files.join(' '), MESHSIM: stub, GITHUB_OUTPUT: output },
          encoding: 'utf8',
        });
        expect(r.status, r.stderr).toBe(0);
        for (const [f, dir] of [['scenarios/a/x.yaml', 'scenarios/a/x'], ['scenarios/b/x.yaml', 'scenarios/b/x'], ['./top.yaml', 'top']]) {
          expect(JSON.parse(readFileSync(join(work, 'reports', side, dir, 'report.json'), 'utf8')), `${side} ${f}`).toEqual({ file: f });
          expect(readFileSync(join(work, 'reports', side, `${dir}.exit`), 'utf8').trim()).toBe(f === 'scenarios/b/x.yaml' ? '1' : '0');
        }
        if (side === 'pr') expect(readFileSync(output, 'utf8')).toContain('failed=1');
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a failing gate fails the job, after the comparison is written and posted', () => {
    const run = runStep('pr');
    expect(run.id).toBe('run');
    expect(run.run).toContain('set +e'); // a failing run stops neither the others nor the comment
    expect(run.run).not.toMatch(/(^|[\s;&|(])exit(\s|$)/m); // no `exit`: the fail step fails the job
    expect(run.run).toContain('failed=$failed" >> "$GITHUB_OUTPUT"');
    const post = named(/^Post /);
    const fail = named(/^Fail /);
    expect(compareStep().if).toContain('!cancelled()');
    expect(post.if).toContain('!cancelled()');
    expect(fail.if).toContain("steps.run.outputs.failed == '1'");
    expect(fail.run).toBe('exit 1');
    expect(steps.indexOf(compareStep())).toBeLessThan(steps.indexOf(post));
    expect(steps.indexOf(post)).toBeLessThan(steps.indexOf(fail));
  });

  it('posts the file the compare step writes as one comment, edited on later pushes', () => {
    const post = named(/^Post /);
    expect(post.uses).toMatch(/^actions\/github-script@v\d+$/);
    const file = /readFileSync\('([^']+)'/.exec(post.with.script)?.[1];
    expect(file).toBe(posix.join(compareStep()['working-directory'], 'comment.md'));
    expect(compareStep().run).toMatch(/> comment\.md/);
    expect(post.with.script).toContain('updateComment');
    expect(post.with.script).toContain('createComment');
    expect(post.with.script).toMatch(/const marker = '<!-- meshsim -->'/);
  });
});

describe('meshsim command lines in the workflows use options their --help lists', () => {
  for (const path of ['.github/workflows/meshsim.yml', 'examples/github-actions/meshsim-sweep.yml']) {
    it(path, () => {
      const [wf] = load(path);
      const scripts = Object.values(wf.jobs as Record<string, Doc>).flatMap((j) => (j.steps as Doc[]).filter((s) => typeof s.run === 'string').map((s) => s.run as string));
      const commands = scripts.flatMap(meshsimCommands);
      expect(commands.length).toBeGreaterThan(0);
      for (const args of commands) expectKnownOptions(args, path);
    });
  }

  it('the check itself catches an unknown option, a missing value and a bad --format', () => {
    expect(() => expectKnownOptions(['compare', 'a', 'b', '--formt', 'md'], 't')).toThrow();
    expect(() => expectKnownOptions(['compare', 'a', 'b', '--format'], 't')).toThrow();
    expect(() => expectKnownOptions(['compare', 'a', 'b', '--format', 'html'], 't')).toThrow();
    expect(() => expectKnownOptions(['comprae', 'a', 'b'], 't')).toThrow();
    expectKnownOptions(['compare', 'a', 'b', '--format', 'md', '--force'], 't');
  });
});

describe('README.md', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const scenario = blocks.filter((b) => /^schema: meshsim\/scenario@1\b/m.test(b));
  const proxy = blocks.filter((b) => /^schema: meshsim\/proxy@1\b/m.test(b));
  const sweeps = blocks.filter((b) => /^sweep:\n/.test(b));

  it('every YAML block is one this test checks', () => {
    expect(scenario).toHaveLength(1);
    expect(proxy).toHaveLength(1);
    expect(sweeps).toHaveLength(1);
    expect(blocks).toHaveLength(3);
  });

  it('the annotated scenario is valid as printed, its sweep on a path it sets', () => {
    const loaded = parseScenarioText(scenario[0], 'README.md');
    expect(loaded.variants.map((v) => v.name)).toEqual(['round-robin', 'random'].flatMap((v) => [0, 1, 2, 3].map((k) => `${v}_max-${k}`)));
    expect(loaded.base.mesh.failover?.retries?.max).toBe(2);
  });

  it('the sweep of "Sweeps" on that scenario without its variants: the 24 variants, named as the text says', () => {
    const doc = parse(scenario[0]) as Doc;
    delete doc.variants;
    doc.assert = (doc.assert as unknown[]).filter((rule) => typeof rule === 'string');
    doc.sweep = (parse(sweeps[0]) as Doc).sweep;
    const names = parseScenarioText(stringify(doc), 'README.md').variants.map((v) => v.name);
    expect(names).toHaveLength(24);
    const quoted = [...readme.matchAll(/`(max-\d_[a-zA-Z]+-\d+pct_balancer-[a-z0-9-]+)`/g)].map((m) => m[1]);
    expect(quoted).toHaveLength(3);
    for (const name of quoted) expect(names).toContain(name);
    expect(names[0]).toBe(quoted[0]);
    expect(names.at(-1)).toBe(quoted[2]);
  });

  it('the proxy config is valid as printed', () => {
    const r = resolveProxyConfig(parse(proxy[0]));
    expect(r.ok ? [] : r.issues).toEqual([]);
  });
});
