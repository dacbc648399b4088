/**
 * Turns the text of one complete request head into a validated {@link RequestHead}: request line (RFC 9112
 * §3), field lines (RFC 9112 §5), message framing (RFC 9112 §6) and connection semantics (RFC 9112 §9.3).
 * Pure functions over a string; the byte-level scanning lives in `request_parser.ts`.
 * @module
 */
import { badRequest, HttpError } from "./errors.ts";
import { BYTE, hasToken, isTargetChar, isTchar, isValidHost, isWhitespace } from "./chars.ts";
import type { HttpLimits } from "./limits.ts";
import { STATUS } from "./status.ts";

/** A parsed, validated request head. Header names are lowercase; values are trimmed of OWS. */
export interface RequestHead {
  /** As sent (case-sensitive token, RFC 9110 §9.1). */
  method: string;
  /** The request-target as sent. */
  target: string;
  /**
   * Path and query for the request URL: the origin-form target, the path and query of an absolute-form
   * target (its authority is ignored), or `*` for the asterisk-form of OPTIONS.
   */
  path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: 0 | 1;
  /** Every field line in order, name lowercased. An array, so names like `__proto__` are plain data. */
  headers: [string, string][];
  /** The validated Host value, or null (only possible on HTTP/1.0). */
  host: string | null;
  /** Declared Content-Length, or -1 when absent. */
  contentLength: number;
  /** True for `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** Whether the connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** True when the request carries an `Upgrade` header. */
  upgrade: boolean;
  /** True for `Expect: 100-continue` on a request with a body. */
  expectContinue: boolean;
  /** Bytes of the head from the request line up to and including the final CRLF (leading empty lines excluded). */
  headBytes: number;
}

/** Digits a Content-Length may have before we stop computing it exactly (2^53 has 16). */
const MAX_LENGTH_DIGITS = 15;

/**
 * Parses a head. `text` holds the head as ISO-8859-1; `lineEnds` the index of the CR ending each line, the
 * last one being the empty line; `start` the index where the request line begins.
 * @throws {HttpError} for anything invalid.
 */
export function parseRequestHead(
  text: string,
  start: number,
  lineEnds: readonly number[],
  limits: HttpLimits,
): RequestHead {
  const head = parseRequestLine(text, start, lineEnds[0]);
  const headers: [string, string][] = [];
  let host: string | null = null;
  let hostCount = 0;
  let contentLength = -1;
  let transferEncoding: string | null = null;
  let connection = "";
  let expect: string | null = null;
  let upgrade = false;
  for (let line = 1; line < lineEnds.length - 1; line++) {
    const field = parseFieldLine(text, lineEnds[line - 1] + 2, lineEnds[line]);
    headers.push(field);
    const value = field[1];
    switch (field[0]) {
      case "host":
        hostCount++;
        host = value;
        break;
      case "content-length":
        contentLength = mergeContentLength(contentLength, value);
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection = connection === "" ? value : `${connection}, ${value}`;
        break;
      case "expect":
        expect = expect === null ? value : `${expect}, ${value}`;
        break;
      case "upgrade":
        upgrade = true;
        break;
    }
  }
  const minorVersion = head.minorVersion;

  // RFC 9112 §3.2: exactly one valid Host on HTTP/1.1; if an HTTP/1.0 client sends one, it must be valid too.
  if (hostCount > 1) throw badRequest("duplicate_host", "More than one Host header");
  if (hostCount === 0 && minorVersion === 1) {
    throw badRequest("missing_host", "HTTP/1.1 request without Host");
  }
  if (host !== null && !isValidHost(host)) throw badRequest("invalid_host", "Invalid Host header");

  let chunked = false;
  if (transferEncoding !== null) {
    // RFC 9112 §6.1: TE with CL is a smuggling vector; TE in HTTP/1.0 means faulty framing.
    if (contentLength !== -1) {
      throw badRequest(
        "content_length_with_transfer_encoding",
        "Content-Length and Transfer-Encoding together",
      );
    }
    if (minorVersion === 0) {
      throw badRequest("transfer_encoding_http10", "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (transferEncoding.length !== 7 || transferEncoding.toLowerCase() !== "chunked") {
      throw badRequest("unsupported_transfer_encoding", "Only Transfer-Encoding: chunked is supported");
    }
    chunked = true;
  }
  const hasBody = chunked || contentLength > 0;
  if (hasBody && isGetOrHead(head.method)) {
    throw badRequest("body_not_allowed", `A ${head.method} request cannot carry a body`);
  }
  if (contentLength > limits.maxBodyBytes) {
    throw new HttpError(
      STATUS.ContentTooLarge,
      "body_too_large",
      `Body larger than ${limits.maxBodyBytes} bytes`,
    );
  }

  let expectContinue = false;
  if (expect !== null) {
    // RFC 9110 §10.1.1: 100-continue is the only expectation defined; refuse others with 417.
    if (expect.length !== 12 || expect.toLowerCase() !== "100-continue") {
      throw new HttpError(
        STATUS.ExpectationFailed,
        "unsupported_expectation",
        "Only Expect: 100-continue is supported",
      );
    }
    expectContinue = hasBody && minorVersion === 1;
  }

  const keepAlive = minorVersion === 1
    ? !hasToken(connection, "close")
    : hasToken(connection, "keep-alive") &&
      !hasToken(connection, "close");

  return {
    method: head.method,
    target: head.target,
    path: head.path,
    minorVersion,
    headers,
    host,
    contentLength,
    chunked,
    keepAlive,
    upgrade,
    expectContinue,
    headBytes: lineEnds[lineEnds.length - 1] + 2,
  };
}

/** GET and HEAD compared as `Request` normalizes methods (case-insensitively). */
function isGetOrHead(method: string): boolean {
  if (method.length === 3) return method === "GET" || method.toUpperCase() === "GET";
  if (method.length === 4) return method === "HEAD" || method.toUpperCase() === "HEAD";
  return false;
}

/**
 * HEAD, case-sensitively (RFC 9110 §9.1): `head` is not HEAD. It reaches `toRequest` under its own name and
 * is refused there with 501, like `get`, instead of being answered as a HEAD.
 */
export function isHeadMethod(method: string): boolean {
  return method === "HEAD";
}

interface RequestLine {
  method: string;
  target: string;
  path: string;
  minorVersion: 0 | 1;
}

/** request-line = method SP request-target SP HTTP-version (RFC 9112 §3), single spaces only. */
function parseRequestLine(text: string, start: number, end: number): RequestLine {
  let i = start;
  while (i < end && isTchar(text.charCodeAt(i))) i++;
  if (i === start || i === end || text.charCodeAt(i) !== BYTE.SP) {
    throw badRequest("invalid_method", "Invalid request method");
  }
  const method = text.slice(start, i);
  const targetStart = ++i;
  while (i < end && isTargetChar(text.charCodeAt(i))) i++;
  if (i === targetStart || i === end || text.charCodeAt(i) !== BYTE.SP) {
    throw badRequest("invalid_target", "Invalid request target");
  }
  const target = text.slice(targetStart, i);
  const minorVersion = parseVersion(text, i + 1, end);
  return { method, target, path: targetPath(method, target), minorVersion };
}

/** HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3); only 1.0 and 1.1 are served. */
function parseVersion(text: string, start: number, end: number): 0 | 1 {
  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
  if (
    end - start !== 8 || !text.startsWith("HTTP/", start) || !isDigit(text.charCodeAt(start + 5)) ||
    text.charCodeAt(start + 6) !== 0x2e || !isDigit(text.charCodeAt(start + 7))
  ) {
    throw badRequest("invalid_version", "Invalid HTTP version");
  }
  if (text.charCodeAt(start + 5) === 0x31) {
    const minor = text.charCodeAt(start + 7);
    if (minor === 0x31) return 1;
    if (minor === 0x30) return 0;
  }
  throw new HttpError(STATUS.HTTPVersionNotSupported, "version_not_supported", "Only HTTP/1.0 and HTTP/1.1");
}

/** The path and query a target contributes to the request URL (RFC 9112 §3.2). */
function targetPath(method: string, target: string): string {
  const first = target.charCodeAt(0);
  if (first === BYTE.Slash) return target;
  if (first === BYTE.Asterisk && target.length === 1) {
    if (method === "OPTIONS") return target;
    throw badRequest("invalid_target", "Asterisk-form target is only valid for OPTIONS");
  }
  // absolute-form: keep only what follows the authority, so the Host header stays the only source of the host.
  const lower = target.slice(0, 8).toLowerCase();
  const schemeEnd = lower.startsWith("http://") ? 7 : lower.startsWith("https://") ? 8 : -1;
  if (schemeEnd === -1) throw badRequest("invalid_target", "Invalid request target");
  for (let i = schemeEnd; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === BYTE.Slash) return target.slice(i);
    if (c === BYTE.QuestionMark) return `/${target.slice(i)}`;
  }
  return "/";
}

/**
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). Refuses obs-fold (§5.2), whitespace before
 * the colon (§5.1), non-token names, and control characters in values (RFC 9110 §5.5).
 */
export function parseFieldLine(text: string, start: number, end: number): [string, string] {
  if (start < end && isWhitespace(text.charCodeAt(start))) {
    throw badRequest("obs_fold", "Line folding (obs-fold) is not allowed");
  }
  let i = start;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === BYTE.Colon) break;
    if (!isTchar(c)) {
      if (isWhitespace(c)) {
        throw badRequest("whitespace_before_colon", "Whitespace in or after a header name");
      }
      throw badRequest("invalid_header_name", "Invalid character in a header name");
    }
  }
  if (i === end) throw badRequest("invalid_header_line", "Header line without a colon");
  if (i === start) throw badRequest("empty_header_name", "Empty header name");
  const name = text.slice(start, i).toLowerCase();
  let a = i + 1;
  let b = end;
  while (a < b && isWhitespace(text.charCodeAt(a))) a++;
  while (b > a && isWhitespace(text.charCodeAt(b - 1))) b--;
  for (let j = a; j < b; j++) {
    const c = text.charCodeAt(j);
    // Controls other than HTAB, and DEL, are refused; 0x80–0xFF pass as obs-text.
    if ((c < 0x20 && c !== BYTE.HTAB) || c === BYTE.DEL) {
      throw badRequest("invalid_header_value", `Invalid character 0x${c.toString(16)} in header ${name}`);
    }
  }
  return [name, text.slice(a, b)];
}

/**
 * Content-Length = 1*DIGIT (RFC 9110 §8.6). A list of identical values or repeated identical headers is one
 * value; differing values are refused. Lengths too long to compute are "huge" (413 later), not invalid.
 */
function mergeContentLength(previous: number, value: string): number {
  let result = previous;
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(",", start);
    if (end === -1) end = value.length;
    let a = start;
    let b = end;
    while (a < b && isWhitespace(value.charCodeAt(a))) a++;
    while (b > a && isWhitespace(value.charCodeAt(b - 1))) b--;
    if (a === b) throw badRequest("invalid_content_length", "Invalid Content-Length");
    let length = 0;
    for (let i = a; i < b; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) throw badRequest("invalid_content_length", "Invalid Content-Length");
      length = length * 10 + (c - 0x30);
    }
    if (b - a > MAX_LENGTH_DIGITS) length = Number.MAX_SAFE_INTEGER;
    if (result !== -1 && result !== length) {
      throw badRequest("conflicting_content_length", "Differing Content-Length values");
    }
    result = length;
    start = end + 1;
  }
  return result;
}
