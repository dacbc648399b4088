/**
 * The Content-Security-Policy of the demo page: scripts and styles only with the response's nonce (no inline
 * handlers, no injected markup can run), connections only to the relay itself, no framing.
 * @module
 */

/** Random bytes of a nonce (128 bits: CSP3 §7.2 asks for at least that much, unguessable per response). */
const NONCE_BYTES = 16;

/** A fresh nonce, base64. */
export function newNonce(): string {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES)).toBase64();
}

/** `http://h:p` → `ws://h:p`, `https://…` → `wss://…`. */
function socketForm(origin: string): string {
  return origin.replace(/^http/, "ws");
}

/**
 * The `connect-src` of the page, from the Origin policy that guards upgrades: `'self'` (the HTTP API and, in
 * CSP3, the same host's `wss:` under https) and the WebSocket form of the relay's own origin; plus every origin
 * of `--allowed-origins` and its WebSocket form, for a relay reached under a public name it cannot see (TLS at a
 * proxy: the relay sees `http://relay.example.com`, the page is `https://relay.example.com`, which must be
 * listed for its upgrades to pass). `*` adds nothing: the page only ever talks to the relay that served it.
 */
export function connectSources(ownOrigin: string, allowedOrigins: readonly string[]): string {
  const sources = new Set(["'self'", socketForm(ownOrigin)]);
  for (const origin of allowedOrigins) {
    if (origin === "*") continue;
    sources.add(origin);
    sources.add(socketForm(origin));
  }
  return [...sources].join(" ");
}

/** The whole policy for one response. */
export function pageCsp(nonce: string, connectSrc: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
    `connect-src ${connectSrc}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}
