/**
 * Limits shared by every runtime adapter, so Deno and Bun behave alike.
 * @module
 */

/** Above this many queued bytes `Conn.write()` returns false (then `drain` follows). */
export const HIGH_WATER_MARK = 64 * 1024;

/**
 * Lingering close: after `end()` has flushed and sent FIN, the adapter keeps reading and discarding what the
 * peer still sends, for at most this long and this many bytes, before it closes. Closing a socket with unread
 * input makes the kernel send a reset, which can destroy the response the peer has not read yet (a 413 to a
 * client still uploading). nginx does the same (`lingering_close`).
 */
export const LINGER_MS = 2000;
export const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Longest `end()` waits for a peer that takes none of the queued bytes, before the connection is closed anyway
 * (the lingering close starts after the flush). The wait restarts whenever bytes went out, so a slow but live
 * reader of a big response gets all of it; only a peer that stopped reading is dropped.
 */
export const END_FLUSH_TIMEOUT_MS = 30_000;

/**
 * Default `tlsHandshakeTimeoutMs`: how long a TLS client has, counted from accept, to finish its handshake
 * before the connection is dropped, so a silent client cannot hold a connection (or a cap's place) forever.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
