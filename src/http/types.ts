/**
 * The public types of the HTTP server and the options resolved from them once per server.
 * @module
 */
import type { Conn } from "../runtime/mod.ts";
import { type HttpLimits, resolveLimits } from "./limits.ts";
import { type DefaultHeaders, NO_DEFAULT_HEADERS, resolveDefaultHeaders } from "./default_headers.ts";
import type { StreamTaker } from "./response_stream.ts";

/**
 * Takes over a connection after the server wrote `101 Switching Protocols`. `head` is a copy of every byte
 * the server had already read after the request head (often the client's first WebSocket frames).
 */
export type UpgradeHandler = (conn: Conn, head: Uint8Array) => void;

/** Per-request facts the Web `Request` cannot carry. The relay's Hono app receives it as `c.env`. */
export interface RequestInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** True on TLS connections (the request URL is `https://`). */
  readonly secure: boolean;
  /** The request's HTTP version (a WebSocket handshake needs 1.1, RFC 6455 §4.2.1). */
  readonly httpVersion: "1.0" | "1.1";
  /**
   * Registers the taker of the connection. Call it while handling the request and return a 200 Response
   * whose headers are those of the 101 (Upgrade, Connection, Sec-WebSocket-Accept, …); the server then
   * writes `101 Switching Protocols` with those headers and calls `onUpgrade`. Any other status refuses the
   * upgrade, and so does a HEAD request (which the handler sees as the GET it stands for).
   * @throws {Error} once the response for this request has been started.
   */
  upgrade(onUpgrade: UpgradeHandler): void;
  /**
   * Registers a function called once if the client leaves (closes the connection, or ends its side of it)
   * while the handler is still working out the response: a request held open (a long poll) can then be
   * released at once. Never called once the response has been returned. A later call replaces the listener.
   */
  onClose(listener: () => void): void;
  /**
   * Registers the taker of the response body (server-sent events). Call it while handling the request and
   * return a 200 Response without a body; the server writes its head (chunked on HTTP/1.1, close-delimited on
   * HTTP/1.0, always `connection: close`), leaves the connection to the taker and calls `taker.open()`. Any
   * other status answers normally and the taker is never opened; so does a HEAD request.
   * @throws {Error} once the response for this request has been started.
   */
  stream(taker: StreamTaker): void;
}

/** The application: one `Request` in, one `Response` out. A throw or rejection becomes a 500. */
export type HttpHandler = (request: Request, info: RequestInfo) => Response | Promise<Response>;

/** Options of {@link serveHttp} and `HttpServer`. */
export interface HttpServerOptions {
  /** Overrides of `HTTP_LIMITS`. */
  limits?: Partial<HttpLimits>;
  /**
   * Headers added to every response: the app's (unless it set a header of the same name itself, which then
   * wins), the server's own errors and timeouts, and the 101 of an upgrade. Meant for the CSP and the secure
   * headers, serialized once per server. At most 30 distinct names.
   * @default []
   */
  defaultHeaders?: [string, string][];
  /** Reports handler failures, stream errors and upgrade handler failures (for logging). */
  onError?(error: unknown): void;
}

/** Options merged and validated once, shared by every connection of a server. */
export interface ServerConfig {
  readonly limits: HttpLimits;
  readonly defaultHeaders: DefaultHeaders;
  readonly onError: (error: unknown) => void;
}

const resolved = new WeakMap<HttpServerOptions, ServerConfig>();
const DEFAULT_CONFIG: ServerConfig = {
  limits: resolveLimits(),
  defaultHeaders: NO_DEFAULT_HEADERS,
  onError: () => {},
};

/**
 * Resolves options into a {@link ServerConfig}, cached per options object so per-connection callers pay once.
 * @throws {RangeError | TypeError} for invalid limits or default headers.
 */
export function resolveConfig(options: HttpServerOptions | undefined): ServerConfig {
  if (options === undefined) return DEFAULT_CONFIG;
  let config = resolved.get(options);
  if (config === undefined) {
    const onError = options.onError;
    config = {
      limits: resolveLimits(options.limits),
      defaultHeaders: resolveDefaultHeaders(options.defaultHeaders ?? []),
      onError: onError === undefined ? () => {} : (error) => {
        try {
          onError(error);
        } catch { /* a logging failure must not break the connection */ }
      },
    };
    resolved.set(options, config);
  }
  return config;
}
