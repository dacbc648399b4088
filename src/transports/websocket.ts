/**
 * The WebSocket transport: a session's {@link Outbound} over our RFC 6455 connection, the per-message frames
 * of each mode (encoded once per message, written as the same bytes to every subscriber; a third, compressed
 * form for connections that agreed on permessage-deflate), and the Hono
 * WebSocket events that start a session on open and feed it the client's messages.
 * @module
 */
import type { WSContext, WSEvents, WSMessageReceive } from "hono/ws";
import { type ChannelMessage, perMessage } from "../pubsub/mod.ts";
import { messageEnvelope } from "../protocol/mod.ts";
import {
  END_REASON,
  type EndReason,
  EnvelopeSession,
  type Outbound,
  RawSession,
  type Relay,
  type Session,
  type SessionPolicy,
  type Wire,
} from "../relay/mod.ts";
import {
  CLOSE_CODE,
  type DeflateCompression,
  deflateMessage,
  encodeBinary,
  encodeCompressedFrame,
  encodeText,
  payloadOffset,
  type WebSocketConnection,
} from "../websocket/mod.ts";

/** The close code of each way a session ends (RFC 6455 §7.4.1). */
export const CLOSE_CODE_OF: Readonly<Record<EndReason, number>> = Object.freeze({
  [END_REASON.GoingAway]: CLOSE_CODE.GoingAway,
  [END_REASON.Policy]: CLOSE_CODE.PolicyViolation,
  [END_REASON.Unsupported]: CLOSE_CODE.UnsupportedData,
  [END_REASON.TooBig]: CLOSE_CODE.MessageTooBig,
  [END_REASON.Unavailable]: CLOSE_CODE.TryAgainLater,
  [END_REASON.SlowConsumer]: CLOSE_CODE.TryAgainLater,
});

/** Raw mode: a message's data as one text or binary frame, encoded once per message. */
export const RAW_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) =>
    typeof m.data === "string" ? encodeText(m.data) : encodeBinary(m.data)
  ),
  reply: encodeText,
});

/** Envelope mode: `{"type":"message",…}` as one text frame, encoded once per message; replies as text frames. */
export const ENVELOPE_WIRE: Wire = Object.freeze({
  message: perMessage((m: ChannelMessage) =>
    encodeText(messageEnvelope(m.channel, m.seq, m.data, m.publisher))
  ),
  reply: encodeText,
});

/**
 * The compressed form of a plain frame (RFC 7692 §7.2.1): its payload deflated into a frame with RSV1, or the
 * plain frame itself when the payload is under the threshold or deflate would not make it smaller.
 */
function compressFrame(plain: Uint8Array, compression: DeflateCompression): Uint8Array {
  const offset = payloadOffset(plain);
  if (plain.length - offset < compression.thresholdBytes) return plain;
  const deflated = deflateMessage(plain.subarray(offset), compression);
  return deflated === null ? plain : encodeCompressedFrame(plain[0] & 0x0f, deflated);
}

/**
 * A mode's wire for connections that agreed on permessage-deflate: each message is compressed at most once,
 * lazily (only when such a subscriber gets it), from the plain frame, and the same compressed bytes go to
 * every one of them. Replies stay plain: they are small.
 */
function compressedWire(plain: Wire, compression: DeflateCompression): Wire {
  return Object.freeze({
    message: perMessage((m: ChannelMessage) => compressFrame(plain.message(m), compression)),
    reply: plain.reply,
  });
}

/**
 * The compressed wires made so far, per mode and per compression settings. Agreements, and so their
 * `compression` objects, are shared per server options and window (`negotiateDeflate`), so there are as many
 * wires as windows in use (in practice one per mode), each with its own per-message cache.
 */
const COMPRESSED_WIRES = {
  raw: new WeakMap<DeflateCompression, Wire>(),
  envelope: new WeakMap<DeflateCompression, Wire>(),
};

/** The wire of a connection: plain, or compressed when its agreement allows sending compressed messages. */
function wireOf(ws: WebSocketConnection, raw: boolean): Wire {
  const plain = raw ? RAW_WIRE : ENVELOPE_WIRE;
  const compression = ws.perMessageDeflate?.compression;
  if (!compression) return plain;
  const wires = raw ? COMPRESSED_WIRES.raw : COMPRESSED_WIRES.envelope;
  let wire = wires.get(compression);
  if (wire === undefined) wires.set(compression, wire = compressedWire(plain, compression));
  return wire;
}

/**
 * One WebSocket client: the Hono events of its connection and the {@link Outbound} of its session, in one
 * small object (a relay holds many idle connections: no closure per event, no second wrapper).
 */
class WebSocketLink implements WSEvents<WebSocketConnection>, Outbound {
  readonly #relay: Relay;
  readonly #policy: SessionPolicy;
  /** Raw mode's channel; null in envelope mode. */
  readonly #channel: string | null;
  #ws: WebSocketConnection | undefined;
  #session: Session | undefined;

  constructor(relay: Relay, policy: SessionPolicy, channel: string | null) {
    this.#relay = relay;
    this.#policy = policy;
    this.#channel = channel;
  }

  onOpen(_event: Event, ws: WSContext<WebSocketConnection>): void {
    const raw = this.#ws = ws.raw!;
    // The wire is chosen once per connection: a plain subscriber's delivery path has no compression branch.
    this.#session = this.#channel === null
      ? new EnvelopeSession(this.#relay, this, wireOf(raw, false), this.#policy)
      : new RawSession(this.#relay, this, wireOf(raw, true), this.#channel, this.#policy);
  }

  onMessage(event: MessageEvent<WSMessageReceive>): void {
    const data = event.data;
    this.#session?.receive(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  }

  onClose(): void {
    this.#session?.closed();
  }

  write(bytes: Uint8Array): void {
    this.#ws!.sendFrame(bytes);
  }

  get bufferedAmount(): number {
    return this.#ws!.bufferedAmount;
  }

  end(reason: EndReason, detail: string): void {
    this.#ws!.close(CLOSE_CODE_OF[reason], detail);
  }

  fail(reason: EndReason, detail: string): void {
    this.#ws!.fail(CLOSE_CODE_OF[reason], detail);
  }

  closeSlow(): boolean {
    return this.#ws!.closeDiscarding(CLOSE_CODE.TryAgainLater, "slow consumer");
  }
}

/** Hono WebSocket events of a raw-mode connection to `channel` (`GET /ws/:channel`). */
export function rawWebSocketEvents(
  relay: Relay,
  channel: string,
  policy: SessionPolicy,
): WSEvents<WebSocketConnection> {
  return new WebSocketLink(relay, policy, channel);
}

/** Hono WebSocket events of an envelope-mode connection (`GET /ws`, `relay.v1`). */
export function envelopeWebSocketEvents(relay: Relay, policy: SessionPolicy): WSEvents<WebSocketConnection> {
  return new WebSocketLink(relay, policy, null);
}
