/**
 * The multi-node broker: sequence numbers, epochs and history live in Redis, so every relay node sharing one
 * Redis sees one order and one history per channel, and a client can resume on any node. Layout and scripts in
 * `scripts.ts`, ordering of live messages in `sequencer.ts`.
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Redis } from "ioredis";
import {
  type Broker,
  BrokerFullError,
  type BrokerListener,
  type BrokerStats,
  checkHistoryOptions,
  coversSince,
  type HistoryOptions,
  type HistoryResult,
} from "../broker.ts";
import { type ChannelMessage, channelMessage, type ChannelState } from "../message.ts";
import { SubscribedChannel } from "./channel.ts";
import { createCommandClient, createSubscriberClient, type ScriptClient } from "./clients.ts";
import { decodeBody, decodePayload, encodeData } from "./codec.ts";
import { type ChannelKeys, channelKeys } from "./scripts.ts";
import type { FetchResult } from "./sequencer.ts";
import { parseRedisUrl } from "./url.ts";
import { randomId } from "../../util/mod.ts";

/** Options of {@link RedisBroker}. */
export interface RedisBrokerOptions {
  /** `redis://host:port` or `rediss://…` (see `parseRedisUrl`). */
  url: string;
  /** Messages kept per channel (stream MAXLEN); 0 keeps none. @default 100 */
  historySize?: number;
  /** Milliseconds a message stays in history; `Infinity` = until evicted by size. @default 300_000 */
  historyTtlMs?: number;
  /**
   * Milliseconds a channel's epoch and seq outlive its last publish or subscription (at least `historyTtlMs`);
   * after that it starts over in a new epoch, like a reclaimed memory-broker channel. `Infinity` keeps them.
   * @default 3_600_000
   */
  channelTtlMs?: number;
  /**
   * Channels this node may have created in Redis and not yet seen expire. Past it, a publish that would create
   * one first evicts the least recently used channel this node created, if nobody (on any node) published to
   * or read it for `historyTtlMs`; otherwise it is refused with a {@link BrokerFullError}. @default 100_000
   */
  maxChannels?: number;
  /** Commands awaiting Redis (publishes and reads); past it, new ones are refused at once. @default 1024 */
  maxInFlight?: number;
  /** Bytes of publishes awaiting Redis (strings counted by length); past it, refused. @default 16_777_216 */
  maxInFlightBytes?: number;
  /** A command not answered within this many milliseconds fails (it may still have run). @default 2_000 */
  commandTimeoutMs?: number;
  /** @default 2_000 */
  connectTimeoutMs?: number;
  /** Longest wait between reconnect attempts, in milliseconds. @default 1_000 */
  reconnectMaxDelayMs?: number;
  /** Out-of-order messages held per channel while a gap is fetched; past it the gap is skipped. @default 10_000 */
  maxHeldMessages?: number;
  /** Prefix of every Redis key and pub/sub channel of the relay. @default "relay:" */
  keyPrefix?: string;
  /** A listener threw, a gap could not be read, or a message was malformed; the broker went on. */
  onError?: (error: unknown, channel: string) => void;
  /** `ready()` changed: Redis became reachable (`true`) or was lost (`false`, with the last error). */
  onReadyChange?: (ready: boolean, detail: string) => void;
}

/** Defaults of {@link RedisBrokerOptions}. */
export const REDIS_BROKER_DEFAULTS = Object.freeze({
  historySize: 100,
  historyTtlMs: 300_000,
  // A channel's epoch outlives its history by far (5 min by default), so a quiet channel rarely starts a new
  // lineage under its subscribers, yet an abandoned one frees its key within the hour, not the day.
  channelTtlMs: 3_600_000,
  maxChannels: 100_000,
  maxInFlight: 1024,
  maxInFlightBytes: 16 * 1024 * 1024,
  commandTimeoutMs: 2_000,
  connectTimeoutMs: 2_000,
  reconnectMaxDelayMs: 1_000,
  maxHeldMessages: 10_000,
  keyPrefix: "relay:",
});

/** Redis cannot take the command now (down, too busy, too slow): nothing was acknowledged. */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
}

/** Created channels a publish past `maxChannels` tries to evict before it is refused. */
const EVICTION_CANDIDATES = 4;

/** Milliseconds as a Redis TTL argument; 0 = none. */
function ttlArg(ms: number): number {
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 0;
}

function unavailable(error: unknown): BrokerUnavailableError {
  if (error instanceof BrokerUnavailableError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BrokerUnavailableError(`redis: ${detail}`, { cause: error });
}

/**
 * {@link Broker} over Redis. A publish runs one script that assigns the channel's next `seq`, appends it to the
 * channel's stream (the history) and publishes it on the channel's pub/sub topic, atomically; a node subscribes
 * to a topic only while it has local listeners, and delivers to them in `seq` order (holes are filled from the
 * stream, or announced with `epochChanged`). Every method answers with a promise.
 *
 * It connects in the background: until Redis is reachable `ready()` is false and calls reject with a
 * {@link BrokerUnavailableError}; after a disconnection it reconnects, re-subscribes and catches up by itself.
 *
 * @example
 * ```ts
 * const broker = new RedisBroker({ url: "redis://127.0.0.1:6379" });
 * const message = await broker.publish("news", "hello"); // { seq, epoch, … }, stored in Redis
 * ```
 */
export class RedisBroker implements Broker {
  readonly nodeId: string = randomId();
  readonly #options: Required<Omit<RedisBrokerOptions, "onError" | "onReadyChange">>;
  readonly #onError: (error: unknown, channel: string) => void;
  readonly #onReadyChange: (ready: boolean, detail: string) => void;
  readonly #cmd: ScriptClient;
  readonly #sub: Redis;
  readonly #channels = new Map<string, SubscribedChannel>();
  readonly #byTopic = new Map<string, SubscribedChannel>();
  /** The epoch reported for channels that do not exist in Redis; no lineage ever uses it. */
  readonly #vacantEpoch = randomId();
  /**
   * Channels this node created in Redis, by when their `meta` expires unless touched again (ms, this node's
   * clock), soonest first: an insertion-ordered map re-inserted on each publish.
   */
  readonly #created = new Map<string, number>();
  /** Publishes in flight that may create a channel: they count against `maxChannels` until they settle. */
  #creating = 0;
  #inFlight = 0;
  #inFlightBytes = 0;
  #published = 0;
  #closed = false;
  /** What `onReadyChange` last said; undefined before the first connection attempt ended. */
  #wasReady: boolean | undefined;
  #lastError = "not connected yet";

  constructor(options: RedisBrokerOptions) {
    const endpoint = parseRedisUrl(options.url);
    this.#options = { ...REDIS_BROKER_DEFAULTS, ...options };
    for (const key of ["historySize", "maxInFlight", "maxHeldMessages", "maxChannels"] as const) {
      const value = this.#options[key];
      if (!(Number.isSafeInteger(value) && value >= (key === "historySize" ? 0 : 1))) {
        throw new RangeError(
          `${key} must be a ${key === "historySize" ? "non-negative" : "positive"} integer`,
        );
      }
    }
    this.#onError = options.onError ?? (() => {});
    this.#onReadyChange = options.onReadyChange ?? (() => {});
    const policy = {
      connectTimeoutMs: this.#options.connectTimeoutMs,
      reconnectMaxDelayMs: this.#options.reconnectMaxDelayMs,
      name: `edge-relay-${this.nodeId.slice(0, 8)}`,
    };
    this.#cmd = createCommandClient(endpoint, policy);
    this.#sub = createSubscriberClient(endpoint, policy);
    const track = () => this.#reportReady(false);
    for (const client of [this.#cmd, this.#sub]) {
      client.on("error", (error) => {
        this.#lastError = error instanceof Error ? error.message : String(error);
        this.#reportReady(true);
      });
      client.on("close", track);
      client.on("ready", () => {
        this.#lastError = "connection closed";
        track();
      });
    }
    this.#sub.on("ready", () => this.#resubscribe());
    this.#sub.on("messageBuffer", (topic: Buffer, payload: Buffer) => this.#receive(topic, payload));
  }

  async publish(channel: string, data: string | Uint8Array, publisher?: string): Promise<ChannelMessage> {
    const now = Date.now();
    this.#forgetExpired(now);
    let mayCreate = this.#created.has(channel) ||
      this.#created.size + this.#creating < this.#options.maxChannels;
    let result = await this.#publishScript(channel, data, publisher, mayCreate);
    if (result === undefined) {
      // A new channel past the cap: make room by evicting one this node created, or refuse.
      await this.#evictOne(channel);
      mayCreate = true;
      result = await this.#publishScript(channel, data, publisher, mayCreate);
    }
    const [seq, epoch, publishedAt, created] = result!;
    if (created === 1 || this.#created.has(channel)) {
      this.#created.delete(channel);
      this.#created.set(channel, now + this.#metaTtlMs());
    }
    this.#published++;
    return channelMessage(channel, seq, epoch, data, publishedAt, publisher);
  }

  subscribe(channel: string, listener: BrokerListener): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("redis broker is closed"));
    const existing = this.#channels.get(channel);
    if (existing !== undefined) {
      existing.listeners.add(listener);
      return existing.ready;
    }
    const subscribed = new SubscribedChannel(channel, this.#keys(channel), {
      fetch: (keys, name, from, to) => this.#fetch(keys, name, from, to),
      onError: this.#onError,
    }, { maxHeldMessages: this.#options.maxHeldMessages, retryMs: this.#options.reconnectMaxDelayMs });
    subscribed.listeners.add(listener);
    this.#channels.set(channel, subscribed);
    this.#byTopic.set(subscribed.keys.topic, subscribed);
    subscribed.ready = this.#attach(subscribed).catch((error) => {
      if (this.#channels.get(channel) === subscribed) this.#detach(subscribed);
      throw unavailable(error);
    });
    return subscribed.ready;
  }

  unsubscribe(channel: string, listener: BrokerListener): Promise<void> {
    const subscribed = this.#channels.get(channel);
    if (subscribed === undefined || !subscribed.listeners.delete(listener)) return Promise.resolve();
    if (subscribed.listeners.size > 0) return Promise.resolve();
    return this.#detach(subscribed);
  }

  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    checkHistoryOptions(options);
    const since = options.since ?? 0;
    const keys = this.#keys(channel);
    const read = await this.#read(keys, channel, "", since + 1, undefined, options.limit ?? 0);
    if (read === undefined) {
      return { seq: 0, epoch: this.#vacantEpoch, messages: [], contiguous: since === 0 };
    }
    const { state, messages } = read;
    // The range starts at since + 1 and history is trimmed from the front only: if since + 1 is not the first
    // message returned, it is gone.
    const oldest = messages.length > 0 ? messages[0].seq : state.seq + 1;
    return { ...state, messages, contiguous: coversSince(since, options.epoch, state, oldest) };
  }

  async state(channel: string): Promise<ChannelState> {
    const keys = this.#keys(channel);
    const [epoch, seq] = await this.#command(0, () => this.#cmd.hmget(keys.meta, "epoch", "seq"));
    return epoch === null ? { seq: 0, epoch: this.#vacantEpoch } : { seq: Number(seq ?? 0), epoch };
  }

  ready(): boolean {
    return !this.#closed && this.#cmd.status === "ready" && this.#sub.status === "ready";
  }

  /** `retained` is 0: history lives in Redis, not in this process. */
  stats(): BrokerStats {
    return { channels: this.#channels.size, published: this.#published, retained: 0, retainedBytes: 0 };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const subscribed of this.#channels.values()) subscribed.sequencer.close();
    this.#channels.clear();
    this.#byTopic.clear();
    this.#cmd.disconnect();
    this.#sub.disconnect();
    return Promise.resolve();
  }

  #keys(channel: string): ChannelKeys {
    return channelKeys(this.#options.keyPrefix, channel);
  }

  /** How long `meta` lives after a publish or read. */
  #metaTtlMs(): number {
    return Math.max(this.#options.channelTtlMs, this.#options.historyTtlMs);
  }

  /** Runs the publish script; `undefined` when `mayCreate` is false and the channel does not exist. */
  async #publishScript(
    channel: string,
    data: string | Uint8Array,
    publisher: string | undefined,
    mayCreate: boolean,
  ): Promise<[number, string, number, number] | undefined> {
    const keys = this.#keys(channel);
    const [type, value] = encodeData(data, publisher);
    const o = this.#options;
    if (mayCreate) this.#creating++;
    try {
      const result = await this.#command(data.length, () =>
        this.#cmd.relayPublish(
          keys.meta,
          keys.log,
          randomId(),
          o.historySize,
          ttlArg(o.historyTtlMs),
          ttlArg(this.#metaTtlMs()),
          type,
          value,
          keys.topic,
          mayCreate ? "1" : "0",
        ));
      return result[0] === 0 ? undefined : result;
    } finally {
      if (mayCreate) this.#creating--;
    }
  }

  /** Forgets created channels whose `meta` has expired by now (they no longer cost Redis anything). */
  #forgetExpired(now: number): void {
    for (const [channel, expiresAt] of this.#created) {
      if (expiresAt > now) return;
      this.#created.delete(channel);
    }
  }

  /**
   * Frees one slot of `maxChannels` for `channel`: tries the least recently published channels this node
   * created, in order, deleting the first that nobody used for `historyTtlMs` and that has no listener here.
   * Its history had expired by then anyway; a client resuming it later gets `recovered: false`, as after expiry.
   * Tries a few only, so a publish never waits on a long walk.
   */
  async #evictOne(channel: string): Promise<void> {
    const o = this.#options;
    const minIdleMs = o.historyTtlMs;
    const candidates = [...this.#takeOldest(EVICTION_CANDIDATES)];
    let freed = false;
    for (const candidate of candidates) {
      if (freed || !Number.isFinite(minIdleMs) || this.#channels.has(candidate)) {
        this.#created.set(candidate, Date.now() + this.#metaTtlMs()); // still in use: newest again
        continue;
      }
      const keys = this.#keys(candidate);
      const deleted = await this.#command(
        0,
        () => this.#cmd.relayEvict(keys.meta, keys.log, ttlArg(minIdleMs), ttlArg(this.#metaTtlMs())),
      );
      if (deleted === 1) freed = true;
      else this.#created.set(candidate, Date.now() + this.#metaTtlMs());
    }
    if (!freed) {
      throw new BrokerFullError(
        "maxChannels",
        `cannot create channel ${channel}: this relay created ${o.maxChannels} channels in Redis, all in use`,
      );
    }
  }

  /** Removes and returns up to `count` of the least recently published created channels. */
  *#takeOldest(count: number): Generator<string> {
    let taken = 0;
    for (const channel of this.#created.keys()) {
      if (taken++ === count) return;
      this.#created.delete(channel);
      yield channel;
    }
  }

  /** Subscribes the topic, then reads the state the sequencer starts from (creating the epoch if new). */
  async #attach(subscribed: SubscribedChannel): Promise<void> {
    if (this.#sub.status !== "ready") throw new BrokerUnavailableError("redis: not connected");
    await this.#deadline(this.#sub.subscribe(subscribed.keys.topic));
    const { state } = await this.#fetch(subscribed.keys, subscribed.channel, 0, undefined, -1);
    if (this.#channels.get(subscribed.channel) === subscribed) subscribed.sequencer.start(state);
  }

  #detach(subscribed: SubscribedChannel): Promise<void> {
    this.#channels.delete(subscribed.channel);
    this.#byTopic.delete(subscribed.keys.topic);
    subscribed.sequencer.close();
    // Not subscribed after a reconnect anyway (re-subscription covers tracked channels only).
    if (this.#closed || this.#sub.status !== "ready") return Promise.resolve();
    return this.#deadline(this.#sub.unsubscribe(subscribed.keys.topic)).then(() => {}, () => {});
  }

  /** After (re)connecting: subscribe every tracked topic again, then let each channel catch up. */
  #resubscribe(): void {
    const channels = [...this.#channels.values()];
    if (channels.length === 0) return;
    const topics = channels.map((c) => c.keys.topic);
    const batches: Promise<unknown>[] = [];
    for (let i = 0; i < topics.length; i += 1000) {
      batches.push(this.#deadline(this.#sub.subscribe(...topics.slice(i, i + 1000))));
    }
    Promise.all(batches).then(
      () => {
        for (const subscribed of channels) subscribed.sequencer.check();
      },
      // The connection dropped again: its next "ready" retries.
      (error) => this.#onError(error, "*"),
    );
  }

  #receive(topic: Buffer, payload: Buffer): void {
    const subscribed = this.#byTopic.get(topic.toString("latin1"));
    if (subscribed === undefined) return;
    let message: ChannelMessage;
    try {
      message = decodePayload(subscribed.channel, payload);
    } catch (error) {
      this.#onError(error, subscribed.channel);
      return;
    }
    subscribed.sequencer.accept(message);
  }

  /** The sequencer's read: messages `from`..`to` and the state, creating the epoch if it is missing. */
  async #fetch(
    keys: ChannelKeys,
    channel: string,
    from: number,
    to: number | undefined,
    count = 0,
  ): Promise<FetchResult> {
    const read = await this.#read(keys, channel, randomId(), from, to, count);
    return read!; // with an epoch candidate the read always has a state
  }

  /** Runs the read script; `undefined` when the channel has no epoch and `candidate` is empty. */
  async #read(
    keys: ChannelKeys,
    channel: string,
    candidate: string,
    from: number,
    to: number | undefined,
    count: number,
  ): Promise<FetchResult | undefined> {
    const o = this.#options;
    const [epochBytes, seq, bodies] = await this.#command(0, () =>
      this.#cmd.relayReadBuffer(
        keys.meta,
        keys.log,
        candidate,
        ttlArg(Math.max(o.channelTtlMs, o.historyTtlMs)),
        String(Math.max(from, 1)),
        to === undefined ? "+" : String(to),
        count,
        ttlArg(o.historyTtlMs),
      ));
    if (epochBytes === null) return undefined;
    const epoch = epochBytes.toString("latin1");
    return { state: { epoch, seq }, messages: bodies.map((body) => decodeBody(channel, epoch, body)) };
  }

  /**
   * Runs a command on the command connection within the bounds: refused at once while disconnected or past
   * `maxInFlight` / `maxInFlightBytes`, failed after `commandTimeoutMs`. A timed-out command still counts as
   * in flight until Redis answers it or the connection drops, so a stalled Redis cannot grow memory.
   */
  #command<T>(bytes: number, run: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("redis broker is closed"));
    if (this.#cmd.status !== "ready") {
      return Promise.reject(new BrokerUnavailableError("redis: not connected"));
    }
    const o = this.#options;
    if (
      this.#inFlight >= o.maxInFlight ||
      (this.#inFlightBytes > 0 && this.#inFlightBytes + bytes > o.maxInFlightBytes)
    ) {
      return Promise.reject(new BrokerUnavailableError("redis: too many commands in flight"));
    }
    this.#inFlight++;
    this.#inFlightBytes += bytes;
    let running: Promise<T>;
    try {
      running = run();
    } catch (error) {
      running = Promise.reject(error);
    }
    const settled = () => {
      this.#inFlight--;
      this.#inFlightBytes -= bytes;
    };
    running.then(settled, settled);
    return this.#deadline(running).catch((error) => {
      throw unavailable(error);
    });
  }

  /** `promise`, or a {@link BrokerUnavailableError} after `commandTimeoutMs`. */
  #deadline<T>(promise: Promise<T>): Promise<T> {
    const ms = this.#options.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BrokerUnavailableError(`redis: no answer within ${ms} ms`)),
        ms,
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Calls `onReadyChange` on a change; while still connecting the first time, only an error counts. */
  #reportReady(error: boolean): void {
    const ready = this.ready();
    if (ready === this.#wasReady || this.#closed) return;
    if (!ready && this.#wasReady === undefined && !error) return;
    this.#wasReady = ready;
    this.#onReadyChange(ready, ready ? "connected" : this.#lastError);
  }
}
