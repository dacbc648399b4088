/**
 * The one error type for peer protocol violations, and the one place it becomes a Close frame.
 * @module
 */
import { CLOSE_CODE } from "./constants.ts";
import type { CloseCode } from "./constants.ts";
import { encodeClose } from "./frame_encoder.ts";

/**
 * Every violation the WebSocket layer detects: its close code and a short, stable reason (sent to the peer in
 * the Close frame, so it names the rule and never echoes peer data).
 */
export const PROTOCOL_VIOLATION = {
  unmaskedFrame: { code: CLOSE_CODE.ProtocolError, reason: "client frames must be masked" }, // §5.1
  reservedBits: { code: CLOSE_CODE.ProtocolError, reason: "reserved bits set" }, // §5.2 RSV1-3
  reservedOpcode: { code: CLOSE_CODE.ProtocolError, reason: "reserved opcode" }, // §5.2
  fragmentedControl: { code: CLOSE_CODE.ProtocolError, reason: "fragmented control frame" }, // §5.5
  controlTooLong: { code: CLOSE_CODE.ProtocolError, reason: "control frame payload over 125 bytes" }, // §5.5
  lengthTooLarge: { code: CLOSE_CODE.ProtocolError, reason: "64-bit length with the top bit set" }, // §5.2
  unexpectedContinuation: { code: CLOSE_CODE.ProtocolError, reason: "continuation without a message" }, // §5.4
  interleavedMessage: { code: CLOSE_CODE.ProtocolError, reason: "new message inside a fragmented one" }, // §5.4
  closePayloadOneByte: { code: CLOSE_CODE.ProtocolError, reason: "close payload of one byte" }, // §5.5.1
  invalidCloseCode: { code: CLOSE_CODE.ProtocolError, reason: "invalid close code" }, // §7.4
  invalidUtf8: { code: CLOSE_CODE.InvalidFramePayloadData, reason: "invalid UTF-8 in text message" }, // §8.1
  invalidCloseReason: { code: CLOSE_CODE.InvalidFramePayloadData, reason: "invalid UTF-8 in close reason" },
  messageTooBig: { code: CLOSE_CODE.MessageTooBig, reason: "message too big" },
  tooManyFragments: { code: CLOSE_CODE.MessageTooBig, reason: "too many fragments" },
  // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message, and only that.
  compressedControl: { code: CLOSE_CODE.ProtocolError, reason: "RSV1 on a control frame" },
  compressedContinuation: { code: CLOSE_CODE.ProtocolError, reason: "RSV1 on a continuation frame" },
  inflatedTooBig: { code: CLOSE_CODE.MessageTooBig, reason: "message too big once inflated" },
  corruptDeflate: { code: CLOSE_CODE.InvalidFramePayloadData, reason: "invalid compressed data" }, // §7.2.2
} as const satisfies Record<string, { code: CloseCode; reason: string }>;

/** The stable name of a {@link PROTOCOL_VIOLATION}. */
export type ProtocolViolation = keyof typeof PROTOCOL_VIOLATION;

/** A peer broke RFC 6455 or a configured limit; the connection must be failed with {@link ProtocolError.code}. */
export class ProtocolError extends Error {
  /** Stable identifier of the rule broken (for logs and metrics). */
  readonly kind: ProtocolViolation;
  /** The close code to send (RFC 6455 §7.4.1). */
  readonly code: CloseCode;
  /** The short reason sent in the Close frame. */
  readonly reason: string;

  constructor(kind: ProtocolViolation) {
    const { code, reason } = PROTOCOL_VIOLATION[kind];
    super(reason);
    this.name = "ProtocolError";
    this.kind = kind;
    this.code = code;
    this.reason = reason;
  }

  /** The Close frame that fails the connection with this error (RFC 6455 §7.1.7). */
  toCloseFrame(): Uint8Array {
    return encodeClose(this.code, this.reason);
  }
}
