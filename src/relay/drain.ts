/**
 * The drain: on a stop signal, end the relay's sessions spread evenly over `--drain-timeout` instead of all at
 * once, so the clients' reconnects (to the other nodes behind the load balancer) arrive as a steady trickle,
 * not a storm. Phoenix's socket drainer and Centrifugo's bounded shutdown closes do the same. One timer ticks
 * every {@link DRAIN_TICK_MS}; each tick ends the sessions whose turn has come, in the order they opened.
 * @module
 */

/** How often the drain ends its next batch, in ms: small enough that a batch is a few percent of the whole. */
export const DRAIN_TICK_MS = 50;

/**
 * Fewest sessions ended per second: a drain is never stretched slower than this, so a node with a few clients
 * stops at once while one with 100,000 spreads them over the whole `--drain-timeout`. 100 reconnects a second
 * is no storm for the nodes that take them.
 */
export const DRAIN_MIN_PER_SECOND = 100;

/** How long a drain of `count` sessions takes: `timeoutMs`, or less when {@link DRAIN_MIN_PER_SECOND} allows. */
export function drainDuration(count: number, timeoutMs: number): number {
  return Math.min(timeoutMs, (count * 1000) / DRAIN_MIN_PER_SECOND);
}

/** Anything the drain ends (a session: WebSocket 1001, SSE `retry:` and end, long poll answered). */
export interface Drainable {
  shutdown(): void;
}

/** Options of {@link drainEvenly}. */
export interface DrainOptions {
  /** The whole drain, in ms; 0 ends everything at once. */
  durationMs: number;
  /** @default DRAIN_TICK_MS */
  tickMs?: number;
  /** @default performance.now */
  now?: () => number;
}

/**
 * Ends `items` spread evenly over `durationMs`: by the time `t` has passed, `ceil(n × t / duration)` of them
 * are ended (the last batch just before the end). Items ended meanwhile by their clients are skipped by
 * `shutdown` itself (a closed session ignores it). Resolves when every item has been told.
 */
export function drainEvenly(items: readonly Drainable[], options: DrainOptions): Promise<void> {
  const total = items.length;
  const duration = options.durationMs;
  if (total === 0) return Promise.resolve();
  if (duration <= 0) {
    for (const item of items) end(item);
    return Promise.resolve();
  }
  const tick = options.tickMs ?? DRAIN_TICK_MS;
  const now = options.now ?? (() => performance.now());
  const start = now();
  // The last batch goes one tick before the end, so the drain finishes within `duration`.
  const span = Math.max(tick, duration - tick);
  let done = 0;
  return new Promise((resolve) => {
    const step = () => {
      const due = Math.min(total, Math.ceil((total * (now() - start + tick)) / span));
      while (done < due) {
        end(items[done++]);
      }
      if (done >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(step, tick);
    step();
  });
}

function end(item: Drainable): void {
  try {
    item.shutdown();
  } catch {
    // One session's failure to end must not stop the drain of the others.
  }
}
