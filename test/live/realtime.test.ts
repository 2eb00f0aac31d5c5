/**
 * One algorithm object, two worlds: the IntervalMeter driven through the simulator's
 * virtual-time ports and through the real clock and timers gives the same samples
 * (up to timer jitter in real time).
 */
import { describe, expect, it } from 'vitest';
import { IntervalMeter, type IntervalSample } from '../../src/algorithms/monitoring/interval-meter.js';
import { Engine } from '../../src/sim/engine.js';
import { MAX_TIMER_MS, RealTimers, realClock, timerDelay, timerMs } from '../../src/live/realtime.js';

/** Records 3 outcomes per interval for 4 intervals, via whatever timers it is given. */
function drive(clock: { now(): number }, timers: RealTimers | Engine, interval: number, done: (s: IntervalSample[]) => void): void {
  const samples: IntervalSample[] = [];
  const meter = new IntervalMeter(clock, timers, interval, (s) => samples.push(s));
  for (let k = 0; k < 4; k++) {
    timers.schedule(k * interval + interval / 2, () => {
      meter.record(true, 10);
      meter.record(true, 20);
      meter.record(k % 2 === 0, 30);
    });
  }
  timers.schedule(4 * interval + interval / 4, () => {
    meter.stop();
    done(samples);
  });
}

function shape(samples: IntervalSample[]): unknown[] {
  return samples.map((s) => ({ requests: s.requests, successes: s.successes, mean: s.meanLatencyMs }));
}

describe('IntervalMeter in both worlds', () => {
  it('virtual time: exact interval boundaries', () => {
    const engine = new Engine();
    engine.setModel({ handle: () => {} });
    let out: IntervalSample[] = [];
    drive(engine, engine, 1000, (s) => (out = s));
    engine.run();
    expect(out.map((s) => [s.start, s.end])).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 3000],
      [3000, 4000],
      [4000, 4250],
    ]);
    expect(shape(out)).toEqual([
      { requests: 3, successes: 3, mean: 20 },
      { requests: 3, successes: 2, mean: 20 },
      { requests: 3, successes: 3, mean: 20 },
      { requests: 3, successes: 2, mean: 20 },
      { requests: 0, successes: 0, mean: NaN },
    ]);
  });

  it('real time: the same samples from the same object', async () => {
    const engine = new Engine();
    engine.setModel({ handle: () => {} });
    let virtual: IntervalSample[] = [];
    drive(engine, engine, 100, (s) => (virtual = s));
    engine.run();

    const timers = new RealTimers();
    const real = await new Promise<IntervalSample[]>((resolve) => drive(realClock, timers, 100, resolve));
    expect(shape(real)).toEqual(shape(virtual));
    expect(timers.size).toBe(0);
    // Boundaries follow the real clock: interval k ends at start + 100(k+1) ms (records land mid-interval, 50 ms from any boundary, so event-loop jitter cannot move them).
    for (let k = 0; k < 4; k++) expect(real[k].end - real[0].start).toBeCloseTo(100 * (k + 1), 6);
  });

  it('cancelled real timers never fire', async () => {
    const timers = new RealTimers();
    let fired = false;
    const h = timers.schedule(5, () => (fired = true));
    timers.cancel(h);
    timers.cancel(h);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
    expect(timers.size).toBe(0);
  });
});

describe('timer delays', () => {
  it('stay within what Node timers hold: [0, 2^31 − 1] ms, rounded for timerDelay', () => {
    expect([timerMs(-5), timerMs(0), timerMs(1.5), timerMs(2 ** 31 - 1), timerMs(2 ** 31), timerMs(Infinity)]).toEqual([0, 0, 1.5, MAX_TIMER_MS, MAX_TIMER_MS, MAX_TIMER_MS]);
    expect([timerDelay(5.5), timerDelay(-1), timerDelay(720 * 3600e3)]).toEqual([6, 0, MAX_TIMER_MS]);
    expect(MAX_TIMER_MS).toBe(2147483647);
  });
});
