/**
 * What every route checks before it serves: the channel name, the Origin of an upgrade, the token and what it
 * grants. Each refusal is an {@link apiError} with its code.
 *
 * With auth on, every route but `/healthz` and `/readyz` needs a token (401 before any 101 without a valid
 * one). The token comes from `Authorization: Bearer` or the `token` query parameter; neither it nor the URL
 * that carries it is ever logged.
 * @module
 */
import type { Context } from "hono";
import {
  type Authenticator,
  extractToken,
  OPEN_ACCESS,
  type OriginVerdict,
  ownOriginOf,
  type Permissions,
} from "../access/mod.ts";
import { apiError, CHANNEL_RULE } from "../protocol/mod.ts";
import type { RelayEnv } from "./app.ts";

/** What the checks need. */
export interface AccessOptions {
  /** The Origin policy; `ownOrigin` is derived from the request. */
  checkOrigin(origin: string | null, ownOrigin: string): OriginVerdict;
  /** Token verification; `OPEN_AUTHENTICATOR` when the relay is open. */
  auth: Authenticator;
}

/** RFC 6750 §3: the challenge of a 401; `invalid_token` when a token was presented. */
const CHALLENGE = 'Bearer realm="edge-relay"';
const CHALLENGE_INVALID = 'Bearer realm="edge-relay", error="invalid_token"';

/** 400 for a channel name outside the rule. */
export function badChannel(): Response {
  return apiError("bad_channel", CHANNEL_RULE);
}

/** 403 for a channel the token does not grant. */
export function forbidden(action: "subscribe to" | "publish to", channel: string): Response {
  return apiError("forbidden", `not allowed to ${action} ${channel}`);
}

/**
 * The 403 that refuses an upgrade whose Origin is not allowed (the HTTP layer then closes the connection), or
 * null. The relay's own origin is only worked out when there is an Origin to compare it with (non-browser
 * clients send none).
 */
export function refuseOrigin(c: Context<RelayEnv>, options: AccessOptions): Response | null {
  const origin = c.req.header("origin") ?? null;
  // The own origin is the request's, or what a trusted proxy says the client used (`--trust-proxy`).
  const verdict = options.checkOrigin(origin, origin === null ? "" : ownOriginOf(c.env, c.req.url));
  return verdict.ok ? null : apiError("forbidden_origin", verdict.reason);
}

/**
 * Calls `next` with the request's permissions, or answers the 401 that refuses it. Synchronous when the relay
 * is open, so a handshake or request then costs no promise.
 */
export function authorized(
  c: Context<RelayEnv>,
  options: AccessOptions,
  next: (permissions: Permissions) => Response | Promise<Response>,
): Response | Promise<Response> {
  if (!options.auth.enabled) return next(OPEN_ACCESS);
  return verifyToken(c, options).then((result) => result instanceof Response ? result : next(result));
}

/** The permissions or the 401, for handlers that are async anyway. */
export function verifyOrOpen(
  c: Context<RelayEnv>,
  options: AccessOptions,
): Permissions | Promise<Permissions | Response> {
  return options.auth.enabled ? verifyToken(c, options) : OPEN_ACCESS;
}

async function verifyToken(c: Context<RelayEnv>, options: AccessOptions): Promise<Permissions | Response> {
  const token = extractToken(c.req.header("authorization"), c.req.query("token"));
  const result = await options.auth.authenticate(token);
  if (result.ok) return result.permissions;
  return apiError("unauthorized", result.reason, {
    "www-authenticate": token === null ? CHALLENGE : CHALLENGE_INVALID,
  });
}
