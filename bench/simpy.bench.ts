/**
 * meshsim side by side with SimPy 3 on two equal models (bench/simpy/README.md):
 *  - mm1: M/M/1, λ = 0.8/ms, μ = 1/ms, no network latency (bench/simpy/mm1.py,
 *    bench/scenarios/mm1.yaml); theory: mean time in system 5 ms;
 *  - fleet100: 100 FIFO instances, exponential service of mean 10 ms, 8 req/ms, uniformly
 *    random instance, exponential hop of mean 0.2 ms each way (bench/simpy/fleet.py,
 *    bench/scenarios/fleet100.yaml); theory: mean latency 50.4 ms.
 * SimPy runs N = 200k requests; meshsim (`simulate()` of src/sim/world.ts, each run a fresh
 * process, bench/sim-child.ts) runs the same N and a larger one (2M by default) so that its
 * timing is not dominated by start-up and JIT warm-up. Both sides time the simulation
 * alone. Repetition k uses seed k on both sides, interleaved so that load on the machine
 * hits both alike; figures are medians, mean latencies are pooled over the repetitions.
 *
 *   node --import tsx bench/simpy.bench.ts [--n 200000] [--large 2000000] [--reps 3] [--json]
 */
import { join } from 'node:path';
import type { SimChildResult } from './sim-child.js';
import { BENCH_DIR, benchMain, figure, fmt, lastJsonLine, log, median, runChild, runNodeChild, sibling, spread, table, timed, type BenchResult, type Figure } from './lib.js';

const TARGET_RATIO = 10;

interface Model {
  readonly name: 'mm1' | 'fleet100';
  readonly script: string;
  readonly scenario: string;
  /** Requests per simulated ms (to turn a request count into a duration). */
  readonly perMs: number;
  readonly theoryMs: number;
}

const MODELS: readonly Model[] = [
  { name: 'mm1', script: join(BENCH_DIR, 'simpy', 'mm1.py'), scenario: join(BENCH_DIR, 'scenarios', 'mm1.yaml'), perMs: 0.8, theoryMs: 5 },
  { name: 'fleet100', script: join(BENCH_DIR, 'simpy', 'fleet.py'), scenario: join(BENCH_DIR, 'scenarios', 'fleet100.yaml'), perMs: 8, theoryMs: 50.4 },
];

interface SimpyOutput {
  readonly model: string;
  readonly requests: number;
  readonly wallSeconds: number;
  readonly requestsPerSec: number;
  readonly meanTimeInSystemMs?: number;
  readonly meanLatencyMs?: number;
}

/** One measurement: requests, wall seconds, mean latency. */
interface Sample {
  readonly requests: number;
  readonly wallSeconds: number;
  readonly rate: number;
  readonly meanLatencyMs: number;
}

interface Series {
  readonly model: Model['name'];
  readonly side: 'SimPy' | 'meshsim';
  readonly n: number;
  readonly samples: Sample[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Runs bench/simpy/ensure-simpy.sh; returns the interpreter (its last stdout line). */
async function ensureSimpy(): Promise<{ python: string; version: string }> {
  const out = await runChild('bash', [join(BENCH_DIR, 'simpy', 'ensure-simpy.sh')], { echo: true });
  const python = out.stdout.trim().split('\n').pop()?.trim() ?? '';
  if (out.code !== 0 || python === '') throw new Error(`bench/simpy/ensure-simpy.sh failed (${out.code}): ${out.stderr.trim()}`);
  const v = await runChild(python, ['-c', 'import simpy, sys; print(simpy.__version__, sys.version.split()[0])']);
  return { python, version: v.stdout.trim() };
}

async function runSimpy(python: string, model: Model, n: number, seed: number): Promise<Sample> {
  const out = await runChild(python, [model.script, String(n), String(seed)]);
  if (out.code !== 0) throw new Error(`${model.script} exited with ${out.code}: ${out.stderr.slice(-2000)}`);
  const r = lastJsonLine<SimpyOutput>(out.stdout);
  return { requests: r.requests, wallSeconds: r.wallSeconds, rate: r.requestsPerSec, meanLatencyMs: (r.meanTimeInSystemMs ?? r.meanLatencyMs) as number };
}

async function runMeshsim(model: Model, n: number, seed: number): Promise<Sample> {
  const r = await runNodeChild<SimChildResult>(sibling('sim-child'), [model.scenario, String(n / model.perMs), String(seed)]);
  return { requests: r.succeeded, wallSeconds: r.wallSeconds, rate: r.requestsPerSec, meanLatencyMs: r.meanLatencyMs };
}

/** Mean latency pooled over the samples (weighted by requests). */
function pooledLatency(s: readonly Sample[]): number {
  let w = 0;
  let sum = 0;
  for (const x of s) {
    w += x.requests;
    sum += x.requests * x.meanLatencyMs;
  }
  return sum / w;
}

export async function runSimpyBench(options: { n?: number; large?: number; reps?: number } = {}): Promise<BenchResult> {
  const n = options.n ?? Number(arg('--n') ?? 200_000);
  const large = options.large ?? Number(arg('--large') ?? 2_000_000);
  const reps = options.reps ?? Number(arg('--reps') ?? 3);
  return timed('simpy', 'meshsim vs SimPy 3', async () => {
    const { python, version } = await ensureSimpy();
    log(`simpy using ${python} (SimPy, Python: ${version})`);
    const series: Series[] = [];
    const get = (model: Model['name'], side: Series['side'], size: number): Series => {
      let s = series.find((x) => x.model === model && x.side === side && x.n === size);
      if (!s) series.push((s = { model, side, n: size, samples: [] }));
      return s;
    };
    for (let rep = 0; rep < reps; rep++) {
      const seed = rep + 1;
      for (const model of MODELS) {
        const steps: [Series['side'], number, () => Promise<Sample>][] = [
          ['SimPy', n, () => runSimpy(python, model, n, seed)],
          ['meshsim', n, () => runMeshsim(model, n, seed)],
          ['meshsim', large, () => runMeshsim(model, large, seed)],
        ];
        for (const [side, size, go] of steps) {
          const s = await go();
          get(model.name, side, size).samples.push(s);
          log(`simpy ${model.name.padEnd(8)} ${side.padEnd(7)} N=${String(size).padEnd(7)} seed ${seed}: ${(s.rate / 1e3).toFixed(0).padStart(5)} k req/s (${s.wallSeconds.toFixed(2)} s), mean latency ${s.meanLatencyMs.toFixed(3)} ms`);
        }
      }
    }
    const rows = series.map((s) => {
      const model = MODELS.find((m) => m.name === s.model) as Model;
      return { ...s, rate: median(s.samples.map((x) => x.rate)), rates: s.samples.map((x) => x.rate / 1e3), latency: pooledLatency(s.samples), theory: model.theoryMs };
    });
    log(
      '\n' +
        table(
          ['model', 'side', 'N', 'k req/s (median)', 'reps', 'mean latency ms', 'theory ms'],
          rows.map((r) => [r.model, r.side, String(r.n), fmt(r.rate / 1e3), spread(r.rates, 0), r.latency.toFixed(3), String(r.theory)]),
          [false, false, true, true, false, true, true],
        ),
    );
    const figures: Figure[] = [];
    const ratios: Record<string, { sameN: number; large: number }> = {};
    for (const model of MODELS) {
      const simpy = rows.find((r) => r.model === model.name && r.side === 'SimPy') as (typeof rows)[number];
      const same = rows.find((r) => r.model === model.name && r.side === 'meshsim' && r.n === n) as (typeof rows)[number];
      const big = rows.find((r) => r.model === model.name && r.side === 'meshsim' && r.n === large) as (typeof rows)[number];
      ratios[model.name] = { sameN: same.rate / simpy.rate, large: big.rate / simpy.rate };
      const label = (x: number) => (x >= 1e6 ? `${x / 1e6}M` : `${x / 1e3}k`);
      figures.push(
        figure(`${model.name}: SimPy @ ${label(n)}`, simpy.rate / 1e6, 'M req/s', undefined, `mean latency ${simpy.latency.toFixed(2)} ms (theory ${model.theoryMs})`),
        figure(`${model.name}: meshsim @ ${label(n)}`, same.rate / 1e6, 'M req/s', undefined, `mean latency ${same.latency.toFixed(2)} ms; ${ratios[model.name].sameN.toFixed(1)}× SimPy at equal N`),
        figure(`${model.name}: meshsim @ ${label(large)}`, big.rate / 1e6, 'M req/s', undefined, `mean latency ${big.latency.toFixed(2)} ms (theory ${model.theoryMs})`),
        figure(`${model.name}: meshsim/SimPy`, ratios[model.name].large, '×', { kind: 'min', value: TARGET_RATIO }, `meshsim @ ${label(large)} vs SimPy @ ${label(n)}`),
      );
    }
    return { figures, data: { python, simpyVersion: version, n, large, reps, ratios, series: rows } };
  });
}

await benchMain(import.meta.url, () => runSimpyBench());
