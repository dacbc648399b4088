/**
 * The operators' app, served on `--internal-port` only (never on the public port): `/metrics` in the
 * Prometheus text format, `/healthz` and `/readyz` as on the public port. Kept off the public listener so
 * the relay's internals (connection counts, traffic) are not published to every client.
 * @module
 */
import { Hono } from "hono";
import { METRICS_CONTENT_TYPE } from "../observability/mod.ts";
import { apiError } from "../protocol/mod.ts";

/** What the internal app reads. */
export interface InternalAppDeps {
  /** The exposition, rendered per scrape. */
  metrics(): string;
  /** False while the broker cannot store or once the relay drains: `/readyz` answers 503. */
  ready(): boolean;
  /** True once a stop signal came: `/readyz` says so. */
  draining(): boolean;
}

/** Builds the internal app. */
export function createInternalApp(deps: InternalAppDeps): Hono {
  const app = new Hono();
  app.get(
    "/metrics",
    () => new Response(deps.metrics(), { headers: { "content-type": METRICS_CONTENT_TYPE } }),
  );
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    if (deps.draining()) return c.json({ status: "draining", message: "the relay is shutting down" }, 503);
    return deps.ready()
      ? c.json({ status: "ready" })
      : c.json({ status: "unavailable", message: "broker unreachable" }, 503);
  });
  app.notFound((c) => apiError("not_found", `no route for ${c.req.method} ${c.req.path}`));
  return app;
}
