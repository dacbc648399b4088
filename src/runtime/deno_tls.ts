/**
 * Server-side TLS on Deno over a TCP connection we accepted ourselves, so the TCP socket stays ours to close
 * at any stage of the handshake.
 *
 * Why not `Deno.listenTls`: in Deno 2.9.6 a `TlsConn` from `listenTls` cannot be closed before its handshake
 * ends (`close()` cancels the handshake but the socket stays open until the peer leaves), so a client that
 * never sends a ClientHello held a descriptor for as long as it liked, and a connection refused by the
 * connection caps could not be closed either. `Deno.startTls` is client-only. `node:tls` can run the server
 * side of TLS over any duplex stream, so the encrypted bytes go through a `Duplex` fed by our own
 * `Deno.listen` connection, and closing that connection ends everything at once.
 *
 * {@link TlsOverTcp} offers the slice of `Deno.Conn` the adapter's read loop uses (`read`, `write`,
 * `closeWrite`, `close`, `remoteAddr`), so the same `DenoSocket` serves TCP and TLS.
 * @module
 */
import { Duplex } from "node:stream";
import tls from "node:tls";
import { toError } from "../util/mod.ts";

/** Bytes per read of the encrypted side: one TLS record at most (RFC 8446 §5.1: 2^14 plaintext bytes). */
const WIRE_READ_BYTES = 16 * 1024;
/**
 * Unread cleartext past which TCP is no longer read, until the read loop takes it. `node:tls` decrypts
 * whatever the duplex gives it whether or not anyone reads, so without this gate a paused connection would
 * buffer without bound (measured: 512 MiB from one client) instead of pushing back on the peer.
 */
const MAX_UNREAD_CLEARTEXT_BYTES = 64 * 1024;

/** PEM certificate chain and key turned into one context, shared by every connection of a listener. */
export function createTlsContext(pem: { cert: string; key: string }): tls.SecureContext {
  return tls.createSecureContext({ cert: pem.cert, key: pem.key });
}

/** What a {@link TlsOverTcp} reports about its handshake. */
export interface TlsHandshakeEvents {
  /** The handshake failed (garbage, plain HTTP, an alert) or did not finish in time; the TCP socket is closed. */
  failed(error: Error): void;
}

/** The server side of one TLS connection over an accepted TCP connection. */
export class TlsOverTcp {
  readonly remoteAddr: Deno.Addr;
  readonly #tcp: Deno.TcpConn;
  readonly #tls: tls.TLSSocket;
  readonly #wire: Duplex;
  #secure = false;
  #closed = false;
  /** The peer's close_notify or FIN arrived: reads return `null` once the buffered bytes are taken. */
  #ended = false;
  #error: Error | null = null;
  /** A cleartext chunk of which the caller took only part. */
  #leftover: Uint8Array | null = null;
  #wake: (() => void) | null = null;
  #pumping = false;
  /** TCP reading stopped because {@link MAX_UNREAD_CLEARTEXT_BYTES} were waiting for `read`. */
  #stalled = false;
  /** The TLS socket asked for more encrypted bytes (`Duplex.read`) since the last push. */
  #wanted = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    tcp: Deno.TcpConn,
    context: tls.SecureContext,
    handshakeTimeoutMs: number,
    events: TlsHandshakeEvents,
  ) {
    this.#tcp = tcp;
    this.remoteAddr = tcp.remoteAddr;
    this.#wire = new Duplex({
      read: () => this.#pump(),
      write: (chunk: Uint8Array, _encoding, done) => writeAll(tcp, chunk).then(() => done(), done),
      final: (done) => tcp.closeWrite().then(() => done(), done),
    });
    this.#tls = new tls.TLSSocket(this.#wire, {
      isServer: true,
      secureContext: context,
    });
    const wake = () => {
      const resume = this.#wake;
      this.#wake = null;
      resume?.();
    };
    this.#tls.on("secure", () => {
      this.#secure = true;
      clearTimeout(this.#timer);
    });
    this.#tls.on("readable", wake);
    this.#tls.on("end", () => {
      this.#ended = true;
      wake();
    });
    this.#tls.on("close", wake);
    this.#tls.on("error", (error: Error) => {
      if (!this.#secure && !this.#closed) events.failed(error);
      this.#fail(error);
    });
    // Errors of the encrypted side also reach the TLS socket; this listener only keeps them from being thrown.
    this.#wire.on("error", () => {});
    this.#timer = setTimeout(() => {
      if (this.#secure || this.#closed) return;
      const error = new Error(`TLS handshake not finished within ${handshakeTimeoutMs} ms`);
      events.failed(error);
      this.#fail(error);
    }, handshakeTimeoutMs);
  }

  /** Cleartext bytes into `buffer`; `null` once the peer ended; rejects after a failure or `close()`. */
  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      const leftover = this.#leftover;
      if (leftover !== null) {
        const n = Math.min(leftover.length, buffer.length);
        buffer.set(n === leftover.length ? leftover : leftover.subarray(0, n));
        this.#leftover = n === leftover.length ? null : leftover.subarray(n);
        return n;
      }
      if (this.#error !== null) throw this.#error;
      if (this.#closed) return null;
      const chunk = this.#tls.read() as Uint8Array | null;
      if (chunk !== null) {
        this.#leftover = chunk;
        if (this.#stalled) {
          this.#stalled = false;
          this.#pump();
        }
        continue;
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /** Resolves with the byte count once the encrypted bytes are handed to the TCP socket. */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#error !== null) return Promise.reject(this.#error);
    return new Promise((resolve, reject) =>
      this.#tls.write(bytes, (error) => error ? reject(error) : resolve(bytes.length))
    );
  }

  /** Sends close_notify, then FIN; reading goes on. */
  closeWrite(): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    return new Promise((resolve) => this.#tls.end(() => resolve()));
  }

  /** Closes the TCP socket at once, whatever stage the handshake reached. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#tcp.close();
    } catch { /* already closed */ }
    this.#tls.destroy();
    this.#wire.destroy();
    const resume = this.#wake;
    this.#wake = null;
    resume?.();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.close();
  }

  /** Feeds encrypted bytes from TCP to the TLS socket until it has enough buffered (then it asks again). */
  #pump(): void {
    this.#wanted = true;
    if (!this.#pumping) this.#runPump();
  }

  async #runPump(): Promise<void> {
    this.#pumping = true;
    const buffer = new Uint8Array(WIRE_READ_BYTES);
    try {
      for (;;) {
        if (this.#tls.readableLength >= MAX_UNREAD_CLEARTEXT_BYTES) {
          this.#stalled = true;
          return;
        }
        const n = await this.#tcp.read(buffer);
        if (this.#closed) return;
        if (n === null) {
          this.#wire.push(null);
          return;
        }
        this.#wanted = false;
        // `push` may ask for more at once (setting #wanted); otherwise a full buffer stops reading TCP.
        if (!this.#wire.push(buffer.slice(0, n)) && !this.#wanted) return;
      }
    } catch (error) {
      if (!this.#closed) this.#fail(toError(error));
    } finally {
      this.#pumping = false;
    }
  }
}

async function writeAll(tcp: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await tcp.write(offset === 0 ? bytes : bytes.subarray(offset));
}
