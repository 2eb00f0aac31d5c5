/**
 * Parallel efficiency of the runner (issue #5): bench/scenarios/sweep32.yaml, a sweep of 32
 * runs (8 points × 4 seeds, ≈ 300k requests each), simulated with 1 worker (in-process)
 * and with every core (`os.availableParallelism()` worker threads), each in a fresh process
 * (bench/parallel-child.ts), alternating 1 and N so load on the shared machine hits both
 * alike. Figures: the ratio of the N-worker wall time to the 1-worker one (median over the
 * pairs; target ≤ 0.6 on 2 cores), both wall times, each worker's peak V8 heap and the
 * process's peak RSS at 1 and N workers. Every run's report must hash the same: a
 * parallel run is byte-identical to the single-threaded one.
 *
 * meshsim runs as compiled JavaScript (src/ and the child script transpiled into a scratch
 * directory and run by plain `node`, as `npm run demo` runs dist/: no tsx in the process
 * or its worker threads), or with `--form ts` from TypeScript through tsx, where every
 * worker thread first loads tsx (≈ 0.6 s of CPU each, measured).
 *
 *   node --import tsx bench/parallel.bench.ts [--reps 3] [--workers N] [--form js|ts] [--json]
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ParallelChildResult } from './parallel-child.js';
import { arg, ROOT, BENCH_DIR, benchMain, compiledMeshsim, figure, fmt, formArg, formText, log, median, runNodeChild, sibling, spread, table, timed, type BenchResult, type Form } from './lib.js';

const SCENARIO = join(BENCH_DIR, 'scenarios', 'sweep32.yaml');
const TARGET_RATIO = 0.6;

type Run = ParallelChildResult & { readonly childWallMs: number };

export async function runParallel(options: { reps?: number; workers?: number; form?: Form } = {}): Promise<BenchResult> {
  const reps = options.reps ?? Number(arg('--reps') ?? 3);
  const workers = options.workers ?? Number(arg('--workers') ?? availableParallelism());
  const form = options.form ?? formArg();
  return timed('parallel', `meshsim run, 32 runs: 1 worker vs ${workers}`, async () => {
    const single: Run[] = [];
    const multi: Run[] = [];
    // src/ and the child transpiled into a scratch package (bench/lib.ts, compiledMeshsim).
    const compiled = form === 'js' ? await compiledMeshsim('parallel-child') : undefined;
    const modules = compiled?.dir ?? join(ROOT, 'src');
    log(`parallel: meshsim as ${formText(form, modules, 'TypeScript through tsx (every worker loads tsx)')}`);
    try {
    for (let r = 0; r < reps; r++) {
      for (const [n, into] of [
        [1, single],
        [workers, multi],
      ] as const) {
        const res = await runNodeChild<ParallelChildResult>(compiled?.child ?? sibling('parallel-child'), [SCENARIO, String(n), modules]);
        into.push(res);
        log(
          `parallel #${r + 1} workers=${n}: ${res.runs} runs, ${(res.requests / 1e6).toFixed(2)}M requests in ${(res.wallMs / 1000).toFixed(2)} s ` +
            `(${(res.requests / res.wallMs / 1e3).toFixed(2)} M req/s), peak RSS ${res.maxRssMB.toFixed(0)} MB` +
            (res.perWorker.length > 0 ? `, per worker ${res.perWorker.map((w) => `${w.runs} runs/${w.peakHeapMB.toFixed(0)} MB heap`).join(', ')}` : '') +
            `, CPU ${(res.cpuMs / 1000).toFixed(2)} s, load ${res.load1.toFixed(2)}`,
        );
      }
    }
    } finally {
      compiled?.cleanup();
    }
    const hashes = new Set([...single, ...multi].map((r) => r.reportSha256));
    if (hashes.size !== 1) throw new Error(`parallel: reports differ between runs (${[...hashes].join(', ')}): parallel runs must be byte-identical`);
    const ratios = single.map((s, i) => multi[i].wallMs / s.wallMs);
    const wall1 = median(single.map((r) => r.wallMs / 1000));
    const wallN = median(multi.map((r) => r.wallMs / 1000));
    const heap = Math.max(...multi.flatMap((r) => r.perWorker.map((w) => w.peakHeapMB)));
    const rss1 = Math.max(...single.map((r) => r.maxRssMB));
    const rssN = Math.max(...multi.map((r) => r.maxRssMB));
    const loads = [...single, ...multi].map((r) => r.load1);
    log(
      '\n' +
        table(
          ['workers', 'reps', 'wall s (median)', 'reps', 'M req/s', 'peak RSS MB', 'peak heap/worker MB'],
          [
            ['1', String(single.length), wall1.toFixed(2), spread(single.map((r) => r.wallMs / 1000)), (single[0].requests / wall1 / 1e6).toFixed(2), rss1.toFixed(0), '-'],
            [String(workers), String(multi.length), wallN.toFixed(2), spread(multi.map((r) => r.wallMs / 1000)), (multi[0].requests / wallN / 1e6).toFixed(2), rssN.toFixed(0), heap.toFixed(0)],
          ],
          [false, true, true, false, true, true, true],
        ),
    );
    return {
      figures: [
        figure(`wall time, ${workers} workers / 1 worker (median of pairs)`, median(ratios), '×', { kind: 'max', value: TARGET_RATIO + 1e-9 }, `pairs ${ratios.map((x) => x.toFixed(2)).join(', ')}; load ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))}`),
        figure('wall time, 1 worker (median)', wall1, 's', undefined, `${single[0].runs} runs, ${(single[0].requests / 1e6).toFixed(1)}M requests`),
        figure(`wall time, ${workers} workers (median)`, wallN, 's'),
        figure(
          `CPU time, ${workers} workers / 1 worker (median of pairs)`,
          median(single.map((s, i) => multi[i].cpuMs / s.cpuMs)),
          '×',
          undefined,
          'the work threads add (start-up, JIT warm-up per thread, results crossing threads); wall-time ratio ≈ this / cores when uncontended',
        ),
        figure('peak V8 heap per worker', heap, 'MB', undefined, `process peak RSS ${rss1.toFixed(0)} MB at 1 worker, ${rssN.toFixed(0)} MB at ${workers}`),
      ],
      data: { scenario: 'bench/scenarios/sweep32.yaml', form, workers, reps, ratios, single, multi, reportSha256: [...hashes][0] },
    };
  });
}

await benchMain(import.meta.url, () => runParallel());
