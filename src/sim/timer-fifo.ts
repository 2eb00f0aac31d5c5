/**
 * A FIFO of cancellable entries; the world uses it for timers that all share one delay
 * and for attempts waiting for a connection. Timers that all share one delay (a pool's route timeout, per-try timeout or hedging
 * delay), kept in a FIFO: with a fixed delay, expiry order is insertion order, so the
 * earliest timer is always at the head and only the head needs an engine event. This is
 * the trick behind Netty's and Finagle's timeout queues. Why here: nearly every timer is
 * moot before it fires (the request answered first); one engine event per timer made the
 * event queue twice as long, and checking each expired timer's record cost a cache miss
 * or two. Instead the owner cancels a timer through the position `push` returned, which
 * marks the slot dead in this FIFO's own dense arrays; expiry walks them in order and
 * skips the dead ones at once, so engine events are spent on timers that fire, about one
 * per delay for the rest.
 */
export class TimerFifo {
  private at = new Float64Array(64);
  private ids = new Int32Array(64);
  private alive = new Uint8Array(64);
  /** Position of the head (timers ever shifted) and of the next push (timers ever pushed). */
  private headPos = 0;
  private tailPos = 0;
  /** An engine event is pending for the head (set by the owner when it schedules one). */
  armed = false;

  get length(): number {
    return this.tailPos - this.headPos;
  }

  /** Adds a timer expiring at `at` (never earlier than the last one added); returns its position. */
  push(at: number, id: number): number {
    if (this.length === this.at.length) this.grow();
    const pos = this.tailPos++;
    const k = pos & (this.at.length - 1);
    this.at[k] = at;
    this.ids[k] = id;
    this.alive[k] = 1;
    return pos;
  }

  /** Cancels the timer at `pos` (a no-op once it fired or was cancelled). */
  cancel(pos: number): void {
    if (pos >= this.headPos && pos < this.tailPos) this.alive[pos & (this.at.length - 1)] = 0;
  }

  /** Expiry of the earliest timer (live or cancelled); Infinity when empty. */
  get nextAt(): number {
    return this.length > 0 ? this.at[this.headPos & (this.at.length - 1)] : Infinity;
  }

  /** Drops cancelled timers from the head, so it is live (or the FIFO empty). */
  dropCancelled(): void {
    const mask = this.at.length - 1;
    while (this.headPos < this.tailPos && this.alive[this.headPos & mask] === 0) this.headPos++;
  }

  /** Cancels every live timer whose id matches, calling `onCancel` for each. O(length). */
  cancelWhere(match: (id: number) => boolean, onCancel: (id: number) => void): void {
    const mask = this.at.length - 1;
    for (let pos = this.headPos; pos < this.tailPos; pos++) {
      const k = pos & mask;
      if (this.alive[k] === 1 && match(this.ids[k])) {
        this.alive[k] = 0;
        onCancel(this.ids[k]);
      }
    }
  }

  /** Removes the earliest timer; returns its id, or -1 when it was cancelled. */
  shift(): number {
    const k = this.headPos++ & (this.at.length - 1);
    return this.alive[k] === 1 ? this.ids[k] : -1;
  }

  private grow(): void {
    const n = this.at.length;
    const mask = n * 2 - 1;
    const at = new Float64Array(n * 2);
    const ids = new Int32Array(n * 2);
    const alive = new Uint8Array(n * 2);
    for (let pos = this.headPos; pos < this.tailPos; pos++) {
      const from = pos & (n - 1);
      const to = pos & mask;
      at[to] = this.at[from];
      ids[to] = this.ids[from];
      alive[to] = this.alive[from];
    }
    this.at = at;
    this.ids = ids;
    this.alive = alive;
  }
}
