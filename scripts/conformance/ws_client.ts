/**
 * The message-level view of a raw connection: server frames become events (message, pong, close, EOF,
 * timeout), and everything the server itself gets wrong (masked frames, reserved bits, bad close payloads)
 * fails the case here, in one place.
 * @module
 */
import {
  concatBytes,
  type FrameSpec,
  isSendableCloseCode,
  MAX_CONTROL_PAYLOAD,
  OPCODE,
  parseClosePayload,
  type ServerFrame,
} from "./frame.ts";
import type { RawSocket } from "./raw_socket.ts";

/** What the server did next, as seen by the client. */
export type WsEvent =
  | { type: "message"; opcode: number; payload: Uint8Array }
  | { type: "pong"; payload: Uint8Array }
  | { type: "close"; code: number | null; reason: string }
  | { type: "eof"; error?: string }
  | { type: "timeout" };

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Short human description of an event, for failure reasons. */
export function describeEvent(event: WsEvent): string {
  switch (event.type) {
    case "message":
      return `a ${event.opcode === OPCODE.Text ? "text" : "binary"} message of ${event.payload.length} bytes`;
    case "pong":
      return `a pong of ${event.payload.length} bytes`;
    case "close":
      return event.code === null ? "a Close frame without code" : `close ${event.code}`;
    case "eof":
      return event.error ? `a TCP reset (${event.error})` : "TCP closed without a Close frame";
    case "timeout":
      return "nothing in time";
  }
}

/** A raw connection after a successful opening handshake. */
export class WsClient {
  readonly socket: RawSocket;
  #fail: (reason: string) => never;
  /** Fragments of a server message in progress (RFC 6455 §5.4). */
  #partial: { opcode: number; parts: Uint8Array[] } | null = null;

  constructor(socket: RawSocket, fail: (reason: string) => never) {
    this.socket = socket;
    this.#fail = fail;
  }

  /** Writes one frame (masked unless `spec.mask === false`). */
  send(spec: FrameSpec): Promise<boolean> {
    return this.socket.sendFrame(spec);
  }

  /** Writes bytes as they are (several frames at once, or a frame cut in pieces). */
  write(bytes: Uint8Array): Promise<boolean> {
    return this.socket.write(bytes);
  }

  /** The next event. Pings from the server are answered (RFC 6455 §5.5.2) and not reported. */
  async next(deadline: number): Promise<WsEvent> {
    for (;;) {
      let read;
      try {
        read = await this.socket.readFrame(deadline);
      } catch (e) {
        this.#fail(`server sent an unreadable frame: ${(e as Error).message}`);
      }
      if (read.kind === "eof") return read.error ? { type: "eof", error: read.error } : { type: "eof" };
      if (read.kind === "timeout") return { type: "timeout" };
      const event = this.#onFrame(read.frame);
      if (event) return event;
    }
  }

  #onFrame(frame: ServerFrame): WsEvent | null {
    this.#checkFrame(frame);
    switch (frame.opcode) {
      case OPCODE.Ping:
        this.socket.sendFrame({ opcode: OPCODE.Pong, payload: frame.payload });
        return null;
      case OPCODE.Pong:
        return { type: "pong", payload: frame.payload };
      case OPCODE.Close:
        return this.#closeEvent(frame.payload);
      case OPCODE.Continuation:
        if (!this.#partial) this.#fail("server sent a continuation frame without a message in progress");
        this.#partial.parts.push(frame.payload);
        break;
      default:
        if (this.#partial) this.#fail("server started a new message inside a fragmented one");
        this.#partial = { opcode: frame.opcode, parts: [frame.payload] };
    }
    if (!frame.fin) return null;
    const { opcode, parts } = this.#partial!;
    this.#partial = null;
    const payload = parts.length === 1 ? parts[0] : concatBytes(parts);
    if (opcode === OPCODE.Text && !isValidUtf8(payload)) {
      this.#fail("server sent a text message that is not UTF-8");
    }
    return { type: "message", opcode, payload };
  }

  /** RFC 6455 §5.1–§5.5: what a server frame must look like when no extension was negotiated. */
  #checkFrame(frame: ServerFrame): void {
    if (frame.masked) this.#fail("server sent a masked frame (RFC 6455 §5.1)");
    if (frame.rsv !== 0) this.#fail(`server sent a frame with RSV bits ${frame.rsv} set`);
    const known = [OPCODE.Continuation, OPCODE.Text, OPCODE.Binary, OPCODE.Close, OPCODE.Ping, OPCODE.Pong];
    if (!(known as number[]).includes(frame.opcode)) {
      this.#fail(`server sent reserved opcode ${frame.opcode}`);
    }
    if (frame.opcode >= 0x8) {
      if (!frame.fin) this.#fail("server sent a fragmented control frame");
      if (frame.payload.length > MAX_CONTROL_PAYLOAD) {
        this.#fail(`server sent a control frame of ${frame.payload.length} bytes`);
      }
    }
  }

  #closeEvent(payload: Uint8Array): WsEvent {
    if (payload.length === 1) this.#fail("server sent a Close frame with a 1-byte payload");
    const { code, reason } = parseClosePayload(payload);
    if (code !== null && !isSendableCloseCode(code)) this.#fail(`server sent invalid close code ${code}`);
    if (!isValidUtf8(reason)) this.#fail("server sent a close reason that is not UTF-8");
    return { type: "close", code, reason: new TextDecoder().decode(reason) };
  }
}

/** Strict UTF-8 check (no replacement characters). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    STRICT_UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
