/**
 * How sessions reach clients: each transport turns its wire into the relay core's `Outbound` and `Wire`.
 * Today: WebSocket (our RFC 6455 stack under Hono's WebSocket helper shape).
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
