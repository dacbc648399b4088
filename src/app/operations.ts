/**
 * The operator's gates before every route: during a drain, new WebSocket upgrades, event streams and held
 * long polls get 503 with `Retry-After` (their clients go to another node; plain requests are still answered);
 * with `--allowed-hosts`, a `Host` not listed gets 403 (DNS rebinding); and a refused upgrade or stream is
 * logged at warn level with why and counted by reason (`edge_relay_handshake_rejections_total`). A browser
 * shows only "403" for a refused WebSocket: the relay's log is where the reason must be.
 *
 * Ordinary requests pass through without a promise; only long-lived ones (upgrades, streams, held polls) are
 * awaited, to read the refusal.
 * @module
 */
import type { Context, Hono, Next } from "hono";
import type { Logger, RejectionCounter, RejectionReason } from "../observability/mod.ts";
import { apiError } from "../protocol/mod.ts";
import type { RelayEnv } from "./app.ts";

/** Seconds a client refused during a drain is asked to wait (it should reconnect elsewhere at once). */
export const DRAIN_RETRY_AFTER_SECONDS = 1;

/**
 * Refusal lines written per second at most: a flood of refused upgrades (a wrong Origin in a loop, a scanner)
 * must not become a flood of log lines filling the disk. Past it the refusals are counted (metrics count every
 * one) and one line says how many were not logged.
 */
export const MAX_REFUSAL_LOG_LINES_PER_SECOND = 20;

/** What the gates need. */
export interface OperationsOptions {
  /** True from the first stop signal. */
  draining(): boolean;
  /** `--allowed-hosts`; null when every Host is answered. */
  hostAllowed: ((host: string | null) => boolean) | null;
  rejections: RejectionCounter;
  log: Logger;
}

/** The API error code of a refusal → the reason it is counted under. */
const REASON_OF: Readonly<Record<string, RejectionReason>> = {
  forbidden_origin: "origin",
  forbidden_host: "host",
  unauthorized: "auth",
  forbidden: "forbidden",
  bad_channel: "bad_request",
  bad_handshake: "bad_request",
  bad_query: "bad_request",
  upgrade_required: "bad_request",
  unavailable: "limit",
};

/** Adds the gates as the first middleware of the app. */
export function addOperationGates(app: Hono<RelayEnv>, options: OperationsOptions): void {
  const { draining, hostAllowed, rejections, log } = options;
  let second = 0;
  let lines = 0;
  let suppressed = 0;
  const refused = (
    c: Context<RelayEnv>,
    kind: string,
    reason: RejectionReason,
    status: number,
    detail: string,
  ) => {
    rejections.count(reason);
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      if (suppressed > 0) log.warn("refusals not logged (too many)", { count: suppressed, since: second });
      second = now;
      lines = 0;
      suppressed = 0;
    }
    if (++lines > MAX_REFUSAL_LOG_LINES_PER_SECOND) {
      suppressed++;
      return;
    }
    // Never the query (it may carry ?token=) nor a header value but the Origin.
    log.warn(`${kind} refused`, {
      reason,
      status,
      detail,
      path: c.req.path,
      origin: c.req.header("origin"),
      remote: c.env.remoteAddress,
    });
  };
  app.use("*", (c: Context<RelayEnv>, next: Next) => {
    const kind = longLivedKind(c);
    if (hostAllowed !== null && !hostAllowed(c.req.header("host") ?? null)) {
      const response = apiError("forbidden_host", "this host name is not served here (see --allowed-hosts)");
      if (kind !== null) refused(c, kind, "host", 403, "host not allowed");
      return Promise.resolve(response);
    }
    if (kind === null) return next();
    if (draining()) {
      refused(c, kind, "draining", 503, "the relay is shutting down");
      return Promise.resolve(
        apiError("unavailable", "the relay is shutting down; reconnect to another node", {
          "retry-after": String(DRAIN_RETRY_AFTER_SECONDS),
        }),
      );
    }
    return next().then(async () => {
      const response = c.res;
      if (response.status < 400) return;
      let code = "";
      let message = "";
      try {
        ({ error: code, message } = await response.clone().json());
      } catch { /* not one of ours: counted as the status says */ }
      refused(
        c,
        kind,
        REASON_OF[code] ?? (response.status === 503 ? "limit" : "bad_request"),
        response.status,
        message,
      );
    });
  });
}

/** `websocket`, `stream` or `long poll` for requests that hold a connection; null for the rest. */
function longLivedKind(c: Context<RelayEnv>): string | null {
  if (c.req.header("upgrade") !== undefined) return "upgrade";
  const path = c.req.path;
  if (path === "/events" || path.endsWith("/events")) return "stream";
  if (c.req.method === "GET" && path.startsWith("/channels/") && c.req.query("wait") !== undefined) {
    return "long poll";
  }
  return null;
}
