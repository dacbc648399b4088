/**
 * `--allowed-hosts`: the names the relay answers to. A page on an attacker's domain whose DNS name is later
 * rebound to the relay's address (DNS rebinding) reaches the relay as same-origin with its own `Host`; with an
 * empty `--allowed-origins` the own-origin rule would then let its WebSockets in. Refusing every `Host` not
 * listed closes that door for every route.
 * @module
 */

/** The check of one configuration; null when the list is empty (every Host is answered). */
export function hostPolicy(allowedHosts: readonly string[]): ((host: string | null) => boolean) | null {
  if (allowedHosts.length === 0) return null;
  const names = new Set(allowedHosts.map((h) => hostname(h.toLowerCase())));
  return function hostAllowed(host) {
    if (host === null) return false;
    return names.has(hostname(host.toLowerCase()));
  };
}

/** `example.com:8080` → `example.com`, `[::1]:80` → `::1`: the port is the listener's business. */
export function hostname(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end === -1 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(":");
  // More than one colon: a bare IPv6 address (not valid in Host, compared as it is).
  return colon === -1 || host.indexOf(":", colon + 1) !== -1 ? host : host.slice(0, colon);
}
