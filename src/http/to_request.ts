/**
 * Builds the Web `Request` for a parsed head. The URL is put together by string concatenation from the
 * validated Host and the target's path, so no part of the target can change the host (`//evil.example/x`
 * stays a path; an absolute-form target contributes only its path and query, see `request_head.ts`).
 * @module
 */
import { badRequest, HttpError } from "./errors.ts";
import type { RequestHead } from "./request_head.ts";
import { STATUS } from "./status.ts";

/** Host used in the URL of an HTTP/1.0 request that sent no Host header. */
const FALLBACK_HOST = "localhost";

/** The methods the server hands to the app; any other gets 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
]);

/**
 * @throws {HttpError} 501 for a method outside {@link KNOWN_METHODS} (RFC 9110 §9.1: unrecognized or not
 * implemented); 400 when the URL does not parse.
 */
export function toRequest(
  head: RequestHead,
  body: Uint8Array | null,
  secure: boolean,
  method: string = head.method,
): Request {
  // Methods are case-sensitive (RFC 9110 §9.1). `Request` upper-cases `get`, `post`, … (Fetch's method
  // normalization), forbids CONNECT, TRACE and TRACK (a relay is no proxy), and on Bun turns a method it does
  // not know into GET: only the methods an HTTP API uses reach it, exactly as sent.
  if (!KNOWN_METHODS.has(method)) {
    throw new HttpError(STATUS.NotImplemented, "method_not_supported", `Method ${method} is not supported`);
  }
  // OPTIONS * (RFC 9112 §3.2.4) addresses the server as a whole; it reaches the app as the path "/*".
  const path = head.path === "*" ? "/*" : head.path;
  const url = (secure ? "https://" : "http://") + (head.host ?? FALLBACK_HOST) + path;
  try {
    // A GET without init, then the headers appended one by one, is about a third cheaper on Deno than the
    // same headers in the init (its sequence conversion copies every pair); the result is the same.
    const request = method === "GET" && body === null
      ? new Request(url)
      // The parser's bodies are fresh copies backed by plain ArrayBuffers.
      : new Request(url, { method, body: body as Uint8Array<ArrayBuffer> | null });
    const headers = request.headers;
    const fields = head.headers;
    for (let i = 0; i < fields.length; i++) headers.append(fields[i][0], fields[i][1]);
    return request;
  } catch (error) {
    throw badRequest(
      "invalid_request",
      `Request rejected: ${error instanceof Error ? error.message : error}`,
    );
  }
}
