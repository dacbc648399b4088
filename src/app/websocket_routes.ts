/**
 * The WebSocket upgrades: raw mode on `GET /ws/:channel` and envelope mode (`relay.v1`) on `GET /ws`. Raw
 * upgrades need `subscribe` on the channel; every upgrade passes the Origin policy first.
 * @module
 */
import type { Hono } from "hono";
import { OPEN_ACCESS, type Permissions } from "../access/mod.ts";
import { ENVELOPE_PROTOCOL } from "../protocol/mod.ts";
import { isValidChannelName } from "../pubsub/mod.ts";
import type { ClientInfo, Relay, SessionPolicy } from "../relay/mod.ts";
import { acceptWebSocket, envelopeWebSocketEvents, rawWebSocketEvents } from "../transports/mod.ts";
import type { WebSocketOptions } from "../websocket/mod.ts";
import type { RelayEnv } from "./app.ts";
import { admitClient } from "./hook_access.ts";
import { type AccessOptions, authorized, badChannel, forbidden, refuseOrigin } from "./request_access.ts";

/** What the upgrade routes need. */
export interface WebSocketRouteOptions extends AccessOptions {
  relay: Relay;
  /** Per-connection WebSocket limits. */
  websocket: Partial<WebSocketOptions>;
  /** Messages a client may send per second (burst: one second's worth); 0 = no limit. */
  maxMessagesPerSecond: number;
  /** Largest message in bytes (1009 past it). */
  maxMessageBytes: number;
}

/** Adds `GET /ws/:channel` and `GET /ws`. */
export function addWebSocketRoutes(app: Hono<RelayEnv>, options: WebSocketRouteOptions): void {
  const { relay } = options;
  // One policy object shared by every connection of an open relay.
  const openPolicy: SessionPolicy = {
    permissions: OPEN_ACCESS,
    maxMessagesPerSecond: options.maxMessagesPerSecond,
    maxMessageBytes: options.maxMessageBytes,
  };
  const policy = (permissions: Permissions, client: ClientInfo | null): SessionPolicy =>
    client !== null
      ? { ...openPolicy, permissions, client }
      : permissions === OPEN_ACCESS
      ? openPolicy
      : { ...openPolicy, permissions };

  app.get("/ws/:channel", (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel();
    const refused = refuseOrigin(c, options);
    if (refused !== null) return refused;
    return authorized(c, options, (permissions) => {
      if (!permissions.canSubscribe(channel)) return forbidden("subscribe to", channel);
      return admitClient(
        c,
        relay,
        "websocket",
        permissions,
        [channel],
        true,
        (client) =>
          acceptWebSocket(c, rawWebSocketEvents(relay, channel, policy(permissions, client)), {
            limits: options.websocket,
          }),
      );
    });
  });

  app.get("/ws", (c) => {
    const refused = refuseOrigin(c, options);
    if (refused !== null) return refused;
    return authorized(
      c,
      options,
      (permissions) =>
        admitClient(
          c,
          relay,
          "envelope",
          permissions,
          [],
          false,
          (client) =>
            acceptWebSocket(c, envelopeWebSocketEvents(relay, policy(permissions, client)), {
              protocols: [ENVELOPE_PROTOCOL],
              requireKnownProtocol: true,
              limits: options.websocket,
            }),
        ),
    );
  });
}
