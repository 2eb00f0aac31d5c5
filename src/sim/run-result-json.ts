/**
 * A replication's result ({@link RunResult}) as plain JSON data and back, losslessly: what
 * crosses a worker thread's boundary and what a shard report stores. Sketches go through
 * their own canonical form (DDSketch bins and an exact sum, see core/quantile-sketch.ts),
 * typed arrays become arrays, and the numbers JSON cannot hold (±Infinity, NaN, -0; e.g. an
 * unbounded instance's `slots`, a fault window open to the end) are tagged `{ "$num": … }`,
 * so `fromJSON(JSON.parse(JSON.stringify(toJSON(r))))` rebuilds a result that reports
 * byte-identically to `r`.
 */
import { QuantileSketch, type SketchJSON } from '../core/quantile-sketch.js';
import type { RunResult } from './metrics.js';

/** A number JSON has no literal for. */
export interface SpecialNumber {
  readonly $num: 'Infinity' | '-Infinity' | 'NaN' | '-0';
}

/** `T` with every number possibly tagged as a {@link SpecialNumber}. */
export type Tagged<T> = T extends number
  ? number | SpecialNumber
  : T extends readonly (infer U)[]
    ? readonly Tagged<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Tagged<T[K]> }
      : T;

/** A {@link RunResult} as JSON data (see the module comment). */
export type RunResultJSON = Tagged<Omit<RunResult, 'latency' | 'timeline'>> & {
  readonly latency: SketchJSON;
  readonly timeline: {
    readonly bucketMs: number;
    readonly requests: readonly number[];
    readonly succeeded: readonly number[];
    /** null where the bucket has no sketch. */
    readonly latency: readonly (SketchJSON | null)[];
  };
};

/** Thrown for data that is not a {@link RunResultJSON}; the message says where. */
export class RunResultJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunResultJsonError';
  }
}

function tagNumber(x: number): number | SpecialNumber {
  if (Number.isFinite(x)) return Object.is(x, -0) ? { $num: '-0' } : x;
  return { $num: Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity' };
}

const SPECIAL: Readonly<Record<string, number>> = { Infinity: Infinity, '-Infinity': -Infinity, NaN: NaN, '-0': -0 };

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Deep copy of plain data with special numbers tagged (undefined-valued keys dropped, as JSON does). */
function tag(value: unknown): unknown {
  if (typeof value === 'number') return tagNumber(value);
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<unknown>, tag);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = tag(v);
    return out;
  }
  return value;
}

function untag(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => untag(v, `${path}[${i}]`));
  if (isRecord(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$num') {
      const n = SPECIAL[String(value.$num)];
      if (n === undefined) throw new RunResultJsonError(`${path}: unknown special number ${JSON.stringify(value.$num)}`);
      return n;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = untag(v, `${path}.${k}`);
    return out;
  }
  return value;
}

/** The JSON form of a run's result. */
export function runResultToJSON(r: RunResult): RunResultJSON {
  const { latency, timeline, ...rest } = r;
  return {
    ...(tag(rest) as Tagged<Omit<RunResult, 'latency' | 'timeline'>>),
    latency: latency.toJSON(),
    timeline: {
      bucketMs: timeline.bucketMs,
      requests: Array.from(timeline.requests),
      succeeded: Array.from(timeline.succeeded),
      latency: timeline.latency.map((s) => s?.toJSON() ?? null),
    },
  };
}

function sketch(j: unknown, path: string): QuantileSketch {
  try {
    return QuantileSketch.fromJSON(j as SketchJSON);
  } catch (e) {
    throw new RunResultJsonError(`${path}: ${(e as Error).message}`);
  }
}

function numbers(j: unknown, path: string): Float64Array {
  if (!Array.isArray(j) || !j.every((x) => typeof x === 'number')) throw new RunResultJsonError(`${path}: expected an array of numbers`);
  return Float64Array.from(j as number[]);
}

const ARRAYS = ['instances', 'membership', 'faults', 'layers'] as const;
const RECORDS = ['requests', 'failover', 'conservation'] as const;
const NUMBERS = ['seed', 'windowMs', 'endTimeMs', 'eventsProcessed'] as const;

/**
 * Rebuilds a run's result from its JSON form, checking its shape (the fields every result
 * has, the sketches' consistency); throws {@link RunResultJsonError} naming what is wrong.
 */
export function runResultFromJSON(j: unknown, path = 'run'): RunResult {
  if (!isRecord(j)) throw new RunResultJsonError(`${path}: expected an object`);
  for (const k of NUMBERS) if (typeof j[k] !== 'number' && !(isRecord(j[k]) && '$num' in j[k])) throw new RunResultJsonError(`${path}.${k}: expected a number`);
  for (const k of ARRAYS) if (!Array.isArray(j[k])) throw new RunResultJsonError(`${path}.${k}: expected an array`);
  for (const k of RECORDS) if (!isRecord(j[k])) throw new RunResultJsonError(`${path}.${k}: expected an object`);
  const t = j.timeline;
  if (!isRecord(t)) throw new RunResultJsonError(`${path}.timeline: expected an object`);
  if (typeof t.bucketMs !== 'number') throw new RunResultJsonError(`${path}.timeline.bucketMs: expected a number`);
  const requests = numbers(t.requests, `${path}.timeline.requests`);
  const succeeded = numbers(t.succeeded, `${path}.timeline.succeeded`);
  if (!Array.isArray(t.latency) || t.latency.length !== requests.length || succeeded.length !== requests.length) {
    throw new RunResultJsonError(`${path}.timeline: requests, succeeded and latency must have the same length`);
  }
  const { latency, timeline: _timeline, ...rest } = j;
  return {
    ...(untag(rest, path) as Omit<RunResult, 'latency' | 'timeline'>),
    latency: sketch(latency, `${path}.latency`),
    timeline: {
      bucketMs: t.bucketMs,
      requests,
      succeeded,
      latency: t.latency.map((s: unknown, i) => (s === null ? undefined : sketch(s, `${path}.timeline.latency[${i}]`))),
    },
  };
}
