/**
 * The live proxy (`meshsim proxy`): the same policy objects the simulator drives, in front
 * of real HTTP upstreams. See server.ts (listeners, limits, admin) and router.ts (Envoy's
 * router pipeline on real sockets).
 */
export type { ProxyConfig, ProxyHandle, ProxyStats, UpstreamSpec, UpstreamStats } from './types.js';
export { PROXY_SCHEMA } from './types.js';
export { startProxy, ListenError, RETRY_BUFFER_BYTES, DEFAULT_ROUTE_TIMEOUT_MS } from './server.js';
export { loadProxyConfig, proxyConfigWarnings, resolveProxyConfig } from './config.js';
