/**
 * Client frames → events (RFC 6455 §5): an explicit state machine, bytes in and events out, no I/O, no timers.
 *
 * Each state has one method that returns `false` when the buffered bytes are too few to go on; nothing is ever
 * read past what arrived, so any split of the input gives the same events. Limits are checked on the frame
 * header, before a payload byte is buffered, and only bytes that actually arrived are held.
 * @module
 */
import {
  CLOSE_CODE,
  isControlOpcode,
  isOpcode,
  isWireCloseCode,
  OPCODE,
  WEBSOCKET_LIMITS,
  type WebSocketOptions,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { unmask } from "./mask.ts";
import { MessageAssembler } from "./message_assembler.ts";
import { decodeUtf8 } from "./utf8_validator.ts";

/** What the parser reports. Each call happens while `push` runs. */
export interface FrameEvents {
  /** A whole text (string, valid UTF-8) or binary (owned buffer) message. */
  message(data: string | Uint8Array): void;
  /** A Ping; answer with a Pong carrying the same payload (RFC 6455 §5.5.2). */
  ping(payload: Uint8Array): void;
  pong(payload: Uint8Array): void;
  /** A valid Close frame; `code` is 1005 when it had no payload. The parser stops after it (§5.5.1). */
  close(code: number, reason: string): void;
  /** The peer broke the protocol or a limit; the parser has stopped. Fail the connection with `error.code`. */
  error(error: ProtocolError): void;
}

/** The limits the parser enforces. */
export type FrameParserLimits = Pick<
  WebSocketOptions,
  "maxMessageBytes" | "maxFragments" | "maxPendingBytes"
>;

/** Parser states, one method each. */
const STATE = {
  /** Byte 0 (FIN, RSV, opcode) and byte 1 (MASK, 7-bit length). */
  Header: 0,
  /** 16-bit extended length. */
  Length16: 1,
  /** 64-bit extended length. */
  Length64: 2,
  /** 4-byte masking key. */
  MaskKey: 3,
  /** Payload bytes of the current frame. */
  Payload: 4,
  /** After a Close frame or an error: input is ignored. */
  Stopped: 5,
} as const;
type State = typeof STATE[keyof typeof STATE];

const EMPTY = new Uint8Array(0);
/** The RSV1 bit of a frame's first byte (RFC 6455 §5.2). */
const RSV1 = 0x40;
/** Where the masking key lives in the scratch buffer (bytes 0–7 collect header fields split across reads). */
const MASK_AT = 8;

/** Parses the frames of one connection. */
export class FrameParser {
  readonly #events: FrameEvents;
  /** Bytes one message may reach: the smaller of `maxMessageBytes` and `maxPendingBytes`. */
  readonly #maxMessageBytes: number;
  readonly #maxFragments: number;
  /** permessage-deflate was negotiated: RSV1 on a message's first frame marks it compressed (RFC 7692 §6). */
  readonly #perMessageDeflate: boolean;
  readonly #assembler: MessageAssembler;

  #state: State = STATE.Header;
  /** The borrowed chunk being parsed; only referenced during `push`. */
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /** Header fields split across reads are gathered here; the masking key is kept at {@link MASK_AT}. */
  readonly #scratch = new Uint8Array(MASK_AT + 4);
  #have = 0;
  /** Where the field returned by {@link FrameParser.#gather} lies: the chunk or the scratch buffer. */
  #src: Uint8Array = EMPTY;

  // The current frame.
  #fin = false;
  #opcode = 0;
  #remaining = 0;
  /** Payload bytes of this frame already unmasked (selects the mask byte for the next piece). */
  #phase = 0;
  /** A control frame payload that spans reads (at most 125 bytes). */
  #control: Uint8Array | null = null;

  // The current message (opcode 0 = none in progress).
  #messageOpcode = 0;
  #messageBytes = 0;
  #fragments = 0;

  /**
   * @param perMessageDeflate the handshake agreed on permessage-deflate: compressed messages are collected up
   * to the same wire limit and inflated up to `maxMessageBytes`
   */
  constructor(events: FrameEvents, limits: Partial<FrameParserLimits> = {}, perMessageDeflate = false) {
    this.#events = events;
    const max = { ...WEBSOCKET_LIMITS, ...limits };
    this.#maxMessageBytes = Math.min(max.maxMessageBytes, max.maxPendingBytes);
    this.#maxFragments = max.maxFragments;
    this.#perMessageDeflate = perMessageDeflate;
    this.#assembler = new MessageAssembler(max.maxMessageBytes);
  }

  /** True after a Close frame, an error or {@link FrameParser.stop}. */
  get stopped(): boolean {
    return this.#state === STATE.Stopped;
  }

  /**
   * Parses bytes from the peer. The chunk may be reused by the caller after the call: whatever must outlive it
   * is copied.
   */
  push(chunk: Uint8Array): void {
    if (this.#state === STATE.Stopped) return;
    this.#chunk = chunk;
    this.#pos = 0;
    try {
      while (this.#step());
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.stop();
      this.#events.error(error);
    } finally {
      this.#chunk = EMPTY;
      this.#src = EMPTY;
    }
  }

  /** Ignores all further input and drops what is held. */
  stop(): void {
    this.#state = STATE.Stopped;
    this.#control = null;
    this.#assembler.reset();
  }

  #step(): boolean {
    switch (this.#state) {
      case STATE.Header:
        return this.#readHeader();
      case STATE.Length16:
        return this.#readLength16();
      case STATE.Length64:
        return this.#readLength64();
      case STATE.MaskKey:
        return this.#readMaskKey();
      case STATE.Payload:
        return this.#readPayload();
      default:
        return false;
    }
  }

  /**
   * Makes `n` (≤ 8) contiguous bytes available in `#src`. Reads them straight from the chunk when they are all
   * there; otherwise gathers them in the scratch buffer across pushes.
   * @returns their offset in `#src`, or -1 when fewer than `n` have arrived (those are kept)
   */
  #gather(n: number): number {
    const chunk = this.#chunk;
    if (this.#have === 0 && chunk.length - this.#pos >= n) {
      this.#src = chunk;
      this.#pos += n;
      return this.#pos - n;
    }
    const scratch = this.#scratch;
    while (this.#have < n && this.#pos < chunk.length) scratch[this.#have++] = chunk[this.#pos++];
    if (this.#have < n) return -1;
    this.#have = 0;
    this.#src = scratch;
    return 0;
  }

  #readHeader(): boolean {
    const at = this.#gather(2);
    if (at < 0) return false;
    const b0 = this.#src[at];
    const b1 = this.#src[at + 1];
    // §5.2: RSV1–3 must be 0 unless an extension gives them a meaning; permessage-deflate gives RSV1 one.
    const rsv = b0 & 0x70;
    const compressed = rsv === RSV1 && this.#perMessageDeflate;
    if (rsv !== 0 && !compressed) throw new ProtocolError("reservedBits");
    const opcode = b0 & 0x0f;
    if (!isOpcode(opcode)) throw new ProtocolError("reservedOpcode");
    // §5.1: a server must fail on an unmasked client frame.
    if ((b1 & 0x80) === 0) throw new ProtocolError("unmaskedFrame");
    const fin = (b0 & 0x80) !== 0;
    const length7 = b1 & 0x7f;
    if (isControlOpcode(opcode)) {
      // §5.5: control frames are never fragmented and carry at most 125 bytes (so never an extended length).
      if (!fin) throw new ProtocolError("fragmentedControl");
      if (length7 > 125) throw new ProtocolError("controlTooLong");
      // RFC 7692 §6.1: control frames are never compressed.
      if (compressed) throw new ProtocolError("compressedControl");
    } else {
      this.#startFragment(opcode, compressed);
    }
    this.#fin = fin;
    this.#opcode = opcode;
    if (length7 === 126) this.#state = STATE.Length16;
    else if (length7 === 127) this.#state = STATE.Length64;
    else this.#setLength(length7);
    return true;
  }

  /** §5.4 fragmentation rules and the fragment cap, checked on each data frame header. */
  #startFragment(opcode: number, compressed: boolean): void {
    if (opcode === OPCODE.Continuation) {
      if (this.#messageOpcode === 0) throw new ProtocolError("unexpectedContinuation");
      // RFC 7692 §6.1: only the first frame of a message carries RSV1.
      if (compressed) throw new ProtocolError("compressedContinuation");
    } else {
      if (this.#messageOpcode !== 0) throw new ProtocolError("interleavedMessage");
      this.#messageOpcode = opcode;
      this.#messageBytes = 0;
      this.#fragments = 0;
      this.#assembler.begin(opcode === OPCODE.Text, compressed);
    }
    if (++this.#fragments > this.#maxFragments) throw new ProtocolError("tooManyFragments");
  }

  // §5.2 allows non-minimal length encodings to be read; they are accepted.
  #readLength16(): boolean {
    const at = this.#gather(2);
    if (at < 0) return false;
    this.#setLength((this.#src[at] << 8) | this.#src[at + 1]);
    return true;
  }

  #readLength64(): boolean {
    const at = this.#gather(8);
    if (at < 0) return false;
    const src = this.#src;
    const high = ((src[at] << 24) | (src[at + 1] << 16) | (src[at + 2] << 8) | src[at + 3]) >>> 0;
    // §5.2: "the most significant bit MUST be 0".
    if (high >= 0x80000000) throw new ProtocolError("lengthTooLarge");
    const low = ((src[at + 4] << 24) | (src[at + 5] << 16) | (src[at + 6] << 8) | src[at + 7]) >>> 0;
    // Exact below 2^53; above, rounding cannot bring the value under any real limit.
    this.#setLength(high * 0x100000000 + low);
    return true;
  }

  #setLength(length: number): void {
    if (!isControlOpcode(this.#opcode)) {
      // Refused on the header, before any payload byte is buffered.
      if (length > this.#maxMessageBytes - this.#messageBytes) throw new ProtocolError("messageTooBig");
      this.#messageBytes += length;
    }
    this.#remaining = length;
    this.#state = STATE.MaskKey;
  }

  #readMaskKey(): boolean {
    const at = this.#gather(4);
    if (at < 0) return false;
    const src = this.#src;
    const scratch = this.#scratch;
    for (let i = 0; i < 4; i++) scratch[MASK_AT + i] = src[at + i];
    this.#phase = 0;
    this.#state = STATE.Payload;
    return true;
  }

  #readPayload(): boolean {
    const available = this.#chunk.length - this.#pos;
    const remaining = this.#remaining;
    if (remaining > 0 && available === 0) return false;
    const n = available < remaining ? available : remaining;
    if (isControlOpcode(this.#opcode)) return this.#readControlPayload(n);
    // One owned copy of exactly the bytes that arrived, unmasked in place.
    const piece = n === 0 ? EMPTY : this.#chunk.slice(this.#pos, this.#pos + n);
    unmask(piece, this.#scratch, MASK_AT, this.#phase);
    this.#pos += n;
    this.#phase += n;
    this.#remaining -= n;
    if (this.#remaining > 0 || !this.#fin) {
      this.#assembler.append(piece);
      if (this.#remaining > 0) return false;
      this.#state = STATE.Header;
      return true;
    }
    const data = this.#assembler.finish(piece);
    this.#messageOpcode = 0;
    this.#state = STATE.Header;
    this.#events.message(data);
    return true;
  }

  #readControlPayload(n: number): boolean {
    const start = this.#pos;
    this.#pos += n;
    let payload: Uint8Array;
    if (this.#control === null && n === this.#remaining) {
      payload = this.#chunk.slice(start, start + n);
    } else {
      // Split across reads: gather into one exact-size buffer (≤ 125 bytes, checked on the header).
      const control = this.#control ??= new Uint8Array(this.#phase + this.#remaining);
      control.set(this.#chunk.subarray(start, start + n), this.#phase);
      this.#phase += n;
      this.#remaining -= n;
      if (this.#remaining > 0) return false;
      payload = control;
      this.#control = null;
    }
    this.#remaining = 0;
    unmask(payload, this.#scratch, MASK_AT, 0);
    this.#state = STATE.Header;
    switch (this.#opcode) {
      case OPCODE.Ping:
        this.#events.ping(payload);
        break;
      case OPCODE.Pong:
        this.#events.pong(payload);
        break;
      default:
        this.#readClose(payload);
    }
    return true;
  }

  /** §5.5.1 / §7.4: an optional 2-byte code, then a UTF-8 reason. */
  #readClose(payload: Uint8Array): void {
    if (payload.length === 1) throw new ProtocolError("closePayloadOneByte");
    let code: number = CLOSE_CODE.NoStatusReceived;
    let reason = "";
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isWireCloseCode(code)) throw new ProtocolError("invalidCloseCode");
      const text = decodeUtf8(payload.subarray(2));
      if (text === null) throw new ProtocolError("invalidCloseReason");
      reason = text;
    }
    // Nothing follows a Close frame (§5.5.1): stop before reporting it.
    this.stop();
    this.#events.close(code, reason);
  }
}
