/**
 * withInterrupt: the first SIGINT or SIGTERM asks the work to stop and says so; a second
 * one exits at once (128 + the signal). The signals are emitted as events (no real signal
 * reaches the test process) and process.exit is stubbed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT_INTERRUPTED, withInterrupt } from '../../../src/cli/commands/context.js';

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
