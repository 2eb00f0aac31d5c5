/** A tiny HTTP client for the live tests: one GET to 127.0.0.1, its status, outcome header or error code. */
import { request } from 'node:http';

export interface Answer {
  readonly status?: number;
  readonly outcome?: string;
  readonly instance?: string;
  /** The socket error's code (ECONNREFUSED, ECONNRESET), or TIMEOUT after `timeoutMs`. */
  readonly error?: string;
}

export function get(port: number, headers: Record<string, string> = {}, timeoutMs = 5000, path = '/'): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode, outcome: res.headers['x-meshsim-outcome'] as string | undefined, instance: res.headers['x-meshsim-instance'] as string | undefined }),
      );
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ error: 'TIMEOUT' });
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ error: e.code ?? 'ERROR' });
    });
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` holds (polling every 5 ms, at most `withinMs`); throws if it never does. */
export async function until(cond: () => boolean, withinMs = 5000): Promise<void> {
  const end = performance.now() + withinMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not reached in time');
    await sleep(5);
  }
}
