/**
 * The live sidecar: an HTTP/1.1 reverse proxy (meshsim's own front, downstream.ts; one
 * keep-alive pool per configured upstream behind, upstream.ts; undici only for the
 * health-check probes) running one Sidecar's policy objects, built by
 * src/mesh/policies.ts exactly as the simulator builds them, on the real-time ports
 * (src/live/realtime.ts). The Envoy-style request path lives in router.ts; this file owns
 * the listeners, the request limits, health-check probes, the admin listener (Prometheus
 * /metrics via prom-client, /ready) and graceful shutdown (stop accepting, drain, close).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { LOCALITY_WEIGHT_KEY } from '../../algorithms/balancing/envoy/locality.js';
import type { Endpoint } from '../../algorithms/types.js';
import type { ProbeDone } from '../../algorithms/failover/health-check.js';
import { rngStream } from '../../core/rng.js';
import { hashKey } from '../../core/xxhash64.js';
import { createSidecarPolicies, resolveRouter, type SidecarPolicies } from '../../mesh/policies.js';
import { realPorts } from '../realtime.js';
import { absoluteAuthority, originForm, upstreamRequestHeaders } from './headers.js';
import { ProxyCounters, proxyRegistry } from './metrics.js';
import { DownstreamServer, type DownstreamRequest, type DownstreamResponse } from './downstream.js';
import { Exchange, PendingQueue, type RouterContext } from './router.js';
import { UpstreamPool, type UpstreamPoolOptions } from './upstream.js';
import type { ProxyConfig, ProxyHandle, ProxyStats, UpstreamSpec } from './types.js';

/** Request bodies up to this size are buffered so that the request can be retried or hedged (Envoy buffers up to a per-route limit). */
export const RETRY_BUFFER_BYTES = 64 * 1024;
/** Envoy's default route timeout, used when the mesh sets none: no client waits forever. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_DRAIN_MS = 10_000;

/** Starts the proxy on its listener (and the admin listener, if configured). */
export async function startProxy(config: ProxyConfig): Promise<ProxyHandle> {
  if (config.upstreams.length === 0) throw new Error('proxy: at least one upstream is needed');
  const maxHeaderBytes = config.limits?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const maxBodyBytes = config.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const connectTimeout = config.limits?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const seed = config.seed ?? 1;

  const endpoints: Endpoint[] = config.upstreams.map((u): Endpoint => ({
    id: u.name ?? u.address,
    address: u.address,
    zone: u.zone ?? 'default',
    weight: u.weight ?? 1,
    health: 'healthy',
    priority: u.priority ?? 0,
    metadata: upstreamMetadata(u, config.localityWeights),
  }));
  const counters = new ProxyCounters(endpoints.map((e) => ({ address: e.address, name: e.id })));
  const ids = new Set(endpoints.map((e) => e.id));
  // The endpoint set the algorithms see: every upstream, or the members named (a discovery
  // update, setMembers, changes it); pools and counters stay by upstream.
  const membersOf = (names: readonly string[] | undefined): { list: Endpoint[]; upstreamOf: Int32Array; endpointOf: Int32Array } => {
    const wanted = names === undefined ? undefined : new Set(names);
    if (wanted !== undefined) {
      const unknown = [...wanted].filter((n) => !ids.has(n));
      if (unknown.length > 0) throw new Error(`proxy: no upstream named ${unknown.map((n) => `'${n}'`).join(', ')}; the upstreams are ${endpoints.map((e) => `'${e.id}'`).join(', ')}`);
    }
    const list: Endpoint[] = [];
    const upstreamOf: number[] = [];
    const endpointOf = new Int32Array(endpoints.length).fill(-1);
    endpoints.forEach((e, u) => {
      if (wanted !== undefined && !wanted.has(e.id)) return;
      endpointOf[u] = list.length;
      upstreamOf.push(u);
      list.push(e);
    });
    return { list, upstreamOf: Int32Array.from(upstreamOf), endpointOf };
  };
  let members = membersOf(config.members);
  const ports = realPorts(rngStream(seed, 'proxy'));
  const mesh = config.mesh;
  const breaker = mesh.failover?.circuitBreaker;
  const poolOptions: UpstreamPoolOptions = {
    connections: breaker ? Math.max(1, breaker.maxConnections) : null,
    connectTimeoutMs: connectTimeout,
    maxHeaderBytes,
  };
  const pools = endpoints.map((e) => new UpstreamPool(e.address, poolOptions));
  const probeClients: (Client | undefined)[] = endpoints.map(() => undefined);
  const healthPath = config.healthCheck?.path ?? '/healthz';

  /** One active health check: GET healthPath on its own connection; 200 passes (Envoy's default expected status). */
  const probe = (ep: number, done: ProbeDone): void => {
    const index = members.upstreamOf[ep];
    let client = probeClients[index];
    if (client === undefined) {
      client = new Client(`http://${endpoints[index].address}`, { connect: { timeout: connectTimeout }, headersTimeout: 0, bodyTimeout: 0 });
      probeClients[index] = client;
    }
    client.request({ path: healthPath, method: 'GET', headers: { 'user-agent': 'meshsim-health-check' } }).then(
      (r) => {
        r.body.dump().catch(() => undefined);
        if (r.statusCode === 200) done(true);
        else done(false, 'status');
      },
      () => done(false, 'network'),
    );
  };

  const router = resolveRouter(mesh.failover, undefined);
  // Every algorithm object of this proxy, built as the simulator builds a sidecar's; built
  // again, from the same seed, by restartPolicies.
  const makePolicies = (): SidecarPolicies =>
    createSidecarPolicies('proxy', mesh, router, members.list, {
      clock: ports.clock,
      timers: ports.timers,
      stream: (purpose) => rngStream(seed, `${purpose}/${config.streamScope ?? 'proxy'}`),
      env: {
        localZone: config.zone ?? 'default',
        clientIndex: config.environment?.clientIndex ?? 0,
        clientCount: config.environment?.clientCount ?? 1,
        localZoneSizes: new Map(config.environment === undefined ? [[config.zone ?? 'default', 1]] : Object.entries(config.environment.localZoneSizes)),
      },
      probe,
      onEjection: (ep, ejected) => {
        if (ejected) counters.upstreams[members.upstreamOf[ep]].ejections++;
      },
    });

  const ctx: RouterContext = {
    policies: makePolicies(),
    counters,
    pools,
    upstreamOf: members.upstreamOf,
    endpointOf: members.endpointOf,
    defaultTimeout: config.limits?.requestTimeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS,
    now: () => performance.now(),
    pending: new PendingQueue(),
  };
  const canRetry = router.maxRetries > 0;
  const keyHeader = config.hashKey?.header.toLowerCase();
  let accepting = true;

  // The front: malformed requests, heads over the limit, slow heads and CONNECT are
  // answered there (400/431/408/405/…) and counted here, as requests that never reached the router.
  const front = new DownstreamServer(
    // Unset timeouts take the front's defaults (5 s, 60 s, 300 s).
    { maxHeaderBytes, keepAliveTimeoutMs: config.limits?.keepAliveTimeoutMs, headersTimeoutMs: config.limits?.headersTimeoutMs, requestTimeoutMs: config.limits?.requestReadTimeoutMs },
    {
      request: handle,
      rejected(status) {
        counters.requests++;
        counters.active++;
        // CONNECT (405) is refused by policy, not by a limit.
        if (status !== 405) counters.rejectedByLimits++;
        counters.requestEnded(status, 0, false);
      },
    },
  );

  function handle(req: DownstreamRequest, res: DownstreamResponse): void {
    counters.requests++;
    counters.active++;
    const length = req.contentLength;
    const chunked = req.chunked;
    // Expect: 100-continue: a body declared over the limit gets its 413 before the client
    // sends it, not after a 100 Continue.
    if (req.expectContinue && length <= maxBodyBytes) res.writeContinue();
    const url = req.url;
    const path = originForm(url);
    const body = req.body;
    const buffer = body !== null && canRetry && !chunked && length <= RETRY_BUFFER_BYTES;
    const headers = path === undefined ? [] : upstreamRequestHeaders(req.rawHeaders, req.remoteAddress, absoluteAuthority(url));
    const key = keyHeader === undefined ? undefined : req.header(keyHeader);
    const x = new Exchange(ctx, req, res, req.method, path ?? '/', headers, buffer ? null : body, key === undefined ? undefined : hashKey(key));
    res.listener = x;
    if (path === undefined) {
      counters.rejectedByLimits++;
      x.localReply(400, 'bad-request');
      return;
    }
    if (length > maxBodyBytes) {
      counters.rejectedByLimits++;
      x.localReply(413, 'body-too-large');
      return;
    }
    if (buffer && body !== null) {
      const chunks: Buffer[] = [];
      body.on('data', (c: Buffer) => chunks.push(c));
      body.on('end', () => {
        if (res.destroyed) return;
        x.start(Buffer.concat(chunks));
      });
      return;
    }
    if (chunked && body !== null && maxBodyBytes !== Infinity) {
      // Counted as it arrives, not read: the body streams upstream once an attempt has a
      // connection (it may wait for one), and no byte may be consumed before that.
      body.onReceived = (received) => {
        if (received > maxBodyBytes && !res.headersSent) {
          body.onReceived = undefined;
          counters.rejectedByLimits++;
          x.abandon(413, 'body-too-large');
        }
      };
    }
    x.start();
  }

  let admin: Server | undefined;
  if (config.admin !== undefined) {
    const registry = proxyRegistry(counters, () => {
      const od = ctx.policies.outlierDetector;
      const hc = ctx.policies.healthChecker;
      if (od === undefined && hc === undefined) return undefined;
      // By upstream: one not a member now is neither ejected nor checked.
      const ep = (u: number): number => members.endpointOf[u];
      return { isEjected: (u) => ep(u) >= 0 && (od?.isEjected(ep(u)) ?? false), isHealthy: (u) => ep(u) < 0 || (hc?.isHealthy(ep(u)) ?? true) };
    });
    admin = createServer((req, res) => {
      const url = req.url ?? '/';
      if (req.method === 'GET' && (url === '/metrics' || url.startsWith('/metrics?'))) {
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          (error: Error) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(error.message);
          },
        );
        return;
      }
      if (req.method === 'GET' && url === '/ready') {
        res.writeHead(accepting ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(accepting ? 'ready\n' : 'draining\n');
        return;
      }
      if (req.method === 'GET' && url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(stats())}\n`);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: the admin listener serves /metrics, /ready and /stats\n');
    });
  }

  function stats(): ProxyStats {
    return {
      requests: counters.requests,
      succeeded: counters.succeeded,
      failed: counters.failed,
      attempts: counters.attempts,
      retries: counters.retries,
      hedges: counters.hedges,
      hedgesWon: counters.hedgesWon,
      overflows: counters.overflows,
      budgetDenied: counters.budgetDenied,
      noHealthy: counters.noHealthy,
      throttled: counters.throttled,
      perTryTimeouts: counters.perTryTimeouts,
      routeTimeouts: counters.routeTimeouts,
      healthCheckFailures: ctx.policies.healthChecker?.stats().failures ?? 0,
      upstreams: counters.upstreams.map((u) => ({
        address: u.address,
        attempts: u.attempts,
        succeeded: u.count('success'),
        failed: u.failures,
        ejections: u.ejections,
      })),
    };
  }

  let closing: Promise<void> | undefined;
  async function close(opts: { drainMs?: number } = {}): Promise<void> {
    closing ??= (async () => {
      accepting = false;
      const drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
      const closed = front.close();
      front.closeIdleConnections();
      const until = performance.now() + drainMs;
      while (counters.active > 0 && performance.now() < until) {
        await sleep(Math.min(20, Math.max(1, until - performance.now())));
        front.closeIdleConnections();
      }
      front.closeAllConnections();
      await closed;
      ctx.policies.outlierDetector?.stop();
      ctx.policies.healthChecker?.stop();
      ports.timers.cancelAll();
      await Promise.all([...pools.map((p) => p.close()), ...probeClients.map((c) => c?.destroy())]);
      if (admin !== undefined) {
        const a = admin;
        // As for the main listener: end its connections before waiting for close(), which
        // otherwise waits for a scraper that connected and sent nothing (or half a request).
        const adminClosed = new Promise<void>((resolve) => a.close(() => resolve()));
        a.closeAllConnections();
        await adminClosed;
      }
    })();
    return closing;
  }

  function restartPolicies(): void {
    if (counters.active > 0) throw new Error(`restartPolicies: ${counters.active} request(s) in flight`);
    ctx.policies.outlierDetector?.stop();
    ctx.policies.healthChecker?.stop();
    ports.timers.cancelAll();
    ctx.policies = makePolicies();
  }

  function setMembers(names: readonly string[]): void {
    members = membersOf(names);
    ctx.upstreamOf = members.upstreamOf;
    ctx.endpointOf = members.endpointOf;
    ctx.policies.sidecar.setEndpoints(members.list);
  }

  // Listening comes last: when a port cannot be bound, everything started so far (the other
  // listener, health-check probes, timers, upstream pools) is stopped again before the error
  // goes up, so a failed start leaves nothing running.
  try {
    const host = config.listen.host ?? '127.0.0.1';
    await front.listen(config.listen.port, host).catch((error: Error & { code?: string }) => {
      throw error.code === undefined ? error : new ListenError('listen', host, config.listen.port, error.code);
    });
    if (admin !== undefined && config.admin !== undefined) await listen(admin, 'admin', config.admin.port, '127.0.0.1');
  } catch (e) {
    await close({ drainMs: 0 });
    throw e;
  }
  const port = front.address().port;
  const adminPort = admin === undefined ? undefined : (admin.address() as AddressInfo).port;
  return { port, adminPort, stats, close, restartPolicies, setMembers };
}

/** A listener of the proxy could not be bound: which one (the config's `listen` or `admin`), where, and the system's code. */
export class ListenError extends Error {
  constructor(
    readonly listener: 'listen' | 'admin',
    readonly host: string,
    readonly port: number,
    readonly code: string,
  ) {
    super(`${listener}: cannot listen on ${host}:${port}: ${listenProblem(code, host, port)}`);
  }
}

/** What a listen error code means, in words. */
function listenProblem(code: string, host: string, port: number): string {
  if (code === 'EADDRINUSE') return `the port is in use (EADDRINUSE); pick another${port === 0 ? '' : ', or 0 for any free port'}`;
  if (code === 'EACCES' || code === 'EPERM') return port > 0 && port < 1024 ? `permission denied (${code}): ports below 1024 need root or CAP_NET_BIND_SERVICE` : `permission denied (${code})`;
  if (code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine (EADDRNOTAVAIL)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return `cannot resolve the host name '${host}' (${code})`;
  return code;
}

function listen(server: Server, listener: 'listen' | 'admin', port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }): void => reject(error.code === undefined ? error : new ListenError(listener, host, port, error.code));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An upstream's endpoint metadata: its hash key (Envoy's `envoy.lb` `hash_key`) and its zone's locality weight. */
function upstreamMetadata(u: UpstreamSpec, localityWeights: Readonly<Record<string, number>> | undefined): Record<string, string> {
  const weight = localityWeights?.[u.zone ?? 'default'];
  return {
    ...(u.hashKey === undefined ? {} : { hash_key: u.hashKey }),
    ...(weight === undefined ? {} : { [LOCALITY_WEIGHT_KEY]: String(weight) }),
  };
}
