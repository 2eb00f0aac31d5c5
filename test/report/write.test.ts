/**
 * File output (src/report/write.ts): directories made one level at a time (Node 20's
 * recursive mkdir never returns under /proc), the up-front check of an output directory
 * (which leaves nothing behind), and atomic writes.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs, outputDirProblem, writeFileAtomic } from '../../src/report/write.js';
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
