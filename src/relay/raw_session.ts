/**
 * Raw mode (`GET /ws/:channel`): any RFC 6455 client, no library. Every message the client sends is published
 * to the channel unchanged; every message of the channel reaches the client, its own included.
 * @module
 */
import type { WSEvents } from "hono/ws";
import type { ChannelMessage } from "../pubsub/mod.ts";
import { CLOSE_CODE } from "../websocket/mod.ts";
import { type Relay, type RelaySocket, settle } from "./relay.ts";

/** One raw-mode connection: a subscriber of exactly one channel. */
export class RawSession {
  readonly #relay: Relay;
  readonly socket: RelaySocket;
  turn = -1;
  turnBytes = 0;
  readonly #channel: string;

  constructor(relay: Relay, socket: RelaySocket, channel: string) {
    this.#relay = relay;
    this.socket = socket;
    this.#channel = channel;
    relay.open(this);
    settle(() => relay.registry.join(channel, this), () => {}, (error) => this.#unavailable(error));
  }

  subscribed(): void {
    // Raw clients get no envelope; they see messages only.
  }

  deliver(message: ChannelMessage): void {
    this.#relay.deliver(this, this.#relay.rawFrame(message));
  }

  /** A message from the client: publish it as it is (text stays text, binary stays binary). */
  receive(data: string | Uint8Array): void {
    settle(() => this.#relay.publish(this.#channel, data), () => {}, (error) => this.#unavailable(error));
  }

  closed(): void {
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

/** Hono WebSocket events of a raw-mode connection to `channel`. */
export function rawSessionEvents(relay: Relay, channel: string): WSEvents<RelaySocket> {
  let session: RawSession | undefined;
  return {
    onOpen: (_event, ws) => session = new RawSession(relay, ws.raw!, channel),
    onMessage: (event) =>
      session?.receive(
        typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer),
      ),
    onClose: () => session?.closed(),
  };
}
