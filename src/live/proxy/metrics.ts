/**
 * The proxy's counters and latency histograms, kept as plain numbers on the request path
 * and turned into Prometheus metrics (prom-client) only when /metrics is scraped, the way
 * Envoy keeps its stats in flat counters and renders them on the admin listener.
 *
 * Every request the proxy receives is counted exactly once, when it is over, under the
 * status the client got (`code`), or `client_closed` (the client went away first) or
 * `reset` (the upstream broke off a response already being forwarded).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OutcomeKind } from '../../algorithms/types.js';

/** Histogram bucket bounds, seconds (Prometheus `le`). */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Outcome kinds, in the order of the per-upstream outcome counters. */
export const OUTCOME_KINDS: readonly OutcomeKind[] = ['success', 'error', 'timeout', 'reset', 'connect-failure', 'rejected', 'cancelled'];
const OUTCOME_INDEX: Readonly<Record<OutcomeKind, number>> = Object.fromEntries(OUTCOME_KINDS.map((k, i) => [k, i])) as Record<OutcomeKind, number>;

/** The ends of a request besides an HTTP status (slots after the 600 statuses). */
export const END_CLIENT_CLOSED = 600;
export const END_RESET = 601;
const END_SLOTS = 602;

/** A fixed-bucket latency histogram (milliseconds in, seconds out). */
export class LatencyHistogram {
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    const s = ms / 1000;
    let i = 0;
    const n = LATENCY_BUCKETS.length;
    while (i < n && s > LATENCY_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += s;
    this.count++;
  }
}

/** Per-upstream counters. */
export class UpstreamCounters {
  /** Attempts ended, by outcome kind (OUTCOME_KINDS order). */
  readonly outcomes = new Float64Array(OUTCOME_KINDS.length);
  attempts = 0;
  retries = 0;
  hedges = 0;
  ejections = 0;
  readonly latency = new LatencyHistogram();

  constructor(
    readonly address: string,
    readonly name: string,
  ) {}

  ended(kind: OutcomeKind, ms: number): void {
    this.outcomes[OUTCOME_INDEX[kind]]++;
    if (kind !== 'cancelled') this.latency.observe(ms);
  }

  count(kind: OutcomeKind): number {
    return this.outcomes[OUTCOME_INDEX[kind]];
  }

  /** Attempts that ended in a failure (not a success, not cancelled). */
  get failures(): number {
    return this.count('error') + this.count('timeout') + this.count('reset') + this.count('connect-failure') + this.count('rejected');
  }
}

/** The whole proxy's counters. */
export class ProxyCounters {
  /** Requests over, by end (HTTP status 0–599, END_CLIENT_CLOSED, END_RESET). */
  readonly ends = new Float64Array(END_SLOTS);
  requests = 0;
  active = 0;
  succeeded = 0;
  failed = 0;
  attempts = 0;
  retries = 0;
  hedges = 0;
  hedgesWon = 0;
  overflows = 0;
  noHealthy = 0;
  budgetDenied = 0;
  throttled = 0;
  perTryTimeouts = 0;
  routeTimeouts = 0;
  /** Requests refused before reaching the router (malformed, headers or body too large). */
  rejectedByLimits = 0;
  readonly latency = new LatencyHistogram();
  readonly upstreams: readonly UpstreamCounters[];

  constructor(upstreams: readonly { readonly address: string; readonly name: string }[]) {
    this.upstreams = upstreams.map((u) => new UpstreamCounters(u.address, u.name));
  }

  /**
   * A request is over: `end` is the status the client got, END_CLIENT_CLOSED or END_RESET;
   * `upstream`: the answer was an upstream's response (not one the proxy gave itself).
   * It succeeded when an upstream's complete response below 500 reached the client.
   */
  requestEnded(end: number, ms: number, upstream: boolean): void {
    this.ends[end]++;
    this.active--;
    if (upstream && end < 500) this.succeeded++;
    else this.failed++;
    this.latency.observe(ms);
  }
}

/** What the metrics of the health of each upstream read at scrape time. */
export interface HealthView {
  isEjected(index: number): boolean;
  isHealthy(index: number): boolean;
}

function endLabel(end: number): string {
  return end === END_CLIENT_CLOSED ? 'client_closed' : end === END_RESET ? 'reset' : String(end);
}

/** Loads a prom-client histogram with counts kept elsewhere (per-bucket counts, sum, count). */
function setHistogram(h: Histogram<string>, labels: Record<string, string>, src: LatencyHistogram): void {
  // prom-client has no setter for a histogram: zero() makes the label set's record (keyed its
  // own way), which then takes the counts, in the shape its observe() keeps them. That shape
  // is internal, so package.json pins prom-client to 15.1.x and test/live/proxy/metrics.test.ts
  // checks the rendered buckets, sum and count.
  h.zero(labels);
  type Entry = { labels: Record<string, string>; bucketValues: Record<number, number>; sum: number; count: number };
  const internal = h as unknown as { hashMap: Record<string, Entry> };
  const entry = Object.values(internal.hashMap).find((e) => e.labels === labels);
  if (entry === undefined) throw new Error('prom-client histogram: zero() made no record');
  LATENCY_BUCKETS.forEach((b, i) => (entry.bucketValues[b] = src.counts[i]));
  entry.sum = src.sum;
  entry.count = src.count;
}

/** A registry whose metrics read `counters` (and `health`) each time it is collected. */
export function proxyRegistry(counters: ProxyCounters, health: () => HealthView | undefined): Registry {
  const registry = new Registry();
  const up = (u: UpstreamCounters): Record<string, string> => ({ upstream: u.name, address: u.address });
  new Counter({
    name: 'meshsim_proxy_requests_total',
    help: 'Requests received, by how they ended: the status sent to the client, client_closed or reset',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      counters.ends.forEach((n, end) => {
        if (n > 0) this.inc({ code: endLabel(end) }, n);
      });
    },
  });
  new Gauge({
    name: 'meshsim_proxy_requests_active',
    help: 'Requests in progress',
    registers: [registry],
    collect() {
      this.set(counters.active);
    },
  });
  new Histogram({
    name: 'meshsim_proxy_request_duration_seconds',
    help: 'Time from receiving a request to the end of its response',
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
    collect() {
      this.reset();
      setHistogram(this, {}, counters.latency);
    },
  });
  const simple: readonly [string, string, () => number][] = [
    ['meshsim_proxy_retries_total', 'Retries sent (Envoy upstream_rq_retry)', () => counters.retries],
    ['meshsim_proxy_hedges_total', 'Hedged attempts sent', () => counters.hedges],
    ['meshsim_proxy_hedges_won_total', 'Requests answered by a hedge', () => counters.hedgesWon],
    ['meshsim_proxy_retry_budget_denied_total', 'Retries and hedges refused by the retry budget (Envoy upstream_rq_retry_overflow)', () => counters.budgetDenied],
    ['meshsim_proxy_breaker_overflows_total', 'Attempts refused by the circuit breaker (Envoy upstream_rq_pending_overflow)', () => counters.overflows],
    ['meshsim_proxy_no_healthy_upstream_total', 'Attempts with no healthy upstream to go to', () => counters.noHealthy],
    ['meshsim_proxy_throttled_total', 'Requests rejected locally by adaptive throttling', () => counters.throttled],
    ['meshsim_proxy_per_try_timeouts_total', 'Attempts whose per-try timeout fired', () => counters.perTryTimeouts],
    ['meshsim_proxy_route_timeouts_total', 'Requests ended by the route timeout (504)', () => counters.routeTimeouts],
    ['meshsim_proxy_rejected_by_limits_total', 'Requests refused for a malformed request line or headers, headers or body over the limits, or a request sent too slowly (408)', () => counters.rejectedByLimits],
  ];
  for (const [name, help, read] of simple) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
  new Counter({
    name: 'meshsim_proxy_upstream_attempts_total',
    help: 'Attempts sent to each upstream, by outcome',
    labelNames: ['upstream', 'address', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of counters.upstreams) OUTCOME_KINDS.forEach((kind, i) => this.inc({ ...up(u), outcome: kind }, u.outcomes[i]));
    },
  });
  const perUpstream: readonly [string, string, (u: UpstreamCounters) => number][] = [
    ['meshsim_proxy_upstream_retries_total', 'Retries sent to each upstream', (u) => u.retries],
    ['meshsim_proxy_upstream_hedges_total', 'Hedged attempts sent to each upstream', (u) => u.hedges],
    ['meshsim_proxy_upstream_ejections_total', 'Outlier-detection ejections of each upstream', (u) => u.ejections],
  ];
  for (const [name, help, read] of perUpstream) {
    new Counter({
      name,
      help,
      labelNames: ['upstream', 'address'],
      registers: [registry],
      collect() {
        this.reset();
        for (const u of counters.upstreams) this.inc(up(u), read(u));
      },
    });
  }
  new Gauge({
    name: 'meshsim_proxy_upstream_ejected',
    help: '1 while outlier detection holds the upstream ejected',
    labelNames: ['upstream', 'address'],
    registers: [registry],
    collect() {
      const view = health();
      counters.upstreams.forEach((u, i) => this.set(up(u), view?.isEjected(i) ? 1 : 0));
    },
  });
  new Gauge({
    name: 'meshsim_proxy_upstream_healthy',
    help: '1 while active health checking holds the upstream healthy (always 1 without health checks)',
    labelNames: ['upstream', 'address'],
    registers: [registry],
    collect() {
      const view = health();
      counters.upstreams.forEach((u, i) => this.set(up(u), view === undefined || view.isHealthy(i) ? 1 : 0));
    },
  });
  new Histogram({
    name: 'meshsim_proxy_upstream_attempt_duration_seconds',
    help: 'Time from sending an attempt to its response headers (or its failure), per upstream',
    labelNames: ['upstream', 'address'],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of counters.upstreams) setHistogram(this, up(u), u.latency);
    },
  });
  return registry;
}
