/**
 * The fan-out: sessions on one side, the channel registry and broker on the other, and the policy between
 * them: write the same pre-encoded bytes to every subscriber, and close slow consumers before they cost memory
 * or delay anyone else. Transport-neutral: it sees sessions only through {@link SendAccount} and `Outbound`.
 * @module
 */
import {
  type Broker,
  type ChannelMessage,
  ChannelRegistry,
  isPromise,
  MAX_PUBLISHER_LENGTH,
  type MaybePromise,
} from "../pubsub/mod.ts";
import type { ChannelPatterns } from "../access/mod.ts";
import { utf8Length } from "../protocol/mod.ts";
import { setImmediate } from "node:timers";
import type { Outbound, Wire } from "./outbound.ts";
import type { HookRunner } from "./hooks.ts";
import type { PresenceTracker } from "./presence.ts";
import { drainDuration, drainEvenly } from "./drain.ts";

/**
 * A subscriber's outgoing side as the fan-out accounts for it: its outbound and wire, and what it was sent in
 * the current event-loop turn (bytes, largest frame, and the bytes of history replays, which are bounded by
 * the history rather than by the turn).
 */
export interface SendAccount {
  readonly out: Outbound;
  readonly wire: Wire;
  turn: number;
  turnBytes: number;
  turnLargestFrame: number;
  turnReplayBytes: number;
}

/** Relay-wide settings. */
export interface RelayOptions {
  /** Per-connection send queue in bytes; past it the connection is closed with 1013. */
  maxQueuedBytes: number;
  /** Envelope subscriptions per connection. */
  maxChannelsPerConnection: number;
  /** The application's hooks (library use); absent, no hook code runs anywhere. */
  hooks?: HookRunner | null;
  /** Presence (`--presence`); absent, sessions test one null per subscribe and close, and nothing more. */
  presence?: PresenceTracker | null;
  /**
   * Channels whose messages carry their publisher (`--expose-publisher`): the verified token's `sub`. Absent or
   * empty, no message carries one.
   */
  exposePublisher?: ChannelPatterns | null;
  /** Where the core reports failures it survived (the relay's logger); absent, they are dropped. */
  reportError?: ReportError;
}

/** A failure the core survived, for the log: what failed and the fields that say where (never a payload). */
export type ReportError = (message: string, fields: Readonly<Record<string, unknown>>) => void;

/** Counters for metrics and benchmarks. */
export interface RelayCounters {
  /** Sessions (client connections of every transport) open now. */
  connections: number;
  /** Messages received from clients (raw and envelope publishes) and HTTP publishes. */
  messagesIn: number;
  /** Frames written to subscribers (one per subscriber per message). */
  messagesOut: number;
  /** Bytes of those messages: binary by length, text by its UTF-8 length (what a client sent). */
  bytesIn: number;
  /** Bytes of those frames, as written (the wire's framing included). */
  bytesOut: number;
  /** Connections closed with 1013 because their send queue passed `maxQueuedBytes`. */
  slowConsumerCloses: number;
}

/** Something that can be shut down by the relay (a session). */
export interface Closable {
  shutdown(): void;
}

/** The relay core shared by every route. */
export class Relay {
  readonly broker: Broker;
  readonly registry: ChannelRegistry;
  readonly options: RelayOptions;
  /** The application's hooks, or null: sessions and routes check this once per connect, join or publish. */
  readonly hooks: HookRunner | null;
  /** Who is present in the `--presence` channels, or null. */
  readonly presence: PresenceTracker | null;
  /** Reports a failure the relay survived (a broker error on one channel, a subscriber that threw). */
  readonly reportError: ReportError;
  readonly counters: RelayCounters = {
    connections: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    slowConsumerCloses: 0,
  };
  readonly #sessions = new Set<Closable>();
  #turn = 0;
  #turnPending = false;

  constructor(broker: Broker, options: RelayOptions) {
    this.broker = broker;
    this.options = options;
    this.hooks = options.hooks ?? null;
    this.presence = options.presence ?? null;
    const report = this.reportError = options.reportError ?? (() => {});
    this.registry = new ChannelRegistry(broker, {
      onError: (error, channel) => report("channel failed", { channel, error }),
    });
  }

  /**
   * Publishes a message from any source. Throws or rejects when the broker cannot store it. `publisher` is who
   * sent it as the relay verified it (a token's `sub`; the application's word for `relay.publish`), never what
   * a client claims; the message carries it only on channels that expose publishers. Callers check
   * {@link Relay.canAttribute} first.
   */
  publish(
    channel: string,
    data: string | Uint8Array,
    publisher: string | null = null,
  ): MaybePromise<ChannelMessage> {
    this.counters.messagesIn++;
    // Once per message, not per subscriber, and no encoding: ASCII text costs one native scan.
    this.counters.bytesIn += typeof data === "string" ? utf8Length(data) : data.length;
    if (publisher !== null && this.#exposes(channel)) return this.broker.publish(channel, data, publisher);
    return this.broker.publish(channel, data);
  }

  /**
   * False when a message of `publisher` to `channel` would have to name a publisher longer than
   * `MAX_PUBLISHER_LENGTH`: such a publish is refused (forbidden) rather than stored unnamed or cut short,
   * which could name someone else.
   */
  canAttribute(channel: string, publisher: string | null): boolean {
    return publisher === null || publisher.length <= MAX_PUBLISHER_LENGTH || !this.#exposes(channel);
  }

  #exposes(channel: string): boolean {
    const patterns = this.options.exposePublisher;
    return patterns !== undefined && patterns !== null && patterns.matches(channel);
  }

  /**
   * Writes a frame to a subscriber and enforces the send-queue bound: a consumer that cannot keep up is closed
   * as slow at once (WebSocket 1013), its queue dropped, so it never delays the fan-out loop or grows memory.
   *
   * The bound applies to the backlog left from earlier event-loop turns, and to this turn's writes only past
   * an allowance: a burst (one read of many messages fanned out) is corked into one write at the end of the
   * turn, and a reader that keeps up takes it at once, but one turn may add at most `maxQueuedBytes` plus its
   * largest frame (so a single message up to `--max-message-bytes` always goes through). Memory per connection
   * stays below twice the bound plus one frame, plus one history replay (see {@link Relay.replay}).
   */
  deliver(out: SendAccount, frame: Uint8Array): void {
    this.#write(out, frame);
    this.counters.messagesOut++;
    this.counters.bytesOut += frame.length;
    this.#enforce(out);
  }

  /**
   * Writes a frame of a history replay (a `subscribe` with `since`). A replay is bounded by the channel's
   * history, not by the turn allowance: it goes out whole, and the session runs one replay at a time.
   * Whatever is still queued in a later turn counts as backlog.
   */
  replay(out: SendAccount, frame: Uint8Array): void {
    this.#write(out, frame);
    out.turnReplayBytes += frame.length;
    this.counters.messagesOut++;
    this.counters.bytesOut += frame.length;
    this.#enforce(out);
  }

  /** Sends a reply (`ack`, `subscribed`, `error`, …): it counts against the same bound as messages. */
  reply(out: SendAccount, text: string): void {
    this.#write(out, out.wire.reply(text));
    this.#enforce(out);
  }

  #write(out: SendAccount, frame: Uint8Array): void {
    const turn = this.#currentTurn();
    if (out.turn !== turn) {
      out.turn = turn;
      out.turnBytes = 0;
      out.turnLargestFrame = 0;
      out.turnReplayBytes = 0;
    }
    out.turnBytes += frame.length;
    if (frame.length > out.turnLargestFrame) out.turnLargestFrame = frame.length;
    out.out.write(frame);
  }

  /** Closes `out` as slow when its backlog, less this turn's allowance, passes `maxQueuedBytes`. */
  #enforce(out: SendAccount): void {
    const max = this.options.maxQueuedBytes;
    const burst = out.turnBytes - out.turnReplayBytes;
    const allowance = burst < max + out.turnLargestFrame ? burst : max + out.turnLargestFrame;
    const outbound = out.out;
    if (outbound.bufferedAmount - allowance - out.turnReplayBytes > max && outbound.closeSlow()) {
      this.counters.slowConsumerCloses++;
    }
  }

  /** A number that changes once per event-loop turn (macrotask), counted lazily. */
  #currentTurn(): number {
    if (!this.#turnPending) {
      this.#turnPending = true;
      setImmediate(this.#nextTurn);
    }
    return this.#turn;
  }

  #nextTurn = () => {
    this.#turn++;
    this.#turnPending = false;
  };

  /** A session opened; it is shut down with the relay. */
  open(session: Closable): void {
    this.#sessions.add(session);
    this.counters.connections++;
  }

  /** A session closed. */
  closed(session: Closable): void {
    if (this.#sessions.delete(session)) this.counters.connections--;
  }

  /** Ends every session as going away (WebSocket 1001). */
  shutdown(): void {
    for (const session of [...this.#sessions]) session.shutdown();
  }

  /**
   * Ends every session as going away, spread evenly over `timeoutMs` (fewer sessions: sooner, see
   * `drainDuration`), so their reconnects do not hit the other nodes at once. Resolves when all were told.
   */
  drain(timeoutMs: number): Promise<void> {
    const sessions = [...this.#sessions];
    return drainEvenly(sessions, { durationMs: drainDuration(sessions.length, timeoutMs) });
  }
}

/** Runs `then` on the result of a maybe-async call, and `fail` on its error, without an await on the sync path. */
export function settle<T>(
  run: () => MaybePromise<T>,
  then: (value: T) => void,
  fail: (error: unknown) => void,
): void {
  let result: MaybePromise<T>;
  try {
    result = run();
  } catch (error) {
    fail(error);
    return;
  }
  if (isPromise(result)) result.then(then, fail);
  else then(result);
}
