/**
 * Cost of a pick, and of a rebuild, for every registered balancer (`balancers` of
 * src/algorithms/registry.ts) at 10, 1,000 and 10,000 endpoints. Each kind runs in a fresh
 * node process (bench/balancers-child.ts), so the JIT state one policy leaves behind
 * (megamorphic call sites, deoptimisations) cannot slow the next; the policies that honour
 * endpoint weights run a second time with weights 1..4. A do-nothing balancer (`noop`) runs
 * the same harness, to show what the harness itself costs.
 *
 * Figure: ns per steady-state cycle — fake clock + 0.01 ms, `pick`, `onStart`, and the
 * end (`onEnd`, FIFO) of the oldest of 50 attempts in flight — median of 5 repetitions of
 * ≈ 60 ms (and, for the split, the pick alone: clock + pick with the load state frozen);
 * and µs per rebuild on a membership change (one endpoint replaced).
 *
 * Targets (from the issue): ≤ 100 ns per P2C and P2C + peak EWMA pick at 10,000 endpoints
 * (checked on the whole cycle, so with onStart/onEnd and the harness included); P2C, peak
 * EWMA and Maglev picks O(1) and ring hash O(log n), checked as the growth of the cycle from
 * 1,000 to 10,000 endpoints (< 2×: linear would be 10×, log n of the ring's points ≈ 1.2×);
 * rebuilds amortised: a rebuild at most linear in the endpoints (growth 1k → 10k < 20×,
 * linear being 10×), its cost also shown in picks (how many cycles one rebuild costs).
 *
 *   node --import tsx bench/balancers.bench.ts [--sizes 10,1000,10000] [--reps 5] [--rep-ms 60] [--kinds p2c,maglev] [--json]
 */
import { balancers } from '../src/algorithms/registry.js';
import type { BalancerChildResult, SizeMeasurement } from './balancers-child.js';
import { benchMain, figure, fmt, log, runNodeChild, sibling, spread, table, timed, type BenchResult, type Figure } from './lib.js';

/** Kinds whose picks follow endpoint weights (the others ignore them, as their docs say): measured with weights 1..4 too. */
const WEIGHTED_KINDS: ReadonlySet<string> = new Set(['weighted-round-robin', 'smooth-weighted-round-robin', 'weighted-random', 'least-request', 'ring-hash', 'maglev']);
const NOOP = 'noop';

const TARGET_PICK_NS = 100;
const TARGET_PICK_KINDS = ['p2c', 'p2c-peak-ewma'];
/** Kinds whose pick should not grow with the endpoint count, and how it may grow at most. */
const COMPLEXITY: Readonly<Record<string, { readonly order: string; readonly maxGrowth: number }>> = {
  p2c: { order: 'O(1)', maxGrowth: 2 },
  'p2c-peak-ewma': { order: 'O(1)', maxGrowth: 2 },
  maglev: { order: 'O(1)', maxGrowth: 2 },
  'ring-hash': { order: 'O(log n)', maxGrowth: 2 },
};
/** A rebuild may grow at most this much from the middle size to the largest (10× the endpoints: linear is 10×). */
const MAX_REBUILD_GROWTH = 20;

interface Job {
  readonly kind: string;
  readonly weights: 'unit' | 'weighted';
}

interface Row extends Job {
  readonly sizes: readonly SizeMeasurement[];
  readonly maxRssKB: number;
  readonly wallMs: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const label = (j: Job) => (j.weights === 'weighted' ? `${j.kind} (w 1..4)` : j.kind);
const sizeLabel = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
const at = (r: Row, n: number) => r.sizes.find((s) => s.n === n);

export async function runBalancers(options: { sizes?: readonly number[]; reps?: number; repMs?: number; kinds?: readonly string[] } = {}): Promise<BenchResult> {
  const sizes = options.sizes ?? (arg('--sizes')?.split(',').map(Number) ?? [10, 1000, 10000]);
  const reps = options.reps ?? Number(arg('--reps') ?? 5);
  const repMs = options.repMs ?? Number(arg('--rep-ms') ?? 60);
  const only = options.kinds ?? arg('--kinds')?.split(',');
  const kinds = [...balancers.keys()].filter((k) => !only || only.includes(k));
  for (const k of only ?? []) if (k !== NOOP && !balancers.has(k)) throw new Error(`unknown balancer kind "${k}"; known: ${[...balancers.keys()].join(', ')}`);
  const jobs: Job[] = [
    { kind: NOOP, weights: 'unit' },
    ...kinds.map((kind): Job => ({ kind, weights: 'unit' })),
    ...kinds.filter((k) => WEIGHTED_KINDS.has(k)).map((kind): Job => ({ kind, weights: 'weighted' })),
  ];
  const big = sizes[sizes.length - 1];
  const mid = sizes.length > 1 ? sizes[sizes.length - 2] : undefined;

  return timed('picks', 'balancer pick and rebuild cost, every registered kind', async () => {
    const rows: Row[] = [];
    for (const job of jobs) {
      const res = await runNodeChild<BalancerChildResult>(
        sibling('balancers-child'),
        [job.kind, job.weights, '--sizes', sizes.join(','), '--reps', String(reps), '--rep-ms', String(repMs)],
        ['--expose-gc'],
      );
      const row: Row = { ...job, sizes: res.sizes, maxRssKB: res.maxRssKB, wallMs: res.childWallMs };
      rows.push(row);
      log(
        `picks ${label(job).padEnd(38)} ` +
          res.sizes.map((s) => `${sizeLabel(s.n)}: ${fmt(s.cycleNsMedian)} ns/cycle, rebuild ${fmt(s.rebuildUsMedian)} µs`).join('; ') +
          ` (${(res.childWallMs / 1000).toFixed(1)} s)`,
      );
    }

    const harness = rows.find((r) => r.kind === NOOP);
    const harnessAt = (n: number) => (harness ? at(harness, n)?.cycleNsMedian : undefined);
    const growth = (r: Row, pick: (s: SizeMeasurement) => number) => {
      const a = mid === undefined ? undefined : at(r, mid);
      const b = at(r, big);
      return a && b ? pick(b) / pick(a) : NaN;
    };
    const cycleGrowth = (r: Row) => growth(r, (s) => s.cycleNsMedian);
    const rebuildGrowth = (r: Row) => growth(r, (s) => s.rebuildUsMedian);

    const targetText = (r: Row): string => {
      if (r.weights !== 'unit') return '';
      const marks: string[] = [];
      const s = at(r, big);
      if (TARGET_PICK_KINDS.includes(r.kind) && s && big === 10000) marks.push(`≤ ${TARGET_PICK_NS} ns @10k ${s.cycleNsMedian <= TARGET_PICK_NS ? 'pass' : 'MISS'}`);
      const c = COMPLEXITY[r.kind];
      if (c && mid !== undefined) marks.push(`${c.order} (< ${c.maxGrowth}×) ${cycleGrowth(r) < c.maxGrowth ? 'pass' : 'MISS'}`);
      return marks.join(', ');
    };

    const cycleTable = table(
      ['kind', ...sizes.map((n) => `ns @${sizeLabel(n)}`), ...(mid === undefined ? [] : [`${sizeLabel(big)}/${sizeLabel(mid)}`]), `reps @${sizeLabel(big)}`, `pick alone @${sizeLabel(big)}`, 'picked @' + sizeLabel(big), 'target'],
      rows.map((r) => [
        label(r),
        ...sizes.map((n) => fmt(at(r, n)?.cycleNsMedian ?? NaN)),
        ...(mid === undefined ? [] : [`${cycleGrowth(r).toFixed(2)}×`]),
        spread(at(r, big)?.cycleNs ?? [], 1),
        fmt(at(r, big)?.pickNsMedian ?? NaN),
        String(at(r, big)?.distinctPicked ?? ''),
        r.kind === NOOP ? '(the harness alone)' : targetText(r),
      ]),
      [false, ...sizes.map(() => true), ...(mid === undefined ? [] : [true]), false, true, true, false],
    );
    const rebuildTable = table(
      ['kind', ...sizes.map((n) => `µs @${sizeLabel(n)}`), ...(mid === undefined ? [] : [`${sizeLabel(big)}/${sizeLabel(mid)}`]), `= cycles @${sizeLabel(big)}`, `first build µs @${sizeLabel(big)}`, 'linear'],
      rows
        .filter((r) => r.kind !== NOOP)
        .map((r) => {
          const s = at(r, big);
          const g = rebuildGrowth(r);
          return [
            label(r),
            ...sizes.map((n) => fmt(at(r, n)?.rebuildUsMedian ?? NaN)),
            ...(mid === undefined ? [] : [`${g.toFixed(1)}×`]),
            s ? fmt((s.rebuildUsMedian * 1000) / s.cycleNsMedian) : '',
            s ? fmt(s.firstBuildUs) : '',
            mid === undefined ? '' : g < MAX_REBUILD_GROWTH ? 'pass' : 'MISS',
          ];
        }),
      [false, ...sizes.map(() => true), ...(mid === undefined ? [] : [true]), true, true, false],
    );
    log(
      `\nns per cycle (fake clock + 0.01 ms, pick, onStart, onEnd of the oldest of 50 in flight), median of ${reps} reps;` +
        ` "pick alone": fake clock + pick, no onStart/onEnd, median of 3 reps:\n` +
        cycleTable,
    );
    log(`µs per rebuild (membership change: one endpoint replaced), median of batches:\n` + rebuildTable);

    const figures: Figure[] = [];
    const unit = (kind: string) => rows.find((r) => r.kind === kind && r.weights === 'unit');
    const h = harnessAt(big);
    for (const kind of TARGET_PICK_KINDS) {
      const r = unit(kind);
      const s = r && at(r, big);
      if (!s) continue;
      figures.push(
        figure(
          `${kind} pick cycle @ ${sizeLabel(big)} endpoints`,
          s.cycleNsMedian,
          'ns',
          big === 10000 ? { kind: 'max', value: TARGET_PICK_NS } : undefined,
          `pick+onStart+onEnd, reps ${spread(s.cycleNs, 1)}; pick alone ${fmt(s.pickNsMedian)} ns${h === undefined ? '' : `; harness ${fmt(h)} ns`}`,
        ),
      );
    }
    if (mid !== undefined) {
      for (const [kind, c] of Object.entries(COMPLEXITY)) {
        const r = unit(kind);
        if (!r) continue;
        figures.push(
          figure(`${kind} cycle growth ${sizeLabel(mid)} → ${sizeLabel(big)}`, cycleGrowth(r), '×', { kind: 'max', value: c.maxGrowth }, `${c.order}: ${sizes.map((n) => `${sizeLabel(n)} ${fmt(at(r, n)?.cycleNsMedian ?? NaN)}`).join(', ')} ns`),
        );
      }
    }
    const measured = rows.filter((r) => r.kind !== NOOP && at(r, big));
    if (measured.length > 0) {
      const slowest = measured.reduce((a, b) => ((at(b, big)?.cycleNsMedian ?? 0) > (at(a, big)?.cycleNsMedian ?? 0) ? b : a));
      figures.push(figure(`slowest pick cycle @ ${sizeLabel(big)}`, at(slowest, big)?.cycleNsMedian ?? NaN, 'ns', undefined, label(slowest)));
      if (mid !== undefined) {
        const worst = measured.reduce((a, b) => (rebuildGrowth(b) > rebuildGrowth(a) ? b : a));
        figures.push(
          figure(`worst rebuild growth ${sizeLabel(mid)} → ${sizeLabel(big)}`, rebuildGrowth(worst), '×', { kind: 'max', value: MAX_REBUILD_GROWTH }, `${label(worst)}: ${fmt(at(worst, mid)?.rebuildUsMedian ?? NaN)} → ${fmt(at(worst, big)?.rebuildUsMedian ?? NaN)} µs (linear: 10×)`),
        );
      }
      const costly = measured.reduce((a, b) => ((at(b, big)?.rebuildUsMedian ?? 0) > (at(a, big)?.rebuildUsMedian ?? 0) ? b : a));
      const cs = at(costly, big) as SizeMeasurement;
      figures.push(figure(`slowest rebuild @ ${sizeLabel(big)}`, cs.rebuildUsMedian / 1000, 'ms', undefined, `${label(costly)}; = ${fmt((cs.rebuildUsMedian * 1000) / cs.cycleNsMedian)} of its cycles`));
    }
    return { figures, data: { sizes, reps, repMs, inFlight: 50, tickMs: 0.01, rows } };
  });
}

await benchMain(import.meta.url, () => runBalancers());
