/**
 * The server-sent events link, for where WebSockets cannot pass: one `EventSource` on
 * `GET /events?channel=…` for every subscription, and each publish an HTTP `POST`, whose `{seq}` answer is its
 * ack. The stream is reopened when the subscriptions change, resuming each channel from the client's own
 * position (`?lastEventId=`), so nothing is missed in between. A failed stream is reported closed rather than
 * left to `EventSource`'s own retry: the client's backoff and resume decide, for both transports alike.
 * @module
 */
import { type Reply, streamId } from "../src/protocol/mod.ts";
import type { Link, LinkHost, PendingPublish } from "./link.ts";
import type { Subscription } from "./subscription.ts";

/** The close code reported when a stream fails: 1006, as for a WebSocket that closed without a close frame. */
const STREAM_FAILED_CODE = 1006;

/** Opens an event-stream link to `host.base`. */
export class SseLink implements Link {
  readonly name = "sse";
  #source: EventSource | null = null;
  /** The channels of the open stream. */
  #channels = new Set<string>();
  #reopening = false;
  #closed = false;

  constructor(private readonly host: LinkHost) {
    if (host.subscriptions.size === 0) queueMicrotask(() => this.#closed || host.ready(this));
    else this.#open();
  }

  subscribe(subscription: Subscription): void {
    if (!this.#channels.has(subscription.channel)) this.#reopen();
  }

  unsubscribe(channel: string): void {
    if (this.#channels.has(channel)) this.#reopen();
  }

  publish({ id, channel, data }: PendingPublish): void {
    const { host } = this;
    const headers: Record<string, string> = {
      "content-type": typeof data === "string" ? "text/plain; charset=utf-8" : "application/octet-stream",
    };
    if (host.token !== undefined) headers.authorization = `Bearer ${host.token}`;
    const answer = (reply: Reply) => this.#closed || host.reply(this, reply);
    (host.options.fetch ?? fetch)(`${host.base}/channels/${encodeURIComponent(channel)}/messages`, {
      method: "POST",
      headers,
      body: data as BodyInit,
    }).then(async (response) => {
      const body = await response.json().catch(() => ({}));
      if (response.ok) answer({ type: "ack", id, channel, seq: body.seq });
      else {
        const code = typeof body.error === "string" ? body.error : "unavailable";
        answer({ type: "error", id, code, message: body.message ?? `HTTP ${response.status}` });
      }
    }, (error) => answer({ type: "error", id, code: "unavailable", message: String(error) }));
  }

  close(): void {
    this.#closed = true;
    this.#source?.close();
  }

  /** Reopens once per turn, however many subscriptions changed in it. */
  #reopen(): void {
    if (this.#reopening) return;
    this.#reopening = true;
    queueMicrotask(() => {
      this.#reopening = false;
      if (this.#closed) return;
      this.#source?.close();
      this.#source = null;
      this.#channels.clear();
      if (this.host.subscriptions.size !== 0) this.#open();
    });
  }

  #open(): void {
    const { host } = this;
    const subscriptions = [...host.subscriptions.values()];
    this.#channels = new Set(host.subscriptions.keys());
    const url = new URL("/events", host.base);
    for (const s of subscriptions) url.searchParams.append("channel", s.channel);
    const positions = subscriptions.map((s) => s.position());
    if (positions.some((p) => p !== null)) url.searchParams.set("lastEventId", streamId(positions));
    if (host.token !== undefined) url.searchParams.set("token", host.token);
    const source = this.#source = new (host.options.EventSource ?? EventSource)(url.href);
    const forward = (event: Event) => {
      if (this.#source !== source) return;
      try {
        host.reply(this, JSON.parse((event as MessageEvent).data));
      } catch { /* not ours */ }
    };
    source.onopen = () => this.#source === source && host.ready(this);
    source.addEventListener("subscribed", forward);
    source.addEventListener("message", forward);
    source.onerror = () => {
      if (this.#source !== source) return;
      this.close();
      host.closed(this, STREAM_FAILED_CODE, "event stream failed");
    };
  }
}
