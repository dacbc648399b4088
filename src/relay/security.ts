/**
 * Secure headers and the Content-Security-Policy every response carries (issue: security).
 *
 * API responses get `default-src 'none'; frame-ancestors 'none'`: they are data, never a document, so nothing
 * may load from them or frame them. HSTS is sent only over TLS: on plain HTTP it means nothing to browsers and
 * would wrongly pin a development host.
 * @module
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
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

/** Hono middleware: the secure headers for this request's transport. */
export function securityHeaders(
  isSecure: (c: Parameters<MiddlewareHandler>[0]) => boolean,
): MiddlewareHandler {
  return function securityHeadersMiddleware(c, next) {
    return isSecure(c) ? tls(c, next) : plain(c, next);
  };
}

/**
 * The same headers as a list, for responses the HTTP layer makes itself (400, 408, 413, …) before any Hono
 * handler runs. Computed from the middleware, so the two can never drift apart.
 */
export async function securityHeaderList(secure: boolean): Promise<[string, string][]> {
  const app = new Hono();
  app.use(secure ? tls : plain);
  app.get("/", (c) => c.body(null, 204));
  const response = await app.request("/");
  return [...response.headers];
}
