/**
 * replaceFiles (src/report/write.ts) when a rename fails after others have been made (here
 * one made to fail by wrapping node:fs): every file replaced is put back, every file added
 * removed, every file deleted restored, and no temporary file or backup is left.
 */
import { failingRename } from '../_failing-rename.js';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { replaceFiles } from '../../src/report/write.js';
import { dirSnapshot, tempFiles } from '../cli/_run.js';

vi.mock('node:fs', async (importOriginal) => (await import('../_failing-rename.js')).fsWithFailingRename(importOriginal));

afterEach(() => {
  failingRename.to = undefined;
});

const { fresh } = tempFiles('meshsim-rollback-');

describe('replaceFiles, a rename failing part-way', () => {
  it('puts the folder back exactly as it was', () => {
    const dir = fresh('set');
    fs.mkdirSync(join(dir, 'charts'), { recursive: true });
    fs.writeFileSync(join(dir, 'index.html'), 'old page');
    fs.writeFileSync(join(dir, 'charts', 'stale.vl.json'), 'stale');
    fs.writeFileSync(join(dir, 'report.json'), 'old');
    const before = dirSnapshot(dir);
    for (const failing of ['report.md', 'report.json']) {
      failingRename.to = failing;
      expect(() =>
        replaceFiles(
          dir,
          [
            { path: 'scenario.yaml', content: 'new' }, // added
            { path: 'charts/timeline.vl.json', content: 'new' }, // added, in a folder that exists
            { path: 'index.html', content: 'new page' }, // replaced
            { path: 'report.md', content: 'new' },
            { path: 'report.json', content: 'new' },
          ],
          ['charts/stale.vl.json'], // deleted, when report.json fails
        ),
      ).toThrow(/ENOSPC/);
      expect(dirSnapshot(dir), failing).toEqual(before);
      expect(fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(tmp|bak)$/.test(f)), failing).toEqual([]);
    }
  });

  it('removes a folder it made for a file it then took back', () => {
    const dir = fresh('fresh');
    fs.mkdirSync(dir, { recursive: true });
    failingRename.to = 'report.json';
    expect(() => replaceFiles(dir, [{ path: 'charts/timeline.vl.json', content: 'new' }, { path: 'report.json', content: 'new' }])).toThrow(/ENOSPC/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
