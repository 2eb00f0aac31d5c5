import { describe, expect, it } from 'vitest';
import { ScenarioError, describeValue, formatIssue, suggest } from '../../src/scenario/errors.js';

describe('formatIssue', () => {
  it('prints FILE:LINE:COL: PATH: MESSAGE, leaving out what is unknown', () => {
    expect(formatIssue({ file: 'a.yaml', line: 3, column: 5, path: 'seeds', message: 'expected a whole number ≥ 1; got 0' })).toBe(
      'a.yaml:3:5: seeds: expected a whole number ≥ 1; got 0',
    );
    expect(formatIssue({ file: 'a.yaml', line: 3, path: 'seeds', message: 'm' })).toBe('a.yaml:3: seeds: m');
    expect(formatIssue({ file: 'a.yaml', path: '', message: 'cannot read scenario file' })).toBe('a.yaml: cannot read scenario file');
  });
});

describe('ScenarioError', () => {
  it('carries every issue and describes the first in its fields', () => {
    const error = new ScenarioError([
      { file: 'a.yaml', line: 1, column: 2, path: 'x', message: 'expected a y; got z', expected: 'a y' },
      { file: 'a.yaml', line: 4, column: 1, path: 'w', message: 'bad' },
    ]);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ScenarioError');
    expect(error).toMatchObject({ file: 'a.yaml', line: 1, column: 2, path: 'x', expected: 'a y' });
    expect(error.message).toBe('a.yaml:1:2: x: expected a y; got z\na.yaml:4:1: w: bad');
    expect(error.issues).toHaveLength(2);
  });

  it('needs at least one issue', () => {
    expect(() => new ScenarioError([])).toThrow(RangeError);
  });
});

describe('suggest', () => {
  it.each([
    ['servceTime', 'serviceTime'],
    ['servicetime', 'serviceTime'],
    ['instnaces', 'instances'],
    ['apx', 'api'],
    ['round-robn', 'round-robin'],
  ])('%s → %s', (word, guess) => {
    expect(suggest(word, ['serviceTime', 'instances', 'api', 'round-robin'])).toBe(guess);
  });

  it('stays quiet when nothing is close', () => {
    expect(suggest('jitter', ['latency', 'crossZone'])).toBeUndefined();
    expect(suggest('c', ['a', 'b'])).toBeUndefined();
  });
});

describe('describeValue', () => {
  it.each([
    [250, '250'],
    ['250 ms', "'250 ms'"],
    [null, 'nothing (null)'],
    [undefined, 'nothing'],
    [[1], 'a list'],
    [[], 'an empty list'],
    [{ a: 1 }, 'a mapping'],
    [true, 'true'],
    [Infinity, '.inf'],
  ])('%j reads as %s', (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
});
