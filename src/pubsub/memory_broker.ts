/**
 * The single-node broker: sequence numbers, history and delivery in this process's memory. Every operation is
 * synchronous, so the relay's publish path never waits for a promise.
 * @module
 */
import {
  type Broker,
  type BrokerListener,
  type BrokerStats,
  checkHistoryOptions,
  coversSince,
  type HistoryOptions,
  type HistoryResult,
} from "./broker.ts";
import { HistoryRing } from "./history_ring.ts";
import type { ChannelMessage, ChannelState } from "./message.ts";

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
});

/** One channel incarnation. */
interface ChannelRecord extends ChannelState {
  readonly history: HistoryRing;
  readonly listeners: Set<BrokerListener>;
}

/** 16 random bytes as hex: node ids and epochs. */
function randomId(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toHex();
}

function checkNumber(name: string, value: number, integer: boolean): void {
  if (!(value >= 0) || (integer && !Number.isSafeInteger(value))) {
    throw new RangeError(`${name} must be a non-negative ${integer ? "integer" : "number"}, got ${value}`);
  }
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
  readonly #channels = new Map<string, ChannelRecord>();
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
    this.#historySize = merged.historySize;
    this.#historyTtlMs = merged.historyTtlMs;
    this.#sweepIntervalMs = merged.sweepIntervalMs;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#lastSweep = this.#now();
  }

  publish(channel: string, data: string | Uint8Array): ChannelMessage {
    this.#checkOpen();
    const record = this.#channels.get(channel) ?? this.#create(channel);
    const now = this.#now();
    const message: ChannelMessage = {
      channel,
      seq: record.seq + 1,
      epoch: record.epoch,
      data,
      publishedAt: now,
    };
    record.seq = message.seq;
    this.#expire(record, now);
    record.history.push(message);
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
    (this.#channels.get(channel) ?? this.#create(channel)).listeners.add(listener);
  }

  unsubscribe(channel: string, listener: BrokerListener): void {
    const record = this.#channels.get(channel);
    if (record === undefined || !record.listeners.delete(listener)) return;
    this.#reclaimIfIdle(channel, record, this.#now());
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
    return { channels: this.#channels.size, published: this.#published, retained };
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
    this.#queue.length = 0;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("memory broker is closed");
  }

  #create(channel: string): ChannelRecord {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep();
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
    // An entry expires once older than the TTL: published strictly before now - ttl.
    record.history.dropPublishedBefore(now - this.#historyTtlMs);
  }

  #reclaimIfIdle(channel: string, record: ChannelRecord, now: number): boolean {
    if (record.listeners.size > 0) return false;
    this.#expire(record, now);
    if (record.history.length > 0) return false;
    this.#channels.delete(channel);
    return true;
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
