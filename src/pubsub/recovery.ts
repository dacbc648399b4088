/**
 * Resume, all or nothing: a client that saw a channel up to `since` in `epoch` either gets every message after
 * it, in order, or none and `recovered: false`, so it knows to resync. Never a silent gap.
 * @module
 */
import type { Broker, HistoryResult } from "./broker.ts";
import { type MaybePromise, then } from "./maybe_promise.ts";
import type { ChannelMessage, ChannelState } from "./message.ts";

/** The outcome of {@link recover}. */
export interface Recovery extends ChannelState {
  /** True when `messages` is every message after `since`. */
  recovered: boolean;
  /** When recovered: every message after `since`, oldest first (possibly none). Otherwise empty. */
  messages: ChannelMessage[];
  /**
   * When recovered: the last replayed seq (`since` if none), which live delivery continues from. Otherwise the
   * channel's seq when read: the client resyncs from there.
   */
  seq: number;
}

/**
 * Reads what a client that saw `channel` up to `since` in `epoch` missed. `recovered` is false when history no
 * longer reaches `since + 1` (trimmed by size or age), the epoch differs (required when `since > 0`), or `since`
 * is in the future. Works on every {@link Broker} through {@link Broker.history}.
 *
 * @example
 * ```ts
 * const r = await recover(broker, "news", 12, epoch);
 * if (r.recovered) r.messages.forEach(send); else resync(r.seq, r.epoch);
 * ```
 */
export function recover(
  broker: Broker,
  channel: string,
  since: number,
  epoch?: string,
): MaybePromise<Recovery> {
  return then(broker.history(channel, { since, epoch }), (history) => toRecovery(since, history));
}

/** The channel's current state as a join without resume: nothing replayed, `recovered: false`. */
export function currentState(broker: Broker, channel: string): MaybePromise<Recovery> {
  return then(
    broker.state(channel),
    (state) => ({ seq: state.seq, epoch: state.epoch, recovered: false, messages: [] }),
  );
}

function toRecovery(since: number, history: HistoryResult): Recovery {
  const messages = history.messages;
  const count = messages.length;
  // Check the run as well as the broker's word: a broker bug must show as `recovered: false`, not as a gap.
  const whole = history.contiguous &&
    (count === 0
      ? since === history.seq
      : messages[0].seq === since + 1 && messages[count - 1].seq === since + count);
  if (whole) {
    return {
      seq: count === 0 ? since : messages[count - 1].seq,
      epoch: history.epoch,
      recovered: true,
      messages,
    };
  }
  return { seq: history.seq, epoch: history.epoch, recovered: false, messages: [] };
}
