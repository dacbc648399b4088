/**
 * The HTTP channel API: `GET /channels` (paged), `POST /channels/:channel/messages` (publish, rate-limited per
 * client address), `GET /channels/:channel/messages` (history, paged by size; with `wait`, a long poll held on
 * the long-polling transport). History reads need `subscribe` on the channel and publishes `publish`;
 * `GET /channels` lists only what the token may subscribe to.
 * @module
 */
import type { Context, Hono } from "hono";
import { AddressRateLimiter, corsPolicy } from "../access/mod.ts";
import type { RequestInfo } from "../http/mod.ts";
import { apiError, textFitsEnvelope } from "../protocol/mod.ts";
import {
  BrokerFullError,
  type ChannelInfo,
  type ChannelMessage,
  type HistoryOptions,
  type HistoryResult,
  isSeq,
  isValidChannelName,
  perMessage,
} from "../pubsub/mod.ts";
import { type ClientInfo, type Relay, settle } from "../relay/mod.ts";
import { type LongPollOptions, LongPolls, POLL_END } from "../transports/mod.ts";
import type { RelayEnv } from "./app.ts";
import { admitClient, hookRefusal } from "./hook_access.ts";
import { type AccessOptions, authorized, badChannel, forbidden, verifyOrOpen } from "./request_access.ts";

/** What the channel API needs. */
export interface ChannelRouteOptions extends AccessOptions {
  relay: Relay;
  /** Largest message in bytes (413 past it; text counted JSON-escaped). */
  maxMessageBytes: number;
  /** Publishes per second per client address (burst: one second's worth); 0 = no limit. */
  maxMessagesPerSecond: number;
  /** Overrides of the long-polling bounds (`LONG_POLL_DEFAULTS`). */
  longPoll?: Partial<LongPollOptions>;
  /** The held polls, made by the caller when it reads their count (metrics); else made here. */
  longPolls?: LongPolls;
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
/**
 * What an `epoch` query parameter may be: brokers make epochs of hex digits; anything else is a client error,
 * refused before it reaches a broker.
 */
const EPOCH_RE = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Seconds a publisher (or a poll) refused with 503 is asked to wait. */
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
  // Held polls are sessions of the relay: its shutdown answers them at once.
  const polls = options.longPolls ?? new LongPolls(relay, options.longPoll);

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
    // A token whose sub cannot be shown on a channel that shows publishers may not publish there.
    if (!permissions.canPublish(channel) || !relay.canAttribute(channel, permissions.subject)) {
      return forbidden("publish to", channel);
    }
    const wait = publishRate.take(c.env.remoteAddress);
    if (wait > 0) {
      return apiError("rate_limited", `at most ${options.maxMessagesPerSecond} messages per second`, {
        "retry-after": String(wait),
      });
    }
    return await admitClient(
      c,
      relay,
      "publish",
      permissions,
      [channel],
      false,
      (client) => publish(c, channel, client, permissions.subject),
    );
  });

  /** The body of an admitted `POST`, through the `onPublish` hook when there is one, stored and acknowledged. */
  async function publish(
    c: Context<RelayEnv>,
    channel: string,
    client: ClientInfo | null,
    subject: string | null,
  ): Promise<Response> {
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
    if (client !== null) {
      const verdict = await relay.hooks!.publish(client, channel, data);
      if (!verdict.ok) return hookRefusal(verdict);
      if (verdict.data !== undefined) data = verdict.data;
    }
    return await new Promise<Response>((resolve) =>
      settle(
        () => relay.publish(channel, data, subject),
        (message) => resolve(c.json({ channel, seq: message.seq })),
        (error) => resolve(refused(error, "the message was not stored")),
      )
    );
  }

  app.get("/channels/:channel/messages", async (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel();
    const permissions = await verifyOrOpen(c, options);
    if (permissions instanceof Response) return permissions;
    if (!permissions.canSubscribe(channel)) return forbidden("subscribe to", channel);
    if (relay.hooks === null) return read(c, channel);
    return await admitClient(c, relay, "poll", permissions, [channel], true, () => read(c, channel));
  });

  /** A history read or long poll that passed the checks (and the hooks). */
  async function read(c: Context<RelayEnv>, channel: string): Promise<Response> {
    const since = parseQueryInt(c.req.query("since"), 0);
    const limit = parseQueryInt(c.req.query("limit"), MAX_HISTORY_LIMIT);
    const epoch = c.req.query("epoch");
    const waitMs = parseWait(c.req.query("wait"));
    if (since === null || limit === null || limit === 0 || waitMs === null) {
      return apiError(
        "bad_query",
        "since must be a non-negative integer, limit a positive one and wait a duration (25s, 500ms)",
      );
    }
    if (epoch !== undefined && !EPOCH_RE.test(epoch)) {
      return apiError("bad_query", "epoch must be the epoch of an earlier answer");
    }
    const read: HistoryOptions = { since, limit: Math.min(limit, MAX_HISTORY_LIMIT), epoch };
    if (waitMs === 0) {
      let history;
      try {
        history = await relay.broker.history(channel, read);
      } catch {
        return unreadable();
      }
      return historyAnswer(channel, since, epoch, history);
    }
    return await longPoll(c.env, channel, since, epoch, read, waitMs);
  }

  /**
   * A poll with `wait`: answered at once unless the client is up to date (the channel's seq is `since`, in
   * its epoch), else held on {@link LongPolls} until a message, an epoch change, `wait` or the shutdown.
   */
  async function longPoll(
    info: RequestInfo,
    channel: string,
    since: number,
    epoch: string | undefined,
    read: HistoryOptions,
    waitMs: number,
  ): Promise<Response> {
    let poll;
    try {
      // Subscribed before history is read: a message published after the read cannot slip between.
      poll = polls.open(channel, waitMs);
    } catch (error) {
      return refused(error, "the channel cannot be watched now");
    }
    if (poll === null) {
      return apiError("unavailable", `at most ${polls.options.maxHeldPolls} polls are held at once`, {
        "retry-after": String(RETRY_AFTER_SECONDS),
      });
    }
    // A client that leaves gives its place back at once, not when its `wait` passes.
    info.onClose(() => poll.abandon());
    let history;
    try {
      await poll.ready;
      history = await relay.broker.history(channel, read);
    } catch {
      poll.cancel();
      return unreadable();
    }
    // `since` 0 claims no message, so no epoch to match (as in the broker's gap rule): the epoch an empty
    // channel was read with may differ from the one it has once it exists.
    if (history.seq !== since || (since !== 0 && epoch !== undefined && epoch !== history.epoch)) {
      poll.cancel();
      return historyAnswer(channel, since, epoch, history);
    }
    await poll.wait(since, history.epoch);
    switch (poll.end) {
      case POLL_END.Message: {
        const message = poll.message!;
        // The common wake: the next message, answered from bytes built once for every poll it wakes.
        if (message.seq === since + 1) {
          return jsonBody(epoch === undefined ? nextMessageBody(message) : nextMessageRecoveredBody(message));
        }
        break;
      }
      case POLL_END.Reset:
        break;
      default:
        // Timeout, shutdown or a client that left: still nothing after `since`.
        return historyAnswer(channel, since, epoch, history);
    }
    // Anything else (several messages, an epoch change): what history says now.
    try {
      history = await relay.broker.history(channel, read);
    } catch {
      return unreadable();
    }
    return historyAnswer(channel, since, epoch, history);
  }
}

/**
 * A history answer. With `epoch` it carries `recovered` and is all or nothing: every message after `since`
 * (paged by `more`), or none and `recovered: false` when history no longer reaches `since + 1` or the epoch
 * differs (the broker's gap rule, as for an envelope resume). Without `epoch`, whatever is retained after
 * `since`, as plain polling always answered.
 */
function historyAnswer(
  channel: string,
  since: number,
  epoch: string | undefined,
  history: HistoryResult,
): Response {
  if (epoch === undefined) return jsonBody(historyJson(channel, history, undefined));
  const messages = history.messages;
  const recovered = history.contiguous &&
    (messages.length === 0 ? since === history.seq : messages[0].seq === since + 1);
  return jsonBody(historyJson(channel, recovered ? history : { ...history, messages: [] }, recovered));
}

/** The body of a woken poll's message, built once per message (every poll it wakes shares it). */
const messagePart = perMessage(historyItem);
const nextMessageBody = perMessage((m) => wokenBody(m, undefined));
const nextMessageRecoveredBody = perMessage((m) => wokenBody(m, true));

function wokenBody(m: ChannelMessage, recovered: boolean | undefined): string {
  return historyHead(m.channel, m.epoch, m.seq, recovered) + `"messages":[${messagePart(m)}],"more":false}`;
}

function jsonBody(body: string): Response {
  return new Response(body, { headers: JSON_CONTENT });
}

const JSON_CONTENT: Readonly<Record<string, string>> = Object.freeze({ "content-type": "application/json" });

function unreadable(): Response {
  return apiError("unavailable", "the history cannot be read now");
}

/**
 * The body of a history answer, oldest message first, stopping once {@link MAX_HISTORY_RESPONSE_CHARS} is
 * reached (always with at least one message). `more` is true when the history holds messages after the last
 * one included: the client asks again with `since` = that message's seq.
 */
function historyJson(channel: string, history: HistoryResult, recovered: boolean | undefined): string {
  const parts: string[] = [];
  let chars = 0;
  let last = -1;
  for (const m of history.messages) {
    if (parts.length > 0 && chars >= MAX_HISTORY_RESPONSE_CHARS) break;
    const part = historyItem(m);
    chars += part.length + 1;
    parts.push(part);
    last = m.seq;
  }
  const more = last !== -1 && last < history.seq;
  return historyHead(channel, history.epoch, history.seq, recovered) +
    `"messages":[${parts.join(",")}],"more":${more}}`;
}

/** The fields before `messages`; `recovered` only when the request gave an epoch. */
function historyHead(channel: string, epoch: string, seq: number, recovered: boolean | undefined): string {
  return `{"channel":${JSON.stringify(channel)},"epoch":${JSON.stringify(epoch)},"seq":${seq},` +
    (recovered === undefined ? "" : `"recovered":${recovered},`);
}

/** One message of a history answer; `publisher` only when the message carries one, as in its envelope. */
function historyItem(m: ChannelMessage): string {
  const head = m.publisher === undefined
    ? `{"seq":${m.seq},`
    : `{"seq":${m.seq},"publisher":${JSON.stringify(m.publisher)},`;
  return typeof m.data === "string"
    ? `${head}"text":${JSON.stringify(m.data)}}`
    : `${head}"binary":"${m.data.toBase64()}"}`;
}

function tooLarge(maxMessageBytes: number): Response {
  return apiError(
    "too_large",
    `messages are at most ${maxMessageBytes} bytes (text counted as JSON-escaped)`,
  );
}

/** 503 for what the broker refused (a publish, a poll's channel): a full budget says which, else `generic`. */
function refused(error: unknown, generic: string): Response {
  return apiError(
    "unavailable",
    error instanceof BrokerFullError ? error.message : generic,
    { "retry-after": String(RETRY_AFTER_SECONDS) },
  );
}

/** `text/*` and JSON bodies are published as text messages; anything else as binary. */
function isTextType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";", 1)[0].trim().toLowerCase();
  return type.startsWith("text/") || type === "application/json" || type.endsWith("+json");
}

/**
 * `wait` in milliseconds: `25s`, `500ms` or a bare number of seconds; 0 when absent (plain polling). Longer
 * waits are shortened by {@link LongPolls} to its `maxWaitMs`. Null when it does not parse.
 */
function parseWait(value: string | undefined): number | null {
  if (value === undefined || value === "") return 0;
  const m = /^(\d{1,9})(ms|s)?$/.exec(value);
  if (m === null) return null;
  return m[2] === "ms" ? Number(m[1]) : Number(m[1]) * 1000;
}

function parseQueryInt(value: string | undefined, fallback: number): number | null {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{1,15}$/.test(value)) return null;
  const n = Number(value);
  return isSeq(n) ? n : null;
}
