/**
 * The proxy's upstream pool (src/live/proxy/upstream.ts) against real servers on 127.0.0.1:
 * node:http for well-behaved upstreams, raw sockets writing exact bytes for the framings and
 * the broken ones. Every request goes through `run`, which also checks the handler contract
 * (onConnect first and inside dispatch, onHeaders at most once and before any data, no empty
 * data, exactly one terminal call and nothing after it).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool, type UpstreamHandler, type UpstreamPoolOptions, type UpstreamRequest } from '../../../src/live/proxy/upstream.js';
import { closeAll, deadPort, httpBackend, sleep, tcpBackend, type Backend } from './_harness.js';

const pools: UpstreamPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  await closeAll();
});

function pool(address: string, options?: UpstreamPoolOptions): UpstreamPool {
  const p = new UpstreamPool(address, options);
  pools.push(p);
  return p;
}

interface Result {
  status: number;
  statusText: string;
  headers: string[];
  body: Buffer;
  error?: Error & { code?: string };
  events: string[];
}

interface Run {
  readonly done: Promise<Result>;
  abort(err?: Error): void;
  resume(): void;
  /** Calls after the terminal one (must stay empty). */
  readonly late: string[];
  readonly events: readonly string[];
}

/** Dispatches `request` and checks the handler contract on every call. */
function start(p: UpstreamPool, request: Partial<UpstreamRequest> = {}, hooks: { onHeaders?: () => boolean; onData?: (chunk: Buffer) => boolean } = {}): Run {
  const events: string[] = [];
  const late: string[] = [];
  const chunks: Buffer[] = [];
  let abortFn: ((err?: Error) => void) | undefined;
  let resumeFn: (() => void) | undefined;
  let ended = false;
  let resolve!: (r: Result) => void;
  const done = new Promise<Result>((r) => (resolve = r));
  const result: Result = { status: 0, statusText: '', headers: [], body: Buffer.alloc(0), events };
  const note = (e: string): void => {
    if (ended) late.push(e);
    events.push(e);
  };
  const handler: UpstreamHandler = {
    onConnect(abort) {
      expect(events).toEqual([]);
      note('connect');
      abortFn = abort;
    },
    onHeaders(status, headers, resume, statusText) {
      expect(events.filter((e) => e === 'headers')).toEqual([]);
      note('headers');
      Object.assign(result, { status, headers, statusText });
      resumeFn = resume;
      return hooks.onHeaders?.() ?? true;
    },
    onData(chunk) {
      expect(events).toContain('headers');
      expect(chunk.length).toBeGreaterThan(0);
      note('data');
      chunks.push(Buffer.from(chunk));
      return hooks.onData?.(chunk) ?? true;
    },
    onComplete() {
      note('complete');
      ended = true;
      result.body = Buffer.concat(chunks);
      resolve(result);
    },
    onError(err) {
      note('error');
      ended = true;
      result.error = err;
      result.body = Buffer.concat(chunks);
      resolve(result);
    },
  };
  p.dispatch({ method: 'GET', path: '/', headers: [], body: null, ...request }, handler);
  expect(events[0]).toBe('connect'); // synchronously, inside dispatch
  return {
    done,
    late,
    events,
    abort: (err) => (abortFn as (err?: Error) => void)(err),
    resume: () => (resumeFn as () => void)(),
  };
}

async function run(p: UpstreamPool, request: Partial<UpstreamRequest> = {}): Promise<Result> {
  const r = start(p, request);
  const result = await r.done;
  await sleep(5);
  expect(r.late).toEqual([]);
  return result;
}

/** A raw server answering every request (after its head arrived) with `answer(path, socket)`. */
async function rawServer(answer: (path: string, socket: Socket) => void): Promise<Backend & { accepted: () => number }> {
  let accepted = 0;
  const b = await tcpBackend((socket) => {
    accepted++;
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        answer(head.split(' ')[1], socket);
      }
    });
    socket.on('error', () => undefined);
  });
  return Object.assign(b, { accepted: () => accepted });
}

describe('requests and responses', () => {
  it('a GET: status, reason, headers as sent (values trimmed), body', async () => {
    const b = await rawServer((_path, s) => s.write('HTTP/1.1 201 Made It\r\nX-One:   a b  \r\ncontent-length: 5\r\nSet-Cookie: x=1\r\nSet-Cookie: y=2\r\n\r\nhello'));
    const r = await run(pool(b.address));
    expect(r.error).toBeUndefined();
    expect([r.status, r.statusText, r.body.toString()]).toEqual([201, 'Made It', 'hello']);
    expect(r.headers).toEqual(['X-One', 'a b', 'content-length', '5', 'Set-Cookie', 'x=1', 'Set-Cookie', 'y=2']);
  });

  it('sends method, target, headers and host; frames bodies by their kind', async () => {
    const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
    const b = await httpBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.end('ok');
      });
    });
    const p = pool(b.address);
    await run(p, { method: 'GET', path: '/a/b?c=1&d', headers: ['X-Custom', 'v'] });
    await run(p, { method: 'POST', path: '/buf', headers: ['host', 'given.example', 'content-length', '999'], body: Buffer.from('twelve bytes') });
    await run(p, { method: 'PUT', path: '/len', headers: ['content-length', '6'], body: Readable.from([Buffer.from('abc'), Buffer.from('def')]) });
    await run(p, { method: 'PUT', path: '/chunked', headers: [], body: Readable.from([Buffer.from('x'.repeat(70_000)), Buffer.from('tail')]) });
    await run(p, { method: 'POST', path: '/empty' });
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['GET', '/a/b?c=1&d'],
      ['POST', '/buf'],
      ['PUT', '/len'],
      ['PUT', '/chunked'],
      ['POST', '/empty'],
    ]);
    expect(seen[0].headers).toMatchObject({ 'x-custom': 'v', host: b.address });
    expect(seen[0].headers['content-length']).toBeUndefined();
    expect(seen[0].headers['transfer-encoding']).toBeUndefined();
    expect(seen[1].headers).toMatchObject({ host: 'given.example', 'content-length': '12' });
    expect(seen[1].body).toBe('twelve bytes');
    expect(seen[2].headers['content-length']).toBe('6');
    expect(seen[2].body).toBe('abcdef');
    expect(seen[3].headers['transfer-encoding']).toBe('chunked');
    expect(seen[3].body).toBe(`${'x'.repeat(70_000)}tail`);
    expect(seen[4].headers['content-length']).toBe('0');
  });

  it('a 100 Continue before the final response is skipped', async () => {
    const b = await rawServer((_p, s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const r = await run(pool(b.address));
    expect([r.status, r.body.toString()]).toEqual([200, 'ok']);
    expect(r.events.filter((e) => e === 'headers')).toHaveLength(1);
  });
});

describe('framing', () => {
  it('chunked, with extensions and trailers, fed one byte at a time', async () => {
    const bytes = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n';
    const b = await rawServer((_p, s) => {
      void (async () => {
        for (const c of bytes) {
          s.write(c);
          await sleep(0);
        }
      })();
    });
    const p = pool(b.address);
    const r = await run(p);
    expect(r.body.toString()).toBe('hello 0123456789');
    expect((await run(p)).body.toString()).toBe('hello 0123456789');
    expect(b.accepted()).toBe(1); // kept alive after a chunked response
  });

  it('until close: the body is whatever comes before the upstream closes; not reused', async () => {
    const b = await rawServer((_p, s) => s.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
    const p = pool(b.address);
    expect((await run(p)).body.toString()).toBe('all of it');
    expect((await run(p)).body.toString()).toBe('all of it');
    expect(b.accepted()).toBe(2);
  });

  it('HEAD, 204 and 304 have no body, whatever content-length says; the connection is reused', async () => {
    const b = await rawServer((path, s) => {
      if (path === '/head') s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
      else if (path === '/204') s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else s.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n');
    });
    const p = pool(b.address);
    const results = [await run(p, { method: 'HEAD', path: '/head' }), await run(p, { path: '/204' }), await run(p, { path: '/304' })];
    expect(results.map((r) => [r.status, r.body.length, r.error?.code])).toEqual([
      [200, 0, undefined],
      [204, 0, undefined],
      [304, 0, undefined],
    ]);
    expect(b.accepted()).toBe(1);
  });

  it('Connection: close, and HTTP/1.0 without keep-alive, are not reused; HTTP/1.0 with keep-alive is', async () => {
    const b = await rawServer((path, s) => {
      if (path === '/close') s.write('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\na');
      else if (path === '/10') s.write('HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb');
      else s.write('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 1\r\n\r\nc');
    });
    const p = pool(b.address);
    await run(p, { path: '/close' });
    await run(p, { path: '/10' });
    await run(p, { path: '/10ka' });
    await run(p, { path: '/10ka' });
    expect(b.accepted()).toBe(3);
  });

  it('decodes any chunked body split anywhere into any TCP writes (property)', async () => {
    const cases = new Map<string, Buffer[]>();
    const b = await rawServer((path, s) => {
      const pieces = cases.get(path) ?? [];
      void (async () => {
        for (const piece of pieces) {
          s.write(piece);
          await sleep(0);
        }
      })();
    });
    const p = pool(b.address);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 12 }), async (body, chunkSizes, splits) => {
        const data = Buffer.from(body);
        let wire = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
        const parts: Buffer[] = [Buffer.from(wire, 'latin1')];
        for (let at = 0, i = 0; at < data.length; i++) {
          const size = Math.min(chunkSizes[i % chunkSizes.length], data.length - at);
          parts.push(Buffer.from(`${size.toString(16)}${i % 3 === 1 ? ';x=y' : ''}\r\n`, 'latin1'), data.subarray(at, at + size), Buffer.from('\r\n', 'latin1'));
          at += size;
        }
        parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
        wire = '';
        const all = Buffer.concat(parts);
        const pieces: Buffer[] = [];
        for (let at = 0, i = 0; at < all.length; i++) {
          const size = splits[i % splits.length];
          pieces.push(all.subarray(at, at + size));
          at += size;
        }
        const path = `/case${n++}`;
        cases.set(path, pieces);
        const r = await run(p, { path });
        expect(r.error).toBeUndefined();
        expect(r.body.equals(data)).toBe(true);
      }),
      { numRuns: 30, seed: 7 },
    );
    expect(b.accepted()).toBe(1);
  });
});

describe('keep-alive', () => {
  it('20 requests in a row use one connection', async () => {
    const b = await httpBackend((_req, res) => res.end('x'));
    let connections = 0;
    const p = pool(b.address);
    for (let i = 0; i < 20; i++) {
      await run(p);
      connections = Math.max(connections, b.sockets.size);
    }
    expect(connections).toBe(1);
    expect(p.stats()).toEqual({ open: 1, idle: 1, queued: 0 });
  });

  it('at most `connections` at once; the rest wait and go in order', async () => {
    const order: string[] = [];
    let most = 0;
    const b = await httpBackend((req, res) => {
      order.push(req.url ?? '');
      most = Math.max(most, b.sockets.size);
      setTimeout(() => res.end('x'), 30);
    });
    const p = pool(b.address, { connections: 2 });
    const runs = [0, 1, 2, 3, 4, 5].map((i) => start(p, { path: `/${i}` }));
    expect(p.stats().queued).toBe(4);
    const results = await Promise.all(runs.map((r) => r.done));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(most).toBe(2);
    expect(order.slice(2)).toEqual(['/2', '/3', '/4', '/5']);
  });

  it('honours the Keep-Alive timeout hint (less two seconds) and keepAliveMs without one', async () => {
    const b = await rawServer((path, s) => {
      const hint = path === '/hint1' ? 'Keep-Alive: timeout=1\r\n' : path === '/hint5' ? 'Keep-Alive: timeout=5\r\n' : '';
      s.write(`HTTP/1.1 200 OK\r\n${hint}content-length: 1\r\n\r\nx`);
    });
    const p = pool(b.address, { keepAliveMs: 100 });
    await run(p, { path: '/hint1' }); // 1 s − 2 s ≤ 0: never reused
    await sleep(10);
    expect(p.stats().open).toBe(0); // closed at once, not kept idle
    await run(p, { path: '/none' });
    expect(b.accepted()).toBe(2);
    await sleep(10);
    await run(p, { path: '/none' }); // within 100 ms: reused
    expect(b.accepted()).toBe(2);
    await sleep(150);
    await run(p, { path: '/hint5' }); // idle past 100 ms: a new connection
    expect(b.accepted()).toBe(3);
    await sleep(150);
    await run(p, { path: '/none' }); // the hint gave it 3 s
    expect(b.accepted()).toBe(3);
  });

  it('an idle connection the upstream closes leaves the pool; the next request opens another', async () => {
    const b = await rawServer((_p, s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx');
      setTimeout(() => s.end(), 20);
    });
    const p = pool(b.address);
    await run(p);
    await sleep(80);
    expect(p.stats()).toEqual({ open: 0, idle: 0, queued: 0 });
    expect((await run(p)).status).toBe(200);
    expect(b.accepted()).toBe(2);
  });
});

describe('failures', () => {
  it('connection refused: ECONNREFUSED, no headers', async () => {
    const r = await run(pool(`127.0.0.1:${await deadPort()}`));
    expect(r.error?.code).toBe('ECONNREFUSED');
    expect(r.events).toEqual(['connect', 'error']);
  });

  it('reset or closed before the response: an error, no headers', async () => {
    const reset = await rawServer((_p, s) => s.resetAndDestroy());
    const closed = await rawServer((_p, s) => s.end());
    const r1 = await run(pool(reset.address));
    const r2 = await run(pool(closed.address));
    expect(['ECONNRESET', 'MESH_CLOSED']).toContain(r1.error?.code);
    expect(r2.error?.code).toBe('MESH_CLOSED');
    expect(r1.events).toEqual(['connect', 'error']);
    expect(r2.events).toEqual(['connect', 'error']);
  });

  it('closed mid-body: headers, some data, then MESH_CLOSED', async () => {
    const b = await rawServer((_p, s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789'));
    const r = await run(pool(b.address));
    expect(r.events[1]).toBe('headers');
    expect(r.body.toString()).toBe('0123456789');
    expect(r.error?.code).toBe('MESH_CLOSED');
  });

  it.each([
    ['a bad status line', 'HTTP/1.1 abc\r\n\r\n'],
    ['a bad header line', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nName : v\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
    ['both transfer-encoding and content-length', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n'],
    ['conflicting content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n'],
    ['a 101 nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
  ])('%s: MESH_PROTOCOL', async (_name, bytes) => {
    const b = await rawServer((_p, s) => s.write(bytes));
    const r = await run(pool(b.address));
    expect(r.error?.code).toBe('MESH_PROTOCOL');
  });

  it('a response head over maxHeaderBytes: MESH_PROTOCOL', async () => {
    const b = await rawServer((_p, s) => s.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(4096)}\r\ncontent-length: 0\r\n\r\n`));
    const r = await run(pool(b.address, { maxHeaderBytes: 1024 }));
    expect(r.error?.code).toBe('MESH_PROTOCOL');
  });

  it('bytes after a complete response close the connection', async () => {
    const b = await rawServer((_p, s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxEXTRA'));
    const p = pool(b.address);
    expect((await run(p)).body.toString()).toBe('x');
    await run(p);
    expect(b.accepted()).toBe(2);
  });
});

describe('abort, backpressure, close', () => {
  it('abort: onError at once, inside the call, with the error given or MESH_ABORTED; the connection closes', async () => {
    const b = await rawServer(() => undefined); // never answers
    const p = pool(b.address);
    const r = start(p);
    await sleep(20);
    r.abort();
    expect(r.events).toEqual(['connect', 'error']); // inside the abort call
    expect((await r.done).error?.code).toBe('MESH_ABORTED');
    const mine = new Error('mine');
    const r2 = start(p);
    r2.abort(mine);
    expect((await r2.done).error).toBe(mine);
    r2.abort();
    await sleep(30);
    expect(r.late).toEqual([]);
    expect(r2.late).toEqual([]);
    expect(b.sockets.size).toBe(0);
  });

  it('aborting a waiting request: it never reaches the upstream', async () => {
    const paths: string[] = [];
    const b = await httpBackend((req, res) => {
      paths.push(req.url ?? '');
      setTimeout(() => res.end('x'), 30);
    });
    const p = pool(b.address, { connections: 1 });
    const first = start(p, { path: '/first' });
    const waiting = start(p, { path: '/waiting' });
    waiting.abort();
    expect((await waiting.done).error?.code).toBe('MESH_ABORTED');
    expect((await first.done).status).toBe(200);
    await run(p, { path: '/third' });
    expect(paths).toEqual(['/first', '/third']);
  });

  it('aborting inside onHeaders: no data follows', async () => {
    const b = await httpBackend((_req, res) => res.end('x'.repeat(100_000)));
    const box: { run?: Run } = {};
    const r = start(pool(b.address), {}, {
      onHeaders: () => {
        box.run?.abort();
        return true;
      },
    });
    box.run = r;
    const result = await r.done;
    await sleep(20);
    expect(result.events).toEqual(['connect', 'headers', 'error']);
    expect(r.late).toEqual([]);
  });

  it('onData returning false pauses reading until resume()', async () => {
    const size = 32 * 1024 * 1024;
    let finished = false;
    const b = await httpBackend((_req, res) => {
      res.writeHead(200, { 'content-length': size });
      const piece = Buffer.alloc(1024 * 1024, 1);
      let sent = 0;
      const more = (): void => {
        while (sent < size) {
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end(() => (finished = true));
      };
      more();
    });
    let received = 0;
    let paused = false;
    const r = start(pool(b.address), {}, {
      onData: (chunk) => {
        received += chunk.length;
        if (!paused && received > 0) {
          paused = true;
          return false;
        }
        return true;
      },
    });
    await sleep(300);
    const whilePaused = received;
    expect(whilePaused).toBeLessThan(1024 * 1024);
    expect(finished).toBe(false);
    r.resume();
    const result = await r.done;
    expect(result.body.length).toBe(size);
    expect(finished).toBe(true);
  });

  it('onHeaders returning false holds the body until resume()', async () => {
    const b = await httpBackend((_req, res) => res.end('the body'));
    const r = start(pool(b.address), {}, { onHeaders: () => false });
    await sleep(100);
    expect(r.events).toEqual(['connect', 'headers']);
    r.resume();
    expect((await r.done).body.toString()).toBe('the body');
  });

  it('close(): waiting and in-flight requests fail with MESH_POOL_CLOSED, and so does a dispatch after', async () => {
    const b = await rawServer(() => undefined);
    const p = pool(b.address, { connections: 1 });
    const inFlight = start(p);
    const waiting = start(p);
    await sleep(20);
    await p.close();
    expect((await inFlight.done).error?.code).toBe('MESH_POOL_CLOSED');
    expect((await waiting.done).error?.code).toBe('MESH_POOL_CLOSED');
    const after = await run(p);
    expect(after.events).toEqual(['connect', 'error']);
    expect(after.error?.code).toBe('MESH_POOL_CLOSED');
    await sleep(20);
    expect(b.sockets.size).toBe(0);
  });
});

describe('the address', () => {
  it('must be host:port', () => {
    expect(() => new UpstreamPool('nohost')).toThrow(/host:port/);
    expect(() => new UpstreamPool('127.0.0.1:0')).toThrow(/host:port/);
    expect(() => new UpstreamPool('127.0.0.1:99999')).toThrow(/host:port/);
  });
});
