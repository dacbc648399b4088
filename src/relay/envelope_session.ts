/**
 * Envelope mode (`GET /ws`, subprotocol `relay.v1`): JSON commands on one connection for many channels, with
 * sequence numbers, acknowledgements and all-or-nothing resume.
 *
 * With auth on, each subscribe and publish is checked against the token of the upgrade request; a channel it
 * does not grant gets an `error` with code `forbidden` (the connection stays open). A token that expires, or a
 * client past its message rate, is closed with 1008.
 * @module
 */
import type { WSEvents } from "hono/ws";
import { type ChannelMessage, isValidChannelName, type SubscribedState } from "../pubsub/mod.ts";
import { CLOSE_CODE } from "../websocket/mod.ts";
import {
  ackEnvelope,
  type Command,
  type CommandError,
  ERROR_CODE,
  errorEnvelope,
  parseCommand,
  subscribedEnvelope,
  unsubscribedEnvelope,
} from "./envelope.ts";
import { type Relay, type RelaySocket, settle } from "./relay.ts";
import { SessionGuard, type SessionPolicy } from "./session_guard.ts";

/**
 * Invalid commands a connection may send before it is closed with 1008: a token bucket of this many, refilled
 * at one per second. A client with a bug gets its `error` replies; a client that floods garbage is cut off.
 */
const ERROR_BUDGET = 20;
const ERROR_REFILL_PER_MS = 1 / 1000;

/** One envelope-mode connection. */
export class EnvelopeSession {
  readonly #relay: Relay;
  readonly socket: RelaySocket;
  turn = -1;
  turnBytes = 0;
  /** Channels this connection joined (or is joining). */
  readonly #channels = new Set<string>();
  #errorTokens = ERROR_BUDGET;
  #errorStamp = Date.now();
  #closed = false;
  readonly #guard: SessionGuard;

  constructor(relay: Relay, socket: RelaySocket, policy: SessionPolicy) {
    this.#relay = relay;
    this.socket = socket;
    this.#guard = new SessionGuard(socket, policy);
    relay.open(this);
    this.#guard.start();
  }

  subscribed(state: SubscribedState): void {
    this.socket.sendText(subscribedEnvelope(state.channel, state.seq, state.epoch, state.recovered));
  }

  deliver(message: ChannelMessage): void {
    this.#relay.deliver(this, this.#relay.envelopeFrame(message));
  }

  /** A text frame from the client. */
  receive(text: string): void {
    if (!this.#guard.admit()) return;
    const command = parseCommand(text);
    if ("error" in command) {
      this.#reject(command);
      return;
    }
    if (!isValidChannelName(command.channel)) {
      this.#reject(
        this.#error(
          command,
          ERROR_CODE.BadChannel,
          "channel names are 1-128 characters of A-Z a-z 0-9 . _ : -",
        ),
      );
      return;
    }
    switch (command.type) {
      case "subscribe":
        return this.#subscribe(command);
      case "unsubscribe":
        return this.#unsubscribe(command.channel);
      case "publish":
        return this.#publish(command);
    }
  }

  /** A binary frame: the envelope protocol is JSON text only (RFC 6455 §7.4.1, 1003). */
  receiveBinary(): void {
    if (!this.#guard.admit()) return;
    this.socket.close(CLOSE_CODE.UnsupportedData, "relay.v1 takes JSON text frames only");
  }

  closed(): void {
    this.#closed = true;
    this.#guard.stop();
    for (const channel of this.#channels) this.#relay.registry.leave(channel, this);
    this.#channels.clear();
    this.#relay.closed(this);
  }

  shutdown(): void {
    this.socket.close(CLOSE_CODE.GoingAway, "server shutting down");
  }

  #subscribe(command: Extract<Command, { type: "subscribe" }>): void {
    const { channel } = command;
    if (!this.#guard.permissions.canSubscribe(channel)) {
      this.#reject(this.#error(command, ERROR_CODE.Forbidden, `not allowed to subscribe to ${channel}`));
      return;
    }
    if (this.#channels.has(channel)) {
      // A repeated subscribe is a resync: leave, then join again with the new `since`.
      this.#relay.registry.leave(channel, this);
    } else if (this.#channels.size >= this.#relay.options.maxChannelsPerConnection) {
      this.#reject(this.#error(
        command,
        ERROR_CODE.TooManyChannels,
        `at most ${this.#relay.options.maxChannelsPerConnection} channels per connection`,
      ));
      return;
    }
    this.#channels.add(channel);
    const options = command.since === undefined ? {} : { since: command.since, epoch: command.epoch };
    settle(() => this.#relay.registry.join(channel, this, options), () => {}, (error) => {
      this.#channels.delete(channel);
      if (this.#closed) return;
      console.error(`edge-relay: subscribe to ${channel} failed:`, error);
      this.socket.sendText(
        errorEnvelope({ error: ERROR_CODE.Unavailable, message: `cannot subscribe to ${channel} now` }),
      );
    });
  }

  #unsubscribe(channel: string): void {
    if (!this.#channels.delete(channel)) {
      this.#reject({ error: ERROR_CODE.NotSubscribed, message: `not subscribed to ${channel}` });
      return;
    }
    this.#relay.registry.leave(channel, this);
    this.socket.sendText(unsubscribedEnvelope(channel));
  }

  #publish(command: Extract<Command, { type: "publish" }>): void {
    const { id, channel } = command;
    if (!this.#guard.permissions.canPublish(channel)) {
      this.#reject(this.#error(command, ERROR_CODE.Forbidden, `not allowed to publish to ${channel}`));
      return;
    }
    settle(() => this.#relay.publish(channel, command.data), (message) => {
      if (!this.#closed) this.socket.sendText(ackEnvelope(id ?? null, channel, message.seq));
    }, (error) => {
      if (this.#closed) return;
      console.error(`edge-relay: publish to ${channel} failed:`, error);
      this.socket.sendText(
        errorEnvelope(this.#error(command, ERROR_CODE.Unavailable, "the message was not stored")),
      );
    });
  }

  #error(command: Command, error: CommandError["error"], message: string): CommandError {
    const id = command.type === "publish" ? command.id : undefined;
    return id === undefined ? { error, message } : { error, message, id };
  }

  /** Replies with an `error`, and closes with 1008 once the connection has spent its error budget. */
  #reject(error: CommandError): void {
    const now = Date.now();
    this.#errorTokens = Math.min(
      ERROR_BUDGET,
      this.#errorTokens + (now - this.#errorStamp) * ERROR_REFILL_PER_MS,
    );
    this.#errorStamp = now;
    this.#errorTokens -= 1;
    this.socket.sendText(errorEnvelope(error));
    if (this.#errorTokens < 0) this.socket.fail(CLOSE_CODE.PolicyViolation, "too many invalid commands");
  }
}

/** Hono WebSocket events of an envelope-mode connection. */
export function envelopeSessionEvents(relay: Relay, policy: SessionPolicy): WSEvents<RelaySocket> {
  let session: EnvelopeSession | undefined;
  return {
    onOpen: (_event, ws) => session = new EnvelopeSession(relay, ws.raw!, policy),
    onMessage: (event) =>
      typeof event.data === "string" ? session?.receive(event.data) : session?.receiveBinary(),
    onClose: () => session?.closed(),
  };
}
