/**
 * Serializes responses: status line, header lines, framing and bodies (RFC 9112 §4, §6, §7.1). Also the one
 * place that turns an {@link HttpError} into bytes.
 * @module
 */
import { allocMessage } from "./bytes.ts";
import { encodeLatin1, encodeLatin1Into, hasToken } from "./chars.ts";
import { type DefaultHeaders, defaultLinesWithout, NO_DEFAULT_HEADERS } from "./default_headers.ts";
import type { HttpError } from "./errors.ts";
import { reasonPhrase, STATUS } from "./status.ts";

/** `HTTP/1.1 100 Continue`, sent before reading a body the client is holding back (RFC 9110 §10.1.1). */
export const CONTINUE: Uint8Array = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
/** The last chunk of a chunked body with an empty trailer section (RFC 9112 §7.1). */
export const LAST_CHUNK: Uint8Array = new TextEncoder().encode("0\r\n\r\n");

export const CONNECTION_CLOSE = "connection: close\r\n";
export const CONNECTION_KEEP_ALIVE = "connection: keep-alive\r\n";
export const CHUNKED = "transfer-encoding: chunked\r\n";
const DEFAULT_CONTENT_TYPE = "content-type: text/plain; charset=utf-8\r\n";

/** What the server needs to know about the app's response headers, gathered in one pass. */
export interface ResponseFields {
  /** The default header lines the app did not override, then the app's lines, without the server-owned ones. */
  readonly lines: string;
  /** The app's lines alone. */
  readonly appLines: string;
  /** The server's default headers when the app overrode none of them (their encoded head can be reused). */
  readonly defaults: DefaultHeaders | null;
  /** The app's Content-Length, or -1. */
  readonly contentLength: number;
  readonly hasContentType: boolean;
  readonly hasDate: boolean;
  /** The app asked for `Connection: close`. */
  readonly close: boolean;
  /**
   * The app marked the body as a stream through its headers: `Content-Type: text/event-stream`, or a
   * `Transfer-Encoding` of its own (Hono's `streamSSE` and `streamText` set `Transfer-Encoding: chunked`).
   */
  readonly stream: boolean;
}

/** The fields under construction, also the `this` of {@link collectField} (no closure per response). */
class FieldCollector implements ResponseFields {
  lines = "";
  appLines = "";
  defaults: DefaultHeaders | null = null;
  contentLength = -1;
  hasContentType = false;
  hasDate = false;
  close = false;
  stream = false;
  setCookie = false;
  overridden = 0;
  readonly switching: boolean;
  readonly defaultBits: ReadonlyMap<string, number>;

  constructor(switching: boolean, defaultBits: ReadonlyMap<string, number>) {
    this.switching = switching;
    this.defaultBits = defaultBits;
  }
}

function collectField(this: FieldCollector, value: string, name: string): void {
  switch (name) {
    case "set-cookie":
      // Each cookie on its own line (RFC 6265 §3); added once afterwards through getSetCookie().
      this.setCookie = true;
      return;
    case "content-length":
      if (!this.switching) this.contentLength = parseLength(value);
      return;
    case "transfer-encoding":
      // The server owns the framing; the app's Transfer-Encoding only says that the body is a stream.
      this.stream = true;
      return;
    case "content-type":
      if (this.switching) return;
      this.hasContentType = true;
      if (isEventStream(value)) this.stream = true;
      break;
    case "date":
      this.hasDate = true;
      break;
    case "connection":
      if (this.switching) break;
      this.close = hasToken(value, "close");
      return;
    case "keep-alive":
      if (!this.switching) return;
      break;
  }
  const bit = this.defaultBits.get(name);
  if (bit !== undefined) this.overridden |= 1 << bit;
  this.appLines += `${name}: ${value}\r\n`;
}

/** `text/event-stream` (RFC 6838 §4.2: media types compare case-insensitively), parameters allowed. */
function isEventStream(value: string): boolean {
  return value.length >= 17 && (value.charCodeAt(0) | 0x20) === 0x74 &&
    value.slice(0, 17).toLowerCase() === "text/event-stream";
}

/**
 * Reads the app's headers and puts the server's default headers in front of them, except those the app set
 * itself. For a normal response the server owns framing and connection management, so `content-length`,
 * `transfer-encoding`, `connection` and `keep-alive` are dropped (Content-Length is returned to be honoured).
 * For a 101 the `connection` and `upgrade` headers are the point, and there is no body, so `content-length`,
 * `content-type` and `transfer-encoding` are dropped instead (RFC 9110 §15.2.2).
 */
export function readResponseFields(
  headers: Headers,
  switching: boolean,
  defaults: DefaultHeaders = NO_DEFAULT_HEADERS,
): ResponseFields {
  const fields = new FieldCollector(switching, defaults.bits);
  // forEach is markedly cheaper than the iterator protocol on Deno's Headers.
  headers.forEach(collectField, fields);
  if (fields.setCookie) {
    const bit = defaults.bits.get("set-cookie");
    if (bit !== undefined) fields.overridden |= 1 << bit;
    for (const cookie of headers.getSetCookie()) fields.appLines += `set-cookie: ${cookie}\r\n`;
  }
  if (fields.overridden === 0) {
    fields.defaults = defaults;
    fields.lines = defaults.lines + fields.appLines;
  } else {
    fields.lines = defaultLinesWithout(defaults, fields.overridden) + fields.appLines;
  }
  return fields;
}

function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

const statusLines = new Map<number, string>();

/** `HTTP/1.1 <status> <reason>\r\n`, cached per status. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    if (statusLines.size < 1000) statusLines.set(status, line);
  }
  return line;
}

let dateSecond = -1;
let dateLine = "";

/** The `date` header line (RFC 9110 §6.6.1), rebuilt at most once a second. */
function dateHeaderLine(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `date: ${new Date(second * 1000).toUTCString()}\r\n`;
  }
  return dateLine;
}

/**
 * The full head text: status line, the app's lines, `date` unless set, a default `content-type` when the
 * response has a body and none was set, then `framing` and `connection` (each a ready line or "").
 */
export function headText(
  status: number,
  fields: ResponseFields,
  framing: string,
  connection: string,
  hasBody: boolean,
): string {
  let text = statusLine(status) + fields.lines;
  if (!fields.hasDate) text += dateHeaderLine();
  if (hasBody && !fields.hasContentType) text += DEFAULT_CONTENT_TYPE;
  return text + framing + connection + "\r\n";
}

/**
 * Head (as {@link headText} builds it) and body in one buffer. When the app overrode no default header, the
 * status line and the default headers are copied from bytes encoded once per status, and only the rest of
 * the head is encoded.
 */
export function encodeResponse(
  status: number,
  fields: ResponseFields,
  framing: string,
  connection: string,
  hasBody: boolean,
  body: Uint8Array | null,
): Uint8Array {
  const defaults = fields.defaults;
  if (defaults === null) return encodeMessage(headText(status, fields, framing, connection, hasBody), body);
  let tail = fields.appLines;
  if (!fields.hasDate) tail += dateHeaderLine();
  if (hasBody && !fields.hasContentType) tail += DEFAULT_CONTENT_TYPE;
  tail += framing + connection + "\r\n";
  let start = defaults.heads.get(status);
  if (start === undefined) {
    start = encodeLatin1(statusLine(status) + defaults.lines);
    if (defaults.heads.size < 100) defaults.heads.set(status, start);
  }
  const bodyLength = body === null ? 0 : body.length;
  const out = allocMessage(start.length + tail.length + bodyLength);
  out.set(start);
  const end = encodeLatin1Into(tail, out, start.length);
  if (body !== null) out.set(body, end);
  return out;
}

/** The head of a 101 (RFC 9110 §15.2.2) carrying the app's headers. */
export function switchingHead(fields: ResponseFields): string {
  return statusLine(STATUS.SwitchingProtocols) + fields.lines + "\r\n";
}

/** `content-length: n\r\n`. */
export function contentLengthLine(length: number): string {
  return `content-length: ${length}\r\n`;
}

/** Head and body in one buffer, so a small response is one write. */
export function encodeMessage(head: string, body: Uint8Array | null): Uint8Array {
  const bodyLength = body === null ? 0 : body.length;
  const out = allocMessage(head.length + bodyLength);
  encodeLatin1Into(head, out, 0);
  if (body !== null) out.set(body, head.length);
  return out;
}

/** One chunk of a chunked body (RFC 9112 §7.1): size in hex, CRLF, data, CRLF, in one buffer. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = data.length.toString(16);
  const out = allocMessage(size.length + data.length + 4);
  encodeLatin1Into(size, out, 0);
  let offset = size.length;
  out[offset++] = 0x0d;
  out[offset++] = 0x0a;
  out.set(data, offset);
  offset += data.length;
  out[offset++] = 0x0d;
  out[offset] = 0x0a;
  return out;
}

const encoder = new TextEncoder();

/**
 * The response for an {@link HttpError} (or a handler failure as a 500): JSON body
 * `{"error":"<code>","message":"…"}`, the server's default headers, and `connection: close` when `close`.
 * The body is left out for a HEAD request, its Content-Length kept (RFC 9110 §9.3.2).
 */
export function errorResponse(
  error: HttpError,
  defaultHeaderLines: string,
  close: boolean,
  headRequest = false,
): Uint8Array {
  const body = encoder.encode(JSON.stringify({ error: error.code, message: error.message }));
  const head = statusLine(error.status) + defaultHeaderLines + dateHeaderLine() +
    "content-type: application/json\r\n" + contentLengthLine(body.length) + (close ? CONNECTION_CLOSE : "") +
    "\r\n";
  return encodeMessage(head, headRequest ? null : body);
}
