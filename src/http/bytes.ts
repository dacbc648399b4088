/**
 * Byte buffer helpers shared by the parser and the writer.
 * @module
 */

/** Joins `parts` (holding `total` bytes) into one buffer; a single part is returned as is. */
export function concatBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Size of the shared slabs that small outgoing messages are cut from. */
export const SLAB_BYTES = 16 * 1024;
/** Outgoing messages up to this size are cut from a slab; larger ones get a buffer of their own. */
export const SLAB_MESSAGE_BYTES = 2048;

let slab = new ArrayBuffer(0);
let slabOffset = 0;

/**
 * A fresh buffer of `length` bytes for an outgoing message. Small ones are views into a shared slab, never
 * handed out twice: one allocation per slab instead of one backing store per response, which the garbage
 * collector notices. A slab lives while any of its messages is still queued on a connection, so a stalled
 * connection pins at most one slab per queued small message.
 */
export function allocMessage(length: number): Uint8Array {
  if (length > SLAB_MESSAGE_BYTES) return new Uint8Array(length);
  if (slabOffset + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabOffset = 0;
  }
  const out = new Uint8Array(slab, slabOffset, length);
  slabOffset += length;
  return out;
}
