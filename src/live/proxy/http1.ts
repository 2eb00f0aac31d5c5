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
