/**
 * Small scenarios for the simulator tests, written as scenario-file YAML and loaded with
 * the real loader (so defaults and units are the documented ones, and the tests keep
 * working as the resolved Scenario type grows).
 */
import { parseScenarioText } from '../../src/scenario/load.js';
import type { Scenario } from '../../src/scenario/types.js';

/** A duration in ms, as scenario files write it. */
const ms = (x: number): string => `${x}ms`;

// Distributions, as YAML flow mappings (all parameters in ms).
export const constant = (value: number): string => `{ dist: constant, value: ${ms(value)} }`;
export const exponential = (mean: number): string => `{ dist: exponential, mean: ${ms(mean)} }`;
export const uniform = (min: number, max: number): string => `{ dist: uniform, min: ${ms(min)}, max: ${ms(max)} }`;

// Arrival processes (rates per second, step times in ms).
type Steps = ReadonlyArray<{ readonly at: number; readonly rate: number }>;
const steps = (s: Steps): string => (s.length === 0 ? '' : `, steps: [${s.map((x) => `{ at: ${ms(x.at)}, rate: ${x.rate}/s }`).join(', ')}]`);
export const poisson = (rate: number, s: Steps = []): string => `{ process: poisson, rate: ${rate}/s${steps(s)} }`;
export const constantRate = (rate: number, s: Steps = []): string => `{ process: constant, rate: ${rate}/s${steps(s)} }`;
export const closed = (clients: number, think: string): string => `{ process: closed, clients: ${clients}, think: ${think} }`;

export interface Options {
  readonly duration: number;
  readonly warmup?: number;
  readonly drain?: number;
  readonly instances?: number;
  readonly zones?: readonly string[];
  /** Worker slots per instance; Infinity = unbounded. Default 1. */
  readonly concurrency?: number;
  /** Wait-queue bound; Infinity = unbounded (default). */
  readonly queue?: number;
  readonly serviceTime: string;
  /** One-way network latency; default constant 0. */
  readonly latency?: string;
  readonly crossZone?: string;
  readonly arrival: string;
  /** Zone of the clients; default the service's first zone. */
  readonly zone?: string;
  readonly timeout?: number;
  readonly balancer?: string;
}

/** A concurrency or queue bound as YAML: Infinity is `unbounded`. */
export const bound = (x: number): string => (x === Infinity ? 'unbounded' : String(x));

/** A test scenario's opening lines: schema, `name`, seed 1 × 1, duration, warm-up, drain (ms). */
export function headerLines(name: string, o: { readonly duration: number; readonly warmup?: number; readonly drain?: number }): string[] {
  return [
    'schema: meshsim/scenario@1',
    `name: ${name}`,
    'seed: 1',
    'seeds: 1',
    `duration: ${ms(o.duration)}`,
    `warmup: ${ms(o.warmup ?? 0)}`,
    ...(o.drain === undefined ? [] : [`drain: ${ms(o.drain)}`]),
  ];
}

/** The YAML text of a one-service (`s`), one-workload (`c`) scenario. */
export function scenarioYaml(o: Options): string {
  const lines = [
    ...headerLines('test', o),
    'services:',
    '  s:',
    `    instances: ${o.instances ?? 1}`,
    ...(o.zones ? [`    zones: [${o.zones.join(', ')}]`] : []),
    `    concurrency: ${bound(o.concurrency ?? 1)}`,
    `    queue: ${bound(o.queue ?? Infinity)}`,
    `    serviceTime: ${o.serviceTime}`,
    'network:',
    `  latency: ${o.latency ?? constant(0)}`,
    ...(o.crossZone ? [`  crossZone: ${o.crossZone}`] : []),
    'workload:',
    '  - name: c',
    '    target: s',
    ...(o.zone ? [`    zone: ${o.zone}`] : []),
    `    arrival: ${o.arrival}`,
    ...(o.timeout === undefined ? [] : [`    timeout: ${ms(o.timeout)}`]),
    'mesh:',
    `  balancer: { kind: ${o.balancer ?? 'round-robin'} }`,
  ];
  return lines.join('\n') + '\n';
}

/** Loads a scenario from YAML text (throws the loader's ScenarioError if invalid). */
export function load(yaml: string): Scenario {
  return parseScenarioText(yaml, 'test.yaml').base;
}

export const scenario = (o: Options): Scenario => load(scenarioYaml(o));
