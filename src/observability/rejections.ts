/**
 * Refused connections and upgrades, by reason: the `edge_relay_handshake_rejections_total{reason}` counter.
 * The reasons are a fixed set so the series stay few and always present (a zero is a fact worth scraping).
 * @module
 */

/** Why an upgrade or a stream was refused. */
export const REJECTION_REASONS = [
  "origin", // 403: Origin not allowed
  "host", // 421/403: Host not in --allowed-hosts
  "auth", // 401: no or bad token
  "forbidden", // 403: the token does not grant the channel
  "bad_request", // 400: bad channel name or handshake
  "limit", // 503: a connection cap
  "draining", // 503: the relay is shutting down
] as const;
export type RejectionReason = typeof REJECTION_REASONS[number];

/** Counts per reason; `count` is a property increment, called only on a refusal. */
export class RejectionCounter {
  readonly #counts: Record<RejectionReason, number> = Object.fromEntries(
    REJECTION_REASONS.map((reason) => [reason, 0]),
  ) as Record<RejectionReason, number>;

  count(reason: RejectionReason): void {
    this.#counts[reason]++;
  }

  get(reason: RejectionReason): number {
    return this.#counts[reason];
  }
}
