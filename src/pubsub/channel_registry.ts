/**
 * The node-local side of pub/sub: which local subscribers (connections) listen to which channel, and the fan-out
 * loop. The registry holds one broker subscription per channel with local subscribers, taken on the first
 * subscriber and released with the last.
 * @module
 */
import type { Broker, BrokerListener } from "./broker.ts";
import { isPromise, type MaybePromise, then } from "./maybe_promise.ts";
import type { ChannelMessage, ChannelState } from "./message.ts";
import { currentState, recover, type Recovery } from "./recovery.ts";
import { ReplayBuffer, type SubscribedState } from "./replay_buffer.ts";

/** A local receiver of channel messages (a connection, in the relay). Its methods must not throw. */
export interface Subscriber {
  /**
   * The subscription to `state.channel` took effect: called once per join, before any `deliver` for that
   * channel, and again (with `recovered: false`) whenever the channel's history is lost while subscribed.
   */
  subscribed(state: SubscribedState): void;
  /** A message of a channel this subscriber joined; in `seq` order per channel. */
  deliver(message: ChannelMessage): void;
}

/** Resume request of {@link ChannelRegistry.join}. */
export interface JoinOptions {
  /** Replay every message after this seq, or none (`recovered: false`). Omitted: no replay. */
  since?: number;
  /** The epoch `since` belongs to. */
  epoch?: string;
}

/** One row of `GET /channels`. */
export interface ChannelInfo {
  channel: string;
  /** Local subscribers. */
  subscribers: number;
  /** Latest seq seen on this node. */
  seq: number;
}

/** Counters of a {@link ChannelRegistry}. */
export interface RegistryStats {
  /** Channels with local subscribers (or joins in flight). */
  channels: number;
  /** Local subscriptions, summed over channels. */
  subscribers: number;
  /** Messages handed to local subscribers (one per subscriber per message, replays included). */
  delivered: number;
  /** Joins with `since` (resumes) answered `recovered: true`. */
  resumesRecovered: number;
  /** Joins with `since` answered `recovered: false` (the client must resync). */
  resumesUnrecovered: number;
}

/** Options of {@link ChannelRegistry}. */
export interface ChannelRegistryOptions {
  /** A subscriber threw, or the broker failed to release a channel; the registry went on. */
  onError?: (error: unknown, channel: string) => void;
}

interface Counters {
  subscribers: number;
  delivered: number;
  resumesRecovered: number;
  resumesUnrecovered: number;
}

/** One channel with local subscribers: the broker listener and the fan-out loop. */
class ChannelEntry implements BrokerListener {
  readonly channel: string;
  /** Subscribers in step with the node's live stream: every live message is theirs. */
  readonly subscribers = new Set<Subscriber>();
  /**
   * Subscribers whose join read further than this node has delivered live, each with its floor: the epoch and
   * last seq it was given. A remote broker's history read does not wait for its live stream (Redis: command
   * and pub/sub connections are not ordered), so live messages at or below the floor are ones it already has.
   * Kept apart from `subscribers` so the common fan-out loop stays a plain loop; each leaves this map for
   * `subscribers` with the first live message above its floor.
   */
  readonly ahead = new Map<Subscriber, ChannelState>();
  /** Joins waiting for their history read, with the live messages held for them. */
  readonly joining = new Map<Subscriber, ReplayBuffer>();
  seq = 0;
  /** Where the node's live stream stands (last message or announced state); no epoch before the first. */
  #liveEpoch: string | undefined;
  #liveSeq = 0;
  /** True while `message` runs its fan-out loop (a subscriber added then would get the message twice). */
  delivering = false;
  /** Resolves once the broker subscription is in place; `undefined` when it already is. */
  attaching: Promise<void> | undefined;
  readonly #counters: Counters;
  readonly #onError: (error: unknown, channel: string) => void;

  constructor(channel: string, counters: Counters, onError: (error: unknown, channel: string) => void) {
    this.channel = channel;
    this.#counters = counters;
    this.#onError = onError;
  }

  get idle(): boolean {
    return this.subscribers.size === 0 && this.ahead.size === 0 && this.joining.size === 0;
  }

  /** Subscribed, in step or ahead (joins in flight do not count). */
  get size(): number {
    return this.subscribers.size + this.ahead.size;
  }

  has(subscriber: Subscriber): boolean {
    return this.subscribers.has(subscriber) || this.ahead.has(subscriber);
  }

  /** Removes a subscriber; true when it was subscribed. */
  remove(subscriber: Subscriber): boolean {
    return this.subscribers.delete(subscriber) || this.ahead.delete(subscriber);
  }

  message(message: ChannelMessage): void {
    this.seq = message.seq;
    this.#liveEpoch = message.epoch;
    this.#liveSeq = message.seq;
    this.delivering = true;
    for (const subscriber of this.subscribers) {
      try {
        subscriber.deliver(message);
      } catch (error) {
        this.#onError(error, this.channel);
      }
    }
    this.#counters.delivered += this.subscribers.size;
    if (this.ahead.size !== 0) this.#catchUp(message);
    this.delivering = false;
    if (this.joining.size !== 0) { for (const buffer of this.joining.values()) buffer.push(message); }
  }

  epochChanged(channel: string, state: ChannelState): void {
    this.seq = state.seq;
    this.#liveEpoch = state.epoch;
    this.#liveSeq = state.seq;
    const announced: SubscribedState = { channel, seq: state.seq, epoch: state.epoch, recovered: false };
    for (const subscriber of this.subscribers) this.#announce(subscriber, announced);
    for (const [subscriber, floor] of this.ahead) {
      // The node skipped to a point of the lineage this subscriber already has past: nothing it missed.
      if (state.epoch === floor.epoch && state.seq <= floor.seq) continue;
      this.ahead.delete(subscriber);
      this.subscribers.add(subscriber);
      this.#announce(subscriber, announced);
    }
    for (const buffer of this.joining.values()) buffer.epochChanged(state);
  }

  /**
   * Hands a settled join its state, replay and held messages, then makes it a live subscriber: in step when
   * the node's live stream is known to have reached what it was given, ahead (with a floor) otherwise.
   */
  admit(subscriber: Subscriber, buffer: ReplayBuffer, recovery: Recovery): boolean {
    const { state, messages } = buffer.settle(recovery);
    subscriber.subscribed(state);
    for (const message of messages) subscriber.deliver(message);
    this.#counters.delivered += messages.length;
    const last = messages.length === 0 ? state.seq : messages[messages.length - 1].seq;
    this.seq = Math.max(this.seq, last);
    if (this.#liveEpoch === state.epoch && this.#liveSeq >= last) this.subscribers.add(subscriber);
    else this.ahead.set(subscriber, { epoch: state.epoch, seq: last });
    this.#counters.subscribers++;
    return state.recovered;
  }

  /**
   * Delivers a live message to the subscribers ahead whose floor it passes, and moves them in step. Messages
   * at or below a floor were in that subscriber's replay; messages of another epoch belong to a lineage it was
   * not told about (the node still finishing the old one): it hears of the change through `epochChanged`.
   */
  #catchUp(message: ChannelMessage): void {
    for (const [subscriber, floor] of this.ahead) {
      if (message.epoch !== floor.epoch || message.seq <= floor.seq) continue;
      this.ahead.delete(subscriber);
      this.subscribers.add(subscriber);
      this.#counters.delivered++;
      try {
        subscriber.deliver(message);
      } catch (error) {
        this.#onError(error, this.channel);
      }
    }
  }

  #announce(subscriber: Subscriber, state: SubscribedState): void {
    try {
      subscriber.subscribed(state);
    } catch (error) {
      this.#onError(error, this.channel);
    }
  }
}

/**
 * Local subscribers per channel over a {@link Broker}.
 *
 * @example
 * ```ts
 * const registry = new ChannelRegistry(broker);
 * await registry.join("news", connection, { since: 12, epoch });
 * broker.publish("news", "hi"); // connection.deliver(message)
 * registry.leave("news", connection);
 * ```
 */
export class ChannelRegistry {
  readonly #broker: Broker;
  readonly #entries = new Map<string, ChannelEntry>();
  readonly #counters: Counters = { subscribers: 0, delivered: 0, resumesRecovered: 0, resumesUnrecovered: 0 };
  readonly #onError: (error: unknown, channel: string) => void;

  constructor(broker: Broker, options: ChannelRegistryOptions = {}) {
    this.#broker = broker;
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Subscribes `subscriber` to `channel`: `subscriber.subscribed(state)`, then the replay (with
   * `options.since`), then live messages, with nothing lost or repeated in between. With a synchronous broker
   * all of that happens before `join` returns; otherwise the returned promise resolves once it has. Fails (and
   * leaves nothing behind) when the broker does. A `leave` before the join completes cancels it.
   * Throws a `TypeError` if the subscriber already joined the channel, and an `Error` when called from inside a
   * `deliver` of the same channel (the subscriber would get that message twice).
   */
  join(channel: string, subscriber: Subscriber, options: JoinOptions = {}): MaybePromise<void> {
    let entry = this.#entries.get(channel);
    if (entry !== undefined && (entry.has(subscriber) || entry.joining.has(subscriber))) {
      throw new TypeError(`already joined channel ${channel}`);
    }
    if (entry?.delivering) throw new Error(`cannot join channel ${channel} from inside its delivery`);
    entry ??= this.#open(channel);
    const joined = entry;
    // Held from now on: the history read below happens after this point, so nothing falls in between.
    const buffer = new ReplayBuffer(channel);
    joined.joining.set(subscriber, buffer);
    const fail = (error: unknown): never => {
      if (joined.joining.get(subscriber) === buffer) joined.joining.delete(subscriber);
      this.#closeIfIdle(joined);
      throw error;
    };
    try {
      const read = () =>
        options.since === undefined
          ? currentState(this.#broker, channel)
          : recover(this.#broker, channel, options.since, options.epoch);
      const settle = (recovery: Recovery): void => {
        // Gone when `leave` ran meanwhile (or a later join of the same subscriber replaced this one).
        if (joined.joining.get(subscriber) !== buffer) return;
        joined.joining.delete(subscriber);
        const recovered = joined.admit(subscriber, buffer, recovery);
        // Once per resume, off the delivery path: `edge_relay_resumes_total{recovered}`.
        if (options.since !== undefined) {
          this.#counters[recovered ? "resumesRecovered" : "resumesUnrecovered"]++;
        }
      };
      const result = joined.attaching === undefined
        ? then(read(), settle)
        : joined.attaching.then(() => then(read(), settle));
      return isPromise(result) ? result.catch(fail) : result;
    } catch (error) {
      return fail(error);
    }
  }

  /**
   * Removes `subscriber` from `channel` (cancelling a join in flight), releasing the broker subscription with
   * the last local subscriber. Safe to call from inside `deliver`.
   * @returns whether it was subscribed or joining
   */
  leave(channel: string, subscriber: Subscriber): boolean {
    const entry = this.#entries.get(channel);
    if (entry === undefined) return false;
    let removed = entry.joining.delete(subscriber);
    if (entry.remove(subscriber)) {
      this.#counters.subscribers--;
      removed = true;
    }
    if (removed) this.#closeIfIdle(entry);
    return removed;
  }

  /** True when `subscriber` is subscribed to `channel` (a join in flight does not count yet). */
  has(channel: string, subscriber: Subscriber): boolean {
    return this.#entries.get(channel)?.has(subscriber) ?? false;
  }

  /** Local subscribers of `channel`. */
  subscriberCount(channel: string): number {
    return this.#entries.get(channel)?.size ?? 0;
  }

  /** Channels with local subscribers, by name, for `GET /channels`. */
  list(): ChannelInfo[] {
    const rows: ChannelInfo[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.size > 0) {
        rows.push({ channel: entry.channel, subscribers: entry.size, seq: entry.seq });
      }
    }
    return rows.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
  }

  stats(): RegistryStats {
    return { channels: this.#entries.size, ...this.#counters };
  }

  #open(channel: string): ChannelEntry {
    const entry = new ChannelEntry(channel, this.#counters, this.#onError);
    this.#entries.set(channel, entry);
    let attached: MaybePromise<void>;
    try {
      attached = this.#broker.subscribe(channel, entry);
    } catch (error) {
      this.#entries.delete(channel);
      throw error;
    }
    if (isPromise(attached)) {
      entry.attaching = attached.then(
        () => {
          entry.attaching = undefined;
        },
        (error) => {
          // Joins waiting on it fail; a later join opens a fresh entry and tries again.
          if (this.#entries.get(channel) === entry) this.#entries.delete(channel);
          throw error;
        },
      );
    }
    return entry;
  }

  #closeIfIdle(entry: ChannelEntry): void {
    if (!entry.idle || this.#entries.get(entry.channel) !== entry) return;
    this.#entries.delete(entry.channel);
    // Released after the attach settles, so a subscription still in flight is not left behind.
    const release = () => this.#broker.unsubscribe(entry.channel, entry);
    const report = (error: unknown) => this.#onError(error, entry.channel);
    try {
      const done = entry.attaching === undefined ? release() : entry.attaching.then(release);
      if (isPromise(done)) done.catch(report);
    } catch (error) {
      report(error);
    }
  }
}
