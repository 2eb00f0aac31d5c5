/**
 * Child processes of a live run, and their cleanup. A live run spreads over processes so
 * the load generator, the proxies and the backend fleet do not share one event loop (on a
 * small machine one loop would add its own queueing to every latency measured). Each
 * child is a Node process forked with an IPC channel speaking request/reply messages
 * ({ id, type, ... } → { id, ok, ... }); it exits by itself when the channel closes (its
 * parent died), and the parent stops every child it started, on success, error or signal.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A message to a child: `type` says what to do, the rest are its arguments. */
export interface ChildRequest {
  readonly type: string;
  readonly [key: string]: unknown;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly value?: unknown;
}

const live = new Set<ChildHost>();

/** Every child process started and not yet stopped (for cleanup, and for tests). */
export function liveChildren(): readonly ChildHost[] {
  return [...live];
}

/** Kills every child still running (SIGKILL, by PID). */
export function killAllChildren(): void {
  for (const c of [...live]) c.kill();
}

/**
 * The file of a child module next to `base` (an import.meta.url): `name.ts` when running
 * from TypeScript sources (tests, tsx), `name.js` when compiled; with TypeScript the child
 * runs under tsx's loader.
 */
export function childModule(base: string, name: string): { readonly path: string; readonly execArgv: readonly string[] } {
  const ts = base.endsWith('.ts');
  const path = fileURLToPath(new URL(`${name}.${ts ? 'ts' : 'js'}`, base));
  return { path, execArgv: ts ? ['--import', 'tsx'] : [] };
}

export class ChildHost implements Host {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited = false;
  private readonly exitPromise: Promise<void>;
  private stderrTail = '';

  constructor(
    readonly name: string,
    module: { readonly path: string; readonly execArgv: readonly string[] },
  ) {
    this.child = fork(module.path, [], { execArgv: [...module.execArgv], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    live.add(this);
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    this.child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${this.name}: ${m.error ?? 'failed'}`));
    });
    this.exitPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        live.delete(this);
        const why = new Error(`${this.name} process exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(why);
        }
        this.pending.clear();
        resolve();
      });
    });
    this.child.on('error', () => undefined); // an IPC error surfaces through 'exit'
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Sends a request and waits for its reply (at most `timeoutMs`). */
  request<T>(message: ChildRequest, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} process is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to "${message.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...message, id });
    });
  }

  /** Asks the child to stop (`stop` request), then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    try {
      await this.request({ type: 'stop' }, graceMs);
    } catch {
      // killed below
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Resolves when the process has exited. */
  exited$(): Promise<void> {
    return this.exitPromise;
  }
}

/** What a child serves: a handler per request type, and how to stop. */
export interface Service {
  readonly handlers: Readonly<Record<string, (message: ChildRequest) => unknown>>;
  readonly stop: () => Promise<void>;
}

/** The host side of a service, wherever it runs. */
export interface Host {
  readonly name: string;
  request<T>(message: ChildRequest, timeoutMs?: number): Promise<T>;
  stop(graceMs?: number): Promise<void>;
}

/** A service run in this process, behind the same request/reply interface as a child's. */
export class InProcessHost implements Host {
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly service: Service,
  ) {}

  async request<T>(message: ChildRequest): Promise<T> {
    if (this.stopped) throw new Error(`${this.name} is stopped`);
    const handler = this.service.handlers[message.type];
    if (!handler) throw new Error(`${this.name}: unknown request "${message.type}"`);
    try {
      return (await handler(message)) as T;
    } catch (e) {
      throw new Error(`${this.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.service.stop();
  }
}

/**
 * The child side: answers the parent's requests with the service's handlers, and exits
 * when the parent goes away (the IPC channel closes) or after answering `stop`.
 */
export function serveParent(service: Service): void {
  const { handlers, stop: onStop } = service;
  const send = (reply: Reply): void => {
    if (process.connected) process.send?.(reply);
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    try {
      await onStop();
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', () => void stop());
  process.on('message', (m: ChildRequest & { id: number }) => {
    if (m.type === 'stop') {
      send({ id: m.id, ok: true });
      void stop();
      return;
    }
    const handler = handlers[m.type];
    if (!handler) {
      send({ id: m.id, ok: false, error: `unknown request "${m.type}"` });
      return;
    }
    Promise.resolve()
      .then(() => handler(m))
      .then(
        (value) => send({ id: m.id, ok: true, value }),
        (e: unknown) => send({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
      );
  });
}
