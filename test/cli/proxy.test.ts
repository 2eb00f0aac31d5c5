/**
 * `meshsim proxy --config FILE`: bad configs are exit 2 with file:line messages and no
 * stack trace; a real run (a child process) prints its addresses, proxies, and on SIGTERM
 * drains the request in flight and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cli, STACK_LINE, tempFiles } from './_run.js';
import { closeAll, eventually, httpBackend, send } from '../live/proxy/_harness.js';

const files = tempFiles('meshsim-proxy-cli-');
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await closeAll();
});

const config = (upstream: string, extra = ''): string =>
  `schema: meshsim/proxy@1\nlisten: { port: 0 }\nadmin: { port: 0 }\nupstreams:\n  - { address: ${upstream} }\nmesh:\n  balancer: { kind: round-robin }\n${extra}`;

describe('meshsim proxy: bad input', () => {
  it('an invalid config: exit 2, every problem at file:line:col, no stack trace', async () => {
    const file = files.writeScenario('schema: meshsim/proxy@1\nlisten: { port: -1 }\nupstreams: []\nmesh:\n  balancer: { kind: nope }\n', 'proxy.yaml');
    const r = await cli('proxy', '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2:17: listen.port: expected a TCP port`);
    expect(r.stderr).toContain(`${file}:3:12: upstreams: expected at least one upstream`);
    expect(r.stderr).toContain(`${file}:5:21: mesh.balancer.kind: unknown balancer kind 'nope'`);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('a missing file or --config: exit 2', async () => {
    const absent = files.fresh('absent.yaml');
    const missing = await cli('proxy', '--config', absent);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`meshsim: ${absent}: cannot read proxy config file: no such file\n`);
    const r = await cli('proxy');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '--config <file>'");
  });

  it('a port already taken: exit 2 with the address', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const file = files.writeScenario(config('127.0.0.1:1').replace('listen: { port: 0 }', `listen: { port: ${port} }`), 'taken.yaml');
      const r = await cli('proxy', '--config', file);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`meshsim: ${file}: listen: cannot listen on 127.0.0.1:${port}: the port is in use (EADDRINUSE); pick another, or 0 for any free port\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('an admin port already taken: exit 2, and the proxy listener it had opened is closed again (the process ends)', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const free: Server = createServer();
      await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
      const listenPort = (free.address() as AddressInfo).port;
      await new Promise((resolve) => free.close(resolve));
      const hc = 'healthCheck: { path: /health }\n';
      const withChecks = config('127.0.0.1:1').replace('listen: { port: 0 }', `listen: { port: ${listenPort} }`).replace('admin: { port: 0 }', `admin: { port: ${port} }`).replace('balancer: { kind: round-robin }', `balancer: { kind: round-robin }\n  failover: { healthCheck: { interval: 50ms, timeout: 20ms, unhealthyThreshold: 1, healthyThreshold: 1 } }`) + hc;
      const file = files.writeScenario(withChecks, 'admin-taken.yaml');
      // Before, the process printed the error and went on serving (and probing) forever.
      const r = await cli('proxy', '--config', file);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`meshsim: ${file}: admin: cannot listen on 127.0.0.1:${port}: the port is in use (EADDRINUSE); pick another, or 0 for any free port\n`);
      // (cli runs in this process: a listener left open would still accept here.)
      const refused = await new Promise<string>((resolve) => {
        const s = connect(listenPort, '127.0.0.1', () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('the admin port equal to the listen port is a config error; an unresolvable host is exit 2 in words', async () => {
    const same = files.writeScenario(config('127.0.0.1:1').replace('listen: { port: 0 }', 'listen: { port: 18555 }').replace('admin: { port: 0 }', 'admin: { port: 18555 }'), 'same.yaml');
    const r = await cli('proxy', '--config', same);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${same}:3:16: admin.port: port 18555 is also listen.port; expected a port of its own (or 0 for any free port)`);
    const host = files.writeScenario(config('127.0.0.1:1').replace('listen: { port: 0 }', 'listen: { host: example.invalid, port: 0 }'), 'host.yaml');
    const h = await cli('proxy', '--config', host);
    expect(h.code).toBe(2);
    expect(h.stderr).toMatch(/listen: cannot listen on example\.invalid:0: cannot resolve the host name 'example\.invalid' \((ENOTFOUND|EAI_AGAIN)\)\n$/);
    expect(h.stderr).not.toMatch(STACK_LINE);
  });

  it('--drain takes a duration with its unit, or plain ms; anything else is exit 2', async () => {
    const r = await cli('proxy', '--config', 'examples/proxy.yaml', '--drain', '10 parsecs');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--drain <time>' argument '10 parsecs' is invalid. expected a drain time like 10s or 500ms (or whole milliseconds)");
  });

  it('warns of settings that do nothing or leave out what the balancer needs', async () => {
    const { proxyConfigWarnings, resolveProxyConfig } = await import('../../src/live/proxy/config.js');
    const warnings = (doc: string): string[] => {
      const r = resolveProxyConfig(parse(doc));
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      return proxyConfigWarnings(r.config);
    };
    const base = 'schema: meshsim/proxy@1\nlisten: { port: 0 }\nupstreams: [{ address: "127.0.0.1:1" }, { address: "127.0.0.1:2" }]\n';
    expect(warnings(`${base}hashKey: { header: x-user }\nmesh: { balancer: { kind: round-robin } }\n`)).toEqual(["hashKey.header 'x-user' is not used: balancer round-robin does not hash (ring-hash and maglev do)"]);
    expect(warnings(`${base}mesh: { balancer: { kind: ring-hash } }\n`)[0]).toMatch(/^balancer ring-hash without hashKey: every request gets a random hash/);
    expect(warnings(`${base}mesh: { balancer: { kind: random }, failover: { timeout: 1s, perTryTimeout: 5s } }\n`)).toEqual([
      'mesh.failover.perTryTimeout (5s) is not below the overall timeout (1s): the overall timeout always ends the request first',
    ]);
    expect(warnings(`${base}hashKey: { header: x-user }\nmesh: { balancer: { kind: maglev }, failover: { timeout: 5s, perTryTimeout: 1s } }\n`)).toEqual([]);
  });

  it('--help teaches: examples and exit codes', async () => {
    const r = await cli('proxy', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('meshsim proxy --config examples/proxy.yaml');
    expect(r.stdout).toContain('Exit codes:');
  });

  it('the bundled example configs are valid', async () => {
    const { loadProxyConfig } = await import('../../src/live/proxy/config.js');
    const c = loadProxyConfig('examples/proxy.yaml');
    expect(c.upstreams).toHaveLength(3);
    expect(c.mesh.balancer.kind).toBe('p2c-peak-ewma');
    const h = loadProxyConfig('examples/proxy-hashing.yaml');
    expect(h.hashKey).toEqual({ header: 'x-user-id' });
    expect(h.upstreams.map((u) => u.hashKey)).toEqual(['cache-0', 'cache-1', 'cache-2']);
    expect(h.mesh.balancer).toMatchObject({ kind: 'ring-hash', hashBalanceFactor: 125 });
  });
});

describe('meshsim proxy: a real run', () => {
  it('prints its addresses, proxies, and on SIGTERM drains the request in flight and exits 0', async () => {
    const b = await httpBackend((req, res) => setTimeout(() => res.end(`slow ${req.url}`), req.url === '/slow' ? 500 : 0));
    const file = files.writeScenario(config(b.address), 'run.yaml');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'proxy', '--config', file, '--drain', '5000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(() => /admin on http:\/\/127\.0\.0\.1:\d+/.test(stdout), 45_000);
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    const admin = Number(/admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    expect(await send(port, { path: '/fast' })).toMatchObject({ status: 200, body: 'slow /fast' });
    expect((await send(admin, { path: '/ready' })).status).toBe(200);
    const inFlight = send(port, { path: '/slow' });
    await eventually(() => b.requests.length === 2);
    child.kill('SIGTERM');
    expect(await inFlight).toMatchObject({ status: 200, body: 'slow /slow' });
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopped after 2 requests (2 succeeded, 0 failed)');
  });
});
