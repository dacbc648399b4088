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
import type { ChannelMessage } from "../pubsub/mod.ts";
import { textFitsEnvelope } from "../protocol/mod.ts";
import { type Relay, settle } from "./fanout.ts";
import { END_REASON, type Outbound, type Wire } from "./outbound.ts";
import { Session } from "./session.ts";
import type { SessionPolicy } from "./session_guard.ts";

/** One raw-mode connection: a subscriber of exactly one channel. */
export class RawSession extends Session {
  readonly #channel: string;
  /** Decided once: the token cannot change during the connection. */
  readonly #mayPublish: boolean;
  readonly #maxMessageBytes: number;

  constructor(relay: Relay, out: Outbound, wire: Wire, channel: string, policy: SessionPolicy) {
    super(relay, out, wire, policy);
    this.#channel = channel;
    this.#mayPublish = policy.permissions.canPublish(channel) &&
      relay.canAttribute(channel, policy.permissions.subject);
    this.#maxMessageBytes = policy.maxMessageBytes;
    settle(() => relay.registry.join(channel, this), () => {}, (error) => this.#unavailable(error));
    this.guard.start();
  }

  override subscribed(): void {
    // Raw clients get no envelope; they see messages only.
  }

  override deliver(message: ChannelMessage): void {
    this.relay.deliver(this, this.wire.message(message));
  }

  /** A message from the client: publish it as it is (text stays text, binary stays binary). */
  override receive(data: string | Uint8Array): void {
    if (!this.guard.admit()) return;
    if (!this.#mayPublish) {
      this.guard.refuse("not allowed to publish to this channel");
      return;
    }
    if (typeof data === "string" && !textFitsEnvelope(data, this.#maxMessageBytes)) {
      // Envelope subscribers of the channel would get it escaped, up to 6 times larger: past what the relay
      // promises any client (docs/protocol.md, "Sizes").
      this.out.fail(END_REASON.TooBig, "text too big once JSON-escaped");
      return;
    }
    if (this.client === null) return this.#publish(data);
    const accepted = this.checkPublish(
      this.#channel,
      data,
      (allowed) => this.#publish(allowed),
      (verdict) => {
        // Raw clients get no replies: the close frame's reason is how they learn why.
        if (verdict.failed === null) this.guard.refuse(verdict.reason);
        else this.out.end(END_REASON.Unavailable, verdict.reason);
      },
    );
    if (!accepted) this.out.end(END_REASON.Unavailable, "too many messages wait for the onPublish hook");
  }

  #publish(data: string | Uint8Array): void {
    settle(
      () => this.relay.publish(this.#channel, data, this.guard.permissions.subject),
      () => {},
      (error) => this.#unavailable(error),
    );
  }

  protected override leaveAll(): void {
    this.relay.registry.leave(this.#channel, this);
  }

  #unavailable(error: unknown): void {
    this.relay.reportError("channel unavailable", { channel: this.#channel, error });
    this.out.end(END_REASON.Unavailable, "channel unavailable");
  }
}
