/**
 * Caps on open connections, in total and per client address, so one client (or a flood) cannot exhaust file
 * descriptors or memory. Connections count from accept (TLS ones before their handshake). Past a cap a new
 * plain connection gets `503` with `Retry-After` and is closed; a TLS one is closed without a word, since
 * nothing readable can be sent before its handshake.
 * @module
 */
import { HttpError, STATUS } from "../http/mod.ts";
import type { Conn } from "../runtime/mod.ts";

/** What answers a refused plain connection: the HTTP server's own error response (`HttpServer.refuse`). */
export interface ConnectionRefuser {
  refuse(conn: Conn, error: HttpError, retryAfterSeconds?: number): void;
}

/** Seconds a refused client is asked to wait. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Counts connections per address; `admit` on accept, `release` on close. Adapters report the close of every
 * connection they accepted, refused ones included, so only those `admit` let in give a place back: otherwise
 * a client that keeps reconnecting would free a place with each refusal and walk past the cap.
 */
export class ConnectionLimiter {
  readonly #maxTotal: number;
  readonly #maxPerAddress: number;
  readonly #perAddress = new Map<string, number>();
  /** The connections counted in and not yet released. */
  readonly #admitted = new WeakSet<Conn>();
  #total = 0;
  /** Connections refused so far. */
  refused = 0;

  readonly #refuser: ConnectionRefuser;
  /** `--trust-proxy`: peers counted under the total cap only; their clients are counted by {@link attribute}. */
  readonly #isProxy: (address: string) => boolean;
  /** A proxy's connection (`address port`) → the forwarded client it was counted for. */
  readonly #attributed = new Map<string, string>();

  constructor(
    maxTotal: number,
    maxPerAddress: number,
    refuser: ConnectionRefuser,
    isProxy: (address: string) => boolean = () => false,
  ) {
    this.#maxTotal = maxTotal;
    this.#maxPerAddress = maxPerAddress;
    this.#refuser = refuser;
    this.#isProxy = isProxy;
  }

  /**
   * Counts a trusted proxy's connection for the client it forwards (`X-Forwarded-For`), under the per-address
   * cap, on the connection's first request that names one. False when that client is at the cap: the caller
   * answers 503. Later requests on the same connection are not counted again.
   */
  attribute(proxyAddress: string, proxyPort: number, client: string): boolean {
    const key = `${proxyAddress} ${proxyPort}`;
    if (this.#attributed.has(key)) return true;
    const count = this.#perAddress.get(client) ?? 0;
    if (count >= this.#maxPerAddress) {
      this.refused++;
      return false;
    }
    this.#perAddress.set(client, count + 1);
    this.#attributed.set(key, client);
    return true;
  }

  get total(): number {
    return this.#total;
  }

  /** Counts `conn` in, or refuses it (a 503, or a plain close under TLS) and returns false. */
  admit(conn: Conn): boolean {
    const proxy = this.#isProxy(conn.remoteAddress);
    const count = proxy ? 0 : this.#perAddress.get(conn.remoteAddress) ?? 0;
    if (this.#total >= this.#maxTotal || count >= this.#maxPerAddress) {
      this.refused++;
      if (conn.secure) {
        conn.close();
        return false;
      }
      const message = this.#total >= this.#maxTotal
        ? "too many connections"
        : "too many connections from your address";
      this.#refuser.refuse(
        conn,
        new HttpError(STATUS.ServiceUnavailable, "unavailable", message),
        RETRY_AFTER_SECONDS,
      );
      return false;
    }
    if (!proxy) this.#perAddress.set(conn.remoteAddress, count + 1);
    this.#total++;
    this.#admitted.add(conn);
    return true;
  }

  /** A connection closed: gives its place back if `admit` counted it in (once, however often it is called). */
  release(conn: Conn): void {
    if (!this.#admitted.delete(conn)) return;
    this.#total--;
    let address = conn.remoteAddress;
    if (this.#isProxy(address)) {
      const key = `${address} ${conn.remotePort}`;
      const client = this.#attributed.get(key);
      if (client === undefined) return;
      this.#attributed.delete(key);
      address = client;
    }
    const count = this.#perAddress.get(address);
    if (count === undefined) return;
    if (count <= 1) this.#perAddress.delete(address);
    else this.#perAddress.set(address, count - 1);
  }
}
