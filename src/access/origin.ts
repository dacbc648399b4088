/**
 * Origin policy against Cross-Site WebSocket Hijacking: browsers attach cookies to cross-site WebSocket
 * upgrades and WebSocket has no same-origin policy, so the relay supplies one (RFC 6455 §10.2).
 *
 * Matching is exact string equality on the serialized origin (scheme, host, port); never substring, suffix or
 * regex matching, which is how `https://app.example.com.evil.net` gets in elsewhere.
 * @module
 */

/** The policy as configured. */
export interface OriginPolicyOptions {
  /**
   * Exact origins; empty means the relay's own origin only; `*` allows any real origin; `null` (listed on its
   * own) allows the opaque origin of `file://` pages and sandboxed frames, for local development only.
   */
  allowedOrigins: readonly string[];
  /** Refuse requests that carry no `Origin` header (non-browser clients). */
  requireOrigin: boolean;
}

/** Why an origin was refused, for the 403 body. */
export type OriginVerdict = { ok: true } | { ok: false; reason: string };

/** Builds the check for one configuration. `ownOrigin` is the relay's origin for this request. */
export function originPolicy(
  options: OriginPolicyOptions,
): (origin: string | null, ownOrigin: string) => OriginVerdict {
  const allowed = new Set(options.allowedOrigins);
  const any = allowed.has("*");
  const allowNull = allowed.delete("null");
  const listed = [...allowed].join(", ");
  return function checkOrigin(origin, ownOrigin) {
    if (origin === null) {
      return options.requireOrigin ? { ok: false, reason: "an Origin header is required" } : { ok: true };
    }
    // `null` is what sandboxed frames and file: pages send: anyone's page can send it, so `*` does not
    // cover it; only `null` listed on purpose does (a page opened from disk during development).
    if (origin === "null") {
      return allowNull ? { ok: true } : {
        ok: false,
        reason:
          "origin 'null' (a file:// page or sandboxed frame) is not allowed; list null in --allowed-origins to allow it",
      };
    }
    if (any) return { ok: true };
    if (allowed.size === 0 ? origin === ownOrigin : allowed.has(origin)) return { ok: true };
    // Say what would have been accepted: the one-line fix is then in the answer (a browser shows only 403).
    const expected = allowed.size === 0
      ? `only the relay's own origin ${ownOrigin} is allowed`
      : `allowed: ${listed}`;
    return {
      ok: false,
      reason: `origin ${origin.slice(0, 200)} is not allowed (${expected}; see --allowed-origins)`,
    };
  };
}
