/**
 * The Node peer proxy of `npm run bench:proxy`: what a Node user would reach for instead
 * of meshsim — fastify 5 with @fastify/http-proxy 11 (over @fastify/reply-from 12 and its
 * undici pool), in its own process, forwarding everything to one upstream.
 *
 * Retries are turned OFF: @fastify/reply-from retries a GET that got a 503 up to 10 times
 * by default (and network errors when `retriesCount` > 0); `retryDelay: () => null` makes
 * every first answer final, as meshsim's proxy does with no retry policy configured.
 * Logging is off (fastify's default), as the access log is off for nginx.
 *
 * Usage: node --import tsx bench/proxy/peer.ts --upstream 127.0.0.1:PORT [--port 0]
 * Prints one JSON line `{"ready":true,"port":N,"pid":P}` on stdout once listening.
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const upstream = arg('--upstream');
if (!upstream || !/^127\.0\.0\.1:\d+$/.test(upstream)) {
  process.stderr.write('peer: --upstream 127.0.0.1:PORT is required (loopback only)\n');
  process.exit(2);
}
const port = Number(arg('--port') ?? 0);

const app = Fastify({ logger: false });
await app.register(proxy, {
  upstream: `http://${upstream}`,
  replyOptions: { retryDelay: () => null },
});
await app.listen({ host: '127.0.0.1', port });
const address = app.server.address() as AddressInfo;
process.stdout.write(JSON.stringify({ ready: true, port: address.port, pid: process.pid }) + '\n');

async function stop(): Promise<void> {
  setTimeout(() => process.exit(0), 2000).unref();
  await app.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
