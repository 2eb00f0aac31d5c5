/** Inline scenario texts and helpers shared by the scenario tests. */
import { expect } from 'vitest';
import { ScenarioError } from '../../src/scenario/errors.js';
import { parseScenarioText } from '../../src/scenario/load.js';

/** A complete scenario using every section; line numbers matter to the error tests. */
export const QUICKSTART = `schema: meshsim/scenario@1
name: quickstart
description: A small fleet behind one balancer.
seed: 1
seeds: 3
duration: 60s
warmup: 5s
services:
  api:
    instances: 10
    zones: [a, b]
    concurrency: 4
    queue: 64
    serviceTime: { dist: lognormal, median: 20ms, p99: 150ms }
    overrides:
      - instances: [3]
        serviceTime: { dist: lognormal, median: 200ms, p99: 1s }
  db:
    instances: 2
    concurrency: unbounded
    serviceTime: { dist: exponential, mean: 5ms }
network:
  latency: { dist: exponential, mean: 200us }
  crossZone: { dist: constant, value: 1ms }
workload:
  - name: users
    target: api
    zone: a
    arrival: { process: poisson, rate: 1500/s, steps: [{ at: 20s, rate: 3000/s }] }
    timeout: 2s
  - name: batch
    target: db
    arrival: { process: closed, clients: 50, think: { dist: exponential, mean: 10ms } }
mesh:
  balancer: { kind: round-robin }
variants:
  round-robin: { mesh.balancer: { kind: round-robin } }
  random: { mesh.balancer: { kind: random } }
`;

/** The smallest valid scenario: every default left out. */
export const MINIMAL = `name: minimal
seed: 0
seeds: 1
duration: 10s
warmup: 0s
services:
  api:
    instances: 1
    serviceTime: { dist: constant, value: 1ms }
network:
  latency: { dist: constant, value: 0s }
workload:
  - name: w
    target: api
    arrival: { process: constant, rate: 10/s }
mesh:
  balancer: { kind: random }
`;

/** `text` with `from` replaced by `to`; fails the test when `from` is not in it. */
export function edit(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

/** The ScenarioError loading `text` throws (fails the test when it loads). */
export function errorOf(text: string, file = 'q.yaml'): ScenarioError {
  try {
    parseScenarioText(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return error as ScenarioError;
  }
  throw new Error('expected a ScenarioError, but the scenario loaded');
}

/** Each problem as printed, one string per issue. */
export function linesOf(text: string, file = 'q.yaml'): string[] {
  return errorOf(text, file).message.split('\n');
}

/**
 * The "Scenario syntax" block of issue #4 (failures and failover) made a full scenario:
 * a frontend fanning out to a backend, each caller with its own sidecar settings.
 */
export const ISSUE_4 = `schema: meshsim/scenario@1
name: issue-4
seed: 1
seeds: 1
duration: 60s
warmup: 5s
services:
  frontend:
    instances: 4
    serviceTime: { dist: constant, value: 1ms }
    calls:
      - service: backend
        parallel: 10          # fan-out per request (default 1); list entries run in order
        probability: 1.0      # optional call
    mesh:                     # this caller's sidecar: overrides the top-level mesh
      balancer: { kind: least-request }
      failover:
        retries: { max: 1, on: [5xx, timeout] }
  backend:
    instances: 6
    zones: [a, b]
    serviceTime: { dist: exponential, mean: 5ms }
network:
  latency: { dist: exponential, mean: 200us }
workload:
  - name: users
    target: frontend
    arrival: { process: poisson, rate: 500/s }
mesh:                         # default sidecar config of every caller
  balancer: { kind: p2c }
  failover:
    timeout: 1s
    perTryTimeout: 300ms
    retries: { max: 2, on: [5xx, reset, connect-failure, timeout],
               backoff: { base: 25ms, max: 250ms }, budget: { percent: 20%, minConcurrency: 3 } }
    hedge: { delay: 50ms }
    circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 }
    outlierDetection: { consecutive5xx: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 10% }
    healthCheck: { interval: 5s, timeout: 1s, unhealthyThreshold: 3, healthyThreshold: 2 }
faults:
  - { kind: slow, target: { service: backend, instances: [0] }, at: 15s, for: 30s,
      serviceTime: { dist: constant, value: 2s } }      # or factor: 10
  - { kind: error, target: { service: backend }, at: 0s, rate: 30%, status: 503 }
  - { kind: crash, target: { service: backend, zone: b }, at: 20s, for: 10s }
`;
