/**
 * Header handling of an HTTP/1.1 proxy (RFC 9110 §7.6.1, as Envoy and nginx apply it):
 * hop-by-hop headers — Connection and every header it names, Keep-Alive, Proxy-*, TE,
 * Trailer, Transfer-Encoding, Upgrade — are never forwarded, in either direction; the
 * request gains `x-forwarded-for` (the client address appended to any list it carried) and
 * `x-forwarded-proto` (kept when a front proxy set it, else `http`). `Expect` is answered
 * by the proxy itself (100-continue) and not forwarded. Headers travel as flat
 * [name, value, …] arrays, as Node's rawHeaders and the upstream pool (upstream.ts) take them.
 */

/** Hop-by-hop names, lower case (Proxy-* is matched by prefix). */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings']);

function isHopByHop(lower: string): boolean {
  return HOP_BY_HOP.has(lower) || lower.startsWith('proxy-');
}

/**
 * Whether a header name may need a look (lower-casing and comparing): every hop-by-hop name is
 * 2, 6, 7, 10, 14 or 17 characters long or starts with "proxy-", host is 4 and
 * x-forwarded-for/-proto 15 and 17. The rest, most names, pass without lower-casing.
 */
function mayBeSpecial(name: string): boolean {
  const n = name.length;
  return n === 2 || n === 4 || n === 6 || n === 7 || n === 10 || n === 14 || n === 15 || n === 17 || (n >= 6 && (name.charCodeAt(0) | 0x20) === 112 /* p */);
}

/** The header names a Connection header lists (lower case), or undefined when it lists none besides close/keep-alive. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1].split(',')) {
      const t = token.trim().toLowerCase();
      if (t === '' || t === 'close' || t === 'keep-alive') continue;
      (named ??= new Set()).add(t);
    }
  }
  return named;
}

/**
 * The headers to send upstream for a request with `raw` headers from `clientAddress`: hop-by-hop
 * headers dropped, x-forwarded-for appended, x-forwarded-proto set when absent. `host`, for an
 * absolute-form request, replaces the client's Host header (RFC 9112 §3.2.2: a proxy ignores
 * the received Host and uses the target's authority).
 */
export function upstreamRequestHeaders(raw: readonly string[], clientAddress: string, host?: string): string[] {
  const named = connectionTokens(raw);
  const out: string[] = host === undefined ? [] : ['host', host];
  let xff: string | undefined;
  let xfp = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (named === undefined && !mayBeSpecial(name)) {
      out.push(name, raw[i + 1]);
      continue;
    }
    const lower = name.toLowerCase();
    if (isHopByHop(lower) || (named !== undefined && named.has(lower)) || (host !== undefined && lower === 'host')) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') xfp = true;
    out.push(name, raw[i + 1]);
  }
  out.push('x-forwarded-for', xff === undefined ? clientAddress : `${xff}, ${clientAddress}`);
  if (!xfp) out.push('x-forwarded-proto', 'http');
  return out;
}

/** An upstream's response headers (flat [name, value, …]), hop-by-hop headers dropped. */
export function downstreamResponseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (!mayBeSpecial(name)) {
      out.push(name, raw[i + 1]);
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      for (const token of raw[i + 1].split(',')) {
        const t = token.trim().toLowerCase();
        if (t !== '' && t !== 'close' && t !== 'keep-alive') (named ??= new Set()).add(t);
      }
      continue;
    }
    if (isHopByHop(lower)) continue;
    out.push(name, raw[i + 1]);
  }
  if (named === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i].toLowerCase())) kept.push(out[i], out[i + 1]);
  return kept;
}

/**
 * The origin-form target (`/path?query`) to send upstream. An absolute-form target
 * (`http://host/path`) keeps only its path and query: the configured upstreams are the only
 * hosts the proxy ever contacts. Returns undefined for a target that is neither (e.g. `*`).
 */
export function originForm(url: string): string | undefined {
  if (url.charCodeAt(0) === 47 /* '/' */) return url;
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(url);
  if (m === null) return undefined;
  const rest = m[1];
  if (rest === '') return '/';
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

/** The authority (host[:port], without userinfo) of an absolute-form target; undefined for any other form. */
export function absoluteAuthority(url: string): string | undefined {
  if (url.charCodeAt(0) === 47 /* '/' */) return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?([^/?#]*)/i.exec(url);
  return m === null || m[1] === '' ? undefined : m[1];
}

const LOAD_METRICS = 'endpoint-load-metrics';

/**
 * The utilization an upstream reported with its response, as an ORCA load report in the
 * `endpoint-load-metrics` header, TEXT format (`TEXT application_utilization=0.5,
 * cpu_utilization=0.7`, as gRPC and Envoy read it): application_utilization, else
 * cpu_utilization; NaN when there is none.
 */
export function reportedUtilization(raw: readonly string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length !== LOAD_METRICS.length || name.toLowerCase() !== LOAD_METRICS) continue;
    const value = raw[i + 1].trim();
    if (!/^TEXT\s/i.test(value)) return NaN;
    let cpu = NaN;
    for (const pair of value.slice(5).split(',')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const key = pair.slice(0, eq).trim();
      const v = Number(pair.slice(eq + 1).trim());
      if (!(v >= 0) || !Number.isFinite(v)) continue;
      if (key === 'application_utilization') return v;
      if (key === 'cpu_utilization') cpu = v;
    }
    return cpu;
  }
  return NaN;
}
