/**
 * Test harness for the live proxy: real servers and clients on 127.0.0.1, every one of
 * them tracked and closed by `closeAll()` (call it in afterEach).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startProxy, type ProxyConfig, type ProxyHandle } from '../../../src/live/proxy/index.js';
import type { MeshSpec } from '../../../src/scenario/types.js';

const closers: (() => Promise<void>)[] = [];

/** Closes every server, socket and proxy the test opened, newest first. */
export async function closeAll(): Promise<void> {
  while (closers.length > 0) {
    const close = closers.pop() as () => Promise<void>;
    await close();
  }
}

function trackSockets(server: Server | NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

export interface Backend {
  readonly port: number;
  readonly address: string;
  /** Requests it received. */
  readonly requests: IncomingMessage[];
  /** Closes it now (listener and open sockets). */
  close(): Promise<void>;
  /** Sockets open to it. */
  readonly sockets: Set<Socket>;
}

/** Listens on an ephemeral 127.0.0.1 port; closing destroys every open socket first. Closed after each test. */
async function serve(server: Server | NetServer, requests: IncomingMessage[]): Promise<Backend> {
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closers.push(close);
  return { port, address: `127.0.0.1:${port}`, requests, close, sockets };
}

/** An HTTP backend answering with `handler`. */
export async function httpBackend(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  return serve(server, requests);
}

/** A TCP backend that does whatever `onConnection` does with each connection (raw bytes). */
export async function tcpBackend(onConnection: (socket: Socket) => void): Promise<Backend> {
  return serve(createNetServer(onConnection), []);
}

/** A port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a proxy (admin on an ephemeral port) in front of `addresses`. */
export async function proxy(addresses: readonly string[], mesh: MeshSpec = { balancer: { kind: 'round-robin' } }, extra: Partial<ProxyConfig> = {}): Promise<ProxyHandle> {
  const handle = await startProxy({ listen: { port: 0 }, admin: { port: 0 }, upstreams: addresses.map((address) => ({ address })), mesh, ...extra });
  closers.push(() => handle.close({ drainMs: 0 }));
  return handle;
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The response ended in an error (reset, or the proxy closed the connection mid-response). */
  readonly error?: string;
}

/** One request on a fresh connection (no agent), with an optional body and headers. */
export function send(port: number, options: { path?: string; method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: '', error: e.message }));
    req.end(options.body);
  });
}

/** Writes raw bytes on a fresh connection; resolves with everything read until the connection closes (or `waitMs`). */
export function raw(port: number, bytes: string | Buffer, waitMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes);
  });
}

/** The proxy's /metrics text. */
export async function metrics(handle: ProxyHandle): Promise<string> {
  const reply = await send(handle.adminPort as number, { path: '/metrics' });
  return reply.body;
}

/** The value of one series in Prometheus text (0 when absent), e.g. `meshsim_proxy_requests_total{code="200"}`. */
export function series(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return 0;
}

/** The sum of every series of a metric (all label sets). */
export function total(text: string, metric: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` holds (polling every 10 ms), or fails after `ms`. */
export async function eventually(check: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
