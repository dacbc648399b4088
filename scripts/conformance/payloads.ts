/**
 * Deterministic payloads: binary with every byte value, and text that is valid UTF-8 of an exact byte length
 * mixing 1- to 4-byte sequences, so chunk and fragment boundaries land inside code points.
 * @module
 */

const encoder = new TextEncoder();
const TEXT_PATTERN = encoder.encode("Edge relay: κόσμε € 😀 ∑ ok; ");

/** `n` bytes cycling through all 256 values with a stride, so shifted or dropped bytes show. */
export function binaryPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** Exactly `n` bytes of valid UTF-8: the pattern repeated, cut at a code point boundary, padded with ".". */
export function textPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += TEXT_PATTERN.length) out.set(TEXT_PATTERN.subarray(0, n - at), at);
  // Walk back from the end to the start of the last (possibly cut) code point and pad from there.
  let end = n;
  if (end > 0) {
    let start = end - 1;
    while (start > 0 && (out[start] & 0xc0) === 0x80) start--;
    const lead = out[start];
    const size = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    if (start + size > n) end = start;
  }
  out.fill(0x2e, end);
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes from a hex string with optional spaces (`"ce ba e1"`). */
export function hex(text: string): Uint8Array {
  return Uint8Array.fromHex(text.replaceAll(" ", ""));
}
