/**
 * The small, quick scenario the CLI and report tests share: one service of 2 instances
 * (exponential 2 ms service), 100us hops, one Poisson workload at 200/s, round robin;
 * ~400 requests per run over the default 2 s. Options change what a test needs.
 */
export interface TinyOptions {
  readonly name?: string;
  readonly seeds?: number;
  readonly duration?: string;
  readonly warmup?: string;
  /** Variants as YAML flow values by name; default rr (base) and rand (random balancing). */
  readonly variants?: Readonly<Record<string, string>>;
  /** YAML appended at the end (e.g. an `assert:` block). */
  readonly tail?: string;
}

export function tinyScenario(o: TinyOptions = {}): string {
  const variants = o.variants ?? { rr: '{}', rand: '{ mesh.balancer: { kind: random } }' };
  return `schema: meshsim/scenario@1
name: ${o.name ?? 'tiny'}
seed: 3
seeds: ${o.seeds ?? 2}
duration: ${o.duration ?? '2s'}
warmup: ${o.warmup ?? '200ms'}
services:
  api:
    instances: 2
    serviceTime: { dist: exponential, mean: 2ms }
network:
  latency: { dist: constant, value: 100us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 200/s }
mesh:
  balancer: { kind: round-robin }
variants:
${Object.entries(variants)
  .map(([name, value]) => `  ${name}: ${value}\n`)
  .join('')}${o.tail ?? ''}`;
}
