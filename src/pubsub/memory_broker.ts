/**
 * The single-node broker: sequence numbers, history and delivery in this process's memory. Every operation is
 * synchronous, so the relay's publish path never waits for a promise.
 * @module
 */
import type { Broker, BrokerListener, BrokerStats, HistoryOptions, HistoryResult } from "./broker.ts";
import { type ChannelRecord, ChannelStore } from "./channel_store.ts";
import { HistoryRing, retainedBytes } from "./history_ring.ts";
import { type ChannelMessage, channelMessage, type ChannelState } from "./message.ts";
import { randomId } from "../util/mod.ts";

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /** Messages kept per channel for history and resume; 0 keeps none. @default 100 */
  historySize?: number;
  /** Milliseconds a message stays in history; `Infinity` keeps messages until evicted by size. @default 300_000 */
  historyTtlMs?: number;
  /**
   * Least milliseconds between automatic sweeps (see {@link MemoryBroker.sweep}). A sweep runs, at most this
   * often, when a channel is created: only creating channels grows memory, so no timer is needed. 0 sweeps on
   * every creation; `Infinity` never sweeps automatically. @default 60_000
   */
  sweepIntervalMs?: number;
  /**
   * Bytes of history kept across all channels (text charged 2 bytes per UTF-16 unit, binary its length, plus
   * a fixed overhead per message; see `retainedBytes`). Past it the oldest history is evicted, idle channels'
   * first; a message larger than the whole budget is refused with a {@link BrokerFullError}.
   * @default 67_108_864 (64 MiB)
   */
  maxHistoryBytes?: number;
  /**
   * Channels held at once. Past it the least recently active channel without listeners is reclaimed (with its
   * history); when every channel has listeners, creating one throws a {@link BrokerFullError}.
   * @default 100_000
   */
  maxChannels?: number;
  /** Clock in milliseconds since the Unix epoch (tests inject one). @default Date.now */
  now?: () => number;
  /** A listener threw while a message was delivered; delivery went on to the other listeners. */
  onError?: (error: unknown, channel: string) => void;
}

/** Defaults of {@link MemoryBrokerOptions}. */
export const MEMORY_BROKER_DEFAULTS = Object.freeze({
  historySize: 100,
  historyTtlMs: 300_000,
  sweepIntervalMs: 60_000,
  // A small VPS (1–2 GiB): a quarter of the relay's memory for history, well under V8's heap limit on any host.
  maxHistoryBytes: 64 * 1024 * 1024,
  // About 1 KB each when empty (docs/pubsub.md): 100 MB at the cap, enough for one channel per connection
  // up to the default --max-connections.
  maxChannels: 100_000,
});

/**
 * {@link Broker} for one node. Per channel: `seq` from 1, history as a ring of the last `historySize` messages
 * younger than `historyTtlMs`, and an epoch drawn at random when the channel is created, so a restart (a new
 * broker) or a reclaimed-then-recreated channel never shares an epoch with what came before.
 *
 * Channels are created by `publish` and `subscribe` and reclaimed when they have no listener and no unexpired
 * history: on `unsubscribe` of the last listener and by {@link MemoryBroker.sweep}. A recreated channel starts
 * again at `seq` 1 in a new epoch, so a client resuming across the loss gets `recovered: false`.
 *
 * Two relay-wide bounds keep memory finite whatever clients publish: `maxHistoryBytes` of history and
 * `maxChannels` channels. Eviction takes the oldest history first, from channels without listeners before
 * channels with some, in order of last activity; it trims from the front, so a resume from before the trimmed
 * range gets `recovered: false`. The orders are insertion-ordered maps touched on each activity, so a publish
 * costs O(1) amortized, never a scan of the channels.
 *
 * @example
 * ```ts
 * const broker = new MemoryBroker({ historySize: 100 });
 * const message = broker.publish("news", "hello"); // { seq: 1, epoch: "…", … }
 * broker.history("news", { since: 0 }).messages; // [message]
 * ```
 */
export class MemoryBroker implements Broker {
  readonly nodeId: string = randomId();
  readonly #store: ChannelStore<ChannelRecord>;
  readonly #now: () => number;
  readonly #onError: (error: unknown, channel: string) => void;
  #published = 0;
  #closed = false;
  // Publishes made from inside a delivery wait here, so every listener sees messages in seq order.
  #delivering = false;
  #queue: ChannelMessage[] = [];

  constructor(options: MemoryBrokerOptions = {}) {
    const merged = { ...MEMORY_BROKER_DEFAULTS, ...options };
    const historySize = merged.historySize;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#store = new ChannelStore<ChannelRecord>({
      historySize,
      historyTtlMs: merged.historyTtlMs,
      sweepIntervalMs: merged.sweepIntervalMs,
      maxHistoryBytes: merged.maxHistoryBytes,
      maxChannels: merged.maxChannels,
      now: this.#now,
      record: (epoch, seq) => ({ seq, epoch, history: new HistoryRing(historySize), listeners: new Set() }),
      fullDetail: "all with subscribers",
    });
  }

  publish(channel: string, data: string | Uint8Array, publisher?: string): ChannelMessage {
    this.#checkOpen();
    const store = this.#store;
    const now = this.#now();
    const message = channelMessage(channel, 0, "", data, now, publisher);
    const size = store.historySize === 0 ? 0 : retainedBytes(message);
    // Checked before anything changes: a refused publish leaves no trace (no channel, no seq).
    if (size > store.maxHistoryBytes) throw store.tooLarge(size);
    const record = store.channels.get(channel) ?? store.create(channel);
    message.seq = record.seq + 1;
    message.epoch = record.epoch;
    record.seq = message.seq;
    store.retain(channel, record, message, size, now);
    this.#published++;
    if (record.listeners.size === 0) return message;
    if (this.#delivering) {
      this.#queue.push(message);
      return message;
    }
    this.#delivering = true;
    try {
      this.#deliver(record, message);
      // Drained in order; a queued message may itself enqueue more.
      for (let i = 0; i < this.#queue.length; i++) {
        const queued = this.#queue[i];
        const target = store.channels.get(queued.channel);
        if (target !== undefined && target.epoch === queued.epoch) this.#deliver(target, queued);
      }
    } finally {
      this.#queue.length = 0;
      this.#delivering = false;
    }
    return message;
  }

  subscribe(channel: string, listener: BrokerListener): void {
    this.#checkOpen();
    this.#store.subscribe(channel, listener);
  }

  unsubscribe(channel: string, listener: BrokerListener): void {
    this.#store.unsubscribe(channel, listener);
  }

  history(channel: string, options: HistoryOptions = {}): HistoryResult {
    this.#checkOpen();
    return this.#store.history(channel, options);
  }

  state(channel: string): ChannelState {
    this.#checkOpen();
    return this.#store.state(channel);
  }

  ready(): boolean {
    return !this.#closed;
  }

  stats(): BrokerStats {
    const { channels, retained, retainedBytes } = this.#store.stats();
    return { channels, published: this.#published, retained, retainedBytes };
  }

  /**
   * Drops expired history everywhere and reclaims channels with no listener and no history left.
   * @returns how many channels were reclaimed
   */
  sweep(): number {
    return this.#store.sweep();
  }

  close(): void {
    this.#closed = true;
    this.#store.clear();
    this.#queue.length = 0;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("memory broker is closed");
  }

  #deliver(record: ChannelRecord, message: ChannelMessage): void {
    for (const listener of record.listeners) {
      try {
        listener.message(message);
      } catch (error) {
        this.#onError(error, message.channel);
      }
    }
  }
}
