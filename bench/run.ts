/**
 * `npm run bench [-- hold e2e simpy picks fleet10k failover parallel]`: runs the benchmarks (all, or those named), each in
 * its own node process, prints a summary table with the targets, and writes
 * bench/results/latest.json (machine, node version, date, load, every figure).
 *
 * Exit code: 0 when every bench ran (missed targets are reported, not failed), 1 when a
 * bench crashed, 2 for an unknown bench name.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { arch, cpus, hostname, loadavg, platform, release, totalmem, uptime } from 'node:os';
import { join, relative } from 'node:path';
import { BENCH_DIR, ROOT, figureTable, lastJsonLine, log, machineProbe, nodeArgsFor, probeText, runChild, sibling, type BenchResult } from './lib.js';

const BENCHES = {
  hold: { file: 'event-queue.bench', what: 'EventQueue hold model vs a binary heap of objects (1k, 100k, 1M pending)' },
  e2e: { file: 'e2e.bench', what: 'meshsim run on fleet100 at 1M, 2M, 5M, 10M requests: throughput and peak RSS' },
  simpy: { file: 'simpy.bench', what: 'meshsim vs SimPy 3 on M/M/1 and fleet100' },
  picks: { file: 'balancers.bench', what: 'every registered balancer: ns per pick cycle and µs per rebuild at 10, 1k, 10k endpoints' },
  fleet10k: { file: 'fleet10k.bench', what: 'meshsim run on fleet10k (10,000 instances, 100 sidecars, ≈ 2M requests): throughput and peak RSS' },
  failover: { file: 'failover.bench', what: 'meshsim run on fleet100 with timeouts, retries + budget and outlier detection vs without (≈ 2M requests)' },
  parallel: { file: 'parallel.bench', what: 'a sweep of 32 runs on 1 worker vs every core: wall-time ratio, peak heap per worker, peak RSS' },
} as const;
type BenchName = keyof typeof BENCHES;

const ALIASES: Record<string, BenchName> = { workers: 'parallel', 'event-queue': 'hold', eq: 'hold', 'end-to-end': 'e2e', sim: 'simpy', balancers: 'picks', pick: 'picks', fleet: 'fleet10k' };

function selected(argv: readonly string[]): BenchName[] {
  const names = argv.filter((a) => !a.startsWith('-'));
  if (names.length === 0) return Object.keys(BENCHES) as BenchName[];
  const out: BenchName[] = [];
  for (const n of names) {
    const name = (n in BENCHES ? n : ALIASES[n]) as BenchName | undefined;
    if (!name) {
      process.stderr.write(`bench: unknown benchmark "${n}"; choose from: ${Object.keys(BENCHES).join(', ')}\n`);
      process.exit(2);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const loadText = (l: readonly number[]) => `load average ${l.map((x) => x.toFixed(2)).join(', ')}`;

interface Failure {
  readonly bench: BenchName;
  readonly error: string;
}

async function main(): Promise<number> {
  const names = selected(process.argv.slice(2));
  const started = new Date();
  const loadBefore = load();
  const runner = import.meta.url.endsWith('.ts') ? 'tsx' : 'node';
  const cpu = cpus();
  log(`meshsim bench: ${names.join(', ')} — node ${process.version} (${runner}), ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${loadText(loadBefore)}`);
  const probeBefore = machineProbe();
  log(`machine probe: ${probeText(probeBefore)}`);

  const results: BenchResult[] = [];
  const failures: Failure[] = [];
  const t0 = performance.now();
  for (const name of names) {
    const script = sibling(BENCHES[name].file);
    log(`\n== ${name}: ${BENCHES[name].what}`);
    const out = await runChild(process.execPath, ['--expose-gc', ...nodeArgsFor(script), '--json'], { echo: true });
    try {
      if (out.code !== 0) throw new Error(`exited with code ${out.code}`);
      results.push(lastJsonLine<BenchResult>(out.stdout));
    } catch (e) {
      const error = `${relative(ROOT, script)}: ${(e as Error).message}`;
      log(`bench ${name} FAILED: ${error}`);
      failures.push({ bench: name, error });
    }
  }
  const loadAfter = load();
  const totalSeconds = (performance.now() - t0) / 1000;
  const probeAfter = machineProbe();

  const summary = figureTable(results);
  process.stdout.write(`\nmeshsim bench summary (${started.toISOString()}, node ${process.version}, ${totalSeconds.toFixed(0)} s)\n\n`);
  process.stdout.write(summary);
  for (const r of results) process.stdout.write(`  ${r.bench}: ${r.wallSeconds.toFixed(1)} s, 1-min load ${r.load.before.toFixed(2)} → ${r.load.after.toFixed(2)}; before it, ${probeText(r.probe)}\n`);
  for (const f of failures) process.stdout.write(`  ${f.bench}: FAILED — ${f.error}\n`);
  const figures = results.flatMap((r) => r.figures);
  const targets = figures.filter((f) => f.pass !== undefined);
  process.stdout.write(
    `\n${targets.filter((f) => f.pass).length}/${targets.length} targets met; ${loadText(loadBefore)} before, ${loadText(loadAfter)} after ` +
      `(${cpu.length} cores; the bench itself adds ~1 to the load: wall-clock figures drop when other work runs)\n` +
      `machine probe before: ${probeText(probeBefore)}\n` +
      `machine probe after:  ${probeText(probeAfter)}\n` +
      `(the simulator's figures follow memory speed: compare the probes of two runs before their figures; bench/README.md)\n`,
  );

  const file = join(BENCH_DIR, 'results', 'latest.json');
  const doc = {
    schema: 'meshsim/bench@1',
    date: started.toISOString(),
    durationSeconds: Math.round(totalSeconds * 10) / 10,
    machine: {
      hostname: hostname(),
      platform: platform(),
      release: release(),
      arch: arch(),
      cpu: cpu[0]?.model ?? null,
      cores: cpu.length,
      memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      uptimeSeconds: Math.round(uptime()),
      loadBefore,
      loadAfter,
      probeBefore,
      probeAfter,
    },
    node: process.version,
    v8: process.versions.v8,
    runner,
    commit: gitCommit(),
    benches: names,
    summary: results.map((r) => ({ bench: r.bench, figures: r.figures })),
    failures,
    results,
  };
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
  renameSync(tmp, file);
  process.stdout.write(`wrote ${relative(ROOT, file)}\n`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
