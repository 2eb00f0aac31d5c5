/**
 * The backend of `npm run bench:proxy`: a Node hello-world HTTP/1.1 server on 127.0.0.1,
 * in its own process, as the ecosystem reference measured it (node:http, a 12-byte body,
 * keep-alive). Every target of the bench (direct, meshsim proxy, nginx, the Node peer)
 * reaches this one server.
 *
 * Usage: node --import tsx bench/proxy/backend.ts [--port 0]
 * Prints one JSON line `{"ready":true,"port":N,"pid":P}` on stdout once listening; exits on
 * SIGTERM/SIGINT after closing its sockets.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from('hello world\n');
const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
// Proxies keep their upstream connections open between phases; Node's 5 s default would
// close idle ones between a warm-up and the measurement.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

server.listen(port, '127.0.0.1', () => {
  const address = server.address() as AddressInfo;
  process.stdout.write(JSON.stringify({ ready: true, port: address.port, pid: process.pid }) + '\n');
});

function stop(): void {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
