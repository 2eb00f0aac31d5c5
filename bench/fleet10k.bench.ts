/**
 * End-to-end throughput and memory of `meshsim run` on a large mesh,
 * bench/scenarios/fleet10k.yaml: 10,000 instances of one service (concurrency 1, unbounded
 * queue, exponential service of mean 10 ms, exponential hops of mean 200us), one Poisson
 * workload at 80% utilisation (800,000/s) spread over 100 client sidecars, each with its own
 * balancer over all 10,000 endpoints; no warm-up, one seed, 2.5 s ≈ 2M requests.
 *
 * Every run is a fresh node process (bench/e2e-child.ts, as for the e2e bench) calling the
 * CLI's `main(['run', file, '--variant', v, ...])` in-process: load and validate, simulate,
 * build the report, write report.json and report.md. Reports simulated requests per wall
 * second of `main` and the peak RSS of the process. The p2c variant runs 3 times (its
 * median is the headline); random and p2c-peak-ewma run once each after it when the time
 * budget (≈ 60 s for the whole bench) allows.
 *
 *   node --import tsx bench/fleet10k.bench.ts [--reps 3] [--variants p2c,random,p2c-peak-ewma] [--budget 60] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { E2eChildResult } from './e2e-child.js';
import { BENCH_DIR, benchMain, figure, fmt, log, median, runNodeChild, sibling, spread, table, timed, type BenchResult, type Figure } from './lib.js';

const SCENARIO = join(BENCH_DIR, 'scenarios', 'fleet10k.yaml');
const TARGET_REQ_PER_SEC = 1e6;
/** The variant the target applies to, and the ones run after it if time allows. */
const HEADLINE = 'p2c';
const DEFAULT_VARIANTS = ['p2c', 'random', 'p2c-peak-ewma'];

interface Run extends E2eChildResult {
  readonly rate: number;
  readonly rssMB: number;
  readonly childWallMs: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function runFleet10k(options: { reps?: number; variants?: readonly string[]; budgetSeconds?: number } = {}): Promise<BenchResult> {
  const reps = options.reps ?? Number(arg('--reps') ?? 3);
  const variants = options.variants ?? arg('--variants')?.split(',') ?? DEFAULT_VARIANTS;
  const budgetMs = (options.budgetSeconds ?? Number(arg('--budget') ?? 60)) * 1000;
  return timed('fleet10k', 'meshsim run, 10,000 instances, 100 sidecars', async () => {
    const out = mkdtempSync(join(tmpdir(), 'meshsim-bench-fleet10k-'));
    const byVariant: { variant: string; runs: Run[] }[] = [];
    const skipped: string[] = [];
    const t0 = performance.now();
    try {
      for (const variant of variants) {
        // The headline variant runs `reps` times; the others once, if the budget allows.
        const n = variant === HEADLINE ? reps : 1;
        const runs: Run[] = [];
        for (let r = 0; r < n; r++) {
          const done = byVariant.flatMap((v) => v.runs).concat(runs);
          const estimate = done.length > 0 ? median(done.map((x) => x.childWallMs)) : 0;
          if (variant !== HEADLINE && performance.now() - t0 + estimate > budgetMs) break;
          const res = await runNodeChild<E2eChildResult>(sibling('e2e-child'), [SCENARIO, variant, join(out, `${variant}-${r}`)]);
          const run: Run = { ...res, rate: res.requests / (res.wallMs / 1000), rssMB: res.maxRssKB / 1024 };
          log(
            `fleet10k ${variant.padEnd(13)} #${r + 1}: ${res.requests} requests in ${(res.wallMs / 1000).toFixed(2)} s = ${(run.rate / 1e6).toFixed(3)} M req/s, ` +
              `peak RSS ${run.rssMB.toFixed(0)} MB, mean latency ${res.meanLatencyMs} ms (process ${(res.childWallMs / 1000).toFixed(1)} s)`,
          );
          runs.push(run);
        }
        if (runs.length > 0) byVariant.push({ variant, runs });
        else {
          skipped.push(variant);
          log(`fleet10k ${variant}: skipped, the ${(budgetMs / 1000).toFixed(0)} s budget is spent`);
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
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
        figure(`simulated requests/s (${HEADLINE}, median)`, head.rate / 1e6, 'M req/s', { kind: 'min', value: TARGET_REQ_PER_SEC / 1e6 }, `${head.runs} runs of ${fmt(head.requests / 1e6)}M requests${head.runs > 1 ? `, reps ${spread(head.rates, 3)}` : ''}`),
      );
    }
    for (const r of rows) if (r.variant !== HEADLINE) figures.push(figure(`simulated requests/s (${r.variant})`, r.rate / 1e6, 'M req/s', undefined, `${r.runs} run; mean latency ${r.latency.toFixed(1)} ms`));
    if (rows.length > 0) {
      const peak = rows.reduce((a, b) => (b.rss > a.rss ? b : a));
      figures.push(figure('peak RSS, any run', peak.rss, 'MB', undefined, `per variant ${rows.map((r) => `${r.variant} ${r.rss.toFixed(0)}`).join(', ')}`));
    }
    return { figures, data: { scenario: 'bench/scenarios/fleet10k.yaml', skipped, variants: rows.map((r) => ({ ...r, runs: byVariant.find((v) => v.variant === r.variant)?.runs })) } };
  });
}

await benchMain(import.meta.url, () => runFleet10k());
