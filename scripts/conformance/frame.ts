/**
 * The suite's own RFC 6455 frame writer and reader. It deliberately shares nothing with `src/websocket/`:
 * a conformance client must not trust the implementation it checks, and it must be able to write frames a
 * correct encoder never would (reserved bits, reserved opcodes, unmasked frames, lying lengths).
 * @module
 */
import type { ByteQueue } from "./byte_queue.ts";

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const OPCODE = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close status codes the suite names (RFC 6455 §7.4.1, §11.7). */
export const CLOSE_CODE = {
  NormalClosure: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatusReceived: 1005,
  AbnormalClosure: 1006,
  InvalidFramePayloadData: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
} as const;

/** Control frames carry at most 125 payload bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** A frame the suite sends. Everything a well-behaved client would fix is overridable. */
export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array;
  /** @default true */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3). @default 0 */
  rsv?: number;
  /** Clients must mask (RFC 6455 §5.3); `false` sends the payload in the clear. @default true */
  mask?: boolean;
  /** A fixed masking key (4 bytes); random when absent. */
  maskKey?: Uint8Array;
}

/** A frame received from the server, unmasked if the server (wrongly) masked it. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Encodes the header (including the masking key) for a payload of `length` bytes. */
export function encodeHeader(
  spec: Omit<FrameSpec, "payload">,
  length: number | bigint,
  maskKey: Uint8Array | null,
): Uint8Array {
  const big = BigInt(length);
  const extra = big < 126n ? 0 : big < 65536n ? 2 : 8;
  const header = new Uint8Array(2 + extra + (maskKey ? 4 : 0));
  header[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = maskKey ? 0x80 : 0;
  const view = new DataView(header.buffer);
  if (extra === 0) header[1] = maskBit | Number(big);
  else if (extra === 2) {
    header[1] = maskBit | 126;
    view.setUint16(2, Number(big));
  } else {
    header[1] = maskBit | 127;
    // The 64-bit form is written as given, even with the most significant bit set, so the suite can send
    // lengths RFC 6455 §5.2 forbids.
    view.setBigUint64(2, big);
  }
  if (maskKey) header.set(maskKey, 2 + extra);
  return header;
}

/** Returns a fresh random masking key (RFC 6455 §5.3: unpredictable per frame). */
export function randomMaskKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(4));
}

/** XORs `payload` with `key` into a new array (the input stays intact for later comparison). */
export function applyMask(payload: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length);
  const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
  const n = payload.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    out[i] = payload[i] ^ k0;
    out[i + 1] = payload[i + 1] ^ k1;
    out[i + 2] = payload[i + 2] ^ k2;
    out[i + 3] = payload[i + 3] ^ k3;
  }
  for (; i < n; i++) out[i] = payload[i] ^ key[i & 3];
  return out;
}

/** Encodes one whole frame, masked unless `spec.mask === false`. */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  const payload = spec.payload ?? new Uint8Array(0);
  const key = spec.mask === false ? null : (spec.maskKey ?? randomMaskKey());
  const header = encodeHeader(spec, payload.length, key);
  const frame = new Uint8Array(header.length + payload.length);
  frame.set(header);
  frame.set(key ? applyMask(payload, key) : payload, header.length);
  return frame;
}

/** Concatenates byte arrays (used to put several frames in one TCP write). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Builds a close payload: 2-byte code plus reason (text is UTF-8 encoded, bytes are used as they are). */
export function closePayload(code: number, reason: string | Uint8Array = ""): Uint8Array {
  const reasonBytes = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + reasonBytes.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(reasonBytes, 2);
  return out;
}

/**
 * Takes one complete frame off the queue, or returns null while bytes are missing (the queue is left
 * untouched then). Lengths beyond 2^53 are reported as an error rather than allocated.
 */
export function takeFrame(queue: ByteQueue): ServerFrame | null {
  const head = queue.peek(2);
  if (!head) return null;
  const masked = (head[1] & 0x80) !== 0;
  const len7 = head[1] & 0x7f;
  const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerLength = 2 + extra + (masked ? 4 : 0);
  const header = queue.peek(headerLength);
  if (!header) return null;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  let length: number;
  if (extra === 0) length = len7;
  else if (extra === 2) length = view.getUint16(2);
  else {
    const big = view.getBigUint64(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`server announced a frame of ${big} bytes`);
    }
    length = Number(big);
  }
  if (queue.length < headerLength + length) return null;
  queue.take(headerLength);
  let payload = queue.take(length);
  if (masked) payload = applyMask(payload, header.subarray(2 + extra, 6 + extra));
  return {
    fin: (head[0] & 0x80) !== 0,
    rsv: (head[0] >> 4) & 7,
    opcode: head[0] & 0x0f,
    masked,
    payload,
  };
}

/** The close code and reason of a close payload; `code` is null for an empty payload. */
export function parseClosePayload(payload: Uint8Array): { code: number | null; reason: Uint8Array } {
  if (payload.length < 2) return { code: null, reason: payload };
  return { code: (payload[0] << 8) | payload[1], reason: payload.subarray(2) };
}

/** Status codes an endpoint may put in a Close frame (RFC 6455 §7.4.1, §7.4.2). */
export function isSendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}
