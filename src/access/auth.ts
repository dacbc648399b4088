/**
 * Authentication with JSON Web Tokens (RFC 7519): where a token is found, how it is verified, and what it
 * allows. See docs/auth.md for the token format.
 *
 * Security rules this file keeps:
 * - The algorithm is chosen by the configured keys: HS256 when a secret is configured, ES256 or RS256 when a
 *   public key is (its type decides which). A token's `alg` header only selects among those; `none`, other
 *   algorithms, and HS256 signed with the public key as secret (alg confusion) find no key and are refused.
 * - Signatures are checked by WebCrypto `crypto.subtle.verify` (through `hono/jwt`), which compares in
 *   constant time.
 * - Tokens never appear in a reason, a log line or an error message (`hono/jwt` puts them in its errors, so
 *   those are replaced by fixed reasons).
 * @module
 */
import { decode, verify } from "hono/jwt";
import { ChannelPatterns } from "./channel_patterns.ts";

/** What a connection or request may do. */
export interface Permissions {
  /** The token's `sub`, or null (no token, or a token without one). */
  readonly subject: string | null;
  /** When the token stops being accepted, in ms since the epoch (its `exp`); Infinity without auth. */
  readonly expiresAt: number;
  canSubscribe(channel: string): boolean;
  canPublish(channel: string): boolean;
}

/** Everyone may do everything: the relay without `--jwt-secret` / `--jwt-public-key`. */
export const OPEN_ACCESS: Permissions = Object.freeze({
  subject: null,
  expiresAt: Infinity,
  canSubscribe: () => true,
  canPublish: () => true,
});

/** The permissions of a verified token's `relay` claim. */
class TokenPermissions implements Permissions {
  readonly subject: string | null;
  readonly expiresAt: number;
  readonly #subscribe: ChannelPatterns;
  readonly #publish: ChannelPatterns;

  constructor(subject: string | null, expiresAt: number, subscribe: string[], publish: string[]) {
    this.subject = subject;
    this.expiresAt = expiresAt;
    this.#subscribe = new ChannelPatterns(subscribe);
    this.#publish = new ChannelPatterns(publish);
  }

  canSubscribe(channel: string): boolean {
    return this.#subscribe.matches(channel);
  }

  canPublish(channel: string): boolean {
    return this.#publish.matches(channel);
  }
}

/** The outcome of authenticating a request: permissions, or why not (a fixed text, never the token). */
export type AuthResult = { ok: true; permissions: Permissions } | { ok: false; reason: string };

/** Turns a request's token (or its absence) into permissions. */
export interface Authenticator {
  /** False when the relay is open (no key configured). */
  readonly enabled: boolean;
  authenticate(token: string | null): Promise<AuthResult>;
}

/** The authenticator of an open relay: no token needed, everything allowed. */
export const OPEN_AUTHENTICATOR: Authenticator = Object.freeze({
  enabled: false,
  authenticate: () => Promise.resolve({ ok: true as const, permissions: OPEN_ACCESS }),
});

/** Limits on the `relay` claim, so a token cannot make every permission check expensive. */
const MAX_PATTERNS = 1000;
const MAX_PATTERN_LENGTH = 256;

/** Options of {@link TokenVerifier}. */
export interface TokenVerifierOptions {
  /** HS256 shared secret (UTF-8 bytes), or null. */
  secret: string | null;
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`) of a P-256 key (ES256) or an RSA key (RS256), or null. */
  publicKeyPem: string | null;
  /**
   * Clock difference tolerated between the token issuer and the relay, for `nbf` (a token minted a moment
   * ahead of the relay's clock). `exp` is exact: connections close at expiry.
   * @default 30000 (30 s)
   */
  clockSkewMs?: number;
  /** The clock, in ms since the epoch (tests inject one). @default Date.now */
  now?: () => number;
}

/** Default clock skew: 30 s. */
export const DEFAULT_CLOCK_SKEW_MS = 30_000;

/**
 * Verifies tokens against the configured keys. Keys are imported once, at start.
 *
 * @example
 * ```ts
 * const verifier = await TokenVerifier.create({ secret: "a secret of at least thirty-two bytes", publicKeyPem: null });
 * const result = await verifier.authenticate(token);
 * if (result.ok && result.permissions.canPublish("room-1")) { … }
 * ```
 */
export class TokenVerifier implements Authenticator {
  readonly enabled = true;
  /** `alg` header value → the key that verifies it. Only algorithms of configured keys are present. */
  readonly #keys: ReadonlyMap<string, CryptoKey>;
  readonly #skewMs: number;
  readonly #now: () => number;

  private constructor(keys: Map<string, CryptoKey>, options: TokenVerifierOptions) {
    this.#keys = keys;
    this.#skewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Imports the configured keys.
   * @throws {Error} when neither key is given, or the PEM is not a P-256 or RSA public key.
   */
  static async create(options: TokenVerifierOptions): Promise<TokenVerifier> {
    const keys = new Map<string, CryptoKey>();
    if (options.secret !== null) {
      const raw = new TextEncoder().encode(options.secret);
      keys.set(
        "HS256",
        await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]),
      );
    }
    if (options.publicKeyPem !== null) {
      const [alg, key] = await importPublicKey(options.publicKeyPem);
      keys.set(alg, key);
    }
    if (keys.size === 0) throw new Error("a token verifier needs a secret or a public key");
    return new TokenVerifier(keys, options);
  }

  /** The algorithms tokens may be signed with (`HS256`, `ES256`, `RS256`). */
  get algorithms(): string[] {
    return [...this.#keys.keys()];
  }

  async authenticate(token: string | null): Promise<AuthResult> {
    if (token === null) return { ok: false, reason: "a token is required" };
    let alg: unknown;
    try {
      alg = decode(token).header.alg;
    } catch {
      return { ok: false, reason: "the token is malformed" };
    }
    const key = typeof alg === "string" ? this.#keys.get(alg) : undefined;
    if (key === undefined) {
      return { ok: false, reason: `tokens must be signed with ${this.algorithms.join(" or ")}` };
    }
    let claims: Record<string, unknown>;
    try {
      // exp and nbf are checked below, with the clock skew hono/jwt does not offer.
      claims = await verify(token, key, { alg: alg as "HS256", exp: false, nbf: false, iat: false });
    } catch {
      return { ok: false, reason: "the token's header or signature is invalid" };
    }
    return this.#permissions(claims);
  }

  #permissions(claims: Record<string, unknown>): AuthResult {
    const now = this.#now();
    const { exp, nbf, sub } = claims;
    // RFC 7519 §4.1.4: exp is a NumericDate (seconds). The relay requires it: sockets live long.
    if (typeof exp !== "number" || !Number.isFinite(exp)) {
      return { ok: false, reason: "the token needs an exp claim" };
    }
    // The token is valid until exp exactly (no skew): a connection is closed at that instant, and a token
    // accepted a moment before expiry must not outlive it. The skew only widens nbf.
    const expiresAt = exp * 1000;
    if (expiresAt <= now) return { ok: false, reason: "the token has expired" };
    if (nbf !== undefined) {
      if (typeof nbf !== "number" || !Number.isFinite(nbf)) return { ok: false, reason: "invalid nbf claim" };
      // RFC 7519 §4.1.5: not to be accepted before nbf.
      if (nbf * 1000 - this.#skewMs > now) return { ok: false, reason: "the token is not valid yet" };
    }
    if (sub !== undefined && typeof sub !== "string") return { ok: false, reason: "invalid sub claim" };
    const relay = parseRelayClaim(claims.relay);
    if (relay === null) {
      return {
        ok: false,
        reason: `invalid relay claim: expected {"subscribe": [patterns], "publish": [patterns]}`,
      };
    }
    return {
      ok: true,
      permissions: new TokenPermissions(sub ?? null, expiresAt, relay.subscribe, relay.publish),
    };
  }
}

/** `{"subscribe": [...], "publish": [...]}`, each list optional; absent claim = nothing allowed. */
function parseRelayClaim(value: unknown): { subscribe: string[]; publish: string[] } | null {
  if (value === undefined) return { subscribe: [], publish: [] };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const claim = value as Record<string, unknown>;
  const subscribe = patternList(claim.subscribe);
  const publish = patternList(claim.publish);
  return subscribe === null || publish === null ? null : { subscribe, publish };
}

function patternList(value: unknown): string[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_PATTERNS) return null;
  for (const item of value) {
    if (typeof item !== "string" || item.length === 0 || item.length > MAX_PATTERN_LENGTH) return null;
  }
  return value as string[];
}

/** The algorithm a public key verifies, by its type: P-256 → ES256, RSA → RS256 (RFC 7518 §3.1). */
async function importPublicKey(pem: string): Promise<[string, CryptoKey]> {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (match === null) {
    throw new Error("the public key must be a PEM 'BEGIN PUBLIC KEY' (SPKI) block");
  }
  const der = Uint8Array.fromBase64(match[1].replace(/\s+/g, ""));
  const candidates: [string, RsaHashedImportParams | EcKeyImportParams][] = [
    ["ES256", { name: "ECDSA", namedCurve: "P-256" }],
    ["RS256", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ];
  for (const [alg, params] of candidates) {
    try {
      return [alg, await crypto.subtle.importKey("spki", der, params, false, ["verify"])];
    } catch {
      // Not this key type; try the next.
    }
  }
  throw new Error("the public key is neither a P-256 EC key (ES256) nor an RSA key (RS256)");
}

/**
 * The token of a request: `Authorization: Bearer <token>` (RFC 6750 §2.1), else the `token` query parameter
 * (RFC 6750 §2.3; browsers cannot set headers on a WebSocket upgrade). Null when neither is there.
 */
export function extractToken(
  authorization: string | null | undefined,
  queryToken: string | null | undefined,
): string | null {
  if (authorization) {
    const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(authorization);
    if (match !== null) return match[1];
  }
  return queryToken ? queryToken : null;
}

/**
 * Calls `onExpire` when `permissions` expire; returns the function that cancels it. No timer for permissions
 * that never expire. Timers are capped at setTimeout's 2^31-1 ms (about 24.8 days), re-armed until the time.
 */
export function watchExpiry(permissions: Permissions, onExpire: () => void, now = Date.now): () => void {
  if (permissions.expiresAt === Infinity) return () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = permissions.expiresAt - now();
    if (left <= 0) {
      timer = undefined;
      onExpire();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMEOUT_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
