/** Test helpers shared by the two codecs' suites (upstream.test.ts, downstream.test.ts). */

/**
 * `body` chunk-encoded (RFC 9112 §7.1) in chunks whose sizes are taken in turn from `sizes`;
 * `ext` adds chunk extensions, `trailer` two trailer fields, `upper` upper-case hex sizes.
 */
export function chunkEncode(body: Buffer, sizes: readonly number[], ext = false, trailer = false, upper = false): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  let k = 0;
  while (off < body.length) {
    const n = Math.min(sizes[k % sizes.length], body.length - off);
    k++;
    const hex = upper ? n.toString(16).toUpperCase() : n.toString(16);
    parts.push(Buffer.from(`${hex}${ext ? `;i=${k};q="a; b"` : ''}\r\n`, 'latin1'), body.subarray(off, off + n), Buffer.from('\r\n', 'latin1'));
    off += n;
  }
  parts.push(Buffer.from(`0${ext ? ';last' : ''}\r\n${trailer ? 'X-Checksum: 1\r\nX-More: two\r\n' : ''}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

/** `bytes` cut at the positions `cuts` give (each taken modulo the length; 0 and repeats ignored), in order: how a property test splits a byte stream into TCP reads. */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((x) => x % bytes.length))].filter((x) => x > 0).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  return pieces;
}
