/** The proxy's config file (meshsim/proxy@1): resolution, defaults, and located errors. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProxyConfig, resolveProxyConfig } from '../../../src/live/proxy/config.js';
import { ScenarioError } from '../../../src/scenario/errors.js';
import { tempFiles } from '../../cli/_run.js';

const files = tempFiles('meshsim-proxy-config-');

function write(name: string, text: string): string {
  const file = join(files.dir, name);
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ScenarioError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('loadProxyConfig', () => {
  it('resolves a YAML config: units converted, the mesh resolved by the scenario schema', () => {
    const file = write(
      'ok.yaml',
      `schema: meshsim/proxy@1
listen: { port: 8080 }
upstreams: [{ address: 127.0.0.1:9000, zone: b, weight: 2 }]
mesh:
  balancer: { kind: least-request }
  failover: { timeout: 2s, retries: { max: 1, on: [reset], perTryTimeout: 300ms } }
limits: { connectTimeout: 250ms, requestTimeout: 3s, maxBodyBytes: 1024 }
`,
    );
    const c = loadProxyConfig(file);
    expect(c.listen).toEqual({ port: 8080 });
    expect(c.upstreams).toEqual([{ address: '127.0.0.1:9000', zone: 'b', weight: 2 }]);
    expect(c.limits).toEqual({ connectTimeoutMs: 250, requestTimeoutMs: 3000, maxBodyBytes: 1024 });
    expect(c.mesh.failover).toMatchObject({ timeout: 2000, perTryTimeout: 300, retries: { max: 1, on: ['reset'] } });
    expect(c.mesh.balancer.kind).toBe('least-request');
  });

  it('an upstream priority is at most 128, as in Envoy and the scenario schema', () => {
    const doc = { schema: 'meshsim/proxy@1', listen: { port: 1 }, mesh: { balancer: { kind: 'random' } } };
    expect(resolveProxyConfig({ ...doc, upstreams: [{ address: 'a.b:1', priority: 128 }] }).ok).toBe(true);
    const bad = resolveProxyConfig({ ...doc, upstreams: [{ address: 'a.b:1', priority: 2 ** 32 }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues).toEqual([expect.objectContaining({ path: ['upstreams', 0, 'priority'], message: 'expected a priority level: a whole number from 0 (preferred) to 128, as in Envoy; got 4294967296' })]);
  });

  it('reads the client-side timeouts (keepAliveTimeout, headersTimeout, requestReadTimeout), each at least 1s', () => {
    const doc = { schema: 'meshsim/proxy@1', listen: { port: 1 }, upstreams: [{ address: 'a.b:1' }], mesh: { balancer: { kind: 'random' } } };
    const r = resolveProxyConfig({ ...doc, limits: { keepAliveTimeout: '75s', headersTimeout: '10s', requestReadTimeout: '2m' } });
    expect(r.ok && r.config.limits).toEqual({ keepAliveTimeoutMs: 75_000, headersTimeoutMs: 10_000, requestReadTimeoutMs: 120_000 });
    const off = resolveProxyConfig({ ...doc, limits: { requestReadTimeout: '0s' } });
    expect(off.ok && off.config.limits).toEqual({ requestReadTimeoutMs: 0 });
    const bad = resolveProxyConfig({ ...doc, limits: { keepAliveTimeout: '500ms', headersTimeout: 0, requestReadTimeout: '1s' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.issues).toEqual([
        expect.objectContaining({ path: ['limits', 'keepAliveTimeout'], message: 'expected a duration of at least 1s (checked once a second), like 5s; got 500ms' }),
        expect.objectContaining({ path: ['limits', 'headersTimeout'], message: 'expected a duration with a unit, like 250ms; got 0' }),
      ]);
    }
    // 0s turns off only the whole-request limit; a keep-alive time of 0 is refused.
    expect(resolveProxyConfig({ ...doc, limits: { keepAliveTimeout: '0s', requestReadTimeout: '0.5s' } })).toMatchObject({
      ok: false,
      issues: [
        { path: ['limits', 'keepAliveTimeout'], message: 'expected a duration of at least 1s (checked once a second), like 5s; got 0s' },
        { path: ['limits', 'requestReadTimeout'], message: 'expected a duration of at least 1s (checked once a second), or 0s for none, like 300s; got 500ms' },
      ],
    });
  });

  it('reads JSON too', () => {
    const file = write('ok.json', JSON.stringify({ schema: 'meshsim/proxy@1', listen: { port: 0 }, upstreams: [{ address: '[::1]:80' }], mesh: { balancer: { kind: 'random' } } }));
    expect(loadProxyConfig(file).upstreams[0].address).toBe('[::1]:80');
  });

  it('reads a hash policy (hashKey: { header }), lower-casing the header, and upstream hash keys; a bad header name is located', () => {
    const base = `schema: meshsim/proxy@1
listen: { port: 8080 }
upstreams: [{ address: 127.0.0.1:9000 }]
mesh: { balancer: { kind: ring-hash } }
`;
    expect(loadProxyConfig(write('key.yaml', `${base}hashKey: { header: X-User-Id }\n`)).hashKey).toEqual({ header: 'x-user-id' });
    expect(loadProxyConfig(write('nokey.yaml', base)).hashKey).toBeUndefined();
    // An upstream's own hash key (Envoy's envoy.lb hash_key): where ring-hash and maglev place it.
    expect(loadProxyConfig(write('upkey.yaml', base.replace('{ address: 127.0.0.1:9000 }', '{ address: 127.0.0.1:9000, hashKey: api-0 }'))).upstreams[0]).toEqual({ address: '127.0.0.1:9000', hashKey: 'api-0' });
    const e = errorOf(() => loadProxyConfig(write('badkey.yaml', `${base}hashKey: { header: 'x user' }\n`)));
    expect(e.message).toMatch(/badkey\.yaml:5:\d+: hashKey\.header: expected an HTTP header name, like x-user-id; got/);
  });

  it('reports every problem at its line, with the field and what was expected', () => {
    const file = write(
      'bad.yaml',
      `schema: meshsim/proxy@2
listen: { prot: 80 }
upstreams:
  - { address: 127.0.0.1:9000 }
  - { address: 127.0.0.1:9000 }
mesh:
  balancer: { kind: p2c }
  failover: { hedge: { onPerTryTimeout: true } }
`,
    );
    const e = errorOf(() => loadProxyConfig(file));
    const lines = e.message.split('\n');
    expect(lines).toContain(`${file}:1:9: schema: unsupported schema 'meshsim/proxy@2'; expected meshsim/proxy@1`);
    expect(lines).toContain(`${file}:2:11: listen.prot: unknown key; did you mean 'port'?`);
    expect(lines).toContain(`${file}:5:16: upstreams.1.address: address 127.0.0.1:9000 is listed twice (also upstreams.0); expected each upstream once`);
    expect(lines.some((l) => l.startsWith(`${file}:8:`) && l.includes('mesh.failover.hedge.onPerTryTimeout: onPerTryTimeout needs a per-try timeout'))).toBe(true);
  });

  it('an empty file, a missing file, invalid YAML: clear errors', () => {
    expect(errorOf(() => loadProxyConfig(write('empty.yaml', ''))).message).toContain('the file is empty; expected a meshsim/proxy@1 config');
    expect(errorOf(() => loadProxyConfig(join(files.dir, 'nope.yaml'))).message).toContain('cannot read proxy config file');
    expect(errorOf(() => loadProxyConfig(write('broken.yaml', 'listen: [\n'))).message).toMatch(/:\d+:\d+: invalid YAML/);
  });

  it('reads locality weights by zone (Envoy load_balancing_weight), each above 0', () => {
    const doc = {
      schema: 'meshsim/proxy@1',
      listen: { port: 1 },
      upstreams: [{ address: 'a.b:1', zone: 'a' }, { address: 'a.b:2', zone: 'b' }, { address: 'a.b:3' }],
      mesh: { balancer: { kind: 'round-robin', localityWeighted: true } },
    };
    const r = resolveProxyConfig({ ...doc, localityWeights: { a: 1, b: 3, default: 2 } });
    expect(r.ok && r.config.localityWeights).toEqual({ a: 1, b: 3, default: 2 });
    const bad = resolveProxyConfig({ ...doc, localityWeights: { a: 0 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues).toEqual([expect.objectContaining({ path: ['localityWeights', 'a'], message: 'expected a locality weight: a number > 0; got 0' })]);
  });

  it('refuses a locality weight for a zone no upstream is in', () => {
    const doc = { schema: 'meshsim/proxy@1', listen: { port: 1 }, upstreams: [{ address: 'a.b:1', zone: 'east' }, { address: 'a.b:2', zone: 'west' }], mesh: { balancer: { kind: 'round-robin' } } };
    const bad = resolveProxyConfig({ ...doc, localityWeights: { east: 1, wets: 3 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.issues).toEqual([{ path: ['localityWeights', 'wets'], message: expect.stringContaining("unknown zone 'wets'") }]);
      expect(bad.issues[0].message).toContain('west');
    }
  });

  it('resolveProxyConfig takes the document as data', () => {
    const r = resolveProxyConfig({ schema: 'meshsim/proxy@1', listen: { port: 1 }, upstreams: [{ address: 'a.b:1', name: 'x' }, { address: 'c.d:2', name: 'x' }], mesh: { balancer: { kind: 'random' } } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: ['upstreams', 1, 'name'], message: "name 'x' is taken by upstreams.0; expected a name of its own" }]);
  });
});
