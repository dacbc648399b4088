/**
 * Entry points: {@link serveHttp} for one connection, {@link HttpServer} to own every connection of a
 * listener and shut them down gracefully.
 * @module
 */
import type { Conn } from "../runtime/mod.ts";
import { type ConnectionOwner, HttpConnection } from "./http_connection.ts";
import type { HttpError } from "./errors.ts";
import { errorResponse } from "./response_writer.ts";
import { type HttpHandler, type HttpServerOptions, resolveConfig, type ServerConfig } from "./types.ts";

/**
 * Serves HTTP/1.1 on `conn` until it closes or is upgraded: installs the connection's handler and returns.
 * Options are resolved once per options object (keep one object per server).
 * @example
 * ```ts
 * listen({ hostname: "127.0.0.1", port: 0, onConn: (conn) => serveHttp(conn, (req) => new Response("hi")) });
 * ```
 */
export function serveHttp(conn: Conn, handler: HttpHandler, options?: HttpServerOptions): void {
  new HttpConnection(conn, handler, resolveConfig(options), null);
}

/**
 * Serves many connections with one handler and tracks them for graceful shutdown. Upgraded connections leave
 * its care at the 101 (the WebSocket layer owns them).
 * @example
 * ```ts
 * const http = new HttpServer(app.fetch, { defaultHeaders: [["x-content-type-options", "nosniff"]] });
 * const listener = listen({ hostname: "0.0.0.0", port: 8080, onConn: (conn) => http.serve(conn) });
 * // on SIGTERM:
 * listener.close();
 * await http.shutdown();
 * ```
 */
export class HttpServer implements ConnectionOwner {
  #handler: HttpHandler;
  #config: ServerConfig;
  #connections = new Set<HttpConnection>();
  #shuttingDown = false;
  #idleWaiters: (() => void)[] = [];

  /** @throws {RangeError | TypeError} for invalid limits or default headers. */
  constructor(handler: HttpHandler, options?: HttpServerOptions) {
    this.#handler = handler;
    this.#config = resolveConfig(options);
  }

  /** Starts serving `conn`. During shutdown new connections are closed at once. */
  serve(conn: Conn): void {
    if (this.#shuttingDown) {
      conn.close();
      return;
    }
    this.#connections.add(new HttpConnection(conn, this.#handler, this.#config, this));
  }

  /**
   * Answers `conn` with `error` (the same JSON error response, default headers and `connection: close` as the
   * server's own refusals) before reading anything from it, then ends it: a connection refused at accept.
   */
  refuse(conn: Conn, error: HttpError, retryAfterSeconds?: number): void {
    const lines = this.#config.defaultHeaders.lines +
      (retryAfterSeconds === undefined ? "" : `retry-after: ${retryAfterSeconds}\r\n`);
    conn.write(errorResponse(error, lines, true));
    conn.end();
  }

  /** HTTP connections open (upgraded ones excluded). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Requests whose handler is running or whose response is being written. */
  get inFlight(): number {
    let count = 0;
    for (const connection of this.#connections) if (connection.answering) count++;
    return count;
  }

  /** Closes every keep-alive connection that is between requests. */
  closeIdle(): void {
    for (const connection of [...this.#connections]) if (connection.idle) connection.shutdown();
  }

  /**
   * Closes idle connections at once, lets every other one finish the request it is reading or answering
   * (that response carries `connection: close`), and resolves when no HTTP connection is left. Connections
   * accepted afterwards are closed. Bounded by the head, body and handler durations: race it with a timer
   * to force an exit.
   */
  shutdown(): Promise<void> {
    this.#shuttingDown = true;
    for (const connection of [...this.#connections]) connection.shutdown();
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** @internal Called by a connection that closed or was upgraded. */
  release(connection: HttpConnection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
