/**
 * A server-side WebSocket after the 101: drives a {@link Conn} with the frame parser, answers pings, runs the
 * close handshake (RFC 6455 §5.5.1, §7) and the heartbeat.
 * @module
 */
import type { Conn, ConnHandler } from "../runtime/mod.ts";
import { CLOSE_CODE, WEBSOCKET_LIMITS, type WebSocketOptions } from "./constants.ts";
import type { ProtocolError } from "./errors.ts";
import type { DeflateAgreement } from "./permessage_deflate.ts";
import { encodeBinary, encodeClose, encodePing, encodePong, encodeText } from "./frame_encoder.ts";
import { type FrameEvents, FrameParser } from "./frame_parser.ts";
import { Heartbeat } from "./heartbeat.ts";
import { toError } from "../util/mod.ts";

/** `readyState` values, as in the web `WebSocket` API. */
export const READY_STATE = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;

/** One of the {@link READY_STATE} values. */
export type ReadyState = typeof READY_STATE[keyof typeof READY_STATE];

/**
 * What the application hears. A handler that throws is reported to `onError`; one thrown by `onOpen` or
 * `onMessage` also closes the connection with 1011.
 */
export interface WebSocketEvents {
  /** First event, after the constructor returned. */
  onOpen?(ws: WebSocketConnection): void;
  /** A whole message: text as a string, binary as an owned buffer. Not called once closing. */
  onMessage?(ws: WebSocketConnection, data: string | Uint8Array): void;
  /**
   * Last event, exactly once. `code` is the peer's (1005 if its Close had none) after a close handshake, the
   * code we sent when the peer broke the protocol, and 1006 when TCP ended without a handshake.
   */
  onClose?(ws: WebSocketConnection, code: number, reason: string, wasClean: boolean): void;
  /** A protocol violation by the peer (a `ProtocolError`), an I/O error, or a throwing handler. */
  onError?(ws: WebSocketConnection, error: Error): void;
  /** The send queue drained after a send returned false. */
  onDrain?(ws: WebSocketConnection): void;
}

/** Options of one connection: the limits plus what the handshake selected. */
export type WebSocketConnectionOptions = Partial<WebSocketOptions> & {
  /** The subprotocol selected in the handshake. @default null */
  protocol?: string | null;
  /** The permessage-deflate agreement of the handshake: compressed messages may arrive. @default null */
  perMessageDeflate?: DeflateAgreement | null;
  /**
   * The heartbeat to join; null for none. By default the process-wide one for `pingIntervalMs`
   * (none when it is 0).
   */
  heartbeat?: Heartbeat | null;
};

// Shared, immutable frames (a Conn never modifies what it is given).
const PING_FRAME = encodePing();
const EMPTY_CLOSE_FRAME = encodeClose();

/**
 * One WebSocket connection, server side.
 * @example
 * ```ts
 * const ws = new WebSocketConnection(conn, leftover, {
 *   onMessage: (ws, data) => typeof data === "string" ? ws.sendText(data) : ws.sendBinary(data),
 * }, { protocol: result.protocol });
 * ```
 */
export class WebSocketConnection {
  /** The subprotocol selected in the handshake, or null. */
  readonly protocol: string | null;
  /**
   * The permessage-deflate agreement, or null. Frames with RSV1 (`encodeCompressedFrame`) may be sent through
   * {@link WebSocketConnection.sendFrame} only when its `compression` is not null.
   */
  readonly perMessageDeflate: DeflateAgreement | null;
  readonly #conn: Conn;
  readonly #events: WebSocketEvents;
  readonly #parser: FrameParser;
  readonly #closeTimeoutMs: number;
  readonly #heartbeat: Heartbeat | null;
  #readyState: ReadyState = READY_STATE.Open;
  #head: Uint8Array | null;
  #started = false;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set by any incoming bytes; cleared by each heartbeat ping. */
  #alive = true;

  /**
   * The parser's events, routed to this connection. One small object per connection instead of a closure per
   * event: a relay holds many idle connections, and each closure costs memory.
   */
  static readonly #FrameWiring = class implements FrameEvents {
    readonly ws: WebSocketConnection;
    constructor(ws: WebSocketConnection) {
      this.ws = ws;
    }
    message(data: string | Uint8Array): void {
      this.ws.#onMessage(data);
    }
    ping(payload: Uint8Array): void {
      this.ws.#onPing(payload);
    }
    pong(): void {}
    close(code: number, reason: string): void {
      this.ws.#onCloseFrame(code, reason);
    }
    error(error: ProtocolError): void {
      this.ws.#fail(error);
    }
  };

  /** The connection's events, routed to this connection (see `#FrameWiring`). */
  static readonly #ConnWiring = class implements ConnHandler {
    readonly ws: WebSocketConnection;
    constructor(ws: WebSocketConnection) {
      this.ws = ws;
    }
    data(chunk: Uint8Array): void {
      this.ws.#onData(chunk);
    }
    end(): void {
      this.ws.#onPeerEnd();
    }
    drain(): void {
      this.ws.#call("onDrain");
    }
    close(error?: Error): void {
      this.ws.#onConnClose(error);
    }
  };

  /**
   * Takes over `conn` (the 101 was already written).
   * @param head bytes that arrived after the HTTP head; parsed before any later data
   */
  constructor(
    conn: Conn,
    head: Uint8Array,
    events: WebSocketEvents,
    options: WebSocketConnectionOptions = {},
  ) {
    const limits = { ...WEBSOCKET_LIMITS, ...options };
    this.#conn = conn;
    this.#events = events;
    this.protocol = options.protocol ?? null;
    this.perMessageDeflate = options.perMessageDeflate ?? null;
    this.#closeTimeoutMs = limits.closeTimeoutMs;
    // The caller may reuse its buffer once we return; keep our own copy of the leftover bytes.
    this.#head = head.length > 0 ? head.slice() : null;
    this.#parser = new FrameParser(
      new WebSocketConnection.#FrameWiring(this),
      limits,
      this.perMessageDeflate !== null,
    );
    this.#heartbeat = options.heartbeat !== undefined
      ? options.heartbeat
      : limits.pingIntervalMs > 0
      ? Heartbeat.shared(limits.pingIntervalMs)
      : null;
    this.#heartbeat?.add(this);
    conn.setHandler(new WebSocketConnection.#ConnWiring(this));
    // Events start after the constructor returns, so the caller can finish wiring first.
    queueMicrotask(() => this.#start());
  }

  /** 0–3 as in the web API: Open until a Close is sent or received, Closing during the handshake, then Closed. */
  get readyState(): ReadyState {
    return this.#readyState;
  }

  /** Bytes queued on the connection and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this.#conn.bufferedAmount;
  }

  get remoteAddress(): string {
    return this.#conn.remoteAddress;
  }

  /**
   * Sends a text message.
   * @returns false when the connection is not open (nothing sent) or the send queue is above its high-water
   * mark (queued; `onDrain` follows)
   */
  sendText(text: string): boolean {
    return this.#readyState === READY_STATE.Open && this.#conn.write(encodeText(text));
  }

  /** Sends a binary message; returns like {@link WebSocketConnection.sendText}. */
  sendBinary(bytes: Uint8Array): boolean {
    return this.#readyState === READY_STATE.Open && this.#conn.write(encodeBinary(bytes));
  }

  /**
   * Writes an already-encoded server frame as-is (the broadcast path: encode once, send to many). The frame
   * must not be modified afterwards. Returns like {@link WebSocketConnection.sendText}.
   */
  sendFrame(frame: Uint8Array): boolean {
    return this.#readyState === READY_STATE.Open && this.#conn.write(frame);
  }

  /**
   * Starts the close handshake (RFC 6455 §7.1.2). TCP is closed when the peer answers, or after
   * `closeTimeoutMs` if it does not. No-op unless open. A reason over 123 bytes is cut.
   * @throws {RangeError} for a code that cannot be sent
   */
  close(code: number = CLOSE_CODE.NormalClosure, reason = ""): void {
    if (this.#readyState !== READY_STATE.Open) return;
    this.#sendClose(encodeClose(code, reason));
    this.#closeTimer = setTimeout(() => this.terminate(), this.#closeTimeoutMs);
  }

  /**
   * Closes a connection whose send queue can no longer be trusted to drain (a slow consumer): drops every
   * queued frame not yet handed to the kernel, then starts the close handshake, so the peer reads the Close
   * right after what it already has, and memory is freed at once.
   * @returns false when the connection was not open
   */
  closeDiscarding(code: number, reason = ""): boolean {
    if (this.#readyState !== READY_STATE.Open) return false;
    this.#conn.discardQueued();
    this.close(code, reason);
    return true;
  }

  /**
   * Fails the connection on the application's behalf (RFC 6455 §7.1.7): sends a Close with `code`, stops
   * reading and closes TCP once the Close is flushed, without waiting for the peer's answer. For a peer that
   * broke a policy (a flood, abuse): the relay must not keep reading its input for the close timeout.
   * `onClose` reports `code` with `wasClean` false.
   */
  fail(code: number, reason = ""): void {
    if (this.#readyState !== READY_STATE.Open) return;
    this.#sendClose(encodeClose(code, reason));
    this.#conn.end();
    this.#finish(code, reason, false);
  }

  /** Drops TCP at once, without a close handshake; `onClose` reports 1006. */
  terminate(): void {
    if (this.#readyState === READY_STATE.Closed) return;
    this.#conn.close();
    this.#finish(CLOSE_CODE.AbnormalClosure, "", false);
  }

  /**
   * Called by the {@link Heartbeat}: a peer that sent nothing since the previous beat is dropped (it did not
   * answer that ping); otherwise it is pinged.
   */
  heartbeat(): void {
    if (this.#readyState !== READY_STATE.Open) return;
    if (!this.#alive) {
      this.terminate();
      return;
    }
    this.#alive = false;
    this.#conn.write(PING_FRAME);
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#conn.closed) {
      this.#finish(CLOSE_CODE.AbnormalClosure, "", false);
      return;
    }
    this.#call("onOpen");
    const head = this.#head;
    this.#head = null;
    if (head !== null && this.#readyState !== READY_STATE.Closed) this.#parser.push(head);
  }

  #onData(chunk: Uint8Array): void {
    this.#alive = true;
    // Data can only come after the head: parse that first if the microtask has not run yet.
    if (!this.#started) this.#start();
    this.#parser.push(chunk);
  }

  #onMessage(data: string | Uint8Array): void {
    // Messages arriving after a Close was sent are dropped, as the web API does.
    if (this.#readyState !== READY_STATE.Open) return;
    try {
      this.#events.onMessage?.(this, data);
    } catch (error) {
      this.#handlerThrew(error, true);
    }
  }

  #onPing(payload: Uint8Array): void {
    // §5.5.2: answer at once, even between fragments; §5.5.1: nothing is sent after a Close.
    if (!this.#closeSent) this.#conn.write(encodePong(payload));
  }

  /** §5.5.1: echo the peer's Close (unless we sent one first), then close TCP: the server closes first (§7.1.1). */
  #onCloseFrame(code: number, reason: string): void {
    if (!this.#closeSent) {
      // Echo the code and the reason (already validated as UTF-8 of at most 123 bytes).
      this.#sendClose(code === CLOSE_CODE.NoStatusReceived ? EMPTY_CLOSE_FRAME : encodeClose(code, reason));
    }
    this.#conn.end();
    this.#finish(code, reason, true);
  }

  /** §7.1.7 Fail the WebSocket Connection: a Close frame with the error's code, then close TCP. */
  #fail(error: ProtocolError): void {
    this.#reportError(error);
    if (!this.#closeSent) this.#sendClose(error.toCloseFrame());
    this.#conn.end();
    this.#finish(error.code, error.reason, false);
  }

  #onPeerEnd(): void {
    // FIN without a Close frame (or before the answer to ours): abnormal closure.
    if (this.#readyState === READY_STATE.Closed) return;
    this.#conn.end();
    this.#finish(CLOSE_CODE.AbnormalClosure, "", false);
  }

  #onConnClose(error?: Error): void {
    if (this.#readyState === READY_STATE.Closed) return;
    if (error !== undefined) this.#reportError(error);
    this.#finish(CLOSE_CODE.AbnormalClosure, "", false);
  }

  #sendClose(frame: Uint8Array): void {
    this.#closeSent = true;
    this.#readyState = READY_STATE.Closing;
    this.#conn.write(frame);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#readyState === READY_STATE.Closed) return;
    this.#readyState = READY_STATE.Closed;
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#heartbeat?.delete(this);
    this.#parser.stop();
    try {
      this.#events.onClose?.(this, code, reason, wasClean);
    } catch (error) {
      this.#handlerThrew(error, false);
    }
  }

  /** Runs `onOpen` or `onDrain`; see {@link WebSocketConnection.#handlerThrew}. */
  #call(name: "onOpen" | "onDrain"): void {
    try {
      this.#events[name]?.(this);
    } catch (error) {
      this.#handlerThrew(error, name === "onOpen");
    }
  }

  /** A throwing handler is reported; from onOpen/onMessage it also closes with 1011. */
  #handlerThrew(error: unknown, close: boolean): void {
    this.#reportError(toError(error));
    // §7.4.1 1011: the server met an unexpected condition while handling the peer's input.
    if (close) this.close(CLOSE_CODE.InternalError, "internal error");
  }

  #reportError(error: Error): void {
    try {
      this.#events.onError?.(this, error);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  }
}
