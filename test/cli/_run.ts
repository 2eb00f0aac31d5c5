/** Runs the `meshsim` command in-process (`main(argv, io)`) and captures what it prints. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { main } from '../../src/cli/program.js';

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function cli(...argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTTY: false });
  return { code, stdout, stderr };
}

/** A stack frame line as Node prints them. */
export const STACK_LINE = /^\s{4}at /m;

/**
 * A temp directory for one test file, removed after its tests: `fresh(name)` is a new path
 * in it, `writeScenario(text)` writes a scenario file there and returns its path.
 */
export function tempFiles(prefix: string): { dir: string; fresh: (name: string) => string; writeScenario: (text: string, name?: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let counter = 0;
  const fresh = (name: string): string => join(dir, `${counter++}-${name}`);
  const writeScenario = (text: string, name = 'scenario.yaml'): string => {
    const file = fresh(name);
    writeFileSync(file, text);
    return file;
  };
  return { dir, fresh, writeScenario };
}

/** Every file under `dir`, recursively: relative path → content. */
export function dirSnapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files[name] = readFileSync(path, 'utf8');
  }
  return files;
}
