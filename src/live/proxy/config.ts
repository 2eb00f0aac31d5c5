/**
 * The proxy's config file (`schema: meshsim/proxy@1`, YAML or JSON): where to listen, the
 * static upstream list, and a `mesh` block validated by the scenario schema itself (any
 * balancer and failover policy a scenario can name). Problems are reported all at once,
 * each at its file:line:column with the field and what was expected, as scenario errors are.
 *
 *   schema: meshsim/proxy@1
 *   listen: { port: 8080 }
 *   admin: { port: 9901 }
 *   upstreams: [{ address: 127.0.0.1:8081 }, { address: 127.0.0.1:8082, zone: b }]
 *   mesh: { balancer: { kind: p2c-peak-ewma }, failover: { timeout: 2s, retries: { max: 2, on: [5xx] } } }
 *   hashKey: { header: x-user-id }   # ring-hash / maglev hash this header's value
 */
import { z } from 'zod';
import { HASHING_KINDS } from '../../algorithms/registry.js';
import { formatDuration, zDuration } from '../../core/units.js';
import { ScenarioError, describeValue, didYouMean, type ScenarioIssue } from '../../scenario/errors.js';
import { readLocatedDocument } from '../../scenario/load.js';
import { MAX_PRIORITY, PRIORITY_EXPECTED, resolveMesh, validateWith, type FieldIssue } from '../../scenario/schema.js';
import { PROXY_SCHEMA, type ProxyConfig, type UpstreamSpec } from './types.js';

const expecting = (expected: string) => (issue: { readonly input?: unknown }) =>
  issue.input === undefined ? `missing; expected ${expected}` : `expected ${expected}; got ${describeValue(issue.input)}`;

/** A strict mapping: unknown keys get the house did-you-mean (by returning no message of its own). */
function mapping<S extends z.core.$ZodLooseShape>(shape: S, expected: string) {
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? undefined : expecting(expected)(issue)) });
}

const PORT = 'a TCP port: a whole number from 0 to 65535 (0 picks a free one)';
const port = z.number({ error: expecting(PORT) }).int({ error: expecting(PORT) }).min(0, { error: expecting(PORT) }).max(65535, { error: expecting(PORT) });
const ADDRESS = 'host:port, like 127.0.0.1:8081';
const address = z
  .string({ error: expecting(ADDRESS) })
  .refine((a) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a) && Number(a.slice(a.lastIndexOf(':') + 1)) >= 1 && Number(a.slice(a.lastIndexOf(':') + 1)) <= 65535, {
    error: (issue) => expecting(ADDRESS)(issue),
  });
const HEADER = 'an HTTP header name, like x-user-id';
const positiveWhole = (expected: string) => z.number({ error: expecting(expected) }).int({ error: expecting(expected) }).min(1, { error: expecting(expected) });
const positiveDuration = zDuration.refine((ms) => ms > 0, { error: (issue) => expecting('a duration > 0, like 250ms')(issue) });
// The client-side timeouts are kept by a sweep once a second (downstream.ts): below a second they cannot be honoured.
const sweptDuration = (like: string, offAllowed = false) =>
  zDuration.refine((ms) => ms >= 1000 || (offAllowed && ms === 0), {
    error: (issue) =>
      `expected a duration of at least 1s (checked once a second)${offAllowed ? ', or 0s for none' : ''}, like ${like}; got ${typeof issue.input === 'number' ? formatDuration(issue.input) : describeValue(issue.input)}`,
  });

const upstreamSchema = mapping(
  {
    address,
    name: z.string({ error: expecting('a name') }).min(1, { error: expecting('a name') }).optional(),
    zone: z.string({ error: expecting('a zone name') }).min(1, { error: expecting('a zone name') }).optional(),
    weight: z.number({ error: expecting('a weight: a number > 0') }).positive({ error: expecting('a weight: a number > 0') }).finite().optional(),
    priority: z.number({ error: expecting(PRIORITY_EXPECTED) }).int({ error: expecting(PRIORITY_EXPECTED) }).min(0, { error: expecting(PRIORITY_EXPECTED) }).max(MAX_PRIORITY, { error: expecting(PRIORITY_EXPECTED) }).optional(),
    hashKey: z.string({ error: expecting('a hash key: text') }).min(1, { error: expecting('a hash key: text') }).optional(),
  },
  'an upstream, like { address: 127.0.0.1:8081 }',
);

const documentSchema = mapping(
  {
    schema: z.literal(PROXY_SCHEMA, { error: (issue) => `unsupported schema ${describeValue(issue.input)}; expected ${PROXY_SCHEMA}` }),
    listen: mapping(
      { host: z.string({ error: expecting('an address to listen on, like 127.0.0.1') }).min(1).optional(), port },
      'a listener, like { port: 8080 }',
    ),
    admin: mapping({ port }, 'an admin listener, like { port: 9901 } (always on 127.0.0.1)').optional(),
    upstreams: z.array(upstreamSchema, { error: expecting('a list of upstreams, like [{ address: 127.0.0.1:8081 }]') }).min(1, { error: 'expected at least one upstream' }),
    mesh: z.unknown(),
    zone: z.string({ error: expecting('a zone name') }).min(1, { error: expecting('a zone name') }).optional(),
    localityWeights: z
      .record(z.string(), z.number({ error: expecting('a locality weight: a number > 0') }).positive({ error: expecting('a locality weight: a number > 0') }).finite(), {
        error: expecting('locality weights by zone, like { a: 1, b: 2 }'),
      })
      .optional(),
    limits: mapping(
      {
        maxHeaderBytes: positiveWhole('a size in bytes: a whole number ≥ 1, like 16384').optional(),
        maxBodyBytes: positiveWhole('a size in bytes: a whole number ≥ 1, like 1048576').optional(),
        connectTimeout: positiveDuration.optional(),
        requestTimeout: positiveDuration.optional(),
        keepAliveTimeout: sweptDuration('5s').optional(),
        headersTimeout: sweptDuration('60s').optional(),
        requestReadTimeout: sweptDuration('300s', true).optional(),
      },
      'limits, like { maxHeaderBytes: 16384, maxBodyBytes: 1048576, connectTimeout: 1s, requestTimeout: 15s, keepAliveTimeout: 5s, headersTimeout: 60s, requestReadTimeout: 300s }',
    ).optional(),
    healthCheck: mapping(
      { path: z.string({ error: expecting('a path, like /healthz') }).regex(/^\/\S*$/, { error: expecting('a path starting with /, like /healthz') }).optional() },
      'health-check settings, like { path: /healthz }',
    ).optional(),
    hashKey: mapping(
      { header: z.string({ error: expecting(HEADER) }).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: expecting(HEADER) }) },
      'a hash policy, like { header: x-user-id }',
    ).optional(),
    seed: z.number({ error: expecting('a whole number ≥ 0') }).int({ error: expecting('a whole number ≥ 0') }).min(0, { error: expecting('a whole number ≥ 0') }).optional(),
  },
  `a proxy config: a mapping with schema: ${PROXY_SCHEMA}, listen, upstreams and mesh`,
);

/** Upstreams listed twice (by address, or by name), read off the raw document so that they are reported with its other problems. */
function duplicateUpstreams(raw: unknown): FieldIssue[] {
  const list = typeof raw === 'object' && raw !== null ? (raw as { upstreams?: unknown }).upstreams : undefined;
  if (!Array.isArray(list)) return [];
  const issues: FieldIssue[] = [];
  const byAddress = new Map<string, number>();
  const byName = new Map<string, number>();
  list.forEach((u: unknown, i) => {
    if (typeof u !== 'object' || u === null) return;
    const { address, name } = u as { address?: unknown; name?: unknown };
    if (typeof address === 'string') {
      const first = byAddress.get(address);
      if (first !== undefined) issues.push({ path: ['upstreams', i, 'address'], message: `address ${address} is listed twice (also upstreams.${first}); expected each upstream once` });
      else byAddress.set(address, i);
    }
    const id = typeof name === 'string' ? name : typeof address === 'string' ? address : undefined;
    if (id === undefined) return;
    const first = byName.get(id);
    if (first !== undefined && typeof name === 'string') issues.push({ path: ['upstreams', i, 'name'], message: `name '${id}' is taken by upstreams.${first}; expected a name of its own` });
    else if (first === undefined) byName.set(id, i);
  });
  return issues;
}

/** A raw proxy config document (as parsed from YAML or JSON) → resolved config, or its problems by field path. */
export function resolveProxyConfig(raw: unknown): { readonly ok: true; readonly config: ProxyConfig } | { readonly ok: false; readonly issues: readonly FieldIssue[] } {
  const parsed = validateWith(documentSchema, raw);
  const mesh = resolveMesh(typeof raw === 'object' && raw !== null ? (raw as { mesh?: unknown }).mesh : undefined);
  const issues: FieldIssue[] = [...(parsed.ok ? [] : parsed.issues.filter((i) => i.path[0] !== 'mesh')), ...(mesh.ok ? [] : mesh.issues)];
  issues.push(...duplicateUpstreams(raw));
  if (parsed.ok && parsed.value.admin !== undefined && parsed.value.admin.port === parsed.value.listen.port && parsed.value.listen.port !== 0) {
    issues.push({ path: ['admin', 'port'], message: `port ${parsed.value.listen.port} is also listen.port; expected a port of its own (or 0 for any free port)` });
  }
  if (parsed.ok && parsed.value.localityWeights !== undefined) {
    // A weight for a zone no upstream is in is a typo, not a setting (as in scenario files).
    const zones = [...new Set(parsed.value.upstreams.map((u) => u.zone ?? 'default'))];
    for (const zone of Object.keys(parsed.value.localityWeights)) {
      if (!zones.includes(zone)) issues.push({ path: ['localityWeights', zone], message: `unknown zone '${zone}'${didYouMean(zone, zones)}; the upstreams are in zones: ${zones.join(', ')}` });
    }
  }
  if (!parsed.ok || !mesh.ok || issues.length > 0) return { ok: false, issues };
  const d = parsed.value;
  const limits = d.limits;
  const config: ProxyConfig = {
    listen: { ...(d.listen.host === undefined ? {} : { host: d.listen.host }), port: d.listen.port },
    ...(d.admin === undefined ? {} : { admin: { port: d.admin.port } }),
    upstreams: d.upstreams.map((u): UpstreamSpec => Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)) as unknown as UpstreamSpec),
    mesh: mesh.mesh,
    ...(d.zone === undefined ? {} : { zone: d.zone }),
    ...(limits === undefined
      ? {}
      : {
          limits: {
            ...(limits.maxHeaderBytes === undefined ? {} : { maxHeaderBytes: limits.maxHeaderBytes }),
            ...(limits.maxBodyBytes === undefined ? {} : { maxBodyBytes: limits.maxBodyBytes }),
            ...(limits.connectTimeout === undefined ? {} : { connectTimeoutMs: limits.connectTimeout }),
            ...(limits.requestTimeout === undefined ? {} : { requestTimeoutMs: limits.requestTimeout }),
            ...(limits.keepAliveTimeout === undefined ? {} : { keepAliveTimeoutMs: limits.keepAliveTimeout }),
            ...(limits.headersTimeout === undefined ? {} : { headersTimeoutMs: limits.headersTimeout }),
            ...(limits.requestReadTimeout === undefined ? {} : { requestReadTimeoutMs: limits.requestReadTimeout }),
          },
        }),
    ...(d.healthCheck?.path === undefined ? {} : { healthCheck: { path: d.healthCheck.path } }),
    ...(d.hashKey === undefined ? {} : { hashKey: { header: d.hashKey.header.toLowerCase() } }),
    ...(d.localityWeights === undefined ? {} : { localityWeights: { ...d.localityWeights } }),
    ...(d.seed === undefined ? {} : { seed: d.seed }),
  };
  return { ok: true, config };
}

/**
 * Settings of a valid config that do nothing, or leave out what the policy needs: started all
 * the same, but each worth a line on stderr.
 */
export function proxyConfigWarnings(config: ProxyConfig): string[] {
  const out: string[] = [];
  const kind = config.mesh.balancer.kind;
  const hashing = HASHING_KINDS.has(kind);
  if (config.hashKey !== undefined && !hashing) out.push(`hashKey.header '${config.hashKey.header}' is not used: balancer ${kind} does not hash (ring-hash and maglev do)`);
  if (config.hashKey === undefined && hashing) out.push(`balancer ${kind} without hashKey: every request gets a random hash, so requests spread as with random balancing (set hashKey: { header: ... })`);
  const f = config.mesh.failover;
  if (f?.timeout !== undefined && f.perTryTimeout !== undefined && f.perTryTimeout >= f.timeout) {
    out.push(`mesh.failover.perTryTimeout (${formatDuration(f.perTryTimeout)}) is not below the overall timeout (${formatDuration(f.timeout)}): the overall timeout always ends the request first`);
  }
  return out;
}

/** Reads a proxy config file (YAML, or JSON for `.json`). Throws {@link ScenarioError} naming file:line, field and expectation. */
export function loadProxyConfig(file: string): ProxyConfig {
  const doc = readLocatedDocument(file, 'proxy config');
  if (doc.raw === null) throw new ScenarioError([{ file, path: '', message: `the file is empty; expected a ${PROXY_SCHEMA} config: a mapping with schema, listen, upstreams and mesh` }]);
  const result = resolveProxyConfig(doc.raw);
  if (result.ok) return result.config;
  const issues: ScenarioIssue[] = result.issues.map((i) => doc.locate(i));
  issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
  throw new ScenarioError(issues);
}
