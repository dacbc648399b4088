/**
 * Small buffers cut from shared slabs. On Deno a `new Uint8Array(n)` costs about 0.4 µs whatever `n` (each gets
 * a backing store of its own, which the garbage collector tracks); a view into a slab costs about 25 ns. The
 * hot paths that make one small buffer per message (server frames, HTTP responses) take them from here.
 *
 * A slab lives as long as any view into it, so only buffers that die soon belong here (written and dropped),
 * never data kept for long (history), where one small message could pin a whole slab.
 *
 * This folder imports nothing and may be imported by every layer.
 * @module
 */

/** Hands out fresh, never shared, views into slabs of `slabBytes`; larger requests get their own buffer. */
export class SlabAllocator {
  readonly slabBytes: number;
  readonly maxBytes: number;
  #slab = new ArrayBuffer(0);
  #offset = 0;

  /**
   * @param slabBytes size of each slab @default 16384
   * @param maxBytes largest buffer cut from a slab @default 2048
   */
  constructor(slabBytes = 16 * 1024, maxBytes = 2048) {
    this.slabBytes = slabBytes;
    this.maxBytes = maxBytes;
  }

  /** A zero-filled buffer of `length` bytes that no one else holds. */
  alloc(length: number): Uint8Array {
    if (length > this.maxBytes) return new Uint8Array(length);
    if (this.#offset + length > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(this.slabBytes);
      this.#offset = 0;
    }
    const out = new Uint8Array(this.#slab, this.#offset, length);
    this.#offset += length;
    return out;
  }
}
