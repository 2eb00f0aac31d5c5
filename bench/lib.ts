/**
 * Shared helpers of the benchmarks (bench/*.bench.ts, bench/run.ts): result types,
 * statistics, child processes, formatting. Benchmarks measure wall-clock time on purpose;
 * none of this is used by src/ or by the tests.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BENCH_DIR = join(ROOT, 'bench');

/** A headline figure of a benchmark, with its target when it has one. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** `min`: the value must be ≥ target; `max`: the value must be < target. */
  readonly target?: { readonly kind: 'min' | 'max'; readonly value: number };
  readonly pass?: boolean;
  /** A short note printed next to the figure (spread of the repetitions, theory, ...). */
  readonly note?: string;
}

export interface BenchResult {
  readonly bench: string;
  readonly title: string;
  readonly figures: readonly Figure[];
  /** Everything measured, for bench/results/latest.json. */
  readonly data: unknown;
  /** 1-minute load average before and after the bench. */
  readonly load: { readonly before: number; readonly after: number };
  /** The machine's speed just before the bench ({@link machineProbe}). */
  readonly probe: MachineProbe;
  readonly wallSeconds: number;
}

/**
 * How fast the machine is right now, in three loops whose speed does not depend on
 * meshsim: a chain of dependent multiply-adds (the core's clock), and a chain of
 * dependent loads at random over 2 MB (past the 512 KB L2, in the last-level cache) and
 * over 16 MB (as far as memory goes on a shared host). This VM has phases in which
 * memory access slows 2–3× while arithmetic does not (bench/README.md), and every
 * simulator figure follows memory: read a figure next to the probe taken with it.
 */
export interface MachineProbe {
  /** ns per dependent multiply-add. */
  readonly arithmeticNs: number;
  /** ns per dependent load, random over 2 MB. */
  readonly load2MbNs: number;
  /** ns per dependent load, random over 16 MB. */
  readonly load16MbNs: number;
}

/** ns per step of a dependent-load chain: one random cycle over `bytes`, one step per 64-byte line (Sattolo's shuffle, fixed seed). */
function loadChainNs(bytes: number, steps: number): number {
  const stride = 16; // Int32 slots per 64-byte line
  const lines = Math.floor(bytes / 64);
  const next = new Int32Array(lines * stride);
  const order = new Int32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  let x = 2463534242;
  for (let i = lines - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % i;
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (let i = 0; i < lines; i++) next[order[i] * stride] = order[(i + 1) % lines] * stride;
  let p = 0;
  for (let i = 0; i < lines; i++) p = next[p]; // one lap to warm the pages and caches
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) p = next[p];
  const ns = Number(process.hrtime.bigint() - t0) / steps;
  return p === -1 ? NaN : ns; // p is read so the loop is not dropped
}

function arithmeticNs(steps: number): number {
  let a = 1.0000001;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) a = a * 0.9999999 + 1e-9;
  const ns = Number(process.hrtime.bigint() - t0) / steps;
  return a === 0 ? NaN : ns;
}

/** Measures the machine (≈ 0.3 s): the median of three takes of each loop. */
export function machineProbe(): MachineProbe {
  const med3 = (f: () => number) => median([f(), f(), f()]);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    arithmeticNs: round(med3(() => arithmeticNs(5_000_000))),
    load2MbNs: round(med3(() => loadChainNs(2 << 20, 500_000))),
    load16MbNs: round(med3(() => loadChainNs(16 << 20, 300_000))),
  };
}

export function probeText(p: MachineProbe): string {
  return `dependent loads over 16 MB ${p.load16MbNs} ns, over 2 MB ${p.load2MbNs} ns; multiply-add ${p.arithmeticNs} ns`;
}

export function figure(name: string, value: number, unit: string, target?: Figure['target'], note?: string): Figure {
  const pass = target === undefined ? undefined : target.kind === 'min' ? value >= target.value : value < target.value;
  return { name, value, unit, ...(target ? { target } : {}), ...(pass === undefined ? {} : { pass }), ...(note ? { note } : {}) };
}

/** The value after `--name` on the command line, if any. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** "min–max" of the repetitions, for notes. */
export function spread(xs: readonly number[], digits = 2): string {
  if (xs.length < 2) return '';
  return `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

export function load1(): number {
  return loadavg()[0];
}

/** Runs `body` and wraps its figures with the load average and wall time. */
export async function timed(bench: string, title: string, body: () => Promise<{ figures: Figure[]; data: unknown }>): Promise<BenchResult> {
  const probe = machineProbe();
  log(`${bench}: machine probe: ${probeText(probe)}`);
  const before = load1();
  const t0 = performance.now();
  const { figures, data } = await body();
  return { bench, title, figures, data, load: { before, after: load1() }, probe, wallSeconds: (performance.now() - t0) / 1000 };
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Node arguments for running a bench script in a child process: TypeScript through tsx's
 * loader when this file is TypeScript, plain node for compiled JavaScript.
 */
export function nodeArgsFor(script: string): string[] {
  return script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
}

/** The file of a sibling bench script (`e2e-child`), in the language this file runs as. */
export function sibling(name: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return join(dirname(fileURLToPath(import.meta.url)), name + ext);
}

/** How a bench runs meshsim: `js`, compiled JavaScript under plain node (as users run dist/); `ts`, src/ through tsx. */
export type Form = 'js' | 'ts';

/** `--form js|ts` from the command line (default js); anything else is an error. */
export function formArg(): Form {
  const form = arg('--form') ?? 'js';
  if (form !== 'js' && form !== 'ts') throw new Error(`--form must be js or ts, not ${JSON.stringify(form)}`);
  return form;
}

/** meshsim compiled into a scratch package, and a bench child script compiled next to it. */
export interface CompiledMeshsim {
  /** The compiled modules (src/ as .js): the `<modules dir>` argument of the child scripts. */
  readonly dir: string;
  /** The compiled child script, to run with plain node. */
  readonly child: string;
  /** Removes the scratch package. */
  readonly cleanup: () => void;
}

/**
 * src/ as JavaScript in a scratch package, node_modules/.cache/meshsim-bench-<label>-<pid>
 * (under node_modules so dependencies resolve), transpiled file by file (TypeScript's
 * transpileModule: no type check, the output tsc would give): what `npm run demo` runs
 * from dist/, without touching dist/. The child script bench/<childName>.ts is transpiled
 * to <scratch>/bench/<childName>.js; it must import meshsim only through its `<modules
 * dir>` argument (its ../src imports type-only), since ../src does not exist there.
 * package.json is copied (ES modules; src/version.ts reads it). `label` (default: the
 * child's name without `-child`) names the scratch directory. TypeScript is loaded only
 * here, so benches that do not compile do not carry it.
 */
export async function compiledMeshsim(childName: string, label = childName.replace(/-child$/, '')): Promise<CompiledMeshsim> {
  const { default: ts } = await import('typescript');
  const scratch = join(ROOT, 'node_modules', '.cache', `meshsim-bench-${label}-${process.pid}`);
  const cleanup = (): void => rmSync(scratch, { recursive: true, force: true });
  const src = join(ROOT, 'src');
  const transpile = (file: string, target: string): void => {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }, fileName: file });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  };
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
  try {
    for (const file of walk(src)) transpile(file, join(scratch, 'dist', relative(src, file)).replace(/\.ts$/, '.js'));
    const child = join(scratch, 'bench', `${childName}.js`);
    transpile(join(BENCH_DIR, `${childName}.ts`), child);
    copyFileSync(join(ROOT, 'package.json'), join(scratch, 'package.json'));
    return { dir: join(scratch, 'dist'), child, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** The line a bench logs to say which form it measures. */
export function formText(form: Form, modules: string, ts = 'TypeScript through tsx'): string {
  return form === 'js' ? `compiled JavaScript (${relative(ROOT, modules)})` : ts;
}

export interface ChildOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
}

/** Runs a command to completion, collecting its output (stderr is also forwarded when `echo`). */
export function runChild(command: string, args: readonly string[], options: { echo?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ChildOutput> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (options.echo) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, wallMs: performance.now() - t0 }));
  });
}

/** The last line of `stdout` that parses as a JSON object. */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line.startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error(`no JSON line in output:\n${stdout.slice(-2000)}`);
}

/** Runs a bench script in a fresh node process and returns the JSON it prints last. */
export async function runNodeChild<T>(script: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<T & { childWallMs: number }> {
  const out = await runChild(process.execPath, [...nodeFlags, ...nodeArgsFor(script), ...args]);
  if (out.code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${out.code}:\n${out.stderr.slice(-4000)}`);
  return { ...lastJsonLine<T>(out.stdout), childWallMs: out.wallMs };
}

/** Progress on stderr (stdout is reserved for results). */
export function log(text: string): void {
  process.stderr.write(text + '\n');
}

/** A fixed-width text table. Numbers should already be formatted. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number) => (rightAlign[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (r: readonly string[]) => r.map((s, i) => cell(s ?? '', i)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

export function formatTarget(f: Figure): string {
  if (!f.target) return '';
  return `${f.target.kind === 'min' ? '≥' : '<'} ${fmt(f.target.value)} ${f.unit}`;
}

export function verdict(f: Figure): string {
  return f.pass === undefined ? '' : f.pass ? 'pass' : 'MISS';
}

/** A number with 3 significant digits (at least), no exponent. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** The figures of a result as a table. */
export function figureTable(results: readonly BenchResult[]): string {
  const rows = results.flatMap((r) => r.figures.map((f) => [r.bench, f.name, fmt(f.value), f.unit, formatTarget(f), verdict(f), f.note ?? '']));
  return table(['bench', 'figure', 'value', 'unit', 'target', '', 'note'], rows, [false, false, true]);
}

/**
 * Entry point of a bench script run directly: prints the bench's own report on stderr and
 * its figures table on stdout, or with `--json` the result as one JSON line on stdout
 * (for bench/run.ts).
 */
export async function benchMain(importMetaUrl: string, run: () => Promise<BenchResult>): Promise<void> {
  if (process.argv[1] === undefined || resolve(process.argv[1]) !== fileURLToPath(importMetaUrl)) return;
  const result = await run();
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write('\n' + figureTable([result]));
}
