/**
 * Ctrl-C: `meshsim run` (the real process, src/cli/main.ts through tsx) interrupted by
 * SIGINT while its worker threads simulate leaves no report and no temporary file behind,
 * and a report already in the output directory stays as it was, byte for byte (files are
 * written atomically, once, at the end).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, dirSnapshot, tempFiles } from './_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

const ROOT = resolve(__dirname, '../..');
const { fresh, writeScenario } = tempFiles('meshsim-sigint-');
const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** CPU seconds (user + system, all threads) the process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/**
 * Starts `meshsim run` on a scenario far too long to finish (an hour of 20,000 requests/s
 * per run), waits until it has used `cpu` seconds of CPU — past loading tsx and the
 * scenario in the main thread and in both workers, so simulating — then sends SIGINT.
 */
async function interruptedRun(file: string, out: string, cpu = 4): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', file, '--out', out, '--workers', '2', '--no-progress'], { cwd: ROOT, stdio: 'ignore' });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const pid = child.pid as number;
  const deadline = Date.now() + 45_000;
  while (cpuSeconds(pid) < cpu && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(child.exitCode).toBeNull(); // still running: the interrupt comes mid-run
  child.kill('SIGINT');
  return exited;
}


const huge = (): string => tinyScenario({ duration: '1h' }).replace('rate: 200/s', 'rate: 20000/s');

describe('interrupting meshsim run (SIGINT)', () => {
  it('leaves no report and no temporary file', async () => {
    const out = fresh('out');
    const exit = await interruptedRun(writeScenario(huge()), out);
    expect(exit.signal).toBe('SIGINT');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('leaves the previous report of the directory intact', async () => {
    const out = fresh('out');
    expect((await cli('run', writeScenario(tinyScenario()), '--out', out)).code).toBe(0);
    const before = dirSnapshot(out);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['report.json', 'report.md', 'index.html']));
    const exit = await interruptedRun(writeScenario(huge()), out);
    expect(exit.signal).toBe('SIGINT');
    expect(dirSnapshot(out)).toEqual(before);
  });
});
