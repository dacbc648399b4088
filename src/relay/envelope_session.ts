/**
 * Envelope mode (`GET /ws`, subprotocol `relay.v1`): JSON commands on one connection for many channels, with
 * sequence numbers, acknowledgements and all-or-nothing resume.
 *
 * With auth on, each subscribe and publish is checked against the token of the upgrade request; a channel it
 * does not grant gets an `error` with code `forbidden` (the connection stays open). A token that expires, or a
 * client past its message rate, is closed with 1008.
 * @module
 */
import { type ChannelMessage, isPromise, isValidChannelName, type SubscribedState } from "../pubsub/mod.ts";
import {
  ackEnvelope,
  CHANNEL_RULE,
  type Command,
  type CommandError,
  ERROR_CODE,
  errorEnvelope,
  parseCommand,
  PONG_ENVELOPE,
  subscribedEnvelope,
  unsubscribedEnvelope,
} from "../protocol/mod.ts";
import { monotonicNow, TokenBucket } from "../access/mod.ts";
import { type Relay, settle } from "./fanout.ts";
import { END_REASON, type Outbound, type Wire } from "./outbound.ts";
import type { HookVerdict } from "./hooks.ts";
import type { PresenceMemberSession, PresenceTracker } from "./presence.ts";
import { Session } from "./session.ts";
import type { SessionPolicy } from "./session_guard.ts";

/**
 * Invalid commands a connection may send before it is closed with 1008: a token bucket of this many, refilled
 * at one per second. A client with a bug gets its `error` replies; a client that floods garbage is cut off.
 */
const ERROR_BUDGET = 20;
const ERROR_REFILL_PER_SECOND = 1;

/**
 * How often a `subscribe` with `since` that waits for the previous replay to drain checks again, in ms. A
 * replay goes out in one turn (it is bounded by the channel's history), so the session starts the next one
 * only once the send queue is back under `--max-queued-bytes`: one replay at a time per connection, never
 * one per repeated command (finding: 150 resyncs in one write pinned 1 GiB).
 */
const REPLAY_RETRY_MS = 50;

/**
 * `presence` queries of one connection that may wait for the store at once (Redis answers later); more get
 * `unavailable`. Each answer can be large (users times their info), so a client cannot pile them up.
 */
const MAX_PENDING_PRESENCE_QUERIES = 4;

/** A `subscribe`: from a client (envelope mode) or from the request of a stream (server-sent events). */
export type SubscribeCommand = Extract<Command, { type: "subscribe" }>;

/** One join of a channel; a resync replaces it with a new one (compared by identity). */
interface JoinTicket {
  readonly channel: string;
}

/** The ticket of a channel whose resync waits for the send queue to drain. */
const WAITING: JoinTicket = Object.freeze({ channel: "" });

/** One envelope-mode connection. */
export class EnvelopeSession extends Session implements PresenceMemberSession {
  /** Presence channels this connection is present in (or joining); null until the first. */
  #present: Set<string> | null = null;
  #presenceQueries = 0;
  /** Channels this connection joined (or is joining, or waits to join). */
  readonly #channels = new Map<string, JoinTicket>();
  /** Channels whose join (and so whose replay) is in flight: their deliveries are replay frames. */
  readonly #replaying = new Set<string>();
  /** Resyncs waiting for the send queue to drain, one per channel (a later one replaces an earlier one). */
  readonly #waiting = new Map<string, SubscribeCommand>();
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Subscribes waiting for an asynchronous `onSubscribe` verdict, by channel; the number is the attempt, so
   * an unsubscribe (or a newer subscribe) meanwhile makes the older verdict moot. They count against
   * `--max-channels-per-connection` like joined channels.
   */
  #deciding: Map<string, number> | null = null;
  #attempts = 0;
  /** Created at the first invalid command: most connections never send one. */
  #errorBudget: TokenBucket | null = null;

  constructor(relay: Relay, out: Outbound, wire: Wire, policy: SessionPolicy) {
    super(relay, out, wire, policy);
    this.guard.start();
  }

  override subscribed(state: SubscribedState): void {
    this.reply(subscribedEnvelope(state.channel, state.seq, state.epoch, state.recovered));
  }

  override deliver(message: ChannelMessage): void {
    if (this.#replaying.size !== 0 && this.#replaying.has(message.channel)) {
      this.relay.replay(this, this.wire.message(message));
    } else this.relay.deliver(this, this.wire.message(message));
  }

  /** A frame from the client: a JSON command; binary frames are not part of the protocol. */
  override receive(data: string | Uint8Array): void {
    if (!this.guard.admit()) return;
    if (typeof data !== "string") {
      this.out.end(END_REASON.Unsupported, "relay.v1 takes JSON text frames only");
      return;
    }
    const text = data;
    const command = parseCommand(text);
    if ("error" in command) {
      this.#reject(command);
      return;
    }
    if (command.type === "ping") {
      this.reply(PONG_ENVELOPE);
      return;
    }
    if (!isValidChannelName(command.channel)) {
      this.#reject(
        this.#error(command, ERROR_CODE.BadChannel, CHANNEL_RULE),
      );
      return;
    }
    switch (command.type) {
      case "subscribe":
        return this.client === null ? this.subscribe(command) : this.#subscribeHooked(command);
      case "unsubscribe":
        return this.#unsubscribe(command.channel);
      case "publish":
        return this.#publish(command);
      case "presence":
        return this.#presenceQuery(command);
    }
  }

  protected override leaveAll(): void {
    clearTimeout(this.#waitTimer);
    this.#waiting.clear();
    this.#deciding?.clear();
    for (const channel of this.#channels.keys()) this.relay.registry.leave(channel, this);
    this.#channels.clear();
    if (this.#present !== null) {
      for (const channel of this.#present) this.relay.presence!.leave(this, channel);
      this.#present.clear();
    }
  }

  /** The token's `sub`: a user with several connections is one user present. */
  get presenceUser(): string | null {
    return this.guard.permissions.subject;
  }

  /** What `authorize` attached, shown as the user's presence info. */
  get presenceInfo(): unknown {
    return this.client?.user;
  }

  /** A `join` / `leave` of a channel this connection is present in, under the send-queue bound. */
  presencePush(_type: "join" | "leave", text: string): void {
    this.relay.reply(this, text);
  }

  /**
   * Joins a channel (a repeated subscribe is a resync): checks the grant and the channel cap, runs one replay
   * at a time, and answers `error` when the broker fails.
   */
  protected subscribe(command: SubscribeCommand): void {
    const { channel } = command;
    if (!this.guard.permissions.canSubscribe(channel)) {
      this.#reject(this.#error(command, ERROR_CODE.Forbidden, `not allowed to subscribe to ${channel}`));
      return;
    }
    if (this.#channels.has(channel)) {
      // A repeated subscribe is a resync: leave, then join again with the new `since`.
      this.relay.registry.leave(channel, this);
    } else if (this.#channels.size >= this.relay.options.maxChannelsPerConnection) {
      this.#reject(this.#error(
        command,
        ERROR_CODE.TooManyChannels,
        `at most ${this.relay.options.maxChannelsPerConnection} channels per connection`,
      ));
      return;
    }
    const presence = this.relay.presence;
    if (presence !== null && !this.#channels.has(channel) && presence.covers(channel)) {
      this.#enterPresence(presence, command);
      return;
    }
    this.#enter(command);
  }

  /**
   * Becomes present in a presence channel first, then joins it: a user past the member cap (or with too
   * large an info) gets an `error` and no subscription. While the store decides, the channel counts against
   * the cap and an unsubscribe or close leaves it (the store applies the leave after the join).
   */
  #enterPresence(presence: PresenceTracker, command: SubscribeCommand): void {
    const { channel } = command;
    const ticket: JoinTicket = { channel };
    this.#channels.set(channel, ticket);
    (this.#present ??= new Set()).add(channel);
    settle(() => presence.join(this, channel), (refusal) => {
      if (this.isClosed || this.#channels.get(channel) !== ticket) return;
      if (refusal === null) return this.#enter(command);
      this.#channels.delete(channel);
      this.#present!.delete(channel);
      this.#reject(this.#error(command, refusal.code, refusal.message));
    }, (error) => {
      if (this.isClosed || this.#channels.get(channel) !== ticket) return;
      this.#channels.delete(channel);
      if (this.#present!.delete(channel)) presence.leave(this, channel);
      this.relay.reportError("presence failed", { channel, error });
      this.reply(
        errorEnvelope({ error: ERROR_CODE.Unavailable, message: `cannot subscribe to ${channel} now` }),
      );
    });
  }

  /** The join itself, once the grant, the cap and presence allow it. */
  #enter(command: SubscribeCommand): void {
    const { channel } = command;
    this.#channels.set(channel, WAITING);
    this.#waiting.delete(channel);
    if (command.since !== undefined && this.#replayStillQueued()) {
      this.#waiting.set(channel, command);
      this.#waitTimer ??= setTimeout(this.#retryWaiting, REPLAY_RETRY_MS);
      return;
    }
    this.#join(command);
  }

  /** True while the send queue holds more than the bound: a replay (or a backlog) the client has not read. */
  #replayStillQueued(): boolean {
    return this.out.bufferedAmount > this.relay.options.maxQueuedBytes;
  }

  #retryWaiting = (): void => {
    this.#waitTimer = undefined;
    if (this.isClosed) return;
    for (const [channel, command] of this.#waiting) {
      if (this.#replayStillQueued()) break;
      this.#waiting.delete(channel);
      this.#join(command);
    }
    if (this.#waiting.size !== 0) this.#waitTimer = setTimeout(this.#retryWaiting, REPLAY_RETRY_MS);
  };

  #join(command: SubscribeCommand): void {
    const { channel } = command;
    const options = command.since === undefined ? {} : { since: command.since, epoch: command.epoch };
    // A resync may replace this join while it is still reading history (an asynchronous broker): then its
    // outcome belongs to a subscription that no longer exists, and must not touch the newer one's state.
    const ticket: JoinTicket = { channel };
    this.#channels.set(channel, ticket);
    if (command.since !== undefined) this.#replaying.add(channel);
    else this.#replaying.delete(channel);
    settle(() => this.relay.registry.join(channel, this, options), () => {
      if (this.#channels.get(channel) === ticket) this.#replaying.delete(channel);
    }, (error) => {
      if (this.#channels.get(channel) !== ticket) return;
      this.#replaying.delete(channel);
      this.#channels.delete(channel);
      if (this.isClosed) return;
      this.relay.reportError("subscribe failed", { channel, error });
      this.reply(
        errorEnvelope({ error: ERROR_CODE.Unavailable, message: `cannot subscribe to ${channel} now` }),
      );
    });
  }

  /** A client's subscribe through the `onSubscribe` hook (only when the relay has hooks). */
  #subscribeHooked(command: SubscribeCommand): void {
    const { channel } = command;
    const hooks = this.relay.hooks!;
    if (hooks.hooks.onSubscribe === undefined) return this.subscribe(command);
    if (!this.guard.permissions.canSubscribe(channel)) return this.subscribe(command);
    const deciding = this.#deciding ??= new Map();
    if (
      !this.#channels.has(channel) && !deciding.has(channel) &&
      this.#channels.size + deciding.size >= this.relay.options.maxChannelsPerConnection
    ) {
      this.#reject(this.#error(
        command,
        ERROR_CODE.TooManyChannels,
        `at most ${this.relay.options.maxChannelsPerConnection} channels per connection`,
      ));
      return;
    }
    const attempt = ++this.#attempts;
    deciding.set(channel, attempt);
    const decided = (verdict: HookVerdict) => {
      if (this.isClosed || deciding.get(channel) !== attempt) return;
      deciding.delete(channel);
      if (verdict.ok) this.subscribe(command);
      else this.#refused(command, verdict);
    };
    const verdict = hooks.subscribe(this.client!, channel);
    if (isPromise(verdict)) verdict.then(decided);
    else decided(verdict);
  }

  /** A hook's refusal as an `error`: `forbidden` with the hook's reason, or `unavailable` when it failed. */
  #refused(command: Command, verdict: HookVerdict & { ok: false }): void {
    const code = verdict.failed === null ? ERROR_CODE.Forbidden : ERROR_CODE.Unavailable;
    this.reply(errorEnvelope(this.#error(command, code, verdict.reason)));
  }

  #unsubscribe(channel: string): void {
    if (this.#present?.delete(channel)) this.relay.presence!.leave(this, channel);
    if (this.#deciding?.delete(channel)) {
      // Its verdict is now moot; a channel already joined is left too.
      this.#waiting.delete(channel);
      this.#replaying.delete(channel);
      if (this.#channels.delete(channel)) this.relay.registry.leave(channel, this);
      this.reply(unsubscribedEnvelope(channel));
      return;
    }
    if (!this.#channels.delete(channel)) {
      this.#reject({ error: ERROR_CODE.NotSubscribed, message: `not subscribed to ${channel}` });
      return;
    }
    this.#waiting.delete(channel);
    this.#replaying.delete(channel);
    this.relay.registry.leave(channel, this);
    this.reply(unsubscribedEnvelope(channel));
  }

  #publish(command: Extract<Command, { type: "publish" }>): void {
    const { channel } = command;
    const permissions = this.guard.permissions;
    if (!permissions.canPublish(channel) || !this.relay.canAttribute(channel, permissions.subject)) {
      this.#reject(this.#error(command, ERROR_CODE.Forbidden, `not allowed to publish to ${channel}`));
      return;
    }
    if (this.client === null) return this.#store(command, command.data);
    const accepted = this.checkPublish(
      channel,
      command.data,
      (data) => this.#store(command, data),
      (verdict) => this.#refused(command, verdict),
    );
    if (!accepted) {
      this.#reject(
        this.#error(command, ERROR_CODE.Unavailable, "too many messages wait for the onPublish hook"),
      );
    }
  }

  #store(command: Extract<Command, { type: "publish" }>, data: string | Uint8Array): void {
    const { id, channel } = command;
    settle(() => this.relay.publish(channel, data, this.guard.permissions.subject), (message) => {
      if (!this.isClosed) this.reply(ackEnvelope(id ?? null, channel, message.seq));
    }, (error) => {
      if (this.isClosed) return;
      this.relay.reportError("publish failed", { channel, error });
      this.reply(
        errorEnvelope(this.#error(command, ERROR_CODE.Unavailable, "the message was not stored")),
      );
    });
  }

  /** `presence`: the channel's users and connection count, for a client that may subscribe to it. */
  #presenceQuery(command: Extract<Command, { type: "presence" }>): void {
    const { channel } = command;
    const presence = this.relay.presence;
    if (!this.guard.permissions.canSubscribe(channel)) {
      this.#reject(this.#error(command, ERROR_CODE.Forbidden, `not allowed to subscribe to ${channel}`));
      return;
    }
    if (presence === null || !presence.covers(channel)) {
      this.#reject(
        this.#error(command, ERROR_CODE.PresenceOff, `${channel} has no presence (see --presence)`),
      );
      return;
    }
    if (this.#presenceQueries >= MAX_PENDING_PRESENCE_QUERIES) {
      this.#reject(this.#error(command, ERROR_CODE.Unavailable, "too many presence queries in flight"));
      return;
    }
    this.#presenceQueries++;
    presence.envelope(channel).then((text) => {
      this.#presenceQueries--;
      if (!this.isClosed) this.reply(text);
    }, (error) => {
      this.#presenceQueries--;
      if (this.isClosed) return;
      this.relay.reportError("presence read failed", { channel, error });
      this.reply(
        errorEnvelope(this.#error(command, ERROR_CODE.Unavailable, `cannot read presence of ${channel} now`)),
      );
    });
  }

  /** Sends an envelope (`subscribed`, `ack`, `error`, …) under the send-queue bound. */
  protected reply(text: string): void {
    this.relay.reply(this, text);
  }

  #error(command: Command, error: CommandError["error"], message: string): CommandError {
    const id = command.type === "publish" ? command.id : undefined;
    return id === undefined ? { error, message } : { error, message, id };
  }

  /** Replies with an `error`, and fails the connection (policy) once it has spent its error budget. */
  #reject(error: CommandError): void {
    this.#errorBudget ??= new TokenBucket(ERROR_BUDGET, monotonicNow, ERROR_REFILL_PER_SECOND);
    this.reply(errorEnvelope(error));
    if (!this.#errorBudget.take()) this.out.fail(END_REASON.Policy, "too many invalid commands");
  }
}
