/**
 * One channel this node is subscribed to in Redis: its local broker listeners and the sequencer that puts
 * pub/sub messages back in order before they reach them.
 * @module
 */
import type { BrokerListener } from "../broker.ts";
import type { ChannelMessage, ChannelState } from "../message.ts";
import type { ChannelKeys } from "./scripts.ts";
import { ChannelSequencer, type FetchResult, type SequencerOptions } from "./sequencer.ts";

/** What a subscribed channel needs from its broker. */
export interface ChannelHost {
  /** Reads `from`..`to` of the channel's stream with its state, creating the epoch if it is missing. */
  fetch(keys: ChannelKeys, channel: string, from: number, to: number | undefined): Promise<FetchResult>;
  onError(error: unknown, channel: string): void;
}

/** A channel with local listeners. */
export class SubscribedChannel {
  readonly channel: string;
  readonly keys: ChannelKeys;
  readonly listeners = new Set<BrokerListener>();
  readonly sequencer: ChannelSequencer;
  /** Settles when the Redis subscription and the initial state read are done. */
  ready: Promise<void> = Promise.resolve();
  readonly #host: ChannelHost;

  constructor(channel: string, keys: ChannelKeys, host: ChannelHost, options: SequencerOptions) {
    this.channel = channel;
    this.keys = keys;
    this.#host = host;
    this.sequencer = new ChannelSequencer({
      deliver: (message) => this.#deliver(message),
      reset: (state) => this.#reset(state),
      fetch: (from, to) => host.fetch(keys, channel, from, to),
      onError: (error) => host.onError(error, channel),
    }, options);
  }

  #deliver(message: ChannelMessage): void {
    for (const listener of this.listeners) {
      try {
        listener.message(message);
      } catch (error) {
        this.#host.onError(error, this.channel);
      }
    }
  }

  #reset(state: ChannelState): void {
    for (const listener of this.listeners) {
      try {
        listener.epochChanged(this.channel, state);
      } catch (error) {
        this.#host.onError(error, this.channel);
      }
    }
  }
}
