/**
 * The relay as a library: `createRelay(options)` with every flag as a camelCase option (validated by the same
 * code, with the same messages) and the application's hooks; the Hono app to add routes and middleware to;
 * `listen()`, `publish()` and `stop()`. The command (`main.ts`) is one user of it.
 * @module
 */
import { readFile } from "node:fs/promises";
import type { RelayApp } from "./app/mod.ts";
import { type Config, configFromOptions, type RelayConfigOptions } from "./config.ts";
import { CHANNEL_RULE, textFitsEnvelope } from "./protocol/mod.ts";
import { isValidChannelName } from "./pubsub/mod.ts";
import type { RelayHooks } from "./relay/mod.ts";
import { loadRuntime } from "./runtime/mod.ts";
import { prepareRelay, type RunningRelay } from "./start.ts";

/** `createRelay`'s options: every flag in camelCase, and the hooks. */
export interface CreateRelayOptions extends RelayConfigOptions {
  /** The application's code at the relay's decisions (see docs/library.md). */
  hooks?: RelayHooks;
}

/** Options of {@link EdgeRelay.publish}. */
export interface PublishOptions {
  /** Who the message is from, as a token's `sub` would say (shown on `exposePublisher` channels only). */
  publisher?: string;
}

/** A relay made by {@link createRelay}. */
export interface EdgeRelay {
  /** The Hono app the relay serves: add routes and middleware before `listen()`. */
  readonly app: RelayApp;
  /** The validated configuration. */
  readonly config: Readonly<Config>;
  /**
   * Adds the relay's routes after the application's and listens; `url` has the real port, `internalUrl` is the
   * operators' listener (`internalPort`), or null. At most once.
   */
  listen(): Promise<{ url: string; internalUrl: string | null }>;
  /**
   * Publishes from server code, as an HTTP publish would (no rate limit, no hook: the server is trusted), and
   * resolves once the broker stored it.
   * @throws {TypeError} for a channel name outside the rule.
   * `options.publisher` names who the message is from (the server's word: it is trusted, like the message);
   * subscribers see it only on channels matched by `exposePublisher`, as for a client's publish.
   * @throws {TypeError} for a channel name outside the rule.
   * @throws {RangeError} for a message larger than `maxMessageBytes` (text counted JSON-escaped), or a
   * publisher longer than 128 characters on a channel that shows publishers.
   */
  publish(
    channel: string,
    data: string | Uint8Array,
    options?: PublishOptions,
  ): Promise<{ seq: number }>;
  /** Closes every connection (WebSocket 1001), finishes in-flight responses, closes the broker. */
  stop(): Promise<void>;
  /**
   * Stops as a deploy should: `/readyz` 503 and new upgrades and streams refused with 503 at once, sessions
   * ended spread over `drainTimeout`, then {@link stop}.
   */
  drain(): Promise<void>;
}

/**
 * Creates a relay (broker, keys and app ready, not yet listening).
 *
 * @example
 * ```ts
 * import { createRelay } from "edge-relay";
 * const relay = await createRelay({
 *   port: 0, hostname: "127.0.0.1",
 *   hooks: { onPublish: ({ text }) => text?.includes("spam") ? false : undefined },
 * });
 * relay.app.get("/hello", async (c) => { await relay.publish("news", "from server"); return c.text("hi"); });
 * const { url } = await relay.listen();
 * ```
 * @throws {ConfigError} for an unknown option or an invalid value, with the flag's message.
 */
export function createRelay(options: CreateRelayOptions = {}): Promise<EdgeRelay> {
  const { hooks, ...flags } = options;
  let config: Config;
  try {
    config = configFromOptions(flags as Record<string, unknown>);
  } catch (error) {
    return Promise.reject(error);
  }
  return relayOf(config, hooks);
}

/** The relay of a validated configuration: `createRelay` after its options, the command after its flags. */
export async function relayOf(config: Config, hooks?: RelayHooks): Promise<EdgeRelay> {
  const runtime = await loadRuntime();
  const prepared = await prepareRelay(config, runtime, (path) => readFile(path, "utf8"), hooks);
  let running: RunningRelay | null = null;
  return {
    app: prepared.app,
    config,
    listen() {
      try {
        running ??= prepared.listen();
      } catch (error) {
        return Promise.reject(error);
      }
      return Promise.resolve({ url: running.url, internalUrl: running.internalUrl });
    },
    async publish(channel, data, options = {}) {
      if (!isValidChannelName(channel)) throw new TypeError(`bad channel name: ${CHANNEL_RULE}`);
      const publisher = options.publisher ?? null;
      if (publisher !== null && typeof publisher !== "string") {
        throw new TypeError("publisher must be a string");
      }
      if (!prepared.relay.canAttribute(channel, publisher)) {
        throw new RangeError("a publisher shown to subscribers is at most 128 characters");
      }
      if (
        typeof data === "string"
          ? !textFitsEnvelope(data, config.maxMessageBytes)
          : data.length > config.maxMessageBytes
      ) {
        throw new RangeError(
          `messages are at most ${config.maxMessageBytes} bytes (text counted as JSON-escaped)`,
        );
      }
      const message = await prepared.relay.publish(channel, data, publisher);
      return { seq: message.seq };
    },
    stop: () => prepared.stop(),
    drain: () => prepared.drain(),
  };
}
