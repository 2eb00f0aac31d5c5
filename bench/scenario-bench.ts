/**
 * A throughput bench over one scenario file's variants, shared by fleet10k.bench.ts and
 * failover.bench.ts: every run is a fresh node process (bench/e2e-child.ts, as for the
 * e2e bench) calling the CLI's `main(['run', file, '--variant', v, ...])` in-process: load
 * and validate, simulate, build the report, write report.json and report.md. Reports
 * simulated requests per wall second of `main` and the peak RSS of the process. The
 * headline variant runs `reps` times (its median carries the target); the others run once
 * each after it while the time budget allows.
 *
 * meshsim runs as compiled JavaScript (`form` js, the default: src/ and the child
 * transpiled once per invocation into a scratch package, bench/lib.ts `compiledMeshsim`,
 * and run by plain node, as users run dist/cli/main.js), or with `--form ts` from
 * TypeScript through tsx.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2eChildResult, MeasuredRun } from './e2e-child.js';
import { arg, BENCH_DIR, compiledMeshsim, figure, fmt, formArg, formText, log, median, ROOT, runNodeChild, sibling, spread, table, timed, type BenchResult, type CompiledMeshsim, type Figure, type Form } from './lib.js';

export interface ScenarioBench {
  /** Bench name (results key) and title. */
  readonly name: string;
  readonly title: string;
  /** Scenario file under bench/scenarios/. */
  readonly scenario: string;
  /** The variant the target applies to (run `reps` times), then the others, once each. */
  readonly headline: string;
  readonly variants: readonly string[];
  /** Minimum simulated requests per second for the headline variant. */
  readonly target: number;
}

type Run = MeasuredRun;

export async function runScenarioBench(bench: ScenarioBench, options: { reps?: number; variants?: readonly string[]; budgetSeconds?: number; form?: Form } = {}): Promise<BenchResult> {
  const reps = options.reps ?? Number(arg('--reps') ?? 3);
  const form = options.form ?? formArg();
  const variants = options.variants ?? arg('--variants')?.split(',') ?? bench.variants;
  const budgetMs = (options.budgetSeconds ?? Number(arg('--budget') ?? 60)) * 1000;
  const SCENARIO = join(BENCH_DIR, 'scenarios', bench.scenario);
  const HEADLINE = bench.headline;
  const TARGET_REQ_PER_SEC = bench.target;
  return timed(bench.name, bench.title, async () => {
    const out = mkdtempSync(join(tmpdir(), `meshsim-bench-${bench.name}-`));
    const byVariant: { variant: string; runs: Run[] }[] = [];
    const skipped: string[] = [];
    let compiled: CompiledMeshsim | undefined;
    try {
      compiled = form === 'js' ? await compiledMeshsim('e2e-child', bench.name) : undefined;
      const modules = compiled?.dir ?? join(ROOT, 'src');
      log(`${bench.name}: meshsim as ${formText(form, modules)}`);
      // The budget counts from the first run: compiling is not a run.
      const t0 = performance.now();
      for (const variant of variants) {
        // The headline variant runs `reps` times; the others once, if the budget allows.
        const n = variant === HEADLINE ? reps : 1;
        const runs: Run[] = [];
        for (let r = 0; r < n; r++) {
          const done = byVariant.flatMap((v) => v.runs).concat(runs);
          const estimate = done.length > 0 ? median(done.map((x) => x.childWallMs)) : 0;
          if (variant !== HEADLINE && performance.now() - t0 + estimate > budgetMs) break;
          const res = await runNodeChild<E2eChildResult>(compiled?.child ?? sibling('e2e-child'), [SCENARIO, variant, join(out, `${variant}-${r}`), modules]);
          const run: Run = { ...res, rate: res.requests / (res.wallMs / 1000), rssMB: res.maxRssKB / 1024 };
          log(
            `${bench.name} ${variant.padEnd(13)} #${r + 1}: ${res.requests} requests in ${(res.wallMs / 1000).toFixed(2)} s = ${(run.rate / 1e6).toFixed(3)} M req/s, ` +
              `peak RSS ${run.rssMB.toFixed(0)} MB, mean latency ${res.meanLatencyMs} ms (process ${(res.childWallMs / 1000).toFixed(1)} s)`,
          );
          runs.push(run);
        }
        if (runs.length > 0) byVariant.push({ variant, runs });
        else {
          skipped.push(variant);
          log(`${bench.name} ${variant}: skipped, the ${(budgetMs / 1000).toFixed(0)} s budget is spent`);
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
      compiled?.cleanup();
    }
    const rows = byVariant.map(({ variant, runs }) => ({
      variant,
      runs: runs.length,
      requests: median(runs.map((r) => r.requests)),
      wall: median(runs.map((r) => r.wallMs / 1000)),
      rate: median(runs.map((r) => r.rate)),
      rates: runs.map((r) => r.rate / 1e6),
      rss: Math.max(...runs.map((r) => r.rssMB)),
      latency: median(runs.map((r) => r.meanLatencyMs ?? NaN)),
      startup: median(runs.map((r) => r.startupMs / 1000)),
    }));
    log(
      '\n' +
        table(
          ['variant', 'runs', 'requests', 'wall s', 'M req/s', 'reps', 'peak RSS MB', 'mean latency ms', 'startup s'],
          rows.map((r) => [r.variant, String(r.runs), String(r.requests), r.wall.toFixed(2), (r.rate / 1e6).toFixed(3), spread(r.rates, 3), r.rss.toFixed(0), r.latency.toFixed(2), r.startup.toFixed(2)]),
          [false, true, true, true, true, false, true, true, true],
        ),
    );
    const figures: Figure[] = [];
    const head = rows.find((r) => r.variant === HEADLINE);
    if (head) {
      figures.push(
        figure(`simulated requests/s (${HEADLINE}, median)`, head.rate / 1e6, 'M req/s', { kind: 'min', value: TARGET_REQ_PER_SEC / 1e6 }, `${head.runs} run${head.runs === 1 ? '' : 's'} of ${fmt(head.requests / 1e6)}M requests${head.runs > 1 ? `, reps ${spread(head.rates, 3)}` : ''}`),
      );
    }
    for (const r of rows) if (r.variant !== HEADLINE) figures.push(figure(`simulated requests/s (${r.variant})`, r.rate / 1e6, 'M req/s', undefined, `${r.runs} run; mean latency ${r.latency.toFixed(1)} ms`));
    if (rows.length > 0) {
      const peak = rows.reduce((a, b) => (b.rss > a.rss ? b : a));
      figures.push(figure('peak RSS, any run', peak.rss, 'MB', undefined, `per variant ${rows.map((r) => `${r.variant} ${r.rss.toFixed(0)}`).join(', ')}`));
    }
    return { figures, data: { scenario: `bench/scenarios/${bench.scenario}`, form, skipped, variants: rows.map((r) => ({ ...r, runs: byVariant.find((v) => v.variant === r.variant)?.runs })) } };
  });
}

