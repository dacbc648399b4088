/**
 * The relay core: sessions (WebSocket connections) on one side, the channel registry and broker on the other,
 * and the policy between them: encode each published message once, write the same bytes to every subscriber,
 * and close slow consumers before they cost memory or delay anyone else.
 * @module
 */
import {
  type Broker,
  type ChannelMessage,
  ChannelRegistry,
  isPromise,
  type MaybePromise,
  perMessage,
} from "../pubsub/mod.ts";
import { CLOSE_CODE, encodeBinary, encodeText } from "../websocket/mod.ts";
import { setImmediate } from "node:timers";
import { messageEnvelope } from "./envelope.ts";

/** The part of a WebSocket connection the relay drives. */
export interface RelaySocket {
  /** Writes an already-encoded server frame (shared by many sockets; never modified). */
  sendFrame(frame: Uint8Array): boolean;
  sendText(text: string): boolean;
  close(code?: number, reason?: string): void;
  /** Sends a Close and closes TCP without waiting for the answer (a peer that broke a policy). */
  fail(code: number, reason: string): void;
  /** Bytes queued and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Drops queued bytes, then starts the close handshake with `code` (the peer gets the Close frame once it
   * reads again). Returns false when the socket was no longer open.
   */
  closeDiscarding(code: number, reason: string): boolean;
}

/**
 * A subscriber's outgoing side: its socket and what it was sent in the current event-loop turn (bytes, largest
 * frame, and the bytes of history replays, which are bounded by the history rather than by the turn).
 */
export interface Outbound {
  readonly socket: RelaySocket;
  turn: number;
  turnBytes: number;
  turnLargestFrame: number;
  turnReplayBytes: number;
}

/** Relay-wide settings. */
export interface RelayOptions {
  /** Per-connection send queue in bytes; past it the connection is closed with 1013. */
  maxQueuedBytes: number;
  /** Envelope subscriptions per connection. */
  maxChannelsPerConnection: number;
}

/** Counters for metrics and benchmarks. */
export interface RelayCounters {
  /** WebSocket connections open now. */
  connections: number;
  /** Messages received from clients (raw and envelope publishes) and HTTP publishes. */
  messagesIn: number;
  /** Frames written to subscribers (one per subscriber per message). */
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Connections closed with 1013 because their send queue passed `maxQueuedBytes`. */
  slowConsumerCloses: number;
}

/** Something that can be shut down by the relay (a session). */
export interface Closable {
  shutdown(): void;
}

/** The relay core shared by every route. */
export class Relay {
  readonly broker: Broker;
  readonly registry: ChannelRegistry;
  readonly options: RelayOptions;
  readonly counters: RelayCounters = {
    connections: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    slowConsumerCloses: 0,
  };
  /** Raw-mode frame of a message: its data as a text or binary frame, encoded once per message. */
  readonly rawFrame: (message: ChannelMessage) => Uint8Array = perMessage((m) =>
    typeof m.data === "string" ? encodeText(m.data) : encodeBinary(m.data)
  );
  /** Envelope-mode frame of a message: `{"type":"message",…}`, encoded once per message. */
  readonly envelopeFrame: (message: ChannelMessage) => Uint8Array = perMessage((m) =>
    encodeText(messageEnvelope(m.channel, m.seq, m.data))
  );
  readonly #sessions = new Set<Closable>();
  #turn = 0;
  #turnPending = false;

  constructor(broker: Broker, options: RelayOptions) {
    this.broker = broker;
    this.options = options;
    this.registry = new ChannelRegistry(broker, {
      onError: (error, channel) => console.error(`edge-relay: channel ${channel}:`, error),
    });
  }

  /** Publishes a message from any source. Throws or rejects when the broker cannot store it. */
  publish(channel: string, data: string | Uint8Array): MaybePromise<ChannelMessage> {
    this.counters.messagesIn++;
    this.counters.bytesIn += typeof data === "string" ? data.length : data.length;
    return this.broker.publish(channel, data);
  }

  /**
   * Writes a frame to a subscriber and enforces the send-queue bound: a consumer that cannot keep up is closed
   * with 1013 at once, its queue dropped, so it never delays the fan-out loop or grows memory.
   *
   * The bound applies to the backlog left from earlier event-loop turns, and to this turn's writes only past
   * an allowance: a burst (one read of many messages fanned out) is corked into one write at the end of the
   * turn, and a reader that keeps up takes it at once, but one turn may add at most `maxQueuedBytes` plus its
   * largest frame (so a single message up to `--max-message-bytes` always goes through). Memory per connection
   * stays below twice the bound plus one frame, plus one history replay (see {@link Relay.replay}).
   */
  deliver(out: Outbound, frame: Uint8Array): void {
    this.#write(out, frame);
    this.counters.messagesOut++;
    this.counters.bytesOut += frame.length;
    this.#enforce(out);
  }

  /**
   * Writes a frame of a history replay (a `subscribe` with `since`). A replay is bounded by the channel's
   * history, not by the turn allowance: it goes out whole, and the session runs one replay at a time.
   * Whatever is still queued in a later turn counts as backlog.
   */
  replay(out: Outbound, frame: Uint8Array): void {
    this.#write(out, frame);
    out.turnReplayBytes += frame.length;
    this.counters.messagesOut++;
    this.counters.bytesOut += frame.length;
    this.#enforce(out);
  }

  /** Sends a reply (`ack`, `subscribed`, `error`, …): it counts against the same bound as messages. */
  reply(out: Outbound, text: string): void {
    this.#write(out, encodeText(text));
    this.#enforce(out);
  }

  #write(out: Outbound, frame: Uint8Array): void {
    const turn = this.#currentTurn();
    if (out.turn !== turn) {
      out.turn = turn;
      out.turnBytes = 0;
      out.turnLargestFrame = 0;
      out.turnReplayBytes = 0;
    }
    out.turnBytes += frame.length;
    if (frame.length > out.turnLargestFrame) out.turnLargestFrame = frame.length;
    out.socket.sendFrame(frame);
  }

  /** Closes `out` with 1013 when its backlog, less this turn's allowance, passes `maxQueuedBytes`. */
  #enforce(out: Outbound): void {
    const max = this.options.maxQueuedBytes;
    const burst = out.turnBytes - out.turnReplayBytes;
    const allowance = burst < max + out.turnLargestFrame ? burst : max + out.turnLargestFrame;
    const socket = out.socket;
    if (
      socket.bufferedAmount - allowance - out.turnReplayBytes > max &&
      socket.closeDiscarding(CLOSE_CODE.TryAgainLater, "slow consumer")
    ) {
      this.counters.slowConsumerCloses++;
    }
  }

  /** A number that changes once per event-loop turn (macrotask), counted lazily. */
  #currentTurn(): number {
    if (!this.#turnPending) {
      this.#turnPending = true;
      setImmediate(this.#nextTurn);
    }
    return this.#turn;
  }

  #nextTurn = () => {
    this.#turn++;
    this.#turnPending = false;
  };

  /** A session opened; it is shut down with the relay. */
  open(session: Closable): void {
    this.#sessions.add(session);
    this.counters.connections++;
  }

  /** A session closed. */
  closed(session: Closable): void {
    if (this.#sessions.delete(session)) this.counters.connections--;
  }

  /** Closes every WebSocket with 1001 (going away). */
  shutdown(): void {
    for (const session of [...this.#sessions]) session.shutdown();
  }
}

/** Runs `then` on the result of a maybe-async call, and `fail` on its error, without an await on the sync path. */
export function settle<T>(
  run: () => MaybePromise<T>,
  then: (value: T) => void,
  fail: (error: unknown) => void,
): void {
  let result: MaybePromise<T>;
  try {
    result = run();
  } catch (error) {
    fail(error);
    return;
  }
  if (isPromise(result)) result.then(then, fail);
  else then(result);
}
