/**
 * Units: durations (`250us`, `1.5s`), rates (`1500/s`) and percentages (`20%`) as people
 * write them in scenario files, converted to milliseconds, per-second and fractions.
 * Follows Go's `time.ParseDuration` / Prometheus duration syntax, minus compound forms
 * (`1h30m`): one number, one unit, and the unit is never optional.
 *
 * Formatting is exact: `parseDuration(formatDuration(x)) === x` for every finite x ≥ 0
 * (and likewise for rates and percentages), so printed scenarios re-load bit for bit.
 */
import { z } from 'zod';

/** A malformed duration, rate or percentage; the message says what was expected and what was found. */
export class UnitError extends Error {
  constructor(
    message: string,
    /** What a valid value looks like, e.g. "a duration with a unit, like 250ms". */
    readonly expected: string,
  ) {
    super(message);
    this.name = 'UnitError';
  }
}

// A decimal number as String(x) prints it for any finite x ≥ 0 (exponent allowed), or as people write it.
const NUMBER = String.raw`((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)`;

/** Milliseconds per unit, and how a unit's count converts to ms without rounding twice. */
const DURATION_UNITS = {
  h: { toMs: (n: number) => n * 3_600_000, fromMs: (ms: number) => ms / 3_600_000 },
  m: { toMs: (n: number) => n * 60_000, fromMs: (ms: number) => ms / 60_000 },
  s: { toMs: (n: number) => n * 1000, fromMs: (ms: number) => ms / 1000 },
  ms: { toMs: (n: number) => n, fromMs: (ms: number) => ms },
  us: { toMs: (n: number) => n / 1000, fromMs: (ms: number) => ms * 1000 },
  ns: { toMs: (n: number) => n / 1_000_000, fromMs: (ms: number) => ms * 1_000_000 },
} as const;
type DurationUnit = keyof typeof DURATION_UNITS;

/** Per-second rate per unit (`/m` is per minute). */
const RATE_UNITS = {
  s: { toPerSec: (n: number) => n, fromPerSec: (r: number) => r },
  m: { toPerSec: (n: number) => n / 60, fromPerSec: (r: number) => r * 60 },
  h: { toPerSec: (n: number) => n / 3600, fromPerSec: (r: number) => r * 3600 },
  ms: { toPerSec: (n: number) => n * 1000, fromPerSec: (r: number) => r / 1000 },
  us: { toPerSec: (n: number) => n * 1_000_000, fromPerSec: (r: number) => r / 1_000_000 },
} as const;
type RateUnit = keyof typeof RATE_UNITS;

const DURATION_RE = new RegExp(String.raw`^\s*(-)?${NUMBER}\s*([a-zA-Zµ]*)\s*$`);
const RATE_RE = new RegExp(String.raw`^\s*(-)?${NUMBER}\s*/\s*([a-zA-Zµ]*)\s*$`);
const PERCENT_RE = new RegExp(String.raw`^\s*(-)?${NUMBER}\s*(%?)\s*$`);

/** JSON-Schema patterns (for editors), looser than the parsers only in accepting any unit letters. */
export const DURATION_PATTERN = String.raw`^\s*${NUMBER}\s*(ns|us|µs|ms|s|m|h)\s*$`;
export const RATE_PATTERN = String.raw`^\s*${NUMBER}\s*/\s*(us|µs|ms|s|m|h)\s*$`;

export const DURATION_EXPECTED = 'a duration with a unit, like 250ms';
export const RATE_EXPECTED = 'a rate with a unit, like 1500/s';
export const PERCENT_EXPECTED = 'a percentage like 20%, or a fraction between 0 and 1';

function quote(text: string): string {
  return `'${text.length > 60 ? `${text.slice(0, 57)}...` : text}'`;
}

/** How a value that is not the expected string reads in a message. */
function found(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'nothing (null)';
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Milliseconds for a duration like `250us`, `10ms`, `1.5s`, `2m`, `1h`, `100ns`. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text);
  if (!m) {
    const compound = /^\s*(?:\d+(?:\.\d*)?\s*[a-zA-Zµ]+\s*){2,}$/.test(text);
    throw new UnitError(`expected ${compound ? 'one number and one unit, like 90m' : DURATION_EXPECTED}; got ${quote(text)}`, DURATION_EXPECTED);
  }
  const unitText = m[3] === 'µs' ? 'us' : m[3];
  if (unitText === '') throw new UnitError(`expected ${DURATION_EXPECTED}; got ${quote(text)} (no unit)`, DURATION_EXPECTED);
  if (!Object.hasOwn(DURATION_UNITS, unitText)) {
    throw new UnitError(`unknown duration unit '${m[3]}' in ${quote(text)}; expected one of ns, us, ms, s, m, h`, DURATION_EXPECTED);
  }
  if (m[1]) throw new UnitError(`a duration cannot be negative; got ${quote(text)}`, 'a duration ≥ 0');
  const ms = DURATION_UNITS[unitText as DurationUnit].toMs(Number(m[2]));
  if (!Number.isFinite(ms)) throw new UnitError(`duration ${quote(text)} is too large`, DURATION_EXPECTED);
  return ms;
}

/** Per-second rate for a rate like `1500/s`, `120/m`, `3/ms`, `10/h`. */
export function parseRate(text: string): number {
  const m = RATE_RE.exec(text);
  if (!m) throw new UnitError(`expected ${RATE_EXPECTED}; got ${quote(text)}`, RATE_EXPECTED);
  const unitText = m[3] === 'µs' ? 'us' : m[3];
  if (!Object.hasOwn(RATE_UNITS, unitText)) {
    throw new UnitError(`unknown rate unit '/${m[3]}' in ${quote(text)}; expected one of /us, /ms, /s, /m, /h`, RATE_EXPECTED);
  }
  if (m[1]) throw new UnitError(`a rate cannot be negative; got ${quote(text)}`, 'a rate ≥ 0');
  const perSec = RATE_UNITS[unitText as RateUnit].toPerSec(Number(m[2]));
  if (!Number.isFinite(perSec)) throw new UnitError(`rate ${quote(text)} is too large`, RATE_EXPECTED);
  return perSec;
}

/** A fraction in [0, 1] for `20%` or a plain fraction such as `0.2`. */
export function parsePercent(text: string): number {
  const m = PERCENT_RE.exec(text);
  if (!m || m[1]) throw new UnitError(`expected ${PERCENT_EXPECTED}; got ${quote(text)}`, PERCENT_EXPECTED);
  const n = Number(m[2]);
  const fraction = m[3] === '%' ? n / 100 : n;
  if (!(fraction <= 1)) throw new UnitError(`expected ${PERCENT_EXPECTED}; got ${quote(text)} (more than 100%)`, PERCENT_EXPECTED);
  return fraction;
}

function checkFormattable(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`cannot format ${what} ${value}: expected a finite number ≥ 0`);
}

/**
 * The shortest `<number><unit>` text that reads back exactly as `value`, over units where
 * the number is at least 1 (ties go to the unit listed first); else `fallback`.
 */
function shortestExact(value: number, units: ReadonlyArray<readonly [string, (n: number) => number, (v: number) => number]>, fallback: string): string {
  let best: string | undefined;
  for (const [suffix, toValue, fromValue] of units) {
    const n = fromValue(value);
    if (!(n >= 1) || !Number.isFinite(n) || toValue(n) !== value) continue;
    const text = `${String(n)}${suffix}`;
    if (best === undefined || text.length < best.length) best = text;
  }
  return best ?? fallback;
}

const DURATION_FORMATS = (Object.keys(DURATION_UNITS) as DurationUnit[]).map((u) => [u, DURATION_UNITS[u].toMs, DURATION_UNITS[u].fromMs] as const);
const RATE_FORMATS = (Object.keys(RATE_UNITS) as RateUnit[]).map((u) => [`/${u}`, RATE_UNITS[u].toPerSec, RATE_UNITS[u].fromPerSec] as const);

/**
 * Text for `ms` that parses back to exactly `ms`, in the unit that reads shortest:
 * `2h`, `90s`, `1.5s`, `20ms`, `250us`; `0s` for zero, decimal ms when nothing else is exact.
 */
export function formatDuration(ms: number): string {
  checkFormattable(ms, 'duration');
  if (ms === 0) return '0s';
  return shortestExact(ms, DURATION_FORMATS, `${String(ms)}ms`);
}

/** Text for a per-second rate that parses back exactly: `1500/s` for whole numbers per second, else the shortest of `30/m`, `2.5/ms`, ... */
export function formatRate(perSec: number): string {
  checkFormattable(perSec, 'rate');
  if (Number.isSafeInteger(perSec)) return `${perSec}/s`;
  return shortestExact(perSec, RATE_FORMATS, `${String(perSec)}/s`);
}

/** Text for a fraction in [0, 1] that parses back exactly: `20%` when exact, else the plain fraction. */
export function formatPercent(fraction: number): string {
  checkFormattable(fraction, 'fraction');
  if (fraction > 1) throw new RangeError(`cannot format fraction ${fraction} as a percentage: expected at most 1`);
  const percent = String(fraction * 100);
  return Number(percent) / 100 === fraction ? `${percent}%` : String(fraction);
}

/** A zod error map for a value that should have been `expected`. */
function expecting(expected: string): (issue: { readonly input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? `missing; expected ${expected}` : `expected ${expected}; got ${found(issue.input)}`);
}

/** A codec decode step: parse the text, or record the UnitError's message as the issue. */
function decodeWith(parse: (text: string) => number) {
  return (value: string | number, payload: z.core.ParsePayload<string | number>): number => {
    try {
      return parse(String(value));
    } catch (error) {
      if (!(error instanceof UnitError)) throw error;
      payload.issues.push({ code: 'custom', message: error.message, input: value, path: [] });
      return 0;
    }
  };
}

/** Zod: a duration string in, milliseconds out. Encoding prints it back with {@link formatDuration}. */
export const zDuration = z.codec(
  z.string({ error: expecting(DURATION_EXPECTED) }).meta({ description: 'A duration with a unit: ns, us, ms, s, m or h (e.g. 250ms, 1.5s).', pattern: DURATION_PATTERN, examples: ['250ms', '1.5s'] }),
  z.number(),
  { decode: decodeWith(parseDuration), encode: formatDuration },
);

/** Zod: a rate string in, events per second out. Encoding prints it back with {@link formatRate}. */
export const zRate = z.codec(
  z.string({ error: expecting(RATE_EXPECTED) }).meta({ description: 'A rate per unit of time: /us, /ms, /s, /m or /h (e.g. 1500/s).', pattern: RATE_PATTERN, examples: ['1500/s', '120/m'] }),
  z.number(),
  { decode: decodeWith(parseRate), encode: formatRate },
);

/** Zod: `20%` (or a fraction such as 0.2) in, a fraction in [0, 1] out. Encoding prints it back with {@link formatPercent}. */
export const zPercent = z.codec(
  z.union([z.string(), z.number()], { error: expecting(PERCENT_EXPECTED) }).meta({ description: 'A percentage like 20%, or a fraction between 0 and 1.', examples: ['20%', 0.2] }),
  z.number(),
  { decode: decodeWith(parsePercent), encode: formatPercent },
);
