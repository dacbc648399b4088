/**
 * The WebSocket link: envelope mode (`GET /ws`, subprotocol `relay.v1`). It counts as working once the relay
 * answers the `ping` sent on open, not at the 101: a proxy (or a test) may accept and drop the socket at once.
 * Browsers cannot see WebSocket pings, so a quiet connection is probed with an envelope `ping`; no frame within
 * `pongTimeoutMs` after it, and the link is reported closed (4000) for the client to reconnect.
 * @module
 */
import { ENVELOPE_PROTOCOL, type Reply } from "../src/protocol/mod.ts";
import type { Link, LinkHost, PendingPublish } from "./link.ts";
import { toBase64 } from "./subscription.ts";
import type { Subscription } from "./subscription.ts";

/** The close code a link reports when the relay stopped answering (application range, RFC 6455 §7.4.2). */
export const DEAD_CONNECTION_CODE = 4000;

/** Opens a WebSocket link to `host.base`. */
export class WebSocketLink implements Link {
  readonly name = "websocket";
  readonly #ws: WebSocket;
  #ready = false;
  #lastFrame = 0;
  /** When the unanswered `ping` went out; null when none is outstanding. */
  #pingSentAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: LinkHost) {
    const url = new URL("/ws", host.base.replace(/^http/, "ws"));
    if (host.token !== undefined) url.searchParams.set("token", host.token);
    const ws = this.#ws = new (host.options.WebSocket ?? WebSocket)(url.href, ENVELOPE_PROTOCOL);
    ws.onopen = () => {
      this.#lastFrame = Date.now();
      this.#ping();
      this.#watch();
    };
    ws.onmessage = (event) => {
      this.#lastFrame = Date.now();
      if (!this.#ready) {
        this.#ready = true;
        host.ready(this);
      }
      let reply: Reply;
      try {
        reply = JSON.parse(event.data);
      } catch {
        return;
      }
      if (reply.type !== "pong") host.reply(this, reply);
    };
    ws.onclose = (event) => this.#end(event.code, event.reason);
  }

  subscribe(subscription: Subscription): void {
    this.#send(subscription.command());
  }

  unsubscribe(channel: string): void {
    this.#send({ type: "unsubscribe", channel });
  }

  publish({ id, channel, data }: PendingPublish): void {
    this.#send(
      typeof data === "string"
        ? { type: "publish", channel, id, text: data }
        : { type: "publish", channel, id, binary: toBase64(data) },
    );
  }

  close(): void {
    this.#detach();
    this.#ws.close(1000);
  }

  #send(command: object): void {
    if (this.#ws.readyState === 1) this.#ws.send(JSON.stringify(command));
  }

  #ping(): void {
    this.#pingSentAt = Date.now();
    this.#send({ type: "ping" });
  }

  /** Pings after `pingAfterMs` without a frame; gives up `pongTimeoutMs` after an unanswered ping. */
  #watch = (): void => {
    const { pingAfterMs = 25_000, pongTimeoutMs = 10_000 } = this.host.options;
    const now = Date.now();
    if (this.#pingSentAt !== null && this.#lastFrame >= this.#pingSentAt) this.#pingSentAt = null;
    if (this.#pingSentAt !== null && now - this.#pingSentAt >= pongTimeoutMs) {
      this.#ws.close(DEAD_CONNECTION_CODE);
      this.#end(DEAD_CONNECTION_CODE, "no answer to ping");
      return;
    }
    if (this.#pingSentAt === null && now - this.#lastFrame >= pingAfterMs) this.#ping();
    const next = this.#pingSentAt !== null
      ? this.#pingSentAt + pongTimeoutMs - now
      : this.#lastFrame + pingAfterMs - now;
    this.#timer = setTimeout(this.#watch, Math.max(1, next));
  };

  #end(code: number, reason: string): void {
    this.#detach();
    this.host.closed(this, code, reason);
  }

  #detach(): void {
    clearTimeout(this.#timer);
    this.#ws.onopen = this.#ws.onmessage = this.#ws.onclose = null;
  }
}
