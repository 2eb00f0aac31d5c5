/**
 * withInterrupt: the first SIGINT or SIGTERM asks the work to stop and says so; a second
 * one exits at once (128 + the signal). holdSignals: a signal during its work takes effect
 * once the work is done. The signals are emitted as events (no real signal reaches the
 * test process) and process.exit and process.kill are stubbed; a real SIGINT goes to a
 * child process (node + tsx).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT_INTERRUPTED, holdSignals, withInterrupt } from '../../../src/cli/commands/context.js';

const ROOT = resolve(__dirname, '../../..');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withInterrupt', () => {
  it('first signal: aborts and tells; second: exits at once; handlers removed afterwards', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const told: string[] = [];
    const before = process.listenerCount('SIGINT');
    const result = await withInterrupt(async (signal) => {
      process.emit('SIGINT', 'SIGINT');
      expect(signal.aborted).toBe(true);
      expect(exit).not.toHaveBeenCalled();
      process.emit('SIGINT', 'SIGINT');
      expect(exit).toHaveBeenCalledWith(EXIT_INTERRUPTED);
      return 'stopped';
    }, (t) => told.push(t));
    expect(result).toBe('stopped');
    expect(told).toEqual(['meshsim: interrupted: stopping (Ctrl-C again to stop at once)\n']);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('SIGTERM twice exits with 143; without notify nothing is printed', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    await withInterrupt(async (signal) => {
      process.emit('SIGTERM', 'SIGTERM');
      expect(signal.aborted).toBe(true);
      process.emit('SIGTERM', 'SIGTERM');
    });
    expect(exit).toHaveBeenCalledWith(143);
  });
});

describe('holdSignals', () => {
  it('returns what the work returns, or throws what it throws; its handlers are removed afterwards', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    expect(await holdSignals(() => 42)).toBe(42);
    await expect(
      holdSignals(() => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });

  it('a signal during the work is re-raised once it is done, after the handlers are gone', async () => {
    const raised: unknown[] = [];
    const kill = vi.spyOn(process, 'kill').mockImplementation(((pid: number, signal: string) => {
      raised.push([pid, signal, process.listenerCount('SIGTERM')]);
      return true;
    }) as never);
    const before = process.listenerCount('SIGTERM');
    const steps: string[] = [];
    await holdSignals(() => {
      process.emit('SIGTERM', 'SIGTERM');
      steps.push('work went on');
    });
    expect(steps).toEqual(['work went on']);
    expect(kill).toHaveBeenCalledTimes(1);
    expect(raised).toEqual([[process.pid, 'SIGTERM', before]]);
  });

  it('a real Ctrl-C during the work: the work finishes, then the process ends by SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshsim-hold-'));
    try {
      const [started, done, after] = ['started', 'done', 'after'].map((f) => join(dir, f));
      const script = `
        const { writeFileSync } = await import('node:fs');
        const { holdSignals } = await import(${JSON.stringify(join(ROOT, 'src/cli/commands/context.ts'))});
        await holdSignals(() => {
          writeFileSync(${JSON.stringify(started)}, '');
          const t = Date.now();
          while (Date.now() - t < 1500) {} // a burst of writes, synchronous
          writeFileSync(${JSON.stringify(done)}, '');
        });
        writeFileSync(${JSON.stringify(after)}, '');
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'ignore' });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
      const deadline = Date.now() + 30_000;
      while (!existsSync(started) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(started)).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toEqual({ code: null, signal: 'SIGINT' });
      expect(existsSync(done)).toBe(true);
      expect(existsSync(after)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
