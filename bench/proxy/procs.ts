/**
 * Processes of `npm run bench:proxy`: start a server in its own process, wait until it
 * listens, stop it by PID — and stop every one still running when the bench ends, fails,
 * or is interrupted (SIGINT/SIGTERM). Also: free loopback ports, and the CPU time a
 * process tree has used (from /proc, Linux), to show which process saturated.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { ROOT } from '../lib.js';

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything it wrote on stderr (the last 8 kB), for error messages. */
  stderr(): string;
}

const running = new Map<number, { name: string; child: ChildProcess }>();

/** A port on 127.0.0.1 that was free a moment ago (for servers that need one given). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolvePort(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StartOptions {
  /** How the server says it is ready: a JSON line `{"ready":true,"port":N}` on stdout, or accepting connections on a port given to it. */
  readonly ready: { readonly kind: 'json-line' } | { readonly kind: 'port'; readonly port: number };
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts `command args` in its own process and resolves once it serves (or rejects with its stderr). */
export async function startServer(name: string, command: string, args: readonly string[], options: StartOptions): Promise<Server> {
  const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    await new Promise((r) => child.once('error', r));
    throw new Error(`${name}: cannot start ${command}`);
  }
  const pid = child.pid;
  running.set(pid, { name, child });
  child.once('exit', () => running.delete(pid));
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-8192)));
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.once('error', (e) => (exited = `failed: ${e.message}`));

  const deadline = performance.now() + (options.timeoutMs ?? 20_000);
  let port: number | undefined;
  while (port === undefined) {
    if (exited) throw new Error(`${name} (${command} ${args.join(' ')}) ${exited} before serving:\n${stderr.trim() || stdout.trim()}`);
    if (performance.now() > deadline) {
      await stopServer({ name, pid, port: 0, child, stderr: () => stderr });
      throw new Error(`${name} (${command} ${args.join(' ')}) did not serve within ${options.timeoutMs ?? 20_000} ms:\n${stderr.trim() || stdout.trim()}`);
    }
    if (options.ready.kind === 'json-line') {
      const line = stdout.split('\n').find((l) => l.startsWith('{') && l.includes('"ready"'));
      if (line) port = (JSON.parse(line) as { port: number }).port;
      else await sleep(50);
    } else if (await canConnect(options.ready.port)) port = options.ready.port;
    else await sleep(100);
  }
  return { name, pid, port, child, stderr: () => stderr };
}

export interface RunOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a client (wrk, the load generator) to completion, collecting its output; while it
 * runs it is on the list `stopAll` stops, so an interrupted bench leaves no client behind.
 */
export function runTracked(name: string, command: string, args: readonly string[]): Promise<RunOutput> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) {
      const pid = child.pid;
      running.set(pid, { name, child });
      child.once('exit', () => running.delete(pid));
    }
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** Stops a server by its PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopServer(server: Server, graceMs = 3000): Promise<void> {
  const { child, pid } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([gone, timer])) === 'timeout') {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await gone;
  }
}

/** Stops every server this process started and that still runs. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running.entries()].map(([pid, { name, child }]) => stopServer({ name, pid, port: 0, child, stderr: () => '' })));
}

/**
 * Makes sure the servers are stopped however the bench ends: on SIGINT/SIGTERM (stop them,
 * then exit 130/143) and, as a last resort, SIGKILL to each PID still running at exit.
 */
export function stopAllOnExit(): void {
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    process.stderr.write(`\nbench:proxy: ${signal}, stopping ${running.size} process(es) started by the bench\n`);
    void stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  process.once('exit', () => {
    for (const pid of running.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function ownCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds (user + system) used so far by a process and its children (nginx's workers); NaN where /proc is missing. */
export function treeCpuSeconds(pid: number): number {
  try {
    return ownCpuSeconds(pid) + childrenOf(pid).reduce((sum, c) => sum + treeCpuSeconds(c), 0);
  } catch {
    return NaN;
  }
}
