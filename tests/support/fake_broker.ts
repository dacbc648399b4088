/**
 * Test helpers for pub/sub: a recording subscriber and a broker that answers asynchronously (the shape of a
 * Redis broker) on top of the memory broker, with hooks into the window between attach and history read.
 * @module
 */
import type {
  Broker,
  BrokerListener,
  BrokerStats,
  ChannelMessage,
  ChannelState,
  HistoryOptions,
  HistoryResult,
  SubscribedState,
  Subscriber,
} from "../../src/pubsub/mod.ts";
import { MemoryBroker, type MemoryBrokerOptions } from "../../src/pubsub/mod.ts";

/** Everything a subscriber was told, in order. */
export type Event = { subscribed: SubscribedState } | { message: ChannelMessage };

export class RecordingSubscriber implements Subscriber {
  events: Event[] = [];
  subscribed(state: SubscribedState): void {
    this.events.push({ subscribed: state });
  }
  deliver(message: ChannelMessage): void {
    this.events.push({ message });
  }
  /** Seqs of delivered messages, in order. */
  get seqs(): number[] {
    return this.events.flatMap((e) => ("message" in e ? [e.message.seq] : []));
  }
  /** The `subscribed` states, in order. */
  get states(): SubscribedState[] {
    return this.events.flatMap((e) => ("subscribed" in e ? [e.subscribed] : []));
  }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A broker answering through promises, each after a macrotask, like a remote one. */
export class AsyncBroker implements Broker {
  readonly inner: MemoryBroker;
  readonly nodeId: string;
  /** Runs after the attach and before the history/state read. */
  beforeRead: () => void = () => {};
  /** Runs after the history/state read, before its answer arrives. */
  afterRead: () => void = () => {};
  /** Makes the next `subscribe` reject. */
  failSubscribe = false;
  readonly listeners = new Map<string, Set<BrokerListener>>();

  constructor(options: MemoryBrokerOptions = {}) {
    this.inner = new MemoryBroker(options);
    this.nodeId = this.inner.nodeId;
  }

  async publish(channel: string, data: string | Uint8Array): Promise<ChannelMessage> {
    await tick();
    return this.inner.publish(channel, data);
  }

  async subscribe(channel: string, listener: BrokerListener): Promise<void> {
    await tick();
    if (this.failSubscribe) {
      this.failSubscribe = false;
      throw new Error("subscribe failed");
    }
    this.inner.subscribe(channel, listener);
    let set = this.listeners.get(channel);
    if (set === undefined) this.listeners.set(channel, set = new Set());
    set.add(listener);
  }

  async unsubscribe(channel: string, listener: BrokerListener): Promise<void> {
    await tick();
    this.inner.unsubscribe(channel, listener);
    this.listeners.get(channel)?.delete(listener);
  }

  history(channel: string, options?: HistoryOptions): Promise<HistoryResult> {
    return this.#read(() => this.inner.history(channel, options));
  }

  state(channel: string): Promise<ChannelState> {
    return this.#read(() => this.inner.state(channel));
  }

  ready(): boolean {
    return this.inner.ready();
  }

  stats(): BrokerStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    this.inner.close();
    return Promise.resolve();
  }

  /** Tells the listeners of `channel` that its history was lost. */
  announceEpoch(channel: string, state: ChannelState): void {
    for (const listener of this.listeners.get(channel) ?? []) listener.epochChanged(channel, state);
  }

  async #read<T>(read: () => T): Promise<T> {
    await tick();
    this.beforeRead();
    const result = read();
    await tick();
    this.afterRead();
    await tick();
    return result;
  }
}
