/**
 * Writing a report's folder (src/cli/report-output.ts), through `meshsim run` and `merge`
 * in-process: every file is rendered before the first write, so a run that stops while
 * rendering (Ctrl-C, or here a failing chart) leaves an earlier report of the folder byte
 * for byte; report.json is written last; `--no-html` removes the index.html and chart specs
 * of an earlier run, and nothing else of it but its scenario copy; a scenario copy of an
 * earlier run (another scenario's, or the other format's) goes in the same all-or-nothing
 * write. Chart rendering is wrapped (vi.mock) to look at the folder at that moment and,
 * when a test says so, to fail there; so is renameSync, to fail a rename part-way.
 */
import { failingRename } from '../_failing-rename.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { cli, dirSnapshot, STACK_LINE, tempFiles } from './_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

vi.mock('node:fs', async (importOriginal) => (await import('../_failing-rename.js')).fsWithFailingRename(importOriginal));

/** Called on every chart rendering, before Vega runs; a test sets it, afterEach clears it. */
let onRender: (() => void) | undefined;

vi.mock('../../src/report/html/render.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/report/html/render.js')>();
  return {
    ...actual,
    renderSvg: (...args: Parameters<typeof actual.renderSvg>) => {
      onRender?.();
      return actual.renderSvg(...args);
    },
  };
});

afterEach(() => {
  onRender = undefined;
  failingRename.to = undefined;
});

const { fresh, writeScenario } = tempFiles('meshsim-report-output-');

/** Every file of `dir` with its modification time (rewritten files get a new one). */
function mtimes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const s = statSync(join(dir, name));
    if (s.isFile()) out[name] = s.mtimeMs;
  }
  return out;
}

/** A folder holding a whole earlier report of another scenario ("older"), and its snapshot. */
async function folderWithOldReport(): Promise<{ dir: string; before: Record<string, string> }> {
  const dir = fresh('out');
  expect((await cli('run', writeScenario(tinyScenario({ name: 'older', seeds: 1 })), '--out', dir)).code).toBe(0);
  const before = dirSnapshot(dir);
  expect(Object.keys(before)).toEqual(expect.arrayContaining(['report.json', 'report.md', 'index.html', 'scenario.yaml', 'charts/timeline.vl.json']));
  return { dir, before };
}

describe('a report folder is rendered whole before any file is written', () => {
  it('while the charts render, the folder still holds the earlier report, byte for byte', async () => {
    const { dir, before } = await folderWithOldReport();
    const seen: Record<string, string>[] = [];
    onRender = () => seen.push(dirSnapshot(dir));
    const r = await cli('run', writeScenario(tinyScenario({ name: 'newer' })), '--out', dir);
    expect(r.code).toBe(0);
    expect(seen.length).toBe(4); // one per chart
    for (const s of seen) expect(s).toEqual(before);
    // And then the new report, whole: no file of the old one left.
    const after = dirSnapshot(dir);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const [name, content] of Object.entries(after)) expect(content, name).not.toBe(before[name]);
    expect(after['index.html']).toContain('<title>meshsim report: newer</title>');
  });

  it('a run stopped while rendering (here: a chart that fails) leaves every file of the earlier report as it was, and no temporary file', async () => {
    const { dir, before } = await folderWithOldReport();
    const times = mtimes(dir);
    onRender = () => {
      throw new Error('stopped while rendering');
    };
    const r = await cli('run', writeScenario(tinyScenario({ name: 'newer' })), '--out', dir);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/stopped while rendering/);
    expect(dirSnapshot(dir)).toEqual(before);
    expect(mtimes(dir)).toEqual(times);
  });

  it('meshsim merge alike: stopped while rendering, the earlier report is untouched; otherwise the same files as a run', async () => {
    const file = writeScenario(tinyScenario({ name: 'newer' }));
    const shards = fresh('shards');
    for (const i of [1, 2]) expect((await cli('run', file, '--shard', `${i}/2`, '--out', shards)).code).toBe(0);
    const { dir, before } = await folderWithOldReport();
    onRender = () => {
      throw new Error('stopped while rendering');
    };
    expect((await cli('merge', shards, '--out', dir)).code).toBe(70);
    expect(dirSnapshot(dir)).toEqual(before);
    onRender = undefined;
    expect((await cli('merge', shards, '--out', dir)).code).toBe(0);
    const single = fresh('single');
    expect((await cli('run', file, '--out', single)).code).toBe(0);
    expect(dirSnapshot(dir)).toEqual(dirSnapshot(single));
  });

  it('report.json is written last: when another file cannot be written, exit 2 naming it, and the earlier report.json stays', async () => {
    const { dir, before } = await folderWithOldReport();
    rmSync(join(dir, 'report.md'));
    mkdirSync(join(dir, 'report.md')); // a folder where report.md goes: its rename fails
    const r = await cli('run', writeScenario(tinyScenario({ name: 'newer' })), '--out', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^meshsim: cannot write the report into ${dir}: .*report\\.md`));
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(readFileSync(join(dir, 'report.json'), 'utf8')).toBe(before['report.json']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Nothing else was replaced either: the page, the chart specs and the scenario copy are the older run's.
    const { 'report.md': _md, ...rest } = before;
    expect(dirSnapshot(dir)).toEqual(rest);
  });

  it('a directory where index.html goes: exit 2, and a new folder is left as it was (no chart specs, no scenario copy)', async () => {
    const dir = fresh('blocked');
    mkdirSync(join(dir, 'index.html'), { recursive: true });
    const r = await cli('run', writeScenario(tinyScenario({ name: 'blocked', seeds: 1 })), '--out', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^meshsim: cannot write the report into ${dir}: EISDIR: .*index\\.html is a directory, where a file of the report goes; nothing was written\n$`));
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(readdirSync(dir, { recursive: true })).toEqual(['index.html']);
  });
});

describe('--no-html removes the HTML report of an earlier run', () => {
  it("run: the earlier index.html and chart specs go (and charts/ once empty), the user's files stay", async () => {
    const { dir } = await folderWithOldReport();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const r = await cli('run', writeScenario(tinyScenario({ name: 'newer' })), '--out', dir, '--no-html');
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).toMatch(/wrote .*report\.json, report\.md; removed an earlier run's charts\/latency-percentiles\.vl\.json, .*index\.html, scenario\.yaml \(/);
    // The scenario copy goes too: it is the other scenario's (its sha256 is not the report's).
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'report.json', 'report.md']);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toMatchObject({ scenario: { name: 'newer' } });
    // And `meshsim report` says there is no scenario to show.
    const page = await cli('report', dir);
    expect(page.code).toBe(0);
    expect(page.stderr).toMatch(/warning: The scenario is not shown: no scenario\.yaml or scenario\.json/);
  });

  it("keeps an index.html that is not a meshsim page, and a charts/ folder holding the user's own files", async () => {
    const { dir } = await folderWithOldReport();
    writeFileSync(join(dir, 'index.html'), '<!DOCTYPE html>\n<title>my page</title>\n');
    writeFileSync(join(dir, 'charts', 'mine.vl.json'), '{}');
    const r = await cli('run', writeScenario(tinyScenario({ name: 'newer' })), '--out', dir, '--no-html');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('<!DOCTYPE html>\n<title>my page</title>\n');
    expect(readdirSync(join(dir, 'charts'))).toEqual(['mine.vl.json']);
  });

  it('merge --no-html alike; in a folder without an earlier report, nothing is said', async () => {
    const file = writeScenario(tinyScenario({ name: 'newer' }));
    const shards = fresh('shards');
    for (const i of [1, 2]) expect((await cli('run', file, '--shard', `${i}/2`, '--out', shards)).code).toBe(0);
    const { dir } = await folderWithOldReport();
    const r = await cli('merge', shards, '--out', dir, '--no-html');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed an earlier run's .*index\.html/);
    expect(existsSync(join(dir, 'index.html'))).toBe(false);
    expect(existsSync(join(dir, 'charts'))).toBe(false);
    const clean = fresh('clean');
    mkdirSync(clean);
    const again = await cli('merge', shards, '--out', clean, '--no-html');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/removed/);
    expect(readdirSync(clean).sort()).toEqual(['report.json', 'report.md']);
  });
});

describe("a report folder keeps only this run's scenario copy", () => {
  const json = (name: string): string => writeScenario(JSON.stringify(parseYaml(tinyScenario({ name, seeds: 1 }))), 'scenario.json');

  it('switching between a .yaml and a .json scenario leaves one copy, the one of this run', async () => {
    const { dir } = await folderWithOldReport();
    const toJson = await cli('run', json('newer'), '--out', dir);
    expect(toJson.code).toBe(0);
    expect(toJson.stderr).toMatch(/and index\.html; removed an earlier run's scenario\.yaml \(/);
    expect(readdirSync(dir).filter((f) => f.startsWith('scenario.'))).toEqual(['scenario.json']);
    const toYaml = await cli('run', writeScenario(tinyScenario({ name: 'older', seeds: 1 })), '--out', dir);
    expect(toYaml.code).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('scenario.'))).toEqual(['scenario.yaml']);
    expect((await cli('report', dir)).stderr).not.toMatch(/warning/);
  });

  it("--no-html keeps a copy that is this run's scenario: the same scenario again, or the copy itself being run", async () => {
    const { dir, before } = await folderWithOldReport();
    const again = await cli('run', join(dir, 'scenario.yaml'), '--out', dir, '--no-html');
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/scenario\.yaml/);
    expect(readFileSync(join(dir, 'scenario.yaml'), 'utf8')).toBe(before['scenario.yaml']);
    // A copy in the other format, of another scenario, goes.
    writeFileSync(join(dir, 'scenario.json'), readFileSync(json('other'), 'utf8'));
    const r = await cli('run', join(dir, 'scenario.yaml'), '--out', dir, '--no-html');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/removed an earlier run's scenario\.json \(/);
    expect(readdirSync(dir).sort()).toEqual(['report.json', 'report.md', 'scenario.yaml']);
  });

  it('a write that fails part-way puts the earlier scenario copy back with the rest of the earlier report', async () => {
    for (const extra of [[], ['--no-html']]) {
      const { dir, before } = await folderWithOldReport();
      failingRename.to = 'report.json'; // the last rename: after the stale copy was deleted
      const r = await cli('run', json('newer'), '--out', dir, ...extra);
      failingRename.to = undefined;
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^meshsim: cannot write the report into .*ENOSPC/);
      expect(dirSnapshot(dir), extra.join(' ')).toEqual(before);
    }
  });
});
