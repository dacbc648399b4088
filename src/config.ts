/**
 * The relay's configuration: every flag of the external contract, its `RELAY_*` environment variable, its
 * default and its validation, in one table. `parseConfig` is pure (arguments and environment in, config or a
 * {@link ConfigError} out), so main.ts stays the only reader of the real process state.
 * @module
 */
import { isSqliteSpec, parseRedisUrl, parseSqliteSpec } from "./pubsub/mod.ts";
import { isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./observability/mod.ts";
import { normalizeAddress } from "./access/mod.ts";
import process from "node:process";
import packageJson from "../package.json" with { type: "json" };

/** The relay's version (package.json), for `--version`, the start-up line and `edge_relay_build_info`. */
export const VERSION: string = packageJson.version;

/** `deno 2.9.6` or `bun 1.4.4`: the runtime running the relay. */
export function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  return versions.bun !== undefined ? `bun ${versions.bun}` : `deno ${versions.deno ?? "?"}`;
}

/** Everything the relay can be configured with. Durations are milliseconds, sizes bytes. */
export interface Config {
  /** @default 8080 (0 = any free port) */
  port: number;
  /** @default "0.0.0.0" */
  host: string;
  tlsCert: string | null;
  tlsKey: string | null;
  /** Exact origins allowed to open WebSockets; empty = the relay's own origin only; `*` = any. */
  allowedOrigins: string[];
  /** @default false */
  requireOrigin: boolean;
  /** @default 1048576 */
  maxMessageBytes: number;
  /** @default 1048576 */
  maxQueuedBytes: number;
  /** @default 100 */
  historySize: number;
  /** @default 300000 (300 s) */
  historyTtlMs: number;
  /** History bytes kept across all channels; past it the oldest history is evicted. @default 67108864 (64 MiB) */
  maxHistoryBytes: number;
  /** Channels held at once (and created in Redis per relay); past it idle ones are reclaimed. @default 100000 */
  maxChannels: number;
  /** HS256 secret (at least 32 bytes); with it or `jwtPublicKey`, every subscribe and publish needs a token. */
  jwtSecret: string | null;
  /** PEM file of an ES256 or RS256 public key for verifying tokens (instead of, or besides, the HS256 secret). */
  jwtPublicKey: string | null;
  /**
   * Messages a connection may send per second (token bucket, burst of one second); past it, close 1008. 0 = off.
   * @default 1000
   */
  maxMessagesPerSecond: number;
  /** @default "memory" */
  broker: string;
  /** @default 128 */
  maxChannelsPerConnection: number;
  /** @default 30000 (30 s); 0 turns the heartbeat off */
  pingIntervalMs: number;
  /** @default 100000 */
  maxConnections: number;
  /** @default 1024 */
  maxConnectionsPerIp: number;
  /** A comment goes to every server-sent events stream this often, in ms; 0 = off. @default 15000 (15 s) */
  sseKeepaliveMs: number;
  /** Serve the demo chat page at `GET /` (`/client.js` is served either way). @default true */
  demo: boolean;
  /** Offer permessage-deflate (RFC 7692) to WebSocket clients. @default false */
  deflate: boolean;
  /** Outgoing messages smaller than this many bytes are sent uncompressed. @default 1024 */
  deflateThreshold: number;
  /** zlib level of outgoing compressed messages, 0–9. @default 1 */
  deflateLevel: number;
  /** A hook (library use) that answers later than this fails closed. @default 5000 (5 s) */
  hookTimeoutMs: number;
  /** Channel patterns with presence (who is there, join/leave pushes); empty = off. @default [] */
  presence: string[];
  /** Users per presence channel; a new one past it gets `presence_full`. @default 1000 */
  presenceMaxMembers: number;
  /** Redis broker: a dead node's presence entries expire after this (ms), its users leave within 4/3 of it. @default 15000 */
  presenceTtlMs: number;
  /** Port of the operators' listener (`/metrics`, `/healthz`, `/readyz`); null = none. @default null */
  internalPort: number | null;
  /** @default "127.0.0.1" */
  internalHost: string;
  /** @default "text" */
  logFormat: LogFormat;
  /** @default "info" */
  logLevel: LogLevel;
  /** On SIGTERM, sessions are ended spread over this many ms. @default 10000 (10 s) */
  drainTimeoutMs: number;
  /** Addresses of reverse proxies whose `X-Forwarded-*` headers are believed. @default [] */
  trustProxy: string[];
  /** `Host` names the relay answers to; empty = any. @default [] */
  allowedHosts: string[];
  /** Channel patterns whose messages carry the publisher's token `sub`. @default [] (none) */
  exposePublisher: string[];
}

/** Shortest `--presence-ttl` (ms): the Redis presence refreshes and sweeps every third of it. */
export const MIN_PRESENCE_TTL_MS = 300;

/** Shortest HS256 secret accepted (256 bits, RFC 7518 §3.2). */
export const MIN_JWT_SECRET_BYTES = 32;

/** A flag or value the relay cannot run with. main.ts prints the message and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Kind = "int" | "size" | "duration" | "string" | "bool" | "list" | "host" | "port";

interface FlagSpec {
  key: keyof Config;
  kind: Kind;
  default: Config[keyof Config];
  help: string;
  min?: number;
  max?: number;
}

/** The contract's flags, in the order `--help` prints them. */
export const FLAGS: Readonly<Record<string, FlagSpec>> = Object.freeze({
  "port": { key: "port", kind: "port", default: 8080, help: "TCP port (0 = any free port)" },
  "host": { key: "host", kind: "host", default: "0.0.0.0", help: "listen address" },
  "tls-cert": {
    key: "tlsCert",
    kind: "string",
    default: null,
    help: "PEM certificate chain file (https/wss)",
  },
  "tls-key": { key: "tlsKey", kind: "string", default: null, help: "PEM private key file" },
  "allowed-origins": {
    key: "allowedOrigins",
    kind: "list",
    default: [],
    help:
      "comma list of exact origins allowed to open WebSockets; empty = the relay's own origin only; * = any; null = file:// pages (opt-in, development)",
  },
  "require-origin": {
    key: "requireOrigin",
    kind: "bool",
    default: false,
    help: "refuse upgrades without Origin",
  },
  "max-message-bytes": {
    key: "maxMessageBytes",
    kind: "size",
    default: 1048576,
    min: 1,
    help: "largest message (WebSocket 1009, HTTP 413)",
  },
  "max-queued-bytes": {
    key: "maxQueuedBytes",
    kind: "size",
    default: 1048576,
    min: 1,
    help: "per-connection send queue; past it the connection is closed with 1013",
  },
  "history-size": {
    key: "historySize",
    kind: "int",
    default: 100,
    min: 0,
    help: "messages kept per channel",
  },
  "history-ttl": {
    key: "historyTtlMs",
    kind: "duration",
    default: 300_000,
    help: "how long history is kept",
  },
  "max-history-bytes": {
    key: "maxHistoryBytes",
    kind: "size",
    default: 64 * 1024 * 1024,
    min: 1,
    help:
      "history kept across all channels (text 2 bytes per UTF-16 unit); past it the oldest is evicted, a message larger than it gets 503",
  },
  "max-channels": {
    key: "maxChannels",
    kind: "int",
    default: 100_000,
    min: 1,
    help:
      "channels held at once (and created in Redis by this relay); past it idle ones are reclaimed, else 503",
  },
  "jwt-secret": {
    key: "jwtSecret",
    kind: "string",
    default: null,
    help: "HS256 secret (at least 32 bytes); turns auth on",
  },
  "jwt-public-key": {
    key: "jwtPublicKey",
    kind: "string",
    default: null,
    help: "PEM file of an ES256/RS256 public key; turns auth on",
  },
  "max-messages-per-second": {
    key: "maxMessagesPerSecond",
    kind: "int",
    default: 1000,
    help:
      "messages a connection may send per second (burst: one second's worth); past it, close 1008; 0 = off",
  },
  "broker": {
    key: "broker",
    kind: "string",
    default: "memory",
    help:
      "memory; sqlite:PATH to keep history in a file across restarts; redis://host:port (rediss:// for TLS) to share channels across nodes",
  },
  "max-channels-per-connection": {
    key: "maxChannelsPerConnection",
    kind: "int",
    default: 128,
    min: 1,
    help: "envelope subscriptions per connection",
  },
  "ping-interval": {
    key: "pingIntervalMs",
    kind: "duration",
    default: 30_000,
    help: "server heartbeat; 0 = off",
  },
  "max-connections": {
    key: "maxConnections",
    kind: "int",
    default: 100_000,
    min: 1,
    help: "total connections",
  },
  "max-connections-per-ip": {
    key: "maxConnectionsPerIp",
    kind: "int",
    default: 1024,
    min: 1,
    help: "connections per client address",
  },
  "sse-keepalive": {
    key: "sseKeepaliveMs",
    kind: "duration",
    default: 15_000,
    help:
      "a comment line on every server-sent events stream this often (proxies close quiet streams); 0 = off",
  },
  "demo": {
    key: "demo",
    kind: "bool",
    default: true,
    help: "serve the demo chat page at GET / (off: 404; /client.js is served either way)",
  },
  "deflate": {
    key: "deflate",
    kind: "bool",
    default: false,
    help: "offer permessage-deflate to WebSocket clients (CPU per message; most relay traffic is small)",
  },
  "deflate-threshold": {
    key: "deflateThreshold",
    kind: "size",
    default: 1024,
    help: "with --deflate, messages smaller than this go out uncompressed",
  },
  "deflate-level": {
    key: "deflateLevel",
    kind: "int",
    default: 1,
    min: 0,
    max: 9,
    help: "with --deflate, zlib level 0-9 of outgoing messages (1: fastest that compresses)",
  },
  "hook-timeout": {
    key: "hookTimeoutMs",
    kind: "duration",
    default: 5_000,
    help: "a library hook that answers later than this fails closed (the request is refused)",
  },
  "presence": {
    key: "presence",
    kind: "list",
    default: [],
    help:
      "comma list of channel patterns with presence (room:*): who is there, join/leave pushes; empty = off",
  },
  "presence-max-members": {
    key: "presenceMaxMembers",
    kind: "int",
    default: 1000,
    min: 1,
    help: "users per presence channel; a new user past it is refused (presence_full)",
  },
  "presence-ttl": {
    key: "presenceTtlMs",
    kind: "duration",
    default: 15_000,
    help:
      "Redis broker: a dead node's users leave within 4/3 of this (entries expire, a sweeper publishes leaves)",
  },
  "internal-port": {
    key: "internalPort",
    kind: "port",
    default: null,
    help: "second listener for operators: /metrics (Prometheus), /healthz, /readyz (0 = any free port)",
  },
  "internal-host": {
    key: "internalHost",
    kind: "host",
    default: "127.0.0.1",
    help: "address of the --internal-port listener",
  },
  "log-format": {
    key: "logFormat",
    kind: "string",
    default: "text",
    help: "text, or json (one object per line)",
  },
  "log-level": { key: "logLevel", kind: "string", default: "info", help: "debug, info, warn or error" },
  "drain-timeout": {
    key: "drainTimeoutMs",
    kind: "duration",
    default: 10_000,
    help: "on SIGTERM, /readyz turns 503 and sessions are closed (1001) spread over this time, then exit 0",
  },
  "trust-proxy": {
    key: "trustProxy",
    kind: "list",
    default: [],
    help:
      "comma list of reverse-proxy addresses whose X-Forwarded-For (client address) and -Proto/-Host (own origin) are believed",
  },
  "allowed-hosts": {
    key: "allowedHosts",
    kind: "list",
    default: [],
    help: "comma list of Host names served (others get 403: DNS rebinding); empty = any",
  },
  "expose-publisher": {
    key: "exposePublisher",
    kind: "list",
    default: [],
    help:
      "comma list of channel patterns (room:*) whose messages carry the publisher: the sender's token sub, set by the relay",
  },
});

/** Syntax of sizes and durations, printed by `--help`. */
const UNIT_HELP = [
  "sizes: a byte count or a unit (64KiB, 1MiB, 20MB); durations: a unit (500ms, 30s, 5m, 1h), a bare number",
  "is seconds; lists: comma-separated; every flag is also a RELAY_* variable, a flag wins over its variable.",
];

/** `--port` → `RELAY_PORT`. */
export function envName(flag: string): string {
  return "RELAY_" + flag.toUpperCase().replaceAll("-", "_");
}

/** The usage text for `--help`. */
export function usage(): string {
  const lines = ["usage: edge-relay [--flag value]...   (--version, --help)", ""];
  for (const [flag, spec] of Object.entries(FLAGS)) {
    lines.push(`  --${flag.padEnd(30)} ${spec.help} (default ${formatDefault(spec)}; env ${envName(flag)})`);
  }
  lines.push("", ...UNIT_HELP);
  return lines.join("\n");
}

/**
 * A default as the flag takes it back: durations with a unit (`300s`, not the 300000 ms the config holds, which
 * a bare number would read as 3.5 days), sizes in their largest exact binary unit.
 */
export function formatDefault(spec: FlagSpec): string {
  const value = spec.default;
  if (value === null) return "none";
  if (Array.isArray(value)) return value.length === 0 ? "empty" : value.join(",");
  if (typeof value === "number" && spec.kind === "duration") {
    return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
  }
  if (typeof value === "number" && spec.kind === "size") {
    for (const [unit, bytes] of [["MiB", 1024 * 1024], ["KiB", 1024]] as const) {
      if (value >= bytes && value % bytes === 0) return `${value / bytes}${unit}`;
    }
  }
  return String(value);
}

/**
 * `RELAY_*` variables that are no flag's: a typo (`RELAY_ALLOWED_ORIGIN`) would otherwise be ignored without
 * a word while the relay runs with the default. main.ts warns about each.
 */
export function unknownRelayVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set(Object.keys(FLAGS).map(envName));
  return Object.keys(env).filter((name) => name.startsWith("RELAY_") && !known.has(name)).sort();
}

/** The effective policy in a few fields, for the one start-up line: origins, auth, broker, changed limits. */
export function policySummary(config: Config): Record<string, string> {
  const origins = config.allowedOrigins.length === 0 ? "own" : config.allowedOrigins.join(",");
  const summary: Record<string, string> = {
    version: VERSION,
    runtime: runtimeName(),
    origins,
    auth: config.jwtSecret !== null || config.jwtPublicKey !== null ? "on" : "off",
    broker: config.broker.startsWith("redis") ? redactUrl(config.broker) : config.broker,
  };
  if (config.trustProxy.length > 0) summary.trustProxy = config.trustProxy.join(",");
  if (config.allowedHosts.length > 0) summary.allowedHosts = config.allowedHosts.join(",");
  // Every other setting that differs from its default, as its flag would spell it.
  const shown = new Set([
    "allowedOrigins",
    "jwtSecret",
    "jwtPublicKey",
    "broker",
    "trustProxy",
    "allowedHosts",
  ]);
  for (const [flag, spec] of Object.entries(FLAGS)) {
    if (shown.has(spec.key) || flag === "port" || flag === "host" || flag.startsWith("log-")) continue;
    const value = config[spec.key];
    const text = formatDefault({ ...spec, default: value as Config[keyof Config] });
    if (text !== formatDefault(spec)) summary[flag] = text;
  }
  return summary;
}

/** `redis://user:pass@host:6379` → `redis://host:6379`: a password never reaches the log. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(invalid)";
  }
}

/**
 * Builds the config from command-line arguments (`--flag value` or `--flag=value`) over `RELAY_*`
 * environment variables over defaults.
 * @throws {ConfigError} naming the flag for anything unknown or invalid.
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Config {
  const config = {} as Record<keyof Config, unknown>;
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const fromEnv = env[envName(flag)];
    config[spec.key] = fromEnv === undefined || fromEnv === ""
      ? spec.default
      : parseValue(`${envName(flag)}`, spec, fromEnv);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    // `deno task start -- --port 80` and similar pass the separator through: it means nothing here.
    if (arg === "--") continue;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument '${arg}' (flags start with --)`);
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.hasOwn(FLAGS, flag) ? FLAGS[flag] : undefined;
    if (!spec) throw new ConfigError(`unknown flag --${flag} (see --help)`);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.kind === "bool" && (i + 1 >= args.length || args[i + 1].startsWith("--"))) value = "true";
    else if (i + 1 < args.length) value = args[++i];
    else throw new ConfigError(`--${flag} needs a value`);
    config[spec.key] = parseValue(`--${flag}`, spec, value);
  }
  return checkConfig(config as unknown as Config, (flag) => `--${flag}`);
}

/**
 * Every flag as a camelCase option of `createRelay` (`--max-message-bytes` → `maxMessageBytes`,
 * `--history-ttl` → `historyTtl`), plus `hostname` for `host`. A value is what the flag takes: text as on the
 * command line (`"64KiB"`, `"30s"`, `"true"`), or a number (sizes in bytes, durations in seconds, as a bare
 * number on the command line), a boolean, or an array for a comma list. Unset options take the defaults;
 * `RELAY_*` variables are not read.
 */
export interface RelayConfigOptions {
  port?: number | string;
  host?: string;
  /** The same as `host` (the name the runtimes' own serve functions use); give one of them. */
  hostname?: string;
  tlsCert?: string | null;
  tlsKey?: string | null;
  allowedOrigins?: string | readonly string[];
  requireOrigin?: boolean | string;
  maxMessageBytes?: number | string;
  maxQueuedBytes?: number | string;
  historySize?: number | string;
  historyTtl?: number | string;
  maxHistoryBytes?: number | string;
  maxChannels?: number | string;
  jwtSecret?: string | null;
  jwtPublicKey?: string | null;
  maxMessagesPerSecond?: number | string;
  broker?: string;
  maxChannelsPerConnection?: number | string;
  pingInterval?: number | string;
  maxConnections?: number | string;
  maxConnectionsPerIp?: number | string;
  sseKeepalive?: number | string;
  deflate?: boolean | string;
  deflateThreshold?: number | string;
  deflateLevel?: number | string;
  hookTimeout?: number | string;
  presence?: string | readonly string[];
  presenceMaxMembers?: number | string;
  presenceTtl?: number | string;
  demo?: boolean | string;
  internalPort?: number | string | null;
  internalHost?: string;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  drainTimeout?: number | string;
  trustProxy?: string | readonly string[];
  allowedHosts?: string | readonly string[];
  exposePublisher?: string | readonly string[];
}

/** `max-message-bytes` → `maxMessageBytes`: the option name of a flag. */
export function optionName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Option name → flag, built once from {@link FLAGS}. */
const FLAG_OF_OPTION: ReadonlyMap<string, string> = new Map(
  Object.keys(FLAGS).map((flag) => [optionName(flag), flag]),
);

/**
 * Builds the config from `createRelay`'s options, each validated exactly as its flag is (the same message,
 * naming the option): `maxQueuedBytes: "lots"` fails as `--max-queued-bytes lots` does.
 * @throws {ConfigError} for an unknown option or an invalid value.
 */
export function configFromOptions(options: Readonly<Record<string, unknown>>): Config {
  const config = {} as Record<keyof Config, unknown>;
  for (const spec of Object.values(FLAGS)) config[spec.key] = spec.default;
  const given = { ...options };
  if (given.hostname !== undefined) {
    if (given.host !== undefined) throw new ConfigError("give host or hostname, not both");
    given.host = given.hostname;
  }
  delete given.hostname;
  for (const [name, value] of Object.entries(given)) {
    const flag = FLAG_OF_OPTION.get(name);
    if (flag === undefined) {
      throw new ConfigError(`unknown option ${name} (options are the flags in camelCase)`);
    }
    if (value === undefined) continue;
    const spec = FLAGS[flag];
    if (value === null && spec.default === null) continue;
    config[spec.key] = parseValue(name, spec, optionText(name, value));
  }
  return checkConfig(config as unknown as Config, optionName);
}

/** An option's value as the text its flag would take. */
function optionText(name: string, value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.join(",");
  throw new ConfigError(
    `${name}: expected a string, number, boolean or list of strings, got ${typeof value}`,
  );
}

/** The checks across flags, naming each flag as `nameOf` says (`--tls-cert` or `tlsCert`). */
function checkConfig(result: Config, nameOf: (flag: string) => string): Config {
  // Refresh and sweep run every third of it: shorter would be a Redis call storm, not a faster leave.
  if (result.presenceTtlMs < MIN_PRESENCE_TTL_MS) {
    throw new ConfigError(`${nameOf("presence-ttl")}: at least ${MIN_PRESENCE_TTL_MS}ms`);
  }
  if ((result.tlsCert === null) !== (result.tlsKey === null)) {
    throw new ConfigError(`${nameOf("tls-cert")} and ${nameOf("tls-key")} must be given together`);
  }
  // RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash output, 256 bits.
  if (result.jwtSecret !== null && new TextEncoder().encode(result.jwtSecret).length < MIN_JWT_SECRET_BYTES) {
    throw new ConfigError(
      `${nameOf("jwt-secret")}: must be at least ${MIN_JWT_SECRET_BYTES} bytes (RFC 7518 §3.2)`,
    );
  }
  if (result.broker !== "memory") {
    try {
      if (isSqliteSpec(result.broker)) parseSqliteSpec(result.broker);
      else parseRedisUrl(result.broker);
    } catch (error) {
      throw new ConfigError(
        `${nameOf("broker")}: expected memory, sqlite:PATH or redis://host:port (rediss:// for TLS), got ${
          (error as Error).message
        }`,
      );
    }
  }
  if (!(LOG_FORMATS as readonly string[]).includes(result.logFormat)) {
    throw new ConfigError(
      `${nameOf("log-format")}: expected ${LOG_FORMATS.join(" or ")}, got '${result.logFormat}'`,
    );
  }
  if (!isLogLevel(result.logLevel)) {
    throw new ConfigError(
      `${nameOf("log-level")}: expected one of ${LOG_LEVELS.join(", ")}, got '${result.logLevel}'`,
    );
  }
  for (const address of result.trustProxy) {
    if (!/^[0-9.]{7,15}$|^[0-9a-f:.]*:[0-9a-f:.]*$/.test(normalizeAddress(address))) {
      throw new ConfigError(`${nameOf("trust-proxy")}: '${address}' is not an IP address`);
    }
  }
  for (const host of result.allowedHosts) {
    if (!/^[A-Za-z0-9.\-\[\]:]{1,253}$/.test(host)) {
      throw new ConfigError(`${nameOf("allowed-hosts")}: '${host}' is not a host name`);
    }
  }
  for (const pattern of result.exposePublisher) {
    if (!/^[A-Za-z0-9._:*-]{1,128}$/.test(pattern)) {
      throw new ConfigError(
        `${nameOf("expose-publisher")}: '${pattern}' is not a channel pattern (channel characters and *)`,
      );
    }
  }
  for (const origin of result.allowedOrigins) {
    // `null`: the opaque origin of file:// pages, allowed only when listed (see access/origin.ts).
    if (origin === "null") continue;
    if (origin !== "*" && normalizeOrigin(origin) !== origin) {
      throw new ConfigError(
        `${
          nameOf("allowed-origins")
        }: '${origin}' is not an origin (scheme://host[:port], lower case, no path)`,
      );
    }
  }
  return result;
}

/** `https://Example.com:443/` → `https://example.com`; null when the text is not an http(s) origin. */
export function normalizeOrigin(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  return url.origin === text ? text : url.origin;
}

function parseValue(name: string, spec: FlagSpec, raw: string): unknown {
  const value = raw.trim();
  switch (spec.kind) {
    case "string":
      if (value === "") throw new ConfigError(`${name}: expected a value`);
      return value;
    case "bool":
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      throw new ConfigError(`${name}: expected true or false, got '${raw}'`);
    case "list":
      return value === "" ? [] : value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    case "host":
      if (value === "" || /[\s/]/.test(value)) {
        throw new ConfigError(`${name}: expected an address, got '${raw}'`);
      }
      return value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
    case "port": {
      const n = parseInteger(value);
      if (n === null || n > 65535) throw new ConfigError(`${name}: expected a port 0-65535, got '${raw}'`);
      return n;
    }
    case "int": {
      const n = parseInteger(value);
      if (n === null || n < (spec.min ?? 0) || n > (spec.max ?? Infinity)) {
        const range = spec.max === undefined ? `>= ${spec.min ?? 0}` : `${spec.min ?? 0}-${spec.max}`;
        throw new ConfigError(`${name}: expected an integer ${range}, got '${raw}'`);
      }
      return n;
    }
    case "size": {
      const n = parseSize(value);
      if (n === null || n < (spec.min ?? 0)) {
        throw new ConfigError(`${name}: expected a size in bytes (e.g. 1048576, 64KiB, 1MiB), got '${raw}'`);
      }
      return n;
    }
    case "duration": {
      const n = parseDuration(value);
      if (n === null) {
        throw new ConfigError(`${name}: expected a duration (e.g. 30s, 500ms, 5m), got '${raw}'`);
      }
      return n;
    }
  }
}

function parseInteger(text: string): number | null {
  if (!/^\d{1,15}$/.test(text)) return null;
  return Number(text);
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 * 1024 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `1048576`, `64KiB`, `1MiB`, `20MB` → bytes. */
export function parseSize(text: string): number | null {
  const m = /^(\d{1,15})\s*([a-zA-Z]*)$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** `30s`, `500ms`, `5m`, `1h`; a bare number is seconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,12}(?:\.\d{1,3})?)\s*(ms|s|m|h)?$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]);
}
