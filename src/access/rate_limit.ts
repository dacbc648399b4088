/**
 * Messages per second per connection: a token bucket whose capacity is one second's worth, so a client may
 * burst up to `ratePerSecond` messages at once and then sustain `ratePerSecond`. Numbers only: counting a
 * message allocates nothing.
 * @module
 */

/** The buckets' default clock: monotonic, so a step of the wall clock neither refills nor drains them. */
export const monotonicNow = (): number => performance.now();

/**
 * A token bucket of `capacity` tokens refilled continuously at `refillPerSecond` (by default `capacity`: one
 * second's worth of burst); a capacity of 0 = no limit.
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
   * @param capacity burst size (and, by default, tokens per second); 0 turns the limit off.
   * @param now a clock in ms. @default monotonicNow
   * @param refillPerSecond tokens added per second. @default capacity
   */
  constructor(capacity: number, now: () => number = monotonicNow, refillPerSecond = capacity) {
    this.#capacity = capacity;
    this.#perMs = refillPerSecond / 1000;
    this.#now = now;
    this.#tokens = capacity;
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

/**
 * How long an address's bucket is kept without use, in ms. A bucket refills completely within one second, so
 * one idle that long is the same as a new one and can go.
 */
const IDLE_BUCKET_MS = 1000;
/** How often the idle buckets are swept, in ms (on the next `take`; no timer). */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * One {@link TokenBucket} per client address (HTTP publishes: a request is not a connection, so the bucket
 * outlives it). The map holds only addresses seen in the last second or so: idle buckets are swept every
 * {@link SWEEP_INTERVAL_MS}, so it is bounded by the addresses that publish within that time.
 *
 * @example
 * ```ts
 * const limiter = new AddressRateLimiter(1000);
 * const wait = limiter.take("192.0.2.1");
 * if (wait > 0) return c.json({ error: "rate_limited" }, 429, { "retry-after": String(wait) });
 * ```
 */
export class AddressRateLimiter {
  readonly #ratePerSecond: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  #swept: number;

  /**
   * @param ratePerSecond messages per second and burst per address; 0 turns the limit off.
   * @param now a monotonic clock in ms. @default monotonicNow
   */
  constructor(ratePerSecond: number, now: () => number = monotonicNow) {
    this.#ratePerSecond = ratePerSecond;
    this.#now = now;
    this.#swept = now();
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Counts one message from `address`: 0 when it is within the rate, otherwise the whole seconds to wait
   * before the next one is allowed (for `Retry-After`).
   */
  take(address: string): number {
    if (this.#ratePerSecond === 0) return 0;
    const now = this.#now();
    if (now - this.#swept >= SWEEP_INTERVAL_MS) this.#sweep(now);
    let entry = this.#buckets.get(address);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(this.#ratePerSecond, this.#now), used: now };
      this.#buckets.set(address, entry);
    }
    entry.used = now;
    // One token comes back every 1/rate seconds: at most a second away.
    return entry.bucket.take() ? 0 : 1;
  }

  #sweep(now: number): void {
    this.#swept = now;
    for (const [address, entry] of this.#buckets) {
      if (now - entry.used >= IDLE_BUCKET_MS) this.#buckets.delete(address);
    }
  }
}
