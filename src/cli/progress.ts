/**
 * The progress line of `meshsim run` on an interactive stderr: a bar of runs done out of
 * the total, simulated requests per wall second and the time left. Honest by construction:
 * the rate counts only finished runs' requests over the time since the start (thread
 * start-up included), and the time left extrapolates the finished runs' pace.
 */

export interface ProgressFigures {
  readonly done: number;
  readonly total: number;
  /** Requests simulated by the finished runs. */
  readonly requests: number;
  readonly elapsedMs: number;
}

/** 1234567 → "1.23M". */
function compact(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

/** Seconds as m:ss (or h:mm:ss). */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The line, without control characters: `[#####-----] 12/32 runs  1.23M req/s  0:42 left`. */
export function formatProgress(f: ProgressFigures, width = 20): string {
  const fraction = f.total > 0 ? f.done / f.total : 1;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const seconds = f.elapsedMs / 1000;
  const rate = f.done > 0 && seconds > 0 ? `${compact(f.requests / seconds)} req/s` : '… req/s';
  const left = f.done === f.total ? `done in ${clock(seconds)}` : f.done > 0 ? `${clock((seconds / f.done) * (f.total - f.done))} left` : '… left';
  return `${bar} ${f.done}/${f.total} runs  ${rate}  ${left}`;
}

/** Redraws the line in place (at most every `intervalMs`, and always the last one). */
export class ProgressLine {
  private requests = 0;
  private lastDraw = -Infinity;
  private readonly started: number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 100,
  ) {
    this.started = now();
  }

  /** A run finished: `done` of `total`, having simulated `requests` more requests. */
  update(done: number, total: number, requests: number): void {
    this.requests += requests;
    const t = this.now();
    if (done < total && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    const line = formatProgress({ done, total, requests: this.requests, elapsedMs: t - this.started });
    this.write(`\r\x1b[K${line}${done === total ? '\n' : ''}`);
  }
}
