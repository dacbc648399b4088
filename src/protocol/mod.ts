/**
 * The relay's wire format, shared by the server and its clients: the `relay.v1` envelope protocol, the
 * server-sent events and their ids, the HTTP API's error codes, and the channel-name rule. Imports nothing.
 * @module
 */
export * from "./envelope.ts";
export { API_ERROR, apiError, type ApiErrorCode } from "./api_error.ts";
export { CHANNEL_RULE } from "./channel_rule.ts";
export type * from "./reply.ts";
export {
  isStreamEpoch,
  MAX_EPOCH_CHARS,
  MAX_ID_CHARS_PER_CHANNEL,
  parseStreamId,
  positionId,
  sseComment,
  sseEvent,
  sseIdBlock,
  sseRetry,
  sseRetryLine,
  streamId,
  type StreamPosition,
} from "./sse.ts";
