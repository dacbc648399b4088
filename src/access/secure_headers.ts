/**
 * Secure headers and the Content-Security-Policy every response carries (issue: security).
 *
 * API responses get `default-src 'none'; frame-ancestors 'none'`: they are data, never a document, so nothing
 * may load from them or frame them. HSTS is sent only over TLS: on plain HTTP it means nothing to browsers and
 * would wrongly pin a development host.
 *
 * The headers are those of Hono's `secureHeaders` middleware, computed once at startup and handed to the HTTP
 * server as its default headers: it writes them on every response (the app's, its own errors, the 101 of an
 * upgrade) without per-request work, and a header the app sets itself wins.
 * @module
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** The CSP of every non-HTML response. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

const plain = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  strictTransportSecurity: false,
});
const tls = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
});

/**
 * The secure headers of a transport (`secure`: TLS) as a list, for `HttpServerOptions.defaultHeaders`.
 * Computed by running Hono's own middleware once, so they follow Hono's defaults.
 */
export async function securityHeaderList(secure: boolean): Promise<[string, string][]> {
  const app = new Hono();
  app.use(secure ? tls : plain);
  app.get("/", (c) => c.body(null, 204));
  const response = await app.request("/");
  return [...response.headers];
}
