/**
 * Every relay route on the app: the WebSocket upgrades, the HTTP channel API and the event streams.
 * @module
 */
import type { Hono } from "hono";
import type { RelayEnv } from "./app.ts";
import { addChannelRoutes, type ChannelRouteOptions } from "./channel_routes.ts";
import { addPresenceRoutes } from "./presence_routes.ts";
import { addWebSocketRoutes, type WebSocketRouteOptions } from "./websocket_routes.ts";
import { addSseRoutes, type SseRouteOptions } from "./sse_routes.ts";
import { addDemoRoutes, type DemoRouteOptions } from "./demo_routes.ts";

/** What the routes need besides the relay core. */
export type RouteOptions = ChannelRouteOptions & WebSocketRouteOptions & SseRouteOptions & DemoRouteOptions;

/** Adds every relay route to the app. */
export function addRelayRoutes(app: Hono<RelayEnv>, options: RouteOptions): void {
  addWebSocketRoutes(app, options);
  addChannelRoutes(app, options);
  addPresenceRoutes(app, options);
  // After the channel routes: their CORS middleware on `/channels/*` must run before the stream route.
  addSseRoutes(app, options);
  addDemoRoutes(app, options);
}
