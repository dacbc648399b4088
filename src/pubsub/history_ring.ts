/**
 * A channel's history: the last `capacity` messages in a ring buffer. Messages enter in `seq` order and leave
 * from the oldest end only (evicted by size, by the relay-wide byte budget, or expired by age), so the retained
 * `seq`s are always a run with no hole and a message is found by arithmetic, not search.
 * @module
 */
import type { ChannelMessage } from "./message.ts";

/**
 * Bytes a retained message is charged against a history budget besides its data: the message object, its
 * slot in the ring and the strings it shares (channel, epoch). Measured at about 100–150 bytes per message on
 * Deno 2.9 and Bun 1.4; rounded up so that floods of tiny messages are charged what they really cost.
 */
export const MESSAGE_OVERHEAD_BYTES = 160;

/**
 * Upper bound of the memory a message's data holds: bytes for binary; 2 bytes per UTF-16 code unit for text,
 * which is what V8 and JavaScriptCore store for a string with any character past U+00FF (Latin-1 strings take
 * one byte each, so this may count ASCII text twice, never less than it costs).
 */
export function retainedBytes(message: ChannelMessage): number {
  const data = message.data;
  // A publisher string is usually shared by all of one connection's messages; charged per message anyway.
  const publisher = message.publisher === undefined ? 0 : 2 * message.publisher.length;
  return MESSAGE_OVERHEAD_BYTES + publisher + (typeof data === "string" ? 2 * data.length : data.byteLength);
}

export class HistoryRing {
  readonly capacity: number;
  // Grows to `capacity` on demand, so a quiet channel does not pay for a full ring.
  #items: (ChannelMessage | undefined)[] = [];
  #head = 0;
  #length = 0;
  #bytes = 0;

  /** @param capacity Messages kept; 0 keeps none. */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Messages retained. */
  get length(): number {
    return this.#length;
  }

  /** {@link retainedBytes} summed over the retained messages. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `seq` of the oldest retained message, or `undefined` when empty. */
  get oldestSeq(): number | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head]!.seq;
  }

  /** Appends `message` (its `seq` must follow the newest one), evicting the oldest when full. */
  push(message: ChannelMessage): void {
    const capacity = this.capacity;
    if (capacity === 0) return;
    if (this.#length === capacity) this.dropOldest();
    this.#items[(this.#head + this.#length) % capacity] = message;
    this.#length++;
    this.#bytes += retainedBytes(message);
  }

  /** Drops the oldest message, if any. @returns the bytes it was charged ({@link retainedBytes}) */
  dropOldest(): number {
    if (this.#length === 0) return 0;
    const items = this.#items;
    const freed = retainedBytes(items[this.#head]!);
    items[this.#head] = undefined; // let the payload be collected now
    this.#head = (this.#head + 1) % this.capacity;
    this.#length--;
    this.#bytes -= freed;
    if (this.#length === 0) this.clear();
    return freed;
  }

  /** Drops messages published before `cutoff` (ms), oldest first. @returns how many were dropped */
  dropPublishedBefore(cutoff: number): number {
    let dropped = 0;
    while (this.#length > 0 && this.#items[this.#head]!.publishedAt < cutoff) {
      this.dropOldest();
      dropped++;
    }
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
    this.#bytes = 0;
  }
}
