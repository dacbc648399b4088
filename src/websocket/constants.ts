/**
 * RFC 6455 numbers with their RFC names, and the WebSocket layer's limits.
 * @module
 */
import type { DeflateOptions } from "./permessage_deflate.ts";

/** Frame opcodes (RFC 6455 §5.2). 0x3–0x7 and 0xB–0xF are reserved. */
export const OPCODE = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the defined {@link OPCODE} values. */
export type Opcode = typeof OPCODE[keyof typeof OPCODE];

/** True for a defined opcode; a reserved one is a protocol error (RFC 6455 §5.2). */
export function isOpcode(value: number): value is Opcode {
  return value <= 0x2 || (value >= 0x8 && value <= 0xa);
}

/** True for Close, Ping and Pong: the high bit of the opcode marks a control frame (RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Close status codes (RFC 6455 §7.4.1, plus 1012–1014 from the IANA "WebSocket Close Code Number" registry).
 * 1005, 1006 and 1015 are reported locally and never sent in a Close frame.
 */
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
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  /** The relay uses it for slow consumers: the send queue passed its limit; reconnect and resume. */
  TryAgainLater: 1013,
  BadGateway: 1014,
  TlsHandshake: 1015,
} as const;

/** One of the named {@link CLOSE_CODE} values. */
export type CloseCode = typeof CLOSE_CODE[keyof typeof CLOSE_CODE];

/**
 * True when `code` may appear in a Close frame on the wire (RFC 6455 §7.4.1, §7.4.2): 1000–1003, 1007–1014
 * and the application ranges 3000–4999. Anything else received is a protocol error (1002).
 */
export function isWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3, §4.2.2). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version this server speaks (RFC 6455 §4.2.1 item 6). */
export const WEBSOCKET_VERSION = "13";

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest Close reason in bytes: the control payload minus the 2-byte code (RFC 6455 §5.5.1). */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

/** Limits and timings of one WebSocket connection; every value carries its unit. */
export interface WebSocketOptions {
  /**
   * Largest message, summed over its fragments, in bytes. A frame header that would pass it closes with 1009
   * before any payload is buffered.
   * @default 1048576
   */
  maxMessageBytes: number;
  /**
   * Most frames one message may span, empty continuations included. More closes with 1009.
   * @default 1024
   */
  maxFragments: number;
  /**
   * Most payload bytes held for the unfinished message of one connection. Only bytes that actually arrived
   * are held (nothing is preallocated from a length field), so this bounds memory per slow upload; it matters
   * when set below `maxMessageBytes`. Passing it closes with 1009.
   * @default 1048576
   */
  maxPendingBytes: number;
  /**
   * Milliseconds the peer has to answer our Close frame before TCP is closed anyway (RFC 6455 §7.1.1).
   * @default 5000
   */
  closeTimeoutMs: number;
  /**
   * Milliseconds between heartbeat pings; a peer silent for a whole interval after a ping is dropped.
   * 0 turns the heartbeat off.
   * @default 30000
   */
  pingIntervalMs: number;
  /**
   * permessage-deflate (RFC 7692): offered to clients with these settings, or null for off. Pass one object
   * for every connection: agreements, and the compressed frames built for them, are shared per object.
   * @default null
   */
  deflate: DeflateOptions | null;
}

/** The defaults of {@link WebSocketOptions}. */
export const WEBSOCKET_LIMITS: Readonly<WebSocketOptions> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxFragments: 1024,
  maxPendingBytes: 1024 * 1024,
  closeTimeoutMs: 5000,
  pingIntervalMs: 30000,
  deflate: null,
});
