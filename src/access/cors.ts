/**
 * CORS for the HTTP API, from the same Origin policy as WebSocket upgrades: a browser page may read the API's
 * answers exactly when it could open a WebSocket to the relay.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { OriginVerdict } from "./origin.ts";
import { ownOriginOf } from "./trusted_proxy.ts";

/** How long browsers may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * Hono middleware answering CORS (and preflights) for the origins `checkOrigin` allows. Requests without an
 * `Origin` header are not CORS requests and pass unchanged; a refused origin gets no `Access-Control-*`
 * headers, so the browser withholds the answer. Tokens travel in `Authorization`, never in cookies, so
 * credentials are not allowed.
 */
export function corsPolicy(
  checkOrigin: (origin: string | null, ownOrigin: string) => OriginVerdict,
): MiddlewareHandler {
  return cors({
    // The own origin as the Origin check of upgrades sees it (a trusted proxy's forwarded origin included).
    origin: (origin, c) => checkOrigin(origin, ownOriginOf(c.env, c.req.url)).ok ? origin : null,
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type"],
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
}
