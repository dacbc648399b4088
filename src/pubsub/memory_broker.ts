/**
 * The single-node broker: sequence numbers, history and delivery in this process's memory. Every operation is
 * synchronous, so the relay's publish path never waits for a promise.
 * @module
 */
import {
  type Broker,
  BrokerFullError,
  type BrokerListener,
  type BrokerStats,
  checkHistoryOptions,
  coversSince,
  type HistoryOptions,
  type HistoryResult,
} from "./broker.ts";
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

/** One channel incarnation. */
interface ChannelRecord extends ChannelState {
  readonly history: HistoryRing;
  readonly listeners: Set<BrokerListener>;
}

function checkNumber(name: string, value: number, integer: boolean, min = 0): void {
  if (!(value >= min) || (integer && !Number.isSafeInteger(value))) {
    throw new RangeError(`${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${value}`);
  }
}

/** Moves `key` to the newest end of an insertion-ordered map (an LRU touch in O(1)). */
function touch(order: Map<string, ChannelRecord>, key: string, record: ChannelRecord): void {
  order.delete(key);
  order.set(key, record);
}

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
  readonly #historySize: number;
  readonly #historyTtlMs: number;
  readonly #sweepIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown, channel: string) => void;
  readonly #maxHistoryBytes: number;
  readonly #maxChannels: number;
  readonly #channels = new Map<string, ChannelRecord>();
  /** Channels without listeners, least recently active first: evicted first, for history and for the cap. */
  readonly #idle = new Map<string, ChannelRecord>();
  /**
   * Channels with listeners that held history when last touched, least recently published first: evicted once
   * no idle channel is left. May hold channels whose history expired since; eviction drops them as it meets them.
   */
  readonly #busyHistory = new Map<string, ChannelRecord>();
  /** `HistoryRing.bytes` summed over every channel. */
  #historyBytes = 0;
  /** The epoch reported for channels that do not exist; no incarnation ever uses it. */
  readonly #vacantEpoch = randomId();
  #lastSweep: number;
  #published = 0;
  #closed = false;
  // Publishes made from inside a delivery wait here, so every listener sees messages in seq order.
  #delivering = false;
  #queue: ChannelMessage[] = [];

  constructor(options: MemoryBrokerOptions = {}) {
    const merged = { ...MEMORY_BROKER_DEFAULTS, ...options };
    checkNumber("historySize", merged.historySize, true);
    checkNumber("historyTtlMs", merged.historyTtlMs, false);
    checkNumber("sweepIntervalMs", merged.sweepIntervalMs, false);
    checkNumber("maxHistoryBytes", merged.maxHistoryBytes, false);
    checkNumber("maxChannels", merged.maxChannels, true, 1);
    this.#maxHistoryBytes = merged.maxHistoryBytes;
    this.#maxChannels = merged.maxChannels;
    this.#historySize = merged.historySize;
    this.#historyTtlMs = merged.historyTtlMs;
    this.#sweepIntervalMs = merged.sweepIntervalMs;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#lastSweep = this.#now();
  }

  publish(channel: string, data: string | Uint8Array, publisher?: string): ChannelMessage {
    this.#checkOpen();
    const now = this.#now();
    const message = channelMessage(channel, 0, "", data, now, publisher);
    const size = this.#historySize === 0 ? 0 : retainedBytes(message);
    // Checked before anything changes: a refused publish leaves no trace (no channel, no seq).
    if (size > this.#maxHistoryBytes) {
      throw new BrokerFullError(
        "maxHistoryBytes",
        `a message of ${size} bytes does not fit the relay's history budget of ${this.#maxHistoryBytes} bytes`,
      );
    }
    const record = this.#channels.get(channel) ?? this.#create(channel);
    message.seq = record.seq + 1;
    message.epoch = record.epoch;
    record.seq = message.seq;
    this.#expire(record, now);
    this.#place(channel, record);
    if (size > 0) {
      this.#makeRoom(size, record);
      const before = record.history.bytes;
      record.history.push(message);
      this.#historyBytes += record.history.bytes - before;
      if (record.listeners.size > 0) touch(this.#busyHistory, channel, record);
    }
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
        const target = this.#channels.get(queued.channel);
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
    const record = this.#channels.get(channel) ?? this.#create(channel);
    record.listeners.add(listener);
    this.#place(channel, record);
  }

  unsubscribe(channel: string, listener: BrokerListener): void {
    const record = this.#channels.get(channel);
    if (record === undefined || !record.listeners.delete(listener)) return;
    if (!this.#reclaimIfIdle(channel, record, this.#now())) this.#place(channel, record);
  }

  history(channel: string, options: HistoryOptions = {}): HistoryResult {
    this.#checkOpen();
    checkHistoryOptions(options);
    const since = options.since ?? 0;
    const record = this.#channels.get(channel);
    if (record === undefined) {
      return { seq: 0, epoch: this.#vacantEpoch, messages: [], contiguous: since === 0 };
    }
    this.#expire(record, this.#now());
    const oldest = record.history.oldestSeq ?? record.seq + 1;
    return {
      seq: record.seq,
      epoch: record.epoch,
      messages: record.history.after(since, options.limit),
      contiguous: coversSince(since, options.epoch, record, oldest),
    };
  }

  state(channel: string): ChannelState {
    this.#checkOpen();
    const record = this.#channels.get(channel);
    return record === undefined
      ? { seq: 0, epoch: this.#vacantEpoch }
      : { seq: record.seq, epoch: record.epoch };
  }

  ready(): boolean {
    return !this.#closed;
  }

  stats(): BrokerStats {
    let retained = 0;
    for (const record of this.#channels.values()) retained += record.history.length;
    return {
      channels: this.#channels.size,
      published: this.#published,
      retained,
      retainedBytes: this.#historyBytes,
    };
  }

  /**
   * Drops expired history everywhere and reclaims channels with no listener and no history left.
   * @returns how many channels were reclaimed
   */
  sweep(): number {
    const now = this.#now();
    this.#lastSweep = now;
    let reclaimed = 0;
    // Deleting the current entry while iterating a Map is safe.
    for (const [channel, record] of this.#channels) {
      if (this.#reclaimIfIdle(channel, record, now)) reclaimed++;
    }
    return reclaimed;
  }

  close(): void {
    this.#closed = true;
    this.#channels.clear();
    this.#idle.clear();
    this.#busyHistory.clear();
    this.#historyBytes = 0;
    this.#queue.length = 0;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("memory broker is closed");
  }

  #create(channel: string): ChannelRecord {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep();
    if (this.#channels.size >= this.#maxChannels) this.#evictIdleChannel(channel);
    const record: ChannelRecord = {
      seq: 0,
      epoch: randomId(),
      history: new HistoryRing(this.#historySize),
      listeners: new Set(),
    };
    this.#channels.set(channel, record);
    return record;
  }

  #expire(record: ChannelRecord, now: number): void {
    const before = record.history.bytes;
    // An entry expires once older than the TTL: published strictly before now - ttl.
    record.history.dropPublishedBefore(now - this.#historyTtlMs);
    this.#historyBytes += record.history.bytes - before;
  }

  #reclaimIfIdle(channel: string, record: ChannelRecord, now: number): boolean {
    if (record.listeners.size > 0) return false;
    this.#expire(record, now);
    if (record.history.length > 0) return false;
    this.#remove(channel);
    return true;
  }

  /** Forgets a channel and its history. */
  #remove(channel: string): void {
    const record = this.#channels.get(channel);
    if (record === undefined) return;
    this.#historyBytes -= record.history.bytes;
    record.history.clear();
    this.#channels.delete(channel);
    this.#idle.delete(channel);
    this.#busyHistory.delete(channel);
  }

  /** Files `record` under the order its listeners call for, as the most recently active there. */
  #place(channel: string, record: ChannelRecord): void {
    if (record.listeners.size === 0) {
      this.#busyHistory.delete(channel);
      touch(this.#idle, channel, record);
    } else {
      this.#idle.delete(channel);
      if (record.history.length > 0) touch(this.#busyHistory, channel, record);
      else this.#busyHistory.delete(channel);
    }
  }

  /** The channel cap is reached: reclaim the least recently active channel without listeners, or refuse. */
  #evictIdleChannel(creating: string): void {
    for (const channel of this.#idle.keys()) {
      this.#remove(channel);
      return;
    }
    throw new BrokerFullError(
      "maxChannels",
      `cannot create channel ${creating}: the relay holds ${this.#maxChannels} channels, all with subscribers`,
    );
  }

  /**
   * Evicts the oldest history until `size` more bytes fit the budget: idle channels first (reclaimed once
   * empty), then channels with listeners, then the publishing channel's own older messages. Each message is
   * evicted at most once, so this is O(1) amortized per publish.
   */
  #makeRoom(size: number, publishing: ChannelRecord): void {
    const max = this.#maxHistoryBytes;
    if (this.#historyBytes + size <= max) return;
    for (const [channel, record] of this.#idle) {
      if (record === publishing) continue;
      this.#trim(record, size);
      if (record.history.length === 0) this.#remove(channel); // deleting the current entry is safe
      if (this.#historyBytes + size <= max) return;
    }
    for (const [channel, record] of this.#busyHistory) {
      if (record === publishing) continue;
      this.#trim(record, size);
      if (record.history.length === 0) this.#busyHistory.delete(channel);
      if (this.#historyBytes + size <= max) return;
    }
    this.#trim(publishing, size);
  }

  /** Drops `record`'s oldest messages until `size` more bytes fit the budget or it has none left. */
  #trim(record: ChannelRecord, size: number): void {
    const history = record.history;
    while (history.length > 0 && this.#historyBytes + size > this.#maxHistoryBytes) {
      this.#historyBytes -= history.dropOldest();
    }
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
