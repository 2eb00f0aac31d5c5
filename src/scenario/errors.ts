/**
 * Scenario errors: every problem found in a scenario file, each located by file, line,
 * column and field path, printed the way compilers print diagnostics
 * (`FILE:LINE:COL: PATH: MESSAGE`, as in GCC and tsc) so editors can jump to them.
 */

/** One problem in a scenario file. */
export interface ScenarioIssue {
  readonly file: string;
  /** 1-based; absent when the problem has no place in the file (e.g. the file cannot be read). */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
  /** Dotted field path, e.g. "services.api.concurrency" or "variants.random → mesh.balancer.kind"; "" for the whole file. */
  readonly path: string;
  /** What is wrong: what was expected and what was found. */
  readonly message: string;
  /** What a valid value looks like, when that can be said (e.g. "a duration with a unit, like 250ms"). */
  readonly expected?: string;
}

/** At most this many issues are listed in an error's message (all are kept in `issues`). */
export const MAX_LISTED_ISSUES = 50;

/** `FILE:LINE:COL: PATH: MESSAGE`, leaving out the parts that are unknown. */
export function formatIssue(issue: ScenarioIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += `:${issue.line}`;
  if (issue.line !== undefined && issue.column !== undefined) where += `:${issue.column}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** A scenario file that cannot be used; `issues` lists every problem found, the fields describe the first. */
export class ScenarioError extends Error {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly path: string;
  readonly expected?: string;
  readonly issues: readonly ScenarioIssue[];

  constructor(issues: readonly ScenarioIssue[]) {
    if (issues.length === 0) throw new RangeError('ScenarioError needs at least one issue');
    const listed = issues.slice(0, MAX_LISTED_ISSUES).map(formatIssue);
    if (issues.length > MAX_LISTED_ISSUES) listed.push(`... and ${issues.length - MAX_LISTED_ISSUES} more problems`);
    super(listed.join('\n'));
    this.name = 'ScenarioError';
    const first = issues[0];
    this.file = first.file;
    this.line = first.line;
    this.column = first.column;
    this.path = first.path;
    this.expected = first.expected;
    this.issues = issues;
  }
}

/** How a found value reads in a message: `250`, `'25O ms'`, `a list`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'nothing (null)';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? '.nan' : value > 0 ? '.inf' : '-.inf';
  return String(value);
}

/** Optimal string alignment distance (Levenshtein plus adjacent transposition). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known word closest to `word` (ignoring case), if it is close enough to be a likely typo. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  return suggestions(word, known, 1)[0];
}

/**
 * The known words likely meant by `word` (ignoring case), closest first (ties in the order
 * given), at most `max`. A likely typo: one edit in three characters; words of one or two
 * characters only differ in case.
 */
export function suggestions(word: string, known: readonly string[], max = 3): string[] {
  if (word.length > 100) return [];
  const w = word.toLowerCase();
  const allowed = w.length < 3 ? 0 : Math.floor(w.length / 3);
  return known
    .map((candidate, order) => ({ candidate, order, distance: editDistance(w, candidate.toLowerCase()) }))
    .filter((x) => x.distance <= allowed)
    .sort((a, b) => a.distance - b.distance || a.order - b.order)
    .slice(0, max)
    .map((x) => x.candidate);
}

/** ` (did you mean 'serviceTime'?)` or nothing. */
export function didYouMean(word: string, known: readonly string[]): string {
  const guess = suggest(word, known);
  return guess === undefined ? '' : ` (did you mean '${guess}'?)`;
}
