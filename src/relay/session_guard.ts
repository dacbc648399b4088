/**
 * The per-connection policy both WebSocket modes share: what the connection's token allows, a close with
 * 1008 when that token expires, and a close with 1008 past `--max-messages-per-second`.
 * @module
 */
import { CLOSE_CODE } from "../websocket/mod.ts";
import { type Permissions, watchExpiry } from "./auth.ts";
import type { RelaySocket } from "./relay.ts";
import { TokenBucket } from "./rate_limit.ts";

/** What the upgrade route decided about a connection. */
export interface SessionPolicy {
  /** From the token of the upgrade request (or everything, without auth). */
  permissions: Permissions;
  /** Messages the client may send per second, burst of one second's worth; 0 = no limit. */
  maxMessagesPerSecond: number;
  /**
   * `--max-message-bytes`: a text message must also fit it once JSON-escaped, as envelope subscribers get it
   * (see `textFitsEnvelope`).
   */
  maxMessageBytes: number;
}

/** The rate limit's clock, shared by every bucket (a default argument would be a closure per bucket). */
const monotonicNow = (): number => performance.now();

/** Enforces a {@link SessionPolicy} on one socket. */
export class SessionGuard {
  readonly permissions: Permissions;
  readonly #socket: RelaySocket;
  /** Null without a rate limit. */
  readonly #bucket: TokenBucket | null;
  #cancelExpiry: (() => void) | null = null;
  #closed = false;

  constructor(socket: RelaySocket, policy: SessionPolicy) {
    this.#socket = socket;
    this.permissions = policy.permissions;
    this.#bucket = policy.maxMessagesPerSecond > 0
      ? new TokenBucket(policy.maxMessagesPerSecond, monotonicNow)
      : null;
  }

  /** Starts the expiry timer; call once the session is set up (it may close at once). */
  start(): void {
    // Permissions that never expire (an open relay) need no timer and no closure.
    if (this.permissions.expiresAt === Infinity) return;
    this.#cancelExpiry = watchExpiry(this.permissions, () => this.#close("token expired"));
  }

  /** Counts one client message. False, and the socket closed with 1008, past the rate (or once closed). */
  admit(): boolean {
    if (this.#closed) return false;
    if (this.#bucket === null || this.#bucket.take()) return true;
    this.#close("rate limit", true);
    return false;
  }

  /**
   * Fails the socket with 1008 and `reason` (a broken policy: nothing more is read from it); the session ignores
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

  /** Closes with 1008: politely (expiry: the peer did nothing wrong) or failing the connection (abuse). */
  #close(reason: string, fail = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (fail) this.#socket.fail(CLOSE_CODE.PolicyViolation, reason);
    else this.#socket.close(CLOSE_CODE.PolicyViolation, reason);
  }
}
