/**
 * Simulation vs reality: runs a scenario's variants in the simulator and live, after an
 * optional calibration that measures the live stack's own costs (src/live/calibrate.ts)
 * and gives them to the simulator as its network latency. The simulator runs the
 * scenario's seeds (its estimate of each figure); the live side runs each variant once for
 * its stated duration. The live run draws its arrivals, service times and the algorithms'
 * choices from the streams the simulation of the same seed draws from (common random
 * numbers), so the simulation of the live seeds is the live run's twin: the two differ by
 * what the simulator models, not by the luck of one run. Nothing runs concurrently: the
 * simulation must not steal the CPU the live run is measured on.
 */
import { availableParallelism, loadavg } from 'node:os';
import { calibrate, type Calibration } from '../live/calibrate.js';
import type { Layout } from '../live/run.js';
import type { LoadedScenario, Scenario } from '../scenario/types.js';
import { runScenarioLive } from './live.js';
import { selectVariants, seedList, simulateRun, type RunOutput } from './run.js';

export type { Calibration } from '../live/calibrate.js';

export interface FidelityOptions {
  readonly variants?: readonly string[];
  /** Seed of the live runs (default: the scenario's). */
  readonly seed?: number;
  /** Simulated replications (default: the scenario's `seeds`). */
  readonly simSeeds?: number;
  /** Measure and apply the calibration (default true). */
  readonly calibrate?: boolean;
  readonly signal?: AbortSignal;
  /** Process layout of the live runs and the calibration (default split). */
  readonly layout?: Layout;
  /** Progress: what is running now. */
  readonly onStage?: (message: string) => void;
}

/** Where the live side ran: a live measurement means little without the machine's state. */
export interface LiveEnvironment {
  readonly layout: Layout;
  readonly cpus: number;
  /** 1-minute load averages when the live side started and ended (other work on the machine). */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export interface FidelityOutput {
  readonly calibration: Calibration | null;
  readonly environment: LiveEnvironment;
  /** The simulation over the scenario's seeds: its estimate of every figure. */
  readonly sim: RunOutput;
  /** The simulation of exactly the live run's seeds (the same runs as in `sim` where the seeds overlap). */
  readonly simLiveSeeds: RunOutput;
  readonly live: RunOutput;
  readonly aborted: boolean;
}

/** The scenario as the simulator runs it for a fidelity comparison: the measured per-hop latency, no cross-zone penalty (loopback has none). */
export function calibrated(scenario: Scenario, calibration: Calibration | null): Scenario {
  if (!calibration) return scenario;
  return { ...scenario, network: { latency: { dist: 'empirical', values: calibration.hopLatencyMs } } };
}

function environment(layout: Layout | undefined, loadStart: number): LiveEnvironment {
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  return { layout: layout ?? 'split', cpus: availableParallelism(), loadAverage: { start: round2(loadStart), end: round2(loadavg()[0]) } };
}

export async function runFidelity(loaded: LoadedScenario, options: FidelityOptions = {}): Promise<FidelityOutput> {
  const variants = selectVariants(loaded, options.variants);
  const loadStart = loadavg()[0];
  let calibration: Calibration | null = null;
  if (options.calibrate !== false) {
    options.onStage?.('calibrating: round trips straight to an instance and through a proxy (2 × 3 s)');
    try {
      calibration = await calibrate({ seed: options.seed ?? loaded.base.seed, signal: options.signal, layout: options.layout });
    } catch (e) {
      if (!options.signal?.aborted) throw e;
      const none: RunOutput = { seeds: [], variants: [] };
      return { calibration: null, environment: environment(options.layout, loadStart), sim: none, simLiveSeeds: none, live: none, aborted: true };
    }
  }
  const seeds = seedList(loaded.base, { seeds: options.simSeeds });
  options.onStage?.(`simulating ${variants.length} variant(s) × ${seeds.length} seed(s)`);
  const sim: RunOutput = {
    seeds,
    variants: variants.map((v, i) => {
      const scenario = calibrated(v.scenario, calibration);
      return { name: v.name, scenario, runs: seeds.map((seed) => simulateRun(loaded, variants, i, seed, scenario)) };
    }),
  };
  const live = await runScenarioLive(loaded, {
    seed: options.seed,
    variants: variants.map((v) => v.name),
    signal: options.signal,
    layout: options.layout,
    onRun: (k, total, variant) => options.onStage?.(`live [${k + 1}/${total}] ${variant}: ${(loaded.variants.find((v) => v.name === variant)?.scenario.duration ?? 0) / 1000} s`),
  });
  // The live run's twin: its seeds' simulated runs (simulated now if not among the scenario's seeds).
  const simLiveSeeds: RunOutput = {
    seeds: live.seeds,
    variants: sim.variants.map((v, i) => ({
      ...v,
      runs: live.seeds.map((seed) => {
        const k = seeds.indexOf(seed);
        return k >= 0 ? v.runs[k] : simulateRun(loaded, variants, i, seed, v.scenario);
      }),
    })),
  };
  return { calibration, environment: environment(options.layout, loadStart), sim, simLiveSeeds, live, aborted: live.aborted };
}
