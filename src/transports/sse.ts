/**
 * The server-sent events transport (`text/event-stream`): a session's {@link Outbound} over the HTTP layer's
 * streaming hand-off, the message events of each kind of stream (encoded and chunk-framed once per message,
 * written as the same bytes to every stream), and one keep-alive timer for all streams.
 * @module
 */
import { frameChunk, type RequestInfo, type ResponseStream, type StreamTaker } from "../http/mod.ts";
import { type ChannelMessage, perMessage } from "../pubsub/mod.ts";
import {
  messageEnvelope,
  positionId,
  sseComment,
  sseEvent,
  sseRetry,
  sseRetryLine,
} from "../protocol/mod.ts";
import {
  END_REASON,
  type EndReason,
  EventStreamSession,
  type Outbound,
  type Relay,
  type SessionPolicy,
  type StreamChannel,
  type Wire,
} from "../relay/mod.ts";

/**
 * How long a client waits before it reconnects, in ms (the `retry:` of every stream, sent first and again
 * when the relay ends a stream): long enough that a restarting relay is back, short enough that a user
 * hardly notices.
 */
export const SSE_RETRY_MS = 2000;

/** The response headers of every stream (`X-Accel-Buffering: no` asks nginx not to buffer it). */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-store",
  "x-accel-buffering": "no",
});

const encoder = new TextEncoder();

/** SSE text as one chunk of the response body. */
function chunkOf(text: string): Uint8Array {
  return frameChunk(encoder.encode(text));
}

/** A one-channel stream: `event: message`, the id `<epoch>:<seq>` and the envelope, once per message. */
export const SSE_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) =>
    chunkOf(
      sseEvent("message", messageEnvelope(m.channel, m.seq, m.data, m.publisher), positionId(m.epoch, m.seq)),
    )
  ),
  reply: chunkOf,
});

/**
 * A many-channel stream: the same event without an id, once per message (the stream's id covers every
 * channel, so each stream writes its own after the messages of a turn).
 */
export const SSE_MANY_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) =>
    chunkOf(sseEvent("message", messageEnvelope(m.channel, m.seq, m.data, m.publisher)))
  ),
  reply: chunkOf,
});

const RETRY_CHUNK = chunkOf(sseRetry(SSE_RETRY_MS));
/** How long after the response head a stream's first events are written, in ms (see `SseLink.open`). */
const FIRST_EVENTS_DELAY_MS = 10;
/** The opening `retry:` line, part of the stream's first event. */
const OPENING_RETRY_CHUNK = chunkOf(sseRetryLine(SSE_RETRY_MS));
const KEEPALIVE_TEXT = sseComment("keep-alive");

/** Options of {@link SseTransport}. */
export interface SseOptions {
  /** A comment goes to every stream this often, in ms (`--sse-keepalive`). */
  keepaliveMs: number;
}

/**
 * Every stream of a relay: opens them on the HTTP hand-off and keeps them alive with one interval timer for
 * all (no timer per stream), running only while streams are open.
 */
export class SseTransport {
  readonly relay: Relay;
  readonly #keepaliveMs: number;
  readonly #links = new Set<SseLink>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(relay: Relay, options: SseOptions) {
    this.relay = relay;
    this.#keepaliveMs = options.keepaliveMs;
  }

  /** Registers the stream of this request with the HTTP layer; the route then returns {@link SSE_HEADERS}. */
  accept(info: RequestInfo, policy: SessionPolicy, channels: readonly StreamChannel[]): void {
    info.stream(new SseLink(this, policy, channels));
  }

  /** Streams open now. */
  get streams(): number {
    return this.#links.size;
  }

  /** @internal */
  opened(link: SseLink): void {
    this.#links.add(link);
    if (this.#timer === undefined && this.#keepaliveMs > 0) {
      this.#timer = setInterval(this.#keepAlive, this.#keepaliveMs);
    }
  }

  /** @internal */
  closed(link: SseLink): void {
    this.#links.delete(link);
    if (this.#links.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #keepAlive = (): void => {
    for (const link of this.#links) link.keepAlive();
  };
}

/** One stream: the HTTP layer's taker and the session's {@link Outbound}, in one object. */
class SseLink implements StreamTaker, Outbound {
  readonly #transport: SseTransport;
  readonly #policy: SessionPolicy;
  readonly #channels: readonly StreamChannel[];
  #stream: ResponseStream | undefined;
  #session: EventStreamSession | undefined;
  #closed = false;
  /** The stream was ended or aborted: nothing more goes out. */
  #ended = false;

  constructor(transport: SseTransport, policy: SessionPolicy, channels: readonly StreamChannel[]) {
    this.#transport = transport;
    this.#policy = policy;
    this.#channels = channels;
  }

  open(stream: ResponseStream): void {
    this.#stream = stream;
    // First, so even a client that gets nothing else knows how soon to come back; no blank line after it, so
    // it belongs to the first event the session writes (`subscribed`) rather than being a block of its own.
    stream.write(OPENING_RETRY_CHUNK);
    this.#transport.opened(this);
    // The response head goes out on its own first, the events a moment later: a minimal client that reads the
    // head with one `recv` and only decodes later reads would otherwise hold the first events unseen until
    // more bytes come (a keep-alive, 15 s later). Subscribing a few ms later loses nothing: a resume replays
    // from `since`, and a fresh subscription starts at the channel's latest seq either way.
    setTimeout(this.#start, FIRST_EVENTS_DELAY_MS);
  }

  #start = (): void => {
    if (this.#closed || this.#ended) return;
    const wire = this.#channels.length > 1 ? SSE_MANY_WIRE : SSE_WIRE;
    const session = new EventStreamSession(this.#transport.relay, this, wire, this.#policy, this.#channels);
    this.#session = session;
    // The connection may have closed while the session wrote its first events.
    if (this.#closed) session.closed();
  };

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended = true;
    this.#transport.closed(this);
    this.#session?.closed();
  }

  /** A comment, under the send-queue bound like everything else: a reader that stopped is cut off. */
  keepAlive(): void {
    if (this.#session !== undefined && !this.#ended) {
      this.#transport.relay.reply(this.#session, KEEPALIVE_TEXT);
    }
  }

  write(bytes: Uint8Array): void {
    this.#stream!.write(bytes);
  }

  get bufferedAmount(): number {
    return this.#stream!.bufferedAmount;
  }

  /** Ends the body; a relay going away says again how soon to come back. */
  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    if (reason === END_REASON.GoingAway) this.#stream!.write(RETRY_CHUNK);
    this.#stream!.end();
  }

  fail(): void {
    this.closeSlow();
  }

  closeSlow(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#stream!.abort();
    return true;
  }
}
