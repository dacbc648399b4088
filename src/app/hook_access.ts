/**
 * The application's hooks at the routes: `authorize` once per connection or request (after the token check),
 * then `onSubscribe` for every channel the request names, before any 101 or stream starts, so a refusal is an
 * HTTP answer. Without hooks this is one property check and a direct call.
 * @module
 */
import type { Context } from "hono";
import type { Permissions } from "../access/mod.ts";
import { API_ERROR, type ApiErrorCode } from "../protocol/mod.ts";
import {
  type ClientInfo,
  clientInfo,
  type HookTransport,
  type HookVerdict,
  type Relay,
} from "../relay/mod.ts";
import type { RelayEnv } from "./app.ts";

/** Seconds a client refused because a hook timed out is asked to wait. */
const RETRY_AFTER_SECONDS = 1;

/**
 * Calls `next` with the client's identity for the hooks (null when the relay has none), or answers the
 * refusal of `authorize` or of `onSubscribe` on one of `subscribes`.
 */
export function admitClient(
  c: Context<RelayEnv>,
  relay: Relay,
  transport: HookTransport,
  permissions: Permissions,
  channels: readonly string[],
  subscribes: boolean,
  next: (client: ClientInfo | null) => Response | Promise<Response>,
): Response | Promise<Response> {
  const hooks = relay.hooks;
  if (hooks === null) return next(null);
  return (async () => {
    const request = c.req.raw;
    const remoteAddress = c.env.remoteAddress;
    const subject = permissions.subject;
    const verdict = await hooks.authorize({ transport, request, remoteAddress, subject, channels });
    if (!verdict.ok) return hookRefusal(verdict);
    const client = clientInfo(transport, request, remoteAddress, subject, verdict.user);
    if (subscribes) {
      for (const channel of channels) {
        const allowed = await hooks.subscribe(client, channel);
        if (!allowed.ok) return hookRefusal(allowed);
      }
    }
    return next(client);
  })();
}

/** The answer to a request a hook refused: the API's error shape with the hook's status and reason. */
export function hookRefusal(verdict: HookVerdict & { ok: false }): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (verdict.status === API_ERROR.unavailable || verdict.status === API_ERROR.rate_limited) {
    headers["retry-after"] = String(RETRY_AFTER_SECONDS);
  }
  return new Response(JSON.stringify({ error: codeOf(verdict), message: verdict.reason }), {
    status: verdict.status,
    headers,
  });
}

/** The API code of a refusal: the failure's, else the first code with the hook's status, else `forbidden`. */
function codeOf(verdict: HookVerdict & { ok: false }): ApiErrorCode {
  if (verdict.failed === "threw") return "internal";
  if (verdict.failed === "timeout") return "unavailable";
  for (const [code, status] of Object.entries(API_ERROR)) {
    if (status === verdict.status) return code as ApiErrorCode;
  }
  return "forbidden";
}
