/**
 * The `Broker` contract: where sequence numbers, history and cross-node delivery live. The memory broker
 * implements it for one node; a Redis broker (one stream per channel for cluster-wide `seq` and history) plugs in
 * behind the same contract without the relay changing.
 *
 * Shape after h3js/crossws `src/sync/types.ts` (subscribe, publish, close, a node id), extended with what resume
 * needs: per-channel `seq`, `epoch` and history.
 * @module
 */
import type { ChannelMessage, ChannelState } from "./message.ts";
import type { MaybePromise } from "./maybe_promise.ts";

/**
 * Receives one channel's messages on this node. An object rather than callbacks so that the node-level
 * subscriber (a channel registry entry) needs no closure per channel.
 */
export interface BrokerListener {
  /** A message was published to the channel (from any node), in `seq` order. Must not throw. */
  message(message: ChannelMessage): void;
  /**
   * The channel's history was lost (e.g. Redis restarted empty): numbering continues from `state` in a new
   * epoch. Later messages carry `state.epoch`.
   */
  epochChanged(channel: string, state: ChannelState): void;
}

/** Which messages {@link Broker.history} returns. */
export interface HistoryOptions {
  /** Return messages with `seq > since`. @default 0 */
  since?: number;
  /** Return at most this many (the oldest ones). @default every retained message */
  limit?: number;
  /** The epoch the caller's `since` belongs to; required for `contiguous` when `since > 0`. */
  epoch?: string;
}

/** What {@link Broker.history} found. */
export interface HistoryResult extends ChannelState {
  /** Retained messages with `seq > since`, oldest first, at most `limit`. */
  messages: ChannelMessage[];
  /**
   * True when nothing after `since` was lost: `messages` starts at `since + 1` (or `since` is the latest seq),
   * in the caller's epoch. Without `limit`, `messages` then holds every message after `since`. `since = 0`
   * ("I have seen nothing") needs no epoch. Future `since` (above `seq`) is never contiguous.
   */
  contiguous: boolean;
}

/** Counters of a broker, for `/metrics` and logs. */
export interface BrokerStats {
  /** Channels the broker holds state for (on this node, for a memory broker). */
  channels: number;
  /** Messages published through this broker instance. */
  published: number;
  /** Messages currently kept in history. */
  retained: number;
  /** Bytes those messages are charged against the history budget (0 where history lives outside the process). */
  retainedBytes: number;
}

/** Which relay-wide bound refused an operation (see {@link BrokerFullError}). */
export type BrokerLimit = "maxHistoryBytes" | "maxChannels";

/**
 * A relay-wide budget is exhausted and nothing could be evicted to make room: a message larger than the whole
 * history budget, or a new channel past the channel cap while every channel is in use. Nothing was stored. The
 * relay answers it as "unavailable" (HTTP 503): a client may retry later, when channels went idle.
 */
export class BrokerFullError extends Error {
  override name = "BrokerFullError";
  /** The option whose bound was reached. */
  readonly limit: BrokerLimit;

  constructor(limit: BrokerLimit, message: string) {
    super(message);
    this.limit = limit;
  }
}

/**
 * Stores, numbers and delivers channel messages.
 *
 * Methods may answer synchronously (memory broker: plain values, failures thrown) or with promises (Redis:
 * failures reject); see {@link MaybePromise}. Callers that are not on a hot path just `await`.
 */
export interface Broker {
  /**
   * Random id of this node, stable for the broker's life, to tell nodes apart in logs and tools (the Redis
   * broker names its connections `edge-relay-<first 8 characters>`, shown by `CLIENT LIST`).
   */
  readonly nodeId: string;
  /**
   * Assigns the channel's next `seq` (cluster-wide for Redis), stores the message in history, and delivers it to
   * every listener of the channel on this node. Fails if it cannot store: an unstored message is never
   * acknowledged. The broker keeps `data` as given: the caller must not modify it afterwards.
   *
   * A synchronous broker delivers before `publish` returns. A publish made while the broker is delivering is
   * delivered after the current message reached every listener, so publish order holds.
   *
   * `publisher` (at most `MAX_PUBLISHER_LENGTH` code units) is stored with the message and read back with it
   * by history and by every node; the broker takes it as given (the relay decides who may be named).
   */
  publish(channel: string, data: string | Uint8Array, publisher?: string): MaybePromise<ChannelMessage>;
  /**
   * Starts delivering the channel's messages to `listener` (the node-level subscription; the registry fans out
   * to local subscribers). Once it has resolved, no message published afterwards is missed.
   */
  subscribe(channel: string, listener: BrokerListener): MaybePromise<void>;
  /** Stops delivering to `listener`. Unknown pairs are ignored. */
  unsubscribe(channel: string, listener: BrokerListener): MaybePromise<void>;
  /**
   * Retained messages after `since` and whether they cover everything since `since` with no gap. Throws a
   * `RangeError` when `since` is not a non-negative safe integer or `limit` not a positive one. Reading a channel
   * that does not exist creates nothing: it reads as `seq` 0.
   */
  history(channel: string, options?: HistoryOptions): MaybePromise<HistoryResult>;
  /** Current `seq` and `epoch` of a channel (`seq` 0 if nothing was published). */
  state(channel: string): MaybePromise<ChannelState>;
  /** True while the broker can store messages (drives `GET /readyz`). */
  ready(): boolean;
  stats(): BrokerStats;
  /** Releases the broker; later calls fail. */
  close(): MaybePromise<void>;
}

/** Validates {@link HistoryOptions}; shared by every broker so they reject the same inputs. */
export function checkHistoryOptions(options: HistoryOptions): void {
  const { since, limit } = options;
  if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
    throw new RangeError(`history since must be a non-negative integer, got ${since}`);
  }
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`history limit must be a positive integer, got ${limit}`);
  }
}

/**
 * The gap rule behind {@link HistoryResult.contiguous}, shared by every broker: does history whose oldest
 * retained message is `oldestRetained` (or `current.seq + 1` when none is retained) hold everything after
 * `since` for a caller who knew `epoch`?
 */
export function coversSince(
  since: number,
  epoch: string | undefined,
  current: ChannelState,
  oldestRetained: number,
): boolean {
  if (since > current.seq) return false; // a seq we never assigned: another epoch, or a confused client
  // since = 0 claims no message, so no lineage to check; any other seq means something only in its epoch.
  if (since > 0 && epoch !== current.epoch) return false;
  return since === current.seq || oldestRetained <= since + 1;
}
