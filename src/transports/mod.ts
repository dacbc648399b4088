/**
 * How sessions reach clients: each transport turns its wire into the relay core's `Outbound` and `Wire`.
 * WebSocket (our RFC 6455 stack under Hono's WebSocket helper shape) and server-sent events (the HTTP layer's
 * streaming hand-off).
 * @module
 */
export {
  CLOSE_CODE_OF,
  ENVELOPE_WIRE,
  envelopeWebSocketEvents,
  RAW_WIRE,
  rawWebSocketEvents,
} from "./websocket.ts";
export { acceptWebSocket, type UpgradeOptions, upgradeWebSocket } from "./websocket_upgrade.ts";
export {
  HeldPoll,
  LONG_POLL_DEFAULTS,
  type LongPollOptions,
  LongPolls,
  POLL_END,
  type PollEnd,
} from "./long_poll.ts";
export { SSE_HEADERS, SSE_MANY_WIRE, SSE_RETRY_MS, SSE_WIRE, type SseOptions, SseTransport } from "./sse.ts";
