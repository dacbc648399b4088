/**
 * Writes one Web `Response` to the wire: picks the framing (RFC 9112 §6.3), honours HEAD, 204 and 304, sends
 * a buffered body with Content-Length in the same write as the head, and streams bodies that keep producing
 * with chunked encoding, flushing each chunk as it is read and waiting for `drain` under backpressure.
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { isMarkedStream, startBody, toBytes } from "./body_reader.ts";
import {
  CHUNKED,
  CONNECTION_CLOSE,
  CONNECTION_KEEP_ALIVE,
  contentLengthLine,
  encodeChunk,
  encodeMessage,
  encodeResponse,
  headText,
  LAST_CHUNK,
  type ResponseFields,
} from "./response_writer.ts";
import { STATUS } from "./status.ts";

/** Where a response goes: the connection, seen from the sender. */
export interface ResponseTarget {
  /** False once the connection closed or was handed off. */
  readonly writable: boolean;
  /** Writes; returns a promise when the caller must wait for `drain` first. */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /** What to run if the connection goes away while the body streams (null to clear). */
  onAbort(abort: (() => void) | null): void;
  reportError(error: unknown): void;
}

/**
 * How a streamed body ended: completely (`done`), the connection went away meanwhile (`aborted`), or the
 * body failed after the head was sent (`failed`, already reported: the framing is broken, drop the
 * connection). A body that fails before the head is sent rejects the promise instead, so the caller can
 * still answer 500.
 */
export type StreamOutcome = "done" | "aborted" | "failed";

const noop = () => {};

/** The `connection` line of a response: `close`, `keep-alive` for an HTTP/1.0 client that keeps it, or none. */
export function connectionLine(close: boolean, minorVersion: 0 | 1): string {
  return close ? CONNECTION_CLOSE : minorVersion === 0 ? CONNECTION_KEEP_ALIVE : "";
}

/**
 * True when the body is to be streamed (see `body_reader.ts`): decided from the headers already read and the
 * {@link streamResponse} mark, never by touching `response.body`, which would turn a static body into a
 * stream.
 */
export function isStreamed(response: Response, fields: ResponseFields): boolean {
  return fields.stream || isMarkedStream(response);
}

/** True for statuses that never carry content (RFC 9110 §15.3.5, §15.4.5). */
export function isBodyless(status: number): boolean {
  return status === STATUS.NoContent || status === STATUS.NotModified;
}

/** 204 and 304: the head only; a 304 keeps the app's Content-Length (RFC 9110 §8.6). */
export function sendBodyless(
  target: ResponseTarget,
  response: Response,
  fields: ResponseFields,
  connection: string,
): void {
  response.body?.cancel().catch(noop);
  const status = response.status;
  const framing = status === STATUS.NotModified && fields.contentLength >= 0
    ? contentLengthLine(fields.contentLength)
    : "";
  target.write(encodeResponse(status, fields, framing, connection, false, null));
}

/**
 * A body read whole: head and body in one write with Content-Length. For HEAD, the same head and no body
 * (RFC 9110 §9.3.2). A body whose size differs from the app's Content-Length is sent with its real length.
 */
export function sendBuffered(
  target: ResponseTarget,
  status: number,
  fields: ResponseFields,
  body: Uint8Array,
  connection: string,
  headRequest: boolean,
): void {
  const length = body.length;
  if (fields.contentLength >= 0 && fields.contentLength !== length) {
    target.reportError(new Error(`Content-Length ${fields.contentLength} but the body has ${length} bytes`));
  }
  const framing = contentLengthLine(length);
  target.write(encodeResponse(status, fields, framing, connection, length > 0, headRequest ? null : body));
}

/**
 * A streamed body. A HEAD gets the head a GET would get (the app's Content-Length, else chunked) and the
 * stream is cancelled unread.
 */
export async function sendStream(
  target: ResponseTarget,
  response: Response,
  fields: ResponseFields,
  connection: string,
  headRequest: boolean,
): Promise<StreamOutcome> {
  const status = response.status;
  const body = response.body;
  if (body === null) {
    sendBuffered(target, status, fields, new Uint8Array(0), connection, headRequest);
    return "done";
  }
  if (headRequest) {
    body.cancel().catch(noop);
    const framing = fields.contentLength >= 0 ? contentLengthLine(fields.contentLength) : CHUNKED;
    target.write(encodeMessage(headText(status, fields, framing, connection, true), null));
    return "done";
  }
  const start = await startBody(body);
  if (!target.writable) {
    start.reader.cancel().catch(noop);
    return "aborted";
  }
  const first = concatBytes(start.chunks, start.bytes);
  if (start.done) {
    sendBuffered(target, status, fields, first, connection, false);
    return "done";
  }
  const stream = { reader: start.reader, pending: start.pending!, first };
  return fields.contentLength >= 0
    ? await pumpFixedLength(target, stream, status, fields, connection)
    : await pumpChunked(target, stream, status, fields, connection);
}

interface OpenBody {
  reader: ReadableStreamDefaultReader<unknown>;
  pending: Promise<ReadableStreamReadResult<unknown>>;
  first: Uint8Array;
}

/** RFC 9112 §7.1: each chunk is written as soon as it is read (server-sent events flush per event). */
function pumpChunked(
  target: ResponseTarget,
  body: OpenBody,
  status: number,
  fields: ResponseFields,
  connection: string,
): Promise<StreamOutcome> {
  const head = headText(status, fields, CHUNKED, connection, true);
  return pump(
    target,
    body,
    encodeMessage(head, encodeChunk(body.first)),
    (chunk) => encodeChunk(chunk),
    LAST_CHUNK,
  );
}

/** The app set Content-Length on a streamed body: send exactly that many bytes, unframed. */
async function pumpFixedLength(
  target: ResponseTarget,
  body: OpenBody,
  status: number,
  fields: ResponseFields,
  connection: string,
): Promise<StreamOutcome> {
  const declared = fields.contentLength;
  let sent = 0;
  const fit = (chunk: Uint8Array) => {
    const part = chunk.length > declared - sent ? chunk.subarray(0, declared - sent) : chunk;
    sent += part.length;
    return part;
  };
  const head = headText(status, fields, contentLengthLine(declared), connection, declared > 0);
  const ended = await pump(target, body, encodeMessage(head, fit(body.first)), fit, null);
  if (ended === "done" && sent !== declared) {
    target.reportError(
      new Error(`Content-Length ${declared} but the streamed body ended after ${sent} bytes`),
    );
    return "failed";
  }
  return ended;
}

/** Writes `opening`, then every later chunk through `frame`, then `closing`, under backpressure. */
async function pump(
  target: ResponseTarget,
  body: OpenBody,
  opening: Uint8Array,
  frame: (chunk: Uint8Array) => Uint8Array,
  closing: Uint8Array | null,
): Promise<StreamOutcome> {
  const reader = body.reader;
  // A client that disconnects mid-stream cancels the body, so the producer stops.
  target.onAbort(() => reader.cancel().catch(noop));
  try {
    let waiting = target.write(opening);
    let pending = body.pending;
    for (;;) {
      if (waiting !== undefined) await waiting;
      const result = await pending;
      if (!target.writable) return "aborted";
      if (result.done) break;
      const chunk = toBytes(result.value);
      waiting = chunk.length > 0 ? target.write(frame(chunk)) : undefined;
      pending = reader.read();
    }
    if (closing !== null) target.write(closing);
    return "done";
  } catch (error) {
    if (!target.writable) return "aborted";
    reader.cancel(error).catch(noop);
    target.reportError(error);
    return "failed";
  } finally {
    target.onAbort(null);
  }
}
