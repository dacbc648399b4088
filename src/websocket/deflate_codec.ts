/**
 * The per-message deflate codec (RFC 7692 §7.2) without context takeover: every message is compressed and
 * inflated on its own with one synchronous `node:zlib` call, so no zlib state outlives a message.
 *
 * Synchronous on purpose: Deno runs even the "async" zlib API on the JavaScript thread, and each call is
 * bounded by the message size limit (inflated output by a hard cap while inflating).
 * @module
 */
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { ProtocolError } from "./errors.ts";
import type { DeflateCompression } from "./permessage_deflate.ts";

/**
 * The empty stored block a sync flush ends with: removed from each compressed message, and appended again
 * before inflating (RFC 7692 §7.2.1, §7.2.2).
 */
export const DEFLATE_TRAILER: Readonly<Uint8Array> = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * zlib's memory level while compressing one message (1–9): its default. The memory is freed as soon as the
 * message is compressed, so it costs nothing per connection.
 */
const DEFLATE_MEM_LEVEL = 8;

/**
 * Compresses one message payload (RFC 7692 §7.2.1): raw deflate, sync-flushed, the trailing `00 00 ff ff`
 * removed.
 * @returns the compressed payload, or null when it would not be smaller than the payload itself
 */
export function deflateMessage(payload: Uint8Array, compression: DeflateCompression): Uint8Array | null {
  const out = deflateRawSync(payload, {
    level: compression.level,
    windowBits: compression.windowBits,
    memLevel: DEFLATE_MEM_LEVEL,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  // A sync flush always ends with the empty stored block; checked anyway rather than cutting blindly.
  const n = out.length;
  const trailer = n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff &&
    out[n - 1] === 0xff;
  const length = trailer ? n - 4 : n;
  if (length >= payload.length) return null;
  return new Uint8Array(out.buffer, out.byteOffset, length);
}

/**
 * True when zlib stopped because the output would pass `maxOutputLength`. Node and Bun throw a `RangeError`
 * with code `ERR_BUFFER_TOO_LARGE`; Deno does too since 2.4.5, and before it threw a `TypeError` whose
 * message names `ERR_BUFFER_TOO_LARGE` (deno#30310). All three are recognised.
 */
function isOutputCapError(error: unknown): boolean {
  if (error instanceof RangeError) return true;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === "ERR_BUFFER_TOO_LARGE" ||
    (typeof message === "string" && message.includes("ERR_BUFFER_TOO_LARGE"));
}

/**
 * Inflates one compressed message (RFC 7692 §7.2.2) whose payload, trailer included, is in `data`. The output
 * is capped while inflating: zlib stops as soon as it would pass `maxBytes`, so a small bomb never costs more
 * than `maxBytes` of memory. A stream that ends with a BFINAL block is accepted (§7.2.3.4).
 * @param data the compressed payload followed by {@link DEFLATE_TRAILER}
 * @param maxBytes largest inflated message
 * @throws {ProtocolError} `inflatedTooBig` (1009) past the cap, `corruptDeflate` (1007) for anything else
 */
export function inflateMessage(data: Uint8Array, maxBytes: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
  } catch (error) {
    throw new ProtocolError(isOutputCapError(error) ? "inflatedTooBig" : "corruptDeflate");
  }
  // Also checked here in case a zlib returns the capped output instead of throwing.
  if (out.length > maxBytes) throw new ProtocolError("inflatedTooBig");
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
