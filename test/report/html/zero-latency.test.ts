/**
 * `meshsim run scenarios/mm1.yaml --seed 42`: its fastest request rounds to 0 ms, which the
 * latency chart's log axis cannot show; the run writes the HTML report without a Vega warning.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../cli/_run.js';

const TMP = mkdtempSync(join(tmpdir(), 'meshsim-zero-latency-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe('HTML report of a run with a 0 ms latency', () => {
  it('meshsim run scenarios/mm1.yaml --seed 42 prints no chart warning', async () => {
    const out = join(TMP, 'mm1');
    const r = await cli('run', resolve(__dirname, '../../../scenarios/mm1.yaml'), '--seed', '42', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
  }, 60_000);
});
