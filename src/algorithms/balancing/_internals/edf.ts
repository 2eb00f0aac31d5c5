/**
 * Earliest-deadline-first scheduler for weighted round robin.
 * Follows Envoy's `EdfScheduler` (source/common/upstream/edf_scheduler.h): an entry added
 * at the scheduler's current time `t` with weight `w` gets deadline `t + 1/w`; a pick pops
 * the smallest deadline (FIFO on equal deadlines, by insertion order), sets the current
 * time to that deadline and re-inserts the entry with its (possibly new) weight. Over
 * time each entry is picked at a rate proportional to its weight, in O(log n) per pick.
 * `build` follows `EdfScheduler::createWithPicks`: it produces (up to tie order) the state
 * after `picks` picks from a fresh scheduler, in O(n log n) however large `picks` is.
 *
 * Differs from Envoy in representation only: entries are integer slots 0..n−1 (the
 * caller maps them to endpoints) kept in a typed-array binary heap, and each slot is
 * queued at most once (Envoy's weak pointers and lazy removal are not needed because a
 * balancer rebuilds the whole schedule on membership change, as Envoy does too).
 */

/** Envoy's cap on emulated pre-picks (`UINT32_MAX / 10`). */
export const EDF_MAX_PREPICKS = 429_496_729;

/** Envoy's epsilon added to each weight while emulating pre-picks, so weights that are multiples of each other stay exact. */
export const EDF_PREPICK_EPSILON = 1e-13;

/** The deadline of an entry added at `currentTime` with `weight` (> 0). */
export function edfDeadline(currentTime: number, weight: number): number {
  return currentTime + 1 / weight;
}

export class EdfScheduler {
  /** Binary min-heap of slots, ordered by (deadline, order). */
  private heap: Int32Array;
  /** Per slot: its deadline and its insertion number (the FIFO tie-breaker). */
  private deadline: Float64Array;
  private order: Float64Array;
  private len = 0;
  private now = 0;
  private nextOrder = 0;

  constructor(capacity = 0) {
    this.heap = new Int32Array(capacity);
    this.deadline = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
  }

  /** Entries queued. */
  get size(): number {
    return this.len;
  }

  /** The scheduler's current time: the deadline of the last pick. */
  get currentTime(): number {
    return this.now;
  }

  /** The deadline slot `slot` is queued with (meaningful only while it is queued). */
  deadlineOf(slot: number): number {
    return this.deadline[slot];
  }

  /** Empties the scheduler (time 0) and makes room for slots 0..capacity−1. */
  reset(capacity: number): void {
    if (capacity > this.heap.length) {
      this.heap = new Int32Array(capacity);
      this.deadline = new Float64Array(capacity);
      this.order = new Float64Array(capacity);
    }
    this.len = 0;
    this.now = 0;
    this.nextOrder = 0;
  }

  /** Queues `slot` (not already queued, < capacity) with deadline `currentTime + 1/weight`. */
  add(slot: number, weight: number): void {
    if (!(weight > 0)) throw new RangeError(`EDF weight must be > 0, got ${weight}`);
    if (!(slot >= 0 && slot < this.heap.length)) throw new RangeError(`EDF slot ${slot} outside capacity ${this.heap.length}`);
    this.deadline[slot] = edfDeadline(this.now, weight);
    this.order[slot] = this.nextOrder++;
    this.heap[this.len] = slot;
    this.siftUp(this.len++);
  }

  /** The slot the next pick returns, or -1 when empty. */
  peek(): number {
    return this.len === 0 ? -1 : this.heap[0];
  }

  /**
   * Picks the earliest-deadline slot: the current time becomes its deadline and it is
   * re-queued with `weight` (its weight now; a weight ≤ 0 or NaN drops it). Returns the
   * slot, or -1 when empty. Call {@link peek} first when the weight depends on the slot.
   */
  pickAndAdd(weight: number): number {
    if (this.len === 0) return -1;
    const slot = this.heap[0];
    this.now = this.deadline[slot];
    if (weight > 0) {
      // Re-insert in place: the new deadline is ≥ the current time, which is the heap's
      // minimum, so one sift-down replaces Envoy's pop + push.
      this.deadline[slot] = this.now + 1 / weight;
      this.order[slot] = this.nextOrder++;
      this.siftDown(0);
    } else {
      this.removeTop();
    }
    return slot;
  }

  /** Picks the earliest-deadline slot without re-queueing it; -1 when empty. */
  pop(): number {
    if (this.len === 0) return -1;
    const slot = this.heap[0];
    this.now = this.deadline[slot];
    this.removeTop();
    return slot;
  }

  /**
   * Replaces the contents with slots 0..n−1 weighted `weights` (each > 0), in the state
   * reached after `picks` picks (taken modulo {@link EDF_MAX_PREPICKS}) from a fresh
   * scheduler. Envoy's createWithPicks: with `W = Σ(w_i + ε)`, slot `i` is credited
   * `p_i = ⌊P·(w_i + ε)/W⌋` picks (one fewer when rounding would put its last pick after
   * `P/W`), queued at `(p_i + 1)/(w_i + ε)` with FIFO order `i`; the time becomes the
   * latest credited pick, and the `P − Σp_i < n` picks left are made one by one.
   */
  build(weights: ArrayLike<number>, picks = 0): void {
    const n = weights.length;
    this.reset(n);
    if (n === 0) return;
    const p = Math.floor(picks) % EDF_MAX_PREPICKS;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`EDF weight must be finite and > 0, got ${w} for slot ${i}`);
      sum += w + EDF_PREPICK_EPSILON;
    }
    let credited = 0;
    let maxPickTime = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i] + EDF_PREPICK_EPSILON;
      let floorPicks = Math.floor((w * p) / sum);
      if (floorPicks > 0 && floorPicks / w >= p / sum) floorPicks--;
      const pickTime = floorPicks / w;
      if (pickTime > maxPickTime) maxPickTime = pickTime;
      this.deadline[i] = (floorPicks + 1) / w;
      this.order[i] = i;
      this.heap[i] = i;
      credited += floorPicks;
    }
    this.len = n;
    this.now = maxPickTime;
    this.nextOrder = n;
    for (let k = (n >> 1) - 1; k >= 0; k--) this.siftDown(k);
    for (; credited < p; credited++) this.pickAndAdd(weights[this.heap[0]]);
  }

  private removeTop(): void {
    const last = this.heap[--this.len];
    if (this.len > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private less(a: number, b: number): boolean {
    const da = this.deadline[a];
    const db = this.deadline[b];
    return da < db || (da === db && this.order[a] < this.order[b]);
  }

  private siftUp(pos: number): void {
    const heap = this.heap;
    const slot = heap[pos];
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const p = heap[parent];
      if (!this.less(slot, p)) break;
      heap[pos] = p;
      pos = parent;
    }
    heap[pos] = slot;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const len = this.len;
    const slot = heap[pos];
    while (true) {
      let child = 2 * pos + 1;
      if (child >= len) break;
      const right = child + 1;
      if (right < len && this.less(heap[right], heap[child])) child = right;
      const c = heap[child];
      if (!this.less(c, slot)) break;
      heap[pos] = c;
      pos = child;
    }
    heap[pos] = slot;
  }
}
