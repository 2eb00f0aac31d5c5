/**
 * Helpers for the failover tests (test/sim/failover.test.ts): scenarios with a call graph
 * (several services, `calls`, a top-level `mesh.failover` and per-service meshes) written
 * as scenario-file YAML and loaded by the real loader, per-layer lookups in a RunResult,
 * and the closed forms of retries over independent failures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayerStats, RunResult } from '../../src/sim/metrics.js';
import type { Scenario } from '../../src/scenario/types.js';
import { bound, headerLines, load } from './_scenario.js';

const ms = (x: number): string => `${x}ms`;

export interface CallOptions {
  readonly service: string;
  readonly parallel?: number;
  readonly probability?: number;
  readonly onFailure?: 'fail' | 'tolerate';
}

export interface ServiceOptions {
  /** Default 1. */
  readonly instances?: number;
  /** Worker slots per instance; default unbounded (so load never matters unless asked for). */
  readonly concurrency?: number;
  /** Wait-queue bound; default unbounded. */
  readonly queue?: number;
  /** A distribution as a YAML flow mapping (see ./_scenario.ts). */
  readonly serviceTime: string;
  readonly calls?: readonly CallOptions[];
  /** This service's own `mesh.failover`, a YAML flow mapping (laid over the top-level one). */
  readonly failover?: string;
}

export interface GraphOptions {
  readonly duration: number;
  readonly warmup?: number;
  readonly drain?: number;
  /** Services in order (the first is not necessarily the workload's target). */
  readonly services: Readonly<Record<string, ServiceOptions>>;
  /** The workload `users` and what it calls. */
  readonly target: string;
  readonly arrival: string;
  /** The workload's own client timeout, ms. */
  readonly timeout?: number;
  /** Client sidecars of the workload (default 1). */
  readonly sidecars?: number;
  /** One-way network latency (YAML flow mapping); default constant 0. */
  readonly latency?: string;
  /** Default round-robin. */
  readonly balancer?: string;
  /** The top-level `mesh.failover`, a YAML flow mapping; absent = none. */
  readonly failover?: string;
  /** Faults as YAML flow mappings. */
  readonly faults?: readonly string[];
}

/** The YAML text of a call-graph scenario: workload `users` → `target`, services calling services. */
export function graphYaml(o: GraphOptions): string {
  const lines = [...headerLines('failover-test', o), 'services:'];
  for (const [name, s] of Object.entries(o.services)) {
    lines.push(
      `  ${name}:`,
      `    instances: ${s.instances ?? 1}`,
      `    concurrency: ${bound(s.concurrency ?? Infinity)}`,
      `    queue: ${bound(s.queue ?? Infinity)}`,
      `    serviceTime: ${s.serviceTime}`,
    );
    if (s.calls && s.calls.length > 0) {
      lines.push('    calls:');
      for (const c of s.calls) {
        const extra = [
          c.parallel === undefined ? '' : `, parallel: ${c.parallel}`,
          c.probability === undefined ? '' : `, probability: ${c.probability}`,
          c.onFailure === undefined ? '' : `, onFailure: ${c.onFailure}`,
        ].join('');
        lines.push(`      - { service: ${c.service}${extra} }`);
      }
    }
    if (s.failover !== undefined) lines.push(`    mesh: { failover: ${s.failover} }`);
  }
  lines.push(
    'network:',
    `  latency: ${o.latency ?? '{ dist: constant, value: 0ms }'}`,
    'workload:',
    '  - name: users',
    `    target: ${o.target}`,
    ...(o.sidecars === undefined ? [] : [`    sidecars: ${o.sidecars}`]),
    `    arrival: ${o.arrival}`,
    ...(o.timeout === undefined ? [] : [`    timeout: ${ms(o.timeout)}`]),
    'mesh:',
    `  balancer: { kind: ${o.balancer ?? 'round-robin'} }`,
    ...(o.failover === undefined ? [] : [`  failover: ${o.failover}`]),
  );
  if (o.faults && o.faults.length > 0) {
    lines.push('faults:');
    for (const f of o.faults) lines.push(`  - ${f}`);
  }
  return lines.join('\n') + '\n';
}

/** A call-graph scenario, loaded by the real loader. */
export const graph = (o: GraphOptions): Scenario => load(graphYaml(o));

/** The caller → target layer of a run (fails loudly when there is none). */
export function layer(r: RunResult, caller: string, target: string): LayerStats {
  const l = r.layers.find((x) => x.caller === caller && x.target === target);
  if (!l) throw new Error(`no layer ${caller}→${target}; layers: ${r.layers.map((x) => `${x.caller}→${x.target}`).join(', ')}`);
  return l;
}

/** The workload's (client-facing) layer. */
export function clientLayer(r: RunResult): LayerStats {
  const l = r.layers.find((x) => x.client);
  if (!l) throw new Error('no client layer');
  return l;
}

/**
 * Attempts of one call when every attempt fails independently with probability p and the
 * call may retry r times: A = min(G, r + 1), G geometric on 1, 2, … with success 1 − p.
 * P(A = k) = p^(k−1)(1 − p) for k ≤ r, P(A = r + 1) = p^r. Mean Σ_{k=0..r} p^k =
 * (1 − p^(r+1))/(1 − p) (the reference's closed form).
 */
export function attemptsMoments(p: number, r: number): { mean: number; variance: number } {
  let m1 = 0;
  let m2 = 0;
  for (let k = 1; k <= r + 1; k++) {
    const pk = k <= r ? p ** (k - 1) * (1 - p) : p ** r;
    m1 += k * pk;
    m2 += k * k * pk;
  }
  return { mean: m1, variance: m2 - m1 * m1 };
}

/**
 * Latency of a call that succeeds, with constant attempt time `t` (ms), failure
 * probability p per attempt, r retries, and Envoy's whole-ms backoff before retry k drawn
 * uniformly from 0..interval(k)−1 (mean (I−1)/2, variance (I² − 1)/12).
 * Conditioned on success, the attempt count a has P(a) = p^(a−1)(1 − p) / (1 − p^(r+1)).
 */
export function successLatencyMoments(p: number, r: number, t: number, interval: (k: number) => number): { mean: number; variance: number } {
  const q = 1 - p ** (r + 1);
  let m1 = 0;
  let m2 = 0;
  for (let a = 1; a <= r + 1; a++) {
    const pa = (p ** (a - 1) * (1 - p)) / q;
    let mean = a * t;
    let variance = 0;
    for (let k = 1; k < a; k++) {
      const i = interval(k);
      mean += (i - 1) / 2;
      variance += (i * i - 1) / 12;
    }
    m1 += pa * mean;
    m2 += pa * (variance + mean * mean);
  }
  return { mean: m1, variance: m2 - m1 * m1 };
}

/** Half-width of a z-sigma band for a Binomial(n, p) count. */
export const binomialBand = (n: number, p: number, z = 5): number => z * Math.sqrt(n * p * (1 - p));

/** What the failover tests compare between runs: counts, layers, counters, conservation, instances, latency. */
export function resultKey(r: RunResult): string {
  return JSON.stringify([r.requests, r.layers, r.failover, r.conservation, r.instances, r.latency.count, r.latency.sum]);
}

// ---- Runs in a child process ----------------------------------------------------------------

/** A scenario (YAML text) and the seed to run it with. */
export interface ChildCase {
  readonly yaml: string;
  readonly seed: number;
}

/** One case's result in the child: its resultKey and summary, or what it threw. */
export interface ChildOutcome {
  readonly key?: string;
  readonly result?: Pick<RunResult, 'requests' | 'layers' | 'failover' | 'conservation'>;
  readonly error?: string;
}

export interface ChildRun {
  /** False when the child was still running at the deadline (a simulation that never ends). */
  readonly finished: boolean;
  /** The case the child was running when it was stopped. */
  readonly stuckAt: number | undefined;
  readonly outcomes: readonly ChildOutcome[];
  readonly stderr: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/**
 * Simulates `cases` one after another in a child process (node + tsx) stopped after
 * `timeoutMs`: a simulation stuck in an endless loop would otherwise block the whole test
 * file (vitest cannot interrupt synchronous code), so scenarios that may hit such a bug run
 * here and a hang becomes an ordinary test failure naming the case.
 */
export function simulateInChild(cases: readonly ChildCase[], timeoutMs: number): ChildRun {
  const dir = mkdtempSync(join(tmpdir(), 'meshsim-failover-'));
  const input = join(dir, 'cases.json');
  const output = join(dir, 'outcomes.json');
  const progress = join(dir, 'progress');
  writeFileSync(input, JSON.stringify(cases));
  const script = `
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { parseScenarioText } = await import(${JSON.stringify(join(root, 'src/scenario/load.ts'))});
    const { simulate } = await import(${JSON.stringify(join(root, 'src/sim/world.ts'))});
    const { resultKey } = await import(${JSON.stringify(join(here, '_failover-helpers.ts'))});
    const cases = JSON.parse(readFileSync(${JSON.stringify(input)}, 'utf8'));
    const out = [];
    for (let i = 0; i < cases.length; i++) {
      writeFileSync(${JSON.stringify(progress)}, String(i));
      try {
        const r = simulate(parseScenarioText(cases[i].yaml, 'case.yaml').base, cases[i].seed);
        out.push({ key: resultKey(r), result: { requests: r.requests, layers: r.layers, failover: r.failover, conservation: r.conservation } });
      } catch (e) {
        out.push({ error: String((e && e.stack) || e) });
      }
    }
    writeFileSync(${JSON.stringify(output)}, JSON.stringify(out));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: timeoutMs, encoding: 'utf8' });
  const finished = child.signal === null && existsSync(output);
  const run: ChildRun = {
    finished,
    stuckAt: finished || !existsSync(progress) ? undefined : Number(readFileSync(progress, 'utf8')),
    outcomes: finished ? (JSON.parse(readFileSync(output, 'utf8')) as ChildOutcome[]) : [],
    stderr: child.stderr ?? '',
  };
  rmSync(dir, { recursive: true, force: true });
  return run;
}
