import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  UnitError,
  formatDuration,
  formatPercent,
  formatRate,
  parseDuration,
  parsePercent,
  parseRate,
  zDuration,
  zPercent,
  zRate,
} from '../../src/core/units.js';

/** Finite doubles ≥ 0 of every magnitude, subnormals included (never -0). */
const nonNegative = fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0);

describe('parseDuration', () => {
  it.each([
    ['250us', 0.25],
    ['250µs', 0.25],
    ['100ns', 0.0001],
    ['10ms', 10],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0s', 0],
    ['.5s', 500],
    ['1e3ms', 1000],
    ['2.5e-1s', 250],
    [' 10 ms ', 10],
  ])('%s is %f ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['250', "expected a duration with a unit, like 250ms; got '250' (no unit)"],
    ['0', "expected a duration with a unit, like 250ms; got '0' (no unit)"],
    ['250 sec', "unknown duration unit 'sec' in '250 sec'; expected one of ns, us, ms, s, m, h"],
    ['-5ms', "a duration cannot be negative; got '-5ms'"],
    ['ms', "expected a duration with a unit, like 250ms; got 'ms'"],
    ['1h30m', "expected one number and one unit, like 90m; got '1h30m'"],
    ['1e999s', "duration '1e999s' is too large"],
    ['Infinity ms', "expected a duration with a unit, like 250ms; got 'Infinity ms'"],
  ])('rejects %j', (text, message) => {
    expect(() => parseDuration(text)).toThrow(UnitError);
    expect(() => parseDuration(text)).toThrow(message);
  });
});

describe('parseRate', () => {
  it.each([
    ['1500/s', 1500],
    ['120/m', 2],
    ['3/ms', 3000],
    ['1/us', 1e6],
    ['36/h', 0.01],
    ['2.5 / s', 2.5],
    ['0/s', 0],
  ])('%s is %f per second', (text, perSec) => {
    expect(parseRate(text)).toBe(perSec);
  });

  it.each([
    ['1500', "expected a rate with a unit, like 1500/s; got '1500'"],
    ['1500 rps', "expected a rate with a unit, like 1500/s; got '1500 rps'"],
    ['10/sec', "unknown rate unit '/sec' in '10/sec'; expected one of /us, /ms, /s, /m, /h"],
    ['-1/s', "a rate cannot be negative; got '-1/s'"],
  ])('rejects %j', (text, message) => {
    expect(() => parseRate(text)).toThrow(message);
  });
});

describe('parsePercent', () => {
  it.each([
    ['20%', 0.2],
    ['0%', 0],
    ['100%', 1],
    ['12.5 %', 0.125],
    ['0.25', 0.25],
  ])('%s is %f', (text, fraction) => {
    expect(parsePercent(text)).toBe(fraction);
  });

  it.each(['120%', '-5%', '2', 'half', '20 %%'])('rejects %j', (text) => {
    expect(() => parsePercent(text)).toThrow(UnitError);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [0.25, '250us'],
    [0.0001, '100ns'],
    [1, '1ms'],
    [20, '20ms'],
    [150, '150ms'],
    [1500, '1.5s'],
    [60_000, '1m'],
    [90_000, '90s'],
    [7_200_000, '2h'],
  ])('%f ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips every finite non-negative double exactly', () => {
    fc.assert(
      fc.property(nonNegative, (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 5000 },
    );
  });

  it.each([-1, NaN, Infinity])('refuses %f', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });
});

describe('formatRate', () => {
  it.each([
    [1500, '1500/s'],
    [0, '0/s'],
    [0.5, '30/m'],
    [2 / 60, '2/m'],
    [1 / 3600, '1/h'],
  ])('%f per second is %s', (perSec, text) => {
    expect(formatRate(perSec)).toBe(text);
  });

  it('round-trips every finite non-negative double exactly', () => {
    fc.assert(
      fc.property(nonNegative, (perSec) => {
        expect(parseRate(formatRate(perSec))).toBe(perSec);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatPercent', () => {
  it('prints whole percentages with a % sign', () => {
    expect(formatPercent(0.2)).toBe('20%');
    expect(formatPercent(1)).toBe('100%');
  });

  it('round-trips every fraction in [0, 1] exactly', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0), (f) => {
        expect(parsePercent(formatPercent(f))).toBe(f);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('zod helpers', () => {
  const messages = (schema: z.ZodType, input: unknown): string[] => {
    const r = schema.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => i.message);
  };

  it('convert strings with units', () => {
    expect(zDuration.parse('250us')).toBe(0.25);
    expect(zRate.parse('120/m')).toBe(2);
    expect(zPercent.parse('20%')).toBe(0.2);
    expect(zPercent.parse(0.2)).toBe(0.2);
  });

  it('say what was expected and what was found', () => {
    expect(messages(zDuration, 250)).toEqual(['expected a duration with a unit, like 250ms; got 250']);
    expect(messages(zDuration, undefined)).toEqual(['missing; expected a duration with a unit, like 250ms']);
    expect(messages(zDuration, '250 sec')).toEqual(["unknown duration unit 'sec' in '250 sec'; expected one of ns, us, ms, s, m, h"]);
    expect(messages(zRate, 1500)).toEqual(['expected a rate with a unit, like 1500/s; got 1500']);
    expect(messages(zRate, [1])).toEqual(['expected a rate with a unit, like 1500/s; got a list']);
    expect(messages(zPercent, true)).toEqual(['expected a percentage like 20%, or a fraction between 0 and 1; got true']);
  });

  it('encode back to text', () => {
    expect(zDuration.encode(1500)).toBe('1.5s');
    expect(zRate.encode(1500)).toBe('1500/s');
    expect(zPercent.encode(0.2)).toBe('20%');
  });

  it('work inside objects, with the issue at the field', () => {
    const r = z.object({ timeout: zDuration }).safeParse({ timeout: '2 fortnights' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].path).toEqual(['timeout']);
  });
});
