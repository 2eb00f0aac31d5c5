/**
 * Reading a report.json back (`meshsim report DIR`): the file, its JSON, its schema version
 * and the shape of every field the Markdown and HTML renderers read, checked with zod so
 * that a hand-edited or truncated report gets a message naming the file and the field, not
 * a crash. The report is returned as written, unknown fields included (reports only grow:
 * `meshsim/report@1` is additive).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ASSERT_OPS, METRIC_NAMES } from '../scenario/assert.js';
import { REPORT_SCHEMA, type Report } from './report.js';
import { SHARD_FILE } from './shard.js';
import { COUNTER_FIGURES, MAXIMUM_FIGURES, STAT_FIGURES, TOTAL_FIGURES } from './statistics.js';

/** A report that cannot be read: missing, not JSON, another schema, or malformed. */
export class ReportFileError extends Error {}

const num = z.number();
const nullNum = z.number().nullable();
const interval = z.tuple([num, num]).nullable();
const perFigure = <T extends z.ZodType>(t: T) => z.object(Object.fromEntries(STAT_FIGURES.map((f) => [f, t])) as Record<(typeof STAT_FIGURES)[number], T>);
/** The intervals of the totals, maxima and failover counters: optional, as reports written before them lack them. */
const countIntervals = Object.fromEntries([...TOTAL_FIGURES, ...MAXIMUM_FIGURES, ...COUNTER_FIGURES].map((f) => [f, interval.optional()]));

const latency = z.looseObject({ mean: nullNum, p50: nullNum, p90: nullNum, p99: nullNum, p999: nullNum, max: nullNum });
const requests = z.looseObject({ total: num, succeeded: num, failed: num, rejected: num, timedOut: num, errors: num, resets: num, connectFailures: num });
const figureComparison = z.looseObject({ n: num, relative: nullNum, ci: interval, p: nullNum, minP: nullNum.optional(), significant: z.boolean(), verdict: z.string() });

const variant = z.looseObject({
  name: z.string(),
  summary: z.looseObject({ requests, successRate: nullNum, throughputPerSec: num, latencyMs: latency, attemptsPerRequest: nullNum, ci: perFigure(interval).extend(countIntervals) }),
  comparison: z.looseObject({ baseline: z.string(), method: z.enum(['paired', 'welch']), figures: perFigure(figureComparison) }).optional(),
  layers: z.array(z.unknown()),
  runs: z.array(z.looseObject({ seed: num })),
  instances: z.array(z.looseObject({ service: z.string(), index: num, zone: z.string(), requests: num, share: num, utilization: nullNum, meanBusy: num })),
  spread: z.array(z.looseObject({ service: z.string(), instances: num, maxOverMean: num, cv: num })),
  membership: z.array(z.looseObject({ at: num, service: z.string(), added: z.array(num), removed: z.array(num), keysRemapped: num.optional() })),
  timeline: z.looseObject({
    bucketMs: num,
    latencyRelativeError: num,
    points: z.array(z.looseObject({ t: num, requests: num, successRate: nullNum, p50: nullNum, p99: nullNum })),
  }),
  faults: z.array(z.looseObject({ kind: z.string(), start: num, end: nullNum, service: z.string().optional(), instances: z.array(num) })),
  latencyDistribution: z.array(z.looseObject({ q: num, ms: num })).optional(),
});

const ReportSchema = z.looseObject({
  schema: z.literal(REPORT_SCHEMA),
  generator: z.string(),
  mode: z.string(),
  scenario: z.looseObject({ name: z.string(), sha256: z.string() }),
  plugins: z.array(z.looseObject({ file: z.string(), sha256: z.string().nullable(), kinds: z.array(z.string()) })).optional(),
  seeds: z.array(num),
  percentiles: z.looseObject({ method: z.string(), relativeError: num }),
  statistics: z.looseObject({ confidence: num, interval: z.string(), comparison: z.string(), totals: z.string().optional(), maxima: z.string().optional(), baseline: z.string().nullable() }),
  assertions: z
    .array(
      z.looseObject({
        rule: z.string(),
        variant: z.string(),
        metric: z.enum(METRIC_NAMES as [string, ...string[]]),
        op: z.enum(ASSERT_OPS as [string, ...string[]]),
        threshold: num,
        actual: nullNum,
        pass: z.boolean(),
        margin: nullNum,
        reason: z.string().optional(),
        skipped: z.literal(true).optional(),
      }),
    )
    .optional(),
  // A report of no variant has nothing to show: a truncated or hand-edited file.
  variants: z.array(variant).min(1, 'expected at least one variant'),
});

export interface ReadReport {
  /** The report.json read. */
  readonly file: string;
  /** The directory it is in (where re-rendered files go). */
  readonly dir: string;
  readonly report: Report;
}

/**
 * What to do about a directory without report.json: a sharded run's directory holds shard
 * reports instead, which `meshsim merge` turns into one.
 */
function missingReportHint(dir: string): string {
  let shards = 0;
  try {
    shards = readdirSync(dir).filter((name) => SHARD_FILE.test(name)).length;
  } catch {
    // unreadable: the usual hint
  }
  return shards > 0 ? `it holds ${shards} shard report(s) of a sharded run: merge them first, e.g. \`meshsim merge ${dir} --out ${dir}\`` : 'run `meshsim run` first';
}

/**
 * Reads `path` (a report.json, or a directory holding one) as JSON of schema
 * {@link REPORT_SCHEMA}; errors, made by `fail`, name the file. The fields are left to the
 * caller to check: {@link readReport} checks all the renderers read, `meshsim compare`
 * those it compares.
 */
export function readReportDocument(path: string, fail: (message: string) => Error): { readonly file: string; readonly json: unknown } {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'report.json');
  } catch {
    throw fail(`${path}: no such file or directory`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(`${file}: cannot read it${code === 'ENOENT' ? ` (no report.json there; ${missingReportHint(dirname(file))})` : code === undefined ? '' : ` (${code})`}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`${file}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const schema = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { schema?: unknown }).schema : undefined;
  if (schema !== REPORT_SCHEMA) {
    const what = schema === undefined ? 'no `schema` field' : `schema ${JSON.stringify(schema)}`;
    throw fail(`${file}: not a ${REPORT_SCHEMA} report (${what}); this meshsim reads ${REPORT_SCHEMA} only`);
  }
  return { file, json };
}

/** Reads `path` (a report.json, or a directory holding one) and checks it. Throws {@link ReportFileError}. */
export function readReport(path: string): ReadReport {
  const { file, json } = readReportDocument(path, (message) => new ReportFileError(message));
  const parsed = ReportSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.map(String).join('.') || '(top)';
    throw new ReportFileError(`${file}: invalid report at ${where}: ${issue.message}`);
  }
  // The document itself, not zod's copy (which reorders keys): checked, and as written.
  return { file, dir: dirname(file), report: json as Report };
}
