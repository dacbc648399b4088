/**
 * Event-loop lag: how late a timer fires, sampled by one interval timer (an unref'd 100 ms tick: ten wake-ups
 * a second whatever the traffic). `perf_hooks.monitorEventLoopDelay` would be finer but Deno does not
 * implement it; a late timer is what every client's message waits behind as well.
 * @module
 */
import { Histogram } from "./metrics.ts";

/** How often the probe wakes, in ms. */
export const LAG_PROBE_INTERVAL_MS = 100;

/** Upper bounds of the lag histogram, in seconds (1 ms to 10 s). */
export const LAG_BUCKETS_SECONDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  10,
];

/** Samples the lag into {@link EventLoopLag.histogram} until `stop`. */
export class EventLoopLag {
  readonly histogram = new Histogram(LAG_BUCKETS_SECONDS);
  /** The last sample, in seconds. */
  last = 0;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #now: () => number;
  #expected: number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#expected = now() + LAG_PROBE_INTERVAL_MS;
    this.#timer = setInterval(this.#tick, LAG_PROBE_INTERVAL_MS);
    // The probe must not keep a stopping process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick = (): void => {
    const now = this.#now();
    this.last = Math.max(0, now - this.#expected) / 1000;
    this.histogram.observe(this.last);
    this.#expected = now + LAG_PROBE_INTERVAL_MS;
  };
}
