/**
 * The fuzzers' seeded randomness: the same seed gives the same cases, chunkings and pauses on every run, so a
 * failing case can be replayed from its seed alone.
 * @module
 */

/** A seeded PRNG (mulberry32) with the few draws the generators need. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** `data` cut into 1 to `maxPieces` pieces at random places. */
  cut(data: Uint8Array, maxPieces: number): Uint8Array[] {
    if (data.length <= 1) return [data];
    const cuts = new Set<number>();
    const wanted = this.int(0, Math.min(maxPieces, data.length) - 1);
    while (cuts.size < wanted) cuts.add(this.int(1, data.length - 1));
    const points = [0, ...[...cuts].sort((a, b) => a - b), data.length];
    return points.slice(1).map((end, i) => data.subarray(points[i], end));
  }
}
