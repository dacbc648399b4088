/**
 * The connection: tries the transports in order until one works and keeps it, reconnects with full-jitter
 * backoff, resumes every subscription from its position, and settles each publish with its ack or an error.
 *
 * Close codes (RFC 6455 §7.4.1): 1008 (policy: a token expired or refused) asks `getToken` once, then stops;
 * 1003, 1007 and 1009 mean this client sent what the relay cannot take (a bug): it stops; every other code,
 * 1001 (restart), 1006 (network), 1011, 1013 (slow consumer) among them, reconnects and resumes.
 * @module
 */
import type { Reply } from "../src/protocol/mod.ts";
import { backoffDelay } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import type { Link, LinkHost, PendingPublish } from "./link.ts";
import { SseLink } from "./sse_link.ts";
import { Subscription } from "./subscription.ts";
import {
  type ConnectionState,
  type ConnectOptions,
  PublishError,
  type PublishResult,
  type RelayEvents,
  type SubscribeOptions,
  type TransportName,
} from "./types.ts";
import { WebSocketLink } from "./websocket_link.ts";

/** Close codes after which reconnecting cannot help: the client sent what the relay refuses. */
const FINAL_CODES = [1003, 1007, 1009];
/** The close code of a refused or expired token. */
const POLICY_CODE = 1008;

const LINKS: Record<TransportName, new (host: LinkHost) => Link> = { websocket: WebSocketLink, sse: SseLink };

interface Waiting extends PendingPublish {
  resolve(result: PublishResult): void;
  reject(error: PublishError): void;
  timer: ReturnType<typeof setTimeout>;
  /** Handed to the current link (a lost link fails it: it may or may not have been stored). */
  sent: boolean;
}

/** A connection to a relay; {@link connect} makes one. */
export class RelayClient extends Emitter<RelayEvents> implements LinkHost {
  readonly base: string;
  token: string | undefined;
  readonly subscriptions = new Map<string, Subscription>();
  /** The transport of the current connection, null while not connected. */
  transport: TransportName | null = null;
  state: ConnectionState = "disconnected";
  #link: Link | null = null;
  /** The transport that worked; later connections use only it. */
  #kept: TransportName | null = null;
  /** Index in `transports` of the attempt in progress. */
  #trying = 0;
  #attempt = 0;
  #connectedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tokenAsked = false;
  #stopped = false;
  #nextId = 0;
  #publishes = new Map<string, Waiting>();

  constructor(url: string, readonly options: ConnectOptions) {
    super();
    this.base = new URL(url).origin;
    this.token = options.token;
    // Next microtask: listeners added right after `connect()` see the first `connecting`.
    queueMicrotask(() => {
      if (this.token === undefined && options.getToken !== undefined) this.#refreshToken();
      else this.#connect();
    });
  }

  /** Subscribes to `channel` (or returns its subscription); `since`/`epoch` resume from a known position. */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    let subscription = this.subscriptions.get(channel);
    if (subscription !== undefined) return subscription;
    subscription = new Subscription(channel, options, () => {
      if (this.subscriptions.get(channel) !== subscription) return;
      this.subscriptions.delete(channel);
      if (this.state === "connected") this.#link!.unsubscribe(channel);
    });
    this.subscriptions.set(channel, subscription);
    if (this.state === "connected") this.#link!.subscribe(subscription);
    return subscription;
  }

  /**
   * Publishes text or bytes to `channel`; resolves with the seq it was stored as. While disconnected it waits
   * for the connection; it rejects with a {@link PublishError} on the relay's error, after `publishTimeoutMs`,
   * when the connection is lost after sending it (it may or may not have been stored), or on `close()`.
   */
  publish(channel: string, data: string | Uint8Array): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      if (this.#stopped) return reject(new PublishError("closed", "the connection is closed"));
      const id = String(++this.#nextId);
      const timer = setTimeout(
        () => this.#settle(id, new PublishError("timeout", "no ack in time")),
        this.options.publishTimeoutMs ?? 10_000,
      );
      const waiting: Waiting = { id, channel, data, resolve, reject, timer, sent: false };
      this.#publishes.set(id, waiting);
      if (this.state === "connected") this.#send(waiting);
    });
  }

  /** Closes the connection for good: no reconnect; waiting publishes reject. */
  close(): void {
    this.#stop(1000, "closed by the client");
  }

  ready(link: Link): void {
    if (link !== this.#link || this.state === "connected") return;
    clearTimeout(this.#timer);
    this.#kept = link.name;
    this.#connectedAt = Date.now();
    this.transport = link.name;
    this.#setState("connected");
    for (const subscription of this.subscriptions.values()) link.subscribe(subscription);
    for (const waiting of this.#publishes.values()) this.#send(waiting);
  }

  reply(link: Link, reply: Reply): void {
    if (link !== this.#link) return;
    switch (reply.type) {
      case "subscribed":
        return this.subscriptions.get(reply.channel)?.subscribed(reply);
      case "message":
        return this.subscriptions.get(reply.channel)?.message(reply);
      case "ack":
        return this.#settle(reply.id ?? "", { seq: reply.seq });
      case "error":
        if (reply.id !== undefined && this.#publishes.has(reply.id)) {
          return this.#settle(reply.id, new PublishError(reply.code, reply.message));
        }
        this.emit("error", { code: reply.code, message: reply.message });
    }
  }

  closed(link: Link, code: number, reason: string): void {
    if (link !== this.#link) return;
    this.#link = null;
    clearTimeout(this.#timer);
    const wasConnected = this.state === "connected";
    this.#failSent();
    if (wasConnected) {
      if (Date.now() - this.#connectedAt >= (this.options.stableAfterMs ?? 5_000)) {
        this.#attempt = 0;
        this.#tokenAsked = false;
      }
      if (FINAL_CODES.includes(code)) return this.#stop(code, reason);
      if (code === POLICY_CODE) {
        if (this.options.getToken === undefined || this.#tokenAsked) return this.#stop(code, reason);
        this.#lost(code, reason);
        return this.#refreshToken();
      }
    } else if (this.#kept === null && this.#trying + 1 < this.#transports().length) {
      // Still looking for a transport that works: try the next one at once.
      this.#trying++;
      return this.#open();
    }
    this.#lost(code, reason);
    const delay = backoffDelay(
      this.#attempt++,
      this.options.minReconnectDelayMs ?? 500,
      this.options.maxReconnectDelayMs ?? 20_000,
    );
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #transports(): TransportName[] {
    return this.#kept !== null ? [this.#kept] : this.options.transports ?? ["websocket", "sse"];
  }

  #connect(): void {
    this.#trying = 0;
    this.#open();
  }

  #open(): void {
    if (this.#stopped) return;
    this.#setState("connecting");
    const link = this.#link = new LINKS[this.#transports()[this.#trying]](this);
    this.#timer = setTimeout(() => {
      if (this.#link !== link) return;
      link.close();
      this.closed(link, 1006, "no answer in time");
    }, this.options.timeoutMs ?? 5_000);
  }

  #refreshToken(): void {
    this.#tokenAsked = true;
    Promise.resolve()
      .then(this.options.getToken)
      .then((token) => {
        this.token = token;
        this.#connect();
      }, (error) => this.#stop(POLICY_CODE, `getToken failed: ${error}`));
  }

  #send(waiting: Waiting): void {
    waiting.sent = true;
    this.#link!.publish(waiting);
  }

  #settle(id: string, outcome: PublishResult | PublishError): void {
    const waiting = this.#publishes.get(id);
    if (waiting === undefined) return;
    this.#publishes.delete(id);
    clearTimeout(waiting.timer);
    if (outcome instanceof PublishError) waiting.reject(outcome);
    else waiting.resolve(outcome);
  }

  /** Rejects the publishes handed to a link that is gone: whether the relay stored them is unknown. */
  #failSent(): void {
    for (const waiting of [...this.#publishes.values()]) {
      if (waiting.sent) {
        this.#settle(waiting.id, new PublishError("disconnected", "connection lost before the ack"));
      }
    }
  }

  #lost(code: number, reason: string): void {
    this.transport = null;
    this.#setState("disconnected", code, reason);
  }

  #stop(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#link?.close();
    this.#link = null;
    for (const id of [...this.#publishes.keys()]) {
      this.#settle(id, new PublishError("closed", `the connection is closed (${code} ${reason})`));
    }
    this.transport = null;
    this.state = "disconnected";
    this.emit("state", { state: "disconnected", transport: null, code, reason, final: true });
  }

  #setState(state: ConnectionState, code?: number, reason?: string): void {
    if (state === this.state) return;
    this.state = state;
    this.emit(
      "state",
      code === undefined ? { state, transport: this.transport } : {
        state,
        transport: this.transport,
        code,
        reason,
      },
    );
  }
}

/**
 * Connects to the relay at `url` (`http(s)://host:port`; the page's origin by default) and keeps connected.
 *
 * @example
 * ```js
 * import { connect } from "/client.js";
 * const relay = connect();
 * const sub = relay.subscribe("room");
 * sub.on("message", ({ seq, text }) => console.log(seq, text));
 * sub.on("subscribed", ({ recovered, resumed }) => resumed && !recovered && console.warn("missed messages"));
 * const { seq } = await relay.publish("room", "hello");
 * ```
 */
export function connect(url?: string, options: ConnectOptions = {}): RelayClient {
  return new RelayClient(url ?? (globalThis as { location?: { origin: string } }).location!.origin, options);
}
