/**
 * How a session reaches its client, whatever the transport: pre-encoded bytes out, the bytes still queued, and
 * three ways to end. The relay core speaks only this; the WebSocket transport turns it into frames and close
 * codes, and server-sent events or long polling are other implementations of the same two interfaces.
 * @module
 */
import type { ChannelMessage } from "../pubsub/mod.ts";

/** Why a session ends its client's connection; each transport maps it onto its wire (WebSocket: a close code). */
export const END_REASON = {
  /** The relay is shutting down: reconnect elsewhere or later. */
  GoingAway: "going_away",
  /** The client broke a policy: not allowed, token expired, past its rate, too many invalid commands. */
  Policy: "policy",
  /** The client sent data this mode does not take. */
  Unsupported: "unsupported",
  /** The client sent a message larger than the relay takes. */
  TooBig: "too_big",
  /** The channel cannot be served now (broker unavailable): reconnect and resume. */
  Unavailable: "unavailable",
  /** The client did not read fast enough: its queue passed `--max-queued-bytes`; reconnect and resume. */
  SlowConsumer: "slow_consumer",
} as const;

export type EndReason = typeof END_REASON[keyof typeof END_REASON];

/** The outgoing side of one client connection. */
export interface Outbound {
  /** Queues bytes already encoded for this transport (often shared by many outbounds: never modified). */
  write(bytes: Uint8Array): void;
  /** Bytes queued and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Ends politely: what is queued still goes out first. */
  end(reason: EndReason, detail: string): void;
  /** Ends at once for a client that broke a policy: nothing more is read from it. */
  fail(reason: EndReason, detail: string): void;
  /** Drops what is queued and ends as a slow consumer. False when the connection was no longer open. */
  closeSlow(): boolean;
}

/**
 * The encoded forms a transport gives its sessions. `message` must compute each message's bytes at most once
 * per form, whatever the number of subscribers (the fan-out writes the same bytes to every one of them).
 */
export interface Wire {
  /** A channel message as this session's mode shows it (raw frame, envelope frame, SSE event, …). */
  message(message: ChannelMessage): Uint8Array;
  /** A reply of the envelope protocol (`ack`, `subscribed`, `error`, …), encoded for this transport. */
  reply(text: string): Uint8Array;
}
