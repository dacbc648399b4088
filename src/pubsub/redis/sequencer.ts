/**
 * Puts one channel's messages from Redis pub/sub back into `seq` order on this node, and turns every hole it
 * cannot fill into an explicit reset, never a silent gap.
 *
 * Pub/sub is at-most-once: messages published while this node's subscriber connection was down never arrive.
 * So the sequencer expects `next` (last delivered + 1): a duplicate is dropped, a later seq is held while the
 * missing range is fetched from the channel's stream, and a range the stream no longer has is skipped with a
 * `reset` (same epoch, `seq` = the last skipped), so subscribers hear `recovered: false`. A message or a read
 * in another epoch means the lineage was lost (Redis restarted empty): `reset` to the new epoch.
 *
 * No I/O of its own: reads go through `fetch`, so the ordering rules are tested without Redis.
 * @module
 */
import type { ChannelMessage, ChannelState } from "../message.ts";

/** What a read of the channel's stream found (one atomic read: state and history agree). */
export interface FetchResult {
  /** The channel's epoch and last assigned seq. */
  state: ChannelState;
  /** Retained messages in the requested range, in seq order, in `state.epoch`. */
  messages: ChannelMessage[];
}

/** Where the sequencer sends its output and gets missing messages. */
export interface SequencerSink {
  /** The next message in order. */
  deliver(message: ChannelMessage): void;
  /** History was lost: numbering goes on from `state` (a new epoch, or a skipped range of the same one). */
  reset(state: ChannelState): void;
  /** Reads messages `from`..`to` (inclusive; `to` undefined = to the end) and the channel's state. */
  fetch(from: number, to: number | undefined): Promise<FetchResult>;
  /** A fetch failed; the sequencer went on (skipping what it could not read). */
  onError(error: unknown): void;
}

/** Limits of a {@link ChannelSequencer}. */
export interface SequencerOptions {
  /** Out-of-order messages held while a gap is fetched; past it the gap is skipped with a reset. */
  maxHeldMessages: number;
  /** Milliseconds before a failed {@link ChannelSequencer.check} is tried again. */
  retryMs: number;
}

/** Orders one channel's live messages on this node. */
export class ChannelSequencer {
  readonly #sink: SequencerSink;
  readonly #options: SequencerOptions;
  #epoch: string | undefined;
  /** The seq the next delivery must have. */
  #next = 1;
  /** Messages of the current epoch above `next`, waiting for the gap before them. */
  readonly #held = new Map<number, ChannelMessage>();
  /** Messages that arrived before the initial state was known. */
  #early: ChannelMessage[] = [];
  /** More arrived early than could be held: compare with the stream once started. */
  #earlyOverflow = false;
  #fetching = false;
  /** Bumped by every reset: a fetch started before it answers for a lineage that is gone. */
  #generation = 0;
  #checkAgain = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(sink: SequencerSink, options: SequencerOptions) {
    this.#sink = sink;
    this.#options = options;
  }

  /** The current epoch and last delivered seq; `undefined` before {@link start}. */
  get state(): ChannelState | undefined {
    return this.#epoch === undefined ? undefined : { epoch: this.#epoch, seq: this.#next - 1 };
  }

  /**
   * The channel's state read after the subscription took effect: every later message arrives live, every
   * earlier one is not for this subscription. Messages that came in before it are sorted out now.
   */
  start(state: ChannelState): void {
    this.#epoch = state.epoch;
    this.#next = state.seq + 1;
    const early = this.#early;
    this.#early = [];
    for (const message of early) this.accept(message);
    if (this.#earlyOverflow) {
      this.#earlyOverflow = false;
      this.check();
    }
  }

  /** A message from pub/sub. */
  accept(message: ChannelMessage): void {
    if (this.#closed) return;
    if (this.#epoch === undefined) {
      if (this.#early.length < this.#options.maxHeldMessages) this.#early.push(message);
      else this.#earlyOverflow = true;
      return;
    }
    // A new lineage starts at seq 0: what it already holds before this message is fetched from its stream, so
    // subscribers miss nothing of it (only the lost lineage, announced by the reset).
    if (message.epoch !== this.#epoch) this.#reset({ epoch: message.epoch, seq: 0 });
    const seq = message.seq;
    if (seq < this.#next || this.#held.has(seq)) return; // already delivered or already held
    if (seq === this.#next && !this.#fetching) {
      this.#emit(message);
      this.#drain();
      return;
    }
    this.#held.set(seq, message);
    if (this.#held.size > this.#options.maxHeldMessages) this.#skipToHeld();
    else if (!this.#fetching) this.#fill(this.#lowestHeld() - 1);
  }

  /**
   * Compares with the channel's stream after this node may have missed messages (its subscriber connection
   * came back): delivers what it missed, or resets if the lineage moved on without it. Retried until it gets
   * an answer.
   */
  check(): void {
    if (this.#closed || this.#epoch === undefined) return;
    if (this.#fetching) {
      this.#checkAgain = true;
      return;
    }
    this.#fill(undefined);
  }

  /** Stops: no more deliveries, retries or fetches. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#held.clear();
    this.#early = [];
  }

  #emit(message: ChannelMessage): void {
    this.#next = message.seq + 1;
    this.#sink.deliver(message);
  }

  #drain(): void {
    let message: ChannelMessage | undefined;
    while (!this.#closed && (message = this.#held.get(this.#next)) !== undefined) {
      this.#held.delete(message.seq);
      this.#emit(message);
    }
  }

  #lowestHeld(): number {
    let lowest = Infinity;
    for (const seq of this.#held.keys()) if (seq < lowest) lowest = seq;
    return lowest;
  }

  #reset(state: ChannelState): void {
    this.#generation++;
    this.#fetching = false;
    this.#held.clear();
    this.#epoch = state.epoch;
    this.#next = state.seq + 1;
    this.#sink.reset(state);
  }

  /** Gives up on the hole before the lowest held message: subscribers hear of it, delivery goes on. */
  #skipToHeld(): void {
    this.#generation++;
    this.#fetching = false;
    if (this.#held.size === 0) return;
    const lowest = this.#lowestHeld();
    if (lowest > this.#next) {
      this.#next = lowest;
      this.#sink.reset({ epoch: this.#epoch!, seq: lowest - 1 });
    }
    this.#drain();
    if (this.#held.size > 0) this.#fill(this.#lowestHeld() - 1);
  }

  /** Fetches `next`..`to` (to the end when undefined: a check) and merges it with what is held. */
  #fill(to: number | undefined): void {
    this.#fetching = true;
    const generation = this.#generation;
    const from = this.#next;
    this.#sink.fetch(from, to).then(
      (result) => {
        if (this.#closed || generation !== this.#generation) return;
        this.#fetching = false;
        this.#merge(result, to);
        this.#continue();
      },
      (error) => {
        if (this.#closed || generation !== this.#generation) return;
        this.#fetching = false;
        this.#sink.onError(error);
        if (to === undefined) {
          // A check that got no answer (Redis still coming back): ask again later.
          this.#retry = setTimeout(() => this.check(), this.#options.retryMs);
        } else {
          // The hole cannot be read: say so rather than wait with messages held.
          this.#skipToHeld();
        }
        this.#continue();
      },
    );
  }

  #merge(result: FetchResult, to: number | undefined): void {
    const { state, messages } = result;
    if (state.epoch !== this.#epoch) {
      // A new lineage: announce it from seq 0 and read it from its start (what its stream no longer holds is
      // announced again as a skipped range by the merge of that read).
      this.#reset({ epoch: state.epoch, seq: 0 });
      this.#checkAgain = true;
      return;
    }
    for (const message of messages) {
      if (message.seq >= this.#next && !this.#held.has(message.seq)) this.#held.set(message.seq, message);
    }
    this.#drain();
    // The read was atomic: any seq up to `end` that it did not return was trimmed from history.
    const end = to === undefined ? state.seq : Math.min(to, state.seq);
    if (this.#next <= end) {
      const lowest = this.#lowestHeld();
      const resume = Math.min(lowest, end + 1);
      this.#next = resume;
      this.#sink.reset({ epoch: state.epoch, seq: resume - 1 });
      this.#drain();
    }
  }

  #continue(): void {
    if (this.#closed || this.#fetching) return;
    if (this.#held.size > 0) this.#fill(this.#lowestHeld() - 1);
    else if (this.#checkAgain) {
      this.#checkAgain = false;
      this.#fill(undefined);
    }
  }
}
