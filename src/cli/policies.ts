/**
 * `meshsim policies`: every algorithm a scenario file can name, and the system each
 * follows. Balancers come from the registry (src/algorithms/registry.ts), so a new one is
 * listed without editing this file; the failover mechanisms, retry budgets and backoffs
 * are the keys of `mesh.failover` (src/scenario/schema.ts), described as docs/failover.md
 * does.
 */
import { balancers } from '../algorithms/registry.js';
import { indented } from './help.js';

interface Entry {
  readonly name: string;
  readonly summary: string;
  readonly follows: string;
}

const FAILOVER: readonly Entry[] = [
  { name: 'timeout', summary: 'Deadline of a call over every attempt, retry and backoff; the sidecar answers 504.', follows: 'Envoy route timeout' },
  { name: 'perTryTimeout', summary: 'The sidecar gives up on one attempt after this long (a timeout outcome).', follows: 'Envoy per_try_timeout' },
  {
    name: 'retries',
    summary: 'Retry an attempt whose outcome matches `on` (5xx, gateway-error, reset, connect-failure, timeout, gRPC statuses…), up to `max`, with backoff, a budget and host reselection.',
    follows: 'Envoy retry policy (num_retries, retry_on, previous_hosts predicate)',
  },
  { name: 'hedge', summary: 'Another attempt when none answered after `delay` (up to maxAttempts), or on a per-try timeout; the first good answer wins.', follows: 'gRPC A6 hedging; Envoy hedge_on_per_try_timeout' },
  { name: 'circuitBreaker', summary: 'Limits per sidecar on attempts, retries, connections and pending requests in flight; past them a local 503.', follows: 'Envoy circuit breaker thresholds' },
  { name: 'outlierDetection', summary: 'Ejects hosts for consecutive 5xx or gateway failures, low success rate or high failure percentage.', follows: 'Envoy outlier detection (outlier_detection_impl.cc)' },
  { name: 'healthCheck', summary: 'Each sidecar probes each host every interval; failing hosts are unhealthy to the balancer.', follows: 'Envoy active health checking' },
  { name: 'adaptiveThrottling', summary: 'Rejects new calls locally with probability max(0, (requests − k × accepts) / (requests + 1)).', follows: 'Google SRE book, client-side throttling' },
];

const BUDGETS: readonly Entry[] = [
  { name: 'envoy-budget', summary: 'Retries in flight ≤ max(percent × attempts in flight, minConcurrency); the shorthand { percent, minConcurrency }.', follows: 'Envoy retry_budget' },
  { name: 'envoy-max-retries', summary: 'At most maxRetries retries in flight per sidecar.', follows: 'Envoy max_retries circuit breaker' },
  { name: 'linkerd', summary: 'Retries ≤ retryRatio × requests over the last ttl + minRetriesPerSecond × ttl (0.2, 10/s, 10 s).', follows: "Linkerd's retryBudget (tower TpsBudget)" },
  { name: 'finagle', summary: 'The same token budget as Finagle computes it: requests deposit, retries withdraw, over a 10-slice window.', follows: 'Finagle RetryBudget' },
  { name: 'grpc-throttling', summary: 'Tokens start at maxTokens (10); a failed attempt takes 1, a success gives tokenRatio (0.1); retries and hedges only while tokens > maxTokens / 2.', follows: 'gRPC retryThrottling (A6)' },
];

const BACKOFFS: readonly Entry[] = [
  { name: '(default)', summary: 'Fully jittered exponential backoff: retry n waits uniform in [0, interval), the interval doubling from base up to max.', follows: 'Envoy' },
  { name: 'grpc', summary: 'Retry n waits uniform in [0, min(initial × multiplier^(n−1), max)).', follows: 'gRPC A6' },
];

function section(title: string, entries: readonly Entry[]): string {
  const body = entries.map((e) => `  ${e.name}\n${indented(e.summary, 6)}\n${indented(`follows: ${e.follows}`, 6)}`).join('\n');
  return `${title}\n\n${body}\n`;
}

/** The listing, every line within 80 columns. */
export function policiesText(): string {
  const balancing: Entry[] = [...balancers.values()].map((d) => ({ name: d.kind, summary: d.summary, follows: d.follows }));
  return [
    section('Load balancing: mesh.balancer: { kind: <name>, ... }', balancing),
    section('Failover: mesh.failover: { <name>: ... } (docs/failover.md)', FAILOVER),
    section('Retry budgets: mesh.failover.retries.budget: { kind: <name>, ... }', BUDGETS),
    section('Backoff: mesh.failover.retries.backoff: { kind: <name>, ... }', BACKOFFS),
  ].join('\n');
}
