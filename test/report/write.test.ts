/**
 * File output (src/report/write.ts): directories made one level at a time (Node 20's
 * recursive mkdir never returns under /proc), the up-front check of an output directory
 * (which leaves nothing behind), atomic writes, and a set of files replaced with the one
 * readers go by last.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs, outputDirProblem, replaceFiles, writeFileAtomic } from '../../src/report/write.js';
import { tempFiles } from '../cli/_run.js';

const { fresh } = tempFiles('meshsim-write-');

describe('makeDirs', () => {
  it('creates the missing levels and returns them, outermost first; nothing when all exist', () => {
    const top = fresh('a');
    const made = makeDirs(join(top, 'b', 'c'));
    expect(made).toEqual([top, join(top, 'b'), join(top, 'b', 'c')]);
    expect(makeDirs(join(top, 'b', 'c'))).toEqual([]);
  });

  it('throws, rather than looping, where a directory cannot be made', () => {
    const file = fresh('plain');
    writeFileSync(file, 'x');
    expect(() => makeDirs(join(file, 'sub'))).toThrow();
    expect(() => makeDirs(file)).toThrow(/exists and is not a directory/);
    // Under /proc mkdir fails with ENOENT although the parent exists (Linux only).
    if (existsSync('/proc/self')) expect(() => makeDirs('/proc/meshsim-nope/x')).toThrow();
  });
});

describe('outputDirProblem', () => {
  it('is undefined for a directory that can be made, and leaves nothing behind', () => {
    const top = fresh('out');
    expect(outputDirProblem(join(top, 'x', 'y'))).toBeUndefined();
    expect(existsSync(top)).toBe(false);
  });

  it('leaves an existing directory as it was', () => {
    const dir = fresh('existing');
    makeDirs(dir);
    writeFileSync(join(dir, 'report.json'), '{}');
    expect(outputDirProblem(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual(['report.json']);
  });

  it('names the problem: a file on the path, the path itself a file, /proc', () => {
    const file = fresh('plain');
    writeFileSync(file, 'x');
    expect(outputDirProblem(join(file, 'sub'))).toBe('a part of the path is a file, not a directory');
    expect(outputDirProblem(file)).toBe(`${file} exists and is not a directory`);
    if (existsSync('/proc/self')) expect(outputDirProblem('/proc/meshsim-nope')).toBe('cannot create /proc/meshsim-nope there');
  });
});

describe('writeFileAtomic', () => {
  it('writes the content, making the directories, and leaves no temporary file', () => {
    const dir = join(fresh('w'), 'deep');
    writeFileAtomic(join(dir, 'report.json'), '{"a":1}');
    expect(readFileSync(join(dir, 'report.json'), 'utf8')).toBe('{"a":1}');
    expect(readdirSync(dir)).toEqual(['report.json']);
  });
});

describe('replaceFiles', () => {
  it('writes every file, removes the others asked for (and their folders once empty), and leaves no temporary file', () => {
    const dir = fresh('set');
    mkdirSync(join(dir, 'charts'), { recursive: true });
    writeFileSync(join(dir, 'charts', 'old.vl.json'), 'old');
    writeFileSync(join(dir, 'index.html'), 'old page');
    replaceFiles(dir, [{ path: 'report.md', content: 'md' }, { path: 'report.json', content: '{}' }], ['charts/old.vl.json', 'index.html', 'charts/never-there.vl.json']);
    expect(readdirSync(dir).sort()).toEqual(['report.json', 'report.md']);
    expect(readFileSync(join(dir, 'report.json'), 'utf8')).toBe('{}');
  });

  it('keeps a folder that still holds other files', () => {
    const dir = fresh('keep');
    mkdirSync(join(dir, 'charts'), { recursive: true });
    writeFileSync(join(dir, 'charts', 'old.vl.json'), 'old');
    writeFileSync(join(dir, 'charts', 'mine.txt'), 'mine');
    replaceFiles(dir, [{ path: 'report.json', content: '{}' }], ['charts/old.vl.json']);
    expect(readdirSync(join(dir, 'charts'))).toEqual(['mine.txt']);
  });

  it('checks every target before the first rename: a folder where a file goes changes nothing (it used to leave the files renamed before it)', () => {
    const dir = fresh('order');
    mkdirSync(join(dir, 'b.md'), { recursive: true }); // a folder where b.md goes: its rename would fail
    writeFileSync(join(dir, 'a.html'), 'old page');
    writeFileSync(join(dir, 'stale.txt'), 'stale');
    writeFileSync(join(dir, 'last.json'), 'old');
    const before = readdirSync(dir).sort();
    expect(() =>
      replaceFiles(
        dir,
        [
          { path: 'charts/new.vl.json', content: 'new' },
          { path: 'a.html', content: 'new' },
          { path: 'b.md', content: 'new' },
          { path: 'last.json', content: 'new' },
        ],
        ['stale.txt'],
      ),
    ).toThrow(expect.objectContaining({ code: 'EISDIR', message: expect.stringMatching(/b\.md is a directory, where a file of the report goes; nothing was written$/) }));
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'a.html'), 'utf8')).toBe('old page');
    expect(readFileSync(join(dir, 'last.json'), 'utf8')).toBe('old');
    expect(readFileSync(join(dir, 'stale.txt'), 'utf8')).toBe('stale');
  });

  it('a folder named like a file to remove is refused likewise', () => {
    const dir = fresh('remove-dir');
    mkdirSync(join(dir, 'index.html'), { recursive: true });
    expect(() => replaceFiles(dir, [{ path: 'report.json', content: '{}' }], ['index.html'])).toThrow(/index\.html is a directory/);
    expect(readdirSync(dir)).toEqual(['index.html']);
  });

  it('keeps no backup of what it replaced or removed', () => {
    const dir = fresh('backups');
    mkdirSync(join(dir, 'charts'), { recursive: true });
    writeFileSync(join(dir, 'charts', 'old.vl.json'), 'old');
    writeFileSync(join(dir, 'report.json'), 'old');
    replaceFiles(dir, [{ path: 'charts/timeline.vl.json', content: 'new' }, { path: 'report.json', content: 'new' }], ['charts/old.vl.json']);
    expect(readdirSync(dir, { recursive: true }).sort()).toEqual(['charts', 'charts/timeline.vl.json', 'report.json']);
    expect(readFileSync(join(dir, 'report.json'), 'utf8')).toBe('new');
  });

  it('removes the temporary files a killed writer left (its PID gone), and no other', () => {
    const dir = fresh('orphans');
    mkdirSync(join(dir, 'charts'), { recursive: true });
    // A PID above the kernel's pid_max (2^22 at most on Linux) runs nowhere.
    const dead = 4_194_305;
    const left = [`.report.json.${dead}.tmp`, `charts/.timeline.vl.json.${dead}.tmp`, `.report.json.${dead}.bak`];
    const kept = [`.report.json.${process.ppid}.tmp`, `.notes.txt.${dead}.tmp`, `.report.json.x.tmp`, 'mine.tmp'];
    for (const f of [...left, ...kept]) writeFileSync(join(dir, f), 'partial');
    replaceFiles(dir, [
      { path: 'charts/timeline.vl.json', content: '{}' },
      { path: 'report.json', content: '{}' },
    ]);
    for (const f of left) expect(existsSync(join(dir, f))).toBe(false);
    for (const f of kept) expect(existsSync(join(dir, f))).toBe(true);
  });

  it('writes every file in full before replacing any: when one cannot be written, the folder is exactly as it was', () => {
    const dir = fresh('staged');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.html'), 'old page');
    writeFileSync(join(dir, 'stale.txt'), 'stale');
    writeFileSync(join(dir, 'plain'), 'a file where a folder should be');
    writeFileSync(join(dir, 'last.json'), 'old');
    const before = readdirSync(dir).sort();
    expect(() =>
      replaceFiles(
        dir,
        [
          { path: 'a.html', content: 'new' },
          { path: 'charts/new.vl.json', content: 'new' }, // its folder is made, then goes again
          { path: 'plain/b.md', content: 'new' }, // cannot be written: 'plain' is a file
          { path: 'last.json', content: 'new' },
        ],
        ['stale.txt'],
      ),
    ).toThrow(/not a directory/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'a.html'), 'utf8')).toBe('old page');
    expect(readFileSync(join(dir, 'last.json'), 'utf8')).toBe('old');
  });
});
