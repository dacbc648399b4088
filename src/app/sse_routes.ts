/**
 * Server-sent events: `GET /channels/:channel/events` (one channel) and `GET /events?channel=a&channel=b`
 * (many channels on one stream). Each needs `subscribe` on every channel; CORS follows the Origin policy as for
 * the HTTP API. Resume comes from `Last-Event-ID` (what a reconnecting `EventSource` sends) or, on a first
 * connection, `?since=N&epoch=E` (one channel) or `?lastEventId=` (any stream). Every refusal is an answer
 * (400, 401, 403) before the stream starts, never a hang.
 * @module
 */
import type { Context, Hono } from "hono";
import { corsPolicy, OPEN_ACCESS, type Permissions } from "../access/mod.ts";
import { apiError, isStreamEpoch, MAX_ID_CHARS_PER_CHANNEL, parseStreamId } from "../protocol/mod.ts";
import { isSeq, isValidChannelName } from "../pubsub/mod.ts";
import type { Relay, SessionPolicy, StreamChannel } from "../relay/mod.ts";
import { SSE_HEADERS, SseTransport } from "../transports/mod.ts";
import type { RelayEnv } from "./app.ts";
import { admitClient } from "./hook_access.ts";
import { type AccessOptions, authorized, badChannel, forbidden } from "./request_access.ts";

/** What the event-stream routes need. */
export interface SseRouteOptions extends AccessOptions {
  relay: Relay;
  /** A comment goes to every stream this often, in ms (`--sse-keepalive`). @default 15000 */
  sseKeepaliveMs?: number;
  /** Largest message in bytes (for the session policy; streams publish nothing). */
  maxMessageBytes: number;
  /** The streams' transport, made by the caller when it reads their count (metrics); else made here. */
  sseTransport?: SseTransport;
}

/**
 * Characters a stream's id may take: the client sends it back as `Last-Event-ID`, a request header, which must
 * fit the HTTP layer's 16 KiB header block with room left for the other headers (cookies among them).
 */
const MAX_STREAM_ID_CHARS = 12 * 1024;

/**
 * Most channels of one stream, whatever `--max-channels-per-connection` says: the stream's id holds every
 * channel's position, at most {@link MAX_ID_CHARS_PER_CHANNEL} characters each (149 channels).
 */
export const MAX_STREAM_CHANNELS = Math.floor(MAX_STREAM_ID_CHARS / MAX_ID_CHARS_PER_CHANNEL);

/** The default of `--sse-keepalive`, in ms. */
const DEFAULT_SSE_KEEPALIVE_MS = 15_000;

/** Adds `GET /channels/:channel/events` and `GET /events` (CORS on `/events`; `/channels/*` has its own). */
export function addSseRoutes(app: Hono<RelayEnv>, options: SseRouteOptions): SseTransport {
  const { relay } = options;
  const transport = options.sseTransport ?? new SseTransport(relay, {
    keepaliveMs: options.sseKeepaliveMs ?? DEFAULT_SSE_KEEPALIVE_MS,
  });
  app.use("/events", corsPolicy(options.checkOrigin));
  const openPolicy: SessionPolicy = {
    permissions: OPEN_ACCESS,
    // Streams take no messages from the client.
    maxMessagesPerSecond: 0,
    maxMessageBytes: options.maxMessageBytes,
  };
  const maxChannels = Math.min(relay.options.maxChannelsPerConnection, MAX_STREAM_CHANNELS);

  const serve = (c: Context<RelayEnv>, channels: string[], query: StreamChannel["resume"] | undefined) => {
    const resume = resumeOf(c, channels.length, query);
    if (resume instanceof Response) return resume;
    return authorized(c, options, (permissions: Permissions) => {
      for (const channel of channels) {
        if (!permissions.canSubscribe(channel)) return forbidden("subscribe to", channel);
      }
      return admitClient(c, relay, "sse", permissions, channels, true, (client) => {
        const policy = client !== null
          ? { ...openPolicy, permissions, client }
          : permissions === OPEN_ACCESS
          ? openPolicy
          : { ...openPolicy, permissions };
        transport.accept(c.env, policy, channels.map((channel, i) => ({ channel, resume: resume[i] })));
        return new Response(null, { headers: SSE_HEADERS });
      });
    });
  };

  app.get("/channels/:channel/events", (c) => {
    const channel = c.req.param("channel");
    if (!isValidChannelName(channel)) return badChannel();
    const since = c.req.query("since");
    const epoch = c.req.query("epoch");
    if (since === undefined) {
      if (epoch !== undefined) return apiError("bad_query", "epoch needs since");
      return serve(c, [channel], undefined);
    }
    const seq = /^\d{1,16}$/.test(since) ? Number(since) : NaN;
    if (!isSeq(seq)) return apiError("bad_query", "since must be a non-negative integer");
    if (epoch !== undefined && !isStreamEpoch(epoch)) {
      return apiError("bad_query", "epoch is not one of ours");
    }
    return serve(c, [channel], epoch === undefined ? { seq } : { seq, epoch });
  });

  app.get("/events", (c) => {
    const channels = c.req.queries("channel") ?? [];
    if (channels.length === 0) {
      return apiError("bad_query", "name at least one channel: ?channel=a&channel=b");
    }
    if (channels.length > maxChannels) {
      return apiError("bad_query", `at most ${maxChannels} channels per stream`);
    }
    for (const channel of channels) if (!isValidChannelName(channel)) return badChannel();
    if (new Set(channels).size !== channels.length) return apiError("bad_query", "a channel is named twice");
    return serve(c, channels, undefined);
  });

  return transport;
}

/**
 * Where each channel resumes: `Last-Event-ID` first (a reconnect), then `?lastEventId=`, then the one-channel
 * `?since=&epoch=` (`query`); a 400 for an id the relay could not have sent for this stream.
 */
function resumeOf(
  c: Context<RelayEnv>,
  channels: number,
  query: StreamChannel["resume"] | undefined,
): StreamChannel["resume"][] | Response {
  const id = c.req.header("last-event-id") ?? c.req.query("lastEventId");
  if (id === undefined || id === "") {
    return query === undefined ? new Array(channels).fill(null) : [query];
  }
  const positions = parseStreamId(id, channels);
  if (positions === null) {
    return apiError(
      "bad_query",
      `Last-Event-ID must be an id of this stream: <epoch>:<seq> per channel, comma-separated`,
    );
  }
  return positions;
}
