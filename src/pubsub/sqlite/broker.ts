/**
 * The single-node durable broker: the memory broker's channels, numbering, history and bounds, with every
 * message also written to one SQLite file before it is acknowledged, and everything read back after a restart,
 * so clients resume across deploys and crashes with `recovered: true`.
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import type { Broker, BrokerListener, BrokerStats, HistoryOptions, HistoryResult } from "../broker.ts";
import { type ChannelRecord as StoreRecord, ChannelStore, checkNumber } from "../channel_store.ts";
import { HistoryRing, retainedBytes } from "../history_ring.ts";
import { MEMORY_BROKER_DEFAULTS } from "../memory_broker.ts";
import { type ChannelMessage, channelMessage, type ChannelState } from "../message.ts";
import { openDatabase } from "./database.ts";
import { type Batch, SqliteStore, type StoredChannel } from "./store.ts";
import { randomId } from "../../util/mod.ts";

/** Options of {@link SqliteBroker}; the retention options mean what they mean for the memory broker. */
export interface SqliteBrokerOptions {
  /** The database file, created if missing. */
  path: string;
  /** Messages kept per channel for history and resume; 0 keeps none (seq and epoch still persist). @default 100 */
  historySize?: number;
  /** Milliseconds a message stays in history; `Infinity` keeps messages until evicted by size. @default 300_000 */
  historyTtlMs?: number;
  /** Least milliseconds between sweeps of expired history, run when a channel is created. @default 60_000 */
  sweepIntervalMs?: number;
  /** Bytes of history kept across all channels, charged as in memory (`retainedBytes`). @default 67_108_864 */
  maxHistoryBytes?: number;
  /** Channels held at once (in memory and in the file). @default 100_000 */
  maxChannels?: number;
  /** Largest database file in bytes; past it publishes fail as on a full disk. @default Infinity */
  maxDatabaseBytes?: number;
  /** `NORMAL`: no acknowledged message is lost when the process dies; `FULL`: nor on power loss. @default "NORMAL" */
  synchronous?: "NORMAL" | "FULL";
  /** After a failed write, least milliseconds between the probes `ready()` makes to see storage back. @default 1_000 */
  readyProbeIntervalMs?: number;
  /** Clock in milliseconds since the Unix epoch (tests inject one). @default Date.now */
  now?: () => number;
  /** A listener threw while a message was delivered; delivery went on to the other listeners. */
  onError?: (error: unknown, channel: string) => void;
  /** Storage failed (`false`, with the error) or works again (`true`). */
  onReadyChange?: (ready: boolean, detail: string) => void;
}

/** Defaults of {@link SqliteBrokerOptions}: the memory broker's retention, plus the storage probe. */
export const SQLITE_BROKER_DEFAULTS = Object.freeze({
  ...MEMORY_BROKER_DEFAULTS,
  maxDatabaseBytes: Infinity,
  synchronous: "NORMAL" as "NORMAL" | "FULL",
  // Often enough for a load balancer polling /readyz every few seconds; one tiny write per probe.
  readyProbeIntervalMs: 1_000,
});

/** One channel incarnation. `seq` is the last committed seq: the one state, history and resume report. */
interface ChannelRecord extends StoreRecord {
  /** Last seq handed to a publish, committed or still in the batch. */
  assigned: number;
  /** The file holds a row of this channel (loaded, or committed once). */
  stored: boolean;
}

/** A publish waiting for its batch to commit. */
interface Pending {
  readonly record: ChannelRecord;
  readonly message: ChannelMessage;
  readonly size: number;
  readonly resolve: (message: ChannelMessage) => void;
  readonly reject: (error: Error) => void;
}

/**
 * {@link Broker} for one node whose seq, epoch and history survive a restart. State lives in memory exactly as
 * in the memory broker (same rings, same eviction order, same bounds) and is mirrored to SQLite:
 *
 * - `publish` assigns the seq and queues the message; once per event-loop turn the queued messages are written in
 *   one transaction, and only after it commits are they retained, delivered to listeners in seq order, and their
 *   promises resolved. A failed commit rejects every publish of the batch (nothing acknowledged, nothing
 *   delivered, their seqs handed out again) and `ready()` turns false until a write succeeds.
 * - History trimmed or channels reclaimed in memory are deleted from the file in the next transaction, before
 *   its inserts. A crash between the two leaves extra rows, which the next start trims by the same rules.
 * - At start-up, channels and messages are read back and retained in commit order under the current options,
 *   so a smaller `historySize`, an elapsed TTL or a smaller budget apply to what was stored before.
 *
 * `history` and `state` read memory and see committed messages only, so a reader never sees a message that may
 * still fail. The file is held exclusively (a second relay on it fails to start), see `openDatabase`.
 *
 * @example
 * ```ts
 * const broker = new SqliteBroker({ path: "relay.db" });
 * const message = await broker.publish("news", "hello"); // stored, then delivered: { seq: 1, … }
 * broker.close();
 * ```
 */
export class SqliteBroker implements Broker {
  readonly nodeId: string = randomId();
  readonly path: string;
  readonly #historyTtlMs: number;
  readonly #maxChannels: number;
  readonly #readyProbeIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown, channel: string) => void;
  readonly #onReadyChange: (ready: boolean, detail: string) => void;
  /** The channels in memory, as in the memory broker (same rings, eviction order and bounds). */
  readonly #channels: ChannelStore<ChannelRecord>;
  readonly #store: SqliteStore;
  /** Channels to delete from the file, then the first seq to keep per trimmed channel: the next write does it. */
  readonly #drops = new Set<string>();
  readonly #trims = new Map<string, number>();
  #pending: Pending[] = [];
  #flushHandle: ReturnType<typeof setImmediate> | undefined;
  #published = 0;
  #ready = true;
  #lastProbe = 0;
  #closed = false;

  /** Opens (or creates) the file and reads it back. Throws a `SqliteOpenError` naming the path if it cannot. */
  constructor(options: SqliteBrokerOptions) {
    const merged = { ...SQLITE_BROKER_DEFAULTS, ...options };
    this.#now = options.now ?? Date.now;
    this.#channels = new ChannelStore<ChannelRecord>({
      historySize: merged.historySize,
      historyTtlMs: merged.historyTtlMs,
      sweepIntervalMs: merged.sweepIntervalMs,
      maxHistoryBytes: merged.maxHistoryBytes,
      maxChannels: merged.maxChannels,
      now: this.#now,
      record: (epoch, seq) => this.#record(epoch, seq),
      fullDetail: "all in use",
      pending: (record) => record.assigned !== record.seq,
      onTrimmed: (channel, record) => this.#trimmed(channel, record),
      onRemoved: (channel, record) => {
        this.#trims.delete(channel);
        if (record.stored) {
          this.#drops.add(channel);
          this.#schedule();
        }
      },
    });
    checkNumber("maxDatabaseBytes", merged.maxDatabaseBytes, false, 1);
    this.path = options.path;
    this.#historyTtlMs = merged.historyTtlMs;
    this.#maxChannels = merged.maxChannels;
    this.#readyProbeIntervalMs = merged.readyProbeIntervalMs;
    this.#onError = options.onError ?? (() => {});
    this.#onReadyChange = options.onReadyChange ?? (() => {});
    this.#store = new SqliteStore(
      openDatabase(options.path, {
        maxDatabaseBytes: merged.maxDatabaseBytes,
        synchronous: merged.synchronous,
      }),
    );
    this.#load();
  }

  publish(channel: string, data: string | Uint8Array, publisher?: string): Promise<ChannelMessage> {
    if (this.#closed) return Promise.reject(new Error("sqlite broker is closed"));
    const channels = this.#channels;
    const message = channelMessage(channel, 0, "", data, this.#now(), publisher);
    const size = channels.historySize === 0 ? 0 : retainedBytes(message);
    // Checked before anything changes: a refused publish leaves no trace (no channel, no seq).
    if (size > channels.maxHistoryBytes) return Promise.reject(channels.tooLarge(size));
    let record: ChannelRecord;
    try {
      record = channels.channels.get(channel) ?? channels.create(channel);
    } catch (error) {
      return Promise.reject(error);
    }
    message.seq = ++record.assigned;
    message.epoch = record.epoch;
    const { promise, resolve, reject } = Promise.withResolvers<ChannelMessage>();
    this.#pending.push({ record, message, size, resolve, reject });
    this.#schedule();
    return promise;
  }

  subscribe(channel: string, listener: BrokerListener): void {
    this.#checkOpen();
    this.#channels.subscribe(channel, listener);
  }

  unsubscribe(channel: string, listener: BrokerListener): void {
    this.#channels.unsubscribe(channel, listener);
  }

  history(channel: string, options: HistoryOptions = {}): HistoryResult {
    this.#checkOpen();
    return this.#channels.history(channel, options);
  }

  state(channel: string): ChannelState {
    this.#checkOpen();
    return this.#channels.state(channel);
  }

  /** False after a failed write until a write succeeds; while false, probes storage at most once a second. */
  ready(): boolean {
    if (this.#closed) return false;
    if (!this.#ready) {
      const now = this.#now();
      if (now - this.#lastProbe >= this.#readyProbeIntervalMs) {
        this.#lastProbe = now;
        try {
          this.#store.probe(now);
          this.#setReady(true, "storage writable again");
        } catch { /* still failing: stay unready */ }
      }
    }
    return this.#ready;
  }

  stats(): BrokerStats {
    const { channels, retained, retainedBytes } = this.#channels.stats();
    return { channels, published: this.#published, retained, retainedBytes };
  }

  /** Drops expired history everywhere and reclaims idle channels left empty. @returns how many were reclaimed */
  sweep(): number {
    return this.#channels.sweep();
  }

  /** Writes what is queued (acknowledging it), then releases the file. Later calls fail. */
  close(): void {
    if (this.#closed) return;
    if (this.#flushHandle !== undefined) clearImmediate(this.#flushHandle);
    this.#flush();
    this.#closed = true;
    this.#store.close();
    this.#channels.clear();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("sqlite broker is closed");
  }

  #schedule(): void {
    if (this.#flushHandle === undefined) this.#flushHandle = setImmediate(this.#flush);
  }

  /** Commits the turn's batch, then retains, delivers and acknowledges it; or rejects all of it. */
  #flush = (): void => {
    this.#flushHandle = undefined;
    const batch = this.#pending;
    if (batch.length === 0 && this.#drops.size === 0 && this.#trims.size === 0) return;
    this.#pending = [];
    try {
      this.#store.write(this.#batchOf(batch));
    } catch (error) {
      this.#failed(batch, error);
      return;
    }
    this.#drops.clear();
    this.#trims.clear();
    if (!this.#ready) this.#setReady(true, "storage writable again");
    for (const pending of batch) this.#commit(pending);
  };

  #batchOf(batch: Pending[]): Batch {
    const messages: ChannelMessage[] = [];
    const channels = new Map<string, StoredChannel>();
    for (const { record, message, size } of batch) {
      if (size > 0) messages.push(message);
      channels.set(message.channel, {
        name: message.channel,
        epoch: record.epoch,
        seq: message.seq,
        activeAt: message.publishedAt,
      });
    }
    return { drops: this.#drops, trims: this.#trims, messages, channels: channels.values() };
  }

  /** The batch's messages were never stored: hand their seqs out again and refuse every publish of it. */
  #failed(batch: Pending[], error: unknown): void {
    const detail = error instanceof Error ? error.message : String(error);
    if (this.#ready) this.#setReady(false, detail);
    this.#lastProbe = this.#now();
    const refusal = new Error(`sqlite broker: ${this.path}: the message was not stored: ${detail}`, {
      cause: error,
    });
    for (const { record, message, reject } of batch) {
      record.assigned = record.seq;
      this.#channels.place(message.channel, record); // a channel created by the failed publish becomes reclaimable
      reject(refusal);
    }
  }

  #commit({ record, message, size, resolve }: Pending): void {
    const channel = message.channel;
    record.seq = message.seq;
    record.stored = true;
    this.#channels.retain(channel, record, message, size, message.publishedAt);
    this.#published++;
    for (const listener of record.listeners) {
      try {
        listener.message(message);
      } catch (error) {
        this.#onError(error, channel);
      }
    }
    resolve(message);
  }

  #setReady(ready: boolean, detail: string): void {
    this.#ready = ready;
    this.#onReadyChange(ready, detail);
  }

  /** Reads the file back into memory under the current options; what they no longer keep is deleted. */
  #load(): void {
    const now = this.#now();
    const rows = this.#store.channels();
    const excess = rows.length - this.#maxChannels; // least recently active go first, as with the cap at run time
    rows.forEach((row, i) => {
      if (i < excess) return void this.#drops.add(row.name);
      const record = this.#record(row.epoch, row.seq);
      record.stored = true;
      this.#channels.adopt(row.name, record);
    });
    const cutoff = now - this.#historyTtlMs;
    const last = new Map<string, number>();
    const skipped = new Set<string>();
    for (const row of this.#store.messages()) {
      const record = this.#channels.channels.get(row.channel);
      if (record === undefined) {
        this.#drops.add(row.channel);
        continue;
      }
      const message: ChannelMessage = { ...row, epoch: record.epoch };
      const size = this.#channels.historySize === 0 ? 0 : retainedBytes(message);
      // Expired, beyond the channel's seq, or out of order: rows a crash left before their trim was written.
      if (
        row.publishedAt < cutoff || row.seq > record.seq || row.seq <= (last.get(row.channel) ?? 0) ||
        size === 0
      ) {
        skipped.add(row.channel);
        continue;
      }
      last.set(row.channel, row.seq);
      this.#channels.retain(row.channel, record, message, size, now);
    }
    for (const channel of skipped) {
      const record = this.#channels.channels.get(channel);
      if (record !== undefined) this.#trimmed(channel, record);
    }
    this.#flush(); // writes the deletions now; a failure shows as not ready, as for any write
  }

  #record(epoch: string, seq: number): ChannelRecord {
    return {
      seq,
      epoch,
      assigned: seq,
      stored: false,
      history: new HistoryRing(this.#channels.historySize),
      listeners: new Set(),
    };
  }

  /** `record` lost its oldest messages in memory: the next write deletes them from the file. */
  #trimmed(channel: string, record: ChannelRecord): void {
    if (!record.stored) return;
    this.#trims.set(channel, record.history.oldestSeq ?? record.seq + 1);
    this.#schedule();
  }
}
