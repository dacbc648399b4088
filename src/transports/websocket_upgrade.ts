/**
 * `upgradeWebSocket` for Hono on our own stack, built on `hono/ws` like Hono's Deno and Bun adapters: the
 * handshake is validated (RFC 6455 §4.2.1), the 101 is registered with the HTTP layer through `c.env.upgrade`,
 * and the events reach the app as `WSContext`s, so relay code reads like any Hono WebSocket app.
 *
 * `ws.raw` is our {@link WebSocketConnection}: the transport (`websocket.ts`) writes pre-encoded frames with
 * `ws.raw.sendFrame`.
 * @module
 */
import type { Context } from "hono";
import {
  defineWebSocketHelper,
  WSContext,
  type WSContextInit,
  type WSEvents,
  type WSMessageReceive,
  type WSReadyState,
} from "hono/ws";
import type { RequestInfo } from "../http/mod.ts";
import { apiError } from "../protocol/mod.ts";
import {
  validateHandshake,
  WebSocketConnection,
  type WebSocketEvents,
  type WebSocketOptions,
} from "../websocket/mod.ts";

/** Options of one upgrade. */
export interface UpgradeOptions {
  /** Subprotocols this route speaks, in no particular order: the first one the client offers wins (§4.2.2). */
  protocols?: readonly string[];
  /** When the client offers subprotocols and none is ours: refuse with 400 (true) or serve without one. */
  requireKnownProtocol?: boolean;
  /** Per-connection limits (message size, fragments, timeouts, heartbeat) and permessage-deflate. */
  limits?: Partial<WebSocketOptions>;
}

/**
 * The event `onMessage` receives: the `data` (and `type`) of a `MessageEvent`, which is what Hono WebSocket
 * apps read. A real `MessageEvent` costs about 0.6 µs to construct on Bun (76 ns on Deno), once per message.
 */
class MessageArrived {
  readonly type = "message";
  readonly data: WSMessageReceive;
  constructor(data: WSMessageReceive) {
    this.data = data;
  }
}

/**
 * Carries our connection's events to Hono's `WSEvents`, with one `WSContext` per connection. One object per
 * connection rather than a closure per event: a relay holds many idle connections.
 */
class HonoBridge implements WebSocketEvents {
  readonly #events: WSEvents<WebSocketConnection>;
  #context: WSContext<WebSocketConnection> | undefined;

  constructor(events: WSEvents<WebSocketConnection>) {
    this.#events = events;
  }

  onOpen(ws: WebSocketConnection): void {
    this.#events.onOpen?.(new Event("open"), this.#contextOf(ws));
  }

  onMessage(ws: WebSocketConnection, data: string | Uint8Array): void {
    this.#events.onMessage?.(
      new MessageArrived(typeof data === "string" ? data : exactBuffer(data)) as unknown as MessageEvent<
        WSMessageReceive
      >,
      this.#contextOf(ws),
    );
  }

  onClose(ws: WebSocketConnection, code: number, reason: string, wasClean: boolean): void {
    this.#events.onClose?.(new CloseEvent("close", { code, reason, wasClean }), this.#contextOf(ws));
  }

  onError(ws: WebSocketConnection, error: Error): void {
    this.#events.onError?.(new ErrorEvent("error", { error, message: error.message }), this.#contextOf(ws));
  }

  #contextOf(ws: WebSocketConnection): WSContext<WebSocketConnection> {
    return this.#context ??= new WSContext<WebSocketConnection>(new ContextInit(ws));
  }
}

/**
 * What `WSContext` reads and calls. A class, not an object literal: a literal with a `readyState` getter gets
 * a hidden class of its own for every connection.
 */
class ContextInit implements WSContextInit<WebSocketConnection> {
  readonly raw: WebSocketConnection;
  readonly protocol: string | null;

  constructor(ws: WebSocketConnection) {
    this.raw = ws;
    this.protocol = ws.protocol;
  }

  get readyState(): WSReadyState {
    return this.raw.readyState;
  }

  send(source: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void {
    if (typeof source === "string") this.raw.sendText(source);
    else this.raw.sendBinary(source instanceof Uint8Array ? source : new Uint8Array(source));
  }

  close(code?: number, reason?: string): void {
    this.raw.close(code, reason);
  }
}

/** The message's bytes as an ArrayBuffer, copied only when the view does not span its whole buffer. */
function exactBuffer(data: Uint8Array): ArrayBuffer {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  return (whole ? data.buffer : new Uint8Array(data).buffer) as ArrayBuffer;
}

/**
 * Validates the handshake and registers the connection's taker, returning the 200 whose headers become the
 * 101, or the refusal. Synchronous: a handshake costs no promise (`upgradeWebSocket`, Hono's helper shape,
 * wraps this in an async function).
 */
export function acceptWebSocket(
  c: Context,
  events: WSEvents<WebSocketConnection>,
  options: UpgradeOptions = {},
): Response {
  const info = c.env as RequestInfo;
  if (info.httpVersion !== "1.1") {
    // RFC 6455 §4.2.1: the opening handshake is an HTTP/1.1 (or later) GET.
    return apiError("bad_handshake", "a WebSocket handshake needs HTTP/1.1");
  }
  const limits = options.limits;
  const handshake = validateHandshake(c.req.method, c.req.raw.headers, {
    protocols: options.protocols ?? [],
    requireKnownProtocol: options.requireKnownProtocol,
    deflate: limits?.deflate,
  });
  if (!handshake.ok) {
    // 426 names the versions we speak in Sec-WebSocket-Version (RFC 6455 §4.4).
    const code = handshake.status === 426 ? "upgrade_required" : "bad_handshake";
    return apiError(code, handshake.reason, Object.fromEntries(handshake.headers));
  }
  const { protocol, deflate: perMessageDeflate } = handshake;
  info.upgrade((conn, head) => {
    new WebSocketConnection(conn, head, new HonoBridge(events), { ...limits, protocol, perMessageDeflate });
  });
  return new Response(null, { headers: handshake.headers });
}

/** The Hono WebSocket helper for this server (returns a promise, as Hono's helpers do). */
export const upgradeWebSocket = defineWebSocketHelper<WebSocketConnection, UpgradeOptions>(acceptWebSocket);
