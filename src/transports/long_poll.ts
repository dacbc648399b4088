/**
 * The long-polling transport: `GET /channels/:channel/messages?wait=` held until a message arrives, the
 * channel's epoch changes, `wait` passes or the relay stops.
 *
 * A held poll costs one small {@link HeldPoll} object and the promise its request handler awaits: no timer and
 * no registry subscription of its own. All the held polls of a channel share one {@link Subscriber} of the
 * channel registry (taken with the first poll, released one wheel tick after the last), and all held polls
 * share one timer: a wheel of one-second buckets, so thousands of held polls cost the event loop one callback
 * a second, and a poll answered early leaves its bucket in O(1).
 * @module
 */
import {
  type ChannelMessage,
  type ChannelRegistry,
  isPromise,
  type MaybePromise,
  type SubscribedState,
  type Subscriber,
} from "../pubsub/mod.ts";
import type { Closable, Relay } from "../relay/mod.ts";

/** Bounds of long polling. */
export interface LongPollOptions {
  /**
   * Longest `wait` in milliseconds; a longer one is shortened to it. Below nginx's default
   * `proxy_read_timeout` (60 s), so a poll through a proxy with default settings is answered, not cut.
   * @default 55_000
   */
  maxWaitMs: number;
  /**
   * Held polls on the relay at once; past it a poll is refused (503 with `Retry-After`). Each held poll also
   * holds its HTTP connection, so `--max-connections` and `--max-connections-per-ip` bound them per address;
   * this cap bounds the burst of answers one publish can wake in one event-loop turn.
   * @default 20_000
   */
  maxHeldPolls: number;
}

/** Defaults of {@link LongPollOptions}. */
export const LONG_POLL_DEFAULTS: Readonly<LongPollOptions> = Object.freeze({
  maxWaitMs: 55_000,
  maxHeldPolls: 20_000,
});

/** Width of one bucket of the timer wheel: a held poll is answered between `wait` and `wait` + this. */
const TICK_MS = 1000;

/** Why a held poll ended (see {@link HeldPoll.end}). */
export const POLL_END = Object.freeze({
  /** Still open. */
  Open: 0,
  /** A message after `since` arrived: {@link HeldPoll.message} is the first one. */
  Message: 1,
  /** The channel's epoch changed: history before it is gone, re-read. */
  Reset: 2,
  /** `wait` passed with nothing new. */
  Timeout: 3,
  /** The relay is stopping. */
  Shutdown: 4,
  /** The client left before the answer (its connection closed). */
  Gone: 5,
});
export type PollEnd = typeof POLL_END[keyof typeof POLL_END];

// Phases of a held poll.
/** Opened: its channel subscription is in place, the route reads history. Messages are noted, not answered. */
const READING = 0;
/** Waiting for a message, the epoch change, its bucket or the shutdown. */
const ARMED = 1;
const DONE = 2;

/**
 * One long poll, from {@link LongPolls.open} to its answer. The route reads history once it is open, then
 * either answers at once ({@link HeldPoll.cancel}) or awaits {@link HeldPoll.wait}.
 */
export class HeldPoll implements Closable {
  readonly channel: string;
  /** Why it ended; {@link POLL_END.Open} while open. */
  end: PollEnd = POLL_END.Open;
  /**
   * With {@link POLL_END.Message}: the first live message after `since` (while reading: the latest one
   * delivered since the poll opened).
   */
  message: ChannelMessage | undefined;
  readonly #polls: LongPolls;
  readonly #entry: PollChannel;
  readonly #waitMs: number;
  #phase = READING;
  #since = 0;
  #epoch = "";
  /** The wheel bucket holding it while armed. */
  bucket: Set<HeldPoll> | undefined;
  #resolve: ((poll: HeldPoll) => void) | undefined;

  constructor(polls: LongPolls, entry: PollChannel, waitMs: number) {
    this.#polls = polls;
    this.#entry = entry;
    this.channel = entry.channel;
    this.#waitMs = waitMs;
  }

  /** Resolves once the channel subscription is in place (at once with a synchronous broker). */
  get ready(): MaybePromise<void> {
    return this.#entry.joined;
  }

  /**
   * Holds the poll for messages after `since` in `epoch` (the history read found none and said `epoch`).
   * Resolves with the poll itself once {@link HeldPoll.end} says why; at once when a message after `since`, an
   * epoch change or the shutdown came during the read.
   */
  wait(since: number, epoch: string): Promise<HeldPoll> {
    if (this.#phase === READING) {
      const noted = this.message;
      if (this.end === POLL_END.Open && noted !== undefined) {
        if (noted.epoch !== epoch) this.end = POLL_END.Reset;
        else if (noted.seq > since) this.end = POLL_END.Message;
      }
      if (this.end !== POLL_END.Open) {
        this.#finish();
        return Promise.resolve(this);
      }
      this.message = undefined;
      this.#since = since;
      this.#epoch = epoch;
      this.#phase = ARMED;
      this.#polls.arm(this, this.#waitMs);
    }
    return new Promise((resolve) => this.#resolve = resolve);
  }

  /** Gives the poll's place back without waiting (the route answered from history). */
  cancel(): void {
    if (this.#phase !== DONE) this.#finish();
  }

  // ---- from the channel, the wheel and the relay ----

  /** @internal A live message of the channel. */
  delivered(message: ChannelMessage): void {
    if (this.#phase === READING) {
      this.message = message;
    } else if (this.#phase === ARMED) {
      // Another lineage than the one `since` counts in: whatever the route re-reads decides.
      if (message.epoch !== this.#epoch) this.#answer(POLL_END.Reset);
      else if (message.seq > this.#since) {
        this.message = message;
        this.#answer(POLL_END.Message);
      }
    }
  }

  /** @internal The channel's epoch changed. */
  reset(): void {
    if (this.#phase === READING) this.end = POLL_END.Reset;
    else if (this.#phase === ARMED) this.#answer(POLL_END.Reset);
  }

  /** @internal Its bucket came round. */
  expire(): void {
    this.#answer(POLL_END.Timeout);
  }

  /** The client left: gives the poll's place back at once rather than when its `wait` passes. */
  abandon(): void {
    if (this.#phase === READING) this.end = POLL_END.Gone;
    else if (this.#phase === ARMED) this.#answer(POLL_END.Gone);
  }

  /** Answers at once: the relay stops (it calls this for every open session). */
  shutdown(): void {
    this.#polls.closing = true;
    if (this.#phase === READING) this.end = POLL_END.Shutdown;
    else if (this.#phase === ARMED) this.#answer(POLL_END.Shutdown);
  }

  #answer(end: PollEnd): void {
    if (this.#phase !== ARMED) return;
    this.end = end;
    this.#finish();
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.(this);
  }

  #finish(): void {
    this.#phase = DONE;
    this.#entry.remove(this);
    this.#polls.released(this);
  }
}

/** The one registry subscriber of a channel with held polls: hands each live message to every poll of it. */
class PollChannel implements Subscriber {
  readonly channel: string;
  readonly polls = new Set<HeldPoll>();
  /** The registry join: undefined once in place (or when it was synchronous). */
  joined: MaybePromise<void> = undefined;
  /** False until the join's own `subscribed`: later ones announce an epoch change. */
  #live = false;
  /** Wheel ticks seen with no poll: released at the second, so a client polling again keeps it. */
  idleTicks = 0;

  constructor(channel: string) {
    this.channel = channel;
  }

  subscribed(_state: SubscribedState): void {
    if (!this.#live) {
      this.#live = true;
      return;
    }
    for (const poll of this.polls) poll.reset();
  }

  deliver(message: ChannelMessage): void {
    // A poll answered here removes itself from the set: deleting the current entry of a Set while iterating
    // it is well-defined.
    for (const poll of this.polls) poll.delivered(message);
  }

  remove(poll: HeldPoll): void {
    this.polls.delete(poll);
  }
}

/**
 * Every held long poll of a relay: their channel subscriptions, the timer wheel, the cap and the shutdown.
 *
 * @example
 * ```ts
 * const polls = new LongPolls(relay);
 * const poll = polls.open("news", 25_000); // null past the cap
 * await poll.ready;
 * const history = await relay.broker.history("news", { since });
 * if (history.messages.length > 0) poll.cancel(); // answer from history
 * else if ((await poll.wait(since)).end === POLL_END.Message) answer(poll.message);
 * ```
 */
export class LongPolls {
  readonly options: Readonly<LongPollOptions>;
  /** Set once the relay stopping reached a poll: later polls are answered at once. */
  closing = false;
  readonly #relay: Relay;
  readonly #registry: ChannelRegistry;
  readonly #channels = new Map<string, PollChannel>();
  /** Bucket `i` holds the polls that expire when the tick counter reaches `i` modulo its length. */
  readonly #wheel: Set<HeldPoll>[];
  #tick = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #open = 0;

  constructor(relay: Relay, options: Partial<LongPollOptions> = {}) {
    this.options = Object.freeze({ ...LONG_POLL_DEFAULTS, ...options });
    const { maxWaitMs, maxHeldPolls } = this.options;
    if (!(Number.isSafeInteger(maxWaitMs) && maxWaitMs >= 0)) {
      throw new RangeError(`bad maxWaitMs ${maxWaitMs}`);
    }
    if (!(Number.isSafeInteger(maxHeldPolls) && maxHeldPolls >= 0)) {
      throw new RangeError(`bad maxHeldPolls ${maxHeldPolls}`);
    }
    this.#relay = relay;
    this.#registry = relay.registry;
    // One bucket per tick of the longest wait, plus the one being expired and the partial first tick.
    const buckets = Math.ceil(maxWaitMs / TICK_MS) + 2;
    this.#wheel = Array.from({ length: buckets }, () => new Set<HeldPoll>());
  }

  /** Polls open now (reading history or held). */
  get held(): number {
    return this.#open;
  }

  /** Channels with a registry subscription for polls. */
  get channels(): number {
    return this.#channels.size;
  }

  /**
   * Opens a poll of `channel` that will wait at most `waitMs` (shortened to `maxWaitMs`), subscribing the
   * channel for polls when it is the first. Null when `maxHeldPolls` are open.
   * @throws whatever the registry's join throws (a broker at its channel cap); the poll is then not open.
   */
  open(channel: string, waitMs: number): HeldPoll | null {
    if (this.#open >= this.options.maxHeldPolls) return null;
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      entry = new PollChannel(channel);
      const joined = this.#registry.join(channel, entry);
      this.#channels.set(channel, entry);
      if (isPromise(joined)) {
        const pending = entry;
        pending.joined = joined.then(() => {
          pending.joined = undefined;
        }, (error) => {
          if (this.#channels.get(channel) === pending) this.#channels.delete(channel);
          throw error;
        });
      }
    }
    entry.idleTicks = 0;
    const poll = new HeldPoll(this, entry, Math.min(waitMs, this.options.maxWaitMs));
    entry.polls.add(poll);
    this.#open++;
    this.#relay.open(poll);
    this.#ensureTimer();
    if (this.closing) poll.shutdown();
    return poll;
  }

  /** Ends every poll as {@link POLL_END.Shutdown} and stops the wheel. */
  shutdown(): void {
    this.closing = true;
    for (const entry of [...this.#channels.values()]) {
      for (const poll of [...entry.polls]) poll.shutdown();
    }
    this.#stopTimer();
  }

  /** @internal Puts an armed poll in the bucket of its deadline. */
  arm(poll: HeldPoll, waitMs: number): void {
    // The current tick is partly over: one more tick, so never answered before `wait`, at most a tick after.
    const ticks = Math.ceil(waitMs / TICK_MS) + 1;
    const bucket = this.#wheel[(this.#tick + ticks) % this.#wheel.length];
    bucket.add(poll);
    poll.bucket = bucket;
  }

  /** @internal A poll ended: its bucket, its place and its relay session go. */
  released(poll: HeldPoll): void {
    poll.bucket?.delete(poll);
    poll.bucket = undefined;
    this.#open--;
    this.#relay.closed(poll);
  }

  #ensureTimer(): void {
    if (this.#timer === undefined) this.#timer = setInterval(this.#onTick, TICK_MS);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onTick = (): void => {
    this.#tick++;
    const bucket = this.#wheel[this.#tick % this.#wheel.length];
    if (bucket.size > 0) { for (const poll of [...bucket]) poll.expire(); }
    // Channels without polls for a whole tick give their registry subscription back.
    for (const entry of this.#channels.values()) {
      if (entry.polls.size > 0 || entry.joined !== undefined) continue;
      if (++entry.idleTicks < 2) continue;
      this.#channels.delete(entry.channel);
      this.#registry.leave(entry.channel, entry);
    }
    if (this.#open === 0 && this.#channels.size === 0) this.#stopTimer();
  };
}
