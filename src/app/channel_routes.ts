/**
 * The HTTP channel API: `GET /channels` (paged), `POST /channels/:channel/messages` (publish, rate-limited per
 * client address), `GET /channels/:channel/messages` (history, paged by size). History reads need `subscribe`
 * on the channel and publishes `publish`; `GET /channels` lists only what the token may subscribe to.
 * @module
 */
import type { Hono } from "hono";
import { AddressRateLimiter, corsPolicy } from "../access/mod.ts";
import { apiError, textFitsEnvelope } from "../protocol/mod.ts";
import {
  BrokerFullError,
  type ChannelInfo,
  type HistoryResult,
  isSeq,
  isValidChannelName,
} from "../pubsub/mod.ts";
import { type Relay, settle } from "../relay/mod.ts";
import type { RelayEnv } from "./app.ts";
import { type AccessOptions, authorized, badChannel, forbidden, verifyOrOpen } from "./request_access.ts";

/** What the channel API needs. */
export interface ChannelRouteOptions extends AccessOptions {
  relay: Relay;
  /** Largest message in bytes (413 past it; text counted JSON-escaped). */
  maxMessageBytes: number;
  /** Publishes per second per client address (burst: one second's worth); 0 = no limit. */
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
/** Seconds a publisher refused with 503 is asked to wait. */
const RETRY_AFTER_SECONDS = 1;

/** Adds the channel API, with CORS from the Origin policy (before the routes: preflights need no token). */
export function addChannelRoutes(app: Hono<RelayEnv>, options: ChannelRouteOptions): void {
  const { relay } = options;
  const cors = corsPolicy(options.checkOrigin);
  app.use("/channels", cors);
  app.use("/channels/*", cors);
  // HTTP publishes get the WebSocket rate per client address: a request is not a connection, and a client
  // could otherwise fill history as fast as it can send.
  const publishRate = new AddressRateLimiter(options.maxMessagesPerSecond);

  app.get("/channels", (c) => {
    const after = c.req.query("after") ?? "";
    const limit = parseQueryInt(c.req.query("limit"), MAX_CHANNEL_ROWS);
    if (limit === null || limit === 0 || (after !== "" && !isValidChannelName(after))) {
      return apiError("bad_query", "limit must be a positive integer and after a channel name");
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
    if (!isValidChannelName(channel)) return badChannel();
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canPublish(channel)) return forbidden("publish to", channel);
    const wait = publishRate.take(c.env.remoteAddress);
    if (wait > 0) {
      return apiError("rate_limited", `at most ${options.maxMessagesPerSecond} messages per second`, {
        "retry-after": String(wait),
      });
    }
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > options.maxMessageBytes) return tooLarge(options.maxMessageBytes);
    let data: string | Uint8Array = body;
    if (isTextType(c.req.header("content-type"))) {
      try {
        // A fatal decoder: the text is well-formed Unicode (no lone surrogates can come from UTF-8).
        data = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
      } catch {
        return apiError("bad_text", "a text body must be valid UTF-8");
      }
      if (!textFitsEnvelope(data, options.maxMessageBytes, body.length)) {
        return tooLarge(options.maxMessageBytes);
      }
    }
    return await new Promise<Response>((resolve) =>
      settle(
        () => relay.publish(channel, data),
        (message) => resolve(c.json({ channel, seq: message.seq })),
        (error) => resolve(refusedPublish(error)),
      )
    );
  });

  app.get("/channels/:channel/messages", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel();
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canSubscribe(channel)) return forbidden("subscribe to", channel);
    const since = parseQueryInt(c.req.query("since"), 0);
    const limit = parseQueryInt(c.req.query("limit"), MAX_HISTORY_LIMIT);
    if (since === null || limit === null || limit === 0) {
      return apiError("bad_query", "since must be a non-negative integer and limit a positive one");
    }
    let history;
    try {
      history = await relay.broker.history(channel, { since, limit: Math.min(limit, MAX_HISTORY_LIMIT) });
    } catch {
      return apiError("unavailable", "the history cannot be read now");
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

function tooLarge(maxMessageBytes: number): Response {
  return apiError(
    "too_large",
    `messages are at most ${maxMessageBytes} bytes (text counted as JSON-escaped)`,
  );
}

/** 503 for a publish the broker did not store: a full budget says which, anything else stays generic. */
function refusedPublish(error: unknown): Response {
  return apiError(
    "unavailable",
    error instanceof BrokerFullError ? error.message : "the message was not stored",
    { "retry-after": String(RETRY_AFTER_SECONDS) },
  );
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
