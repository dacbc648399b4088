/**
 * What every session shares, whatever its mode and transport: its outbound and wire, the policy guard, the
 * send-queue accounting the fan-out reads, registration with the relay for shutdown, and the end of it all.
 * @module
 */
import type { ChannelMessage, SubscribedState } from "../pubsub/mod.ts";
import type { Relay, SendAccount } from "./fanout.ts";
import { END_REASON, type Outbound, type Wire } from "./outbound.ts";
import { SessionGuard, type SessionPolicy } from "./session_guard.ts";

/** One client connection subscribed to channels. Subclasses are the modes (raw, envelope). */
export abstract class Session implements SendAccount {
  readonly relay: Relay;
  readonly out: Outbound;
  readonly wire: Wire;
  readonly guard: SessionGuard;
  turn = -1;
  turnBytes = 0;
  turnLargestFrame = 0;
  turnReplayBytes = 0;
  #closed = false;

  constructor(relay: Relay, out: Outbound, wire: Wire, policy: SessionPolicy) {
    this.relay = relay;
    this.out = out;
    this.wire = wire;
    this.guard = new SessionGuard(out, policy);
    relay.open(this);
  }

  /** True once the connection closed: late answers (acks of async publishes) are dropped. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** The subscription to `state.channel` took effect (or its history was lost while subscribed). */
  abstract subscribed(state: SubscribedState): void;
  /** A message of a channel this session joined. */
  abstract deliver(message: ChannelMessage): void;
  /** A message from the client: text or binary. */
  abstract receive(data: string | Uint8Array): void;
  /** Leaves every channel this session joined. */
  protected abstract leaveAll(): void;

  /** The connection closed, for whatever reason. */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.guard.stop();
    this.leaveAll();
    this.relay.closed(this);
  }

  /** The relay is stopping. */
  shutdown(): void {
    this.out.end(END_REASON.GoingAway, "server shutting down");
  }
}
