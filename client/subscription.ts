/**
 * One channel's subscription: its position (seq and epoch) kept across reconnects, duplicates dropped by seq,
 * and the `subscribed` / `message` events.
 * @module
 */
import type { MessageReply, StreamPosition, SubscribedReply } from "../src/protocol/mod.ts";
import { Emitter } from "./emitter.ts";
import type { RelayMessage, SubscribeOptions, SubscriptionEvents } from "./types.ts";

/** A subscription to one channel; `relay.subscribe()` makes it. */
export class Subscription extends Emitter<SubscriptionEvents> {
  /** The last seq this subscription saw (or was told to resume after); undefined before the first. */
  seq: number | undefined;
  /** The epoch of {@link seq}. */
  epoch: string | undefined;

  constructor(readonly channel: string, options: SubscribeOptions, private readonly leave: () => void) {
    super();
    this.seq = options.since;
    this.epoch = options.epoch;
  }

  /** Stops the subscription (the relay stops sending its messages). */
  unsubscribe(): void {
    this.leave();
  }

  /** The `subscribe` command that resumes from where this subscription stands. */
  command(): { type: "subscribe"; channel: string; since?: number; epoch?: string } {
    const command: { type: "subscribe"; channel: string; since?: number; epoch?: string } = {
      type: "subscribe",
      channel: this.channel,
    };
    if (this.seq !== undefined) command.since = this.seq;
    if (this.epoch !== undefined) command.epoch = this.epoch;
    return command;
  }

  /** Where a stream resumes this channel (an entry of a `Last-Event-ID`), or null for a fresh start. */
  position(): StreamPosition | null {
    return this.seq === undefined || this.epoch === undefined ? null : { epoch: this.epoch, seq: this.seq };
  }

  /** @internal A `subscribed` reply. Without recovery the position restarts at the relay's seq. */
  subscribed(reply: SubscribedReply): void {
    const resumed = this.seq !== undefined;
    if (!reply.recovered || this.seq === undefined) this.seq = reply.seq;
    this.epoch = reply.epoch;
    this.emit("subscribed", {
      channel: this.channel,
      seq: reply.seq,
      epoch: reply.epoch,
      recovered: reply.recovered,
      resumed,
    });
  }

  /** @internal A `message` reply; one at or before the position is a repeat (a replay overlap) and dropped. */
  message(reply: MessageReply): void {
    if (this.seq !== undefined && reply.seq <= this.seq) return;
    this.seq = reply.seq;
    const event: RelayMessage = reply.binary === undefined
      ? { channel: this.channel, seq: reply.seq, text: reply.text }
      : { channel: this.channel, seq: reply.seq, binary: fromBase64(reply.binary) };
    // Only on channels the relay shows publishers of: the sender's token sub, set by the relay.
    if (reply.publisher !== undefined) event.publisher = reply.publisher;
    this.emit("message", event);
  }
}

/** Base64 → bytes without `Uint8Array.fromBase64`, which older browsers lack. */
export function fromBase64(text: string): Uint8Array {
  const chars = atob(text);
  const bytes = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) bytes[i] = chars.charCodeAt(i);
  return bytes;
}

/** Bytes → base64 without `Uint8Array.prototype.toBase64`. */
export function toBase64(bytes: Uint8Array): string {
  let chars = "";
  // Chunks keep String.fromCharCode under the engines' argument limits.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    chars += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(chars);
}
