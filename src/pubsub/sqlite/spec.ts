/**
 * The `--broker` spelling of the SQLite broker: `sqlite:PATH`.
 * @module
 */

/** The prefix that selects the SQLite broker in `--broker`. */
export const SQLITE_SCHEME = "sqlite:";

/** True when `spec` names the SQLite broker (whether or not the rest is valid). */
export function isSqliteSpec(spec: string): boolean {
  return spec.startsWith(SQLITE_SCHEME);
}

/**
 * The file path of `sqlite:PATH` (absolute, or relative to the working directory). Throws a `TypeError` for an
 * empty path and for SQLite's in-memory names, which would keep nothing across a restart (`--broker memory` does
 * that, faster).
 */
export function parseSqliteSpec(spec: string): string {
  if (!isSqliteSpec(spec)) throw new TypeError(`expected ${SQLITE_SCHEME}PATH, got '${spec}'`);
  const path = spec.slice(SQLITE_SCHEME.length);
  if (path === "") {
    throw new TypeError(
      `${SQLITE_SCHEME} needs a file path, e.g. ${SQLITE_SCHEME}/var/lib/edge-relay/relay.db`,
    );
  }
  if (path === ":memory:" || path.startsWith("file:")) {
    throw new TypeError(`${SQLITE_SCHEME}${path}: give a file path (for history in memory only, use memory)`);
  }
  return path;
}
