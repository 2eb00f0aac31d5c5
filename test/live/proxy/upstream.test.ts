/**
 * The proxy's own HTTP/1.1 upstream pool (src/live/proxy/upstream.ts) against real servers
 * on 127.0.0.1: node:http servers as well-behaved upstreams, raw node:net servers writing
 * exact bytes for the protocol's edge cases. Covered: the handler's call order (checked on
 * every request by `call` below), the request as the upstream sees it (host, framing of
 * Buffer, stream and absent bodies), keep-alive reuse and the Keep-Alive hint, the
 * connection limit and its FIFO queue, every response framing (content-length, chunked,
 * close-delimited, HEAD, 204/304, 1xx skipped), errors (refused, reset, closed early,
 * malformed), abort, backpressure, close(), and a property test of chunked decoding over
 * arbitrary chunkings and TCP splits. The connect timeout is not tested: nothing on
 * loopback reliably leaves a SYN unanswered.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamError, UpstreamPool, type UpstreamPoolOptions, type UpstreamRequest } from '../../../src/live/proxy/upstream.js';
import { chunkEncode, splitAt } from './_chunked.js';

// ---------------------------------------------------------------------------------------
// Servers

/** A request as an upstream received it. */
interface Seen {
  readonly method: string;
  readonly path: string;
  /** Flat [name, value, …] as received. */
  readonly headers: string[];
  readonly body: Buffer;
  /** Which connection (1-based, in accept order) it came on. */
  readonly conn: number;
}

interface Upstream {
  readonly address: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections open now. */
  readonly live: Set<Socket>;
  /** Most connections open at once so far. */
  readonly maxLive: () => number;
  readonly requests: Seen[];
}

const cleanups: (() => Promise<void>)[] = [];
const pools: UpstreamPool[] = [];
/** Breaches of the handler contract seen by `call`, checked after each test. */
let violations: string[] = [];

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
  await sleep(5);
  while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)();
  const seen = violations;
  violations = [];
  expect(seen).toEqual([]);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` holds (polling every 5 ms), or fails after `ms`. */
async function eventually(check: () => boolean, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Listens on an ephemeral 127.0.0.1 port, counting connections; closed after the test. */
async function listen(server: NetServer | HttpServer, requests: Seen[], connIds: WeakMap<Socket, number>): Promise<Upstream> {
  const live = new Set<Socket>();
  let accepted = 0;
  let maxLive = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    connIds.set(socket, accepted);
    live.add(socket);
    maxLive = Math.max(maxLive, live.size);
    socket.on('error', () => {}); // resets are part of the tests
    socket.on('close', () => live.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const s of live) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { address: `127.0.0.1:${port}`, port, accepted: () => accepted, live, maxLive: () => maxLive, requests };
}

/** A node:http upstream; `handler` runs once the request's body has been read whole. */
async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void, tune?: (server: HttpServer) => void): Promise<Upstream> {
  const requests: Seen[] = [];
  const connIds = new WeakMap<Socket, number>();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.rawHeaders, body: Buffer.concat(chunks), conn: connIds.get(req.socket) ?? 0 };
      requests.push(seen);
      handler(req, res, seen);
    });
  });
  tune?.(server);
  return listen(server, requests, connIds);
}

/**
 * A raw TCP upstream: parses each request head (and a content-length body) and calls
 * `respond`, which writes whatever bytes the test wants on the socket.
 */
async function rawUpstream(respond: (req: Seen, socket: Socket) => void): Promise<Upstream> {
  const requests: Seen[] = [];
  const connIds = new WeakMap<Socket, number>();
  const server = createNetServer((socket) => {
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (true) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        const [method, path] = lines[0].split(' ');
        const headers: string[] = [];
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers.push(line.slice(0, colon), line.slice(colon + 1).trim());
        }
        const length = Number(values(headers, 'content-length')[0] ?? '0');
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        const seen: Seen = { method, path, headers, body, conn: connIds.get(socket) ?? 0 };
        requests.push(seen);
        respond(seen, socket);
      }
    });
  });
  return listen(server, requests, connIds);
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every value of header `name` (any case) in a flat list. */
function values(headers: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === name) out.push(headers[i + 1]);
  return out;
}

/** A raw response with a content-length body. */
function fixed(body: string, extra = '', statusLine = 'HTTP/1.1 200 OK'): string {
  return `${statusLine}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

// ---------------------------------------------------------------------------------------
// The pool and a handler that checks the contract

function newPool(address: string, options?: UpstreamPoolOptions): UpstreamPool {
  const pool = new UpstreamPool(address, options);
  pools.push(pool);
  return pool;
}

type Failure = Error & { code?: string };

interface Outcome {
  /** 'connect', 'headers', 'data' (one per piece), 'complete', 'error', in call order. */
  readonly events: string[];
  status: number | undefined;
  statusText: string | undefined;
  headers: string[] | undefined;
  body: Buffer;
  error: Failure | undefined;
}

interface Call {
  /** Updated as the callbacks come. */
  readonly outcome: Outcome;
  /** Resolves at the terminal call (rejects when none comes within 3 s). */
  readonly done: Promise<Outcome>;
  abort(err?: Error): void;
  /** The resume given to onHeaders. */
  resume(): void;
}

interface Hooks {
  onConnect?(c: Call): void;
  /** Its result is what onHeaders returns (true when undefined). */
  onHeaders?(c: Call): boolean | void;
  onData?(chunk: Buffer, c: Call): boolean | void;
}

/** The events with runs of 'data' collapsed to one. */
function shape(events: readonly string[]): string[] {
  return events.filter((e, i) => !(e === 'data' && events[i - 1] === 'data'));
}

let callSeq = 0;

/**
 * Dispatches `req` and collects the callbacks, asserting the contract on every one: onConnect
 * first and inside dispatch, onHeaders at most once for a final status and not inside
 * dispatch, onData never empty and only after onHeaders, exactly one terminal call and
 * nothing after it. Breaches go to `violations` (checked after each test): an assertion
 * thrown inside a callback would land in the pool's socket handlers instead of the test.
 */
function call(pool: UpstreamPool, req: Partial<UpstreamRequest> = {}, hooks: Hooks = {}): Call {
  const request: UpstreamRequest = { method: 'GET', path: '/', headers: [], body: null, ...req };
  const label = `#${++callSeq} ${request.method} ${request.path}`;
  const outcome: Outcome = { events: [], status: undefined, statusText: undefined, headers: undefined, body: Buffer.alloc(0), error: undefined };
  const chunks: Buffer[] = [];
  let inDispatch = false;
  let terminal = false;
  let abortFn: ((err?: Error) => void) | undefined;
  let resumeFn: (() => void) | undefined;
  let resolveDone: (o: Outcome) => void = () => {};
  let rejectDone: (e: Error) => void = () => {};
  const done = new Promise<Outcome>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const timer = setTimeout(() => rejectDone(new Error(`${label}: no terminal call within 3 s; events ${JSON.stringify(shape(outcome.events))}`)), 3_000);
  const violate = (what: string): void => {
    violations.push(`${label}: ${what} (events so far ${JSON.stringify(shape(outcome.events))})`);
  };
  const c: Call = {
    outcome,
    done,
    abort: (err?: Error) => {
      if (abortFn === undefined) throw new Error('abort before onConnect');
      abortFn(err);
    },
    resume: () => {
      if (resumeFn === undefined) throw new Error('resume before onHeaders');
      resumeFn();
    },
  };
  const end = (): void => {
    clearTimeout(timer);
    outcome.body = Buffer.concat(chunks);
    resolveDone(outcome);
  };
  inDispatch = true;
  pool.dispatch(request, {
    onConnect(abort) {
      if (outcome.events.length > 0) violate('onConnect not first');
      if (!inDispatch) violate('onConnect outside dispatch');
      outcome.events.push('connect');
      abortFn = abort;
      hooks.onConnect?.(c);
    },
    onHeaders(status, headers, resume, statusText) {
      if (terminal) violate('onHeaders after the end');
      if (inDispatch) violate('onHeaders inside dispatch');
      if (outcome.events.includes('headers')) violate('onHeaders twice');
      if (outcome.events[0] !== 'connect') violate('onHeaders before onConnect');
      if (!Number.isInteger(status) || status < 200 || status > 999) violate(`onHeaders with a non-final status ${status}`);
      if (headers.length % 2 !== 0 || headers.some((h) => typeof h !== 'string')) violate('headers not flat string pairs');
      outcome.events.push('headers');
      outcome.status = status;
      outcome.statusText = statusText;
      outcome.headers = headers;
      resumeFn = resume;
      const more = hooks.onHeaders?.(c);
      return more ?? true;
    },
    onData(chunk) {
      if (terminal) violate('onData after the end');
      if (!outcome.events.includes('headers')) violate('onData before onHeaders');
      if (!Buffer.isBuffer(chunk)) violate('onData with no Buffer');
      else if (chunk.length === 0) violate('onData with an empty piece');
      outcome.events.push('data');
      chunks.push(Buffer.from(chunk)); // a copy: the pool may reuse its buffers
      const more = hooks.onData?.(chunk, c);
      return more ?? true;
    },
    onComplete() {
      if (terminal) violate('onComplete after the end');
      if (inDispatch) violate('onComplete inside dispatch');
      if (!outcome.events.includes('headers')) violate('onComplete with no onHeaders');
      outcome.events.push('complete');
      terminal = true;
      end();
    },
    onError(err) {
      if (terminal) violate(`onError after the end (${err.code ?? err.message})`);
      if (!(err instanceof Error)) violate('onError with no Error');
      outcome.events.push('error');
      if (!terminal) outcome.error = err;
      terminal = true;
      end();
    },
  });
  inDispatch = false;
  if (outcome.events[0] !== 'connect') violate('dispatch returned without onConnect');
  return c;
}

/** Waits a little after the end, so that a late callback is caught as a violation. */
const settle = (): Promise<void> => sleep(20);

// ---------------------------------------------------------------------------------------

/** Writes `bytes` in pieces of `size` bytes, 1 ms apart (each its own TCP segment, mostly its own read). */
async function dribble(socket: Socket, bytes: string | Buffer, size = 1): Promise<void> {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  for (let off = 0; off < buf.length; off += size) {
    if (socket.destroyed) return;
    socket.write(buf.subarray(off, off + size));
    await sleep(1);
  }
}

/** Writes each of `pieces` on its own, 1 ms apart. */
async function writeApart(socket: Socket, pieces: readonly Buffer[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(piece);
    await sleep(1);
  }
}

/** A chunk-encoded 200 response carrying `body`, its chunk sizes taken in turn from `sizes`. */
function chunkedResponse(body: Buffer, sizes: readonly number[], ext: boolean, trailer: boolean, upper: boolean): Buffer {
  return Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1'), chunkEncode(body, sizes, ext, trailer, upper)]);
}

const ok = (): Promise<Upstream> => httpUpstream((_req, res) => res.end('ok'));

describe('a simple exchange', () => {
  it('GET: status, reason phrase, headers as flat pairs with names as sent and values trimmed, body', async () => {
    const up = await rawUpstream((_req, s) => {
      s.write('HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\nX-Spaced: \t padded  value \t\r\nX-Empty:\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 11\r\n\r\nhello world');
    });
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/hello' }).done;
    expect(shape(o.events)).toEqual(['connect', 'headers', 'data', 'complete']);
    expect(o.status).toBe(200);
    expect(o.statusText).toBe('Fine Thanks');
    expect(o.headers).toEqual(['Content-Type', 'text/plain', 'X-Spaced', 'padded  value', 'X-Empty', '', 'set-cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Length', '11']);
    expect(o.body.toString()).toBe('hello world');
    expect(o.error).toBeUndefined();
    await settle();
    expect(o.events.at(-1)).toBe('complete');
  });

  it('GET from node:http: the status, its reason phrase and a header named as the server set it', async () => {
    const up = await httpUpstream((_req, res) => {
      res.setHeader('X-Custom-Header', '  v1 ');
      res.statusCode = 404;
      res.end('not here');
    });
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/x' }).done;
    expect(o.status).toBe(404);
    expect(o.statusText).toBe('Not Found');
    expect(o.headers).toContain('X-Custom-Header');
    expect(values(o.headers ?? [], 'x-custom-header')).toEqual(['v1']);
    expect(o.body.toString()).toBe('not here');
  });

  it('an empty reason phrase is an empty statusText', async () => {
    const up = await rawUpstream((_req, s) => s.write('HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n'));
    const pool = newPool(up.address);
    const o = await call(pool).done;
    expect(o.status).toBe(503);
    expect(o.statusText).toBe('');
    expect(shape(o.events)).toEqual(['connect', 'headers', 'complete']);
  });
});

describe('the request as the upstream sees it', () => {
  it('method, path with query, the headers given (names as given), host added as the pool address; GET: no length, not chunked', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const o = await call(pool, { method: 'GET', path: '/a/b?x=1&y=%20z', headers: ['X-One', '1', 'Accept', 'text/plain'] }).done;
    expect(o.status).toBe(200);
    const seen = up.requests[0];
    expect(seen.method).toBe('GET');
    expect(seen.path).toBe('/a/b?x=1&y=%20z');
    expect(seen.headers).toContain('X-One');
    expect(values(seen.headers, 'x-one')).toEqual(['1']);
    expect(values(seen.headers, 'accept')).toEqual(['text/plain']);
    expect(values(seen.headers, 'host')).toEqual([up.address]);
    expect(values(seen.headers, 'content-length')).toEqual([]);
    expect(values(seen.headers, 'transfer-encoding')).toEqual([]);
    expect(seen.body.length).toBe(0);
  });

  it('a host given is sent as given, not doubled', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    await call(pool, { headers: ['Host', 'example.test:8080'] }).done;
    expect(values(up.requests[0].headers, 'host')).toEqual(['example.test:8080']);
  });

  it('a Buffer body goes with its own content-length, replacing a wrong one in the headers', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const o = await call(pool, { method: 'PUT', path: '/put', headers: ['Content-Length', '3', 'X-A', 'b'], body: Buffer.from('hello world') }).done;
    expect(o.status).toBe(200);
    const seen = up.requests[0];
    expect(seen.method).toBe('PUT');
    expect(values(seen.headers, 'content-length')).toEqual(['11']);
    expect(values(seen.headers, 'transfer-encoding')).toEqual([]);
    expect(values(seen.headers, 'x-a')).toEqual(['b']);
    expect(seen.body.toString()).toBe('hello world');
    // An empty Buffer: content-length 0, and the connection stays usable.
    await call(pool, { method: 'POST', path: '/empty', body: Buffer.alloc(0) }).done;
    expect(values(up.requests[1].headers, 'content-length')).toEqual(['0']);
    expect(up.requests[1].body.length).toBe(0);
    expect(up.accepted()).toBe(1);
  });

  it('a stream body with a content-length in the headers is sent as is', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const o = await call(pool, { method: 'POST', path: '/s', headers: ['content-length', '4'], body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) }).done;
    expect(o.status).toBe(200);
    const seen = up.requests[0];
    expect(values(seen.headers, 'content-length')).toEqual(['4']);
    expect(values(seen.headers, 'transfer-encoding')).toEqual([]);
    expect(seen.body.toString()).toBe('abcd');
  });

  it('a stream body without content-length is sent chunked, whole', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const parts = [0, 1, 2, 3].map((k) => Buffer.alloc(60_000 + k, 65 + k));
    const o = await call(pool, { method: 'POST', path: '/chunked', body: Readable.from(parts) }).done;
    expect(o.status).toBe(200);
    const seen = up.requests[0];
    expect(values(seen.headers, 'transfer-encoding')).toEqual(['chunked']);
    expect(values(seen.headers, 'content-length')).toEqual([]);
    expect(seen.body.equals(Buffer.concat(parts))).toBe(true);
    // The chunked body was terminated: the next request on the same connection is read fine.
    await call(pool, { path: '/next' }).done;
    expect(up.requests.map((r) => r.path)).toEqual(['/chunked', '/next']);
    expect(up.accepted()).toBe(1);
  });

  it('no body: content-length 0 for POST, PUT and PATCH; none for GET and DELETE', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    for (const method of ['POST', 'PUT', 'PATCH', 'GET', 'DELETE']) await call(pool, { method, path: `/${method}` }).done;
    const lengths = up.requests.map((r) => [r.method, values(r.headers, 'content-length'), values(r.headers, 'transfer-encoding')]);
    expect(lengths).toEqual([
      ['POST', ['0'], []],
      ['PUT', ['0'], []],
      ['PATCH', ['0'], []],
      ['GET', [], []],
      ['DELETE', [], []],
    ]);
  });
});

describe('the request body stream', () => {
  it.each([
    ['fails', (body: Readable) => body.destroy(new Error('boom'))],
    ['closes without ending', (body: Readable) => body.destroy()],
  ])('a body stream that %s: MESH_REQUEST_BODY, the connection closed', async (_name, breakIt) => {
    const up = await rawUpstream(() => {}); // reads the head, never answers
    const pool = newPool(up.address);
    const body = new Readable({ read() {} });
    body.push('abc');
    const c = call(pool, { method: 'POST', path: '/upload', body });
    await eventually(() => up.requests.length === 1);
    breakIt(body);
    const o = await c.done;
    expect(o.events).toEqual(['connect', 'error']);
    expect(o.error?.code).toBe('MESH_REQUEST_BODY');
    await eventually(() => up.live.size === 0);
    expect(pool.stats().open).toBe(0);
  });

  it('a response that comes before the body was sent to the end completes, and its connection is not reused', async () => {
    const up = await rawUpstream((req, s) => s.write(fixed(req.path === '/upload' ? 'too large' : 'fine', '', 'HTTP/1.1 413 Content Too Large')));
    const pool = newPool(up.address);
    const body = new Readable({ read() {} });
    body.push('abc'); // and never ends
    const o = await call(pool, { method: 'POST', path: '/upload', body }).done;
    expect(o.status).toBe(413);
    expect(o.body.toString()).toBe('too large');
    expect(o.events.at(-1)).toBe('complete');
    const next = await call(pool, { path: '/next' }).done;
    expect(next.body.toString()).toBe('fine');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
    await eventually(() => up.live.size === 1);
    body.push('more'); // nothing to write it to: no crash, no late call
    body.destroy();
    await settle();
  });
});

describe('connections', () => {
  it('keep-alive: 20 sequential requests on one connection, idle in the pool after', async () => {
    const up = await httpUpstream((req, res) => res.end(req.url));
    const pool = newPool(up.address);
    for (let i = 0; i < 20; i++) {
      const o = await call(pool, { path: `/${i}` }).done;
      expect(o.body.toString()).toBe(`/${i}`);
    }
    expect(up.accepted()).toBe(1);
    expect(up.requests.length).toBe(20);
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
  });

  it('connections: 2 — never more than 2 open, the rest queued and sent in FIFO order as connections free up', async () => {
    const held = new Map<string, ServerResponse>();
    const up = await httpUpstream((req, res) => held.set(req.url ?? '', res));
    const pool = newPool(up.address, { connections: 2 });
    const calls = [0, 1, 2, 3, 4, 5].map((i) => call(pool, { path: `/${i}` }));
    expect(pool.stats()).toEqual({ open: 2, idle: 0, queued: 4 });
    await eventually(() => up.requests.length === 2);
    await settle();
    expect(up.requests.length).toBe(2);
    // Each answer frees one connection, which takes the oldest waiting request, and only it.
    for (let i = 0; i < 4; i++) {
      (held.get(`/${i}`) as ServerResponse).end(`/${i}`);
      await eventually(() => up.requests.length === 3 + i);
      expect(pool.stats().queued).toBe(3 - i);
    }
    (held.get('/4') as ServerResponse).end('/4');
    (held.get('/5') as ServerResponse).end('/5');
    const outcomes = await Promise.all(calls.map((c) => c.done));
    expect(outcomes.map((o) => [o.status, o.body.toString()])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [200, `/${i}`]));
    const arrival = up.requests.map((r) => r.path);
    expect(arrival.slice(0, 2).sort()).toEqual(['/0', '/1']); // dispatched together, on two connections
    expect(arrival.slice(2)).toEqual(['/2', '/3', '/4', '/5']);
    expect(up.maxLive()).toBe(2);
    expect(up.accepted()).toBe(2);
    expect(pool.stats()).toEqual({ open: 2, idle: 2, queued: 0 });
  });

  it('a connection lost to an error or an abort lets the next waiting request open another', async () => {
    const up = await rawUpstream((req, s) => {
      if (req.path === '/reset') s.resetAndDestroy();
      else if (req.path !== '/hold') s.write(fixed(req.path));
    });
    const pool = newPool(up.address, { connections: 1 });
    const reset = call(pool, { path: '/reset' });
    const afterReset = call(pool, { path: '/after-reset' });
    expect((await reset.done).error).toBeDefined();
    expect((await afterReset.done).body.toString()).toBe('/after-reset');
    const hold = call(pool, { path: '/hold' });
    const afterAbort = call(pool, { path: '/after-abort' });
    await eventually(() => up.requests.length === 3);
    expect(pool.stats().queued).toBe(1);
    hold.abort();
    expect((await afterAbort.done).body.toString()).toBe('/after-abort');
    expect(up.requests.map((r) => `${r.path}@${r.conn}`)).toEqual(['/reset@1', '/after-reset@2', '/hold@2', '/after-abort@3']);
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
  });

  it('Connection: close in the response: the connection is closed and the next request opens another', async () => {
    // The server leaves its side open: only the header says not to reuse it.
    const up = await rawUpstream((req, s) => s.write(fixed(req.path, 'Connection: close\r\n')));
    const pool = newPool(up.address);
    const first = await call(pool, { path: '/1' }).done;
    expect(first.body.toString()).toBe('/1');
    await eventually(() => up.live.size === 0);
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    const second = await call(pool, { path: '/2' }).done;
    expect(second.body.toString()).toBe('/2');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('HTTP/1.0: reused only with Connection: keep-alive', async () => {
    const up = await rawUpstream((req, s) => s.write(fixed('ok', req.path === '/ka' ? 'Connection: keep-alive\r\n' : '', 'HTTP/1.0 200 OK')));
    const pool = newPool(up.address);
    for (const path of ['/ka', '/ka', '/plain', '/ka']) {
      const o = await call(pool, { path }).done;
      expect(o.status).toBe(200);
      expect(o.body.toString()).toBe('ok');
    }
    expect(up.requests.map((r) => `${r.path}@${r.conn}`)).toEqual(['/ka@1', '/ka@1', '/plain@1', '/ka@2']);
    await eventually(() => up.live.size === 1);
  });
});

describe('response framing', () => {
  it('chunked, dribbled one byte per TCP write, with chunk extensions and trailers: the body decoded, the connection reused', async () => {
    const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\nA ; q="x;y"\r\n, chunked!\r\n1\r\n!\r\n0;end\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n';
    const up = await rawUpstream((req, s) => {
      if (req.path === '/dribble') void dribble(s, response);
      else s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    });
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/dribble' }).done;
    expect(o.status).toBe(200);
    expect(o.body.toString()).toBe('hello, chunked!!');
    expect(o.headers).toEqual(['Transfer-Encoding', 'chunked']); // trailers are not headers
    expect(o.events.filter((e) => e === 'data').length).toBeGreaterThan(1);
    const next = await call(pool, { path: '/whole' }).done;
    expect(next.body.toString()).toBe('abc'); // the last coding is chunked: decoded as such
    expect(up.accepted()).toBe(1);
  });

  it('close-delimited (no length): complete when the server ends, with the whole body; the connection is not reused', async () => {
    const up = await rawUpstream((req, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ');
      setTimeout(() => s.end(`part two of ${req.path}`), 10);
    });
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/a' }).done;
    expect(shape(o.events)).toEqual(['connect', 'headers', 'data', 'complete']);
    expect(o.body.toString()).toBe('part one, part two of /a');
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    const again = await call(pool, { path: '/b' }).done;
    expect(again.body.toString()).toBe('part one, part two of /b');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('HEAD: no body read whatever the length headers say; the connection reused', async () => {
    const up = await rawUpstream((req, s) => {
      if (req.path === '/cl') s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
      else if (req.path === '/te') s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      else s.write(fixed('after'));
    });
    const pool = newPool(up.address);
    const cl = await call(pool, { method: 'HEAD', path: '/cl' }).done;
    expect(shape(cl.events)).toEqual(['connect', 'headers', 'complete']);
    expect(values(cl.headers ?? [], 'content-length')).toEqual(['100']);
    const te = await call(pool, { method: 'HEAD', path: '/te' }).done;
    expect(shape(te.events)).toEqual(['connect', 'headers', 'complete']);
    const get = await call(pool, { path: '/get' }).done;
    expect(get.body.toString()).toBe('after');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1, 1]);
  });

  it('204 and 304 have no body (even with a content-length); the connection reused', async () => {
    const up = await rawUpstream((req, s) => {
      if (req.path === '/204') s.write('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n');
      else if (req.path === '/304') s.write('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 50\r\n\r\n');
      else s.write(fixed('after'));
    });
    const pool = newPool(up.address);
    const a = await call(pool, { path: '/204' }).done;
    expect(a.status).toBe(204);
    expect(shape(a.events)).toEqual(['connect', 'headers', 'complete']);
    const b = await call(pool, { path: '/304' }).done;
    expect(b.status).toBe(304);
    expect(shape(b.events)).toEqual(['connect', 'headers', 'complete']);
    const c = await call(pool, { path: '/after' }).done;
    expect(c.body.toString()).toBe('after');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1, 1]);
  });

  it('1xx interim responses (100 Continue, 103 Early Hints) are skipped: onHeaders once, for the 200', async () => {
    const up = await rawUpstream((req, s) => {
      s.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => s.write(`HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n${fixed(req.path)}`), 5);
    });
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/final' }).done;
    expect(shape(o.events)).toEqual(['connect', 'headers', 'data', 'complete']);
    expect(o.status).toBe(200);
    expect(o.headers).toEqual(['Content-Length', '6']);
    expect(o.body.toString()).toBe('/final');
    await call(pool, { path: '/next' }).done;
    expect(up.accepted()).toBe(1);
  });

  it('a body longer than its content-length: the response ends at the length, and the connection is not reused', async () => {
    const up = await rawUpstream((req, s) => s.write(req.path === '/long' ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA' : fixed('fine')));
    const pool = newPool(up.address);
    const o = await call(pool, { path: '/long' }).done;
    expect(o.body.toString()).toBe('ok');
    expect(o.events.at(-1)).toBe('complete');
    await eventually(() => pool.stats().open === 0);
    const next = await call(pool, { path: '/next' }).done;
    expect(next.body.toString()).toBe('fine');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });
});

describe('bytes nobody asked for', () => {
  it('on an idle connection: it is dropped from the pool, the next request opens another', async () => {
    const up = await rawUpstream((req, s) => {
      s.write(fixed(req.path));
      if (req.path === '/1') setTimeout(() => s.write(fixed('unasked')), 20);
    });
    const pool = newPool(up.address);
    expect((await call(pool, { path: '/1' }).done).body.toString()).toBe('/1');
    await eventually(() => pool.stats().open === 0);
    expect((await call(pool, { path: '/2' }).done).body.toString()).toBe('/2');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });
});

describe('errors', () => {
  it('connection refused: ECONNREFUSED, no onHeaders', async () => {
    const pool = newPool(`127.0.0.1:${await deadPort()}`);
    const o = await call(pool).done;
    expect(o.events).toEqual(['connect', 'error']);
    expect(o.error?.code).toBe('ECONNREFUSED');
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    await settle();
    expect(o.events).toEqual(['connect', 'error']);
  });

  it('reset by the upstream after the request: ECONNRESET or MESH_CLOSED, no onHeaders', async () => {
    const up = await rawUpstream((_req, s) => s.resetAndDestroy());
    const pool = newPool(up.address);
    const o = await call(pool).done;
    expect(o.events).toEqual(['connect', 'error']);
    expect(['ECONNRESET', 'MESH_CLOSED']).toContain(o.error?.code);
    expect(pool.stats().open).toBe(0);
    await settle();
    expect(o.events).toEqual(['connect', 'error']);
  });

  it('closed cleanly by the upstream before answering: MESH_CLOSED', async () => {
    const up = await rawUpstream((_req, s) => s.end());
    const pool = newPool(up.address);
    const o = await call(pool).done;
    expect(o.events).toEqual(['connect', 'error']);
    expect(o.error?.code).toBe('MESH_CLOSED');
    expect(o.error).toBeInstanceOf(UpstreamError);
    expect(pool.stats().open).toBe(0);
  });

  it.each([
    ['content-length 100, 10 bytes sent', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'],
    ['chunked, ended inside the body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n'],
  ])('closed by the upstream mid-body (%s): onHeaders, the bytes sent, then MESH_CLOSED', async (_name, response) => {
    const up = await rawUpstream((_req, s) => s.end(response));
    const pool = newPool(up.address);
    const o = await call(pool).done;
    expect(shape(o.events)).toEqual(['connect', 'headers', 'data', 'error']);
    expect(o.body.toString()).toBe('0123456789');
    expect(o.error?.code).toBe('MESH_CLOSED');
    await settle();
    expect(o.events.at(-1)).toBe('error');
  });

  it.each([
    ['a status code that is not a number', 'HTTP/1.1 abc\r\n\r\n', ['connect', 'error']],
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', ['connect', 'error']],
    ['a header line with no colon', 'HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n', ['connect', 'error']],
    ['both Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', ['connect', 'error']],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', ['connect', 'error']],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello', ['connect', 'error']],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', ['connect', 'headers', 'error']],
    ['chunk data not followed by CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n', ['connect', 'headers', 'data', 'error']],
  ])('malformed response (%s): MESH_PROTOCOL, the connection closed', async (_name, response, expected) => {
    const up = await rawUpstream((_req, s) => s.write(response)); // the server leaves its side open
    const pool = newPool(up.address);
    const o = await call(pool).done;
    expect(shape(o.events)).toEqual(expected);
    expect(o.error?.code).toBe('MESH_PROTOCOL');
    expect(o.error).toBeInstanceOf(UpstreamError);
    await eventually(() => up.live.size === 0);
    expect(pool.stats().open).toBe(0);
    await settle();
    expect(o.events.at(-1)).toBe('error');
  });

  it('a response head over maxHeaderBytes: MESH_PROTOCOL, even before the head ends; one under it passes', async () => {
    const up = await rawUpstream((req, s) => {
      if (req.path === '/small') s.write(fixed('small', `X-Pad: ${'a'.repeat(900)}\r\n`));
      else if (req.path === '/big') s.write(fixed('big', `X-Pad: ${'b'.repeat(4096)}\r\n`));
      else s.write(`HTTP/1.1 200 OK\r\nX-Pad: ${'c'.repeat(4096)}`); // and never ends the head
    });
    const pool = newPool(up.address, { maxHeaderBytes: 1024 });
    const small = await call(pool, { path: '/small' }).done;
    expect(small.body.toString()).toBe('small');
    const big = await call(pool, { path: '/big' }).done;
    expect(big.events).toEqual(['connect', 'error']);
    expect(big.error?.code).toBe('MESH_PROTOCOL');
    const endless = await call(pool, { path: '/endless' }).done;
    expect(endless.events).toEqual(['connect', 'error']);
    expect(endless.error?.code).toBe('MESH_PROTOCOL');
    await eventually(() => up.live.size === 0);
  });
});

describe('keep-alive time', () => {
  it.each([1, 2])('a Keep-Alive: timeout=%i hint (two seconds or less): the connection is not reused', async (seconds) => {
    const up = await rawUpstream((req, s) => s.write(fixed(req.path, `Keep-Alive: timeout=${seconds}\r\n`)));
    const pool = newPool(up.address);
    expect((await call(pool, { path: '/1' }).done).body.toString()).toBe('/1');
    await eventually(() => pool.stats().open === 0 && up.live.size === 0);
    await sleep(50);
    expect((await call(pool, { path: '/2' }).done).body.toString()).toBe('/2');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('a Keep-Alive: timeout=3 hint (one second after the margin) overrides keepAliveMs', async () => {
    const up = await rawUpstream((req, s) => s.write(fixed(req.path, 'Keep-Alive: timeout=3, max=100\r\n')));
    const pool = newPool(up.address, { keepAliveMs: 50 });
    await call(pool, { path: '/1' }).done;
    await sleep(150);
    await call(pool, { path: '/2' }).done;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1]);
  });

  it('node:http with keepAliveTimeout 200 ms says timeout=0: not reused', async () => {
    const up = await httpUpstream(
      (req, res) => res.end(req.url),
      (server) => {
        server.keepAliveTimeout = 200;
      },
    );
    const pool = newPool(up.address);
    const first = await call(pool, { path: '/1' }).done;
    expect(values(first.headers ?? [], 'keep-alive')).toEqual(['timeout=0']);
    await call(pool, { path: '/2' }).done;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('no hint: reused within keepAliveMs, a new connection after it (the stale one closed)', async () => {
    const up = await rawUpstream((req, s) => s.write(fixed(req.path)));
    const pool = newPool(up.address, { keepAliveMs: 150 });
    await call(pool, { path: '/1' }).done;
    await sleep(10);
    await call(pool, { path: '/2' }).done;
    await sleep(300);
    await call(pool, { path: '/3' }).done;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1, 2]);
    await eventually(() => up.live.size === 1);
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
  });

  it('an idle connection the upstream closes leaves the pool; the next request opens a new one', async () => {
    const up = await rawUpstream((req, s) => {
      s.write(fixed(req.path));
      setTimeout(() => s.end(), 20);
    });
    const pool = newPool(up.address);
    await call(pool, { path: '/1' }).done;
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
    await eventually(() => pool.stats().open === 0);
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    const o = await call(pool, { path: '/2' }).done;
    expect(o.body.toString()).toBe('/2');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });
});

describe('abort', () => {
  it('before the response: onError MESH_ABORTED inside abort(), nothing after, the connection closed', async () => {
    const up = await rawUpstream(() => {}); // never answers
    const pool = newPool(up.address);
    const c = call(pool, { path: '/slow' });
    await eventually(() => up.requests.length === 1);
    c.abort();
    expect(c.outcome.events).toEqual(['connect', 'error']); // synchronously
    expect(c.outcome.error?.code).toBe('MESH_ABORTED');
    expect(c.outcome.error).toBeInstanceOf(UpstreamError);
    c.abort(); // twice: nothing
    await eventually(() => up.live.size === 0);
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    await settle();
    expect(c.outcome.events).toEqual(['connect', 'error']);
  });

  it('abort(err) right after dispatch: onError gets that very error; nothing reaches the upstream', async () => {
    const up = await rawUpstream((req, s) => s.write(fixed('late')));
    const pool = newPool(up.address);
    const c = call(pool);
    const mine = new Error('client went away');
    c.abort(mine);
    expect(c.outcome.error).toBe(mine);
    expect(c.outcome.events).toEqual(['connect', 'error']);
    await sleep(30);
    expect(up.requests).toEqual([]);
    expect(c.outcome.events).toEqual(['connect', 'error']);
    expect(pool.stats().open).toBe(0);
  });

  it('abort inside onConnect: onError inside dispatch, no connection opened', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const c = call(pool, {}, { onConnect: (self) => self.abort() });
    expect(c.outcome.events).toEqual(['connect', 'error']);
    expect(c.outcome.error?.code).toBe('MESH_ABORTED');
    await sleep(30);
    expect(up.accepted()).toBe(0);
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
  });

  it('after onComplete: nothing, and the connection stays in the pool', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    const c = call(pool, { path: '/1' });
    await c.done;
    c.abort();
    c.abort(new Error('late'));
    await settle();
    expect(shape(c.outcome.events)).toEqual(['connect', 'headers', 'data', 'complete']);
    expect(c.outcome.error).toBeUndefined();
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
    await call(pool, { path: '/2' }).done;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1]);
  });

  it('a queued request: onError at once, it never reaches the upstream, the queue moves on', async () => {
    const held: Socket[] = [];
    const up = await rawUpstream((_req, s) => held.push(s));
    const pool = newPool(up.address, { connections: 1 });
    const first = call(pool, { path: '/first' });
    const queued = call(pool, { path: '/queued' });
    const third = call(pool, { path: '/third' });
    expect(pool.stats().queued).toBe(2);
    queued.abort();
    expect(queued.outcome.events).toEqual(['connect', 'error']);
    expect(queued.outcome.error?.code).toBe('MESH_ABORTED');
    expect(pool.stats().queued).toBe(1);
    await eventually(() => held.length === 1);
    held[0].write(fixed('one'));
    expect((await first.done).body.toString()).toBe('one');
    await eventually(() => held.length === 2);
    held[1].write(fixed('three'));
    expect((await third.done).body.toString()).toBe('three');
    await settle();
    expect(up.requests.map((r) => r.path)).toEqual(['/first', '/third']);
    expect(up.accepted()).toBe(1);
    expect(queued.outcome.events).toEqual(['connect', 'error']);
  });

  it('from inside onHeaders (its return value ignored): MESH_ABORTED, no onData though the body came with the head', async () => {
    const up = await rawUpstream((_req, s) => s.write(fixed('hello')));
    const pool = newPool(up.address);
    const c = call(pool, {}, {
      onHeaders: (self) => {
        self.abort();
        return true;
      },
    });
    const o = await c.done;
    expect(o.events).toEqual(['connect', 'headers', 'error']);
    expect(o.error?.code).toBe('MESH_ABORTED');
    await settle();
    expect(o.events).toEqual(['connect', 'headers', 'error']);
    await eventually(() => up.live.size === 0);
    expect(pool.stats().open).toBe(0);
  });

  it('from inside onData: no further onData though more chunks came in the same read', async () => {
    const up = await rawUpstream((_req, s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n'));
    const pool = newPool(up.address);
    const c = call(pool, {}, { onData: (_chunk, self) => self.abort() });
    const o = await c.done;
    expect(o.events).toEqual(['connect', 'headers', 'data', 'error']);
    expect(o.body.toString()).toBe('one');
    await settle();
    expect(o.events).toEqual(['connect', 'headers', 'data', 'error']);
    expect(pool.stats().open).toBe(0);
  });
});

describe('backpressure', () => {
  const TOTAL = 1 << 20;
  const payload = Buffer.alloc(TOTAL);
  for (let i = 0; i < TOTAL; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
  const big = (): Promise<Upstream> =>
    httpUpstream((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(TOTAL) });
      for (let off = 0; off < TOTAL; off += 64 * 1024) res.write(payload.subarray(off, off + 64 * 1024));
      res.end();
    });

  it('onData returning false pauses reading until resume(); then the whole 1 MB arrives', async () => {
    const up = await big();
    const pool = newPool(up.address);
    let received = 0;
    let pieces = 0;
    const c = call(pool, {}, {
      onData: (chunk) => {
        received += chunk.length;
        pieces++;
        return pieces > 1;
      },
    });
    await eventually(() => pieces === 1);
    await sleep(100);
    expect(pieces).toBe(1);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(512 * 1024);
    expect(c.outcome.events).not.toContain('complete');
    c.resume();
    const o = await c.done;
    expect(o.events.at(-1)).toBe('complete');
    expect(o.body.length).toBe(TOTAL);
    expect(o.body.equals(payload)).toBe(true);
  });

  it('onHeaders returning false: no onData until resume()', async () => {
    const up = await big();
    const pool = newPool(up.address);
    const c = call(pool, {}, { onHeaders: () => false });
    await eventually(() => c.outcome.events.includes('headers'));
    await sleep(50);
    expect(c.outcome.events).toEqual(['connect', 'headers']);
    c.resume();
    const o = await c.done;
    expect(o.body.equals(payload)).toBe(true);
    expect(pool.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
  });
});

describe('close()', () => {
  it('in-flight and waiting requests get MESH_POOL_CLOSED, the upstream sees its connection closed, a later dispatch fails', async () => {
    const up = await rawUpstream(() => {}); // never answers
    const pool = newPool(up.address, { connections: 1 });
    const inFlight = call(pool, { path: '/a' });
    const waiting = call(pool, { path: '/b' });
    await eventually(() => up.requests.length === 1);
    expect(pool.stats()).toEqual({ open: 1, idle: 0, queued: 1 });
    await pool.close();
    expect(inFlight.outcome.events).toEqual(['connect', 'error']);
    expect(inFlight.outcome.error?.code).toBe('MESH_POOL_CLOSED');
    expect(waiting.outcome.events).toEqual(['connect', 'error']);
    expect(waiting.outcome.error?.code).toBe('MESH_POOL_CLOSED');
    await eventually(() => up.live.size === 0);
    const after = call(pool, { path: '/c' });
    const o = await after.done;
    expect(o.events).toEqual(['connect', 'error']);
    expect(o.error?.code).toBe('MESH_POOL_CLOSED');
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    await settle();
    expect(up.requests.map((r) => r.path)).toEqual(['/a']);
    expect(up.accepted()).toBe(1);
  });

  it('closes idle connections too', async () => {
    const up = await ok();
    const pool = newPool(up.address);
    await Promise.all([call(pool).done, call(pool).done]);
    expect(pool.stats()).toEqual({ open: 2, idle: 2, queued: 0 });
    await pool.close();
    await eventually(() => up.live.size === 0);
    expect(pool.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
  });
});

describe('chunked decoding (property)', () => {
  it('any body, any chunk sizes and extensions, any split into TCP writes: the body decoded whole, on one connection', async () => {
    const cases = new Map<string, Buffer[]>();
    // Each piece its own write, 1 ms apart.
    const up = await rawUpstream((req, s) => void writeApart(s, cases.get(req.path) ?? []));
    const pool = newPool(up.address);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 20_000, size: 'max' }),
        fc.array(fc.integer({ min: 1, max: 8192 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        async (body, sizes, cuts, ext, trailer, upper) => {
          const bytes = chunkedResponse(Buffer.from(body), sizes, ext, trailer, upper);
          const pieces = splitAt(bytes, cuts);
          const path = `/${++n}`;
          cases.set(path, pieces);
          const o = await call(pool, { path }).done;
          expect(o.error).toBeUndefined();
          expect(o.status).toBe(200);
          expect(o.body.equals(Buffer.from(body))).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
    expect(up.accepted()).toBe(1);
  });
});

describe('the address', () => {
  it('must be host:port with a port in 1–65535', () => {
    expect(() => new UpstreamPool('nohost')).toThrow(/host:port/);
    expect(() => new UpstreamPool('127.0.0.1:0')).toThrow(/host:port/);
    expect(() => new UpstreamPool('127.0.0.1:99999')).toThrow(/host:port/);
    expect(new UpstreamPool('[::1]:8080').host).toBe('::1');
  });
});
