/**
 * The streaming hand-off: a response whose body the app writes itself, long after the handler returned
 * (server-sent events). Modelled on the 101 hand-off: the server writes the response head, stops handling the
 * connection, and gives the app a {@link ResponseStream} that writes pre-framed chunks straight to the `Conn`,
 * so a fan-out writes one shared buffer to every stream (no `ReadableStream` queue per subscriber, which
 * could not be bounded) and sees the bytes still queued.
 * @module
 */
import type { Conn, ConnHandler } from "../runtime/mod.ts";
import { encodeChunk, LAST_CHUNK } from "./response_writer.ts";

/**
 * A streamed response body, after its head went out. HTTP/1.1 streams are chunked (RFC 9112 §7.1); an
 * HTTP/1.0 client gets a close-delimited body (RFC 9112 §6.3, rule 8) cut from the same chunks.
 */
export interface ResponseStream {
  /**
   * Queues one chunk framed by {@link frameChunk} (often shared by many streams: never modified). On an
   * HTTP/1.0 connection only its data goes out.
   * @returns false above the runtime's high-water mark (the caller bounds the queue with `bufferedAmount`).
   */
  write(chunk: Uint8Array): boolean;
  /** Bytes queued and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Ends the body (the last chunk) once the queue is out, then closes the connection. */
  end(): void;
  /** Drops the queue and closes the connection at once (a reader that stopped reading). */
  abort(): void;
}

/** Takes over a response body: registered with `RequestInfo.stream()`. */
export interface StreamTaker {
  /** The head was written: the stream is the taker's until it closes. Called synchronously at the hand-off. */
  open(stream: ResponseStream): void;
  /** The connection closed (either side, or an I/O error). Called once, only after `open`. */
  closed(): void;
}

/** `data` as one chunk of a chunked body: size in hex, CRLF, data, CRLF, in one buffer. */
export function frameChunk(data: Uint8Array): Uint8Array {
  return encodeChunk(data);
}

/** The data of a chunk framed by {@link frameChunk}, without copying: what an HTTP/1.0 reader gets. */
function chunkData(chunk: Uint8Array): Uint8Array {
  // The size line is hex digits then CRLF; the chunk ends with CRLF.
  let i = 0;
  while (chunk[i] !== 0x0d) i++;
  return chunk.subarray(i + 2, chunk.length - 2);
}

/**
 * The connection of a handed-off stream. The client has nothing more to say on it: what it sends is ignored
 * (never buffered), and its FIN ends the stream (EventSource and curl close both ways when they leave).
 */
export class HandedStream implements ResponseStream {
  readonly #conn: Conn;
  readonly #chunked: boolean;
  readonly #taker: StreamTaker;
  #ended = false;

  constructor(conn: Conn, chunked: boolean, taker: StreamTaker) {
    this.#conn = conn;
    this.#chunked = chunked;
    this.#taker = taker;
  }

  /** Installs the conn's handler and gives the stream to its taker. */
  start(): void {
    this.#conn.setHandler(new StreamConnHandler(this.#conn, this.#onClose));
    this.#taker.open(this);
  }

  #onClose = (): void => {
    this.#ended = true;
    this.#taker.closed();
  };

  write(chunk: Uint8Array): boolean {
    if (this.#ended) return false;
    return this.#conn.write(this.#chunked ? chunk : chunkData(chunk));
  }

  get bufferedAmount(): number {
    return this.#conn.bufferedAmount;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#chunked) this.#conn.write(LAST_CHUNK);
    this.#conn.end();
  }

  abort(): void {
    this.#ended = true;
    this.#conn.discardQueued();
    this.#conn.close();
  }
}

/** The conn's events while a stream owns it. */
class StreamConnHandler implements ConnHandler {
  readonly #conn: Conn;
  readonly #onClose: () => void;

  constructor(conn: Conn, onClose: () => void) {
    this.#conn = conn;
    this.#onClose = onClose;
  }

  data(): void {}

  /** The reader left: nothing it could still read matters. */
  end(): void {
    this.#conn.close();
  }

  drain(): void {}

  close(): void {
    this.#onClose();
  }
}
