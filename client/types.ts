/**
 * The client's public types: options, states and the events of a connection and of a subscription.
 * @module
 */

/** A way to reach the relay, in the order `transports` lists them. */
export type TransportName = "websocket" | "sse";

/** Where the connection stands. */
export type ConnectionState = "connecting" | "connected" | "disconnected";

/** The options of {@link connect}; every duration is in milliseconds. */
export interface ConnectOptions {
  /** Transports to try, in order, until one works; the one that worked is kept. @default ["websocket", "sse"] */
  transports?: TransportName[];
  /** A token (JWT) for a relay with auth on: sent as `?token=` on connections, `Authorization` on publishes. */
  token?: string;
  /**
   * Asked for a new token when the relay closes the connection for policy (1008: token expired or refused), once
   * per stable connection; without it, or when the new token is refused too, the client stops. Also asked
   * before the first connection when `token` is not given.
   */
  getToken?: () => string | Promise<string>;
  /** How long a transport may take to open and answer before the next one is tried. @default 5000 */
  timeoutMs?: number;
  /** Shortest delay before a reconnect. @default 500 */
  minReconnectDelayMs?: number;
  /** Longest delay before a reconnect. @default 20000 */
  maxReconnectDelayMs?: number;
  /** A connection that stayed up this long resets the delays to the shortest. @default 5000 */
  stableAfterMs?: number;
  /** How long `publish()` waits for its ack (including while disconnected) before it rejects. @default 10000 */
  publishTimeoutMs?: number;
  /** WebSocket: after this long without a frame, the client sends a `ping`. @default 25000 */
  pingAfterMs?: number;
  /** WebSocket: after a `ping`, how long without a frame before the connection is taken for dead. @default 10000 */
  pongTimeoutMs?: number;
  /** The `WebSocket` constructor (another implementation, or a fake in tests). @default globalThis.WebSocket */
  WebSocket?: typeof WebSocket;
  /** The `EventSource` constructor. @default globalThis.EventSource */
  EventSource?: typeof EventSource;
  /** The `fetch` function (SSE publishes). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** The `state` event. */
export interface StateEvent {
  state: ConnectionState;
  /** The transport in use when `connected`, else null. */
  transport: TransportName | null;
  /** Why the connection was lost: the WebSocket close code (1006 for a failed stream or attempt). */
  code?: number;
  reason?: string;
  /** True when the client stopped for good (`close()`, a refused token, a close code that means a bug). */
  final?: boolean;
}

/** A relay `error` that answers no publish (a refused subscribe, for example). */
export interface RelayErrorEvent {
  code: string;
  message: string;
}

/** The events of a connection. */
export type RelayEvents = {
  state: (event: StateEvent) => void;
  error: (event: RelayErrorEvent) => void;
};

/** Options of a subscription: resume after `since` in `epoch` (both from an earlier `subscribed`/`message`). */
export interface SubscribeOptions {
  since?: number;
  epoch?: string;
}

/**
 * The `subscribed` event: on every (re)subscription. `recovered: false` while `resumed` is true means messages
 * were lost (history too short, or the relay lost the channel's history): the app must resync.
 */
export interface SubscribedEvent {
  channel: string;
  /** The channel's latest seq when the subscription started (a replay of what was missed follows it). */
  seq: number;
  epoch: string;
  /** True when everything after the subscription's position is replayed. */
  recovered: boolean;
  /** True when the client asked to resume from a position (a reconnect, or `since` given). */
  resumed: boolean;
}

/** The `message` event: `text`, or `binary` bytes. */
export interface RelayMessage {
  channel: string;
  seq: number;
  /** Who published it (their token's `sub`), on channels the relay exposes publishers of; else absent. */
  publisher?: string;
  text?: string;
  binary?: Uint8Array;
}

/** The events of a subscription. */
export type SubscriptionEvents = {
  subscribed: (event: SubscribedEvent) => void;
  message: (event: RelayMessage) => void;
};

/** What `publish()` resolves with: the seq the relay stored the message as. */
export interface PublishResult {
  seq: number;
}

/** Why a publish failed: `code` is the relay's error code, or `timeout` / `closed` / `disconnected`. */
export class PublishError extends Error {
  override name = "PublishError";
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
