/**
 * Opening the broker's SQLite file: the only importer of `node:sqlite`, which Deno 2.9 and Bun 1.4 both ship
 * with the same `DatabaseSync` API (and which `bun build --compile` bundles). Takes the file's lock, sets the
 * journal, creates or checks the schema, and turns every way this can fail into one {@link SqliteOpenError}
 * that names the path.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

export type { DatabaseSync, StatementSync };

/**
 * Version of the layout below, kept in the `meta` table. A file of version 1 (before messages had a
 * `publisher`) is upgraded in place on open: the column is added, its old rows read with no publisher. A file
 * of any other version is refused, not migrated; an older relay refuses a version 2 file the same way.
 */
export const SCHEMA_VERSION = 2;

/** The layout version that {@link SCHEMA_VERSION} upgrades from: the same tables without `publisher`. */
const UPGRADABLE_VERSION = 1;

/**
 * The layout: one row per channel (its lineage and last seq, so numbering survives a restart even when no
 * history is kept), one row per retained message. `data` has no declared type, so SQLite keeps text as TEXT and
 * binary as BLOB and gives each back as it came (string / `Uint8Array`). Messages are read back in `rowid`
 * order, which is commit order, the order the broker first retained them in.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS channels (
    name TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    active_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS messages (
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    published_at INTEGER NOT NULL,
    data NOT NULL,
    publisher TEXT
  );
  CREATE UNIQUE INDEX IF NOT EXISTS messages_by_channel ON messages (channel, seq);
`;

/** The file cannot serve as the broker's store; `message` names the path and what to do. Exit status 1. */
export class SqliteOpenError extends Error {
  override name = "SqliteOpenError";
  readonly path: string;

  constructor(path: string, message: string, cause?: unknown) {
    super(`sqlite broker: ${path}: ${message}`, { cause });
    this.path = path;
  }
}

/** How a file is opened. */
export interface OpenOptions {
  /**
   * Largest size of the database file in bytes (SQLite's `max_page_count`); past it writes fail as on a full
   * disk. `Infinity` leaves SQLite's own limit. @default Infinity
   */
  maxDatabaseBytes?: number;
  /**
   * `PRAGMA synchronous`: `NORMAL` survives a crash of the process (`kill -9`) with every committed batch, `FULL`
   * also a power loss, for an fsync per batch. @default "NORMAL"
   */
  synchronous?: "NORMAL" | "FULL";
}

/**
 * Size the WAL file is cut back to after a checkpoint. One batch (one event-loop turn of publishes) can make the
 * WAL larger than SQLite's 1000-page checkpoint point; without a limit the file would keep that peak size.
 */
export const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

/** SQLite's result codes the opener tells apart (`errcode` on Bun, parsed from the message on Deno). */
const BUSY_MESSAGE = /database is locked|SQLITE_BUSY/i;
const CORRUPT_MESSAGE = /not a database|malformed|SQLITE_(NOTADB|CORRUPT)/i;

/**
 * Opens (creating if missing) the store at `path` and holds it exclusively until closed: `locking_mode =
 * EXCLUSIVE` keeps the write lock from the first write on, so a second relay on the same file fails here
 * with "in use" (and without shared memory: the WAL index lives in the process, nothing is left for a crashed
 * holder to clean up; the kernel drops the lock when the process dies, even on `kill -9`).
 */
export function openDatabase(path: string, options: OpenOptions = {}): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (error) {
    throw new SqliteOpenError(path, `cannot open: ${describe(error)}`, error);
  }
  try {
    // The order matters: exclusive mode before WAL, so SQLite never maps a shared-memory index file.
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous ?? "NORMAL"}`);
    db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    // Takes the exclusive lock now, not at the first publish; fails at once (no busy wait) if another holds it.
    db.exec("BEGIN IMMEDIATE");
    db.exec(SCHEMA);
    checkSchema(db, path);
    db.exec("COMMIT");
    const check = db.prepare("PRAGMA quick_check").get() as { quick_check?: unknown } | undefined;
    if (check?.quick_check !== "ok") {
      throw new SqliteOpenError(path, `corrupt: ${String(check?.quick_check)}`);
    }
    if (options.maxDatabaseBytes !== undefined && Number.isFinite(options.maxDatabaseBytes)) {
      const pageSize = (db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
      db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxDatabaseBytes / pageSize))}`);
    }
    return db;
  } catch (error) {
    try {
      db.close();
    } catch { /* closing a half-open database can fail too; the first error is the one to report */ }
    if (error instanceof SqliteOpenError) throw error;
    throw classify(path, error);
  }
}

/** Refuses a file written by another layout, or another program's tables under our names. */
function checkSchema(db: DatabaseSync, path: string): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
    | { value: unknown }
    | undefined;
  if (row === undefined) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
  } else if (row.value === UPGRADABLE_VERSION) {
    // Inside the open's transaction: the column and the version change together or not at all.
    db.exec("ALTER TABLE messages ADD COLUMN publisher TEXT");
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(SCHEMA_VERSION);
  } else if (row.value !== SCHEMA_VERSION) {
    throw new SqliteOpenError(
      path,
      `schema version ${String(row.value)}, this relay reads ${SCHEMA_VERSION}: use another file`,
    );
  }
}

function classify(path: string, error: unknown): SqliteOpenError {
  const text = describe(error);
  if (BUSY_MESSAGE.test(text)) {
    return new SqliteOpenError(path, "in use by another process (another relay on the same file?)", error);
  }
  if (CORRUPT_MESSAGE.test(text)) {
    return new SqliteOpenError(path, `not a usable SQLite database (${text})`, error);
  }
  return new SqliteOpenError(path, `cannot write: ${text}`, error);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
