/** Writing the HTML report: the files, atomically, the scenario copy and its sha256 check. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { htmlReportFilesIn, prepareHtmlReport, scenarioCopy, scenarioText, staleScenarioCopies, writeHtmlReport } from '../../../src/report/html/write.js';
import type { Report } from '../../../src/report/report.js';
import { FIXTURE_TEXT, fixtureReport } from './_fixture.js';

const root = mkdtempSync(join(tmpdir(), 'meshsim-html-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (): string => join(root, String(counter++));

/** The report as if made from FIXTURE_TEXT saved as a file (its sha256 is of the file's bytes). */
const base = fixtureReport();
const sha = createHash('sha256').update(FIXTURE_TEXT).digest('hex');
const report: Report = { ...base, scenario: { ...base.scenario, sha256: sha } };

function scenarioFile(text = FIXTURE_TEXT, name = 'in.yaml'): string {
  const dir = fresh();
  mkdirSync(dir);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const list = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();

describe('writeHtmlReport', () => {
  it('writes index.html, one spec per chart and the scenario copy, and nothing else (no temp file left)', async () => {
    const dir = fresh();
    const { files, warnings } = await writeHtmlReport(dir, report, { scenarioFile: scenarioFile() });
    expect(warnings).toEqual([]);
    expect(files).toEqual(['scenario.yaml', 'charts/latency-percentiles.vl.json', 'charts/timeline.vl.json', 'charts/instances.vl.json', 'charts/summary-intervals.vl.json', 'index.html']);
    expect(list(dir)).toEqual([...files, 'charts'].sort());
    expect(readFileSync(join(dir, 'scenario.yaml'), 'utf8')).toBe(FIXTURE_TEXT);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('<pre id="scenario-text">schema: meshsim/scenario@1');
  });

  it('same report and scenario bytes → byte-identical files, wherever the scenario file is; re-rendered from the copy, the same page', async () => {
    const a = fresh();
    const b = fresh();
    await writeHtmlReport(a, report, { scenarioFile: scenarioFile() });
    await writeHtmlReport(b, report, { scenarioFile: scenarioFile() });
    for (const f of list(a).filter((x) => x !== 'charts')) expect(readFileSync(join(b, f), 'utf8'), f).toBe(readFileSync(join(a, f), 'utf8'));
    const before = readFileSync(join(a, 'index.html'), 'utf8');
    rmSync(join(a, 'index.html'));
    const again = await writeHtmlReport(a, report);
    expect(again.warnings).toEqual([]);
    expect(readFileSync(join(a, 'index.html'), 'utf8')).toBe(before);
  });

  it('keeps a JSON scenario as scenario.json', async () => {
    const dir = fresh();
    const text = '{"name": "x"}\n';
    const r: Report = { ...report, scenario: { ...report.scenario, sha256: createHash('sha256').update(text).digest('hex') } };
    const { files } = await writeHtmlReport(dir, r, { scenarioFile: scenarioFile(text, 'in.json') });
    expect(files[0]).toBe('scenario.json');
    expect(scenarioCopy(dir, r.scenario.sha256)).toEqual({ file: join(dir, 'scenario.json'), text });
  });

  it('does not show (nor copy) a scenario file whose sha256 is not the report\'s, and says so', async () => {
    const dir = fresh();
    const { files, warnings } = await writeHtmlReport(dir, report, { scenarioFile: scenarioFile(FIXTURE_TEXT + '# edited\n') });
    expect(files).not.toContain('scenario.yaml');
    expect(warnings).toEqual([expect.stringMatching(/in\.yaml is not the file this report was made from \(its sha256 differs\)/)]);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('is not the file this report was made from');
  });

  it('keeps a byte-order mark: the copy has the original bytes', () => {
    const text = '\uFEFF' + FIXTURE_TEXT;
    const file = scenarioFile(text);
    const found = scenarioText(file, createHash('sha256').update(text).digest('hex'));
    expect(found).toEqual({ file, text });
  });

  it('removes the spec of a chart that no longer applies', async () => {
    const dir = fresh();
    await writeHtmlReport(dir, report);
    const noVariants: Report = { ...report, variants: [] };
    const { files } = await writeHtmlReport(dir, noVariants);
    expect(files).toEqual(['index.html']);
    expect(existsSync(join(dir, 'charts/timeline.vl.json'))).toBe(false);
  });

  it('prepareHtmlReport renders the same files without touching the folder; stale: the specs of charts it has not', async () => {
    const dir = fresh();
    const file = scenarioFile();
    const prepared = await prepareHtmlReport(dir, report, { scenarioFile: file });
    expect(existsSync(dir)).toBe(false);
    expect(prepared.stale).toEqual([]);
    const { files } = await writeHtmlReport(dir, report, { scenarioFile: file });
    expect(prepared.files.map((f) => f.path)).toEqual(files);
    for (const f of prepared.files) expect(readFileSync(join(dir, f.path), 'utf8'), f.path).toBe(f.content);
    expect((await prepareHtmlReport(dir, { ...report, variants: [] })).stale).toEqual(['charts/latency-percentiles.vl.json', 'charts/timeline.vl.json', 'charts/instances.vl.json', 'charts/summary-intervals.vl.json']);
  });

  it('htmlReportFilesIn: the chart specs and a meshsim index.html found, not a page of the user\'s nor other files', async () => {
    const dir = fresh();
    expect(htmlReportFilesIn(dir)).toEqual([]);
    await writeHtmlReport(dir, report, { scenarioFile: scenarioFile() });
    writeFileSync(join(dir, 'charts', 'mine.vl.json'), '{}');
    expect(htmlReportFilesIn(dir)).toEqual(['charts/latency-percentiles.vl.json', 'charts/timeline.vl.json', 'charts/instances.vl.json', 'charts/summary-intervals.vl.json', 'index.html']);
    writeFileSync(join(dir, 'index.html'), '<!DOCTYPE html><title>my own page</title>');
    expect(htmlReportFilesIn(dir)).not.toContain('index.html');
  });

  it('a failed write leaves the previous index.html whole and no temp file behind', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), 'previous page');
    writeFileSync(join(dir, 'charts'), 'a file where the charts folder goes');
    await expect(writeHtmlReport(dir, report)).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('previous page');
    expect(list(dir)).toEqual(['charts', 'index.html']);
  });
});

describe('staleScenarioCopies', () => {
  it("with this write's copy, the other format's goes, whatever it holds; not the scenario being run", () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'scenario.yaml'), FIXTURE_TEXT);
    writeFileSync(join(dir, 'scenario.json'), '{}');
    expect(staleScenarioCopies(dir, sha, 'scenario.yaml', undefined)).toEqual(['scenario.json']);
    expect(staleScenarioCopies(dir, sha, 'scenario.json', undefined)).toEqual(['scenario.yaml']);
    expect(staleScenarioCopies(dir, sha, 'scenario.json', join(dir, 'scenario.yaml'))).toEqual([]);
  });

  it("without one, the copies whose sha256 is not the report's; a folder or symlink of that name is the user's", () => {
    const dir = fresh();
    mkdirSync(dir);
    expect(staleScenarioCopies(dir, sha, undefined, undefined)).toEqual([]);
    writeFileSync(join(dir, 'scenario.yaml'), FIXTURE_TEXT);
    writeFileSync(join(dir, 'scenario.json'), '{}');
    expect(staleScenarioCopies(dir, sha, undefined, undefined)).toEqual(['scenario.json']);
    rmSync(join(dir, 'scenario.json'));
    mkdirSync(join(dir, 'scenario.json'));
    rmSync(join(dir, 'scenario.yaml'));
    symlinkSync(scenarioFile('another'), join(dir, 'scenario.yaml'));
    expect(staleScenarioCopies(dir, sha, undefined, undefined)).toEqual([]);
  });
});
