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
import { constants, inflateRawSync } from "node:zlib";

/** The empty stored block that ends every compressed message, appended before inflating (RFC 7692 §7.2.2). */
const DEFLATE_TRAILER = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** RSV1 in the 3-bit `rsv` of a frame: "compressed" under permessage-deflate (RFC 7692 §6). */
const RSV1 = 4;

/** What the server did next, as seen by the client. */
export type WsEvent =
  /** `compressed`: the message arrived with RSV1 (permessage-deflate) and `payload` is what it inflated to. */
  | { type: "message"; opcode: number; payload: Uint8Array; compressed?: boolean }
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
  #partial: { opcode: number; parts: Uint8Array[]; compressed: boolean } | null = null;
  /** The handshake agreed on permessage-deflate (RFC 7692): RSV1 may start a message. */
  readonly #perMessageDeflate: boolean;

  constructor(
    socket: RawSocket,
    fail: (reason: string) => never,
    options: { perMessageDeflate?: boolean } = {},
  ) {
    this.socket = socket;
    this.#fail = fail;
    this.#perMessageDeflate = options.perMessageDeflate ?? false;
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
        this.#partial = { opcode: frame.opcode, parts: [frame.payload], compressed: frame.rsv === RSV1 };
    }
    if (!frame.fin) return null;
    const { opcode, parts, compressed } = this.#partial!;
    this.#partial = null;
    let payload = parts.length === 1 ? parts[0] : concatBytes(parts);
    if (compressed) payload = this.#inflate(payload);
    if (opcode === OPCODE.Text && !isValidUtf8(payload)) {
      this.#fail("server sent a text message that is not UTF-8");
    }
    return compressed
      ? { type: "message", opcode, payload, compressed }
      : { type: "message", opcode, payload };
  }

  /** A server message compressed per RFC 7692 §7.2.1, inflated; data that does not inflate fails the case. */
  #inflate(payload: Uint8Array): Uint8Array {
    try {
      const out = inflateRawSync(concatBytes([payload, DEFLATE_TRAILER]), {
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (e) {
      return this.#fail(`server sent a compressed message that does not inflate: ${(e as Error).message}`);
    }
  }

  /**
   * RFC 6455 §5.1–§5.5: what a server frame must look like; with permessage-deflate, RSV1 is allowed on the
   * first frame of a data message and nowhere else (RFC 7692 §6.1).
   */
  #checkFrame(frame: ServerFrame): void {
    if (frame.masked) this.#fail("server sent a masked frame (RFC 6455 §5.1)");
    const firstDataFrame = frame.opcode === OPCODE.Text || frame.opcode === OPCODE.Binary;
    const allowed = this.#perMessageDeflate && firstDataFrame && frame.rsv === RSV1;
    if (frame.rsv !== 0 && !allowed) this.#fail(`server sent a frame with RSV bits ${frame.rsv} set`);
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
