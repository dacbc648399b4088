/**
 * Server frames (RFC 6455 §5.2): unmasked, header and payload in one buffer, so a frame encoded once can be
 * written to many connections as-is (the broadcast fast path).
 * @module
 */
import {
  CLOSE_CODE,
  isWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  OPCODE,
} from "./constants.ts";
import { SlabAllocator } from "../util/mod.ts";

const EMPTY = new Uint8Array(0);
/** The RSV1 bit of a frame's first byte: "compressed" under permessage-deflate (RFC 7692 §6). */
const RSV1 = 0x40;
const encoder = new TextEncoder();
/** Frames are written and dropped: small ones are cut from shared slabs (one per frame is costly on Deno). */
const frames = new SlabAllocator();

/** Header bytes for a payload of `length` bytes: 7-bit, 16-bit or 64-bit length form (RFC 6455 §5.2). */
function headerSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Writes an unmasked header at the start of `frame`; `frame` is exactly header + payload long. */
function writeHeader(frame: Uint8Array, opcode: number, fin: boolean, length: number): void {
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    // Lengths stay below 2^53; split into two 32-bit halves (the top bit stays 0 as §5.2 requires).
    const high = Math.floor(length / 0x100000000);
    const view = new DataView(frame.buffer, frame.byteOffset, 10);
    view.setUint32(2, high);
    view.setUint32(6, length >>> 0);
  }
}

/**
 * Encodes one server frame: header and payload in a single new buffer.
 * @param opcode one of {@link OPCODE}
 * @param payload copied into the frame
 * @param fin false for a non-final fragment
 * @example
 * ```ts
 * const frame = encodeFrame(OPCODE.Binary, new Uint8Array([1, 2, 3]));
 * for (const ws of subscribers) ws.sendFrame(frame);
 * ```
 */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  if ((opcode & 0x8) !== 0 && (payload.length > MAX_CONTROL_PAYLOAD || !fin)) {
    throw new RangeError("control frames carry at most 125 bytes and cannot be fragmented");
  }
  const offset = headerSize(payload.length);
  const frame = frames.alloc(offset + payload.length);
  writeHeader(frame, opcode, fin, payload.length);
  frame.set(payload, offset);
  return frame;
}

/**
 * Encodes a text message as one frame. ASCII text (the common JSON case) is encoded straight into the frame
 * buffer; other text is encoded first and copied once.
 */
export function encodeText(text: string): Uint8Array {
  const offset = headerSize(text.length);
  const frame = frames.alloc(offset + text.length);
  // UTF-8 never takes fewer bytes than UTF-16 code units, and as many only for ASCII: if every unit was read
  // into exactly text.length bytes, the text was ASCII and the frame is complete.
  if (encoder.encodeInto(text, frame.subarray(offset)).read === text.length) {
    writeHeader(frame, OPCODE.Text, true, text.length);
    return frame;
  }
  return encodeFrame(OPCODE.Text, encoder.encode(text));
}

/**
 * Encodes a compressed message (RFC 7692 §7.2.1) as one frame with RSV1 set: `deflated` is the payload as
 * `deflateMessage` returns it. Only for a connection that negotiated permessage-deflate.
 * @param opcode {@link OPCODE.Text} or {@link OPCODE.Binary}, the opcode of the uncompressed message
 */
export function encodeCompressedFrame(opcode: number, deflated: Uint8Array): Uint8Array {
  if (opcode !== OPCODE.Text && opcode !== OPCODE.Binary) {
    throw new RangeError("only text and binary messages can be compressed");
  }
  const frame = encodeFrame(opcode, deflated);
  frame[0] |= RSV1;
  return frame;
}

/** Offset of the payload in a frame this module encoded: the header size for the frame's length. */
export function payloadOffset(frame: Uint8Array): number {
  const length7 = frame[1] & 0x7f;
  return length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
}

/** Encodes a binary message as one frame. */
export function encodeBinary(bytes: Uint8Array): Uint8Array {
  return encodeFrame(OPCODE.Binary, bytes);
}

/** Encodes a Ping; the peer must answer with the same payload (RFC 6455 §5.5.2). */
export function encodePing(payload: Uint8Array = EMPTY): Uint8Array {
  return encodeFrame(OPCODE.Ping, payload);
}

/** Encodes a Pong carrying the payload of the Ping it answers (RFC 6455 §5.5.3). */
export function encodePong(payload: Uint8Array = EMPTY): Uint8Array {
  return encodeFrame(OPCODE.Pong, payload);
}

/**
 * UTF-8 bytes of `reason`, cut at a character boundary to fit a Close frame (123 bytes, RFC 6455 §5.5.1).
 */
export function closeReasonBytes(reason: string): Uint8Array {
  const bytes = encoder.encode(reason);
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return bytes;
  let end = MAX_CLOSE_REASON_BYTES;
  // Back off over continuation bytes (10xxxxxx) so no code point is split.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Encodes a Close frame (RFC 6455 §5.5.1). Without a code the frame is empty (the peer then reports 1005).
 * A reason longer than 123 bytes is cut at a character boundary.
 * @throws {RangeError} when `code` may not be sent (1005, 1006, 1015, or outside the §7.4 ranges)
 */
export function encodeClose(code?: number, reason = ""): Uint8Array {
  if (code === undefined || code === CLOSE_CODE.NoStatusReceived) {
    if (reason !== "") throw new RangeError("a Close reason needs a status code");
    return encodeFrame(OPCODE.Close, EMPTY);
  }
  if (!isWireCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent`);
  const reasonBytes = closeReasonBytes(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return encodeFrame(OPCODE.Close, payload);
}
