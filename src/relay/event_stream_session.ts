/**
 * A stream of events (server-sent events) for one or many channels: the envelope session's join, replay and
 * all-or-nothing resume, fed by the request instead of client commands, and the event ids that let the client
 * resume every channel of the stream from the one id it remembers.
 *
 * One-channel streams carry the id in each message event (`<epoch>:<seq>`, the same for every subscriber: the
 * wire encodes it once per message). A many-channel stream's id must describe every channel, so its message
 * events carry none (their bytes stay shared) and the session follows the messages of each event-loop turn
 * with one id-only block of its own (see `protocol/sse.ts`).
 * @module
 */
import type { ChannelMessage, SubscribedState } from "../pubsub/mod.ts";
import {
  positionId,
  sseEvent,
  sseIdBlock,
  streamId,
  type StreamPosition,
  subscribedEnvelope,
} from "../protocol/mod.ts";
import { EnvelopeSession } from "./envelope_session.ts";
import type { Relay } from "./fanout.ts";
import { END_REASON, type Outbound, type Wire } from "./outbound.ts";
import type { SessionPolicy } from "./session_guard.ts";

/** One channel of a stream and where the client resumes it from (null: no resume). */
export interface StreamChannel {
  channel: string;
  resume: StreamPosition | { seq: number; epoch?: string } | null;
}

/** One stream of server-sent events. */
export class EventStreamSession extends EnvelopeSession {
  readonly #index = new Map<string, number>();
  /** Where each channel stands, as the stream's id says it: what the client has seen. */
  readonly #positions: (StreamPosition | null)[] = [];
  /** The `since` each channel asked for, which a recovered `subscribed` starts from. */
  readonly #since: number[] = [];
  readonly #many: boolean;
  #idPending = false;

  /** `wire` must carry ids in message events for a one-channel stream, and none for a many-channel one. */
  constructor(
    relay: Relay,
    out: Outbound,
    wire: Wire,
    policy: SessionPolicy,
    channels: readonly StreamChannel[],
  ) {
    super(relay, out, wire, policy);
    this.#many = channels.length > 1;
    for (let i = 0; i < channels.length; i++) {
      const { channel, resume } = channels[i];
      this.#index.set(channel, i);
      this.#since.push(resume?.seq ?? 0);
      this.#positions.push(
        resume !== null && resume.epoch !== undefined ? { epoch: resume.epoch, seq: resume.seq } : null,
      );
    }
    for (const { channel, resume } of channels) {
      if (this.isClosed) return;
      this.subscribe(
        resume === null
          ? { type: "subscribe", channel }
          : resume.epoch === undefined
          ? { type: "subscribe", channel, since: resume.seq }
          : { type: "subscribe", channel, since: resume.seq, epoch: resume.epoch },
      );
    }
  }

  override subscribed(state: SubscribedState): void {
    const i = this.#index.get(state.channel)!;
    // Recovered: the replay that follows moves the position on from where the client was; otherwise the
    // client starts over from the channel's state now.
    const position = { epoch: state.epoch, seq: state.recovered ? this.#since[i] : state.seq };
    this.#positions[i] = position;
    const id = this.#many ? streamId(this.#positions) : positionId(position.epoch, position.seq);
    super.reply(sseEvent(
      "subscribed",
      subscribedEnvelope(state.channel, state.seq, state.epoch, state.recovered),
      id,
    ));
  }

  override deliver(message: ChannelMessage): void {
    const i = this.#index.get(message.channel)!;
    const position = this.#positions[i];
    if (position === null) this.#positions[i] = { epoch: message.epoch, seq: message.seq };
    else {
      position.epoch = message.epoch;
      position.seq = message.seq;
    }
    super.deliver(message);
    if (this.#many && !this.#idPending) {
      this.#idPending = true;
      queueMicrotask(this.#sendId);
    }
  }

  /** `join` / `leave` as events of that name: the stream's own `reply` would end it. */
  override presencePush(type: "join" | "leave", text: string): void {
    if (!this.isClosed) super.reply(sseEvent(type, text));
  }

  /** Clients of a stream send nothing after the request. */
  override receive(): void {}

  /**
   * What the envelope logic would answer: a join the broker failed ends the stream as unavailable (the
   * client reconnects and resumes); nothing else reaches a stream.
   */
  protected override reply(text: string): void {
    if (this.isClosed) return;
    this.out.end(END_REASON.Unavailable, text);
  }

  /** The id of the turn's messages, written once after them. */
  #sendId = (): void => {
    this.#idPending = false;
    if (!this.isClosed) super.reply(sseIdBlock(streamId(this.#positions)));
  };
}
