/**
 * Messages per second per connection: a token bucket whose capacity is one second's worth, so a client may
 * burst up to `ratePerSecond` messages at once and then sustain `ratePerSecond`. Numbers only: counting a
 * message allocates nothing.
 * @module
 */

/** Default `--max-messages-per-second`. */
export const DEFAULT_MAX_MESSAGES_PER_SECOND = 1000;

/**
 * A token bucket of `ratePerSecond` tokens refilled continuously at `ratePerSecond` per second; 0 = no limit.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(1000);
 * if (!bucket.take()) socket.close(1008, "rate limit");
 * ```
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #stamp: number;

  /**
   * @param ratePerSecond messages per second and burst size; 0 turns the limit off.
   * @param now a monotonic clock in ms. @default performance.now
   */
  constructor(ratePerSecond: number, now: () => number = () => performance.now()) {
    this.#capacity = ratePerSecond;
    this.#perMs = ratePerSecond / 1000;
    this.#now = now;
    this.#tokens = ratePerSecond;
    this.#stamp = now();
  }

  /** Takes one token: true when the message is within the rate, false when it is past it. */
  take(): boolean {
    if (this.#capacity === 0) return true;
    const now = this.#now();
    const tokens = Math.min(this.#capacity, this.#tokens + (now - this.#stamp) * this.#perMs);
    this.#stamp = now;
    if (tokens < 1) {
      this.#tokens = tokens;
      return false;
    }
    this.#tokens = tokens - 1;
    return true;
  }
}
