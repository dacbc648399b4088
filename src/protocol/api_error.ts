/**
 * The HTTP API's errors: one table of stable codes and their statuses, and the one function that answers
 * them, so every route (and the upgrade refusals) says the same thing the same way:
 * `{"error":"<code>","message":"<what to do>"}` with the code's status.
 * @module
 */

/** Every error code of the HTTP API → its HTTP status. */
export const API_ERROR = {
  /** A channel name outside the rule (`CHANNEL_RULE`). */
  bad_channel: 400,
  /** A query parameter that is not what the route takes. */
  bad_query: 400,
  /** A text body that is not valid UTF-8. */
  bad_text: 400,
  /** A WebSocket handshake the relay cannot accept (RFC 6455 §4.2.1), or no subprotocol of ours. */
  bad_handshake: 400,
  /** A WebSocket version the relay does not speak (RFC 6455 §4.4: `Sec-WebSocket-Version: 13` says which). */
  upgrade_required: 426,
  /** No token, or an invalid or expired one. */
  unauthorized: 401,
  /** The token does not grant this channel. */
  forbidden: 403,
  /** The `Origin` of an upgrade is not allowed. */
  forbidden_origin: 403,
  /** The `Host` is not in `--allowed-hosts` (DNS rebinding). */
  forbidden_host: 403,
  /** No such route. */
  not_found: 404,
  /** `GET /channels/:channel/presence` of a channel without presence (`--presence` patterns). */
  presence_off: 404,
  /** A message over `--max-message-bytes` (text counted JSON-escaped). */
  too_large: 413,
  /** Past `--max-messages-per-second` for this client address. */
  rate_limited: 429,
  /** A bug: logged, never detailed to the client (the HTTP layer answers a failed handler with it too). */
  internal: 500,
  /** The broker cannot store or read now, a budget is full, or a connection cap is reached. */
  unavailable: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR;

/** The JSON error response of `code`, with optional extra headers (`Retry-After`, `WWW-Authenticate`). */
export function apiError(code: ApiErrorCode, message: string, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error: code, message }), {
    status: API_ERROR[code],
    headers: headers === undefined ? JSON_HEADERS : { "content-type": "application/json", ...headers },
  });
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ "content-type": "application/json" });
