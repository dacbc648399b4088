/**
 * Edge Relay as a library: create a relay with the same options as the command's flags (in camelCase), add
 * routes and middleware to its Hono app, publish from server code, and decide or observe with hooks. The same
 * code runs on Deno and Bun. See docs/library.md.
 *
 * @example
 * ```ts
 * import { createRelay } from "edge-relay";
 * const relay = await createRelay({
 *   port: 0, hostname: "127.0.0.1",
 *   hooks: { onPublish: ({ channel, text }) => text?.includes("spam") ? false : undefined },
 * });
 * relay.app.get("/hello", async (c) => { await relay.publish("news", "from server"); return c.text("hi"); });
 * const { url } = await relay.listen(); // then relay.stop()
 * ```
 * @module
 */
export { createRelay, type CreateRelayOptions, type EdgeRelay, type PublishOptions } from "./src/library.ts";
export { type Config, ConfigError, type RelayConfigOptions } from "./src/config.ts";
export type {
  AuthorizeContext,
  AuthorizeResult,
  ClientInfo,
  HookRejection,
  HookTransport,
  PublishContext,
  PublishResult,
  RelayHooks,
  SubscribeContext,
  SubscribeResult,
} from "./src/relay/mod.ts";
export type { RelayApp, RelayEnv } from "./src/app/mod.ts";
