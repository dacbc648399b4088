/**
 * Incremental HTTP/1.1 request parser: bytes in, events out, no I/O and no timers (RFC 9112).
 *
 * The caller feeds every chunk it reads, then calls {@link RequestParser.next} until it returns
 * `PARSE.NeedMore`. Each message yields `PARSE.Head` (the head is complete: send 100 Continue or decide on an
 * upgrade) and then `PARSE.Message` (the body is complete). Bytes after a message stay buffered until the
 * caller asks for the next one, so pipelined requests are never parsed ahead of their turn, and
 * {@link RequestParser.takeBuffered} hands everything after a head to an upgrade handler.
 *
 * Every scan resumes where the previous one stopped, so any split of the input costs linear time.
 * @module
 */
import { badRequest, HttpError } from "./errors.ts";
import { concatBytes } from "./bytes.ts";
import { BYTE, decodeLatin1 } from "./chars.ts";
import { checkChunkExtensions } from "./chunk_extension.ts";
import type { HttpLimits } from "./limits.ts";
import { parseFieldLine, parseRequestHead, type RequestHead } from "./request_head.ts";
import { STATUS } from "./status.ts";

/** What {@link RequestParser.next} found. */
export const PARSE = {
  /** Nothing complete yet: feed more bytes. */
  NeedMore: 0,
  /** `parser.head` holds a new request head. */
  Head: 1,
  /** `parser.body` holds the complete body (null when empty) of the request of the last head. */
  Message: 2,
} as const;
export type ParseEvent = typeof PARSE[keyof typeof PARSE];

// Parser states.
const HEAD = 0;
const NO_BODY = 1;
const FIXED_BODY = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_DATA_END = 5;
const TRAILERS = 6;
const FAILED = 7;

// Results of reading one trailer line.
const NO_LINE = 0;
const FIELD_LINE = 1;
const LAST_LINE = 2;

/** First buffer allocation; buffers grown past `RETAIN_BYTES` are dropped once empty. */
const INITIAL_BYTES = 4096;
const RETAIN_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);
/** A chunk size with more significant hex digits than this exceeds any body limit (2^52). */
const MAX_CHUNK_SIZE_DIGITS = 13;

export class RequestParser {
  /** The last head parsed; valid until the next `PARSE.Head`. */
  head: RequestHead | null = null;
  /** The last complete body (null when empty); valid until the next `PARSE.Message`. */
  body: Uint8Array | null = null;

  #limits: HttpLimits;
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** Bytes consumed from the stream before `#start`. */
  #offset = 0;
  #state: number = HEAD;
  #error: HttpError | null = null;
  /** Where the current line scan resumes, relative to `#start`. */
  #scan = 0;
  #lineStart = 0;
  #headerStart = 0;
  /** Index (relative to `#start`) of the CR ending each head line so far. */
  #lineEnds: number[] = [];
  #remaining = 0;
  #bodyParts: Uint8Array[] = [];
  #bodyBytes = 0;
  #trailerBytes = 0;

  constructor(limits: HttpLimits) {
    this.#limits = limits;
  }

  /** Bytes buffered and not yet consumed by a parsed message. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Bytes of the stream consumed so far: after `PARSE.Head`, the stream offset where that head ended. */
  get offset(): number {
    return this.#offset;
  }

  /** True while part of a request (head or body) has been consumed or is buffered. */
  get midMessage(): boolean {
    return this.#state !== HEAD || this.#end > this.#start;
  }

  /** Copies `chunk` into the parser (the caller may reuse it afterwards). */
  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end + n > this.#buf.length) {
      const live = this.#end - this.#start;
      if (live + n <= this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const grown = new Uint8Array(Math.max(INITIAL_BYTES, this.#buf.length * 2, live + n));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += n;
  }

  /** Everything buffered after what was parsed, copied; the parser is finished afterwards. */
  takeBuffered(): Uint8Array {
    const rest = this.#buf.slice(this.#start, this.#end);
    this.#consume(this.#end - this.#start);
    this.#state = FAILED;
    this.#error = badRequest("parser_detached", "The connection was handed off");
    return rest;
  }

  /**
   * Parses as far as the buffered bytes allow, stopping after each event.
   * @throws {HttpError} on invalid input or an exceeded limit; later calls throw it again.
   */
  next(): ParseEvent {
    if (this.#error !== null) throw this.#error;
    try {
      return this.#next();
    } catch (error) {
      this.#state = FAILED;
      this.#error = error instanceof HttpError ? error : badRequest("invalid_request", String(error));
      throw this.#error;
    }
  }

  #next(): ParseEvent {
    for (;;) {
      switch (this.#state) {
        case HEAD:
          return this.#scanHead() ? PARSE.Head : PARSE.NeedMore;
        case NO_BODY:
          return this.#finishMessage();
        case FIXED_BODY:
          this.#takeBody();
          if (this.#remaining > 0) return PARSE.NeedMore;
          return this.#finishMessage();
        case CHUNK_SIZE:
          if (!this.#chunkSize()) return PARSE.NeedMore;
          break;
        case CHUNK_DATA:
          this.#takeBody();
          if (this.#remaining > 0) return PARSE.NeedMore;
          this.#state = CHUNK_DATA_END;
          break;
        case CHUNK_DATA_END: {
          if (this.#end - this.#start < 2) return PARSE.NeedMore;
          if (this.#buf[this.#start] !== BYTE.CR || this.#buf[this.#start + 1] !== BYTE.LF) {
            throw badRequest("invalid_chunk", "Chunk data not followed by CRLF");
          }
          this.#consume(2);
          this.#state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          const line = this.#trailerLine();
          if (line === NO_LINE) return PARSE.NeedMore;
          if (line === LAST_LINE) return this.#finishMessage();
          break;
        }
        default:
          throw this.#error ?? badRequest("invalid_request", "Parser failed");
      }
    }
  }

  /** Scans for the end of the head; on success parses it and moves to the body state. */
  #scanHead(): boolean {
    const buf = this.#buf;
    const limits = this.#limits;
    const lineEnds = this.#lineEnds;
    let base = this.#start;
    let length = this.#end - base;
    let i = this.#scan;
    for (; i < length; i++) {
      if (buf[base + i] !== BYTE.LF) continue;
      // RFC 9112 §2.2: a bare LF as line terminator is refused (it is how request smuggling starts).
      if (i === this.#lineStart || buf[base + i - 1] !== BYTE.CR) {
        throw badRequest("bare_lf", "Bare LF in head");
      }
      const cr = i - 1;
      if (lineEnds.length === 0) {
        if (cr === this.#lineStart) {
          // RFC 9112 §2.2: ignore empty lines before the request line.
          this.#consume(i + 1);
          base = this.#start;
          length -= i + 1;
          i = -1;
          continue;
        }
        if (cr > limits.maxRequestLineBytes) throw uriTooLong(limits);
        this.#headerStart = i + 1;
      } else if (cr === this.#lineStart) {
        lineEnds.push(cr);
        this.#parseHead(i + 1);
        return true;
      } else {
        if (lineEnds.length > limits.maxHeaderCount) {
          throw headersTooLarge(`More than ${limits.maxHeaderCount} headers`);
        }
        if (i + 1 - this.#headerStart > limits.maxHeaderBytes) {
          throw headersTooLarge("Header block too large");
        }
      }
      lineEnds.push(cr);
      this.#lineStart = i + 1;
    }
    this.#scan = i;
    if (lineEnds.length === 0) {
      if (length > limits.maxRequestLineBytes + 1) throw uriTooLong(limits);
    } else if (length - this.#headerStart > limits.maxHeaderBytes + 2) {
      throw headersTooLarge("Header block too large");
    }
    return false;
  }

  #parseHead(headEnd: number): void {
    const text = decodeLatin1(this.#buf, this.#start, this.#start + headEnd);
    const head = parseRequestHead(text, 0, this.#lineEnds, this.#limits);
    this.#lineEnds.length = 0;
    this.#consume(headEnd);
    this.head = head;
    this.#bodyBytes = 0;
    this.#trailerBytes = 0;
    if (head.chunked) {
      this.#state = CHUNK_SIZE;
    } else if (head.contentLength > 0) {
      this.#state = FIXED_BODY;
      this.#remaining = head.contentLength;
    } else {
      this.#state = NO_BODY;
    }
  }

  /** Moves up to `#remaining` buffered bytes into the body. */
  #takeBody(): void {
    const take = Math.min(this.#remaining, this.#end - this.#start);
    if (take === 0) return;
    this.#bodyParts.push(this.#buf.slice(this.#start, this.#start + take));
    this.#bodyBytes += take;
    this.#remaining -= take;
    this.#consume(take);
  }

  /** chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1, §7.1.1). */
  #chunkSize(): boolean {
    const lf = this.#findLine(
      this.#limits.maxChunkLineBytes,
      () => badRequest("chunk_line_too_long", "Chunk size line too long"),
    );
    if (lf === -1) return false;
    const buf = this.#buf;
    const start = this.#start;
    const end = start + lf - 1;
    let size = 0;
    let digits = 0;
    let i = start;
    for (; i < end; i++) {
      const c = buf[i];
      const lower = c | 0x20;
      let value: number;
      if (c >= 0x30 && c <= 0x39) value = c - 0x30;
      else if (lower >= 0x61 && lower <= 0x66) value = lower - 0x61 + 10;
      else break;
      if (size > 0 || value > 0) digits++;
      size = size * 16 + value;
    }
    if (i === start) throw badRequest("invalid_chunk_size", "Missing chunk size");
    if (i < end) checkChunkExtensions(buf, i, end);
    if (digits > MAX_CHUNK_SIZE_DIGITS || this.#bodyBytes + size > this.#limits.maxBodyBytes) {
      throw bodyTooLarge(this.#limits);
    }
    this.#consume(lf + 1);
    if (size === 0) {
      this.#state = TRAILERS;
    } else {
      this.#remaining = size;
      this.#state = CHUNK_DATA;
    }
    return true;
  }

  /** One line of the trailer section (RFC 9112 §7.1.2): validated, counted against the limits, discarded. */
  #trailerLine(): typeof NO_LINE | typeof FIELD_LINE | typeof LAST_LINE {
    const limit = this.#limits.maxHeaderBytes - this.#trailerBytes;
    const lf = this.#findLine(limit, () => headersTooLarge("Trailer section too large"));
    if (lf === -1) return NO_LINE;
    if (lf === 1) {
      this.#consume(2);
      return LAST_LINE;
    }
    parseFieldLine(decodeLatin1(this.#buf, this.#start, this.#start + lf - 1), 0, lf - 1);
    this.#trailerBytes += lf + 1;
    if (this.#trailerBytes > this.#limits.maxHeaderBytes) throw headersTooLarge("Trailer section too large");
    this.#consume(lf + 1);
    return FIELD_LINE;
  }

  /**
   * Index (relative to `#start`) of the LF ending the line at `#start`, or -1 when it has not arrived; checks
   * the CR and bounds the line to `limit` bytes.
   */
  #findLine(limit: number, tooLong: () => HttpError): number {
    const buf = this.#buf;
    const base = this.#start;
    const length = this.#end - base;
    let i = this.#scan;
    while (i < length && buf[base + i] !== BYTE.LF) i++;
    if (i === length) {
      this.#scan = i;
      if (length > limit + 1) throw tooLong();
      return -1;
    }
    if (i === 0 || buf[base + i - 1] !== BYTE.CR) throw badRequest("bare_lf", "Bare LF in chunked body");
    if (i - 1 > limit) throw tooLong();
    return i;
  }

  #finishMessage(): ParseEvent {
    const parts = this.#bodyParts;
    this.body = parts.length === 0
      ? null
      : parts.length === 1
      ? parts[0]
      : concatBytes(parts, this.#bodyBytes);
    this.#bodyParts = [];
    this.#state = HEAD;
    return PARSE.Message;
  }

  #consume(n: number): void {
    this.#start += n;
    this.#offset += n;
    this.#scan = 0;
    this.#lineStart = 0;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#buf.length > RETAIN_BYTES) this.#buf = EMPTY;
    }
  }
}

function uriTooLong(limits: HttpLimits): HttpError {
  return new HttpError(
    STATUS.URITooLong,
    "request_line_too_long",
    `Request line over ${limits.maxRequestLineBytes} bytes`,
  );
}

function headersTooLarge(message: string): HttpError {
  return new HttpError(STATUS.RequestHeaderFieldsTooLarge, "headers_too_large", message);
}

function bodyTooLarge(limits: HttpLimits): HttpError {
  return new HttpError(
    STATUS.ContentTooLarge,
    "body_too_large",
    `Body larger than ${limits.maxBodyBytes} bytes`,
  );
}
