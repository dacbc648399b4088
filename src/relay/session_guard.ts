/**
 * The per-connection policy every session shares: what the connection's token allows, an end (policy) when
 * that token expires, and a failed connection past `--max-messages-per-second`.
 * @module
 */
import { type Permissions, TokenBucket, watchExpiry } from "../access/mod.ts";
import { END_REASON, type Outbound } from "./outbound.ts";
import type { ClientInfo } from "./hooks.ts";

/** What the route decided about a connection. */
export interface SessionPolicy {
  /** From the token of the request (or everything, without auth). */
  permissions: Permissions;
  /** Messages the client may send per second, burst of one second's worth; 0 = no limit. */
  maxMessagesPerSecond: number;
  /** Largest message in bytes (`--max-message-bytes`); raw text is also checked once JSON-escaped. */
  maxMessageBytes: number;
  /** Who the client is, for the hooks; set only when the relay has hooks. */
  client?: ClientInfo | null;
}

/** Enforces a {@link SessionPolicy} on one connection. */
export class SessionGuard {
  readonly permissions: Permissions;
  readonly #out: Outbound;
  /** Null without a rate limit. */
  readonly #bucket: TokenBucket | null;
  #cancelExpiry: (() => void) | null = null;
  #closed = false;

  constructor(out: Outbound, policy: SessionPolicy) {
    this.#out = out;
    this.permissions = policy.permissions;
    this.#bucket = policy.maxMessagesPerSecond > 0 ? new TokenBucket(policy.maxMessagesPerSecond) : null;
  }

  /** Starts the expiry timer; call once the session is set up (it may end the connection at once). */
  start(): void {
    // Permissions that never expire (an open relay) need no timer and no closure.
    if (this.permissions.expiresAt === Infinity) return;
    this.#cancelExpiry = watchExpiry(this.permissions, () => this.#close("token expired"));
  }

  /** Counts one client message. False, and the connection failed, past the rate (or once closed). */
  admit(): boolean {
    if (this.#closed) return false;
    if (this.#bucket === null || this.#bucket.take()) return true;
    this.#close("rate limit", true);
    return false;
  }

  /**
   * Fails the connection with `reason` (a broken policy: nothing more is read from it); the session ignores
   * whatever else the client sends.
   */
  refuse(reason: string): void {
    this.#close(reason, true);
  }

  /** The connection closed: stop the timer. */
  stop(): void {
    this.#closed = true;
    this.#cancelExpiry?.();
    this.#cancelExpiry = null;
  }

  /** Ends for policy: politely (expiry: the peer did nothing wrong) or failing the connection (abuse). */
  #close(reason: string, fail = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (fail) this.#out.fail(END_REASON.Policy, reason);
    else this.#out.end(END_REASON.Policy, reason);
  }
}
