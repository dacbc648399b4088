/**
 * Byte buffer helpers shared by the parser and the writer.
 * @module
 */
import { SlabAllocator } from "../util/mod.ts";

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

/** The slabs outgoing messages are cut from, shared by every connection. */
const messages = new SlabAllocator();

/**
 * A fresh buffer of `length` bytes for an outgoing message; small ones are cut from a shared slab (see
 * `src/util/slab.ts`). A slab lives while any of its messages is still queued on a connection, so a stalled
 * connection pins at most one slab per queued small message.
 */
export function allocMessage(length: number): Uint8Array {
  return messages.alloc(length);
}
