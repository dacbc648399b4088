/**
 * The unit the pub/sub layer stores and delivers.
 * @module
 */

/** Where a channel's numbering stands: the last assigned `seq` (0 if nothing was published) and its `epoch`. */
export interface ChannelState {
  /** Sequence number of the channel's latest message; 0 before the first publish. */
  seq: number;
  /**
   * Identity of the channel's numbering and history. It changes whenever history may have been lost (broker
   * restart, channel reclaimed and recreated), so a `seq` is meaningful only together with its epoch.
   */
  epoch: string;
}

/**
 * One published message. A publish creates exactly one of these; history and every subscriber share it, so
 * nobody may modify it (nor its `data` bytes) after `publish` returned.
 */
export interface ChannelMessage {
  channel: string;
  /** 1, 2, 3, … per channel and epoch, assigned by the broker. */
  seq: number;
  epoch: string;
  /** Text messages stay strings, binary messages stay bytes. */
  data: string | Uint8Array;
  /** Milliseconds since the Unix epoch, from the broker's clock; history TTL counts from it. */
  publishedAt: number;
  /**
   * Who published it: the verified token's `sub`, set by the relay (never by the client) and only on channels
   * matched by `--expose-publisher`. Absent otherwise, and on messages stored before the field existed.
   */
  publisher?: string;
}

/**
 * Longest publisher kept on a message, in UTF-16 code units: a bound on what every stored message and
 * delivered envelope may add. A token whose `sub` is longer may not publish to a channel that shows it.
 */
export const MAX_PUBLISHER_LENGTH = 128;

/** The message object a broker builds: `publisher` only when there is one (no `undefined` property). */
export function channelMessage(
  channel: string,
  seq: number,
  epoch: string,
  data: string | Uint8Array,
  publishedAt: number,
  publisher: string | undefined,
): ChannelMessage {
  return publisher === undefined
    ? { channel, seq, epoch, data, publishedAt }
    : { channel, seq, epoch, data, publishedAt, publisher };
}

/** True for a valid sequence number in a request (`since`): a non-negative safe integer. */
export function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Memoizes `encode` on the last message it saw. A fan-out hands the same {@link ChannelMessage} object to every
 * subscriber in a row, so `encode` runs once per message, not once per subscriber, with no map to grow.
 *
 * @example
 * ```ts
 * const frameOf = perMessage((m) => encodeFrame(m.data));
 * // in Subscriber.deliver: conn.write(frameOf(message));
 * ```
 */
export function perMessage<T>(encode: (message: ChannelMessage) => T): (message: ChannelMessage) => T {
  let last: ChannelMessage | undefined;
  let value: T;
  return (message) => {
    if (message !== last) {
      value = encode(message);
      last = message;
    }
    return value;
  };
}
