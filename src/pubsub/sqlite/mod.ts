/**
 * The SQLite broker: one node whose channels, seq, epoch and history survive a restart, kept in one SQLite
 * file (WAL). The only importer of `node:sqlite`.
 * @module
 */
export { SQLITE_BROKER_DEFAULTS, SqliteBroker, type SqliteBrokerOptions } from "./broker.ts";
export { SqliteOpenError } from "./database.ts";
export { isSqliteSpec, parseSqliteSpec, SQLITE_SCHEME } from "./spec.ts";
