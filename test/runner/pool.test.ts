/**
 * The worker pool from compiled JavaScript, as `npm run demo` runs it (dist/…/worker.js
 * next to pool.js, no tsx): src/ is transpiled (TypeScript's transpileModule, no type
 * check) into a scratch package inside node_modules/.cache, and its CLI, run with
 * `--workers 2` in a child process, must write the report.json the in-process run writes.
 * (The TypeScript form, through tsx, is covered by run.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, tempFiles } from '../cli/_run.js';
import { richScenario } from '../_rich-scenario.js';

const ROOT = resolve(__dirname, '../..');
const SCRATCH = join(ROOT, 'node_modules', '.cache', `meshsim-compiled-${process.pid}`);
afterAll(() => rmSync(SCRATCH, { recursive: true, force: true }));

function compileSources(): string {
  const src = join(ROOT, 'src');
  const out = join(SCRATCH, 'dist');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const file of walk(src)) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: file,
    });
    const target = join(out, relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  copyFileSync(join(ROOT, 'package.json'), join(SCRATCH, 'package.json')); // version.js reads ../package.json
  return join(out, 'cli', 'main.js');
}

const { fresh, writeScenario } = tempFiles('meshsim-pool-');

describe('worker threads from compiled JavaScript', () => {
  it('meshsim run --workers 2 (dist form) writes the report.json of an in-process run', async () => {
    const main = compileSources();
    const file = writeScenario(richScenario({ seeds: 2 }));
    const single = fresh('single');
    expect((await cli('run', file, '--out', single, '--workers', '1', '--format', 'json')).code).toBe(0);
    const parallel = fresh('parallel');
    const child = spawnSync(process.execPath, [main, 'run', file, '--out', parallel, '--workers', '2', '--format', 'json'], { encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr).not.toMatch(/error/i);
    expect(child.status).toBe(0);
    expect(readFileSync(join(parallel, 'report.json'), 'utf8')).toBe(readFileSync(join(single, 'report.json'), 'utf8'));
    expect(readFileSync(join(parallel, 'report.md'), 'utf8')).toBe(readFileSync(join(single, 'report.md'), 'utf8'));
  });
});
