/**
 * Every limit of the HTTP/1.1 server, as named options with units, and their defaults.
 * @module
 */

/** Limits applied per connection and per request. Sizes are in bytes, durations in milliseconds. */
export interface HttpLimits {
  /**
   * Longest request line (method, target, version; without CRLF). Longer → 414.
   * @default 8192
   */
  readonly maxRequestLineBytes: number;
  /**
   * Largest header block (every field line with its CRLF, without the request line). Larger → 431.
   * Also bounds the trailer section of a chunked body.
   * @default 16384
   */
  readonly maxHeaderBytes: number;
  /**
   * Most header field lines in one request. More → 431.
   * @default 100
   */
  readonly maxHeaderCount: number;
  /**
   * Largest request body, declared (Content-Length) or chunked running total. Larger → 413.
   * @default 1048576
   */
  readonly maxBodyBytes: number;
  /**
   * Longest chunk-size line of a chunked body, chunk extensions included. Longer → 400.
   * @default 4096
   */
  readonly maxChunkLineBytes: number;
  /**
   * Time to receive a complete request head, counted from its first byte (or from accept for the first
   * request). Exceeded → 408 and close; a connection that sent nothing is closed silently.
   * @default 10000
   */
  readonly headTimeoutMs: number;
  /**
   * Idle time allowed between two requests on a keep-alive connection. Exceeded → silent close.
   * @default 5000
   */
  readonly keepAliveTimeoutMs: number;
  /**
   * Longest gap between two reads of request body bytes. Exceeded → 408 and close.
   * @default 30000
   */
  readonly bodyTimeoutMs: number;
  /**
   * Longest time a response may wait on a peer that accepts none of its bytes (the connection's write queue
   * stays above its high-water mark and does not shrink). Exceeded → the connection is closed without a
   * response: the peer stopped reading. A peer that reads, however slowly, is never cut off by it.
   * @default 30000
   */
  readonly sendTimeoutMs: number;
}

/** The default {@link HttpLimits}. */
export const HTTP_LIMITS: HttpLimits = Object.freeze({
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
  maxBodyBytes: 1024 * 1024,
  maxChunkLineBytes: 4096,
  headTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  bodyTimeoutMs: 30_000,
  sendTimeoutMs: 30_000,
});

/**
 * Merges overrides into the defaults once (not per request) and checks every value.
 * @throws {RangeError} when a value is not a positive finite number.
 */
export function resolveLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits = { ...HTTP_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`HTTP limit ${name} must be a positive number, got ${value}`);
    }
  }
  return Object.freeze(limits);
}
