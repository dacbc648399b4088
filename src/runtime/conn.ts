/**
 * The push-style connection every layer above the runtime talks to.
 *
 * A runtime adapter (Deno read loop, Bun socket callbacks) drives it; protocol code (HTTP server, WebSocket
 * connection) installs a {@link ConnHandler} and writes bytes. The HTTP server installs its handler first and,
 * on a 101, hands the same `Conn` to the WebSocket layer, which installs its own.
 *
 * This file holds types only, so `src/http/` and `src/websocket/` may `import type` it without depending on a
 * runtime.
 * @module
 */

/** Callbacks a protocol layer installs on a {@link Conn}. */
export interface ConnHandler {
  /**
   * Bytes from the peer. The chunk is borrowed: it is valid only during the call, and the adapter may reuse its
   * memory afterwards. Copy whatever must outlive the call.
   */
  data(chunk: Uint8Array): void;
  /** The peer sent FIN: no more data will arrive. The connection may still be written until `end()`. */
  end(): void;
  /** The write queue drained after `write()` returned `false`. */
  drain(): void;
  /** The connection is closed for good (either side, or an I/O error). Called exactly once. */
  close(error?: Error): void;
}

/** The handler a connection has until the protocol layer installs one: it ignores every event. */
export const NOOP_HANDLER: ConnHandler = { data() {}, end() {}, drain() {}, close() {} };

/** One accepted TCP or TLS connection. */
export interface Conn {
  /** Peer address as text (`127.0.0.1`, `::1`). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** True for TLS connections. */
  readonly secure: boolean;
  /** Bytes accepted by `write()` and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** True once `close()` ran or the peer closed and the adapter tore the connection down. */
  readonly closed: boolean;
  /** Installs the handler that receives every later event (replaces the previous one). */
  setHandler(handler: ConnHandler): void;
  /**
   * Queues bytes for the peer. Writes made within one turn of the event loop go out in one write call
   * (corking). The caller must not modify `bytes` afterwards (a broadcast frame is shared by many connections).
   * @returns `false` when the queue is above the adapter's high-water mark: wait for `drain`.
   */
  write(bytes: Uint8Array): boolean;
  /**
   * Drops every queued byte not yet handed to the kernel and returns how many were dropped. Queued chunks are
   * whole writes, so what remains in flight ends on a write boundary (a slow consumer's frames can be dropped
   * and a Close frame written after them).
   */
  discardQueued(): number;
  /** Stops delivering `data` (the adapter stops reading) until `resume()`. */
  pause(): void;
  resume(): void;
  /** Flushes what is queued, then closes (FIN). Reading stops at once. */
  end(): void;
  /** Closes at once, dropping anything queued. */
  close(): void;
}

/** A running listener. */
export interface Listener {
  readonly hostname: string;
  /** The real port (useful with port 0). */
  readonly port: number;
  readonly secure: boolean;
  /** Stops accepting new connections; connections already accepted are unaffected. */
  close(): void;
}

/** What a runtime adapter needs to start listening. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: both present means TLS. */
  tls?: { cert: string; key: string };
  /**
   * Milliseconds a TLS client has, from accept, to finish its handshake before the socket is dropped.
   * @default 10000 (`TLS_HANDSHAKE_TIMEOUT_MS` in `limits.ts`)
   */
  tlsHandshakeTimeoutMs?: number;
  /**
   * A connection was accepted. Called at TCP accept, for TLS before the handshake (data arrives only after it),
   * so admission control counts the connection from its first moment and may `close()` it at once.
   */
  onConn(conn: Conn): void;
  /**
   * A connection given to `onConn` closed for good (after its handler's `close`), whatever stage it reached:
   * refused, mid-handshake, timed out, or served. Called once per connection.
   */
  onConnClose?(conn: Conn): void;
  /**
   * An accept or handshake failure that the listener survived, or a connection handler that threw (a bug; the
   * connection was torn down, the others go on), with the thrown value as `cause`. For logging.
   */
  onError?(error: Error): void;
}
