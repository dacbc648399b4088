/**
 * The relay's routes: WebSocket upgrades (raw and envelope mode) and the HTTP channel API.
 *
 * With auth on, every route but `/healthz` and `/readyz` needs a token (401 before any 101 without a valid
 * one): raw upgrades and history reads need `subscribe` on the channel, HTTP publish needs `publish` (403
 * otherwise), and `GET /channels` lists only the channels the token may subscribe to.
 * @module
 */
import type { Context, Hono } from "hono";
import { type ChannelInfo, type HistoryResult, isSeq, isValidChannelName } from "../pubsub/mod.ts";
import type { WebSocketOptions } from "../websocket/mod.ts";
import type { RelayEnv } from "./app.ts";
import { type Authenticator, extractToken, OPEN_ACCESS, type Permissions } from "./auth.ts";
import { corsPolicy } from "./cors.ts";
import { ENVELOPE_PROTOCOL, textFitsEnvelope } from "./envelope.ts";
import { envelopeSessionEvents } from "./envelope_session.ts";
import type { OriginVerdict } from "./origin.ts";
import { rawSessionEvents } from "./raw_session.ts";
import { AddressRateLimiter } from "./rate_limit.ts";
import { type Relay, settle } from "./relay.ts";
import type { SessionPolicy } from "./session_guard.ts";
import { acceptWebSocket } from "./upgrade.ts";

/** What the routes need besides the relay core. */
export interface RouteOptions {
  relay: Relay;
  /** The Origin policy; `ownOrigin` is derived from the request. */
  checkOrigin(origin: string | null, ownOrigin: string): OriginVerdict;
  /** Largest message in bytes (HTTP publish 413, WebSocket 1009). */
  maxMessageBytes: number;
  /** Per-connection WebSocket limits. */
  websocket: Partial<WebSocketOptions>;
  /** Token verification; `OPEN_AUTHENTICATOR` when the relay is open. */
  auth: Authenticator;
  /** Messages a WebSocket client may send per second (burst: one second's worth); 0 = no limit. */
  maxMessagesPerSecond: number;
}

/** Most history items one `GET /channels/:channel/messages` returns. */
const MAX_HISTORY_LIMIT = 1000;
/**
 * Characters of JSON (bytes, for ASCII text) one history response stops adding messages at: it always holds
 * at least one message, so paging with `since` makes progress, and says `"more": true` when it stopped early.
 * One response then costs a few MiB and a few ms of event loop, never hundreds of MiB and seconds (a channel of
 * 80 × 1 MiB of control characters used to be a 503 MB answer, built in one 6.5 s step).
 */
const MAX_HISTORY_RESPONSE_CHARS = 4 * 1024 * 1024;
/** Rows one `GET /channels` returns by default and at most (`?limit=`); `next` pages on with `?after=`. */
const MAX_CHANNEL_ROWS = 1000;
const CHANNEL_RULE = "channel names are 1-128 characters of A-Z a-z 0-9 . _ : -";

function badChannel(c: Context<RelayEnv>) {
  return c.json({ error: "bad_channel", message: CHANNEL_RULE }, 400);
}

/**
 * Refuses the upgrade (403, connection closed by the HTTP layer) when the Origin is not allowed. The relay's
 * own origin is only worked out when there is an Origin to compare it with (non-browser clients send none).
 */
function refuseOrigin(c: Context<RelayEnv>, options: RouteOptions) {
  const origin = c.req.header("origin") ?? null;
  const verdict = options.checkOrigin(origin, origin === null ? "" : new URL(c.req.url).origin);
  return verdict.ok ? null : c.json({ error: "forbidden_origin", message: verdict.reason }, 403);
}

/** RFC 6750 §3: the challenge of a 401; `invalid_token` when a token was presented. */
const CHALLENGE = 'Bearer realm="edge-relay"';
const CHALLENGE_INVALID = 'Bearer realm="edge-relay", error="invalid_token"';

/**
 * Calls `next` with the request's permissions, or answers the 401 that refuses it. Synchronous when the relay
 * is open, so a handshake or request then costs no promise.
 */
function authorized(
  c: Context<RelayEnv>,
  options: RouteOptions,
  next: (permissions: Permissions) => Response | Promise<Response>,
): Response | Promise<Response> {
  if (!options.auth.enabled) return next(OPEN_ACCESS);
  return verifyToken(c, options).then((result) => result instanceof Response ? result : next(result));
}

/**
 * The token's permissions, or the 401 that refuses it. The token comes from `Authorization: Bearer` or the
 * `token` query parameter; neither it nor the URL that carries it is ever logged. (The HTTP layer closes the
 * connection after any refused upgrade.)
 */
async function verifyToken(c: Context<RelayEnv>, options: RouteOptions): Promise<Permissions | Response> {
  const token = extractToken(c.req.header("authorization"), c.req.query("token"));
  const result = await options.auth.authenticate(token);
  if (result.ok) return result.permissions;
  const headers: Record<string, string> = {
    "www-authenticate": token === null ? CHALLENGE : CHALLENGE_INVALID,
  };
  return c.json({ error: "unauthorized", message: result.reason }, 401, headers);
}

/** The permissions or the 401, awaited (for handlers that are async anyway). */
function verifyOrOpen(
  c: Context<RelayEnv>,
  options: RouteOptions,
): Permissions | Promise<Permissions | Response> {
  return options.auth.enabled ? verifyToken(c, options) : OPEN_ACCESS;
}

/** 403 for a channel the token does not grant. */
function forbidden(c: Context<RelayEnv>, action: "subscribe to" | "publish to", channel: string) {
  return c.json({ error: "forbidden", message: `not allowed to ${action} ${channel}` }, 403);
}

/** Adds every relay route to the app. */
export function addRelayRoutes(app: Hono<RelayEnv>, options: RouteOptions): void {
  const { relay } = options;
  // Before the routes, so preflights are answered without a token.
  const cors = corsPolicy(options.checkOrigin);
  app.use("/channels", cors);
  app.use("/channels/*", cors);
  // One policy object shared by every connection of an open relay.
  const openPolicy: SessionPolicy = {
    permissions: OPEN_ACCESS,
    maxMessagesPerSecond: options.maxMessagesPerSecond,
    maxMessageBytes: options.maxMessageBytes,
  };
  const policy = (permissions: Permissions): SessionPolicy =>
    permissions === OPEN_ACCESS ? openPolicy : {
      permissions,
      maxMessagesPerSecond: options.maxMessagesPerSecond,
      maxMessageBytes: options.maxMessageBytes,
    };
  // HTTP publishes get the WebSocket rate per client address: a request is not a connection, and a client
  // could otherwise fill history as fast as it can send (campaign findings 1 and 9).
  const publishRate = new AddressRateLimiter(options.maxMessagesPerSecond);

  app.get("/ws/:channel", (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel(c);
    const refused = refuseOrigin(c, options);
    if (refused !== null) return refused;
    return authorized(c, options, (permissions) => {
      if (!permissions.canSubscribe(channel)) return forbidden(c, "subscribe to", channel);
      return acceptWebSocket(c, rawSessionEvents(relay, channel, policy(permissions)), {
        limits: options.websocket,
      });
    });
  });

  app.get("/ws", (c) => {
    const refused = refuseOrigin(c, options);
    if (refused !== null) return refused;
    return authorized(
      c,
      options,
      (permissions) =>
        acceptWebSocket(c, envelopeSessionEvents(relay, policy(permissions)), {
          protocols: [ENVELOPE_PROTOCOL],
          requireKnownProtocol: true,
          limits: options.websocket,
        }),
    );
  });

  app.get("/channels", (c) => {
    const after = c.req.query("after") ?? "";
    const limit = parseQueryInt(c.req.query("limit"), MAX_CHANNEL_ROWS);
    if (limit === null || limit === 0 || (after !== "" && !isValidChannelName(after))) {
      return c.json({
        error: "bad_query",
        message: "limit must be a positive integer and after a channel name",
      }, 400);
    }
    return authorized(c, options, (permissions) => {
      const rows = Math.min(limit, MAX_CHANNEL_ROWS);
      const page: ChannelInfo[] = [];
      let more = false;
      // The rows come sorted by name: skip to `after`, then take `rows` (one more tells whether to go on).
      for (const row of relay.registry.list()) {
        if (row.channel <= after) continue;
        if (options.auth.enabled && !permissions.canSubscribe(row.channel)) continue;
        if (page.length === rows) {
          more = true;
          break;
        }
        page.push(row);
      }
      return c.json({ channels: page, next: more ? page[page.length - 1].channel : null });
    });
  });

  app.post("/channels/:channel/messages", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel(c);
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canPublish(channel)) return forbidden(c, "publish to", channel);
    const wait = publishRate.take(c.env.remoteAddress);
    if (wait > 0) {
      return c.json(
        { error: "rate_limited", message: `at most ${options.maxMessagesPerSecond} messages per second` },
        429,
        { "retry-after": String(wait) },
      );
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > options.maxMessageBytes) return tooLarge(c, options.maxMessageBytes);
    let data: string | Uint8Array = body;
    if (isTextType(c.req.header("content-type"))) {
      try {
        // A fatal decoder: the text is well-formed Unicode (no lone surrogates can come from UTF-8).
        data = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
      } catch {
        return c.json({ error: "bad_text", message: "a text body must be valid UTF-8" }, 400);
      }
      if (!textFitsEnvelope(data, options.maxMessageBytes, body.length)) {
        return tooLarge(c, options.maxMessageBytes);
      }
    }
    return await new Promise<Response>((resolve) =>
      settle(
        () => relay.publish(channel, data),
        (message) => resolve(c.json({ channel, seq: message.seq })),
        () => resolve(c.json({ error: "unavailable", message: "the message was not stored" }, 503)),
      )
    );
  });

  app.get("/channels/:channel/messages", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel(c);
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canSubscribe(channel)) return forbidden(c, "subscribe to", channel);
    const since = parseQueryInt(c.req.query("since"), 0);
    const limit = parseQueryInt(c.req.query("limit"), MAX_HISTORY_LIMIT);
    if (since === null || limit === null || limit === 0) {
      return c.json({
        error: "bad_query",
        message: "since must be a non-negative integer and limit a positive one",
      }, 400);
    }
    let history;
    try {
      history = await relay.broker.history(channel, { since, limit: Math.min(limit, MAX_HISTORY_LIMIT) });
    } catch {
      return c.json({ error: "unavailable", message: "the history cannot be read now" }, 503);
    }
    return c.body(historyJson(channel, history), 200, { "content-type": "application/json" });
  });
}

/**
 * The body of a history answer, oldest message first, stopping once {@link MAX_HISTORY_RESPONSE_CHARS} is
 * reached (always with at least one message). `more` is true when the history holds messages after the last
 * one included: the client asks again with `since` = that message's seq.
 */
function historyJson(channel: string, history: HistoryResult): string {
  const parts: string[] = [];
  let chars = 0;
  let last = -1;
  for (const m of history.messages) {
    if (parts.length > 0 && chars >= MAX_HISTORY_RESPONSE_CHARS) break;
    const part = typeof m.data === "string"
      ? `{"seq":${m.seq},"text":${JSON.stringify(m.data)}}`
      : `{"seq":${m.seq},"binary":"${m.data.toBase64()}"}`;
    chars += part.length + 1;
    parts.push(part);
    last = m.seq;
  }
  const more = last !== -1 && last < history.seq;
  return `{"channel":${JSON.stringify(channel)},"epoch":${
    JSON.stringify(history.epoch)
  },"seq":${history.seq},` +
    `"messages":[${parts.join(",")}],"more":${more}}`;
}

function tooLarge(c: Context<RelayEnv>, maxMessageBytes: number) {
  return c.json({
    error: "too_large",
    message: `messages are at most ${maxMessageBytes} bytes (text counted as JSON-escaped)`,
  }, 413);
}

/** `text/*` and JSON bodies are published as text messages; anything else as binary. */
function isTextType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";", 1)[0].trim().toLowerCase();
  return type.startsWith("text/") || type === "application/json" || type.endsWith("+json");
}

function parseQueryInt(value: string | undefined, fallback: number): number | null {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{1,15}$/.test(value)) return null;
  const n = Number(value);
  return isSeq(n) ? n : null;
}
