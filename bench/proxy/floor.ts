/**
 * The floor of `npm run bench:proxy` (an optional target, `--only …,floor`): the least a
 * Node reverse proxy can do per request, built from the same parts as `meshsim proxy` —
 * meshsim's HTTP/1.1 front (src/live/proxy/downstream.ts) and upstream pool
 * (src/live/proxy/upstream.ts: keep-alive, no pipelining) — with no policy objects,
 * metrics, limits or timers: headers
 * copied (Connection/Keep-Alive dropped, x-forwarded-for/-proto added), status and body
 * streamed back. meshsim's req/s over this one's is what its mesh machinery costs; this
 * one's over nginx's is what Node costs. Not a usable proxy (no error handling beyond 502).
 *
 * Usage: node --import tsx bench/proxy/floor.ts --upstream 127.0.0.1:PORT [--port 0]
 * Prints one JSON line `{"ready":true,"port":N,"pid":P}` on stdout once listening.
 */
import { DownstreamServer, type DownstreamResponse } from '../../src/live/proxy/downstream.js';
import { UpstreamPool, type UpstreamHandler } from '../../src/live/proxy/upstream.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const upstream = arg('--upstream');
if (!upstream || !/^127\.0\.0\.1:\d+$/.test(upstream)) {
  process.stderr.write('floor: --upstream 127.0.0.1:PORT is required (loopback only)\n');
  process.exit(2);
}
const pool = new UpstreamPool(upstream);

class Forward implements UpstreamHandler {
  constructor(private readonly res: DownstreamResponse) {}
  onConnect(): void {}
  onHeaders(status: number, raw: string[], _resume: () => void, text: string): boolean {
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      const lower = name.toLowerCase();
      if (lower !== 'connection' && lower !== 'keep-alive') headers.push(name, raw[i + 1]);
    }
    this.res.writeHead(status, text, headers);
    return true;
  }
  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }
  onComplete(): void {
    this.res.end();
  }
  onError(): void {
    if (!this.res.headersSent) this.res.writeHead(502, undefined, ['content-length', '0']);
    this.res.end();
  }
}

const server = new DownstreamServer(
  { maxHeaderBytes: 16 * 1024 },
  {
    request(req, res) {
      const raw = req.rawHeaders;
      const headers: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const lower = raw[i].toLowerCase();
        if (lower !== 'connection' && lower !== 'keep-alive') headers.push(raw[i], raw[i + 1]);
      }
      headers.push('x-forwarded-for', req.remoteAddress, 'x-forwarded-proto', 'http');
      pool.dispatch({ path: req.url, method: req.method, headers, body: null }, new Forward(res));
    },
    rejected() {},
  },
);
void server.listen(Number(arg('--port') ?? 0), '127.0.0.1').then(() => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({ ready: true, port, pid: process.pid }) + '\n');
});
const stop = () => {
  void server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
