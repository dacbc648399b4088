/**
 * Raw mode (`GET /ws/:channel`): any RFC 6455 client, no library. Every message the client sends is published
 * to the channel unchanged; every message of the channel reaches the client, its own included.
 *
 * The route checked `subscribe` permission before the 101; a message from a client whose token does not allow
 * `publish` on the channel closes the connection with 1008, as does a token that expires or a client past its
 * message rate. Text that would pass `--max-message-bytes` once JSON-escaped (for envelope subscribers) closes
 * it with 1009.
 * @module
 */
import type { WSContext, WSEvents, WSMessageReceive } from "hono/ws";
import type { ChannelMessage } from "../pubsub/mod.ts";
import { CLOSE_CODE } from "../websocket/mod.ts";
import { textFitsEnvelope } from "./envelope.ts";
import { type Relay, type RelaySocket, settle } from "./relay.ts";
import { SessionGuard, type SessionPolicy } from "./session_guard.ts";

/** One raw-mode connection: a subscriber of exactly one channel. */
export class RawSession {
  readonly #relay: Relay;
  readonly socket: RelaySocket;
  turn = -1;
  turnBytes = 0;
  turnLargestFrame = 0;
  turnReplayBytes = 0;
  readonly #channel: string;
  readonly #guard: SessionGuard;
  /** Decided once: the token cannot change during the connection. */
  readonly #mayPublish: boolean;
  readonly #maxMessageBytes: number;

  constructor(relay: Relay, socket: RelaySocket, channel: string, policy: SessionPolicy) {
    this.#relay = relay;
    this.socket = socket;
    this.#channel = channel;
    this.#guard = new SessionGuard(socket, policy);
    this.#mayPublish = policy.permissions.canPublish(channel);
    this.#maxMessageBytes = policy.maxMessageBytes;
    relay.open(this);
    settle(() => relay.registry.join(channel, this), () => {}, (error) => this.#unavailable(error));
    this.#guard.start();
  }

  subscribed(): void {
    // Raw clients get no envelope; they see messages only.
  }

  deliver(message: ChannelMessage): void {
    this.#relay.deliver(this, this.#relay.rawFrame(message));
  }

  /** A message from the client: publish it as it is (text stays text, binary stays binary). */
  receive(data: string | Uint8Array): void {
    if (!this.#guard.admit()) return;
    if (!this.#mayPublish) {
      this.#guard.refuse("not allowed to publish to this channel");
      return;
    }
    if (typeof data === "string" && !textFitsEnvelope(data, this.#maxMessageBytes)) {
      // Envelope subscribers of the channel would get it escaped, up to 6 times larger: past what the relay
      // promises any client (docs/protocol.md, "Sizes").
      this.socket.fail(CLOSE_CODE.MessageTooBig, "text too big once JSON-escaped");
      return;
    }
    settle(() => this.#relay.publish(this.#channel, data), () => {}, (error) => this.#unavailable(error));
  }

  closed(): void {
    this.#guard.stop();
    this.#relay.registry.leave(this.#channel, this);
    this.#relay.closed(this);
  }

  shutdown(): void {
    this.socket.close(CLOSE_CODE.GoingAway, "server shutting down");
  }

  #unavailable(error: unknown): void {
    console.error(`edge-relay: channel ${this.#channel} unavailable:`, error);
    this.socket.close(CLOSE_CODE.TryAgainLater, "channel unavailable");
  }
}

/**
 * Hono WebSocket events of a raw-mode connection: one small object per connection rather than an object of
 * closures (a relay holds many idle connections).
 */
class RawSessionEvents implements WSEvents<RelaySocket> {
  readonly #relay: Relay;
  readonly #channel: string;
  readonly #policy: SessionPolicy;
  #session: RawSession | undefined;

  constructor(relay: Relay, channel: string, policy: SessionPolicy) {
    this.#relay = relay;
    this.#channel = channel;
    this.#policy = policy;
  }

  onOpen(_event: Event, ws: WSContext<RelaySocket>): void {
    this.#session = new RawSession(this.#relay, ws.raw!, this.#channel, this.#policy);
  }

  onMessage(event: MessageEvent<WSMessageReceive>): void {
    const data = event.data;
    this.#session?.receive(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  }

  onClose(): void {
    this.#session?.closed();
  }
}

/** Hono WebSocket events of a raw-mode connection to `channel`. */
export function rawSessionEvents(
  relay: Relay,
  channel: string,
  policy: SessionPolicy,
): WSEvents<RelaySocket> {
  return new RawSessionEvents(relay, channel, policy);
}
