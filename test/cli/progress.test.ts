/** The progress line: bar, runs, simulated requests per second from finished runs, time left; redraws throttled. */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/program.js';
import { clock, formatProgress, ProgressLine } from '../../src/cli/progress.js';
import { tempFiles } from './_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

describe('formatProgress', () => {
  it('shows the bar, runs done of total, the rate of finished work and the time left', () => {
    expect(formatProgress({ done: 8, total: 32, requests: 2_500_000, elapsedMs: 2000 }, 8)).toBe('[##------] 8/32 runs  1.25M req/s  0:06 left');
    expect(formatProgress({ done: 0, total: 4, requests: 0, elapsedMs: 500 }, 4)).toBe('[----] 0/4 runs  … req/s  … left');
    expect(formatProgress({ done: 4, total: 4, requests: 1200, elapsedMs: 3000 }, 4)).toBe('[####] 4/4 runs  400 req/s  done in 0:03');
    expect(formatProgress({ done: 1, total: 3, requests: 45_000, elapsedMs: 1000 }, 3)).toBe('[#--] 1/3 runs  45.0k req/s  0:02 left');
  });

  it('clock reads m:ss and h:mm:ss', () => {
    expect(clock(0)).toBe('0:00');
    expect(clock(59.6)).toBe('1:00');
    expect(clock(3725)).toBe('1:02:05');
  });
});

describe('ProgressLine', () => {
  it('redraws in place at most every interval, and always the last run, ending the line', () => {
    let now = 0;
    const out: string[] = [];
    const line = new ProgressLine((t) => out.push(t), () => now, 100);
    now = 50;
    line.update(1, 3, 1000); // drawn (first)
    now = 120;
    line.update(2, 3, 1000); // within 100 ms of the last draw: skipped
    now = 130;
    line.update(3, 3, 1000); // the last: drawn
    expect(out).toHaveLength(2);
    const CLEAR = '\r\u001b[K'; // back to the line's start, erase it
    expect(out[0]).toBe(`${CLEAR}[#######-------------] 1/3 runs  20.0k req/s  0:00 left`);
    expect(out[1]).toBe(`${CLEAR}[####################] 3/3 runs  23.1k req/s  done in 0:00\n`);
  });
});

describe('meshsim run on a terminal', () => {
  const { fresh, writeScenario } = tempFiles('meshsim-progress-');
  const run = async (isTTY: boolean, ...extra: string[]): Promise<string> => {
    let stderr = '';
    const code = await main(['run', writeScenario(tinyScenario()), '--out', fresh('out'), ...extra], { stdout: () => {}, stderr: (t) => (stderr += t), isTTY });
    expect(code).toBe(0);
    return stderr;
  };

  it('draws the progress bar on an interactive stderr only, and not with --no-progress', async () => {
    expect(await run(true)).toMatch(/\[#+\] 4\/4 runs {2}[\d.]+k? req\/s {2}done in \d+:\d\d\n/);
    expect(await run(false)).not.toContain('runs');
    expect(await run(true, '--no-progress')).not.toContain('runs');
  });
});
