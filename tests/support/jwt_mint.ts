/**
 * Mints real JSON Web Tokens with WebCrypto for auth tests (HS256, ES256, RS256, and deliberately broken ones),
 * independent of the relay's verification code.
 * @module
 */

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function part(value: unknown): string {
  return base64url(encoder.encode(JSON.stringify(value)));
}

/** Signs `header.payload` with `sign`; the header is given whole, so tests can lie in it. */
export async function mintToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  sign: (data: Uint8Array) => Promise<ArrayBuffer | Uint8Array> = () => Promise.resolve(new Uint8Array(0)),
): Promise<string> {
  const input = `${part(header)}.${part(payload)}`;
  const signature = new Uint8Array(await sign(encoder.encode(input)));
  return `${input}.${base64url(signature)}`;
}

/** An HS256 token signed with `secret`. */
export async function hs256(
  payload: Record<string, unknown>,
  secret: string,
  header: Record<string, unknown> = { alg: "HS256", typ: "JWT" },
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return mintToken(header, payload, (data) => crypto.subtle.sign("HMAC", key, data as BufferSource));
}

/** A fresh key pair with its public key as an SPKI PEM, as `--jwt-public-key` reads it. */
export interface SigningKey {
  privateKey: CryptoKey;
  publicPem: string;
  alg: "ES256" | "RS256";
}

/** A new ES256 (P-256) or RS256 (2048-bit RSA) key pair. */
export async function generateSigningKey(alg: "ES256" | "RS256" = "ES256"): Promise<SigningKey> {
  const params = alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  };
  const pair = await crypto.subtle.generateKey(params, true, ["sign", "verify"]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const body = spki.toBase64().match(/.{1,64}/g)!.join("\n");
  return {
    privateKey: pair.privateKey,
    publicPem: `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`,
    alg,
  };
}

/** A token signed with `key` (ES256 signatures are raw r||s, as JWS and WebCrypto both use). */
export function signWith(
  key: SigningKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = { alg: key.alg, typ: "JWT" },
): Promise<string> {
  const algorithm = key.alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
  return mintToken(
    header,
    payload,
    (data) => crypto.subtle.sign(algorithm, key.privateKey, data as BufferSource),
  );
}

/** An unsigned token (`alg: none`, empty signature). */
export function unsigned(payload: Record<string, unknown>): Promise<string> {
  return mintToken({ alg: "none", typ: "JWT" }, payload);
}

/** Seconds since the epoch, `offsetSeconds` from now: for `exp`, `nbf`, `iat`. */
export function epochSeconds(offsetSeconds = 0): number {
  return Math.floor(Date.now() / 1000) + offsetSeconds;
}
