/**
 * Reconnect delays: "full jitter" (exponential growth, a uniformly random delay under it), so clients that lost
 * the same relay at the same moment do not all come back at the same moment.
 * @module
 */

/**
 * The delay before reconnect attempt `attempt` (0 for the first), in ms: `min` plus a random share of
 * `min(max, min · 2^attempt)`, capped at `max`. The same formula as centrifuge-js.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 31));
  return Math.min(maxMs, minMs + Math.floor(random() * ceiling));
}
