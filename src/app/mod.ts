/**
 * The Hono app: every HTTP request is routed here and every upgrade is decided here.
 * @module
 */
export { type AppDeps, createApp, type RelayApp, type RelayEnv } from "./app.ts";
export { addRelayRoutes, type RouteOptions } from "./routes.ts";
