/**
 * The Hono app: every HTTP request is routed here and every upgrade is decided here.
 * @module
 */
import { Hono } from "hono";
import type { RequestInfo } from "../http/mod.ts";
import { apiError } from "../protocol/mod.ts";

/** Hono environment of the relay: `c.env` is the HTTP layer's per-request info (peer, TLS, upgrade slot). */
export type RelayEnv = { Bindings: RequestInfo };

/** The relay's Hono app, as the library hands it to applications for their routes and middleware. */
export type RelayApp = Hono<RelayEnv>;

/** What the app needs from the rest of the relay. */
export interface AppDeps {
  /** False while the broker cannot store messages (`/readyz` answers 503). */
  ready(): boolean;
  /** Adds the WebSocket and channel routes (kept apart so this file stays the app's skeleton). */
  routes?(app: Hono<RelayEnv>): void;
  /** A route threw (a bug): reported here (the relay's logger) and answered 500. */
  onError?(error: Error, method: string, path: string): void;
}

/**
 * Builds the relay's Hono app. The secure headers and the CSP are not set here: the HTTP server adds them to
 * every response it writes (`securityHeaderList` in `access/secure_headers.ts`, passed as its `defaultHeaders`), so no
 * middleware runs per request for them.
 */
export function createApp(deps: AppDeps): Hono<RelayEnv> {
  const app = new Hono<RelayEnv>();

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get(
    "/readyz",
    (c) =>
      deps.ready()
        ? c.json({ status: "ready" })
        : c.json({ status: "unavailable", message: "broker unreachable" }, 503),
  );
  deps.routes?.(app);

  app.notFound((c) => apiError("not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    deps.onError?.(error, c.req.method, c.req.path);
    return apiError("internal", "internal server error");
  });
  return app;
}
