/**
 * The live proxy's public types: its config (`meshsim/proxy@1`, also written as a file) and
 * the handle and counters a running proxy gives its owner.
 */
import type { MeshSpec } from '../../scenario/types.js';

export const PROXY_SCHEMA = 'meshsim/proxy@1';

/** One configured upstream: the only places the proxy ever connects to. */
export interface UpstreamSpec {
  /** `host:port`, e.g. "127.0.0.1:8081". */
  readonly address: string;
  /** Its id for balancers, metrics and outlier detection; default: the address. */
  readonly name?: string;
  readonly zone?: string;
  readonly weight?: number;
  readonly priority?: number;
  /** Where ring-hash and maglev place it (Envoy's endpoint metadata `envoy.lb` `hash_key`); default: its address. */
  readonly hashKey?: string;
}

export interface ProxyConfig {
  readonly listen: { readonly host?: string /* default 127.0.0.1 */; readonly port: number /* 0 = ephemeral */ };
  /** The admin listener (/metrics, /ready, /stats); always bound to 127.0.0.1. */
  readonly admin?: { readonly port: number };
  readonly upstreams: readonly UpstreamSpec[];
  /** As in scenario files (balancer, failover), resolved by the same schema. */
  readonly mesh: MeshSpec;
  /** The proxy's own zone (zone-aware routing); default "default". */
  readonly zone?: string;
  /**
   * Envoy's per-locality `load_balancing_weight`, by upstream zone, for a balancer with
   * `localityWeighted: true` (as a scenario service's `localityWeights`); zones left out weigh 1.
   */
  readonly localityWeights?: Readonly<Record<string, number>>;
  readonly limits?: {
    /** Request line and headers, bytes (431 beyond); default 16 KiB. */
    readonly maxHeaderBytes?: number;
    /** Request body, bytes (413 beyond); default 64 MiB. */
    readonly maxBodyBytes?: number;
    /** Upstream connect timeout, ms (a connect failure beyond); default 1 s. */
    readonly connectTimeoutMs?: number;
    /** Route timeout when mesh.failover.timeout is not set, ms; default 15 s (Envoy's). */
    readonly requestTimeoutMs?: number;
    /** A client's idle keep-alive connection is closed after this long, ms (`keep-alive: timeout=N` says so); default 5 s (Node's). */
    readonly keepAliveTimeoutMs?: number;
    /** A client's request head must be whole this long after its first byte, ms (408 beyond); default 60 s (Node's, nginx's). */
    readonly headersTimeoutMs?: number;
    /** A client's request must be read whole (head and body) this long after its first byte, ms (408 beyond, or a close if its answer has started); default 300 s (Node's); 0 for no limit (a long upload). */
    readonly requestReadTimeoutMs?: number;
  };
  /** Active health checks (mesh.failover.healthCheck) GET this path; 200 passes. Default /healthz. */
  readonly healthCheck?: { readonly path?: string };
  /**
   * Envoy's `hash_policy` on a request header: a request carrying `header` is hashed on its
   * value (xxHash64 of the value's text, as the simulator hashes a workload's key k: of
   * the text of k), so ring-hash and maglev send equal values to the same upstream. A
   * request without the header gets a random hash, as in Envoy when no hash policy applies.
   */
  readonly hashKey?: { readonly header: string };
  /** Seed of the algorithms' random streams; default 1. */
  readonly seed?: number;
  /**
   * Set by `meshsim live`, not read from config files: the upstreams (by name) in the
   * endpoint set at start; the others wait for a {@link ProxyHandle.setMembers}. Default:
   * every upstream.
   */
  readonly members?: readonly string[];
  /**
   * Set by `meshsim live`, not read from config files: which of its caller's sidecars this
   * proxy is, as the simulator tells the algorithms (Finagle's aperture takes its slice of
   * the ring by `clientIndex` of `clientCount`; Envoy's zone-aware routing weighs the
   * callers per zone, `localZoneSizes`). Default: the only client, alone in its zone.
   */
  readonly environment?: { readonly clientIndex: number; readonly clientCount: number; readonly localZoneSizes: Readonly<Record<string, number>> };
  /**
   * Set by `meshsim live`, not read from config files: the algorithms' random streams are
   * named `<purpose>/<streamScope>`, as the simulator names those of one sidecar
   * (`<workload>/<index>`), so a live run with seed k draws what the simulation of seed k
   * draws (common random numbers: the two worlds then differ by their mechanics, not by
   * luck). Default `proxy`.
   */
  readonly streamScope?: string;
}

export interface UpstreamStats {
  readonly address: string;
  readonly attempts: number;
  /** Attempts answered with a status below 500. */
  readonly succeeded: number;
  /** Attempts that failed (5xx, timeout, reset, connect failure); cancelled attempts are neither. */
  readonly failed: number;
  readonly ejections: number;
}

export interface ProxyStats {
  /** Requests received (each counted once, when it is over or while in progress). */
  readonly requests: number;
  /** Requests over with a complete response below 500. */
  readonly succeeded: number;
  /** Requests over otherwise: 5xx (the proxy's own included), reset, or the client went away. */
  readonly failed: number;
  readonly attempts: number;
  readonly retries: number;
  readonly hedges: number;
  /** Requests answered by a hedge (or a per-try-timeout retry) rather than the first attempt. */
  readonly hedgesWon: number;
  readonly overflows: number;
  readonly budgetDenied: number;
  /** Attempts with no healthy upstream to go to (answered 503 unless another attempt was out). */
  readonly noHealthy: number;
  /** Requests adaptive throttling rejected locally. */
  readonly throttled: number;
  /** Attempts whose per-try timeout fired. */
  readonly perTryTimeouts: number;
  /** Requests ended by the route timeout (504). */
  readonly routeTimeouts: number;
  /** Failed active health checks (0 without mesh.failover.healthCheck). */
  readonly healthCheckFailures: number;
  readonly upstreams: readonly UpstreamStats[];
}

export interface ProxyHandle {
  readonly port: number;
  readonly adminPort: number | undefined;
  stats(): ProxyStats;
  /**
   * Drops every algorithm's state (balancer, outlier detection, health checks, breakers,
   * budgets) and builds them afresh from the config, their random streams from the start,
   * keeping the listener and the upstream connections. `meshsim live` calls it between its
   * warm-up and the load, so the algorithms start with the load as the simulator's start
   * at time 0. Throws while a request is in flight.
   */
  restartPolicies(): void;
  /**
   * A discovery update: the algorithms' endpoint set becomes these configured upstreams (by
   * name, kept in config order), as the simulator's sidecars see a membership change. State
   * follows each endpoint by name; an attempt in flight to an upstream that left completes
   * (and is counted) but no algorithm hears of it. Throws on an unknown name.
   */
  setMembers(names: readonly string[]): void;
  /** Stops accepting, lets requests in flight finish for up to drainMs (default 10 s), then closes everything. */
  close(opts?: { drainMs?: number }): Promise<void>;
}
