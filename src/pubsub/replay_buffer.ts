/**
 * Subscribe-with-replay against a broker that answers asynchronously (Redis): attach to live delivery first,
 * hold the live messages that arrive meanwhile here, read history, then hand the subscriber the replay followed
 * by the held messages it did not already get. Nothing published during the replay is lost or duplicated:
 * every message is either in the history read (seq <= what it reports) or arrives live after the attach. It
 * can be both when the read is ahead of the node's live stream (Redis answers reads and pub/sub on separate
 * connections): the registry then gives the subscriber a floor, its last replayed seq, below which live
 * messages are skipped for it (`ChannelEntry.ahead` in `channel_registry.ts`).
 *
 * With a synchronous broker (memory) replay-then-attach happens in one synchronous step and the buffer stays
 * empty; the channel registry uses it for every broker anyway, so both go through one code path.
 * @module
 */
import type { ChannelMessage, ChannelState } from "./message.ts";
import type { Recovery } from "./recovery.ts";

/** What a subscriber is told when its subscription takes effect (and again if the channel's epoch changes). */
export interface SubscribedState extends ChannelState {
  channel: string;
  /** True when every message after the requested `since` follows; false when none does (resync). */
  recovered: boolean;
}

/** What a joining subscriber gets, in this order. */
export interface Settled {
  state: SubscribedState;
  /** The replay, then the held live messages newer than it. */
  messages: ChannelMessage[];
}

export class ReplayBuffer {
  readonly channel: string;
  #held: ChannelMessage[] = [];
  #reset: ChannelState | undefined;

  constructor(channel: string) {
    this.channel = channel;
  }

  /** A live message arrived before the replay was read. */
  push(message: ChannelMessage): void {
    this.#held.push(message);
  }

  /** The channel's history was lost while the join was in flight. */
  epochChanged(state: ChannelState): void {
    this.#reset = state;
  }

  /**
   * Combines the history read (made after the attach) with the held live messages: the replay, then held
   * messages of the same epoch with `seq` above the last replayed (or, unrecovered, above the state read).
   * If the epoch changed (or a hole was announced past the read) meanwhile, the read is void: the subscriber
   * starts unrecovered from the announced state.
   */
  settle(recovery: Recovery): Settled {
    const reset = this.#reset;
    // A reset in another epoch voids the read; so does one in the same epoch past what was read (a broker
    // announcing a hole it could not fill): either way the subscriber must not be told it recovered.
    const stale = reset !== undefined && (reset.epoch !== recovery.epoch || reset.seq > recovery.seq);
    const base: ChannelState = stale ? reset : recovery;
    const messages = stale ? [] : recovery.messages.slice();
    for (const message of this.#held) {
      if (message.epoch === base.epoch && message.seq > base.seq) messages.push(message);
    }
    this.#held = [];
    return {
      state: {
        channel: this.channel,
        seq: base.seq,
        epoch: base.epoch,
        recovered: !stale && recovery.recovered,
      },
      messages,
    };
  }
}
