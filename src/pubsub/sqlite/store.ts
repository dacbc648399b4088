/**
 * The broker's statements on its SQLite file: read everything back at start-up, write one batch per
 * transaction. Prepared once; no SQL is built per message.
 * @module
 */
import type { ChannelMessage } from "../message.ts";
import type { DatabaseSync, StatementSync } from "./database.ts";

/** A channel row: its lineage, last seq, and when it last had a message (ms since the Unix epoch). */
export interface StoredChannel {
  name: string;
  epoch: string;
  seq: number;
  activeAt: number;
}

/** A retained message as read back (the epoch is its channel's). */
export interface StoredMessage {
  channel: string;
  seq: number;
  publishedAt: number;
  data: string | Uint8Array;
  /** Only when the message has one (rows of a version 1 file never do). */
  publisher?: string;
}

/**
 * What one transaction writes, applied in this order: channels dropped (every row of them), history trimmed
 * (`seq` below the given one deleted), new messages, channel rows upserted. Drops and trims come first so a
 * channel dropped and recreated in a new lineage never meets its old rows.
 */
export interface Batch {
  drops: Iterable<string>;
  trims: Iterable<[channel: string, keepFrom: number]>;
  messages: readonly ChannelMessage[];
  channels: Iterable<StoredChannel>;
}

export class SqliteStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #upsert: StatementSync;
  readonly #trim: StatementSync;
  readonly #dropMessages: StatementSync;
  readonly #dropChannel: StatementSync;
  readonly #probe: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT OR REPLACE INTO messages (channel, seq, published_at, data, publisher) VALUES (?, ?, ?, ?, ?)",
    );
    this.#upsert = db.prepare(
      "INSERT INTO channels (name, epoch, seq, active_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq, active_at = excluded.active_at",
    );
    this.#trim = db.prepare("DELETE FROM messages WHERE channel = ? AND seq < ?");
    this.#dropMessages = db.prepare("DELETE FROM messages WHERE channel = ?");
    this.#dropChannel = db.prepare("DELETE FROM channels WHERE name = ?");
    this.#probe = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('probed_at', ?)");
  }

  /** Every channel row, least recently active first. */
  channels(): StoredChannel[] {
    return (this.#db.prepare("SELECT name, epoch, seq, active_at FROM channels ORDER BY active_at, name")
      .all() as { name: string; epoch: string; seq: number; active_at: number }[])
      .map((row) => ({ name: row.name, epoch: row.epoch, seq: row.seq, activeAt: row.active_at }));
  }

  /** Every message row, in the order they were committed. */
  messages(): StoredMessage[] {
    return (this.#db.prepare(
      "SELECT channel, seq, published_at, data, publisher FROM messages ORDER BY rowid",
    )
      .all() as {
        channel: string;
        seq: number;
        published_at: number;
        data: string | Uint8Array;
        publisher: string | null;
      }[]).map((row) =>
        row.publisher === null
          ? { channel: row.channel, seq: row.seq, publishedAt: row.published_at, data: row.data }
          : {
            channel: row.channel,
            seq: row.seq,
            publishedAt: row.published_at,
            data: row.data,
            publisher: row.publisher,
          }
      );
  }

  /** Writes `batch` in one transaction; on failure nothing of it is stored and the error is thrown. */
  write(batch: Batch): void {
    const db = this.#db;
    db.exec("BEGIN");
    try {
      for (const channel of batch.drops) {
        this.#dropMessages.run(channel);
        this.#dropChannel.run(channel);
      }
      for (const [channel, keepFrom] of batch.trims) this.#trim.run(channel, keepFrom);
      const insert = this.#insert;
      for (const m of batch.messages) {
        insert.run(m.channel, m.seq, m.publishedAt, m.data, m.publisher ?? null);
      }
      for (const c of batch.channels) this.#upsert.run(c.name, c.epoch, c.seq, c.activeAt);
      db.exec("COMMIT");
    } catch (error) {
      // A failed statement may already have rolled the transaction back (SQLITE_FULL can), hence the check.
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }

  /** A write of a few bytes, to learn whether storage works again after a failure. Throws if not. */
  probe(now: number): void {
    this.#probe.run(now);
  }

  close(): void {
    this.#db.close();
  }
}
