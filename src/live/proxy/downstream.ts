/**
 * The proxy's front: an HTTP/1.1 server on node:net, meshsim's own, as the upstream pool
 * (upstream.ts) is. It is the hot path of `meshsim proxy`: node:http's server spent ≈ 30 µs
 * of CPU per proxied request here (IncomingMessage and ServerResponse streams, header
 * objects, per-socket timers), a third of the proxy's time; this front does the same work
 * with one parser pass over the head, one socket write per response and no timer per
 * request (bench/README.md has the figures).
 *
 * The contract:
 * - Requests are parsed strictly (RFC 9112), refusing what a smuggling attack relies on:
 *   the request line is `method SP target SP HTTP/1.x` (a token method, a target of
 *   visible ASCII); every line ends in CRLF; header names are tokens followed at once by a
 *   colon (no obs-fold, no space before the colon); values hold no control characters but
 *   tab; content-length is digits, at most once; transfer-encoding must end in `chunked`
 *   and cannot come with content-length or in HTTP/1.0; HTTP/1.1 needs exactly one Host.
 *   A malformed request is answered 400, a head over `maxHeaderBytes` 431, a transfer
 *   coding other than chunked 501, a version other than 1.0/1.1 505, an Expect other than
 *   100-continue 417, CONNECT 405; each such answer closes the connection and is reported
 *   to `handler.rejected(status)`. Empty lines before a request line are skipped (RFC 9112 §2.2).
 * - A well-formed head goes to `handler.request(req, res)`. A body (content-length or
 *   chunked, de-chunked, trailers dropped) is `req.body`, a Readable with backpressure;
 *   null when there is none.
 * - The response: `res.writeHead(status, statusText, headers)` takes flat [name, value, …]
 *   headers whose names and values hold no CR or LF (the caller's duty: the upstream pool's
 *   parser and constants are the only sources); a response with content-length is sent as
 *   it is, one without gets `transfer-encoding: chunked` (close-delimited for an HTTP/1.0
 *   client), HEAD, 204, 304 and 1xx have no body; `date` is added when missing;
 *   `keep-alive: timeout=N` or `connection: close` says what happens next. The head is
 *   written together with the first piece of the body (the socket is corked until `end()`
 *   or the end of the tick), so a small response is one write.
 * - `res.listener.closed()` is called once, after the response is over (on the next tick
 *   after `end()`, `res.writableFinished` true) or when it was cut off (`res.destroyed`);
 *   `res.listener.drained()` after a `write` that returned false, once the client has
 *   read what was buffered.
 * - Connections are kept alive (HTTP/1.1 unless `Connection: close`; HTTP/1.0 with
 *   `keep-alive`), requests on one are answered in order (pipelined bytes wait until the
 *   response before them is over). A response that ends before its request's body was
 *   read whole closes the connection. Idle connections close after `keepAliveTimeoutMs`;
 *   a head not whole within `headersTimeoutMs` of its first byte is answered 408; a
 *   request whose body is not read whole within `requestTimeoutMs` of its first byte is
 *   handed to `res.listener.readTimedOut()` when its response has not started (the
 *   proxy answers 408 there, as node:http and Envoy do), and its connection closes after
 *   that answer, or at once when there is none. Timeouts are checked by one sweep a
 *   second (no timer per request), so they act up to a second late.
 * - A client that ends its side (FIN) with a request in progress has gone: the request is
 *   abandoned (its response cut off), as node:http and Envoy do. A connection closed after an answer is drained of what the
 *   client still sends (so that the answer is not lost to a reset) for at most the
 *   keep-alive time.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { badInValue, CHUNK_DONE, CHUNK_ERROR, CHUNK_MORE, ChunkedFraming, CRLFCRLF, hasToken, TOKEN_CHAR, trimOws } from './http1.js';

export interface DownstreamOptions {
  /** Longest request head (request line and headers, bytes): over it, 431. Also bounds a chunked body's trailers. */
  readonly maxHeaderBytes: number;
  /** An idle keep-alive connection is closed after this long (ms; 5 s as Node's http server). */
  readonly keepAliveTimeoutMs?: number;
  /** A request head must be whole this long after its first byte (ms; 60 s as Node's): else 408. */
  readonly headersTimeoutMs?: number;
  /** A request must be read whole (head and body) this long after its first byte (ms; 300 s as Node's; 0 for no limit): else `listener.readTimedOut()`, and the connection closes. */
  readonly requestTimeoutMs?: number;
}

/** What the front calls. */
export interface DownstreamHandler {
  /** A request whose head arrived whole and well-formed. */
  request(req: DownstreamRequest, res: DownstreamResponse): void;
  /** The front answered a request itself with `status` (see the contract at the top). */
  rejected(status: number): void;
}

/** Told about one response. */
export interface ResponseListener {
  /** The response is over: finished (`writableFinished`) or cut off (`destroyed`). Called once. */
  closed(): void;
  /** A write that returned false has drained. */
  drained(): void;
  /**
   * The request's body was not read whole within `requestTimeoutMs` and the response has
   * not started: answer it now if it is to be answered (408); the connection closes after
   * the answer, or at once if the response has not ended when this returns.
   */
  readTimedOut(): void;
  /**
   * The request's chunked body is malformed (a bad chunk line) and the response has not
   * started: answer it now if it is to be answered (400); the connection closes after the
   * answer, or at once if the response has not ended when this returns. What the client
   * sends after the bad line is dropped.
   */
  bodyMalformed(): void;
}

/** One request, as it came: the head parsed, the body (if any) a stream. */
export class DownstreamRequest {
  /** The body (de-chunked), or null when the request has none. */
  body: RequestBody | null = null;
  /** Every byte of the request (head and body) has been read. */
  complete = false;

  constructor(
    readonly method: string,
    /** The request target as sent (origin-form `/path?query`, or absolute-form, `*`, …). */
    readonly url: string,
    /** The headers as sent, [name, value, …] (names in their case, values without surrounding spaces). */
    readonly rawHeaders: string[],
    /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
    readonly minor: number,
    readonly remoteAddress: string,
    /** The content-length, or −1 when there is none. */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** `Expect: 100-continue` (HTTP/1.1): the client waits for `res.writeContinue()` (or the answer) before its body. */
    readonly expectContinue: boolean,
  ) {}

  /** The value of the first header named `lower` (lower case), or undefined. */
  header(lower: string): string | undefined {
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lower.length && raw[i].toLowerCase() === lower) return raw[i + 1];
    return undefined;
  }
}

/** A request body: the connection pushes the de-chunked bytes; reading slower pauses the socket. */
export class RequestBody extends Readable {
  /** Bytes of body received so far (de-chunked), whether read yet or not. */
  received = 0;
  /**
   * Told `received` as each piece arrives, before it is pushed: how a handler watches the
   * size of a body it has not started reading (a 'data' listener would start the stream
   * flowing, and what flowed before the reader came would be lost).
   */
  onReceived: ((received: number) => void) | undefined = undefined;

  constructor(private readonly conn: Connection) {
    super();
  }

  override _read(): void {
    this.conn.unpause(PAUSE_BODY);
  }
}

const PAUSE_BODY = 1; // the request body's reader is behind
const PAUSE_STASH = 2; // pipelined bytes pile up behind a response in progress

// Connection states.
const C_HEAD: number = 0; // waiting for, or reading, a request head
const C_LENGTH: number = 1;
const C_CHUNKED: number = 2; // a chunked body's framing lines (ChunkedFraming)
const C_CHUNK_DATA: number = 3;
const C_WAIT: number = 6; // the request was read whole; its response is in progress
const C_LINGER: number = 7; // answered and closing: what the client still sends is read and dropped
const C_DEAD: number = 8;

/** One response to one request. */
export class DownstreamResponse {
  statusCode = 200;
  headersSent = false;
  /** Cut off: the connection was destroyed before the response was over. */
  destroyed = false;
  /** end() was called: the whole response was handed to the socket. */
  writableFinished = false;
  listener: ResponseListener | undefined = undefined;
  /** The connection is kept alive after this response (decided by the request; closeAfter() and a closing server clear it). */
  keepAlive: boolean;
  private head: string | null = null;
  private chunked = false;
  private bodiless = false;
  private corked = false;
  private notified = false;

  constructor(
    private readonly conn: Connection,
    readonly req: DownstreamRequest,
    keepAlive: boolean,
  ) {
    this.keepAlive = keepAlive;
  }

  /** The client can no longer be reached: the response was cut off, or its connection is closing (its 'close' not yet seen). */
  get clientGone(): boolean {
    return this.destroyed || this.conn.state === C_DEAD;
  }

  /** The connection closes after this response. Before writeHead only (it says so in the head). */
  closeAfter(): void {
    this.keepAlive = false;
  }

  /** Sends `100 Continue` now (for a request with `Expect: 100-continue`). */
  writeContinue(): void {
    if (this.headersSent || this.destroyed) return;
    this.conn.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
  }

  /** Starts the response (see the contract at the top). Sent with the first write or end(). */
  writeHead(status: number, statusText: string | undefined, headers: readonly string[]): void {
    if (this.headersSent) throw new Error('writeHead: the response has started');
    this.statusCode = status;
    this.headersSent = true;
    let head = `HTTP/1.1 ${status} ${statusText === undefined || statusText === '' ? (STATUS_CODES[status] ?? 'Unknown') : statusText}\r\n`;
    let length = false;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      const n = name.length;
      if (n === 14 && name.toLowerCase() === 'content-length') length = true;
      else if (n === 4 && name.toLowerCase() === 'date') date = true;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    const req = this.req;
    this.bodiless = (req.method.length === 4 && req.method === 'HEAD') || status === 204 || status === 304 || status < 200;
    if (this.conn.server.closing) this.keepAlive = false;
    if (!this.bodiless && !length) {
      if (req.minor === 1) {
        this.chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      } else this.keepAlive = false; // HTTP/1.0: the body ends when the connection does
    }
    if (!date) head += `date: ${httpDate()}\r\n`;
    head += this.keepAlive ? (req.minor === 0 ? `connection: keep-alive\r\n${this.conn.server.keepAliveHint}` : this.conn.server.keepAliveHint) : 'connection: close\r\n\r\n';
    this.head = head;
  }

  /** Writes a piece of the body; false when the client's socket buffer is full (listener.drained() follows). */
  write(chunk: Buffer): boolean {
    if (this.destroyed || this.writableFinished) return false;
    const socket = this.start('write');
    if (this.bodiless || chunk.length === 0) return true;
    const more = this.body(socket, chunk);
    if (!more) this.conn.wantsDrain = this;
    return more;
  }

  /** Ends the response (with a last piece of body). */
  end(chunk?: Buffer): void {
    if (this.destroyed || this.writableFinished) return;
    const socket = this.start('end');
    if (chunk !== undefined && chunk.length > 0 && !this.bodiless) this.body(socket, chunk);
    if (this.chunked) socket.write('0\r\n\r\n', 'latin1');
    this.corked = false;
    socket.uncork();
    this.writableFinished = true;
    this.conn.responseEnded();
  }

  /** Corks the socket (until the end of the tick, or until end()) and sends the head if it has not gone yet. */
  private start(caller: 'write' | 'end'): Socket {
    if (!this.headersSent) throw new Error(`${caller}: writeHead first`);
    const socket = this.conn.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      if (caller === 'write') process.nextTick(uncork, this);
    }
    if (this.head !== null) {
      socket.write(this.head, 'latin1');
      this.head = null;
    }
    return socket;
  }

  /** Writes a piece of body in the response's framing; false when the socket's buffer is full. */
  private body(socket: Socket, chunk: Buffer): boolean {
    if (!this.chunked) return socket.write(chunk);
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }

  /** Cuts the response off: the connection is closed. */
  destroy(): void {
    if (this.notified) return;
    if (!this.writableFinished) this.destroyed = true;
    this.conn.destroy();
  }

  /** @internal the response is over (ended or cut off): the listener hears it once. */
  notifyClosed(): void {
    if (this.notified) return;
    this.notified = true;
    if (!this.writableFinished) this.destroyed = true;
    this.listener?.closed();
  }

  /** @internal */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.conn.socket.uncork();
  }
}

function uncork(res: DownstreamResponse): void {
  res.uncork();
}

function afterResponse(conn: Connection): void {
  conn.afterResponse();
}

/** One client connection: parses its requests, one at a time. */
class Connection {
  state = C_HEAD;
  /** Bytes of a head not yet whole. */
  private partial: Buffer | null = null;
  /** Bytes after the current request (pipelined), parsed once its response is over. */
  private stash: Buffer | null = null;
  private remaining = 0;
  private readonly framing: ChunkedFraming;
  private paused = 0;
  req: DownstreamRequest | undefined = undefined;
  res: DownstreamResponse | undefined = undefined;
  /** The response whose last write filled the socket's buffer (told when it drains). */
  wantsDrain: DownstreamResponse | undefined = undefined;
  /** Sweep ticks (see DownstreamServer.tick) when the connection went idle, a head began, a request began. */
  idleSince: number;
  headSince = -1;
  requestSince = -1;
  readonly remoteAddress: string;

  constructor(
    readonly server: DownstreamServer,
    readonly socket: Socket,
  ) {
    this.framing = new ChunkedFraming(true, server.maxHeaderBytes);
    this.idleSince = server.tick;
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('end', () => this.ended());
    socket.on('drain', () => {
      // The response whose write filled the buffer hears of it once.
      const res = this.wantsDrain;
      this.wantsDrain = undefined;
      res?.listener?.drained();
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.closed());
  }

  private data(chunk: Buffer): void {
    const s = this.state;
    if (s === C_WAIT) this.addStash(chunk);
    else if (s === C_LINGER || s === C_DEAD) return;
    else this.parse(chunk);
  }

  private addStash(chunk: Buffer): void {
    const stash = this.stash === null ? chunk : Buffer.concat([this.stash, chunk]);
    this.stash = stash;
    if (stash.length > this.server.maxHeaderBytes + 65536) this.pause(PAUSE_STASH);
  }

  private pause(why: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= why;
  }

  unpause(why: number): void {
    if ((this.paused & why) === 0) return;
    this.paused &= ~why;
    if (this.paused === 0 && this.state !== C_DEAD) this.socket.resume();
  }

  /** Parses what the client sent, from `input` on. */
  private parse(input: Buffer): void {
    let chunk = input;
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case C_HEAD: {
          let from = 0;
          if (this.partial !== null) {
            // Search on from just before where the last piece ended (a head sent byte by byte stays linear).
            from = this.partial.length - 3;
            chunk = Buffer.concat([this.partial, chunk.subarray(off)]);
            off = 0;
            this.partial = null;
          }
          // Empty lines before a request line are ignored (RFC 9112 §2.2), also one cut
          // between two reads (a lone CR kept as a partial head).
          while (off + 1 < chunk.length && chunk[off] === 13 && chunk[off + 1] === 10) off += 2;
          if (off === chunk.length) return;
          if (this.headSince < 0) this.headSince = this.server.tick;
          from = Math.max(from, off);
          const end = chunk.indexOf(CRLFCRLF, from);
          const max = this.server.maxHeaderBytes;
          if (end < 0 || end - off > max) {
            // Not whole yet: up to 3 bytes of what is kept may be the start of its final CRLFCRLF.
            if (end >= 0 || chunk.length - off > max + 3) {
              this.refuse(431);
              return;
            }
            // A bare LF cannot be in a head: refused now, not when a CRLFCRLF that may never come arrives.
            for (let lf = chunk.indexOf(10, from); lf >= 0; lf = chunk.indexOf(10, lf + 1)) {
              if (lf === off || chunk[lf - 1] !== 13) {
                this.refuse(400);
                return;
              }
            }
            this.partial = chunk.subarray(off);
            return;
          }
          const text = chunk.toString('latin1', off, end);
          off = end + 4;
          this.requestSince = this.headSince;
          this.headSince = -1;
          if (!this.head(text)) return;
          if (this.state === C_WAIT) {
            if (off < chunk.length) this.addStash(chunk.subarray(off));
            return;
          }
          break;
        }
        case C_LENGTH:
        case C_CHUNK_DATA: {
          const n = Math.min(this.remaining, chunk.length - off);
          const piece = chunk.subarray(off, off + n);
          off += n;
          this.remaining -= n;
          this.bodyPiece(piece);
          if (this.state === C_DEAD) return;
          if (this.remaining === 0) {
            if (this.state === C_LENGTH) {
              this.bodyEnd();
              if (off < chunk.length) this.addStash(chunk.subarray(off));
              return;
            }
            this.state = C_CHUNKED;
          }
          break;
        }
        case C_CHUNKED: {
          const r = this.framing.read(chunk, off);
          off = this.framing.offset;
          if (r === CHUNK_MORE) break;
          if (r === CHUNK_ERROR) return this.bodyBroken();
          if (r === CHUNK_DONE) {
            this.bodyEnd();
            if (off < chunk.length) this.addStash(chunk.subarray(off));
            return;
          }
          this.state = C_CHUNK_DATA;
          this.remaining = r;
          break;
        }
        default:
          return;
      }
    }
  }

  /** Parses a request head; returns false when the connection stops reading (refused). */
  private head(text: string): boolean {
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    // Request line: method SP request-target SP HTTP-version.
    let sp1 = 0;
    while (sp1 < eol && TOKEN_CHAR[text.charCodeAt(sp1)] === 1) sp1++;
    if (sp1 === 0 || text.charCodeAt(sp1) !== 32) return this.refuse(400);
    let sp2 = sp1 + 1;
    while (sp2 < eol) {
      const c = text.charCodeAt(sp2);
      if (c === 32) break;
      if (c < 0x21 || c > 0x7e) return this.refuse(400);
      sp2++;
    }
    if (sp2 === sp1 + 1 || sp2 === eol) return this.refuse(400);
    let minor: number;
    const digit = text.charCodeAt(sp2 + 8) - 48;
    // HTTP/1.2 to 1.9 are read as HTTP/1.1, the highest minor version here (RFC 9110 §2.5); another major version is 505.
    if (eol - sp2 === 9 && text.startsWith('HTTP/1.', sp2 + 1) && digit >= 0 && digit <= 9) minor = digit === 0 ? 0 : 1;
    else return this.refuse(/^ HTTP\/\d\.\d$/.test(text.slice(sp2, eol)) ? 505 : 400);
    const method = text.slice(0, sp1);
    const url = text.slice(sp1 + 1, sp2);

    const headers: string[] = [];
    let length = -1;
    let transfer: string | undefined;
    let connection: string | undefined;
    let expect: string | undefined;
    let hosts = 0;
    let pos = eol + 2;
    while (pos < text.length) {
      let end = text.indexOf('\r\n', pos);
      if (end < 0) end = text.length;
      let colon = pos;
      while (colon < end && TOKEN_CHAR[text.charCodeAt(colon)] === 1) colon++;
      if (colon === pos || colon === end || text.charCodeAt(colon) !== 58 /* ':' */ || badInValue(text, colon + 1, end)) return this.refuse(400);
      const name = text.slice(pos, colon);
      const value = trimOws(text, colon + 1, end);
      pos = end + 2;
      headers.push(name, value);
      const n = name.length;
      if (n === 14 && name.toLowerCase() === 'content-length') {
        // Digits only, once: a second or a list is refused (no guessing which length is meant).
        if (length >= 0 || !isDigits(value)) return this.refuse(400);
        length = Number(value);
      } else if (n === 17 && name.toLowerCase() === 'transfer-encoding') transfer = transfer === undefined ? value : `${transfer}, ${value}`;
      else if (n === 4 && name.toLowerCase() === 'host') hosts++;
      else if (n === 10 && name.toLowerCase() === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      else if (n === 6 && name.toLowerCase() === 'expect') expect = value;
    }
    if (minor === 1 ? hosts !== 1 : hosts > 1) return this.refuse(400);
    let chunked = false;
    if (transfer !== undefined) {
      // RFC 9112 §6.1, §6.3: with content-length, in HTTP/1.0 or not ending in chunked, the framing cannot be trusted.
      if (length >= 0 || minor === 0) return this.refuse(400);
      const codings = transfer.split(',');
      if (codings[codings.length - 1].trim().toLowerCase() !== 'chunked') return this.refuse(400);
      for (const c of codings) if (c.trim().toLowerCase() !== 'chunked') return this.refuse(501);
      if (codings.length > 1) return this.refuse(400); // chunked twice
      chunked = true;
    }
    let expectContinue = false;
    if (expect !== undefined) {
      if (expect.toLowerCase() !== '100-continue') return this.refuse(417);
      expectContinue = minor === 1;
    }
    if (method === 'CONNECT') return this.refuse(405); // a tunnel to anywhere: never
    const keepAlive = minor === 1 ? connection === undefined || !hasToken(connection, 'close') : connection !== undefined && hasToken(connection, 'keep-alive');

    const req = new DownstreamRequest(method, url, headers, minor, this.remoteAddress, length, chunked, expectContinue);
    const res = new DownstreamResponse(this, req, keepAlive);
    this.req = req;
    this.res = res;
    if (chunked) {
      req.body = new RequestBody(this);
      this.state = C_CHUNKED;
      this.framing.reset();
    } else if (length > 0) {
      req.body = new RequestBody(this);
      this.state = C_LENGTH;
      this.remaining = length;
    } else {
      req.complete = true;
      this.state = C_WAIT;
    }
    this.server.handler.request(req, res);
    return this.state !== C_DEAD;
  }

  private bodyPiece(piece: Buffer): void {
    const body = this.req?.body;
    if (body === null || body === undefined || body.destroyed) return;
    body.received += piece.length;
    body.onReceived?.(body.received);
    if (!body.destroyed && this.state !== C_DEAD && !body.push(piece)) this.pause(PAUSE_BODY);
  }

  private bodyEnd(): void {
    const req = this.req;
    this.state = C_WAIT;
    this.unpause(PAUSE_BODY);
    if (req === undefined) return;
    req.complete = true;
    if (req.body !== null && !req.body.destroyed) req.body.push(null);
  }

  /**
   * The request body's framing broke (a bad chunk line): its handler may answer (400, as
   * RFC 9112 §2.2 and Envoy's codec errors have it) if nothing was sent yet; the connection
   * closes either way, and the body stream ends early.
   */
  private bodyBroken(): void {
    const res = this.res;
    if (res !== undefined && !res.headersSent && !res.destroyed && res.listener !== undefined) {
      res.closeAfter();
      this.state = C_LINGER; // what follows the bad line is not parsed: read and dropped
      this.idleSince = this.server.tick;
      res.listener.bodyMalformed();
      if (res.writableFinished || this.state === C_DEAD) return; // answered: the connection closes after it
    }
    this.destroy();
  }

  /** The front's own answer to a request it cannot serve; the connection then closes. */
  private refuse(status: number): false {
    this.state = C_LINGER;
    this.partial = null;
    this.idleSince = this.server.tick;
    this.server.handler.rejected(status);
    this.socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, 'latin1');
    return false;
  }

  /** The response was ended (end()); what follows runs on the next tick. */
  responseEnded(): void {
    process.nextTick(afterResponse, this);
  }

  afterResponse(): void {
    const res = this.res;
    if (res === undefined) return;
    res.notifyClosed();
    if (this.state === C_DEAD) return;
    const req = this.req;
    this.res = undefined;
    this.req = undefined;
    this.wantsDrain = undefined;
    if (!res.keepAlive || this.state !== C_WAIT) {
      // Closing: after the answer, or because the request's body was not read whole (its
      // stream then ends early, as when the client goes: 'close' without 'end').
      if (req !== undefined && req.body !== null && !req.complete) req.body.destroy();
      this.linger();
      return;
    }
    this.state = C_HEAD;
    this.idleSince = this.server.tick;
    this.requestSince = -1;
    const stash = this.stash;
    this.stash = null;
    this.unpause(PAUSE_STASH);
    if (stash !== null) this.parse(stash);
  }

  /** Ends our side; what the client still sends is read and dropped until it closes (or the sweep closes it). */
  private linger(): void {
    this.state = C_LINGER;
    this.stash = null;
    this.idleSince = this.server.tick;
    this.paused = 0;
    this.socket.resume();
    this.socket.end();
  }

  /** The client ended its side (FIN). */
  private ended(): void {
    const s = this.state;
    // A lingering connection closes once its answer is out (both sides have ended).
    if (s === C_LINGER || s === C_DEAD) return;
    if (this.idle) this.linger();
    // A request in progress is abandoned, as node:http and Envoy's HTTP/1 codec take a
    // client's FIN: the client is gone (most close whole, not half), and an upstream request
    // for no one is cancelled at once.
    else this.destroy();
  }

  destroy(): void {
    if (this.state === C_DEAD) return;
    this.state = C_DEAD;
    this.socket.destroy();
  }

  private closed(): void {
    this.state = C_DEAD;
    this.server.connections.delete(this);
    this.stash = null;
    this.partial = null;
    const req = this.req;
    if (req !== undefined && req.body !== null && !req.complete) req.body.destroy();
    const res = this.res;
    if (res !== undefined) {
      this.res = undefined;
      res.notifyClosed();
    }
  }

  /** Whether nothing is in progress on it (no request being read or answered). */
  get idle(): boolean {
    return this.state === C_HEAD && this.partial === null && this.res === undefined;
  }

  /** The sweep: closes it when a timeout has passed (ticks are seconds). */
  sweep(tick: number): void {
    const s = this.server;
    if (this.state === C_HEAD && this.res === undefined) {
      if (this.headSince >= 0) {
        if (tick - this.headSince > s.headersTimeoutTicks) this.refuse(408);
      } else if (tick - this.idleSince > s.keepAliveTicks) this.destroy();
    } else if (this.state === C_LINGER) {
      if (tick - this.idleSince > s.keepAliveTicks) this.destroy();
    } else if (this.state !== C_WAIT && this.state !== C_DEAD && this.requestSince >= 0 && tick - this.requestSince > s.requestTimeoutTicks) this.readTimedOut();
  }

  /** The request's body is late: its handler may answer (408) if nothing was sent yet; the connection closes either way. */
  private readTimedOut(): void {
    const res = this.res;
    if (res !== undefined && !res.headersSent && !res.destroyed && res.listener !== undefined) {
      res.closeAfter();
      res.listener.readTimedOut();
      if (res.writableFinished || this.state === C_DEAD) return; // answered: the connection closes after it
    }
    this.destroy();
  }
}

function isDigits(value: string): boolean {
  if (value.length === 0 || value.length > 15) return false;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
  }
  return true;
}

let dateSecond = -1;
let dateText = '';
/** The current time as an HTTP date, computed once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** The front's listener: accepts connections, sweeps their timeouts once a second. */
export class DownstreamServer {
  readonly connections = new Set<Connection>();
  readonly maxHeaderBytes: number;
  readonly keepAliveTicks: number;
  readonly headersTimeoutTicks: number;
  readonly requestTimeoutTicks: number;
  /** The `keep-alive: timeout=N` line (and the head's end) of a response that keeps the connection. */
  readonly keepAliveHint: string;
  /** Seconds since the server started, advanced by the sweep: the coarse clock of the timeouts. */
  tick = 0;
  /** Stopping: every response closes its connection. */
  closing = false;
  private readonly server: Server;
  private sweeper: NodeJS.Timeout | undefined = undefined;

  constructor(
    options: DownstreamOptions,
    readonly handler: DownstreamHandler,
  ) {
    this.maxHeaderBytes = options.maxHeaderBytes;
    const keepAliveMs = options.keepAliveTimeoutMs ?? 5_000;
    this.keepAliveTicks = Math.max(1, Math.ceil(keepAliveMs / 1000));
    this.headersTimeoutTicks = Math.max(1, Math.ceil((options.headersTimeoutMs ?? 60_000) / 1000));
    const requestMs = options.requestTimeoutMs ?? 300_000;
    this.requestTimeoutTicks = requestMs === 0 ? Infinity : Math.max(1, Math.ceil(requestMs / 1000));
    this.keepAliveHint = `keep-alive: timeout=${Math.max(1, Math.floor(keepAliveMs / 1000))}\r\n\r\n`;
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.connections.add(new Connection(this, socket));
    });
  }

  /** Starts listening; rejects with the listen error (its `code` kept). */
  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // From now on an error is a failed accept (EMFILE: out of file descriptors): that
        // connection is lost, the listener goes on accepting (without a listener the
        // process would crash).
        this.server.on('error', () => undefined);
        this.sweeper = setInterval(() => this.sweep(), 1000);
        this.sweeper.unref();
        resolve();
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  private sweep(): void {
    const tick = ++this.tick;
    for (const c of this.connections) c.sweep(tick);
  }

  /** Stops accepting; resolves once every connection has closed. Responses from now on close their connections. */
  close(): Promise<void> {
    this.closing = true;
    // The sweep goes on until the last connection has closed: idle and lingering ones still time out.
    const stopSweep = (): void => {
      if (this.sweeper !== undefined) clearInterval(this.sweeper);
      this.sweeper = undefined;
    };
    return new Promise((resolve) => {
      if (!this.server.listening) {
        stopSweep();
        resolve();
        return;
      }
      this.server.close(() => {
        stopSweep();
        resolve();
      });
    });
  }

  /** Closes the connections with nothing in progress. */
  closeIdleConnections(): void {
    // A lingering one only once its answer has left (destroying drops what is still buffered).
    for (const c of this.connections) if (c.idle || (c.state === C_LINGER && c.socket.writableLength === 0)) c.destroy();
  }

  /** Closes every connection (responses in progress are cut off). */
  closeAllConnections(): void {
    for (const c of this.connections) c.destroy();
  }
}
