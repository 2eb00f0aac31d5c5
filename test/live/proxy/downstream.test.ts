/**
 * The proxy's own HTTP/1.1 front (src/live/proxy/downstream.ts), tested directly (not
 * through the proxy): a DownstreamServer on 127.0.0.1 and raw node:net clients that write
 * exact bytes and read the exact bytes of the reply. Covered: the request as parsed (line,
 * headers, framing flags, empty lines before it, any split into TCP writes: a property over
 * pipelined streams), every refusal of the contract (status, bytes, `rejected` once, the
 * connection closed, `request` never called), broken chunked framing, smuggling attempts
 * (CL.TE, TE.CL, TE.TE and friends), bodies (length, chunked, backpressure, a client gone
 * mid-body), the response bytes (status line, headers, date, chunked and close-delimited
 * framing, HEAD/204/304, keep-alive hints, closeAfter, 100 Continue, one write), keep-alive
 * and pipelining in order, the listener contract (closed once, drained), the timeouts (one
 * test in real time, the rest on a fake sweep interval: `vi.useFakeTimers` fakes only
 * setInterval, so the sweep runs when a test advances it, one tick a second) and the
 * server's close methods. The handler contract (closed() once, with exactly one of
 * writableFinished and destroyed; drained() never after closed(); the handler never throws)
 * is checked on every request by `front` below.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chunkEncode, splitAt } from './_chunked.js';
import { DownstreamServer, type DownstreamOptions, type DownstreamRequest, type DownstreamResponse } from '../../../src/live/proxy/downstream.js';

// ---------------------------------------------------------------------------------------
// Plumbing

const servers: DownstreamServer[] = [];
const sockets: Socket[] = [];
/** Breaches of the handler contract seen by `front`, checked after each test. */
let violations: string[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await server.close();
  }
  vi.useRealTimers();
  const seen = violations;
  violations = [];
  expect(seen).toEqual([]);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` holds (polling every 2 ms), or fails after `ms`. */
async function eventually(check: () => boolean, ms = 2_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(2);
  }
}

/** Lets pending socket events and ticks run. */
const settle = (ms = 30): Promise<void> => sleep(ms);

/** One request as the handler got it, and what became of it. */
interface Exchange {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  /** 'end', 'close', 'error' of req.body, in order. */
  readonly bodyEvents: string[];
  /** 'closed', 'drained', 'readTimedOut' and 'bodyMalformed' calls of res.listener, in order. */
  readonly calls: string[];
  /** What res.listener.readTimedOut() does besides being recorded (nothing unless set). */
  onReadTimeout?: () => void;
  /** What res.listener.bodyMalformed() does besides being recorded (nothing unless set). */
  onBodyMalformed?: () => void;
}

interface Front {
  readonly server: DownstreamServer;
  readonly port: number;
  /** Every request() call, in order. */
  readonly exchanges: Exchange[];
  /** Every rejected() call, in order. */
  readonly rejected: number[];
  open(allowHalfOpen?: boolean): Promise<Client>;
}

type Handler = (ex: Exchange) => void;

/** A front on an ephemeral port (maxHeaderBytes 1024 unless given), answering with `handler`; closed after the test. */
async function front(handler: Handler = echo, options: Partial<DownstreamOptions> = {}): Promise<Front> {
  const exchanges: Exchange[] = [];
  const rejected: number[] = [];
  const server = new DownstreamServer(
    { maxHeaderBytes: 1024, ...options },
    {
      request(req, res) {
        const ex: Exchange = { req, res, bodyEvents: [], calls: [] };
        exchanges.push(ex);
        const label = `#${exchanges.length} ${req.method} ${req.url}`;
        res.listener = {
          closed() {
            if (ex.calls.includes('closed')) violations.push(`${label}: closed() twice`);
            if (res.writableFinished === res.destroyed) violations.push(`${label}: closed() with writableFinished ${res.writableFinished}, destroyed ${res.destroyed}`);
            ex.calls.push('closed');
          },
          drained() {
            if (ex.calls.includes('closed')) violations.push(`${label}: drained() after closed()`);
            ex.calls.push('drained');
          },
          readTimedOut() {
            if (ex.calls.includes('closed') || res.headersSent) violations.push(`${label}: readTimedOut() after closed() or with the response started`);
            ex.calls.push('readTimedOut');
            ex.onReadTimeout?.();
          },
          bodyMalformed() {
            if (ex.calls.includes('closed') || res.headersSent) violations.push(`${label}: bodyMalformed() after closed() or with the response started`);
            ex.calls.push('bodyMalformed');
            ex.onBodyMalformed?.();
          },
        };
        const body = req.body;
        if (body !== null) {
          body.on('end', () => ex.bodyEvents.push('end'));
          body.on('close', () => ex.bodyEvents.push('close'));
          body.on('error', () => ex.bodyEvents.push('error'));
        }
        try {
          handler(ex);
        } catch (err) {
          violations.push(`${label}: the handler threw ${String(err)}`);
        }
      },
      rejected(status) {
        rejected.push(status);
      },
    },
  );
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  const port = server.address().port;
  return { server, port, exchanges, rejected, open: (allowHalfOpen = false) => open(port, allowHalfOpen) };
}

/** A raw client connection, collecting every byte it receives. */
interface Client {
  readonly socket: Socket;
  /** Bytes received so far. */
  received: number;
  /** The server ended its side (FIN). */
  ended: boolean;
  closed: boolean;
  bytes(): Buffer;
  /** What was received, as latin1, with the date header's value checked and replaced by DATE. */
  text(): string;
  send(data: string | Buffer): boolean;
}

async function open(port: number, allowHalfOpen = false): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen, noDelay: true });
  sockets.push(socket);
  let chunks: Buffer[] = [];
  const c: Client = {
    socket,
    received: 0,
    ended: false,
    closed: false,
    bytes() {
      if (chunks.length > 1) chunks = [Buffer.concat(chunks)];
      return chunks[0] ?? Buffer.alloc(0);
    },
    text() {
      return normalize(c.bytes().toString('latin1'));
    },
    send(data) {
      return socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    },
  };
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    c.received += d.length;
  });
  socket.on('end', () => {
    c.ended = true;
  });
  socket.on('error', () => {}); // resets are part of the tests
  socket.on('close', () => {
    c.closed = true;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return c;
}

const DATE_LINE = /\r\ndate: ([^\r]*)\r\n/g;
/** The date header's value replaced by DATE (after checking it is an IMF-fixdate). */
function normalize(text: string): string {
  return text.replace(DATE_LINE, (_all, value: string) => {
    if (!/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) {
      violations.push(`a malformed date: ${value}`);
    }
    return '\r\ndate: DATE\r\n';
  });
}

/** Writes each of `pieces` on its own, 1 ms apart (mostly its own read on the other side). */
async function writeApart(c: Client, pieces: readonly (string | Buffer)[]): Promise<void> {
  for (const piece of pieces) {
    if (c.socket.destroyed || c.socket.writableEnded) return;
    c.send(piece);
    await sleep(1);
  }
}

/** Writes `bytes` in pieces of `size` bytes, 1 ms apart. */
async function dribble(c: Client, bytes: string, size = 1): Promise<void> {
  const pieces: string[] = [];
  for (let off = 0; off < bytes.length; off += size) pieces.push(bytes.slice(off, off + size));
  await writeApart(c, pieces);
}

/** Reads a request body whole (empty when there is none), then calls `then`. */
function readBody(ex: Exchange, then: (body: Buffer) => void): void {
  const body = ex.req.body;
  if (body === null) {
    then(Buffer.alloc(0));
    return;
  }
  const chunks: Buffer[] = [];
  body.on('data', (c: Buffer) => chunks.push(c));
  body.on('end', () => then(Buffer.concat(chunks)));
}

/** A 200 with a content-length body. */
function reply(res: DownstreamResponse, body: string, headers: string[] = []): void {
  const b = Buffer.from(body, 'latin1');
  res.writeHead(200, undefined, [...headers, 'content-length', String(b.length)]);
  res.end(b);
}

/** Reads the body whole, then answers 200 with `METHOD url length`. */
function echo(ex: Exchange): void {
  readBody(ex, (b) => reply(ex.res, `${ex.req.method} ${ex.req.url} ${b.length}`));
}

/** Never answers (the test does). */
const hold: Handler = () => {};

/** The front's own answer with `status`. */
function refusal(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    417: 'Expectation Failed',
    431: 'Request Header Fields Too Large',
    501: 'Not Implemented',
    505: 'HTTP Version Not Supported',
  };
  return `HTTP/1.1 ${status} ${reasons[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
}

/** The exact bytes of the 200 `reply` sends on a keep-alive HTTP/1.1 connection (hint timeout=5). */
function replied(body: string, hint = 5): string {
  return `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\ndate: DATE\r\nkeep-alive: timeout=${hint}\r\n\r\n${body}`;
}

/** Splits a stream of whole responses (content-length or chunked framed) into bodies. */
function responseBodies(buf: Buffer): { statuses: number[]; bodies: Buffer[]; rest: number } {
  const statuses: number[] = [];
  const bodies: Buffer[] = [];
  let off = 0;
  while (true) {
    const end = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (end < 0) break;
    const head = buf.toString('latin1', off, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    let at = end + 4;
    if (status < 200 || status === 204 || status === 304) {
      off = at;
      if (status < 200) continue;
      statuses.push(status);
      bodies.push(Buffer.alloc(0));
      continue;
    }
    if (length !== null) {
      const n = Number(length[1]);
      if (buf.length < at + n) break;
      statuses.push(status);
      bodies.push(buf.subarray(at, at + n));
      off = at + n;
      continue;
    }
    if (!/\r\ntransfer-encoding: chunked/i.test(head)) break;
    const parts: Buffer[] = [];
    let whole = false;
    while (true) {
      const eol = buf.indexOf('\r\n', at, 'latin1');
      if (eol < 0) break;
      const size = parseInt(buf.toString('latin1', at, eol), 16);
      if (size === 0) {
        if (buf.length >= eol + 4) whole = true;
        at = eol + 4;
        break;
      }
      if (buf.length < eol + 2 + size + 2) break;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    if (!whole) break;
    statuses.push(status);
    bodies.push(Buffer.concat(parts));
    off = at;
  }
  return { statuses, bodies, rest: buf.length - off };
}

const REQ = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n';
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;
const post = (path: string, body: string, extra = ''): string => `POST ${path} HTTP/1.1\r\nHost: h\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;

const chunked = chunkEncode;

/** The server side of the front's only connection. */
function serverSocket(f: Front): Socket {
  const conns = [...f.server.connections];
  expect(conns).toHaveLength(1);
  return conns[0].socket;
}

/** Waits until the front's connections have read `n` bytes in all. */
async function arrived(f: Front, n: number): Promise<void> {
  const read = (): number => [...f.server.connections].reduce((sum, c) => sum + c.socket.bytesRead, 0);
  await eventually(() => read() >= n, 2_000, `${n} bytes read by the front`);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------

describe('request parsing', () => {
  it('HTTP/1.2 to 1.9 are read as HTTP/1.1 (RFC 9110 §2.5: the highest minor version of the major one implemented): answered, kept alive', async () => {
    const f = await front();
    const c = await f.open();
    c.send('GET /a HTTP/1.2\r\nHost: h\r\n\r\nGET /b HTTP/1.9\r\nHost: h\r\n\r\n');
    await eventually(() => f.exchanges.length === 2 && (c.text().match(/HTTP\/1\.1 200/g) ?? []).length === 2);
    expect(f.exchanges.map((ex) => [ex.req.url, ex.req.minor])).toEqual([
      ['/a', 1],
      ['/b', 1],
    ]);
    expect(c.closed).toBe(false);
    expect(f.rejected).toEqual([]);
  });

  it('method, url, rawHeaders (names in their case, values trimmed of spaces and tabs only), minor, remoteAddress, header()', async () => {
    const f = await front();
    const c = await f.open();
    c.send(
      'GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: example.test\r\nX-Mixed-Case:  \t padded \t value\t \r\nx-empty:\r\nX-Latin: \xa0nbsp\xa0\r\n' +
        'X-Tab:a\tb\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Obs: caf\xe9\r\n\r\n',
    );
    await eventually(() => c.received > 0);
    expect(f.exchanges).toHaveLength(1);
    const { req } = f.exchanges[0];
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/a/b?x=1&y=%20z');
    expect(req.rawHeaders).toEqual([
      'Host', 'example.test',
      'X-Mixed-Case', 'padded \t value',
      'x-empty', '',
      'X-Latin', '\xa0nbsp\xa0', // U+00A0 is not OWS
      'X-Tab', 'a\tb',
      'Set-Cookie', 'a=1',
      'set-cookie', 'b=2',
      'X-Obs', 'caf\xe9', // obs-text kept as latin1
    ]);
    expect(req.minor).toBe(1);
    expect(req.remoteAddress).toBe('127.0.0.1');
    expect(req.contentLength).toBe(-1);
    expect(req.chunked).toBe(false);
    expect(req.expectContinue).toBe(false);
    expect(req.body).toBeNull();
    expect(req.complete).toBe(true);
    expect(req.header('host')).toBe('example.test');
    expect(req.header('x-mixed-case')).toBe('padded \t value');
    expect(req.header('set-cookie')).toBe('a=1'); // the first
    expect(req.header('x-empty')).toBe('');
    expect(req.header('x-none')).toBeUndefined();
    expect(req.header('x-tab')).toBe('a\tb');
    expect(c.text()).toBe(replied('GET /a/b?x=1&y=%20z 0'));
    expect(f.rejected).toEqual([]);
  });

  it('HTTP/1.0 without Host is fine: minor 0', async () => {
    const f = await front();
    const c = await f.open();
    c.send('GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n');
    await eventually(() => c.closed);
    expect(f.exchanges).toHaveLength(1);
    expect(f.exchanges[0].req.minor).toBe(0);
    expect(f.exchanges[0].req.header('host')).toBeUndefined();
    expect(c.text()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 10\r\ndate: DATE\r\nconnection: close\r\n\r\nGET /old 0');
  });

  it('content-length and chunked framing flags; Expect: 100-continue (any case) on HTTP/1.1 only', async () => {
    const f = await front();
    const c = await f.open();
    c.send(post('/len', 'hello'));
    c.send('POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    c.send(post('/expect', 'xy', 'Expect: 100-Continue\r\n'));
    c.send('POST /expect10 HTTP/1.0\r\nExpect: 100-continue\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n');
    await eventually(() => responseBodies(c.bytes()).bodies.length === 4);
    const [len, ch, ex, ex10] = f.exchanges.map((e) => e.req);
    expect([len.contentLength, len.chunked, len.expectContinue, len.body !== null]).toEqual([5, false, false, true]);
    expect([ch.contentLength, ch.chunked, ch.expectContinue, ch.body !== null]).toEqual([-1, true, false, true]);
    expect([ex.contentLength, ex.chunked, ex.expectContinue]).toEqual([2, false, true]);
    expect([ex10.minor, ex10.contentLength, ex10.expectContinue, ex10.body]).toEqual([0, 0, false, null]);
    expect(ex10.complete).toBe(true);
    expect(responseBodies(c.bytes()).bodies.map(String)).toEqual(['POST /len 5', 'POST /chunked 3', 'POST /expect 2', 'POST /expect10 0']);
  });

  it('any token method and any visible-ASCII target form are taken as sent', async () => {
    const f = await front();
    const c = await f.open();
    const lines = ['OPTIONS * HTTP/1.1', 'GET http://example.test:8080/p?q HTTP/1.1', "M-SEARCH!#$%&'*+.^_`|~ /%41%7e HTTP/1.1", 'get /lower HTTP/1.1', 'PURGE /!$&\'()*+,;=:@[]{}"<>\\^`| HTTP/1.1'];
    c.send(lines.map((l) => `${l}\r\nHost: h\r\n\r\n`).join(''));
    await eventually(() => responseBodies(c.bytes()).bodies.length === lines.length);
    expect(f.exchanges.map((e) => `${e.req.method} ${e.req.url} HTTP/1.1`)).toEqual(lines);
    expect(f.rejected).toEqual([]);
  });

  it('empty lines before a request line are skipped (at the start, between pipelined requests)', async () => {
    const f = await front();
    const c = await f.open();
    c.send(`\r\n\r\n${get('/one')}\r\n${post('/two', 'abc')}\r\n\r\n\r\n${get('/three')}`);
    await eventually(() => responseBodies(c.bytes()).bodies.length === 3);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/one', '/two', '/three']);
    c.send('\r\n');
    await settle();
    c.send('\r\n');
    await settle();
    c.send(get('/four'));
    await eventually(() => f.exchanges.length === 4);
    expect(f.exchanges[3].req.url).toBe('/four');
    expect(f.rejected).toEqual([]);
  });

  it('an empty line split across writes (CR, then LF and the request) is still an empty line', async () => {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the
    // request-line; where TCP happens to cut it must not matter.
    const f = await front();
    const c = await f.open();
    c.send('\r');
    await settle();
    c.send(`\n${get('/after-split-crlf')}`);
    await eventually(() => c.received > 0 || c.closed);
    await settle();
    expect(f.rejected).toEqual([]);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/after-split-crlf']);
  });

  it('a head sent byte by byte is the same request', async () => {
    const f = await front();
    const c = await f.open();
    const head = 'PUT /byte/by/byte?q=1 HTTP/1.1\r\nHost: h\r\nX-A: one\r\nContent-Length: 3\r\n\r\n';
    await dribble(c, `${head}xyz`);
    await eventually(() => c.received > 0);
    expect(f.exchanges).toHaveLength(1);
    const { req } = f.exchanges[0];
    expect([req.method, req.url, req.rawHeaders]).toEqual(['PUT', '/byte/by/byte?q=1', ['Host', 'h', 'X-A', 'one', 'Content-Length', '3']]);
    expect(c.text()).toBe(replied('PUT /byte/by/byte?q=1 3'));
  });

  it('a head cut at each byte of its final CRLFCRLF (and just before it) is found', async () => {
    const f = await front();
    const c = await f.open();
    const head = get('/cut');
    for (let cut = head.length - 5; cut < head.length; cut++) {
      const before = f.exchanges.length;
      c.send(head.slice(0, cut));
      await settle(5);
      expect(f.exchanges.length).toBe(before);
      c.send(head.slice(cut));
      await eventually(() => f.exchanges.length === before + 1, 1_000, `the head cut at ${cut}`);
    }
    await eventually(() => responseBodies(c.bytes()).bodies.length === 5);
  });

  it('a head of exactly maxHeaderBytes is taken whole, and in pieces too; one byte more is 431', async () => {
    const f = await front(echo, { maxHeaderBytes: 100 });
    const start = 'GET /max HTTP/1.1\r\nHost: h\r\nX-Pad: ';
    const head = start + 'a'.repeat(100 - start.length); // 100 bytes, then the final CRLFCRLF
    expect(head.length).toBe(100);
    const whole = await f.open();
    whole.send(`${head}\r\n\r\n`);
    await eventually(() => whole.received > 0);
    expect(whole.text()).toMatch(/^HTTP\/1\.1 200 /);
    const over = await f.open();
    over.send(`${head}b\r\n\r\n`);
    await eventually(() => over.closed);
    expect(over.text()).toBe(refusal(431));
    // The same 100 bytes with the CRLFCRLF in another write: the limit must not depend on where TCP cuts.
    const pieces = await f.open();
    await writeApart(pieces, [`${head}\r`, '\n\r\n']);
    await eventually(() => pieces.received > 0);
    expect(pieces.text()).toMatch(/^HTTP\/1\.1 200 /);
    expect(f.rejected).toEqual([431]);
  });

  it('property: any split of a pipelined stream (length, chunked and no bodies) into TCP writes yields the same requests and bodies', async () => {
    const seen: { method: string; url: string; body: string }[] = [];
    const f = await front((ex) =>
      readBody(ex, (b) => {
        seen.push({ method: ex.req.method, url: ex.req.url, body: b.toString('hex') });
        reply(ex.res, ex.req.url);
      }),
    );
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
      kind: fc.constantFrom('none', 'length', 'chunked'),
      body: fc.uint8Array({ maxLength: 3000 }),
      sizes: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 4 }),
      ext: fc.boolean(),
      trailer: fc.boolean(),
      upper: fc.boolean(),
      host: fc.constantFrom('Host', 'host', 'HOST'),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 16 }), async (requests, cuts) => {
        run++;
        seen.length = 0;
        const parts: Buffer[] = [];
        const expected: { method: string; url: string; body: string }[] = [];
        requests.forEach((r, i) => {
          const url = `/run${run}/req${i}`;
          const body = r.kind === 'none' ? Buffer.alloc(0) : Buffer.from(r.body);
          const framing = r.kind === 'length' ? `Content-Length: ${body.length}\r\n` : r.kind === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : '';
          parts.push(Buffer.from(`${r.method} ${url} HTTP/1.1\r\n${r.host}: h\r\nX-I: ${i}\r\n${framing}\r\n`, 'latin1'));
          if (r.kind === 'length') parts.push(body);
          else if (r.kind === 'chunked') parts.push(chunked(body, r.sizes, r.ext, r.trailer, r.upper));
          expected.push({ method: r.method, url, body: body.toString('hex') });
        });
        const bytes = Buffer.concat(parts);
        const pieces = splitAt(bytes, cuts);
        const c = await f.open();
        await writeApart(c, pieces);
        await eventually(() => responseBodies(c.bytes()).bodies.length === requests.length || c.closed, 3_000, 'every response');
        expect(seen).toEqual(expected);
        expect(responseBodies(c.bytes()).bodies.map(String)).toEqual(expected.map((e) => e.url));
        expect(c.closed).toBe(false);
        c.socket.destroy();
      }),
      { numRuns: 40 },
    );
    expect(f.rejected).toEqual([]);
  });
});

describe('refusals: the front answers, reports to rejected() once, closes; request() is never called', () => {
  const long = (n: number): string => 'a'.repeat(n);
  const cases: [string, number, string][] = [
    ['no version', 400, 'GET /\r\nHost: h\r\n\r\n'],
    ['no target', 400, 'GET HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['an empty target (two spaces)', 400, 'GET  HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['two spaces after the method', 400, 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a space before the method', 400, ' GET / HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a bad character in the method', 400, 'G(ET / HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a slash in the method', 400, 'GE/T / HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a control character in the target', 400, 'GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['DEL in the target', 400, 'GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a tab in the target', 400, 'GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a space in the target', 400, 'GET /a b HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a non-ASCII byte in the target', 400, 'GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n'],
    ['a lowercase version', 400, 'GET / http/1.1\r\nHost: h\r\n\r\n'],
    ['a space after the version', 400, 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n'],
    ['a version with two minor digits', 400, 'GET / HTTP/1.10\r\nHost: h\r\n\r\n'],
    ['garbage', 400, '\x00\x01\x02 nonsense\r\n\r\n'],
    ['HTTP/2.0', 505, 'GET / HTTP/2.0\r\nHost: h\r\n\r\n'],
    ['HTTP/0.9', 505, 'GET / HTTP/0.9\r\nHost: h\r\n\r\n'],
    ['a bare LF after the request line', 400, 'GET / HTTP/1.1\nHost: h\r\n\r\n'],
    ['a bare LF between header lines', 400, 'GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n'],
    ['a bare CR in a value', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n'],
    ['obs-fold (a line starting with a space)', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n'],
    ['obs-fold (a line starting with a tab)', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n'],
    ['a space before the colon', 400, 'GET / HTTP/1.1\r\nHost : h\r\n\r\n'],
    ['a tab before the colon', 400, 'GET / HTTP/1.1\r\nHost\t: h\r\n\r\n'],
    ['no colon', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A b\r\n\r\n'],
    ['an empty name', 400, 'GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n'],
    ['a bad character in a name', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX@A: b\r\n\r\n'],
    ['NUL in a value', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n'],
    ['a vertical tab in a value', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x0bb\r\n\r\n'],
    ['DEL in a value', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n'],
    ['escape in a value', 400, 'GET / HTTP/1.1\r\nHost: h\r\nX-A: \x1b[31m\r\n\r\n'],
    ['content-length not digits', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n'],
    ['content-length negative', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n'],
    ['content-length with a plus', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc'],
    ['content-length in hex', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc'],
    ['content-length with a fraction', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3.0\r\n\r\nabc'],
    ['content-length empty', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n'],
    ['content-length of 16 digits', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000000000\r\n\r\n'],
    ['content-length twice, identical', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
    ['content-length twice, different', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 5\r\n\r\nabcde'],
    ['content-length as a list', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc'],
    ['transfer-encoding with content-length', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'],
    ['content-length with transfer-encoding', 400, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding in HTTP/1.0', 400, 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding gzip', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['transfer-encoding chunked, gzip', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'],
    ['transfer-encoding identity', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n'],
    ['transfer-encoding empty', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n'],
    ['transfer-encoding chunked twice in a list', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding chunked in two headers', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding chunked then gzip in two headers', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\ntransfer-encoding: gzip\r\n\r\n'],
    ['transfer-encoding xchunked', 400, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n'],
    ['transfer-encoding gzip, chunked', 501, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding gzip then chunked in two headers', 501, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['transfer-encoding identity, chunked', 501, 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n'],
    ['HTTP/1.1 without Host', 400, 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['HTTP/1.1 with two Hosts', 400, 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n'],
    ['HTTP/1.1 with two identical Hosts', 400, 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n'],
    ['HTTP/1.0 with two Hosts', 400, 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['Expect other than 100-continue', 417, 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n'],
    ['Expect 100-continue with another expectation', 417, 'POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, foo\r\nContent-Length: 0\r\n\r\n'],
    ['CONNECT', 405, 'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'],
    ['a head over maxHeaderBytes', 431, `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${long(1100)}\r\n\r\n`],
    ['a head over maxHeaderBytes that never ends', 431, `GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${long(1100)}`],
  ];

  it.each(cases)('%s: %i', async (_name, status, bytes) => {
    const f = await front();
    const c = await f.open();
    c.send(bytes);
    await eventually(() => c.closed, 2_000, 'the connection closed');
    expect(c.text()).toBe(refusal(status));
    expect(f.rejected).toEqual([status]);
    expect(f.exchanges).toEqual([]);
    await eventually(() => f.server.connections.size === 0);
    await settle(10);
    expect(f.rejected).toEqual([status]);
  });

  it('a head over maxHeaderBytes sent in pieces is refused 431 once it passes the limit, before it ends', async () => {
    const f = await front(echo, { maxHeaderBytes: 300 });
    const c = await f.open();
    const pieces = ['GET / HTTP/1.1\r\nHost: h\r\nX-Pad: '];
    for (let i = 0; i < 40; i++) pieces.push('b'.repeat(20));
    await writeApart(c, pieces);
    await eventually(() => c.closed);
    expect(c.text()).toBe(refusal(431));
    expect(f.rejected).toEqual([431]);
    expect(f.exchanges).toEqual([]);
  });

  it('a head with bare LF line endings only is refused 400 at once (not left to the headers timeout)', async () => {
    const f = await front();
    const c = await f.open();
    c.send('GET / HTTP/1.1\nHost: h\n\n');
    await eventually(() => c.closed, 500, 'the connection closed').catch(() => undefined);
    expect(c.text()).toBe(refusal(400));
    expect(f.rejected).toEqual([400]);
    expect(f.exchanges).toEqual([]);
  });

  it('a refusal after a good request: the first is answered, the rest of the connection is dropped', async () => {
    const f = await front();
    const c = await f.open();
    c.send(`${get('/good')}GET /bad HTTP/1.1\r\n\r\n${get('/never')}`);
    await eventually(() => c.closed);
    expect(c.text()).toBe(replied('GET /good 0') + refusal(400));
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/good']);
    expect(f.rejected).toEqual([400]);
  });

  it('what the client sends after the refusal is drained, not answered, not parsed', async () => {
    const f = await front();
    const c = await f.open(true); // keeps its side open after the server's FIN
    c.send('GET /\r\n\r\n');
    await eventually(() => c.ended);
    expect(c.text()).toBe(refusal(400));
    c.send(get('/after'));
    c.send(Buffer.alloc(100_000, 1));
    await settle(50);
    expect(f.exchanges).toEqual([]);
    expect(f.rejected).toEqual([400]);
    expect(c.closed).toBe(false); // not reset: the server drains
    c.socket.end();
    await eventually(() => c.closed && f.server.connections.size === 0);
  });
});

describe('broken chunked framing: bodyMalformed(), then the connection closed, the body stream destroyed without end', () => {
  const head = 'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
  const cases: [string, string][] = [
    ['a chunk size not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['an empty chunk size line', '\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size with a trailing space and no extension', '5 \r\nhello\r\n0\r\n\r\n'],
    ['a chunk size with a sign', '+5\r\nhello\r\n0\r\n\r\n'],
    ['a chunk size over 2^52', 'fffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['chunk data not followed by CRLF', '5\r\nhelloXX\r\n0\r\n\r\n'],
    ['chunk data followed by a bare LF', '5\r\nhello\n0\r\n\r\n'],
    ['a bare LF after the chunk size', '5\nhello\r\n0\r\n\r\n'],
    ['a bare LF after the last chunk', '5\r\nhello\r\n0\n\r\n'],
    ['a bare LF ending the trailers', '5\r\nhello\r\n0\r\n\n'],
    ['a control character in a chunk extension', '5;a=\x01\r\nhello\r\n0\r\n\r\n'],
    ['trailers over maxHeaderBytes', `5\r\nhello\r\n0\r\nX-T: ${'t'.repeat(1100)}\r\n\r\n`],
    ['a chunk size line over 4096 bytes', `5;${'e'.repeat(5000)}`],
  ];

  it.each(cases)('%s: unanswered by the listener, the connection closed with nothing sent', async (_name, bytes) => {
    const f = await front(echo);
    const c = await f.open();
    c.send(head);
    await eventually(() => f.exchanges.length === 1);
    // The broken part in pieces too: a line over the limit is refused before it ends.
    await writeApart(c, [bytes.slice(0, 2500), bytes.slice(2500)]);
    await eventually(() => c.closed);
    const ex = f.exchanges[0];
    await eventually(() => ex.bodyEvents.includes('close'));
    expect(ex.bodyEvents).toEqual(['close']);
    expect(ex.req.body?.destroyed).toBe(true);
    expect(ex.req.complete).toBe(false);
    expect(ex.calls).toEqual(['bodyMalformed', 'closed']);
    expect(ex.res.destroyed).toBe(true);
    expect(c.received).toBe(0);
    expect(f.rejected).toEqual([]);
    expect(f.exchanges).toHaveLength(1);
  });

  it.each(cases)('%s: answered 400 by the listener, then the connection closed, what followed the bad line dropped', async (_name, bytes) => {
    const f = await front((ex) => {
      ex.onBodyMalformed = () => {
        ex.res.closeAfter();
        ex.res.writeHead(400, undefined, ['content-length', '3']);
        ex.res.end(Buffer.from('bad'));
      };
    });
    const c = await f.open();
    c.send(head);
    await eventually(() => f.exchanges.length === 1);
    // A pipelined request after the broken body must not be parsed as a request.
    await writeApart(c, [bytes.slice(0, 2500), bytes.slice(2500) + 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n']);
    await eventually(() => c.closed);
    const ex = f.exchanges[0];
    await eventually(() => ex.bodyEvents.includes('close'));
    expect(ex.bodyEvents).toEqual(['close']);
    expect(ex.req.complete).toBe(false);
    expect(ex.calls).toEqual(['bodyMalformed', 'closed']);
    expect(ex.res.writableFinished).toBe(true);
    expect(c.text()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n(?:.*\r\n)*connection: close\r\n(?:.*\r\n)*\r\nbad$/);
    expect(f.exchanges).toHaveLength(1);
  });
});

describe('request smuggling: no attempt yields a second request', () => {
  const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n';
  const hex = SMUGGLED.length.toString(16);
  const zeroThen = `0\r\n\r\n${SMUGGLED}`;
  const te = (value: string, extra = ''): string => `POST / HTTP/1.1\r\nHost: h\r\n${value}\r\n${extra}Content-Length: ${zeroThen.length}\r\n\r\n${zeroThen}`;
  const cases: [string, string][] = [
    ['CL.TE: content-length then transfer-encoding', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${zeroThen.length}\r\nTransfer-Encoding: chunked\r\n\r\n${zeroThen}`],
    ['TE.CL: transfer-encoding then a short content-length', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${hex}\r\n${SMUGGLED}\r\n0\r\n\r\n`],
    ['TE.TE: xchunked', te('Transfer-Encoding: xchunked')],
    ['TE.TE: chunked and a second bogus transfer-encoding', te('Transfer-Encoding: chunked\r\nTransfer-Encoding: x')],
    ['TE.TE: a space before the colon', te('Transfer-Encoding : chunked')],
    ['TE.TE: a vertical tab before the value', te('Transfer-Encoding:\x0bchunked')],
    ['TE.TE: a form feed after the value', te('Transfer-Encoding: chunked\x0c')],
    ['TE.TE: quoted', te('Transfer-Encoding: "chunked"')],
    ['TE.TE: chunked, identity', te('Transfer-Encoding: chunked, identity')],
    ['TE.TE: obs-folded', te('X-A: b\r\n Transfer-Encoding: chunked')],
    ['TE.TE: folded value', te('Transfer-Encoding:\r\n chunked')],
    ['TE.TE: a bare LF before it', te('X-A: b\nTransfer-Encoding: chunked')],
    ['TE.TE: underscore name', te('Transfer_Encoding: chunked')],
    ['TE.TE: tab-prefixed name', te('\tTransfer-Encoding: chunked')],
    ['TE.TE: transfer-encoding alone, xchunked', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n${zeroThen}`],
    ['TE in HTTP/1.0 with a content-length', `POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: ${zeroThen.length}\r\n\r\n${zeroThen}`],
    ['CL.CL: zero then the real length', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
    ['CL.CL: a list', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${SMUGGLED.length}, 0\r\n\r\n${SMUGGLED}`],
    ['CL: a space before the colon', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length : ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
    ['CL: a plus sign', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
    ['CL: obs-folded', `POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`],
    ['chunked: a chunk size that overflows 64 bits to the smuggled length', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000${hex.padStart(2, '0')}\r\n${SMUGGLED}\r\n0\r\n\r\n`],
    ['chunked: a bare LF after the last chunk size', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n${SMUGGLED}`],
    ['chunked: an LF inside a chunk extension', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;x\n${hex}\r\nab\r\n0\r\n\r\n${SMUGGLED}`],
    ['chunked: the smuggled request as trailers', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${SMUGGLED}`],
    ['chunked: a short chunk followed by the request', `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab${SMUGGLED}\r\n0\r\n\r\n`],
    ['a 0x00 in a header ends nothing', `POST / HTTP/1.1\r\nHost: h\r\nX-A: \x00\r\nContent-Length: 0\r\n\r\n${SMUGGLED}`],
  ];

  it.each(cases)('%s', async (_name, bytes) => {
    const f = await front(echo);
    const c = await f.open();
    c.send(bytes);
    await eventually(() => c.closed, 150).catch(() => undefined); // closed, or kept open (the smuggled bytes were a body or trailers)
    await settle(20);
    expect(f.exchanges.map((e) => e.req.url)).not.toContain('/smuggled');
    expect(f.exchanges.length).toBeLessThanOrEqual(1);
  });
});

describe('request bodies', () => {
  it('a content-length body arrives whole via data and end; complete after; the connection is reused', async () => {
    const f = await front();
    const c = await f.open();
    const body = 'x'.repeat(5000) + 'end';
    c.send(post('/up', body));
    await eventually(() => c.received > 0);
    const ex = f.exchanges[0];
    expect(ex.req.contentLength).toBe(5003);
    expect(ex.req.complete).toBe(true);
    expect(ex.bodyEvents[0]).toBe('end');
    expect(c.text()).toBe(replied('POST /up 5003'));
    c.send(get('/next'));
    await eventually(() => f.exchanges.length === 2 && f.exchanges[1].calls.includes('closed'));
    expect(f.server.connections.size).toBe(1);
  });

  it('a content-length body dribbled in small pieces arrives whole and in order', async () => {
    let got = '';
    const f = await front((ex) => readBody(ex, (b) => {
      got = b.toString('latin1');
      reply(ex.res, 'ok');
    }));
    const c = await f.open();
    const body = Array.from({ length: 60 }, (_v, i) => String.fromCharCode(33 + i)).join('');
    await dribble(c, post('/d', body), 7);
    await eventually(() => c.received > 0);
    expect(got).toBe(body);
  });

  it('a request with content-length 0 has no body stream', async () => {
    const f = await front();
    const c = await f.open();
    c.send(post('/zero', ''));
    await eventually(() => c.received > 0);
    expect(f.exchanges[0].req.body).toBeNull();
    expect(f.exchanges[0].req.contentLength).toBe(0);
    expect(f.exchanges[0].req.complete).toBe(true);
  });

  it('a chunked body is de-chunked: extensions accepted, upper-case hex, trailers dropped, complete after end; the next request follows', async () => {
    let got = '';
    let completeAtEnd = false;
    const f = await front((ex) => {
      const chunks: Buffer[] = [];
      ex.req.body?.on('data', (b: Buffer) => chunks.push(b));
      ex.req.body?.on('end', () => {
        completeAtEnd = ex.req.complete;
        got = Buffer.concat(chunks).toString('latin1');
        reply(ex.res, 'ok');
      });
      if (ex.req.body === null) reply(ex.res, 'next');
    });
    const c = await f.open();
    c.send(`POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\nA ; q="x;y"\r\n, chunked!\r\n1\r\n!\r\n0;end\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n${get('/next')}`);
    await eventually(() => responseBodies(c.bytes()).bodies.length === 2);
    expect(got).toBe('hello, chunked!!');
    expect(completeAtEnd).toBe(true);
    expect(f.exchanges[0].req.rawHeaders).toEqual(['Host', 'h', 'Transfer-Encoding', 'Chunked']);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/c', '/next']);
  });

  it('a chunked body dribbled byte by byte is de-chunked whole', async () => {
    let got = '';
    const f = await front((ex) => readBody(ex, (b) => {
      got = b.toString('latin1');
      reply(ex.res, 'ok');
    }));
    const c = await f.open();
    await dribble(c, `POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(Buffer.from('abcdefghijklmnop'), [3, 5], true, true).toString('latin1')}`, 1);
    await eventually(() => c.received > 0);
    expect(got).toBe('abcdefghijklmnop');
  });

  it('backpressure: a paused reader stops the server reading; it resumes when the reader reads; the body arrives whole', async () => {
    const TOTAL = 8 << 20; // more than the loopback's buffers hold
    const payload = Buffer.alloc(TOTAL);
    for (let i = 0; i < TOTAL; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const f = await front(hold);
    const c = await f.open();
    c.send(`PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: ${TOTAL}\r\n\r\n`);
    for (let off = 0; off < TOTAL; off += 65536) c.send(payload.subarray(off, off + 65536));
    await eventually(() => f.exchanges.length === 1);
    const ex = f.exchanges[0];
    const body = ex.req.body;
    if (body === null) throw new Error('no body');
    const server = serverSocket(f);
    // Nobody reads: the server's reading stops with a bounded amount buffered.
    let last = -1;
    await eventually(() => {
      const now = server.bytesRead;
      const still = now === last;
      last = now;
      return still;
    }, 3_000, 'reading stopped');
    await sleep(100);
    expect(server.bytesRead).toBe(last);
    expect(server.isPaused()).toBe(true);
    expect(body.readableLength).toBeLessThan(256 * 1024);
    expect(server.bytesRead).toBeLessThan(1 << 20);
    expect(c.socket.writableLength).toBeGreaterThan(1 << 20); // the client is held up too
    expect(ex.req.complete).toBe(false);
    // Reading resumes it: everything arrives.
    const chunks: Buffer[] = [];
    body.on('data', (b: Buffer) => chunks.push(b));
    await eventually(() => ex.bodyEvents.includes('end'), 5_000, 'the body read whole');
    const got = Buffer.concat(chunks);
    expect(got.length).toBe(TOTAL);
    expect(sha(got)).toBe(sha(payload));
    expect(ex.req.complete).toBe(true);
    reply(ex.res, 'done');
    await eventually(() => c.received > 0);
    expect(c.text()).toBe(replied('done'));
  });

  it.each([
    ['content-length', `POST /cut HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(100)}`],
    ['chunked', `POST /cut HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n${'a'.repeat(100)}`],
  ])('a client gone mid-body (%s): the body stream closes without end, the response is cut off', async (_name, bytes) => {
    const f = await front((ex) => ex.req.body?.on('data', () => {}));
    const c = await f.open();
    c.send(bytes);
    await eventually(() => f.exchanges.length === 1);
    await settle(10);
    c.socket.destroy();
    const ex = f.exchanges[0];
    await eventually(() => ex.bodyEvents.includes('close'));
    expect(ex.bodyEvents).toEqual(['close']);
    expect(ex.req.body?.destroyed).toBe(true);
    expect(ex.req.complete).toBe(false);
    expect(ex.calls).toEqual(['closed']);
    expect(ex.res.destroyed).toBe(true);
    await eventually(() => f.server.connections.size === 0);
  });

  it('a response ended before its body was read whole: once the connection is closed, the body stream is destroyed too (close, no end)', async () => {
    const f = await front((ex) => {
      ex.req.body?.on('data', () => {});
      if (ex.req.url === '/early') {
        ex.res.writeHead(413, undefined, ['content-length', '0']);
        ex.res.end();
      } else reply(ex.res, 'late');
    });
    const c = await f.open();
    const smuggled = get('/inside-body');
    c.send(`POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: ${10 + smuggled.length}\r\n\r\n0123456789`);
    await eventually(() => c.received > 0);
    c.send(smuggled);
    c.send(get('/after'));
    await eventually(() => c.closed);
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/early']);
    const ex = f.exchanges[0];
    expect(ex.req.complete).toBe(false);
    expect(ex.calls).toEqual(['closed']);
    // The connection is gone: its unfinished body must not stay open forever.
    await eventually(() => ex.bodyEvents.includes('close'), 500, 'the body stream closed').catch(() => undefined);
    expect(ex.bodyEvents).toEqual(['close']);
  });
});

describe('responses: the exact bytes', () => {
  it('a reason given, headers in the order given, date added, content-length sent as is', async () => {
    const f = await front((ex) => {
      ex.res.writeHead(201, 'Made It', ['Content-Type', 'text/plain', 'X-B', '2', 'x-a', ' spaced ', 'content-length', '5']);
      ex.res.end(Buffer.from('hello'));
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.received >= 5 && c.text().endsWith('hello'));
    expect(c.text()).toBe('HTTP/1.1 201 Made It\r\nContent-Type: text/plain\r\nX-B: 2\r\nx-a:  spaced \r\ncontent-length: 5\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\nhello');
    expect(f.exchanges[0].res.statusCode).toBe(201);
    expect(f.exchanges[0].res.headersSent).toBe(true);
  });

  it.each([
    [404, undefined, 'Not Found'],
    [404, '', 'Not Found'],
    [503, undefined, 'Service Unavailable'],
    [599, undefined, 'Unknown'],
    [200, 'Fine Thanks', 'Fine Thanks'],
  ])('status %i with statusText %j: the reason is %j', async (status, text, reason) => {
    const f = await front((ex) => {
      ex.res.writeHead(status, text, ['content-length', '0']);
      ex.res.end();
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.text().endsWith('\r\n\r\n'));
    expect(c.text()).toBe(`HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n`);
  });

  it('a date given (any case) is kept and none is added; the date added is now', async () => {
    const f = await front((ex) => {
      if (ex.req.url === '/given') reply(ex.res, 'x', ['Date', 'Tue, 01 Jan 2030 00:00:00 GMT']);
      else reply(ex.res, 'y');
    });
    const c = await f.open();
    c.send(get('/given'));
    await eventually(() => c.text().endsWith('x'));
    expect(c.bytes().toString('latin1')).toBe('HTTP/1.1 200 OK\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\ncontent-length: 1\r\nkeep-alive: timeout=5\r\n\r\nx');
    const d = await f.open();
    d.send(get('/added'));
    await eventually(() => d.text().endsWith('y'));
    const value = /\r\ndate: ([^\r]*)\r\n/.exec(d.bytes().toString('latin1'))?.[1] ?? '';
    expect(Math.abs(Date.parse(value) - Date.now())).toBeLessThan(3_000);
  });

  it('no content-length, HTTP/1.1: transfer-encoding chunked, each write one chunk, empty writes skipped, the last chunk at end', async () => {
    const f = await front((ex) => {
      const res = ex.res;
      res.writeHead(200, undefined, ['X-A', '1']);
      expect(res.write(Buffer.from('hello'))).toBe(true);
      expect(res.write(Buffer.alloc(0))).toBe(true);
      setTimeout(() => {
        res.write(Buffer.from(' '));
        res.write(Buffer.alloc(26, 'z'));
        setTimeout(() => res.end(Buffer.from('world')), 5);
      }, 5);
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.text().endsWith('0\r\n\r\n'));
    expect(c.text()).toBe(`HTTP/1.1 200 OK\r\nX-A: 1\r\ntransfer-encoding: chunked\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n5\r\nhello\r\n1\r\n \r\n1a\r\n${'z'.repeat(26)}\r\n5\r\nworld\r\n0\r\n\r\n`);
    expect(responseBodies(c.bytes()).bodies.map(String)).toEqual([`hello ${'z'.repeat(26)}world`]);
    // The connection is kept.
    c.send(REQ);
    await eventually(() => f.exchanges.length === 2);
  });

  it('chunked: end() alone or with an empty chunk sends only the last chunk', async () => {
    const f = await front((ex) => {
      ex.res.writeHead(200, undefined, []);
      if (ex.req.url === '/a') ex.res.end();
      else ex.res.end(Buffer.alloc(0));
    });
    const c = await f.open();
    c.send(get('/a') + get('/b'));
    const one = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n0\r\n\r\n';
    await eventually(() => c.text() === one + one);
  });

  it('no content-length, HTTP/1.0 client (even a keep-alive one): close-delimited, connection: close, closed after the body', async () => {
    for (const extra of ['', 'Connection: keep-alive\r\n']) {
      const f = await front((ex) => {
        ex.res.writeHead(200, undefined, ['X-A', '1']);
        ex.res.write(Buffer.from('part one, '));
        ex.res.end(Buffer.from('part two'));
      });
      const c = await f.open();
      c.send(`GET / HTTP/1.0\r\n${extra}\r\n`);
      await eventually(() => c.closed);
      expect(c.text()).toBe('HTTP/1.1 200 OK\r\nX-A: 1\r\ndate: DATE\r\nconnection: close\r\n\r\npart one, part two');
      expect(f.exchanges[0].res.keepAlive).toBe(false);
    }
  });

  it('HEAD: no body even when written, content-length kept, no transfer-encoding added; the connection reused', async () => {
    const f = await front((ex) => {
      if (ex.req.url === '/len') ex.res.writeHead(200, undefined, ['content-length', '5']);
      else ex.res.writeHead(200, undefined, ['X-A', '1']);
      expect(ex.res.write(Buffer.from('hello'))).toBe(true);
      ex.res.end(Buffer.from('hello'));
    });
    const c = await f.open();
    c.send('HEAD /len HTTP/1.1\r\nHost: h\r\n\r\nHEAD /none HTTP/1.1\r\nHost: h\r\n\r\n');
    await eventually(() => f.exchanges.length === 2 && f.exchanges[1].calls.includes('closed'));
    await settle(10);
    expect(c.text()).toBe(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n' + 'HTTP/1.1 200 OK\r\nX-A: 1\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n',
    );
    expect(c.closed).toBe(false);
  });

  it.each([204, 304])('%i: no body even when written, no transfer-encoding; the connection reused', async (status) => {
    const f = await front((ex) => {
      ex.res.writeHead(status, undefined, ['ETag', '"x"']);
      ex.res.write(Buffer.from('body'));
      ex.res.end(Buffer.from('more'));
    });
    const c = await f.open();
    c.send(REQ + REQ);
    await eventually(() => f.exchanges.length === 2 && f.exchanges[1].calls.includes('closed'));
    await settle(10);
    const one = `HTTP/1.1 ${status} ${status === 204 ? 'No Content' : 'Not Modified'}\r\nETag: "x"\r\ndate: DATE\r\nkeep-alive: timeout=5\r\n\r\n`;
    expect(c.text()).toBe(one + one);
  });

  it.each([
    [7000, 7],
    [1500, 1],
    [500, 1],
    [60_000, 60],
  ])('keepAliveTimeoutMs %i: keep-alive: timeout=%i', async (ms, seconds) => {
    const f = await front(echo, { keepAliveTimeoutMs: ms });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.received > 0 && c.text().endsWith('0'));
    expect(c.text()).toBe(replied('GET / 0', seconds));
  });

  it('HTTP/1.0 keep-alive client: connection: keep-alive and the hint, the connection reused', async () => {
    const f = await front();
    const c = await f.open();
    c.send('GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n');
    await eventually(() => c.text().endsWith('GET /a 0'));
    c.send('GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await eventually(() => c.text().endsWith('GET /b 0'));
    const one = (p: string): string => `HTTP/1.1 200 OK\r\ncontent-length: 8\r\ndate: DATE\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\nGET ${p} 0`;
    expect(c.text()).toBe(one('/a') + one('/b'));
    expect(c.closed).toBe(false);
    c.send('GET /c HTTP/1.0\r\n\r\n');
    await eventually(() => c.closed);
    expect(c.text()).toBe(`${one('/a')}${one('/b')}HTTP/1.1 200 OK\r\ncontent-length: 8\r\ndate: DATE\r\nconnection: close\r\n\r\nGET /c 0`);
  });

  it('closeAfter(): connection: close, no hint, closed after the response; a pipelined request after it is never read', async () => {
    const f = await front((ex) => {
      ex.res.closeAfter();
      reply(ex.res, 'bye');
    });
    const c = await f.open();
    c.send(get('/first') + get('/second'));
    await eventually(() => c.closed);
    expect(c.text()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: DATE\r\nconnection: close\r\n\r\nbye');
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/first']);
    expect(f.exchanges[0].res.keepAlive).toBe(false);
  });

  it('writeContinue(): HTTP/1.1 100 Continue before the response; the client then sends its body', async () => {
    const f = await front((ex) => {
      if (ex.req.expectContinue) ex.res.writeContinue();
      echo(ex);
    });
    const c = await f.open();
    c.send('POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    await eventually(() => c.received > 0);
    expect(c.text()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.send('data');
    await eventually(() => c.text().endsWith('POST /up 4'));
    expect(c.text()).toBe(`HTTP/1.1 100 Continue\r\n\r\n${replied('POST /up 4')}`);
  });

  it('writeContinue() after writeHead sends nothing', async () => {
    const f = await front((ex) => {
      ex.res.writeHead(200, undefined, ['content-length', '2']);
      ex.res.writeContinue();
      ex.res.end(Buffer.from('ok'));
    });
    const c = await f.open();
    c.send(post('/x', 'ab', 'Expect: 100-continue\r\n'));
    await eventually(() => c.text().endsWith('ok'));
    expect(c.text()).toBe(replied('ok'));
  });

  it('the head and the body written in one tick reach the socket as one write', async () => {
    let writes = 0;
    let counting = false;
    const f = await front((ex) => {
      if (!counting) {
        // Counts what the socket hands to the kernel: a corked run of writes is one _writev.
        counting = true;
        const s = serverSocket(f) as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
        for (const name of ['_write', '_writev'] as const) {
          const original = s[name];
          s[name] = function (this: unknown, ...args: unknown[]) {
            writes++;
            return original.apply(this, args);
          };
        }
      }
      if (ex.req.url === '/chunked') {
        ex.res.writeHead(200, undefined, ['X-A', '1']);
        ex.res.write(Buffer.from('one'));
        ex.res.write(Buffer.from('two'));
        ex.res.end(Buffer.from('three'));
      } else {
        ex.res.writeHead(200, undefined, ['content-length', '6']);
        ex.res.write(Buffer.from('one'));
        ex.res.write(Buffer.from('two'));
        setImmediate(() => ex.res.end()); // the writes were uncorked at the end of their tick
      }
    });
    const c = await f.open();
    c.send(get('/chunked'));
    await eventually(() => c.text().endsWith('0\r\n\r\n'));
    expect(writes).toBe(1);
    writes = 0;
    c.send(get('/split'));
    await eventually(() => c.text().endsWith('onetwo'));
    await settle(10);
    expect(writes).toBe(1);
  });

  it('misuse throws: write or end before writeHead, writeHead twice; write after end returns false and sends nothing', async () => {
    const errors: string[] = [];
    const f = await front((ex) => {
      const res = ex.res;
      for (const misuse of [() => res.write(Buffer.from('x')), () => res.end()]) {
        try {
          misuse();
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      res.writeHead(200, undefined, ['content-length', '2']);
      try {
        res.writeHead(500, undefined, []);
      } catch (err) {
        errors.push((err as Error).message);
      }
      res.end(Buffer.from('ok'));
      errors.push(`after end: ${res.write(Buffer.from('late'))}`);
      res.end(Buffer.from('later'));
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.text().endsWith('ok'));
    await settle(10);
    expect(errors).toEqual(['write: writeHead first', 'end: writeHead first', 'writeHead: the response has started', 'after end: false']);
    expect(c.text()).toBe(replied('ok'));
  });
});

describe('keep-alive and pipelining', () => {
  it('several requests one after another on one connection', async () => {
    const f = await front();
    const c = await f.open();
    for (let i = 0; i < 10; i++) {
      c.send(i % 2 === 0 ? get(`/${i}`) : post(`/${i}`, 'body'));
      await eventually(() => responseBodies(c.bytes()).bodies.length === i + 1);
    }
    expect(responseBodies(c.bytes()).bodies.map(String)).toEqual(Array.from({ length: 10 }, (_v, i) => (i % 2 === 0 ? `GET /${i} 0` : `POST /${i} 4`)));
    expect(f.server.connections.size).toBe(1);
    expect(c.closed).toBe(false);
  });

  it('pipelined requests in one write: answered in order, each request() only once the response before it is over', async () => {
    const f = await front(hold);
    const c = await f.open();
    c.send(get('/1') + post('/2', 'two') + 'POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n' + get('/4'));
    await eventually(() => f.exchanges.length === 1);
    await settle(30);
    expect(f.exchanges).toHaveLength(1);
    for (let i = 0; i < 4; i++) {
      const ex = f.exchanges[i];
      expect(ex.req.url).toBe(`/${i + 1}`);
      readBody(ex, (b) => {
        // Answered in two pieces, across ticks: the next request waits for the end.
        ex.res.writeHead(200, undefined, ['content-length', String(3 + b.length)]);
        ex.res.write(Buffer.from(`#${i + 1}:`));
        setTimeout(() => {
          expect(f.exchanges).toHaveLength(i + 1);
          ex.res.end(b);
          expect(f.exchanges).toHaveLength(i + 1); // not inside end(): on a later tick
        }, 10);
      });
      if (i < 3) await eventually(() => f.exchanges.length === i + 2);
    }
    await eventually(() => responseBodies(c.bytes()).bodies.length === 4);
    expect(responseBodies(c.bytes()).bodies.map(String)).toEqual(['#1:', '#2:two', '#3:three', '#4:']);
    expect(c.closed).toBe(false);
  });

  it('thousands of pipelined requests in one write (more than the stash holds before pausing) are all answered, in order', async () => {
    const f = await front((ex) => reply(ex.res, ex.req.url), { maxHeaderBytes: 256 });
    const c = await f.open();
    const n = 4000;
    c.send(Array.from({ length: n }, (_v, i) => get(`/${i}`)).join(''));
    await eventually(() => c.text().endsWith(`/${n - 1}`), 5_000, 'the last response');
    const { bodies } = responseBodies(c.bytes());
    expect(bodies.length).toBe(n);
    expect(bodies.every((b, i) => b.toString() === `/${i}`)).toBe(true);
  });

  it.each([
    ['Connection: close', 'Connection: close\r\n'],
    ['Connection: keep-alive, Close', 'Connection: keep-alive, Close\r\n'],
    ['two Connection headers, the second close', 'Connection: keep-alive\r\nConnection: close\r\n'],
  ])('a request with %s: connection: close, closed after the response, a pipelined one never read', async (_name, extra) => {
    const f = await front();
    const c = await f.open();
    c.send(get('/last', extra) + get('/never'));
    await eventually(() => c.closed);
    expect(c.text()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 11\r\ndate: DATE\r\nconnection: close\r\n\r\nGET /last 0');
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/last']);
  });

  it('HTTP/1.0 without keep-alive: connection: close, closed after the response', async () => {
    const f = await front();
    const c = await f.open();
    c.send('GET /old HTTP/1.0\r\n\r\n');
    await eventually(() => c.closed);
    expect(c.text()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 10\r\ndate: DATE\r\nconnection: close\r\n\r\nGET /old 0');
  });

  it('a response ended before its request body arrived whole closes the connection; the rest is never parsed as a request', async () => {
    const f = await front((ex) => reply(ex.res, 'early')); // never reads the body
    const c = await f.open();
    const inside = get('/inside');
    c.send(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: ${5 + inside.length}\r\n\r\nabcde`);
    await eventually(() => c.received > 0);
    c.send(inside);
    await eventually(() => c.closed);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/up']);
    expect(f.exchanges[0].req.complete).toBe(false);
  });

  it('a response ended inside request() for a body that came with the head: the body is still read, the connection kept', async () => {
    const f = await front((ex) => reply(ex.res, 'quick'));
    const c = await f.open();
    c.send(post('/a', 'abc') + get('/b'));
    await eventually(() => responseBodies(c.bytes()).bodies.length === 2);
    expect(f.exchanges.map((e) => e.req.url)).toEqual(['/a', '/b']);
    expect(c.closed).toBe(false);
  });
});

describe('the listener', () => {
  it('closed() once, after end(), on a later tick, with writableFinished', async () => {
    const states: string[] = [];
    const f = await front((ex) => {
      const res = ex.res;
      res.listener = {
        closed: () => states.push(`closed finished=${res.writableFinished} destroyed=${res.destroyed}`),
        drained: () => states.push('drained'),
        readTimedOut: () => states.push('readTimedOut'),
        bodyMalformed: () => states.push('bodyMalformed'),
      };
      res.writeHead(200, undefined, ['content-length', '2']);
      res.end(Buffer.from('ok'));
      states.push('after end');
      process.nextTick(() => states.push('next tick'));
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => states.length >= 3);
    await settle(20);
    expect(states).toEqual(['after end', 'closed finished=true destroyed=false', 'next tick']);
  });

  it('the client gone mid-response: closed() once with destroyed; later writes return false', async () => {
    const f = await front((ex) => {
      ex.res.writeHead(200, undefined, ['content-length', '100']);
      ex.res.write(Buffer.from('partial'));
    });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.text().endsWith('partial'));
    c.socket.destroy();
    const ex = f.exchanges[0];
    await eventually(() => ex.calls.length > 0);
    expect(ex.calls).toEqual(['closed']);
    expect(ex.res.destroyed).toBe(true);
    expect(ex.res.writableFinished).toBe(false);
    expect(ex.res.write(Buffer.from('more'))).toBe(false);
    ex.res.end(Buffer.from('end')); // nothing
    await settle(10);
    expect(ex.calls).toEqual(['closed']);
  });

  it('drained() after a write that returned false, only once the client reads', async () => {
    const TOTAL = 8 << 20; // more than the loopback's buffers hold
    const big = Buffer.alloc(TOTAL, 7);
    let returned: boolean | undefined;
    const f = await front((ex) => {
      ex.res.writeHead(200, undefined, ['content-length', String(TOTAL + 4)]);
      returned = ex.res.write(big);
    });
    const c = await f.open();
    c.socket.pause();
    c.send(REQ);
    await eventually(() => f.exchanges.length === 1);
    const ex = f.exchanges[0];
    expect(returned).toBe(false);
    await sleep(150);
    expect(ex.calls).toEqual([]); // the client reads nothing: nothing drains
    c.socket.resume();
    await eventually(() => ex.calls.includes('drained'), 5_000, 'drained');
    expect(ex.calls).toEqual(['drained']);
    ex.res.end(Buffer.from('tail'));
    await eventually(() => c.text().endsWith('tail'), 5_000);
    await eventually(() => ex.calls.length === 2);
    expect(ex.calls).toEqual(['drained', 'closed']);
    expect(responseBodies(c.bytes()).bodies[0].length).toBe(TOTAL + 4);
  });

  it('a client FIN with a response in progress abandons it: closed() with destroyed, the connection closed', async () => {
    const f = await front(hold);
    const c = await f.open(true);
    c.send(REQ);
    await eventually(() => f.exchanges.length === 1);
    c.socket.end();
    const ex = f.exchanges[0];
    await eventually(() => ex.calls.includes('closed'));
    expect(ex.res.destroyed).toBe(true);
    await eventually(() => c.closed);
    expect(c.received).toBe(0);
    expect(f.rejected).toEqual([]);
  });

  it('a client FIN while idle: the server ends too, no request, nothing sent', async () => {
    const f = await front();
    const c = await f.open(true);
    c.send(REQ);
    await eventually(() => c.text().endsWith('GET / 0'));
    const before = c.received;
    c.socket.end();
    await eventually(() => c.closed && f.server.connections.size === 0);
    expect(c.received).toBe(before);
    expect(f.exchanges).toHaveLength(1);
    expect(f.rejected).toEqual([]);
  });

  it('res.destroy() closes the connection: closed() with destroyed; a stale response destroyed later leaves the next one alone', async () => {
    const f = await front(hold);
    const c = await f.open();
    c.send(REQ);
    await eventually(() => f.exchanges.length === 1);
    const first = f.exchanges[0];
    first.res.writeHead(200, undefined, ['content-length', '10']);
    first.res.write(Buffer.from('12345'));
    first.res.destroy();
    await eventually(() => c.closed);
    expect(first.calls).toEqual(['closed']);
    expect(first.res.destroyed).toBe(true);
    // A finished response destroyed afterwards: the connection, now serving another, is left alone.
    const d = await f.open();
    d.send(get('/a'));
    await eventually(() => f.exchanges.length === 2);
    reply(f.exchanges[1].res, 'a');
    await eventually(() => f.exchanges[1].calls.includes('closed'));
    d.send(get('/b'));
    await eventually(() => f.exchanges.length === 3);
    f.exchanges[1].res.destroy();
    expect(f.exchanges[1].res.destroyed).toBe(false);
    reply(f.exchanges[2].res, 'b');
    await eventually(() => d.text().endsWith('\r\n\r\nb'));
    await settle(10);
    expect(d.closed).toBe(false);
    expect(f.exchanges[2].calls).toEqual(['closed']);
    expect(f.exchanges[2].res.destroyed).toBe(false);
  });
});

describe('timeouts (in real time: the sweep runs once a second)', () => {
  it('after 1 s or a little more, not before: an idle keep-alive connection closes, one that sent nothing closes silently, a partial head gets 408', async () => {
    const f = await front(echo, { keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000 });
    const silent = await f.open();
    const partial = await f.open();
    const idle = await f.open();
    partial.send('GET / HTTP/1.1\r\nHost: h\r\n');
    idle.send(REQ);
    await eventually(() => idle.received > 0);
    const since = Date.now();
    await sleep(900);
    expect([idle.closed, silent.closed, partial.closed]).toEqual([false, false, false]);
    expect(f.rejected).toEqual([]);
    await eventually(() => idle.closed && silent.closed && partial.closed, 2_500, 'all three closed');
    expect(Date.now() - since).toBeGreaterThanOrEqual(1000);
    expect(idle.text()).toBe(replied('GET / 0', 1));
    expect(silent.received).toBe(0);
    expect(partial.text()).toBe(refusal(408));
    expect(f.rejected).toEqual([408]);
    expect(f.exchanges).toHaveLength(1);
  });
});

describe('timeouts (on a fake sweep interval)', () => {
  /** A front whose sweep runs when `tick()` says: each call one sweep (one second). */
  async function swept(options: Partial<DownstreamOptions>, handler: Handler = echo): Promise<{ f: Front; tick: (n?: number) => Promise<void> }> {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const f = await front(handler, options);
    return {
      f,
      async tick(n = 1) {
        for (let i = 0; i < n; i++) vi.advanceTimersByTime(1000);
        await settle(20);
      },
    };
  }

  it('an idle connection lives keepAliveTimeoutMs worth of sweeps and closes at the next; a request in between starts the count anew', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 2000 });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.received > 0);
    await tick(2);
    expect(c.closed).toBe(false);
    c.send(REQ);
    await eventually(() => f.exchanges.length === 2 && f.exchanges[1].calls.includes('closed'));
    await tick(2);
    expect(c.closed).toBe(false);
    await tick(1);
    await eventually(() => c.closed, 500);
    expect(f.rejected).toEqual([]);
  });

  it('a connection that sent nothing closes silently after the keep-alive time', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000 });
    const c = await f.open();
    await tick(1);
    expect(c.closed).toBe(false);
    await tick(1);
    await eventually(() => c.closed, 500);
    expect(c.received).toBe(0);
    expect(f.rejected).toEqual([]);
  });

  it('a head begun: 408 after headersTimeoutMs from its first byte (more bytes do not restart it), not the keep-alive close', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 3000 });
    const c = await f.open();
    c.send('GET / HTTP/1.1\r\n');
    await arrived(f, 16);
    await tick(2);
    c.send('Host: h\r\n');
    await arrived(f, 25);
    await tick(1);
    expect(c.closed).toBe(false);
    expect(f.rejected).toEqual([]);
    await tick(1);
    await eventually(() => c.closed, 500);
    expect(c.text()).toBe(refusal(408));
    expect(f.rejected).toEqual([408]);
  });

  it('a head begun after a keep-alive response: its own 408 clock', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 5000, headersTimeoutMs: 1000 });
    const c = await f.open();
    c.send(REQ);
    await eventually(() => c.received > 0);
    await tick(3);
    c.send('GET /slow HTTP/1.1\r\n');
    await arrived(f, REQ.length + 20);
    await tick(1);
    expect(c.closed).toBe(false);
    await tick(1);
    await eventually(() => c.closed, 500);
    expect(c.text()).toBe(replied('GET / 0') + refusal(408));
    expect(f.rejected).toEqual([408]);
  });

  it('a body not read whole within requestTimeoutMs: readTimedOut(), and when the listener does not answer the connection closes, the body stream destroyed, nothing sent', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 3000 });
    const c = await f.open();
    c.send(`POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc`);
    await eventually(() => f.exchanges.length === 1);
    await tick(3); // past the keep-alive and headers timeouts: a body in progress is neither
    c.send('def');
    expect(c.closed).toBe(false);
    expect(f.exchanges[0].calls).toEqual([]);
    await tick(1);
    await eventually(() => c.closed, 500);
    const ex = f.exchanges[0];
    await eventually(() => ex.bodyEvents.includes('close'));
    expect(ex.bodyEvents).toEqual(['close']);
    expect(ex.calls).toEqual(['readTimedOut', 'closed']);
    expect(ex.res.destroyed).toBe(true);
    expect(c.received).toBe(0);
    expect(f.rejected).toEqual([]);
  });

  it('a body not read whole within requestTimeoutMs, answered by the listener (408): the answer goes out with connection: close, then the connection closes and later bytes are dropped', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const c = await f.open(true);
    c.send(`POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc`);
    await eventually(() => f.exchanges.length === 1);
    const ex = f.exchanges[0];
    ex.onReadTimeout = () => {
      ex.res.writeHead(408, undefined, ['content-length', '7']);
      ex.res.end(Buffer.from('too slow'.slice(0, 7)));
    };
    await tick(2);
    expect(ex.calls).toEqual([]);
    await tick(1);
    await eventually(() => c.ended, 500);
    expect(c.text()).toBe('HTTP/1.1 408 Request Timeout\r\ncontent-length: 7\r\ndate: DATE\r\nconnection: close\r\n\r\ntoo slo');
    expect(ex.calls).toEqual(['readTimedOut', 'closed']);
    expect(ex.res.writableFinished).toBe(true);
    await eventually(() => ex.bodyEvents.includes('close'));
    expect(ex.bodyEvents).toEqual(['close']);
    c.send('more body the front drops');
    await settle(20);
    expect(f.exchanges).toHaveLength(1);
    expect(f.rejected).toEqual([]);
  });

  it('requestTimeoutMs 0: a body may take as long as it takes (no readTimedOut(), no close)', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 0 });
    const c = await f.open();
    c.send(`POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabc`);
    await eventually(() => f.exchanges.length === 1);
    await tick(400);
    expect(c.closed).toBe(false);
    expect(f.exchanges[0].calls).toEqual([]);
    c.send('def');
    await eventually(() => c.text().endsWith('POST /upload 6'));
    expect(c.text()).toBe(replied('POST /upload 6', 1));
  });

  it('a body late after its response has started: no readTimedOut(), the connection is cut off', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 1000 }, (ex) => {
      ex.res.writeHead(200, undefined, []);
      ex.res.write(Buffer.from('early'));
    });
    const c = await f.open();
    c.send(`POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc`);
    await eventually(() => c.text().endsWith('early\r\n'));
    await tick(2);
    await eventually(() => c.closed, 500);
    const ex = f.exchanges[0];
    expect(ex.calls).toEqual(['closed']);
    expect(ex.res.destroyed).toBe(true);
  });

  it('a response in progress is never timed out', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 1000 }, hold);
    const c = await f.open();
    c.send(post('/wait', 'abc'));
    await eventually(() => f.exchanges.length === 1);
    await tick(10);
    expect(c.closed).toBe(false);
    reply(f.exchanges[0].res, 'late');
    await eventually(() => c.text().endsWith('late'));
    expect(c.text()).toBe(replied('late', 1));
  });

  it('a closing connection whose client keeps its side open is closed after the keep-alive time', async () => {
    const { f, tick } = await swept({ keepAliveTimeoutMs: 2000 });
    const c = await f.open(true);
    c.send('GET / HTTP/1.1\r\n\r\n'); // no Host: 400
    await eventually(() => c.ended);
    expect(c.text()).toBe(refusal(400));
    await tick(2);
    expect(f.server.connections.size).toBe(1);
    await tick(1);
    // Destroyed on the server's side (its FIN went with the answer: the client hears nothing more).
    await eventually(() => f.server.connections.size === 0, 500);
  });
});

describe('the server', () => {
  it('closeIdleConnections() closes idle connections, not a response in progress nor a head begun', async () => {
    const f = await front((ex) => {
      if (ex.req.url !== '/hold') echo(ex);
    });
    const idle = await f.open();
    idle.send(REQ);
    await eventually(() => idle.received > 0);
    const busy = await f.open();
    busy.send(get('/hold'));
    const partial = await f.open();
    partial.send('GET / HT');
    await eventually(() => f.exchanges.length === 2 && f.server.connections.size === 3);
    await settle(10);
    f.server.closeIdleConnections();
    await eventually(() => idle.closed);
    await settle(20);
    expect(busy.closed).toBe(false);
    expect(partial.closed).toBe(false);
    reply(f.exchanges[1].res, 'done');
    await eventually(() => busy.text().endsWith('done'));
    expect(busy.text()).toBe(replied('done'));
  });

  it('closeIdleConnections() also closes a connection lingering after its answer has left', async () => {
    const f = await front();
    const c = await f.open(true); // keeps its side open after the server's FIN
    c.send('GET / HTTP/1.1\r\n\r\n');
    await eventually(() => c.ended);
    expect(c.text()).toBe(refusal(400));
    await settle(10);
    expect(f.server.connections.size).toBe(1);
    f.server.closeIdleConnections();
    await eventually(() => f.server.connections.size === 0);
  });

  it('closeAllConnections() closes every connection, cutting responses off', async () => {
    const f = await front(hold);
    const a = await f.open();
    const b = await f.open();
    a.send(REQ);
    await eventually(() => f.exchanges.length === 1 && f.server.connections.size === 2);
    const res = f.exchanges[0].res;
    expect(res.clientGone).toBe(false);
    f.server.closeAllConnections();
    // Gone at once, before the socket's 'close' (and so closed()) has come.
    expect(res.clientGone).toBe(true);
    expect(f.exchanges[0].calls).toEqual([]);
    await eventually(() => a.closed && b.closed && f.server.connections.size === 0);
    expect(f.exchanges[0].calls).toEqual(['closed']);
    expect(f.exchanges[0].res.destroyed).toBe(true);
  });

  it('close(): no new connections; a response in progress carries connection: close and its connection closes; close() resolves then', async () => {
    const f = await front(hold);
    const busy = await f.open();
    busy.send(REQ);
    const idle = await f.open();
    await eventually(() => f.exchanges.length === 1 && f.server.connections.size === 2);
    let closed = false;
    const closing = f.server.close().then(() => {
      closed = true;
    });
    f.server.closeIdleConnections();
    await eventually(() => idle.closed);
    await expect(open(f.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await settle(10);
    expect(closed).toBe(false);
    reply(f.exchanges[0].res, 'last');
    await eventually(() => busy.closed);
    expect(busy.text()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 4\r\ndate: DATE\r\nconnection: close\r\n\r\nlast');
    await closing;
    expect(closed).toBe(true);
  });

  it('listen() on a port in use rejects with EADDRINUSE', async () => {
    const f = await front();
    const other = new DownstreamServer({ maxHeaderBytes: 1024 }, { request: () => {}, rejected: () => {} });
    servers.push(other);
    await expect(other.listen(f.port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
