/**
 * The relay's client, for browsers, Deno and Bun: WebSocket (envelope mode) first, server-sent events and HTTP
 * publishes where WebSockets cannot pass; reconnects, resumes every subscription without a silent gap, and
 * says when it could not (`recovered: false`). No dependencies; the relay serves it bundled as `/client.js`.
 *
 * @example
 * ```js
 * import { connect } from "/client.js";
 * const relay = connect("http://localhost:8080", { transports: ["websocket", "sse"] });
 * relay.on("state", ({ state }) => console.log(state, relay.transport));
 * const sub = relay.subscribe("room");
 * sub.on("subscribed", ({ seq, epoch, recovered, resumed }) => {});
 * sub.on("message", ({ channel, seq, text, binary }) => {});
 * const { seq } = await relay.publish("room", "hello");
 * sub.unsubscribe();
 * relay.close();
 * ```
 * @module
 */
export { connect, RelayClient } from "./relay_client.ts";
export { Subscription } from "./subscription.ts";
export { backoffDelay } from "./backoff.ts";
export { DEAD_CONNECTION_CODE } from "./websocket_link.ts";
export * from "./types.ts";
