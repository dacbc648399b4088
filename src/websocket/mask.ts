/**
 * Client-to-server masking (RFC 6455 §5.3): payload byte i is XORed with mask byte (i mod 4).
 * @module
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes a word view costs more than it saves. */
const WORD_THRESHOLD = 32;

/**
 * Unmasks (or masks: XOR is its own inverse) `data` in place.
 * @param mask holds the 4 masking-key bytes at `maskOffset`
 * @param phase how many payload bytes of this frame came before `data` (only `phase mod 4` matters), so a
 * payload split across reads is unmasked piece by piece
 */
export function unmask(data: Uint8Array, mask: Uint8Array, maskOffset: number, phase: number): void {
  const m0 = mask[maskOffset + (phase & 3)];
  const m1 = mask[maskOffset + ((phase + 1) & 3)];
  const m2 = mask[maskOffset + ((phase + 2) & 3)];
  const m3 = mask[maskOffset + ((phase + 3) & 3)];
  const length = data.length;
  let i = 0;
  if (length >= WORD_THRESHOLD && (data.byteOffset & 3) === 0) {
    // Four bytes per XOR through a 32-bit view of the same memory (needs 4-byte alignment).
    const words = new Uint32Array(data.buffer, data.byteOffset, length >>> 2);
    const word = LITTLE_ENDIAN
      ? m0 | (m1 << 8) | (m2 << 16) | (m3 << 24)
      : (m0 << 24) | (m1 << 16) | (m2 << 8) | m3;
    for (let w = 0; w < words.length; w++) words[w] ^= word;
    i = words.length << 2;
  }
  for (; i + 3 < length; i += 4) {
    data[i] ^= m0;
    data[i + 1] ^= m1;
    data[i + 2] ^= m2;
    data[i + 3] ^= m3;
  }
  if (i < length) data[i] ^= m0;
  if (i + 1 < length) data[i + 1] ^= m1;
  if (i + 2 < length) data[i + 2] ^= m2;
}
