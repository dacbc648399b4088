/**
 * What every session shares, whatever its mode and transport: its outbound and wire, the policy guard, the
 * send-queue accounting the fan-out reads, registration with the relay for shutdown, and the end of it all.
 * @module
 */
import { type ChannelMessage, isPromise, type SubscribedState } from "../pubsub/mod.ts";
import type { Relay, SendAccount } from "./fanout.ts";
import type { ClientInfo, HookVerdict } from "./hooks.ts";
import { END_REASON, type Outbound, type Wire } from "./outbound.ts";
import { SessionGuard, type SessionPolicy } from "./session_guard.ts";

/**
 * Publishes of one connection that may wait for an asynchronous `onPublish` verdict at once. With the bytes
 * bound below, a client that publishes faster than the hook answers is refused instead of queueing its
 * messages in the relay's memory for as long as the hook is slow (up to the hook timeout each).
 */
export const MAX_PENDING_HOOK_PUBLISHES = 64;

/** One client connection subscribed to channels. Subclasses are the modes (raw, envelope). */
export abstract class Session implements SendAccount {
  readonly relay: Relay;
  readonly out: Outbound;
  readonly wire: Wire;
  readonly guard: SessionGuard;
  /** Who the client is, for the hooks; null when the relay has none. */
  readonly client: ClientInfo | null;
  turn = -1;
  turnBytes = 0;
  turnLargestFrame = 0;
  turnReplayBytes = 0;
  #closed = false;
  /** The last publish waiting for an `onPublish` verdict: later ones are published after it, in order. */
  #hookTail: Promise<void> | null = null;
  #hookPending = 0;
  #hookPendingBytes = 0;

  constructor(relay: Relay, out: Outbound, wire: Wire, policy: SessionPolicy) {
    this.relay = relay;
    this.out = out;
    this.wire = wire;
    this.guard = new SessionGuard(out, policy);
    this.client = relay.hooks === null ? null : policy.client ?? null;
    relay.open(this);
    if (this.client !== null) relay.hooks!.connected(this.client);
  }

  /**
   * A client's message on its way to `publish`: through the `onPublish` hook when one is set, in the order the
   * client sent them whatever the hook's delays (each verdict waits for the previous message's). `refused`
   * gets the hook's refusal. False, and nothing called, when {@link MAX_PENDING_HOOK_PUBLISHES} or
   * `--max-queued-bytes` of messages already wait for the hook.
   */
  protected checkPublish(
    channel: string,
    data: string | Uint8Array,
    publish: (data: string | Uint8Array) => void,
    refused: (verdict: HookVerdict & { ok: false }) => void,
  ): boolean {
    const hooks = this.relay.hooks;
    if (hooks === null || hooks.hooks.onPublish === undefined || this.client === null) {
      publish(data);
      return true;
    }
    const apply = (verdict: HookVerdict) => {
      if (this.#closed) return;
      if (verdict.ok) publish(verdict.data ?? data);
      else refused(verdict);
    };
    const verdict = hooks.publish(this.client, channel, data);
    if (!isPromise(verdict) && this.#hookTail === null) {
      apply(verdict);
      return true;
    }
    // Text counted at 2 bytes per UTF-16 unit: what it holds in memory while it waits.
    const size = typeof data === "string" ? data.length * 2 : data.length;
    if (
      this.#hookPending >= MAX_PENDING_HOOK_PUBLISHES ||
      (this.#hookPending > 0 && this.#hookPendingBytes + size > this.relay.options.maxQueuedBytes)
    ) return false;
    this.#hookPending++;
    this.#hookPendingBytes += size;
    const tail: Promise<void> = (this.#hookTail ?? Promise.resolve()).then(() => verdict).then((v) => {
      this.#hookPending--;
      this.#hookPendingBytes -= size;
      if (this.#hookTail === tail) this.#hookTail = null;
      apply(v);
    });
    this.#hookTail = tail;
    return true;
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
    if (this.client !== null) this.relay.hooks!.disconnected(this.client);
  }

  /** The relay is stopping. */
  shutdown(): void {
    this.out.end(END_REASON.GoingAway, "server shutting down");
  }
}
