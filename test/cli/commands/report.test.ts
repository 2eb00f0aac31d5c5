/**
 * `meshsim report DIR`: re-renders index.html, report.md and the chart specs from report.json
 * byte for byte as `meshsim run` wrote them (in this process and in another); bad input
 * exits 2 naming the file, without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAULTS_TAIL } from '../../report/html/_fixture.js';
import { tinyScenario } from '../../_tiny-scenario.js';
import { cli, STACK_LINE, tempFiles } from '../_run.js';

const ROOT = resolve(__dirname, '../../..');
const { fresh, writeScenario } = tempFiles('meshsim-report-');

/** Every file under `dir` (relative path → content). */
function snapshot(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => !['charts'].includes(f));
  return new Map(files.sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

let scenario = '';
let out = '';
let written = new Map<string, string>();
const READABLE = ['index.html', 'report.md', 'charts/latency-percentiles.vl.json', 'charts/timeline.vl.json', 'charts/instances.vl.json', 'charts/summary-intervals.vl.json'];

beforeAll(async () => {
  scenario = writeScenario(tinyScenario({ name: 'report-cmd', tail: FAULTS_TAIL }));
  out = fresh('out');
  const r = await cli('run', scenario, '--out', out);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain('warning');
  written = snapshot(out);
});

describe('meshsim run writes the HTML report', () => {
  it('index.html, the chart specs and the scenario copy next to report.json and report.md', () => {
    expect([...written.keys()]).toEqual(['charts/instances.vl.json', 'charts/latency-percentiles.vl.json', 'charts/summary-intervals.vl.json', 'charts/timeline.vl.json', 'index.html', 'report.json', 'report.md', 'scenario.yaml']);
    expect(written.get('scenario.yaml')).toBe(readFileSync(scenario, 'utf8'));
    expect(written.get('index.html')).toContain('<title>meshsim report: report-cmd</title>');
  });
});

describe('meshsim run --no-html', () => {
  it('writes report.json and report.md only; meshsim report --scenario then makes the same page as a run would have', async () => {
    const dir = fresh('nohtml');
    const r = await cli('run', scenario, '--out', dir, '--no-html');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wrote .*report\.json, report\.md \(/);
    expect(readdirSync(dir).sort()).toEqual(['report.json', 'report.md']);
    const again = await cli('report', dir, '--scenario', scenario);
    expect(again.code).toBe(0);
    const files = snapshot(dir);
    for (const f of [...READABLE, 'report.json', 'scenario.yaml']) expect(files.get(f), f).toBe(written.get(f));
  });
});

describe('meshsim report', () => {
  it('re-renders every readable file byte for byte, without simulating, and prints the page\'s path', async () => {
    const dir = fresh('copy');
    mkdirSync(dir);
    for (const f of ['report.json', 'scenario.yaml']) writeFileSync(join(dir, f), written.get(f) ?? '');
    const r = await cli('report', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join(dir, 'index.html')}\n`);
    expect(r.stderr).toBe(`wrote ${join(dir, 'index.html')}, report.md and 4 chart spec(s) in ${join(dir, 'charts')}\n`);
    const again = snapshot(dir);
    for (const f of READABLE) expect(again.get(f), f).toBe(written.get(f));
  });

  it('in another process too (Vega\'s per-process counters leave no trace)', () => {
    const dir = fresh('child');
    mkdirSync(dir);
    for (const f of ['report.json', 'scenario.yaml']) writeFileSync(join(dir, f), written.get(f) ?? '');
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', join(dir, 'report.json')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).not.toMatch(STACK_LINE);
    expect(child.status).toBe(0);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe(written.get('index.html'));
  });

  it('without the scenario copy: the page says so, with a warning; --scenario gives it back', async () => {
    const dir = fresh('bare');
    mkdirSync(dir);
    writeFileSync(join(dir, 'report.json'), written.get('report.json') ?? '');
    const r = await cli('report', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/meshsim: warning: The scenario is not shown: no scenario\.yaml or scenario\.json with sha256 [0-9a-f]{64} next to the report/);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).not.toContain('<pre id="scenario-text">');
    const given = await cli('report', dir, '--scenario', scenario);
    expect(given.code).toBe(0);
    expect(given.stderr).not.toContain('warning');
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe(written.get('index.html'));
  });

  it('a --scenario that cannot be read is bad input: exit 2 and why, nothing written (it used to be a warning and exit 0)', async () => {
    const dir = fresh('unreadable');
    mkdirSync(dir);
    writeFileSync(join(dir, 'report.json'), written.get('report.json') ?? '');
    for (const [file, why] of [
      [join(dir, 'nope.yaml'), 'no such file'],
      [dir, 'it is a directory; expected a scenario file (YAML or JSON)'],
      ['/dev/zero', 'it is a character device, not a regular file; expected a scenario file (YAML or JSON), or - for standard input'],
    ]) {
      if (!existsSync(file) && file === '/dev/zero') continue;
      const r = await cli('report', dir, '--scenario', file);
      expect(r.code, file).toBe(2);
      expect(r.stderr).toBe(`meshsim: --scenario ${file}: cannot read scenario file: ${why}\n`);
      expect(existsSync(join(dir, 'index.html'))).toBe(false);
    }
  });

  it('bad input: exit 2, the file named, no stack trace, nothing written', async () => {
    const cases: [string, string | undefined, RegExp][] = [
      ['missing', undefined, /\d+-missing: no such file or directory$/m],
      ['not-json', '{"schema": ', /report\.json: not JSON \(/],
      ['v2', JSON.stringify({ schema: 'meshsim/report@2' }), /report\.json: not a meshsim\/report@1 report \(schema "meshsim\/report@2"\)/],
      ['malformed', (written.get('report.json') ?? '').replace('"seeds": [', '"seeds": ["x", '), /report\.json: invalid report at seeds\.0: /],
      ['no variants', JSON.stringify({ ...(JSON.parse(written.get('report.json') ?? '{}') as object), variants: [] }), /report\.json: invalid report at variants: expected at least one variant$/m],
    ];
    for (const [name, content, message] of cases) {
      const dir = fresh(name);
      if (content !== undefined) {
        mkdirSync(dir);
        writeFileSync(join(dir, 'report.json'), content);
      }
      const r = await cli('report', dir);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).toMatch(/^meshsim: /);
      expect(r.stderr, name).not.toMatch(STACK_LINE);
      expect(r.stdout, name).toBe('');
      expect(existsSync(join(dir, 'index.html')), name).toBe(false);
      expect(existsSync(join(dir, 'report.md')), name).toBe(false);
    }
    const none = fresh('empty');
    mkdirSync(none);
    const r = await cli('report', none);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`meshsim: ${join(none, 'report.json')}: cannot read it (no report.json there; run \`meshsim run\` first)\n`);
  });

  it('an output that cannot be written: exit 2, named', async () => {
    const dir = fresh('blocked');
    mkdirSync(dir);
    writeFileSync(join(dir, 'report.json'), written.get('report.json') ?? '');
    writeFileSync(join(dir, 'charts'), 'not a folder');
    const r = await cli('report', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^meshsim: cannot write into ${dir}: `));
    expect(r.stderr).not.toMatch(STACK_LINE);
    rmSync(join(dir, 'charts'));
  });

  it('--help: what it does, examples and exit codes', async () => {
    const r = await cli('report', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/re-render index\.html, report\.md and the chart specs from a report\.json, without\s+simulating/);
    expect(r.stdout).toContain('meshsim report reports/quickstart');
    expect(r.stdout).toMatch(/Exit codes:\n\s+0\s+written\n\s+2\s+bad input/);
    expect((await cli('--help')).stdout).toMatch(/^\s+report \[options\] <dir>/m);
  });
});
