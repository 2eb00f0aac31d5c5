/**
 * HTTP/1.1 message syntax (RFC 9110, RFC 9112) shared by the proxy's two hand-written
 * codecs: the upstream pool's response parser (upstream.ts) and the front's request parser
 * (downstream.ts). Plain functions over latin1 strings, written for a hot path (no regular
 * expressions or splitting on the common path).
 */

/** Longest chunk-size or trailer line accepted. */
export const MAX_CHUNK_LINE = 4096;
export const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** 1 for the bytes of an RFC 9110 token (a method, a header name). */
export const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHAR[c.charCodeAt(0)] = 1;

/** text[from, to) without leading and trailing spaces and tabs (RFC 9110 OWS; not String.trim, which also strips U+00A0, a latin1 byte). */
export function trimOws(text: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  return text.slice(a, b);
}

/** The chunk size of a chunk-size line (extensions ignored), or −1 when it is malformed. */
export function chunkSize(line: string): number {
  let i = 0;
  let size = 0;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) break;
    size = size * 16 + d;
    if (i >= 12) return -1; // over 2^52: no real body
  }
  if (i === 0) return -1;
  const rest = line.slice(i);
  return rest === '' || /^[ \t]*;/.test(rest) ? size : -1;
}

/** Whether text[from, to) holds a CR, LF or NUL (a line of a head must not). */
export function badInLine(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return true;
  }
  return false;
}

/** Whether a comma-separated header value lists `token` (lower case), ignoring case and spaces. */
export function hasToken(value: string, token: string): boolean {
  if (value.indexOf(',') < 0) {
    // One token, the usual case (`keep-alive`, `close`): no split.
    const t = value.trim();
    return t.length === token.length && t.toLowerCase() === token;
  }
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** The `timeout=N` of a Keep-Alive header, seconds, or −1. */
export function keepAliveTimeout(value: string): number {
  // An upstream sends the same hint on every response: the last one's answer is kept.
  if (value === lastHint) return lastHintSeconds;
  let seconds = -1;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim().toLowerCase() !== 'timeout') continue;
    const v = part.slice(eq + 1).trim();
    seconds = /^\d{1,9}$/.test(v) ? Number(v) : -1;
    break;
  }
  lastHint = value;
  lastHintSeconds = seconds;
  return seconds;
}
let lastHint = '';
let lastHintSeconds = -1;

/** Whether the last transfer coding listed is chunked. */
export function lastCodingIsChunked(value: string): boolean {
  const comma = value.lastIndexOf(',');
  return value.slice(comma + 1).trim().toLowerCase() === 'chunked';
}

/** A content-length value (a comma list of equal values is one, RFC 9110 §8.6), or −1. */
export function contentLength(value: string): number {
  let fast = 0;
  let i = 0;
  for (; i < value.length && i < 15; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    fast = fast * 10 + d;
  }
  if (i > 0 && i === value.length) return fast;
  let v = -1;
  for (const part of value.split(',')) {
    const t = part.trim();
    if (!/^\d{1,15}$/.test(t)) return -1;
    const n = Number(t);
    if (v >= 0 && n !== v) return -1;
    v = n;
  }
  return v;
}

/** ChunkedFraming.read: the line is not whole yet (every byte given was taken). */
export const CHUNK_MORE = -1;
/** ChunkedFraming.read: the framing is broken (`error` says how). */
export const CHUNK_ERROR = -2;
/** ChunkedFraming.read: the last chunk and the trailers were read; the body is over. */
export const CHUNK_DONE = -3;

const F_SIZE = 0; // a chunk-size line is due
const F_DATA_END = 1; // the CRLF after a chunk's data is due
const F_TRAILERS = 2; // trailer lines, up to an empty one

/**
 * The framing lines of a chunked body (RFC 9112 §7.1), read across any split into reads:
 * chunk-size lines (extensions ignored), the CRLF after each chunk's data, and the trailer
 * section, read and dropped (neither codec forwards trailers, as Envoy's HTTP/1 codec by
 * default). Shared by the upstream pool's response parser and the front's request parser;
 * `strict` (the front) refuses a bare LF and control characters in a size line, which a
 * request smuggler relies on; the pool takes a bare LF, as llhttp does in responses.
 */
export class ChunkedFraming {
  /** After read(): the offset just past the last byte it took. */
  offset = 0;
  /** After read() returned CHUNK_ERROR: what was wrong. */
  error = '';
  private phase = F_SIZE;
  private line = '';
  private trailerBytes = 0;

  constructor(
    private readonly strict: boolean,
    /** The most trailer bytes taken. */
    private readonly maxTrailerBytes: number,
  ) {}

  /** A new body begins. */
  reset(): void {
    this.phase = F_SIZE;
    this.line = '';
    this.trailerBytes = 0;
  }

  /**
   * Reads framing from chunk[off…]: returns the size of the chunk whose data starts at
   * `offset` (read it, then call read again for what follows it), CHUNK_MORE, CHUNK_DONE
   * (the body ended just before `offset`) or CHUNK_ERROR.
   */
  read(chunk: Buffer, off: number): number {
    let at = off;
    for (;;) {
      const nl = chunk.indexOf(10, at);
      if (nl < 0) {
        this.line += chunk.toString('latin1', at);
        this.offset = chunk.length;
        return this.line.length > MAX_CHUNK_LINE ? this.fail('chunk line too long') : CHUNK_MORE;
      }
      const raw = this.line + chunk.toString('latin1', at, nl);
      this.line = '';
      at = nl + 1;
      this.offset = at;
      const cr = raw.charCodeAt(raw.length - 1) === 13;
      if (!cr && this.strict) return this.fail('a line ending in a bare LF');
      if (raw.length > MAX_CHUNK_LINE) return this.fail('chunk line too long');
      const line = cr ? raw.slice(0, -1) : raw;
      if (this.phase === F_DATA_END) {
        if (line !== '') return this.fail('chunk data not followed by CRLF');
        this.phase = F_SIZE;
      } else if (this.phase === F_SIZE) {
        const size = chunkSize(line);
        if (size < 0 || (this.strict && badInValue(line))) return this.fail(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        if (size > 0) {
          this.phase = F_DATA_END;
          return size;
        }
        this.phase = F_TRAILERS;
        this.trailerBytes = 0;
      } else {
        this.trailerBytes += line.length + 2;
        if (this.trailerBytes > this.maxTrailerBytes) return this.fail('trailers too large');
        if (line === '') {
          this.phase = F_SIZE;
          return CHUNK_DONE;
        }
      }
    }
  }

  private fail(message: string): number {
    this.error = message;
    this.line = '';
    return CHUNK_ERROR;
  }
}

/** Whether `text` holds a control character other than tab (not allowed in a header value or chunk extension). */
export function badInValue(text: string, from = 0, to = text.length): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return true;
  }
  return false;
}
