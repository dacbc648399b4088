/**
 * The in-memory channel state the single-node brokers share: channel records with their history rings, the
 * relay-wide budgets (`maxHistoryBytes`, `maxChannels`), expiry, reclamation and eviction order. The memory
 * broker keeps only this; the SQLite broker keeps the same and mirrors changes to its file through the hooks.
 * @module
 */
import {
  BrokerFullError,
  type BrokerListener,
  checkHistoryOptions,
  coversSince,
  type HistoryOptions,
  type HistoryResult,
} from "./broker.ts";
import type { HistoryRing } from "./history_ring.ts";
import type { ChannelMessage, ChannelState } from "./message.ts";
import { randomId } from "../util/mod.ts";

/** One channel incarnation: `seq` is the last retained (committed) seq, the one state, history and resume report. */
export interface ChannelRecord extends ChannelState {
  readonly history: HistoryRing;
  readonly listeners: Set<BrokerListener>;
}

/** Options of {@link ChannelStore}: the brokers' retention options, already merged with their defaults. */
export interface ChannelStoreOptions<R extends ChannelRecord> {
  historySize: number;
  historyTtlMs: number;
  sweepIntervalMs: number;
  maxHistoryBytes: number;
  maxChannels: number;
  now: () => number;
  /** Makes a record with an empty ring of `historySize` and no listener. */
  record: (epoch: string, seq: number) => R;
  /** Ends the `maxChannels` refusal: why no channel could be reclaimed ("all with subscribers"). */
  fullDetail: string;
  /** The record has a publish not yet retained, so it is not idle even without listeners. */
  pending?: (record: R) => boolean;
  /** The record lost its oldest messages (trim, expiry, a full ring). */
  onTrimmed?: (channel: string, record: R) => void;
  /** The record was forgotten with its history. */
  onRemoved?: (channel: string, record: R) => void;
}

/** Throws a `RangeError` unless `value` is a number (an integer if `integer`) of at least `min`. */
export function checkNumber(name: string, value: number, integer: boolean, min = 0): void {
  if (!(value >= min) || (integer && !Number.isSafeInteger(value))) {
    throw new RangeError(`${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${value}`);
  }
}

/** Moves `key` to the newest end of an insertion-ordered map (an LRU touch in O(1)). */
function touch<R>(order: Map<string, R>, key: string, record: R): void {
  order.delete(key);
  order.set(key, record);
}

/**
 * Channels by name with their history, and the two relay-wide bounds. Eviction takes the oldest history first,
 * from channels without listeners before channels with some, in order of last activity; it trims from the front,
 * so a resume from before the trimmed range gets `recovered: false`. The orders are insertion-ordered maps
 * touched on each activity, so retaining a message costs O(1) amortized, never a scan of the channels.
 *
 * A channel is reclaimed when it is idle (no listener, nothing pending) and has no unexpired history: when its
 * last listener leaves, by {@link ChannelStore.sweep}, and by eviction. Delivery stays with the broker.
 */
export class ChannelStore<R extends ChannelRecord> {
  readonly historySize: number;
  readonly maxHistoryBytes: number;
  /** Every channel by name; read it directly (a property, not a call, on the publish path). */
  readonly channels: Map<string, R> = new Map();
  readonly #historyTtlMs: number;
  readonly #sweepIntervalMs: number;
  readonly #maxChannels: number;
  readonly #now: () => number;
  readonly #record: (epoch: string, seq: number) => R;
  readonly #fullDetail: string;
  readonly #pending: ((record: R) => boolean) | undefined;
  readonly #onTrimmed: ((channel: string, record: R) => void) | undefined;
  readonly #onRemoved: ((channel: string, record: R) => void) | undefined;
  /** Channels without listeners, least recently active first: evicted first, for history and for the cap. */
  readonly #idle = new Map<string, R>();
  /**
   * Channels with listeners that held history when last touched, least recently published first: evicted once
   * no idle channel is left. May hold channels whose history expired since; eviction drops them as it meets them.
   */
  readonly #busyHistory = new Map<string, R>();
  /** `HistoryRing.bytes` summed over every channel. */
  #historyBytes = 0;
  /** The epoch reported for channels that do not exist; no incarnation ever uses it. */
  readonly #vacantEpoch = randomId();
  #lastSweep: number;

  /** Checks the numeric options (a `RangeError` names the first wrong one). */
  constructor(options: ChannelStoreOptions<R>) {
    checkNumber("historySize", options.historySize, true);
    checkNumber("historyTtlMs", options.historyTtlMs, false);
    checkNumber("sweepIntervalMs", options.sweepIntervalMs, false);
    checkNumber("maxHistoryBytes", options.maxHistoryBytes, false);
    checkNumber("maxChannels", options.maxChannels, true, 1);
    this.historySize = options.historySize;
    this.maxHistoryBytes = options.maxHistoryBytes;
    this.#historyTtlMs = options.historyTtlMs;
    this.#sweepIntervalMs = options.sweepIntervalMs;
    this.#maxChannels = options.maxChannels;
    this.#now = options.now;
    this.#record = options.record;
    this.#fullDetail = options.fullDetail;
    this.#pending = options.pending;
    this.#onTrimmed = options.onTrimmed;
    this.#onRemoved = options.onRemoved;
    this.#lastSweep = this.#now();
  }

  /** The refusal of a message of `size` bytes larger than the whole budget (check before changing anything). */
  tooLarge(size: number): BrokerFullError {
    return new BrokerFullError(
      "maxHistoryBytes",
      `a message of ${size} bytes does not fit the relay's history budget of ${this.maxHistoryBytes} bytes`,
    );
  }

  /** Makes channel `channel` (seq 0, a fresh epoch), sweeping when due and evicting an idle one at the cap. */
  create(channel: string): R {
    const now = this.#now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep();
    if (this.channels.size >= this.#maxChannels) this.#evictIdleChannel(channel);
    const record = this.#record(randomId(), 0);
    this.channels.set(channel, record);
    return record;
  }

  /** Adds a record read back from storage, as the most recently active idle channel. */
  adopt(channel: string, record: R): void {
    this.channels.set(channel, record);
    this.place(channel, record);
  }

  subscribe(channel: string, listener: BrokerListener): void {
    const record = this.channels.get(channel) ?? this.create(channel);
    record.listeners.add(listener);
    this.place(channel, record);
  }

  unsubscribe(channel: string, listener: BrokerListener): void {
    const record = this.channels.get(channel);
    if (record === undefined || !record.listeners.delete(listener)) return;
    if (!this.#reclaimIfIdle(channel, record, this.#now())) this.place(channel, record);
  }

  /**
   * Keeps a message of `record` charged `size` bytes (0: none kept): expiry, the eviction orders, room in the
   * budget, the ring. The caller has set `record.seq`.
   */
  retain(channel: string, record: R, message: ChannelMessage, size: number, now: number): void {
    this.#expire(channel, record, now);
    this.place(channel, record);
    if (size === 0) return;
    this.#makeRoom(size, channel, record);
    const history = record.history;
    const before = history.bytes;
    const full = history.length === history.capacity;
    history.push(message);
    this.#historyBytes += history.bytes - before;
    if (full && this.#onTrimmed !== undefined) this.#onTrimmed(channel, record);
    if (record.listeners.size > 0) touch(this.#busyHistory, channel, record);
  }

  history(channel: string, options: HistoryOptions): HistoryResult {
    checkHistoryOptions(options);
    const since = options.since ?? 0;
    const record = this.channels.get(channel);
    if (record === undefined) {
      return { seq: 0, epoch: this.#vacantEpoch, messages: [], contiguous: since === 0 };
    }
    this.#expire(channel, record, this.#now());
    const oldest = record.history.oldestSeq ?? record.seq + 1;
    return {
      seq: record.seq,
      epoch: record.epoch,
      messages: record.history.after(since, options.limit),
      contiguous: coversSince(since, options.epoch, record, oldest),
    };
  }

  state(channel: string): ChannelState {
    const record = this.channels.get(channel);
    return record === undefined
      ? { seq: 0, epoch: this.#vacantEpoch }
      : { seq: record.seq, epoch: record.epoch };
  }

  /** `channels`, `retained` and `retainedBytes` of `BrokerStats`. */
  stats(): { channels: number; retained: number; retainedBytes: number } {
    let retained = 0;
    for (const record of this.channels.values()) retained += record.history.length;
    return { channels: this.channels.size, retained, retainedBytes: this.#historyBytes };
  }

  /**
   * Drops expired history everywhere and reclaims idle channels with no history left.
   * @returns how many channels were reclaimed
   */
  sweep(): number {
    const now = this.#now();
    this.#lastSweep = now;
    let reclaimed = 0;
    // Deleting the current entry while iterating a Map is safe.
    for (const [channel, record] of this.channels) {
      if (this.#reclaimIfIdle(channel, record, now)) reclaimed++;
    }
    return reclaimed;
  }

  /** Forgets everything, without the hooks. */
  clear(): void {
    this.channels.clear();
    this.#idle.clear();
    this.#busyHistory.clear();
    this.#historyBytes = 0;
  }

  /** Files `record` under the order its listeners call for, as the most recently active there. */
  place(channel: string, record: R): void {
    if (record.listeners.size === 0) {
      this.#busyHistory.delete(channel);
      touch(this.#idle, channel, record);
    } else {
      this.#idle.delete(channel);
      if (record.history.length > 0) touch(this.#busyHistory, channel, record);
      else this.#busyHistory.delete(channel);
    }
  }

  /** Idle: no listener and no publish pending (a channel is never reclaimed under a pending seq). */
  #isIdle(record: R): boolean {
    return record.listeners.size === 0 && (this.#pending === undefined || !this.#pending(record));
  }

  #expire(channel: string, record: R, now: number): void {
    const before = record.history.bytes;
    // An entry expires once older than the TTL: published strictly before now - ttl.
    if (record.history.dropPublishedBefore(now - this.#historyTtlMs) === 0) return;
    this.#historyBytes += record.history.bytes - before;
    if (this.#onTrimmed !== undefined) this.#onTrimmed(channel, record);
  }

  #reclaimIfIdle(channel: string, record: R, now: number): boolean {
    if (!this.#isIdle(record)) return false;
    this.#expire(channel, record, now);
    if (record.history.length > 0) return false;
    this.#remove(channel);
    return true;
  }

  /** Forgets a channel and its history. */
  #remove(channel: string): void {
    const record = this.channels.get(channel);
    if (record === undefined) return;
    this.#historyBytes -= record.history.bytes;
    record.history.clear();
    this.channels.delete(channel);
    this.#idle.delete(channel);
    this.#busyHistory.delete(channel);
    if (this.#onRemoved !== undefined) this.#onRemoved(channel, record);
  }

  /** The channel cap is reached: reclaim the least recently active idle channel, or refuse. */
  #evictIdleChannel(creating: string): void {
    for (const [channel, record] of this.#idle) {
      if (!this.#isIdle(record)) continue;
      this.#remove(channel);
      return;
    }
    throw new BrokerFullError(
      "maxChannels",
      `cannot create channel ${creating}: the relay holds ${this.#maxChannels} channels, ${this.#fullDetail}`,
    );
  }

  /**
   * Evicts the oldest history until `size` more bytes fit the budget: idle channels first (reclaimed once
   * empty), then channels with listeners, then the publishing channel's own older messages. Each message is
   * evicted at most once, so this is O(1) amortized per publish.
   */
  #makeRoom(size: number, publishingChannel: string, publishing: R): void {
    const max = this.maxHistoryBytes;
    if (this.#historyBytes + size <= max) return;
    for (const [channel, record] of this.#idle) {
      if (record === publishing) continue;
      this.#trim(channel, record, size);
      // Deleting the current entry is safe.
      if (record.history.length === 0 && this.#isIdle(record)) this.#remove(channel);
      if (this.#historyBytes + size <= max) return;
    }
    for (const [channel, record] of this.#busyHistory) {
      if (record === publishing) continue;
      this.#trim(channel, record, size);
      if (record.history.length === 0) this.#busyHistory.delete(channel);
      if (this.#historyBytes + size <= max) return;
    }
    this.#trim(publishingChannel, publishing, size);
  }

  /** Drops `record`'s oldest messages until `size` more bytes fit the budget or it has none left. */
  #trim(channel: string, record: R, size: number): void {
    const history = record.history;
    const before = history.length;
    while (history.length > 0 && this.#historyBytes + size > this.maxHistoryBytes) {
      this.#historyBytes -= history.dropOldest();
    }
    if (history.length !== before && this.#onTrimmed !== undefined) this.#onTrimmed(channel, record);
  }
}
