/**
 * One HTTP/1.1 connection: drives the {@link RequestParser} with the bytes of a {@link Conn}, answers the
 * requests strictly in order (RFC 9112 §9.3.2), enforces the timeouts, and hands the `Conn` over on a 101.
 * @module
 */
import type { Conn, ConnHandler } from "../runtime/mod.ts";
import { HttpError } from "./errors.ts";
import { PARSE, RequestParser } from "./request_parser.ts";
import { isHeadMethod, type RequestHead } from "./request_head.ts";
import {
  CHUNKED,
  CONNECTION_CLOSE,
  CONTINUE,
  encodeMessage,
  encodeResponse,
  errorResponse,
  readResponseFields,
  type ResponseFields,
  switchingHead,
} from "./response_writer.ts";
import {
  connectionLine,
  isBodyless,
  isStreamed,
  sendBodyless,
  sendBuffered,
  sendStream,
  type StreamOutcome,
} from "./response_sender.ts";
import { STATUS } from "./status.ts";
import { HandedStream, type StreamTaker } from "./response_stream.ts";
import { toRequest } from "./to_request.ts";
import type { HttpHandler, RequestInfo, ServerConfig, UpgradeHandler } from "./types.ts";

// Phases of a connection.
const WAIT_HEAD = 0;
const WAIT_BODY = 1;
const BUSY = 2;
const CLOSING = 3;
const DETACHED = 4;

// What the one timer of a connection is waiting for.
const NO_DEADLINE = 0;
/** The first head, counted from accept; silent close if nothing arrived. */
const FIRST_HEAD = 1;
const HEAD = 2;
const IDLE = 3;
const BODY = 4;
/** A response is blocked on backpressure: the peer must keep accepting bytes (`sendTimeoutMs`). */
const SEND = 5;

/** Buffered bytes of later pipelined requests past which we stop reading until it is their turn. */
const PIPELINE_PAUSE_BYTES = 64 * 1024;
/** How many times per `sendTimeoutMs` a blocked response checks whether the peer took any bytes. */
const SEND_CHECKS_PER_TIMEOUT = 4;

/** Notified when a connection leaves HTTP (closed or upgraded). */
export interface ConnectionOwner {
  release(connection: HttpConnection): void;
}

/** The `info` of one request. */
class Exchange implements RequestInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly secure: boolean;
  readonly httpVersion: "1.0" | "1.1";
  onUpgrade: UpgradeHandler | null = null;
  onStream: StreamTaker | null = null;
  open = true;
  #onGone: (() => void) | null = null;

  constructor(conn: Conn, minorVersion: 0 | 1) {
    this.remoteAddress = conn.remoteAddress;
    this.remotePort = conn.remotePort;
    this.secure = conn.secure;
    this.httpVersion = minorVersion === 0 ? "1.0" : "1.1";
  }

  upgrade(onUpgrade: UpgradeHandler): void {
    if (!this.open) throw new Error("upgrade() must be called before the response is returned");
    if (typeof onUpgrade !== "function") throw new TypeError("upgrade() needs a function");
    this.onUpgrade = onUpgrade;
  }

  onClose(listener: () => void): void {
    if (typeof listener !== "function") throw new TypeError("onClose() needs a function");
    this.#onGone = listener;
  }

  /** The client left while its response was still being worked out: tell the handler, once. */
  gone(): void {
    const listener = this.#onGone;
    this.#onGone = null;
    if (listener === null || !this.open) return;
    try {
      listener();
    } catch { /* a listener's failure is the handler's, and the connection is gone anyway */ }
  }

  stream(taker: StreamTaker): void {
    if (!this.open) throw new Error("stream() must be called before the response is returned");
    if (typeof taker?.open !== "function") throw new TypeError("stream() needs a StreamTaker");
    this.onStream = taker;
  }
}

/** The code is the relay API's own for a 500 (`API_ERROR.internal`): a client sees one code for one failure. */
const INTERNAL_ERROR = new HttpError(STATUS.InternalServerError, "internal", "Internal server error");

export class HttpConnection implements ConnHandler {
  readonly conn: Conn;
  #handler: HttpHandler;
  #config: ServerConfig;
  #owner: ConnectionOwner | null;
  #parser: RequestParser;
  #phase = WAIT_HEAD;
  #deadlineKind = NO_DEADLINE;
  #deadline = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = 0;
  #paused = false;
  #peerEnded = false;
  #closeAfterResponse = false;
  #drainWaiter: (() => void) | null = null;
  /** The conn reported backpressure since the last `drain`: the response written is not out yet. */
  #outputFull = false;
  /** A response is complete but not drained: the next pipelined request waits for `drain`. */
  #awaitingDrain = false;
  /** While blocked: the conn's buffered bytes at the last progress, and when that was. */
  #sendMark = 0;
  #sendProgressAt = 0;
  #onAbort: (() => void) | null = null;
  // The request being answered.
  #head: RequestHead | null = null;
  #headRequest = false;
  #exchange: Exchange | null = null;
  #closing = false;
  #status = 0;
  #fields: ResponseFields | null = null;
  #connection = "";

  constructor(conn: Conn, handler: HttpHandler, config: ServerConfig, owner: ConnectionOwner | null) {
    this.conn = conn;
    this.#handler = handler;
    this.#config = config;
    this.#owner = owner;
    this.#parser = new RequestParser(config.limits);
    conn.setHandler(this);
    this.#setDeadline(FIRST_HEAD, config.limits.headTimeoutMs);
  }

  /** True while no request is being read or answered. */
  get idle(): boolean {
    return this.#phase === WAIT_HEAD && !this.#parser.midMessage;
  }

  /** True while a request is being answered (its handler runs or its response is being written). */
  get answering(): boolean {
    return this.#phase === BUSY;
  }

  /** Closes now when idle; otherwise after the current response, which then carries `connection: close`. */
  shutdown(): void {
    this.#closeAfterResponse = true;
    if (this.idle) this.#end();
  }

  // ---- ConnHandler ----

  data(chunk: Uint8Array): void {
    const phase = this.#phase;
    if (phase >= CLOSING) return;
    this.#parser.feed(chunk);
    if (phase === WAIT_HEAD) {
      const idle = this.#deadlineKind === IDLE;
      this.#advance();
      // The head timeout runs from the first byte of a request; a head that arrived whole never needs it.
      if (idle && this.#deadlineKind === IDLE && this.#phase === WAIT_HEAD) {
        this.#setDeadline(HEAD, this.#config.limits.headTimeoutMs);
      }
    } else if (phase === WAIT_BODY) {
      this.#setDeadline(BODY, this.#config.limits.bodyTimeoutMs);
      this.#advance();
    } else if (!this.#paused && this.#parser.buffered > PIPELINE_PAUSE_BYTES) {
      this.#paused = true;
      this.conn.pause();
    }
  }

  end(): void {
    this.#peerEnded = true;
    // Waiting for a head or body that can no longer arrive; a response in progress still goes out.
    if (this.#phase === WAIT_HEAD || this.#phase === WAIT_BODY) this.#end();
    // A client that ends its side while its handler still runs has given up on the answer (a held poll).
    else if (this.#phase === BUSY) this.#exchange?.gone();
  }

  drain(): void {
    this.#outputFull = false;
    if (this.#deadlineKind === SEND) this.#deadlineKind = NO_DEADLINE;
    const wake = this.#drainWaiter;
    this.#drainWaiter = null;
    wake?.();
    if (this.#awaitingDrain) {
      this.#awaitingDrain = false;
      this.#nextRequest();
    }
  }

  close(): void {
    if (this.#phase === DETACHED) return;
    this.#phase = DETACHED;
    this.#exchange?.gone();
    this.#clearTimer();
    this.#onAbort?.();
    this.#onAbort = null;
    this.drain();
    this.#owner?.release(this);
  }

  // ---- request cycle ----

  #advance(): void {
    for (;;) {
      let event;
      try {
        event = this.#parser.next();
      } catch (error) {
        this.#fail(error);
        return;
      }
      if (event === PARSE.NeedMore) {
        if (this.#peerEnded) this.#end();
        return;
      }
      const head = this.#parser.head!;
      if (event === PARSE.Head) {
        this.#phase = WAIT_BODY;
        if (head.chunked || head.contentLength > 0) {
          // RFC 9110 §10.1.1: the client waits for this before sending the body.
          if (head.expectContinue) this.conn.write(CONTINUE);
          this.#setDeadline(BODY, this.#config.limits.bodyTimeoutMs);
        }
        continue;
      }
      this.#phase = BUSY;
      this.#deadlineKind = NO_DEADLINE;
      this.#dispatch(head, this.#parser.body);
      return;
    }
  }

  #dispatch(head: RequestHead, body: Uint8Array | null): void {
    // RFC 9110 §9.3.2: HEAD is answered as the GET it stands for, minus the body; the handler sees the GET,
    // so the head carries the GET's Content-Length and headers whatever the app does for HEAD.
    const headRequest = isHeadMethod(head.method);
    let request: Request;
    try {
      request = toRequest(head, body, this.conn.secure, headRequest ? "GET" : head.method);
    } catch (error) {
      this.#fail(error);
      return;
    }
    const exchange = new Exchange(this.conn, head.minorVersion);
    this.#head = head;
    this.#headRequest = headRequest;
    this.#exchange = exchange;
    let result: Response | Promise<Response>;
    try {
      result = this.#handler(request, exchange);
    } catch (error) {
      this.#onHandlerError(error);
      return;
    }
    if (result instanceof Response) this.#respond(result);
    else Promise.resolve(result).then(this.#onResult, this.#onHandlerError);
  }

  // Continuations of the request being answered: bound once per connection, not created per request (one
  // request is answered at a time, so its state lives on the connection).
  #onResult = (response: Response): void => this.#respond(response);
  #onHandlerError = (error: unknown): void => {
    this.#exchange!.open = false;
    this.#handlerFailed(error, false);
  };
  #onBody = (body: Uint8Array): void => {
    if (this.#phase !== BUSY) return;
    sendBuffered(this, this.#status, this.#fields!, body, this.#connection, this.#headRequest);
    this.#fields = null;
    this.#afterResponse(this.#closing);
  };
  #onBodyError = (error: unknown): void => this.#handlerFailed(error, false);
  #onStreamEnd = (outcome: StreamOutcome): void => {
    if (outcome === "failed") this.#handlerFailed(null, true);
    else if (outcome === "done") this.#afterResponse(this.#closing);
  };

  #respond(response: Response): void {
    const exchange = this.#exchange!;
    exchange.open = false;
    if (this.#phase !== BUSY) {
      if (response instanceof Response) response.body?.cancel().catch(() => {});
      return;
    }
    if (!(response instanceof Response)) {
      this.#handlerFailed(new TypeError("The handler did not return a Response"), false);
      return;
    }
    const head = this.#head!;
    const status = response.status;
    if (exchange.onUpgrade !== null && status === STATUS.OK && !this.#headRequest) {
      this.#switchProtocols(response, exchange.onUpgrade);
      return;
    }
    if (exchange.onStream !== null && status === STATUS.OK && !this.#headRequest) {
      this.#handOffStream(response, exchange.onStream);
      return;
    }
    const fields = readResponseFields(response.headers, false, this.#config.defaultHeaders);
    // A refused upgrade closes: the bytes after it may be the upgraded protocol, never a request to answer.
    const close = !head.keepAlive || head.upgrade || this.#closeAfterResponse || fields.close;
    const connection = connectionLine(close, head.minorVersion);
    this.#closing = close;
    if (isBodyless(status)) {
      sendBodyless(this, response, fields, connection);
      this.#afterResponse(close);
    } else if (isStreamed(response, fields)) {
      sendStream(this, response, fields, connection, this.#headRequest).then(
        this.#onStreamEnd,
        this.#onBodyError,
      );
    } else {
      // The common case: a static body, read whole without making it a stream (see body_reader.ts).
      this.#status = status;
      this.#fields = fields;
      this.#connection = connection;
      response.bytes().then(this.#onBody, this.#onBodyError);
    }
  }

  #switchProtocols(response: Response, onUpgrade: UpgradeHandler): void {
    response.body?.cancel().catch(() => {});
    const fields = readResponseFields(response.headers, true, this.#config.defaultHeaders);
    this.conn.write(encodeMessage(switchingHead(fields), null));
    this.#phase = DETACHED;
    this.#clearTimer();
    this.#owner?.release(this);
    const leftover = this.#parser.takeBuffered();
    if (this.#paused) {
      this.#paused = false;
      this.conn.resume();
    }
    try {
      onUpgrade(this.conn, leftover);
    } catch (error) {
      this.#config.onError(error);
      this.conn.close();
    }
  }

  /**
   * Writes the head of a streamed response and leaves the connection to `taker` (see `response_stream.ts`):
   * like a 101, the server stops handling it; unlike a 101, the bytes after the request are never read
   * (the stream's connection ignores what the client sends).
   */
  #handOffStream(response: Response, taker: StreamTaker): void {
    response.body?.cancel().catch(() => {});
    const fields = readResponseFields(response.headers, false, this.#config.defaultHeaders);
    const chunked = this.#head!.minorVersion === 1;
    this.conn.write(encodeResponse(STATUS.OK, fields, chunked ? CHUNKED : "", CONNECTION_CLOSE, true, null));
    this.#phase = DETACHED;
    this.#clearTimer();
    this.#owner?.release(this);
    this.#parser.takeBuffered();
    if (this.#paused) {
      this.#paused = false;
      this.conn.resume();
    }
    try {
      new HandedStream(this.conn, chunked, taker).start();
    } catch (error) {
      this.#config.onError(error);
      this.conn.close();
    }
  }

  #afterResponse(close: boolean): void {
    if (this.#phase !== BUSY) return;
    this.#exchange = null;
    if (close || this.#closeAfterResponse) {
      this.#end();
      return;
    }
    if (this.#outputFull) {
      // Output backpressure: the next pipelined request is parsed only once this response has drained, so a
      // client that sends requests without reading the answers holds at most one response plus the conn's
      // high-water mark, and waiting on I/O lets the close of a peer that left be noticed before more work.
      // The keep-alive timer starts after the drain too: a slow reader of a big answer is not idle.
      this.#awaitingDrain = true;
      return;
    }
    this.#nextRequest();
  }

  /** The previous response is out (or below the high-water mark): wait for, or parse, the next request. */
  #nextRequest(): void {
    if (this.#phase !== BUSY) return;
    if (this.#closeAfterResponse) {
      // shutdown() came while the response drained.
      this.#end();
      return;
    }
    this.#phase = WAIT_HEAD;
    const limits = this.#config.limits;
    if (this.#parser.buffered > 0) this.#setDeadline(HEAD, limits.headTimeoutMs);
    else this.#setDeadline(IDLE, limits.keepAliveTimeoutMs);
    if (this.#paused) {
      this.#paused = false;
      this.conn.resume();
    }
    if (this.#parser.buffered > 0 || this.#peerEnded) this.#advance();
  }

  /**
   * A handler threw, rejected or returned garbage (`error` reported, null when already reported), or its body
   * stream failed. Before the head went out this is a 500 for this request only; after, the framing is
   * broken and the connection is dropped.
   */
  #handlerFailed(error: unknown, headWritten: boolean): void {
    if (error !== null) this.#config.onError(error);
    if (this.#phase !== BUSY) return;
    if (headWritten) {
      this.conn.close();
      return;
    }
    const head = this.#head!;
    const close = !head.keepAlive || head.upgrade || this.#closeAfterResponse;
    const lines = this.#config.defaultHeaders.lines;
    this.write(errorResponse(INTERNAL_ERROR, lines, close, this.#headRequest));
    this.#afterResponse(close);
  }

  /** A request we refuse: the one place an HttpError meets the wire, then close without reading further. */
  #fail(error: unknown): void {
    if (this.#phase >= CLOSING) return;
    const httpError = error instanceof HttpError
      ? error
      : new HttpError(STATUS.BadRequest, "invalid_request", String(error));
    this.conn.write(errorResponse(httpError, this.#config.defaultHeaders.lines, true));
    this.#end();
  }

  #end(): void {
    if (this.#phase >= CLOSING) return;
    this.#phase = CLOSING;
    this.#clearTimer();
    this.conn.end();
  }

  // ---- used by the response sender ----

  /** False once the connection was closed or handed off: stop writing. */
  get writable(): boolean {
    return this.#phase === BUSY;
  }

  /**
   * Writes and, when the conn reports backpressure, returns a promise of the `drain` (or close) and starts
   * watching that the peer keeps taking bytes.
   */
  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.conn.write(bytes) || this.#phase !== BUSY) return undefined;
    if (!this.#outputFull) {
      this.#outputFull = true;
      this.#sendMark = this.conn.bufferedAmount;
      this.#sendProgressAt = Date.now();
      this.#setDeadline(SEND, this.#sendCheckMs());
    }
    return new Promise((resolve) => this.#drainWaiter = resolve);
  }

  /** Registers what to do if the connection goes away while a body streams (cancel the stream). */
  onAbort(abort: (() => void) | null): void {
    this.#onAbort = abort;
  }

  reportError(error: unknown): void {
    this.#config.onError(error);
  }

  // ---- the single timer ----

  /**
   * Moves the deadline. The armed timer is only replaced when the new deadline is earlier; a later one is
   * picked up when the timer fires, so the per-request path rarely touches timers.
   */
  #setDeadline(kind: number, ms: number): void {
    const at = Date.now() + ms;
    this.#deadlineKind = kind;
    this.#deadline = at;
    if (this.#timer === undefined || at < this.#timerAt) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timerAt = at;
      this.#timer = setTimeout(this.#onTimer, ms);
    }
  }

  #clearTimer(): void {
    this.#deadlineKind = NO_DEADLINE;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#deadlineKind === NO_DEADLINE || this.#phase >= CLOSING) return;
    const left = this.#deadline - Date.now();
    if (left > 0) {
      this.#timerAt = this.#deadline;
      this.#timer = setTimeout(this.#onTimer, left);
      return;
    }
    switch (this.#deadlineKind) {
      case IDLE:
        this.#end();
        break;
      case FIRST_HEAD:
        if (this.#parser.midMessage) this.#fail(timeout("head_timeout", "Request head not received in time"));
        else this.#end();
        break;
      case HEAD:
        this.#fail(timeout("head_timeout", "Request head not received in time"));
        break;
      case BODY:
        this.#fail(timeout("body_timeout", "Request body stalled"));
        break;
      case SEND:
        this.#checkSendProgress();
        break;
    }
  };

  #sendCheckMs(): number {
    return this.#config.limits.sendTimeoutMs / SEND_CHECKS_PER_TIMEOUT;
  }

  /**
   * A response is blocked on backpressure: progress is the conn's queue shrinking. A peer that took nothing
   * for `sendTimeoutMs` stopped reading: close (dropping the queue; its stream, if any, is cancelled).
   */
  #checkSendProgress(): void {
    const buffered = this.conn.bufferedAmount;
    const now = Date.now();
    if (buffered < this.#sendMark) {
      this.#sendMark = buffered;
      this.#sendProgressAt = now;
    }
    const left = this.#sendProgressAt + this.#config.limits.sendTimeoutMs - now;
    if (left <= 0) this.conn.close();
    else this.#setDeadline(SEND, Math.min(left, this.#sendCheckMs()));
  }
}

function timeout(code: string, message: string): HttpError {
  return new HttpError(STATUS.RequestTimeout, code, message);
}
