/**
 * The `--broker` value for Redis: `redis://host:port` (or `rediss://` for TLS), optionally with
 * `user:password@` and a database number path (`/2`).
 * @module
 */

/** Where a Redis server is and how to log in. */
export interface RedisEndpoint {
  host: string;
  /** @default 6379 */
  port: number;
  /** TLS (`rediss://`). */
  tls: boolean;
  username?: string;
  password?: string;
  /** Database number. @default 0 */
  db: number;
}

/** Parses a `redis://` or `rediss://` URL. @throws {TypeError} naming what is wrong */
export function parseRedisUrl(text: string): RedisEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`'${text}' is not a URL (expected redis://host:port)`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new TypeError(`'${text}': the scheme must be redis:// or rediss://`);
  }
  // Bracketed IPv6 hosts keep their brackets in URL.hostname; the client wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new TypeError(`'${text}' names no host`);
  if (url.search !== "" || url.hash !== "") throw new TypeError(`'${text}': no query or fragment allowed`);
  const path = url.pathname;
  if (path !== "" && path !== "/" && !/^\/\d{1,2}$/.test(path)) {
    throw new TypeError(`'${text}': the path may only be a database number`);
  }
  const endpoint: RedisEndpoint = {
    host,
    port: url.port === "" ? 6379 : Number(url.port),
    tls: url.protocol === "rediss:",
    db: path.length > 1 ? Number(path.slice(1)) : 0,
  };
  if (url.username !== "") endpoint.username = decodeURIComponent(url.username);
  if (url.password !== "") endpoint.password = decodeURIComponent(url.password);
  return endpoint;
}
