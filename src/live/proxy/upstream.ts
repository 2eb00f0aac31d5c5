/**
 * The proxy's upstream side: a keep-alive pool of HTTP/1.1 connections to one upstream,
 * written for this proxy instead of undici because it is the hot path where performance
 * demands it. A bare node:http + undici proxy spent ≈ 60–70 µs of CPU per request on this
 * machine against nginx's ≈ 25, and so ran out of CPU near half of nginx's rate; the same
 * node:http front with this client behind spent ≈ 30% less CPU per request in interleaved
 * wrk runs (bench/README.md, "Where the proxy's time goes"; the front is now meshsim's own
 * too, downstream.ts). What it
 * saves is generality: one request per connection at a time (no pipelining), no TLS, no
 * HTTP/2, no redirects, no retries of its own (the router decides), responses parsed by
 * the small state machine below.
 *
 * The contract the router relies on (tested in test/live/proxy/upstream.test.ts):
 * - `dispatch(request, handler)` calls `handler.onConnect(abort)` synchronously, then, in
 *   order and later: `onHeaders` once for the final response (1xx responses are read and
 *   skipped), `onData` for each piece of the decoded body (chunked framing removed, never
 *   an empty piece), then exactly one of `onComplete` or `onError`, and nothing after it.
 *   `onError` may also come with no `onHeaders` before it (connect failure, reset, malformed
 *   response, abort).
 * - `abort(err?)` ends the request at once: unless it already completed, the handler gets
 *   `onError(err ?? an UpstreamError 'MESH_ABORTED')` synchronously, inside the abort call,
 *   and the connection it was using (if any) is closed, since its response was not read to
 *   the end. Aborting twice, or after the end, does nothing.
 * - `onHeaders` or `onData` returning false pauses reading from the connection until the
 *   `resume` given to `onHeaders` is called (backpressure towards a slow client).
 * - At most `connections` connections are open at once (unlimited when null); requests
 *   beyond wait in FIFO order for a free connection. A connection goes back to the pool
 *   when its response is complete, unless the response said `Connection: close` (or was
 *   HTTP/1.0 without keep-alive, or was delimited by closing the connection), the request's
 *   body was not sent to the end, or it has been idle longer than the keep-alive time
 *   (the upstream's `Keep-Alive: timeout=N` hint minus two seconds, undici's margin, else
 *   `keepAliveMs`; a hint of two seconds or less: not reused).
 * - Framing of the request: a Buffer body is sent with its `content-length` (replacing one
 *   in `headers`); a stream body with the `content-length` in `headers` if there is one,
 *   else `transfer-encoding: chunked`; no body sends `content-length: 0` for POST, PUT and
 *   PATCH when `headers` has no content-length. `host` is added (the pool's address) when
 *   `headers` has none.
 * - Framing of the response (RFC 9112 §6.3): no body for HEAD requests and 204, 304 and 1xx
 *   statuses; else chunked when the last transfer coding is chunked, else `content-length`,
 *   else until the connection closes. Both Transfer-Encoding and Content-Length is a
 *   malformed response (llhttp's rule too: the body's length would be ambiguous).
 * - Errors: the socket's own codes (ECONNREFUSED, ECONNRESET, EPIPE, …) pass through;
 *   the pool's are listed in UpstreamErrorCode.
 */
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { timerMs } from '../realtime.js';
import { badInLine, CHUNK_DONE, CHUNK_ERROR, CHUNK_MORE, ChunkedFraming, contentLength, CRLFCRLF, hasToken, keepAliveTimeout, lastCodingIsChunked, TOKEN_CHAR, trimOws } from './http1.js';

/** One request as the router hands it to the pool. */
export interface UpstreamRequest {
  readonly method: string;
  /** Origin-form target: `/path?query`. */
  readonly path: string;
  /** Flat `[name, value, …]`, hop-by-hop headers already removed (see headers.ts). */
  readonly headers: readonly string[];
  /** None, a whole body, or a stream read once (so never retried). */
  readonly body: Buffer | Readable | null;
}

/** What the pool tells about one request (see the contract above). */
export interface UpstreamHandler {
  onConnect(abort: (err?: Error) => void): void;
  /** The final response: status, headers as received (flat, values trimmed), reason phrase. false pauses. */
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
  /** A piece of the decoded body. false pauses. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error & { code?: string }): void;
}

/**
 * The pool's own error codes (the router maps them to outcomes: router.ts outcomeOfError):
 * - `MESH_CONNECT_TIMEOUT`: no connection within `connectTimeoutMs`;
 * - `MESH_CLOSED`: the upstream closed the connection before the response was complete
 *   (also before it began: a kept-alive connection the upstream had just closed);
 * - `MESH_PROTOCOL`: a malformed response (status line, header, content-length, chunk
 *   size or framing, a 101 nobody asked for) or response headers over `maxHeaderBytes`.
 *   Bytes after a complete response (a body longer than its content-length, or bytes on an
 *   idle connection) are no one's error: the response completes at its length and the
 *   connection is closed, not reused;
 * - `MESH_REQUEST_BODY`: the request's body stream failed or ended early;
 * - `MESH_ABORTED`: `abort()` without an error;
 * - `MESH_POOL_CLOSED`: the pool was closed with the request waiting or in flight.
 */
export type UpstreamErrorCode = 'MESH_CONNECT_TIMEOUT' | 'MESH_CLOSED' | 'MESH_PROTOCOL' | 'MESH_REQUEST_BODY' | 'MESH_ABORTED' | 'MESH_POOL_CLOSED';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface UpstreamPoolOptions {
  /** Most connections open at once; null (the default): no limit. */
  readonly connections?: number | null;
  /** Connect timeout, ms (default 1000). */
  readonly connectTimeoutMs?: number;
  /** Largest response head (status line and headers) accepted, bytes (default 16 KiB). */
  readonly maxHeaderBytes?: number;
  /** How long an idle connection is reused when the upstream gives no Keep-Alive hint, ms (default 4000, undici's). */
  readonly keepAliveMs?: number;
}

/** Connections open (of them idle in the pool) and requests waiting for one. */
export interface UpstreamPoolStats {
  readonly open: number;
  readonly idle: number;
  readonly queued: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_KEEP_ALIVE_MS = 4_000;
/** Subtracted from the upstream's Keep-Alive hint, as undici does (its keepAliveTimeoutThreshold). */
const KEEP_ALIVE_MARGIN_MS = 2_000;

// Parser states of a connection.
const S_IDLE: number = 0;
const S_HEAD: number = 1;
const S_LENGTH: number = 2;
const S_CLOSE: number = 3;
const S_CHUNKED: number = 4; // a chunked body's framing lines (ChunkedFraming)
const S_CHUNK_DATA: number = 5;

function protocolError(message: string): UpstreamError {
  return new UpstreamError('MESH_PROTOCOL', `malformed response from the upstream: ${message}`);
}

/** One request from dispatch to its end. */
class Pending {
  /** The handler has had its terminal call (or the request was aborted). */
  done = false;
  conn: Conn | undefined = undefined;
  readonly isHead: boolean;

  constructor(
    readonly request: UpstreamRequest,
    readonly handler: UpstreamHandler,
    readonly pool: UpstreamPool,
  ) {
    this.isHead = request.method === 'HEAD';
  }

  readonly abort = (err?: Error): void => {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    if (conn !== undefined) {
      this.conn = undefined;
      conn.req = undefined;
      conn.destroy();
    }
    this.pool.dropQueued();
    this.handler.onError(err ?? new UpstreamError('MESH_ABORTED', 'request aborted'));
  };

  readonly resume = (): void => {
    const conn = this.conn;
    if (conn !== undefined && conn.req === this) conn.resume();
  };

  fail(err: Error & { code?: string }): void {
    if (this.done) return;
    this.done = true;
    this.conn = undefined;
    this.handler.onError(err);
  }
}

/** One keep-alive connection and the response parser on it. */
class Conn {
  req: Pending | undefined = undefined;
  dead = false;
  /** Reusable after the current response (the response did not refuse keep-alive, the body went out whole). */
  private keepAlive = true;
  private bodySent = true;
  idleSince = 0;
  keepAliveMs: number;
  private state: number = S_IDLE;
  /** Body bytes still due (S_LENGTH, S_CHUNK_DATA). */
  private remaining = 0;
  /** A response head read in part. */
  private partial: Buffer | null = null;
  private readonly framing: ChunkedFraming;
  private paused = false;
  /** Bytes read but not yet parsed while paused. */
  private stash: Buffer | null = null;
  private error: (Error & { code?: string }) | undefined = undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly socket: Socket;
  /** Stops streaming the current request's body (its listeners removed), if one is streaming. */
  private detachBody: (() => void) | undefined = undefined;

  constructor(readonly pool: UpstreamPool) {
    this.framing = new ChunkedFraming(false, pool.maxHeaderBytes);
    this.keepAliveMs = pool.keepAliveMs;
    const socket = connect({ host: pool.host, port: pool.port, noDelay: true });
    this.socket = socket;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.error = new UpstreamError('MESH_CONNECT_TIMEOUT', `no connection to ${pool.address} within ${pool.connectTimeoutMs} ms`);
      socket.destroy();
      // Past Node's longest timer (~24.8 days) setTimeout would fire after 1 ms: capped.
    }, timerMs(pool.connectTimeoutMs));
    socket.once('connect', () => {
      if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    });
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('end', () => this.ended());
    socket.on('error', (err: Error) => {
      this.error ??= err;
    });
    socket.on('close', () => this.closed());
  }

  /** Sends request `p` on this connection. */
  assign(p: Pending): void {
    this.req = p;
    p.conn = this;
    this.state = S_HEAD;
    this.keepAlive = true;
    this.partial = null;
    const { method, path, headers, body } = p.request;
    const buffered = body === null || Buffer.isBuffer(body);
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let host = false;
    let length = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.length === 4 && name.toLowerCase() === 'host') host = true;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') {
        if (buffered) continue; // replaced by the body's own length below
        length = true;
      }
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    if (!host) head += `host: ${this.pool.address}\r\n`;
    const socket = this.socket;
    if (body === null) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') head += 'content-length: 0\r\n';
      socket.write(`${head}\r\n`, 'latin1');
      this.bodySent = true;
      return;
    }
    if (Buffer.isBuffer(body)) {
      head += `content-length: ${body.length}\r\n\r\n`;
      socket.cork();
      socket.write(head, 'latin1');
      if (body.length > 0) socket.write(body);
      socket.uncork();
      this.bodySent = true;
      return;
    }
    if (!length) head += 'transfer-encoding: chunked\r\n';
    socket.write(`${head}\r\n`, 'latin1');
    this.bodySent = false;
    this.streamBody(body, !length);
  }

  /** Streams a request body with backpressure; chunk-encoded when it has no length. */
  private streamBody(body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const p = this.req;
    // The handlers first: the early returns below call them, and through them detach().
    const onData = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      let more: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        more = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else more = socket.write(chunk);
      if (!more) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const onDrain = (): void => {
      if (this.detachBody === detach) body.resume();
    };
    const onEnd = (): void => {
      detach();
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.bodySent = true;
    };
    const onBroken = (): void => {
      detach();
      // The stream ended without 'end': the request cannot be completed upstream.
      if (p !== undefined && this.req === p) {
        this.req = undefined;
        this.destroy();
        p.fail(new UpstreamError('MESH_REQUEST_BODY', 'the request body stream failed or ended early'));
      }
    };
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onBroken);
      body.off('close', onBroken);
      socket.off('drain', onDrain);
      if (this.detachBody === detach) this.detachBody = undefined;
    };
    if (body.readableEnded) return onEnd();
    if (body.destroyed) return onBroken();
    this.detachBody = detach;
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onBroken);
    body.on('close', onBroken);
    body.resume();
  }

  private stopBody(): void {
    const detach = this.detachBody;
    if (detach !== undefined) detach();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const stash = this.stash;
    this.stash = null;
    if (stash !== null) this.read(stash);
    if (!this.paused && !this.dead) this.socket.resume();
  }

  private pause(rest: Buffer | null): void {
    this.paused = true;
    this.stash = rest !== null && rest.length > 0 ? rest : null;
    this.socket.pause();
  }

  /** Parses what the socket read. */
  private read(input: Buffer): void {
    let chunk = input;
    let off = 0;
    if (this.paused) {
      this.stash = this.stash === null ? chunk : Buffer.concat([this.stash, chunk]);
      return;
    }
    while (off < chunk.length) {
      const p = this.req;
      if (p === undefined) {
        // Bytes nobody asked for: the connection's framing can no longer be trusted.
        this.destroy();
        return;
      }
      switch (this.state) {
        case S_HEAD: {
          let from = off;
          if (this.partial !== null) {
            // Search on from just before where the last piece ended (a head read byte by byte stays linear).
            from = Math.max(0, this.partial.length - 3);
            chunk = Buffer.concat([this.partial, chunk.subarray(off)]);
            off = 0;
            this.partial = null;
          }
          const end = chunk.indexOf(CRLFCRLF, from);
          const max = this.pool.maxHeaderBytes;
          if (end < 0 || end - off > max) {
            if (chunk.length - off > max) return this.failParse(p, protocolError(`response head over ${max} bytes`));
            this.partial = chunk.subarray(off);
            return;
          }
          const text = chunk.toString('latin1', off, end);
          off = end + 4;
          if (!this.head(p, text)) return;
          if (this.state === S_IDLE) {
            // A final response without a body (HEAD, 204, 304, content-length 0).
            return this.complete(p, off < chunk.length);
          }
          if (this.paused) return this.pause(chunk.subarray(off));
          break;
        }
        case S_LENGTH:
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, chunk.length - off);
          const piece = chunk.subarray(off, off + n);
          off += n;
          this.remaining -= n;
          const more = p.handler.onData(piece);
          if (this.req !== p) return; // aborted in onData
          if (this.remaining === 0) {
            if (this.state === S_LENGTH) {
              // Bytes after the response that nobody asked for: complete() closes the connection.
              return this.complete(p, off < chunk.length);
            }
            this.state = S_CHUNKED;
          }
          if (!more) return this.pause(chunk.subarray(off));
          break;
        }
        case S_CLOSE: {
          const piece = off === 0 ? chunk : chunk.subarray(off);
          off = chunk.length;
          const more = p.handler.onData(piece);
          if (this.req !== p) return;
          if (!more) return this.pause(null);
          break;
        }
        case S_CHUNKED: {
          const r = this.framing.read(chunk, off);
          off = this.framing.offset;
          if (r === CHUNK_MORE) break;
          if (r === CHUNK_ERROR) return this.failParse(p, protocolError(this.framing.error));
          // Bytes after the response that nobody asked for: complete() closes the connection.
          if (r === CHUNK_DONE) return this.complete(p, off < chunk.length);
          this.state = S_CHUNK_DATA;
          this.remaining = r;
          break;
        }
        default:
          this.destroy();
          return;
      }
    }
  }

  /** Parses a response head and tells the handler. Returns false when reading must stop (a malformed head, an abort). */
  private head(p: Pending, text: string): boolean {
    // Status line: HTTP/1.x SSS[ reason]. Parsed by hand, as are the headers below: this
    // runs once per response, and split + regular expressions made it 2× the cost.
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    const minor = text.charCodeAt(7);
    const d0 = text.charCodeAt(9) - 48;
    const d1 = text.charCodeAt(10) - 48;
    const d2 = text.charCodeAt(11) - 48;
    if (
      eol < 12 ||
      !text.startsWith('HTTP/1.') ||
      (minor !== 48 && minor !== 49) ||
      text.charCodeAt(8) !== 32 ||
      // 100–599 only (RFC 9110 §15: others are invalid): one of 600–999 is a malformed response (502).
      !(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
      (eol > 12 && text.charCodeAt(12) !== 32) ||
      badInLine(text, 0, eol)
    ) {
      this.failParse(p, protocolError(`bad status line ${JSON.stringify(text.slice(0, Math.min(eol, 60)))}`));
      return false;
    }
    const status = d0 * 100 + d1 * 10 + d2;
    const statusText = eol > 13 ? text.slice(13, eol) : '';
    const headers: string[] = [];
    let length = -1;
    let transfer: string | undefined;
    let connection: string | undefined;
    let keepAliveHint: string | undefined;
    let pos = eol + 2;
    while (pos < text.length) {
      let end = text.indexOf('\r\n', pos);
      if (end < 0) end = text.length;
      let colon = pos;
      while (colon < end && TOKEN_CHAR[text.charCodeAt(colon)] === 1) colon++;
      if (colon === pos || colon === end || text.charCodeAt(colon) !== 58 /* ':' */ || badInLine(text, colon, end)) {
        this.failParse(p, protocolError(`bad header line ${JSON.stringify(text.slice(pos, Math.min(end, pos + 60)))}`));
        return false;
      }
      const name = text.slice(pos, colon);
      const value = trimOws(text, colon + 1, end);
      pos = end + 2;
      headers.push(name, value);
      const n = name.length;
      if (n === 14 && name.toLowerCase() === 'content-length') {
        const v = contentLength(value);
        if (v < 0 || (length >= 0 && v !== length)) {
          this.failParse(p, protocolError(`bad content-length ${JSON.stringify(value.slice(0, 40))}`));
          return false;
        }
        length = v;
      } else if (n === 17 && name.toLowerCase() === 'transfer-encoding') transfer = transfer === undefined ? value : `${transfer}, ${value}`;
      else if (n === 10) {
        const lower = name.toLowerCase();
        if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
        else if (lower === 'keep-alive') keepAliveHint = value;
      }
    }
    if (status < 200) {
      if (status === 101) {
        this.failParse(p, protocolError('101 Switching Protocols to a request that asked for no upgrade'));
        return false;
      }
      return true; // an interim response: the final one follows on the same connection
    }
    // Keep-alive: HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`.
    this.keepAlive = minor === 49 ? connection === undefined || !hasToken(connection, 'close') : connection !== undefined && hasToken(connection, 'keep-alive');
    if (keepAliveHint !== undefined) {
      const seconds = keepAliveTimeout(keepAliveHint);
      if (seconds >= 0) {
        const ms = seconds * 1000 - KEEP_ALIVE_MARGIN_MS;
        if (ms <= 0) this.keepAlive = false;
        else this.keepAliveMs = Math.min(ms, 600_000);
      }
    }
    let next: number;
    if (p.isHead || status === 204 || status === 304) next = S_IDLE;
    else if (transfer !== undefined) {
      if (length >= 0) {
        this.failParse(p, protocolError('both transfer-encoding and content-length'));
        return false;
      }
      if (lastCodingIsChunked(transfer)) {
        next = S_CHUNKED;
        this.framing.reset();
      } else {
        next = S_CLOSE;
        this.keepAlive = false;
      }
    } else if (length >= 0) next = length === 0 ? S_IDLE : S_LENGTH;
    else {
      next = S_CLOSE;
      this.keepAlive = false;
    }
    this.state = next;
    this.remaining = length;
    const more = p.handler.onHeaders(status, headers, p.resume, statusText);
    if (this.req !== p) return false; // aborted in onHeaders
    if (!more && next !== S_IDLE) this.paused = true;
    return true;
  }

  /** The response to `p` is complete; `leftover`: more bytes followed it (the connection is then closed, not reused). */
  private complete(p: Pending, leftover: boolean): void {
    this.req = undefined;
    this.state = S_IDLE;
    p.done = true;
    p.conn = undefined;
    const reuse = this.keepAlive && this.bodySent && !leftover && !this.dead;
    if (!reuse) this.stopBody();
    if (reuse) this.pool.release(this);
    else this.destroy();
    p.handler.onComplete();
  }

  private failParse(p: Pending, err: UpstreamError): void {
    this.req = undefined;
    this.destroy();
    p.fail(err);
  }

  /** The upstream ended its side. */
  private ended(): void {
    const p = this.req;
    if (p !== undefined && this.state === S_CLOSE) {
      this.complete(p, false);
      return;
    }
    this.destroy();
  }

  /** The socket closed: a request still on it failed. */
  private closed(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.destroy();
    const p = this.req;
    if (p === undefined) return;
    this.req = undefined;
    this.stopBody();
    p.fail(this.error ?? new UpstreamError('MESH_CLOSED', `${this.pool.address} closed the connection before the response was complete`));
  }

  /** Closes the connection and takes it out of the pool (a request on it is not told: callers do that). */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.stopBody();
    this.socket.destroy();
    this.pool.gone(this);
  }
}

/** A keep-alive pool of HTTP/1.1 connections to one upstream (see the contract at the top). */
export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly keepAliveMs: number;
  private readonly limit: number;
  private open = 0;
  /** Idle connections, most recently used last. */
  private readonly idle: Conn[] = [];
  private readonly conns = new Set<Conn>();
  private queue: Pending[] = [];
  private queueHead = 0;
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly address: string,
    options: UpstreamPoolOptions = {},
  ) {
    const colon = address.lastIndexOf(':');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`upstream address must be host:port, got '${address}'`);
    this.host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = port;
    this.limit = options.connections ?? Infinity;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    const p = new Pending(request, handler, this);
    handler.onConnect(p.abort);
    if (p.done) return;
    if (this.closed) {
      p.fail(new UpstreamError('MESH_POOL_CLOSED', `the pool to ${this.address} is closed`));
      return;
    }
    const body = request.body;
    // A stream body waits, paused, until its connection takes it (another 'data' listener,
    // such as a size check, must not make it flow into nowhere meanwhile).
    if (body !== null && !Buffer.isBuffer(body)) body.pause();
    const conn = this.takeIdle();
    if (conn !== undefined) conn.assign(p);
    else if (this.open < this.limit) this.connect().assign(p);
    else this.queue.push(p);
  }

  stats(): UpstreamPoolStats {
    let queued = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) if (!this.queue[i].done) queued++;
    return { open: this.open, idle: this.idle.length, queued };
  }

  /** Closes every connection; requests waiting or in flight get 'MESH_POOL_CLOSED'. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const err = (): UpstreamError => new UpstreamError('MESH_POOL_CLOSED', `the pool to ${this.address} was closed`);
    const queued = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    for (const p of queued) p.fail(err());
    for (const c of [...this.conns]) {
      const p = c.req;
      c.req = undefined;
      c.destroy();
      p?.fail(err());
    }
    await Promise.resolve();
  }

  private connect(): Conn {
    const c = new Conn(this);
    this.open++;
    this.conns.add(c);
    return c;
  }

  private takeIdle(): Conn | undefined {
    const now = performance.now();
    while (this.idle.length > 0) {
      const c = this.idle.pop() as Conn;
      if (now - c.idleSince < c.keepAliveMs) return c;
      c.destroy(); // idle past its keep-alive: the upstream may close it any moment
    }
    return undefined;
  }

  /** A connection finished its response and may be reused. */
  release(c: Conn): void {
    const next = this.nextQueued();
    if (next !== undefined) {
      c.assign(next);
      return;
    }
    c.idleSince = performance.now();
    this.idle.push(c);
    if (this.sweeper === undefined) {
      const every = Math.max(1_000, Math.min(this.keepAliveMs, 60_000));
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  /** A connection closed (or was closed): one fewer open, and a waiting request may take its place. */
  gone(c: Conn): void {
    if (!this.conns.delete(c)) return;
    this.open--;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.closed || this.open >= this.limit) return;
    const next = this.nextQueued();
    if (next !== undefined) this.connect().assign(next);
  }

  /** Forgets aborted requests at the head of the queue. */
  dropQueued(): void {
    while (this.queueHead < this.queue.length && this.queue[this.queueHead].done) this.queueHead++;
    if (this.queueHead === this.queue.length && this.queueHead > 0) {
      this.queue = [];
      this.queueHead = 0;
    }
  }

  private nextQueued(): Pending | undefined {
    while (this.queueHead < this.queue.length) {
      const p = this.queue[this.queueHead++];
      if (!p.done) {
        if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.queueHead);
          this.queueHead = 0;
        }
        return p;
      }
    }
    this.queue = [];
    this.queueHead = 0;
    return undefined;
  }

  /** Closes idle connections past their keep-alive time. */
  private sweep(): void {
    const now = performance.now();
    for (const c of [...this.idle]) if (now - c.idleSince >= c.keepAliveMs) c.destroy();
    if (this.idle.length === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
