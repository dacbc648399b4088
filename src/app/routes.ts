/**
 * Every relay route on the app: the WebSocket upgrades and the HTTP channel API.
 * @module
 */
import type { Hono } from "hono";
import type { RelayEnv } from "./app.ts";
import { addChannelRoutes, type ChannelRouteOptions } from "./channel_routes.ts";
import { addWebSocketRoutes, type WebSocketRouteOptions } from "./websocket_routes.ts";

/** What the routes need besides the relay core. */
export type RouteOptions = ChannelRouteOptions & WebSocketRouteOptions;

/** Adds every relay route to the app. */
export function addRelayRoutes(app: Hono<RelayEnv>, options: RouteOptions): void {
  addWebSocketRoutes(app, options);
  addChannelRoutes(app, options);
}
