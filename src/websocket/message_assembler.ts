/**
 * Data frame payloads → whole messages (RFC 6455 §5.4): text validated as UTF-8 while it arrives and decoded
 * once at the end, binary handed over as one owned buffer. A compressed message (RFC 7692) is collected as it
 * arrived and inflated once, under a cap, when its last frame is in.
 * @module
 */
import { DEFLATE_TRAILER, inflateMessage } from "./deflate_codec.ts";
import { ProtocolError } from "./errors.ts";
import { decodeUtf8, decodeValidUtf8, UTF8_ACCEPT, UTF8_REJECT, utf8Step } from "./utf8_validator.ts";

/**
 * Collects the payload pieces of one message. The frame parser owns one per connection and enforces the
 * fragmentation rules and limits; this class only holds bytes and checks UTF-8.
 */
export class MessageAssembler {
  /** Largest inflated message; compressed pieces are bounded by the parser's wire limit. */
  readonly #maxInflatedBytes: number;
  #text = false;
  #compressed = false;
  /** Non-final pieces, owned (already copied out of the borrowed read buffer); null while none. */
  #pieces: Uint8Array[] | null = null;
  #bytes = 0;
  #utf8 = UTF8_ACCEPT;

  /** @param maxInflatedBytes largest message once inflated (1009 past it, while inflating) */
  constructor(maxInflatedBytes = Number.MAX_SAFE_INTEGER) {
    this.#maxInflatedBytes = maxInflatedBytes;
  }

  /**
   * Starts a message (first frame's opcode Text or Binary).
   * @param compressed the first frame had RSV1 set on a connection that negotiated permessage-deflate
   */
  begin(text: boolean, compressed = false): void {
    this.#text = text;
    this.#compressed = compressed;
    this.#pieces = null;
    this.#bytes = 0;
    this.#utf8 = UTF8_ACCEPT;
  }

  /**
   * Keeps a non-final piece of the message. Text is checked at once, so a message fails at the first byte that
   * cannot be valid UTF-8, before later fragments arrive (RFC 6455 §8.1).
   * @param piece owned bytes; the assembler keeps them
   * @throws {ProtocolError} `invalidUtf8`
   */
  append(piece: Uint8Array): void {
    if (piece.length === 0) return;
    // Compressed bytes are not text yet: UTF-8 is checked once inflated.
    if (this.#text && !this.#compressed) {
      this.#utf8 = utf8Step(this.#utf8, piece);
      if (this.#utf8 === UTF8_REJECT) throw new ProtocolError("invalidUtf8");
    }
    (this.#pieces ??= []).push(piece);
    this.#bytes += piece.length;
  }

  /**
   * Completes the message with its last piece (possibly empty).
   * @param last owned bytes
   * @returns the text as a string, or the binary payload as one owned buffer
   * @throws {ProtocolError} `invalidUtf8`, including a code point left open at the end; for a compressed
   * message also `inflatedTooBig` and `corruptDeflate`
   */
  finish(last: Uint8Array): string | Uint8Array {
    if (this.#compressed) return this.#inflate(last);
    const pieces = this.#pieces;
    if (pieces === null) {
      if (this.#text) {
        // Arrived whole: one native call validates and decodes (fail-fast has nothing left to gain).
        const text = decodeUtf8(last);
        if (text === null) throw new ProtocolError("invalidUtf8");
        return text;
      }
      // The caller owns what it gets: never hand out a shared empty buffer.
      return last.length === 0 ? new Uint8Array(0) : last;
    }
    const text = this.#text;
    if (text && utf8Step(this.#utf8, last) !== UTF8_ACCEPT) throw new ProtocolError("invalidUtf8");
    const whole = new Uint8Array(this.#bytes + last.length);
    let offset = 0;
    for (const piece of pieces) {
      whole.set(piece, offset);
      offset += piece.length;
    }
    whole.set(last, offset);
    this.reset();
    return text ? decodeValidUtf8(whole) : whole;
  }

  /** Drops whatever is held. */
  reset(): void {
    this.begin(false);
  }

  /** The compressed pieces and the trailer in one buffer (one copy), inflated under the cap, then decoded. */
  #inflate(last: Uint8Array): string | Uint8Array {
    const pieces = this.#pieces ?? [];
    const whole = new Uint8Array(this.#bytes + last.length + DEFLATE_TRAILER.length);
    let offset = 0;
    for (const piece of pieces) {
      whole.set(piece, offset);
      offset += piece.length;
    }
    whole.set(last, offset);
    whole.set(DEFLATE_TRAILER, offset + last.length);
    const text = this.#text;
    this.reset();
    const data = inflateMessage(whole, this.#maxInflatedBytes);
    if (!text) return data;
    const decoded = decodeUtf8(data);
    if (decoded === null) throw new ProtocolError("invalidUtf8");
    return decoded;
  }
}
