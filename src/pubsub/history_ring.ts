/**
 * A channel's history: the last `capacity` messages in a ring buffer. Messages enter in `seq` order and leave
 * from the oldest end only (evicted by size or expired by age), so the retained `seq`s are always a run with no
 * hole and a message is found by arithmetic, not search.
 * @module
 */
import type { ChannelMessage } from "./message.ts";

export class HistoryRing {
  readonly capacity: number;
  // Grows to `capacity` on demand, so a quiet channel does not pay for a full ring.
  #items: (ChannelMessage | undefined)[] = [];
  #head = 0;
  #length = 0;

  /** @param capacity Messages kept; 0 keeps none. */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Messages retained. */
  get length(): number {
    return this.#length;
  }

  /** `seq` of the oldest retained message, or `undefined` when empty. */
  get oldestSeq(): number | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head]!.seq;
  }

  /** Appends `message` (its `seq` must follow the newest one), evicting the oldest when full. */
  push(message: ChannelMessage): void {
    const capacity = this.capacity;
    if (capacity === 0) return;
    if (this.#length < capacity) {
      this.#items[(this.#head + this.#length) % capacity] = message;
      this.#length++;
    } else {
      this.#items[this.#head] = message;
      this.#head = (this.#head + 1) % capacity;
    }
  }

  /** Drops messages published before `cutoff` (ms), oldest first. @returns how many were dropped */
  dropPublishedBefore(cutoff: number): number {
    const items = this.#items;
    let dropped = 0;
    while (this.#length > 0 && items[this.#head]!.publishedAt < cutoff) {
      items[this.#head] = undefined; // let the payload be collected now
      this.#head = (this.#head + 1) % this.capacity;
      this.#length--;
      dropped++;
    }
    if (this.#length === 0) this.clear();
    return dropped;
  }

  /** Retained messages with `seq > since`, oldest first, at most `limit`. */
  after(since: number, limit = Infinity): ChannelMessage[] {
    const out: ChannelMessage[] = [];
    if (this.#length === 0) return out;
    const oldest = this.#items[this.#head]!.seq;
    const skip = Math.max(0, since + 1 - oldest);
    const end = Math.min(this.#length, skip + limit);
    for (let i = skip; i < end; i++) out.push(this.#items[(this.#head + i) % this.capacity]!);
    return out;
  }

  /** Forgets every message and releases the storage. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#length = 0;
  }
}
