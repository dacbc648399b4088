/**
 * `GET /client.js` (the browser client, always served: apps on other origins import it) and `GET /` (the demo
 * chat page, unless `--demo off`). Both come from memory: the compiled binary reads no file to serve them.
 * @module
 */
import { createHash } from "node:crypto";
import type { Hono } from "hono";
import type { RelayEnv } from "./app.ts";
import { CLIENT_JS, connectSources, demoPage, newNonce, pageCsp } from "./pages/mod.ts";
import type { AccessOptions } from "./request_access.ts";

/** What the page routes need. */
export interface DemoRouteOptions extends AccessOptions {
  /** The demo page's settings; null when `--demo off`. */
  demo?: { allowedOrigins: readonly string[] } | null;
}

/** The client's validator: browsers revalidate (`no-cache`) and get a 304 while it is the same build. */
const CLIENT_ETAG = `"${createHash("sha256").update(CLIENT_JS).digest("base64url").slice(0, 22)}"`;

const CLIENT_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/javascript; charset=utf-8",
  "cache-control": "no-cache",
  etag: CLIENT_ETAG,
  // Public code: any page may import it (module scripts are fetched with CORS), whatever the Origin policy,
  // which guards the relay's data and upgrades, not this file.
  "access-control-allow-origin": "*",
  "cross-origin-resource-policy": "cross-origin",
});

/** Adds `GET /client.js` and, when the demo is on, `GET /`. */
export function addDemoRoutes(app: Hono<RelayEnv>, options: DemoRouteOptions): void {
  app.get("/client.js", (c) => {
    if (c.req.header("if-none-match") === CLIENT_ETAG) {
      return new Response(null, { status: 304, headers: { etag: CLIENT_ETAG } });
    }
    return new Response(CLIENT_JS, { headers: CLIENT_HEADERS });
  });
  const demo = options.demo;
  if (!demo) return;
  app.get("/", (c) => {
    const nonce = newNonce();
    const connectSrc = connectSources(new URL(c.req.url).origin, demo.allowedOrigins);
    return new Response(demoPage({ nonce, auth: options.auth.enabled }), {
      headers: {
        "content-type": "text/html; charset=utf-8",
        // A nonce is good for one response only: never store the page.
        "cache-control": "no-store",
        "content-security-policy": pageCsp(nonce, connectSrc),
      },
    });
  });
}
