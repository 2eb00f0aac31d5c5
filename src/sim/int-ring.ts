/** A growable FIFO ring buffer of integers (an instance's wait queue of request indices). */
export class IntRing {
  private buf: Int32Array;
  private head = 0;
  private len = 0;

  constructor(capacity = 16) {
    this.buf = new Int32Array(Math.max(2, capacity));
  }

  get length(): number {
    return this.len;
  }

  push(v: number): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) % this.buf.length] = v;
    this.len++;
  }

  /** Removes and returns the oldest value; the ring must not be empty. */
  shift(): number {
    const v = this.buf[this.head];
    this.head = (this.head + 1) % this.buf.length;
    this.len--;
    return v;
  }

  private grow(): void {
    const b = new Int32Array(this.buf.length * 2);
    for (let i = 0; i < this.len; i++) b[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = b;
    this.head = 0;
  }
}
