/**
 * The relay's logger: leveled lines with structured fields, as JSON Lines (`--log-format json`: one object per
 * line with `time`, `level`, `message` and the fields) or as human text (the default). Hand-written rather
 * than LogTape: LogTape is configured once per process (a relay embedded as a library beside an application
 * that configures its own logging, or two relays in one test process, would fight over it), and the relay
 * needs only four levels, two formats and one sink, about a hundred lines with no dependency.
 *
 * Never pass a token, a secret or a message payload as a field: fields named like credentials are redacted
 * anyway ({@link REDACTED_FIELDS}), and `tests/e2e/logs_test.ts` greps the relay's output for them.
 * @module
 */

/** Severities, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** `--log-format`: `text` for people, `json` for log pipelines. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

/** What a line may carry besides its message. An `error` field is reduced to its name and message. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where lines go; each call gets one whole line without its line break. */
export type LogWrite = (line: string, level: LogLevel) => void;

/** What every layer is handed. `enabled` lets a caller skip building fields of a line that would be dropped. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line (a component's name, a connection id). */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** @default "text" */
  format?: LogFormat;
  /** Lines below this level are dropped. @default "info" */
  level?: LogLevel;
  /** @default one line to stderr (stdout stays for the `listening on` lines) */
  write?: LogWrite;
  /** @default Date.now */
  now?: () => number;
}

/** Field names whose values are never written, whatever a caller passes: they would hold credentials. */
export const REDACTED_FIELDS: ReadonlySet<string> = new Set([
  "token",
  "authorization",
  "secret",
  "password",
  "cookie",
  "jwt",
]);

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** True for `debug`, `info`, `warn`, `error`. */
export function isLogLevel(text: string): text is LogLevel {
  return Object.hasOwn(RANK, text);
}

/**
 * Builds a logger.
 * @example
 * ```ts
 * const log = createLogger({ format: "json", level: "debug" });
 * log.warn("upgrade refused", { reason: "origin", remote: "203.0.113.9" });
 * // {"time":"2026-01-01T00:00:00.000Z","level":"warn","message":"upgrade refused","reason":"origin",…}
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const min = RANK[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  const render = format === "json" ? jsonLine : textLine;
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const all = fields === undefined ? base : { ...base, ...fields };
      write(render(new Date(now()).toISOString(), level, message, all), level);
    };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      enabled: (level) => RANK[level] >= min,
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make({});
}

/** A logger that drops everything (unit tests, library use without logging). */
export const SILENT_LOGGER: Logger = createLogger({ level: "error", write: () => {} });

function writeStderr(line: string): void {
  // node:process is in both runtimes; its stderr write is synchronous for files and pipes on both.
  (globalThis as { process?: { stderr: { write(text: string): unknown } } }).process?.stderr.write(
    line + "\n",
  );
}

/** `{"time":…,"level":…,"message":…,…fields}`: the three keys first and never overridden by a field. */
function jsonLine(time: string, level: LogLevel, message: string, fields: LogFields): string {
  const out: Record<string, unknown> = { time, level, message };
  for (const key in fields) {
    if (key === "time" || key === "level" || key === "message") continue;
    const value = fieldValue(key, fields[key]);
    if (value !== undefined) out[key] = value;
  }
  return JSON.stringify(out);
}

/**
 * `2026-01-01T00:00:00.000Z edge-relay: warning: upgrade refused reason=origin`: the `edge-relay:` prefix the
 * relay always printed, after a timestamp, with `key=value` fields (values with spaces or quotes JSON-quoted).
 */
function textLine(time: string, level: LogLevel, message: string, fields: LogFields): string {
  let line = `${time} edge-relay: ${
    level === "info" ? "" : `${level === "warn" ? "warning" : level}: `
  }${message}`;
  for (const key in fields) {
    const value = fieldValue(key, fields[key]);
    if (value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    line += ` ${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
  }
  return line;
}

function fieldValue(key: string, value: unknown): unknown {
  if (REDACTED_FIELDS.has(key.toLowerCase())) return "[redacted]";
  if (value instanceof Error) return describeError(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** `Error: connection handler threw (cause: TypeError: x)`: the chain of causes, bounded. */
function describeError(error: Error): string {
  let text = `${error.name}: ${error.message}`;
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    text += ` (cause: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)})`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}
