/**
 * RFC 6455 WebSocket: handshake validation, frame codec, UTF-8 validation, permessage-deflate (RFC 7692), and
 * the server-side connection with its close handshake and heartbeat. Web types only; knows nothing of HTTP routing or channels.
 * @module
 */
export {
  CLOSE_CODE,
  type CloseCode,
  isControlOpcode,
  isOpcode,
  isWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MAX_CONTROL_PAYLOAD,
  OPCODE,
  type Opcode,
  WEBSOCKET_GUID,
  WEBSOCKET_LIMITS,
  WEBSOCKET_VERSION,
  type WebSocketOptions,
} from "./constants.ts";
export { PROTOCOL_VIOLATION, ProtocolError, type ProtocolViolation } from "./errors.ts";
export { type ExtensionOffer, parseExtensions, parseTokenList } from "./tokens.ts";
export {
  acceptKey,
  type HandshakeAccepted,
  type HandshakeOptions,
  type HandshakeRefused,
  type HandshakeResult,
  validateHandshake,
} from "./handshake.ts";
export {
  decodeUtf8,
  decodeValidUtf8,
  isValidUtf8,
  UTF8_ACCEPT,
  UTF8_REJECT,
  utf8Step,
} from "./utf8_validator.ts";
export { type FrameEvents, FrameParser, type FrameParserLimits } from "./frame_parser.ts";
export { MessageAssembler } from "./message_assembler.ts";
export {
  DEFLATE_DEFAULTS,
  type DeflateAgreement,
  type DeflateCompression,
  type DeflateOptions,
  MAX_WINDOW_BITS,
  MIN_WINDOW_BITS,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
} from "./permessage_deflate.ts";
export { DEFLATE_TRAILER, deflateMessage, inflateMessage } from "./deflate_codec.ts";
export {
  closeReasonBytes,
  encodeBinary,
  encodeClose,
  encodeCompressedFrame,
  encodeFrame,
  encodePing,
  encodePong,
  encodeText,
  payloadOffset,
} from "./frame_encoder.ts";
export { Heartbeat, type HeartbeatMember } from "./heartbeat.ts";
export {
  READY_STATE,
  type ReadyState,
  WebSocketConnection,
  type WebSocketConnectionOptions,
  type WebSocketEvents,
} from "./connection.ts";
