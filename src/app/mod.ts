/**
 * The Hono app: every HTTP request is routed here and every upgrade is decided here.
 * @module
 */
export { type AppDeps, createApp, type RelayApp, type RelayEnv } from "./app.ts";
export { addRelayRoutes, type RouteOptions } from "./routes.ts";
export { createInternalApp, type InternalAppDeps } from "./internal_app.ts";
export {
  addOperationGates,
  DRAIN_RETRY_AFTER_SECONDS,
  MAX_REFUSAL_LOG_LINES_PER_SECOND,
  type OperationsOptions,
} from "./operations.ts";
