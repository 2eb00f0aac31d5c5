/** Reading report.json back: every bad input named, with the file and the field. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readReport, ReportFileError } from '../../src/report/read.js';
import { reportJson } from '../../src/report/report.js';
import { tempFiles } from '../cli/_run.js';
import { fixtureReport, olderReport } from './html/_fixture.js';

const { fresh } = tempFiles('meshsim-read-');
const report = fixtureReport();

function reportDir(content: string): string {
  const dir = fresh('r');
  mkdirSync(dir);
  writeFileSync(join(dir, 'report.json'), content);
  return dir;
}

const error = (path: string): string => {
  try {
    readReport(path);
  } catch (e) {
    expect(e).toBeInstanceOf(ReportFileError);
    return (e as Error).message;
  }
  throw new Error('read without error');
};

describe('readReport', () => {
  it('reads a report from its directory or its file, unchanged (unknown fields kept)', () => {
    const text = reportJson(report);
    const dir = reportDir(text);
    expect(reportJson(readReport(dir).report)).toBe(text);
    expect(readReport(join(dir, 'report.json')).dir).toBe(dir);
    const extra = JSON.stringify({ ...report, future: { field: 1 } });
    expect(readReport(reportDir(extra)).report).toHaveProperty('future', { field: 1 });
  });

  it('names a missing directory, a directory without report.json, and a file that is not JSON', () => {
    expect(error('/nonexistent/dir')).toBe('/nonexistent/dir: no such file or directory');
    const empty = fresh('empty');
    mkdirSync(empty);
    expect(error(empty)).toBe(`${join(empty, 'report.json')}: cannot read it (no report.json there; run \`meshsim run\` first)`);
    expect(error(reportDir('{"schema": "meshsim/report@1",'))).toMatch(/report\.json: not JSON \(/);
  });

  it('a directory of shard reports without report.json: says to merge them first', () => {
    const dir = fresh('shards');
    mkdirSync(dir);
    writeFileSync(join(dir, 'shard-1-of-2.json'), '{}');
    writeFileSync(join(dir, 'shard-2-of-2.json'), '{}');
    expect(error(dir)).toBe(`${join(dir, 'report.json')}: cannot read it (no report.json there; it holds 2 shard report(s) of a sharded run: merge them first, e.g. \`meshsim merge ${dir} --out ${dir}\`)`);
  });

  it('refuses another schema version, or none', () => {
    const dir = reportDir(JSON.stringify({ ...report, schema: 'meshsim/report@2' }));
    expect(error(dir)).toBe(`${join(dir, 'report.json')}: not a meshsim/report@1 report (schema "meshsim/report@2"); this meshsim reads meshsim/report@1 only`);
    expect(error(reportDir('[1, 2]'))).toMatch(/not a meshsim\/report@1 report \(no `schema` field\)/);
  });

  it('refuses a report of no variant, naming the field', () => {
    expect(error(reportDir(JSON.stringify({ ...report, variants: [] })))).toMatch(/report\.json: invalid report at variants: expected at least one variant$/);
  });

  it('reads a report written before the intervals of the counts and maxima (they are optional), and checks them when present', () => {
    expect(report.variants[0].summary.ci.requests).toBeDefined();
    expect(report.statistics.totals).toBeDefined();
    const old = reportJson(olderReport(report));
    expect(old).not.toContain('"errorsResetsConnectFailures"');
    expect(old).not.toContain('"maxima"');
    expect(reportJson(readReport(reportDir(old)).report)).toBe(old);
    const broken = JSON.parse(reportJson(report)) as { variants: { summary: { ci: Record<string, unknown> } }[] };
    broken.variants[0].summary.ci.maxOverMean = [1, 'x'];
    expect(error(reportDir(JSON.stringify(broken)))).toMatch(/invalid report at variants\.0\.summary\.ci\.maxOverMean\.1: .*expected number/i);
  });

  it('names the first malformed field by its path', () => {
    const broken = JSON.parse(reportJson(report)) as { variants: { summary: { latencyMs: { p99: unknown } }; timeline?: unknown }[] };
    broken.variants[1].summary.latencyMs.p99 = 'fast';
    expect(error(reportDir(JSON.stringify(broken)))).toMatch(/report\.json: invalid report at variants\.1\.summary\.latencyMs\.p99: .*expected number/i);
    delete broken.variants[0].timeline;
    expect(error(reportDir(JSON.stringify(broken)))).toMatch(/invalid report at variants\.0\.timeline: /);
  });
});
