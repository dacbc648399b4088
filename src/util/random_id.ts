/**
 * Random identifiers.
 * @module
 */

/** Random bytes in an id: 128 bits, so two nodes or two epochs never collide by chance. */
const RANDOM_ID_BYTES = 16;

/** A fresh random id, as hex (32 characters): node ids and history epochs. */
export function randomId(): string {
  return crypto.getRandomValues(new Uint8Array(RANDOM_ID_BYTES)).toHex();
}
