/**
 * A small scenario that exercises every part of a run's result the serialisation and merge
 * tests must carry: two services (one with unbounded concurrency: `slots` = Infinity),
 * downstream calls (two layers), retries and outlier detection (failover counters), a
 * crash with an end and an error fault open to the end of the run (`end` = Infinity),
 * a membership change, timeline buckets; three variants. ~300 requests per run.
 */
export function richScenario(o: { readonly name?: string; readonly seeds?: number; readonly tail?: string } = {}): string {
  return `schema: meshsim/scenario@1
name: ${o.name ?? 'rich'}
seed: 7
seeds: ${o.seeds ?? 2}
duration: 1500ms
warmup: 100ms
services:
  api:
    instances: 3
    zones: [a, b]
    concurrency: 2
    queue: 8
    serviceTime: { dist: exponential, mean: 2ms }
    calls:
      - { service: db, probability: 50%, onFailure: tolerate }
  db:
    instances: 2
    concurrency: unbounded
    serviceTime: { dist: lognormal, median: 1ms, p99: 8ms }
network:
  latency: { dist: exponential, mean: 100us }
  crossZone: { dist: constant, value: 300us }
workload:
  - name: users
    target: api
    arrival: { process: poisson, rate: 200/s }
    timeout: 500ms
mesh:
  balancer: { kind: round-robin }
  failover:
    retries: { max: 1, on: [5xx, reset, connect-failure] }
    outlierDetection: { consecutive5xx: 3, interval: 200ms, baseEjectionTime: 300ms, maxEjectionPercent: 50% }
membership:
  - { at: 700ms, service: api, add: 1 }
faults:
  - { kind: crash, target: { service: api, instances: [0] }, at: 300ms, for: 400ms }
  - { kind: error, target: { service: db, instances: [1] }, at: 500ms, rate: 30%, status: 503 }
variants:
  rr: {}
  p2c: { mesh.balancer: { kind: p2c } }
  lr: { mesh.balancer: { kind: least-request } }
${o.tail ?? ''}`;
}
