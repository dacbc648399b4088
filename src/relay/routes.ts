/**
 * The relay's routes: WebSocket upgrades (raw and envelope mode) and the HTTP channel API.
 * @module
 */
import type { Context, Hono } from "hono";
import { isSeq, isValidChannelName } from "../pubsub/mod.ts";
import type { WebSocketOptions } from "../websocket/mod.ts";
import type { RelayEnv } from "./app.ts";
import { ENVELOPE_PROTOCOL } from "./envelope.ts";
import { envelopeSessionEvents } from "./envelope_session.ts";
import type { OriginVerdict } from "./origin.ts";
import { rawSessionEvents } from "./raw_session.ts";
import { type Relay, settle } from "./relay.ts";
import { upgradeWebSocket } from "./upgrade.ts";

/** What the routes need besides the relay core. */
export interface RouteOptions {
  relay: Relay;
  /** The Origin policy; `ownOrigin` is derived from the request. */
  checkOrigin(origin: string | null, ownOrigin: string): OriginVerdict;
  /** Largest message in bytes (HTTP publish 413, WebSocket 1009). */
  maxMessageBytes: number;
  /** Per-connection WebSocket limits. */
  websocket: Partial<WebSocketOptions>;
}

/** Most history items one `GET /channels/:channel/messages` returns. */
const MAX_HISTORY_LIMIT = 1000;
const CHANNEL_RULE = "channel names are 1-128 characters of A-Z a-z 0-9 . _ : -";

function badChannel(c: Context<RelayEnv>) {
  return c.json({ error: "bad_channel", message: CHANNEL_RULE }, 400);
}

/** Refuses the upgrade (403, connection closed by the HTTP layer) when the Origin is not allowed. */
function refuseOrigin(c: Context<RelayEnv>, options: RouteOptions) {
  const verdict = options.checkOrigin(c.req.header("origin") ?? null, new URL(c.req.url).origin);
  return verdict.ok
    ? null
    : c.json({ error: "forbidden_origin", message: verdict.reason }, 403, { connection: "close" });
}

/** Adds every relay route to the app. */
export function addRelayRoutes(app: Hono<RelayEnv>, options: RouteOptions): void {
  const { relay } = options;

  app.get("/ws/:channel", (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel(c);
    return refuseOrigin(c, options) ??
      upgradeWebSocket(c, rawSessionEvents(relay, channel), { limits: options.websocket });
  });

  app.get("/ws", (c) =>
    refuseOrigin(c, options) ??
      upgradeWebSocket(c, envelopeSessionEvents(relay), {
        protocols: [ENVELOPE_PROTOCOL],
        requireKnownProtocol: true,
        limits: options.websocket,
      }));

  app.get("/channels", (c) => c.json({ channels: relay.registry.list() }));

  app.post("/channels/:channel/messages", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel(c);
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > options.maxMessageBytes) {
      return c.json(
        { error: "too_large", message: `messages are at most ${options.maxMessageBytes} bytes` },
        413,
      );
    }
    let data: string | Uint8Array = body;
    if (isTextType(c.req.header("content-type"))) {
      try {
        data = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body);
      } catch {
        return c.json({ error: "bad_text", message: "a text body must be valid UTF-8" }, 400);
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
    const since = parseQueryInt(c.req.query("since"), 0);
    const limit = parseQueryInt(c.req.query("limit"), MAX_HISTORY_LIMIT);
    if (since === null || limit === null) {
      return c.json({ error: "bad_query", message: "since and limit must be non-negative integers" }, 400);
    }
    const history = await relay.broker.history(channel, { since, limit: Math.min(limit, MAX_HISTORY_LIMIT) });
    return c.json({
      channel,
      epoch: history.epoch,
      seq: history.seq,
      messages: history.messages.map((m) =>
        typeof m.data === "string" ? { seq: m.seq, text: m.data } : { seq: m.seq, binary: m.data.toBase64() }
      ),
    });
  });
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
