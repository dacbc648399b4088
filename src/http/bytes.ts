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
