/**
 * The router: one client request through the sidecar's failover pipeline, on real sockets.
 * Follows Envoy's router filter (router.cc) step for step, as src/sim/world.ts does in
 * virtual time, and asks the very same objects every question: the balancer (through the
 * Sidecar) picks, the circuit breaker admits, the retry policy says what is retriable, the
 * retry limiter admits retries and hedges (endAttempt), envoyAttemptEndAction decides what
 * an ended attempt means, the backoff draws the wait, adaptive throttling admits the
 * request (and counts its final answer), and outcomes flow back to the balancer and
 * outlier detection.
 *
 * An attempt is a request on the keep-alive pool (upstream.ts) of one configured upstream. It ends, for the algorithms,
 * when its response headers arrive (the time to first byte, as tower's PeakEwma and Envoy's
 * router take it) or when it fails: connection refused → 'connect-failure', reset or a
 * broken response → 'reset', per-try timeout → 'timeout', a 5xx → 'error', any other status
 * → 'success'. The response of the attempt that wins is then streamed to the client.
 * When nothing good came back the proxy answers as Envoy does: 503 for no healthy upstream,
 * a breaker overflow (with x-envoy-overloaded), adaptive throttling, a connect failure or a
 * reset; 502 for an upstream that broke the protocol; 504 for a timeout.
 */
import type { Readable } from 'node:stream';
import type { Outcome, PickContext } from '../../algorithms/types.js';
import { envoyAttemptEndAction } from '../../algorithms/failover/hedging.js';
import { hasResponse, pickAvoidingPreviousHosts } from '../../algorithms/failover/retry-policy.js';
import { endAttempt, retryDecision, type RetryLimiter } from '../../algorithms/failover/retry-limiter.js';
import { throttleAccepts } from '../../algorithms/failover/adaptive-throttling.js';
import type { SidecarPolicies } from '../../mesh/policies.js';
import { downstreamResponseHeaders, reportedUtilization } from './headers.js';
import type { DownstreamRequest, DownstreamResponse, ResponseListener } from './downstream.js';
import type { UpstreamHandler, UpstreamPool } from './upstream.js';
import { timerDelay, timerMs } from '../realtime.js';
import { END_CLIENT_CLOSED, END_RESET, type ProxyCounters } from './metrics.js';

const TIMED_OUT: Outcome = { kind: 'timeout', status: 0 };
const LOCAL_503: Outcome = { kind: 'rejected', status: 503 };
const RESET: Outcome = { kind: 'reset', status: 0 };
const CONNECT_FAILURE: Outcome = { kind: 'connect-failure', status: 0 };

/** Why the proxy answered a request itself. */
export type LocalReason = 'no-healthy-upstream' | 'overflow' | 'throttled' | 'timeout' | 'connect-failure' | 'reset' | 'protocol-error' | 'bad-request' | 'body-too-large' | 'request-timeout';

/** What the router needs of the proxy around it. */
export interface RouterContext {
  /** The algorithm objects; replaced (between requests) when the proxy restarts them. */
  policies: SidecarPolicies;
  readonly counters: ProxyCounters;
  /** One dispatcher (a keep-alive pool) per configured upstream, by upstream index. */
  readonly pools: readonly UpstreamPool[];
  /**
   * The algorithms' endpoint index → the configured upstream's index, and back (-1: not a
   * member now). The identity until a discovery update (ProxyHandle.setMembers) changes
   * the endpoint set; attempts remember their upstream, so one in flight across an update
   * ends where it went, and the algorithms hear of it only if the upstream is still a member.
   */
  upstreamOf: Int32Array;
  endpointOf: Int32Array;
  /** The route timeout when the mesh gives none (ms; Envoy's default route timeout is 15 s). */
  readonly defaultTimeout: number;
  now(): number;
  /** Requests waiting for a connection under the circuit breaker (Envoy's pending requests). */
  readonly pending: PendingQueue;
}

/** Attempt flags. */
const F_BY_RETRY = 1; // launched by an admitted retry or hedge
const F_HEDGE = 2; // a hedge
const F_HEDGED = 4; // its per-try timeout's hedge was admitted: never retried itself (Envoy's upstream_request.retried)
const F_ENDED = 8; // the router is done with it (answered, failed, timed out or cancelled)
const F_PROTOCOL = 16; // it failed because the upstream broke HTTP
const F_TIMEOUT_RECORDED = 32; // its soft per-try timeout went to outlier detection: a route timeout is not recorded again
const F_WAITED = 64; // (sendAttempt's argument only) it waited for a connection: the limiter already counts it

/** A FIFO of exchanges waiting for a connection slot (with the attempt flags they would send with). */
export class PendingQueue {
  private items: (Exchange | undefined)[] = [];
  private flags: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: Exchange, flags: number): void {
    this.items.push(x);
    this.flags.push(flags);
  }

  /** The oldest live entry, or undefined. */
  shift(): { x: Exchange; flags: number } | undefined {
    while (this.head < this.items.length) {
      const x = this.items[this.head];
      const flags = this.flags[this.head];
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.flags = this.flags.slice(this.head);
        this.head = 0;
      }
      if (x !== undefined) return { x, flags };
    }
    return undefined;
  }

  /** Removes `x`'s entries, calling `each` with their flags. */
  remove(x: Exchange, each: (flags: number) => void): void {
    for (let i = this.head; i < this.items.length; i++) {
      if (this.items[i] === x) {
        this.items[i] = undefined;
        each(this.flags[i]);
      }
    }
  }
}

/** An error code the upstream pool (upstream.ts) or the socket gives a failed attempt, as the outcome the algorithms expect. */
function outcomeOfError(err: Error & { code?: string }): { outcome: Outcome; protocol: boolean } {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'MESH_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return { outcome: CONNECT_FAILURE, protocol: false };
  }
  // Envoy's UC/UR: anything else that ends an attempt before its answer is a reset; a
  // malformed response is also a protocol error (Envoy's UPE), answered 502.
  return { outcome: RESET, protocol: code === 'MESH_PROTOCOL' };
}

/** One attempt: the handler of one request to an upstream pool (upstream.ts). */
class Attempt implements UpstreamHandler {
  flags: number;
  sentAt: number;
  abortFn: ((err?: Error) => void) | undefined = undefined;
  tryTimer: NodeJS.Timeout | undefined = undefined;
  /** This attempt's response is being forwarded to the client. */
  forwarding = false;
  resumeFn: (() => void) | undefined = undefined;

  constructor(
    readonly x: Exchange,
    /** The configured upstream it went to (see RouterContext.upstreamOf). */
    readonly upstream: number,
    flags: number,
    now: number,
  ) {
    this.flags = flags;
    this.sentAt = now;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if ((this.flags & F_ENDED) !== 0) abort();
  }

  onHeaders(statusCode: number, headers: string[], resume: () => void, statusText: string): boolean {
    if ((this.flags & F_ENDED) !== 0) return true; // a cancelled attempt's response: drained, ignored
    this.resumeFn = resume;
    return this.x.responseHeaders(this, statusCode, headers, statusText);
  }

  onData(chunk: Buffer): boolean {
    if (!this.forwarding) return true;
    return this.x.responseData(this, chunk);
  }

  onComplete(): void {
    if (this.forwarding) this.x.responseEnd(this);
  }

  onError(err: Error): void {
    if (this.forwarding) {
      this.x.responseBroken(this);
      return;
    }
    if ((this.flags & F_ENDED) !== 0) return;
    this.x.attemptFailed(this, err);
  }

  /** Stops the upstream request (a cancelled attempt, or a client that went away). */
  abort(): void {
    const abort = this.abortFn;
    if (abort !== undefined) {
      this.abortFn = undefined;
      try {
        abort();
      } catch {
        // already finished
      }
    }
  }
}

/**
 * One client request and its attempts. Created per request; everything else (policies,
 * pools, counters) is shared. It listens to its response (closed, drained).
 */
export class Exchange implements ResponseListener {
  private sent = 0;
  private out = 0;
  /**
   * Retries and hedges used up (Envoy's num_retries − retries_remaining_): every retry
   * decision that asked the limiter for one, admitted or refused, as RetryStateImpl::
   * shouldRetry decrements retries_remaining_ before asking the resource manager.
   */
  private retries = 0;
  /** Retries and hedges admitted: the backoff's n (Envoy's backoff advances only when a retry is admitted). */
  private admitted = 0;
  private pendingRetry = 0;
  private waiting = 0;
  /** It holds a retry its limiter admitted (Envoy: one at most, until its next retry decision or its end). */
  private holdsRetry = false;
  private concluded = false;
  private started = false;
  private done = false;
  /** The forwarded response has all arrived from the upstream (the client may not have it all yet). */
  private upstreamDone = false;
  /** The client got the proxy's own answer (not an upstream's). */
  private local = false;
  private readonly startedAt: number;
  private deadlineTimer: NodeJS.Timeout | undefined = undefined;
  private hedgeTimer: NodeJS.Timeout | undefined = undefined;
  private retryTimers: NodeJS.Timeout[] | undefined = undefined;
  private attempts: Attempt[] | undefined = undefined;
  private single: Attempt | undefined = undefined;
  /** Upstreams tried so far (indices into RouterContext.pools), for host reselection. */
  private tried: number[] | undefined = undefined;
  private forwarded: Attempt | undefined = undefined;

  constructor(
    private readonly ctx: RouterContext,
    private readonly req: DownstreamRequest,
    private readonly res: DownstreamResponse,
    private readonly method: string,
    private readonly path: string,
    private readonly headers: string[],
    /** The request body: none, fully buffered (retries possible), or streamed (no retries). */
    private body: Buffer | Readable | null,
    /** The request's hash key (config `hashKey`), or undefined when it carries none. */
    private readonly hashKey?: number,
  ) {
    this.startedAt = ctx.now();
  }

  private get canResend(): boolean {
    return this.body === null || Buffer.isBuffer(this.body);
  }

  /**
   * Starts the request: adaptive throttling, the route timeout, the first attempt, the hedge
   * timer. `buffered`: the request body, read whole (so that it can be sent again).
   */
  start(buffered?: Buffer): void {
    if (buffered !== undefined) this.body = buffered;
    this.started = true;
    const p = this.ctx.policies;
    const r = p.router;
    if (p.limiter !== undefined) p.limiter.onRequest();
    if (p.throttle !== undefined && !p.throttle.admit()) {
      this.ctx.counters.throttled++;
      this.conclude(LOCAL_503, undefined, false, false, 'throttled');
      return;
    }
    const deadline = r.deadline !== Infinity ? r.deadline : this.ctx.defaultTimeout;
    if (deadline !== Infinity) this.deadlineTimer = setTimeout(onDeadline, timerMs(deadline), this);
    this.sendAttempt(0);
    if (r.hedgeDelay !== Infinity && !this.concluded && this.canResend) this.hedgeTimer = setTimeout(onHedge, timerMs(r.hedgeDelay), this);
  }

  /**
   * Sends one attempt (flags: F_BY_RETRY / F_HEDGE, F_WAITED for one that was waiting for a
   * connection); answers 503 itself when nothing can be sent: after a breaker overflow once
   * nothing else is outstanding; with no healthy upstream for a retry or hedge at once,
   * other attempts cancelled, as Envoy's doRetry answers "no healthy upstream".
   */
  sendAttempt(flags: number): void {
    const p = this.ctx.policies;
    const r = p.router;
    const counters = this.ctx.counters;
    const cb = p.breaker;
    // The limiter counts an attempt from the moment it waits for a connection (Envoy's
    // retry budget: active + pending requests), so one that waited is counted already.
    const waited = (flags & F_WAITED) !== 0;
    if (cb !== undefined) {
      // HTTP/1.1: an attempt needs a connection of its own. At max_connections it waits for
      // one (up to max_pending_requests); past that, or past max_requests, the breaker is
      // open and the sidecar answers 503 at once (an overflow).
      if (!cb.tryAcquireConnection(cb.activeConnections === 0)) {
        if (cb.tryAcquirePending()) {
          this.ctx.pending.push(this, flags & ~F_WAITED);
          this.waiting++;
          if (p.limiter !== undefined && !waited) p.limiter.onAttemptStart();
          return;
        }
        counters.overflows++;
        this.notSent('overflow', waited);
        return;
      }
      if (!cb.tryAcquireRequest()) {
        cb.releaseConnection();
        counters.overflows++;
        this.notSent('overflow', waited);
        return;
      }
    }
    const sidecar = p.sidecar;
    const ctx: PickContext = r.any ? { attempt: this.sent, hashKey: this.hashKey } : this.hashKey !== undefined ? { hashKey: this.hashKey } : NO_CONTEXT;
    let ep: number;
    const reselect = (flags & F_HEDGE) !== 0 ? Math.max(r.reselect, 3) : r.reselect;
    const tried = this.tried;
    if (reselect > 0 && tried !== undefined && tried.length > 0) {
      // Tried upstreams as today's endpoint indices (one no longer a member is no longer pickable).
      const avoid: number[] = [];
      for (const up of tried) if (this.ctx.endpointOf[up] >= 0) avoid.push(this.ctx.endpointOf[up]);
      ep = pickAvoidingPreviousHosts(sidecar, ctx, avoid, avoid.length, reselect);
    } else ep = sidecar.pick(ctx);
    if (ep < 0) {
      this.releaseBreaker();
      counters.noHealthy++;
      this.notSent('no-healthy-upstream', waited, (flags & F_BY_RETRY) !== 0);
      return;
    }
    const now = this.ctx.now();
    const upstream = this.ctx.upstreamOf[ep];
    const a = new Attempt(this, upstream, flags & ~F_WAITED, now);
    if (this.single === undefined && this.attempts === undefined) this.single = a;
    else {
      if (this.attempts === undefined) this.attempts = this.single ? [this.single] : [];
      this.attempts.push(a);
    }
    this.sent++;
    this.out++;
    if (r.trackTried) (this.tried ??= []).push(upstream);
    counters.attempts++;
    const up = counters.upstreams[upstream];
    up.attempts++;
    if ((flags & F_HEDGE) !== 0) up.hedges++;
    else if ((flags & F_BY_RETRY) !== 0) up.retries++;
    if (p.limiter !== undefined && !waited) p.limiter.onAttemptStart();
    sidecar.attemptStarted(ep);
    if (r.perTry !== Infinity) a.tryTimer = setTimeout(onTryTimeout, timerMs(r.perTry), a);
    this.ctx.pools[upstream].dispatch(
      {
        path: this.path,
        method: this.method,
        headers: this.headers,
        body: this.body,
      },
      a,
    );
  }

  /**
   * An attempt that could not be sent: the sidecar's local 503 (Envoy never retries it). One
   * that `waited` for a connection stops counting for the limiter. The 503 is the answer
   * when nothing else is outstanding, or at once when `final` (no healthy upstream for a
   * retry or hedge: Envoy's doRetry sends it and resets the other upstream requests).
   */
  private notSent(reason: LocalReason, waited: boolean, final = false): void {
    const p = this.ctx.policies;
    if (p.limiter !== undefined) {
      // A retry decision all the same (Envoy's overflow reset asks shouldRetry): the retry held is given back.
      this.retryDecision(p.limiter, false);
      if (waited) p.limiter.onAttemptEnd();
    }
    if (final || this.out + this.pendingRetry + this.waiting === 0) this.conclude(LOCAL_503, undefined, false, false, reason);
  }

  /**
   * The request's retry decision (Envoy's RetryStateImpl::shouldRetry): the retry it holds,
   * if any, is given back (resetRetry); then, when `wants`, the limiter is asked for
   * another, which it holds until its next decision or its end.
   */
  private retryDecision(limiter: RetryLimiter, wants: boolean): boolean {
    this.holdsRetry = retryDecision(limiter, this.holdsRetry, wants);
    return this.holdsRetry;
  }

  private releaseBreaker(): void {
    const cb = this.ctx.policies.breaker;
    if (cb === undefined) return;
    cb.releaseRequest();
    cb.releaseConnection();
  }

  /** A waiting attempt got its connection slot. */
  resumeWaiting(flags: number): void {
    this.waiting--;
    this.sendAttempt(flags | F_WAITED);
  }

  /** The per-try timeout of `a` fired before its answer. */
  tryTimeout(a: Attempt): void {
    a.tryTimer = undefined;
    if ((a.flags & F_ENDED) !== 0) return;
    const p = this.ctx.policies;
    const r = p.router;
    this.ctx.counters.perTryTimeouts++;
    if (r.hedgeOnPerTry) {
      // Envoy hedge_on_per_try_timeout (router onSoftPerTryTimeout): the attempt goes on, but
      // outlier detection records the timeout now; another attempt is asked for now. A retry
      // decision even with no retry left: the retry held is given back first. Only an
      // admitted hedge marks the attempt hedged (upstream_request.retried(true)); refused, it
      // is left running and its end is a retry decision like any other.
      if ((a.flags & F_TIMEOUT_RECORDED) !== 0) return;
      a.flags |= F_TIMEOUT_RECORDED;
      const ep = this.ctx.endpointOf[a.upstream];
      if (ep >= 0) p.sidecar.attemptSoftTimeout(ep);
      if (p.limiter === undefined) return;
      // Asking uses up one of the request's retries, admitted or not (retries_remaining_--).
      const wants = this.retries < r.maxRetries && this.canResend;
      if (wants) this.retries++;
      if (this.retryDecision(p.limiter, wants)) {
        a.flags |= F_HEDGED;
        this.scheduleRetry(true);
      } else if (wants) this.ctx.counters.budgetDenied++;
      return;
    }
    // Ended first: aborting makes undici report the abort at once, which must find it over.
    this.attemptDone(a, TIMED_OUT, false);
    a.abort();
  }

  /** Response headers of attempt `a` arrived. Returns whether undici may go on reading. */
  responseHeaders(a: Attempt, status: number, raw: string[], statusText: string): boolean {
    const utilization = reportedUtilization(raw);
    const kind = status >= 500 ? 'error' : 'success';
    const outcome: Outcome = utilization === utilization ? { kind, status, utilization } : { kind, status };
    const final = this.attemptDone(a, outcome, false);
    if (!final) {
      // A response not forwarded (retried, or another attempt still to answer): its
      // upstream request is reset, as Envoy's router resets the stream of a response it
      // retries (on HTTP/1.1 that closes the connection). Drained instead, a body that never
      // ends would hold the connection (and the breaker's queue behind it) for good.
      a.abort();
      return false;
    }
    const res = this.res;
    if (res.destroyed) {
      a.abort();
      return false;
    }
    a.forwarding = true;
    this.forwarded = a;
    // The upstream pool's parser let through no CR or LF in a name, value or reason: the
    // head can be written as it is (downstream.ts's contract).
    res.writeHead(status, statusText, downstreamResponseHeaders(raw));
    return true;
  }

  /** A piece of the forwarded response; false (the client reads slower than the upstream sends) pauses the pool until drained(). */
  responseData(_a: Attempt, chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  /** The client sent its body too slowly (the front's request timeout): 408, as Envoy's request_timeout, and nothing more upstream. */
  readTimedOut(): void {
    this.ctx.counters.rejectedByLimits++;
    this.abandon(408, 'request-timeout');
  }

  /** The client's chunked body is malformed: 400, as Envoy answers an HTTP/1 codec error, and nothing more upstream. */
  bodyMalformed(): void {
    this.ctx.counters.rejectedByLimits++;
    this.abandon(400, 'bad-request');
  }

  /** The client read what was buffered: the forwarded attempt's upstream reads on. */
  drained(): void {
    const a = this.forwarded;
    if (a !== undefined && a.forwarding && a.resumeFn !== undefined) a.resumeFn();
  }

  responseEnd(_a: Attempt): void {
    // The upstream's response is complete: the route timeout is over (Envoy disarms it
    // here), even though the client's side closes a little later.
    this.upstreamDone = true;
    this.stopTimers();
    this.res.end();
  }

  /** The forwarded response broke off (upstream reset, crash mid-response): the client's connection is closed. */
  responseBroken(a: Attempt): void {
    a.forwarding = false;
    this.finish(END_RESET);
    this.res.destroy();
  }

  /** Attempt `a` failed before its response headers. */
  attemptFailed(a: Attempt, err: Error & { code?: string }): void {
    if (this.clientGone()) {
      this.clientClosed();
      return;
    }
    if (err.code === 'MESH_REQUEST_BODY') {
      // The client's request body broke off: the client's fault, not the upstream's.
      this.abandon(400, 'bad-request');
      return;
    }
    const { outcome, protocol } = outcomeOfError(err);
    if (protocol) a.flags |= F_PROTOCOL;
    this.attemptDone(a, outcome, protocol);
  }

  private clientGone(): boolean {
    return this.res.clientGone;
  }

  /**
   * Attempt `a` ended with `outcome`: feed the balancer, outlier detection, breaker and
   * limiter, then let Envoy's router decide: answer the client, retry after the backoff,
   * or wait for the other attempts. Returns whether `a`'s response is the answer.
   */
  private attemptDone(a: Attempt, outcome: Outcome, protocol: boolean): boolean {
    const flags = a.flags;
    a.flags = flags | F_ENDED;
    this.out--;
    if (a.tryTimer !== undefined) {
      clearTimeout(a.tryTimer);
      a.tryTimer = undefined;
    }
    const p = this.ctx.policies;
    const r = p.router;
    const latency = this.ctx.now() - a.sentAt;
    this.ctx.counters.upstreams[a.upstream].ended(outcome.kind, latency);
    const ep = this.ctx.endpointOf[a.upstream];
    if (ep >= 0) p.sidecar.attemptEnded(ep, outcome, latency);
    this.releaseBreaker();
    let answer = false;
    if (!r.any) {
      answer = this.concludeWith(outcome, a, false, protocol);
    } else {
      const retriable = r.retry !== undefined && outcome.kind !== 'success' && r.retry.matches(outcome);
      const hedged = (flags & F_HEDGED) !== 0;
      const wantsRetry = retriable && !hedged && this.retries < r.maxRetries && !this.concluded && this.canResend;
      let admitted = false;
      if (p.limiter !== undefined) {
        // The end of an attempt that was not hedged is the request's retry decision (Envoy's
        // shouldRetry on its headers or reset): the retry held is given back first.
        // Asking uses up one of the request's retries, admitted or not (retries_remaining_--).
        const holds = !hedged && this.holdsRetry;
        if (holds) this.holdsRetry = false;
        if (wantsRetry) this.retries++;
        admitted = endAttempt(p.limiter, retriable, holds, wantsRetry);
        if (admitted) this.holdsRetry = true;
        if (wantsRetry && !admitted) this.ctx.counters.budgetDenied++;
      }
      const others = this.out + this.pendingRetry + this.waiting;
      const action = envoyAttemptEndAction(hasResponse(outcome), retriable, hedged, admitted, others);
      if (action === 'retry') this.scheduleRetry(false);
      else if (action === 'final' && !this.concluded) answer = this.concludeWith(outcome, a, outcome.kind === 'success' && (flags & F_HEDGE) !== 0, protocol);
    }
    if (p.breaker !== undefined) drainPending(this.ctx);
    return answer;
  }

  /** Concludes with attempt `a`'s outcome: its response is forwarded, or the proxy answers for it. */
  private concludeWith(outcome: Outcome, a: Attempt, hedgeWon: boolean, protocol: boolean): boolean {
    if (hasResponse(outcome)) {
      this.conclude(outcome, a, hedgeWon, false, undefined);
      return true;
    }
    const reason: LocalReason = outcome.kind === 'timeout' ? 'timeout' : outcome.kind === 'connect-failure' ? 'connect-failure' : protocol ? 'protocol-error' : 'reset';
    this.conclude(outcome, undefined, hedgeWon, false, reason);
    return false;
  }

  /**
   * An admitted retry (or per-try-timeout hedge) waits out the backoff, then goes; the
   * decision that admitted it already counted it in `retries`.
   */
  private scheduleRetry(hedge: boolean): void {
    const r = this.ctx.policies.router;
    const n = ++this.admitted;
    this.pendingRetry++;
    if (hedge) this.ctx.counters.hedges++;
    else this.ctx.counters.retries++;
    const jitter = this.ctx.policies.jitter;
    const delay = r.backoff !== undefined && jitter !== undefined ? r.backoff(n, jitter) : 0;
    // A jittered backoff, rounded to a whole millisecond as Node's timers tick (see timerDelay).
    const t = setTimeout(onRetrySend, timerDelay(delay), this, hedge);
    (this.retryTimers ??= []).push(t);
  }

  retrySend(hedge: boolean): void {
    if (this.concluded) return;
    this.pendingRetry--;
    this.sendAttempt(F_BY_RETRY | (hedge ? F_HEDGE : 0));
  }

  /** The hedging delay passed without an answer: another attempt, if allowed. */
  hedge(): void {
    this.hedgeTimer = undefined;
    const p = this.ctx.policies;
    const r = p.router;
    if (this.concluded || this.out === 0 || this.out >= r.hedgeMax || this.retries >= r.maxRetries) return;
    // Asking uses up one of the request's retries, admitted or not, as for Envoy's retries.
    this.retries++;
    if (p.limiter !== undefined && !this.retryDecision(p.limiter, true)) {
      this.ctx.counters.budgetDenied++;
      return;
    }
    this.admitted++;
    this.ctx.counters.hedges++;
    this.sendAttempt(F_BY_RETRY | F_HEDGE);
    if (!this.concluded && this.out < r.hedgeMax && this.retries < r.maxRetries) this.hedgeTimer = setTimeout(onHedge, timerMs(r.hedgeDelay), this);
  }

  /** The route timeout passed: attempts still out end as timeouts, the client gets 504. */
  deadline(): void {
    this.deadlineTimer = undefined;
    if (this.concluded) {
      // The answer is being forwarded and is not over: Envoy's route timeout covers the whole response.
      if (!this.done && !this.upstreamDone && this.forwarded !== undefined) {
        this.ctx.counters.routeTimeouts++;
        const a = this.forwarded;
        a.forwarding = false;
        a.abort();
        this.finish(END_RESET);
        this.res.destroy();
      }
      return;
    }
    this.ctx.counters.routeTimeouts++;
    this.conclude(TIMED_OUT, undefined, false, true, 'timeout');
  }

  /**
   * The request has its answer: other attempts are cancelled (on the route timeout they end
   * as timeouts, which Envoy reports to outlier detection unless a soft per-try timeout
   * already did; a lost race ends them silently),
   * pending retries are abandoned, and the client gets `winner`'s response or the proxy's own.
   */
  private conclude(outcome: Outcome, winner: Attempt | undefined, hedgeWon: boolean, deadline: boolean, local: LocalReason | undefined): void {
    if (this.concluded) throw new Error('request concluded twice');
    this.concluded = true;
    const p = this.ctx.policies;
    // The route timeout also bounds the forwarding of the winner's response (Envoy's route
    // timeout covers the complete response): it stays armed until the response is over.
    this.stopTimers(winner !== undefined);
    if (this.waiting > 0) this.stopWaiting();
    if (this.out > 0) this.cancelAttempts(deadline);
    // Admitted retries abandoned during their backoff; the retry held is given back.
    this.pendingRetry = 0;
    this.giveBackRetry();
    const ok = outcome.kind === 'success';
    if (p.limiter !== undefined) p.limiter.onRequestEnd(ok);
    // Adaptive throttling counts per request, as it admitted it: an accept by its final answer.
    if (p.throttle !== undefined && throttleAccepts(outcome)) p.throttle.onAccepted();
    if (hedgeWon) this.ctx.counters.hedgesWon++;
    if (winner === undefined && local !== undefined) {
      const status = local === 'timeout' ? 504 : local === 'protocol-error' ? 502 : 503;
      this.localReply(status, local);
    }
  }

  /** The request is over: the retry it holds, if any, is given back (Envoy's retry state destroyed). */
  private giveBackRetry(): void {
    if (!this.holdsRetry) return;
    this.holdsRetry = false;
    this.ctx.policies.limiter?.onRetryEnd();
  }

  private stopTimers(keepDeadline = false): void {
    if (this.deadlineTimer !== undefined && !keepDeadline) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    if (this.hedgeTimer !== undefined) {
      clearTimeout(this.hedgeTimer);
      this.hedgeTimer = undefined;
    }
    if (this.retryTimers !== undefined) {
      for (const t of this.retryTimers) clearTimeout(t);
      this.retryTimers = undefined;
    }
  }

  private forEachAttempt(fn: (a: Attempt) => void): void {
    if (this.attempts !== undefined) for (const a of this.attempts) fn(a);
    else if (this.single !== undefined) fn(this.single);
  }

  /** Cancels the attempts still out (see conclude). */
  private cancelAttempts(deadline: boolean): void {
    const p = this.ctx.policies;
    const now = this.ctx.now();
    this.forEachAttempt((a) => {
      const flags = a.flags;
      if ((flags & F_ENDED) !== 0) return;
      a.flags = flags | F_ENDED;
      this.out--;
      if (a.tryTimer !== undefined) {
        clearTimeout(a.tryTimer);
        a.tryTimer = undefined;
      }
      const latency = now - a.sentAt;
      const ep = this.ctx.endpointOf[a.upstream];
      if (deadline) {
        if (ep >= 0) p.sidecar.attemptEnded(ep, TIMED_OUT, latency, (flags & F_TIMEOUT_RECORDED) === 0);
        this.ctx.counters.upstreams[a.upstream].ended('timeout', latency);
      } else {
        if (ep >= 0) p.sidecar.attemptCancelled(ep, latency);
        this.ctx.counters.upstreams[a.upstream].ended('cancelled', latency);
      }
      this.releaseBreaker();
      if (p.limiter !== undefined) p.limiter.onAttemptEnd();
      a.abort();
    });
    if (p.breaker !== undefined) drainPending(this.ctx);
  }

  /** The request ended: its attempts still waiting for a connection give up (and stop counting for the limiter). */
  private stopWaiting(): void {
    const p = this.ctx.policies;
    const cb = p.breaker;
    if (cb === undefined) return;
    const limiter = p.limiter;
    this.ctx.pending.remove(this, () => {
      cb.releasePending();
      limiter?.onAttemptEnd();
    });
    this.waiting = 0;
  }

  /**
   * The request stops where it is, without an answer from the router: attempts still out
   * are cancelled (no outlier event, as Envoy on a downstream reset), pending retries
   * abandoned, a response being forwarded is cut off.
   */
  private stopAll(): void {
    if (!this.concluded) {
      this.concluded = true;
      this.stopTimers();
      if (!this.started) return;
      const p = this.ctx.policies;
      if (this.waiting > 0) this.stopWaiting();
      if (this.out > 0) this.cancelAttempts(false);
      this.pendingRetry = 0;
      this.giveBackRetry();
      if (p.limiter !== undefined) p.limiter.onRequestEnd(false);
    } else {
      this.stopTimers();
      const a = this.forwarded;
      if (a !== undefined && a.forwarding) {
        a.forwarding = false;
        a.abort();
      }
    }
  }

  /** The client went away before its answer. */
  clientClosed(): void {
    this.stopAll();
    this.finish(END_CLIENT_CLOSED);
  }

  /**
   * The request cannot go on (its body is over the size limit): everything still out is
   * cancelled and the client gets `status` if its response has not started.
   */
  abandon(status: number, reason: LocalReason): void {
    this.stopAll();
    this.localReply(status, reason);
  }

  /** The proxy's own answer. */
  localReply(status: number, reason: LocalReason): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    this.local = true;
    const body = LOCAL_BODIES[reason];
    // x-meshsim-local-reply tells the proxy's own answers from an upstream's with the same
    // status (an upstream's 503 vs "no healthy upstream"), in a form a client can branch on.
    const headers = ['content-type', 'text/plain', 'content-length', String(body.length), LOCAL_REPLY_HEADER, reason];
    if (reason === 'overflow') headers.push('x-envoy-overloaded', 'true');
    // A body the client is still sending is not read: close the connection after answering.
    if (!this.req.complete) res.closeAfter();
    res.writeHead(status, undefined, headers);
    res.end(body);
  }

  /** The response to the client is over (finished, broken or abandoned): count it once. */
  finish(end: number): void {
    if (this.done) return;
    this.done = true;
    this.stopTimers();
    this.ctx.counters.requestEnded(end, this.ctx.now() - this.startedAt, !this.local && this.forwarded !== undefined);
  }

  /** The client's response closed (finished or not). */
  closed(): void {
    if (this.done) return;
    if (this.res.writableFinished) this.finish(this.res.statusCode);
    else this.clientClosed();
  }
}

const NO_CONTEXT = {};

/** Header on every answer the proxy gives itself, naming why (a {@link LocalReason}). */
export const LOCAL_REPLY_HEADER = 'x-meshsim-local-reply';

const LOCAL_BODIES: Readonly<Record<LocalReason, Buffer>> = {
  'no-healthy-upstream': Buffer.from('no healthy upstream'),
  overflow: Buffer.from('upstream connect error or disconnect/reset before headers. reset reason: overflow'),
  throttled: Buffer.from('request rejected by adaptive throttling'),
  timeout: Buffer.from('upstream request timeout'),
  'connect-failure': Buffer.from('upstream connect error or disconnect/reset before headers. reset reason: connection failure'),
  reset: Buffer.from('upstream connect error or disconnect/reset before headers. reset reason: connection termination'),
  'protocol-error': Buffer.from('upstream sent an invalid response'),
  'bad-request': Buffer.from('bad request'),
  'body-too-large': Buffer.from('payload too large'),
  'request-timeout': Buffer.from('request timeout'),
};

/*
 * Timeouts take effect one step late on purpose. Node runs a loop turn's expired timers
 * before it reads the sockets, so after a pause of the thread (a GC, a descheduled process
 * on a busy machine) a response already waiting in a socket would lose to a timeout that
 * expired while it waited: a 504 or a retry for an answer that had arrived in time (the
 * proxy soak saw 1% of plain requests go so behind a 25 ms per-try timeout). A timer that
 * fires only asks for a setImmediate, which runs after the poll phase has delivered what
 * arrived, as Envoy's event loop handles socket events before timers. The timeout then
 * finds an attempt that ended, or a response complete, and does nothing.
 */
function onDeadline(x: Exchange): void {
  setImmediate(deadlineNow, x);
}

function deadlineNow(x: Exchange): void {
  x.deadline();
}

function onHedge(x: Exchange): void {
  x.hedge();
}

function onRetrySend(x: Exchange, hedge: boolean): void {
  x.retrySend(hedge);
}

function onTryTimeout(a: Attempt): void {
  setImmediate(tryTimeoutNow, a);
}

function tryTimeoutNow(a: Attempt): void {
  a.x.tryTimeout(a);
}

/** Connections freed: send the attempts waiting for them, oldest first. */
let draining = false;
function drainPending(ctx: RouterContext): void {
  if (draining) return;
  const cb = ctx.policies.breaker;
  if (cb === undefined) return;
  draining = true;
  try {
    while (cb.activeConnections < cb.config.maxConnections) {
      const next = ctx.pending.shift();
      if (next === undefined) break;
      cb.releasePending();
      next.x.resumeWaiting(next.flags);
    }
  } finally {
    draining = false;
  }
}
