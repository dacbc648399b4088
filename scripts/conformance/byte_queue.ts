/**
 * A FIFO of received bytes: chunks are appended as they arrive and taken off in exact amounts, so a frame
 * of 16 MiB is copied once when it is complete rather than on every read.
 * @module
 */

/** Received bytes awaiting parsing. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** Bytes of `#chunks[0]` already taken. */
  #offset = 0;
  #length = 0;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  /** Appends a chunk; the queue keeps the reference, so pass a copy of a reused buffer. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes without consuming them, or null when fewer are queued. */
  peek(n: number): Uint8Array | null {
    if (n > this.#length) return null;
    const first = this.#chunks[0];
    if (first && first.length - this.#offset >= n) return first.subarray(this.#offset, this.#offset + n);
    return this.#copy(n, false);
  }

  /** Removes and returns the first `n` bytes; `n` must not exceed {@link length}. */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError(`take(${n}) with ${this.#length} bytes queued`);
    return this.#copy(n, true);
  }

  /** Position of `needle` in the first `limit` queued bytes, or -1. */
  indexOf(needle: Uint8Array, limit: number): number {
    const hay = this.peek(Math.min(limit, this.#length));
    if (!hay) return -1;
    outer: for (let i = 0; i + needle.length <= hay.length; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  #copy(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let index = 0;
    let offset = this.#offset;
    while (filled < n) {
      const chunk = this.#chunks[index];
      const count = Math.min(chunk.length - offset, n - filled);
      out.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      offset += count;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    if (consume) {
      this.#chunks.splice(0, index);
      this.#offset = offset;
      this.#length -= n;
    }
    return out;
  }
}
