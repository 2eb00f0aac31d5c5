/** A growable FIFO ring buffer of integers (an instance's wait queue of request indices). */
export class IntRing {
  private buf: Int32Array;
  /** Capacity − 1; capacity is a power of two so wrapping is a mask, not a division. */
  private mask: number;
  private head = 0;
  private len = 0;

  constructor(capacity = 16) {
    let c = 2;
    while (c < capacity) c *= 2;
    this.buf = new Int32Array(c);
    this.mask = c - 1;
  }

  get length(): number {
    return this.len;
  }

  push(v: number): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & this.mask] = v;
    this.len++;
  }

  /** Removes and returns the oldest value; the ring must not be empty. */
  shift(): number {
    const v = this.buf[this.head];
    this.head = (this.head + 1) & this.mask;
    this.len--;
    return v;
  }

  private grow(): void {
    const b = new Int32Array(this.buf.length * 2);
    for (let i = 0; i < this.len; i++) b[i] = this.buf[(this.head + i) & this.mask];
    this.buf = b;
    this.mask = b.length - 1;
    this.head = 0;
  }
}
