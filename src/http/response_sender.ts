/**
 * Writes one Web `Response` to the wire: picks the framing (RFC 9112 §6.3), honours HEAD, 204 and 304, and
 * streams bodies that keep producing with chunked encoding, flushing each chunk as it is read and waiting for
 * `drain` under backpressure.
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { startBody, toBytes } from "./body_reader.ts";
import { isHeadMethod, type RequestHead } from "./request_head.ts";
import {
  CHUNKED,
  CONNECTION_CLOSE,
  CONNECTION_KEEP_ALIVE,
  contentLengthLine,
  encodeChunk,
  encodeMessage,
  headText,
  LAST_CHUNK,
  readResponseFields,
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
 * How sending ended: the connection may carry another request (`keep-alive`), must be closed after the
 * response (`close`), went away meanwhile (`aborted`), or the body failed after the head was sent (`failed`,
 * already reported: the framing is broken, drop the connection). A body that fails before the head is sent
 * rejects the promise instead, so the caller can still answer 500.
 */
export type SendOutcome = "keep-alive" | "close" | "aborted" | "failed";

const noop = () => {};

export async function writeResponse(
  target: ResponseTarget,
  response: Response,
  head: RequestHead,
  closeRequested: boolean,
): Promise<SendOutcome> {
  const status = response.status;
  const fields = readResponseFields(response.headers, false);
  const close = closeRequested || fields.close;
  const connection = close ? CONNECTION_CLOSE : head.minorVersion === 0 ? CONNECTION_KEEP_ALIVE : "";
  const outcome = close ? "close" : "keep-alive";
  const headRequest = isHeadMethod(head.method);
  const body = response.body;

  // RFC 9110 §6.4.1: 204 and 304 never have content; HEAD gets the GET's Content-Length when known.
  const bodyless = status === STATUS.NoContent || status === STATUS.NotModified;
  if (bodyless || body === null || (headRequest && fields.contentLength >= 0)) {
    body?.cancel().catch(noop);
    let framing = "";
    if (status === STATUS.NotModified || headRequest) {
      if (fields.contentLength >= 0) framing = contentLengthLine(fields.contentLength);
    } else if (status !== STATUS.NoContent) {
      framing = contentLengthLine(0);
    }
    const advertised = headRequest && !bodyless && fields.contentLength > 0;
    target.write(encodeMessage(headText(status, fields, framing, connection, advertised), null));
    return outcome;
  }

  const start = await startBody(body);
  if (!target.writable) {
    start.reader.cancel().catch(noop);
    return "aborted";
  }
  const first = concatBytes(start.chunks, start.bytes);
  if (start.done) {
    if (fields.contentLength >= 0 && fields.contentLength !== first.length) {
      target.reportError(
        new Error(`Content-Length ${fields.contentLength} but the body has ${first.length} bytes`),
      );
    }
    const text = headText(status, fields, contentLengthLine(first.length), connection, first.length > 0);
    target.write(encodeMessage(text, headRequest ? null : first));
    return outcome;
  }
  if (headRequest) {
    start.reader.cancel().catch(noop);
    target.write(encodeMessage(headText(status, fields, CHUNKED, connection, true), null));
    return outcome;
  }
  const stream = { reader: start.reader, pending: start.pending!, first };
  const ended = fields.contentLength >= 0
    ? await pumpFixedLength(target, stream, status, fields, connection)
    : await pumpChunked(target, stream, status, fields, connection);
  return ended === "done" ? outcome : ended;
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
): Promise<"done" | "aborted" | "failed"> {
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
): Promise<"done" | "aborted" | "failed"> {
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
): Promise<"done" | "aborted" | "failed"> {
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
