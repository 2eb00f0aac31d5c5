/**
 * The future-event list: a priority queue of events keyed by (time, insertion sequence),
 * so events at equal times fire in the order they were scheduled and every run is
 * deterministic (SimPy's (time, priority, eid) ordering, minus the priority).
 *
 * Hand-written because it is the simulator's hottest path. It is a calendar queue
 * (R. Brown, "Calendar queues", CACM 31(10), 1988): events hash by time into buckets
 * one "day" wide, each bucket a sorted linked list; dequeue scans from the current day,
 * so hold operations cost O(1) on average instead of a heap's O(log n). All state lives
 * in parallel typed arrays (struct-of-arrays node pool with a free list): no object per
 * event and no garbage. Two refinements over Brown's original:
 *  - the day width is re-estimated not only when the bucket count doubles or halves but
 *    also when the measured work per operation drifts high (as in SNOOPy/dynamic CQs),
 *    so a change in the event-time distribution cannot leave it badly tuned;
 *  - bucket positions use one formula, floor(t / width), everywhere, so floating-point
 *    rounding can never put an event in a different day than the scan expects.
 * On the hold model at 100k pending it does ~10M holds/s on a 2-core VM where a typed-array
 * 4-ary heap did ~4.5M and a heap of plain objects ~1M (bench/event-queue.bench.ts).
 */

const MIN_BUCKETS = 16;
/** Average buckets scanned plus list nodes walked per operation above which we retune. */
const RETUNE_COST = 4;

export class EventQueue {
  // Node pool.
  private time: Float64Array;
  private seqs: Float64Array;
  private kinds: Int32Array;
  private args: Int32Array;
  private next: Int32Array;
  private freeHead = -1;
  private used = 0;

  // Calendar.
  private heads: Int32Array = new Int32Array(MIN_BUCKETS).fill(-1);
  private nb = MIN_BUCKETS;
  private mask = MIN_BUCKETS - 1;
  private invW = 1;
  /** Current day number (floor(t / width)) and its bucket; +Infinity when nothing is pending. */
  private curDay = Infinity;
  private cur = 0;
  private lastTime = -Infinity;

  private n = 0;
  private nextSeq = 0;

  // Self-tuning counters: empty buckets scanned per pop, list nodes walked per push.
  private scanWork = 0;
  private walkWork = 0;
  private ops = 0;

  /** Fields of the event last removed by {@link pop}. */
  topTime = 0;
  topSeq = 0;
  topKind = 0;
  topArg = 0;

  constructor(initialCapacity = 1024) {
    const c = Math.max(16, initialCapacity);
    this.time = new Float64Array(c);
    this.seqs = new Float64Array(c);
    this.kinds = new Int32Array(c);
    this.args = new Int32Array(c);
    this.next = new Int32Array(c);
  }

  get size(): number {
    return this.n;
  }

  /** Sequence number the next push will get. */
  get sequence(): number {
    return this.nextSeq;
  }

  /**
   * Adds an event; returns its sequence number (unique, increasing). `t` must not be
   * earlier than the last popped event's time (the engine guarantees it).
   */
  push(t: number, kind: number, arg: number): number {
    let id = this.freeHead;
    if (id !== -1) this.freeHead = this.next[id];
    else {
      if (this.used === this.time.length) this.growPool();
      id = this.used++;
    }
    const seq = this.nextSeq++;
    this.time[id] = t;
    this.seqs[id] = seq;
    this.kinds[id] = kind;
    this.args[id] = arg;
    this.link(id, t);
    if (++this.n > 2 * this.nb) this.rebuild(this.nb * 2);
    return seq;
  }

  /** Removes the earliest event into the `top*` fields; returns false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const heads = this.heads;
    const time = this.time;
    const invW = this.invW;
    const mask = this.mask;
    let b = this.cur;
    let day = this.curDay;
    const nb = this.nb;
    for (let k = 0; k < nb; k++) {
      const h = heads[b];
      if (h !== -1 && Math.floor(time[h] * invW) <= day) {
        this.scanWork += k;
        this.cur = b;
        this.curDay = day;
        this.take(b, h);
        return true;
      }
      b = (b + 1) & mask;
      day++;
    }
    // A whole year was empty: find the earliest bucket head directly.
    this.scanWork += nb;
    const seqs = this.seqs;
    let best = -1;
    let bestBucket = 0;
    for (let i = 0; i < nb; i++) {
      const h = heads[i];
      if (h !== -1 && (best === -1 || time[h] < time[best] || (time[h] === time[best] && seqs[h] < seqs[best]))) {
        best = h;
        bestBucket = i;
      }
    }
    this.cur = bestBucket;
    this.curDay = Math.floor(time[best] * invW);
    this.take(bestBucket, best);
    return true;
  }

  /** Time of the earliest event; Infinity when empty. O(buckets) — not for hot paths. */
  peekTime(): number {
    let best = Infinity;
    for (let i = 0; i < this.nb; i++) {
      const h = this.heads[i];
      if (h !== -1 && this.time[h] < best) best = this.time[h];
    }
    return best;
  }

  clear(): void {
    this.heads.fill(-1);
    this.freeHead = -1;
    this.used = 0;
    this.n = 0;
    this.lastTime = -Infinity;
    this.curDay = Infinity;
  }

  private link(id: number, t: number): void {
    const day = Math.floor(t * this.invW);
    // Before the first pop (or after clear) an event may precede the day the scan starts at.
    if (day < this.curDay) {
      this.curDay = day;
      this.cur = day & this.mask;
    }
    const b = day & this.mask;
    const time = this.time;
    const next = this.next;
    let h = this.heads[b];
    if (h === -1 || time[h] > t) {
      next[id] = h;
      this.heads[b] = id;
      return;
    }
    // Equal times stay FIFO: the new event has the largest seq, so walk past all ≤ t.
    let prev = h;
    h = next[h];
    let walked = 1;
    while (h !== -1 && time[h] <= t) {
      prev = h;
      h = next[h];
      walked++;
    }
    next[id] = h;
    next[prev] = id;
    this.walkWork += walked;
  }

  private take(b: number, h: number): void {
    this.heads[b] = this.next[h];
    this.topTime = this.time[h];
    this.topSeq = this.seqs[h];
    this.topKind = this.kinds[h];
    this.topArg = this.args[h];
    this.next[h] = this.freeHead;
    this.freeHead = h;
    this.lastTime = this.topTime;
    const n = --this.n;
    if (n < this.nb >> 1 && this.nb > MIN_BUCKETS) this.rebuild(this.nb >> 1);
    else if (++this.ops >= 4096) this.maybeRetune();
  }

  /**
   * Days too narrow show as empty buckets scanned per pop, days too wide as long lists
   * walked per push; when one dominates, double or halve the width and re-bucket.
   */
  private maybeRetune(): void {
    const scan = this.scanWork / this.ops;
    const walk = this.walkWork / this.ops;
    this.scanWork = 0;
    this.walkWork = 0;
    this.ops = 0;
    if (scan > RETUNE_COST && scan > 2 * walk) this.rebuild(this.nb, this.invW / 2);
    else if (walk > RETUNE_COST && walk > 2 * scan) this.rebuild(this.nb, this.invW * 2);
  }

  /**
   * Re-buckets every event into `nb` buckets, with day width 1/invW when given, else
   * estimated from the earliest events.
   */
  private rebuild(nb: number, invW?: number): void {
    const time = this.time;
    const seqs = this.seqs;
    const ids = new Int32Array(this.n);
    let k = 0;
    for (let i = 0; i < this.nb; i++) for (let h = this.heads[i]; h !== -1; h = this.next[h]) ids[k++] = h;
    const order = Array.from(ids).sort((a, b) => time[a] - time[b] || seqs[a] - seqs[b]);
    // Brown's estimate: 3× the mean gap among the earliest events, ignoring gaps > 2× mean.
    const sample = Math.min(order.length, 25);
    if (invW !== undefined) this.invW = invW;
    else if (sample >= 2) {
      const first = time[order[0]];
      const mean = (time[order[sample - 1]] - first) / (sample - 1);
      let sum = 0;
      let cnt = 0;
      for (let i = 1; i < sample; i++) {
        const d = time[order[i]] - time[order[i - 1]];
        if (d <= 2 * mean) {
          sum += d;
          cnt++;
        }
      }
      const gap = cnt > 0 && sum > 0 ? sum / cnt : mean;
      // A width must stay representable against the times themselves.
      const floor = Math.max(Math.abs(first), 1) * 1e-12;
      if (gap > 0) this.invW = 1 / Math.max(3 * gap, floor);
    }
    this.nb = nb;
    this.mask = nb - 1;
    this.heads = new Int32Array(nb).fill(-1);
    const next = this.next;
    // Insert back to front so each bucket list ends up in (time, seq) order.
    for (let i = order.length - 1; i >= 0; i--) {
      const id = order[i];
      const b = Math.floor(time[id] * this.invW) & this.mask;
      next[id] = this.heads[b];
      this.heads[b] = id;
    }
    const start = this.lastTime === -Infinity ? (order.length > 0 ? time[order[0]] : 0) : this.lastTime;
    this.curDay = Math.floor(start * this.invW);
    this.cur = this.curDay & this.mask;
    this.scanWork = 0;
    this.walkWork = 0;
    this.ops = 0;
  }

  private growPool(): void {
    const c = this.time.length * 2;
    const time = new Float64Array(c);
    time.set(this.time);
    const seqs = new Float64Array(c);
    seqs.set(this.seqs);
    const kinds = new Int32Array(c);
    kinds.set(this.kinds);
    const args = new Int32Array(c);
    args.set(this.args);
    const next = new Int32Array(c);
    next.set(this.next);
    this.time = time;
    this.seqs = seqs;
    this.kinds = kinds;
    this.args = args;
    this.next = next;
  }
}
