import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AuthResult,
  extractToken,
  OPEN_ACCESS,
  type Permissions,
  TokenVerifier,
  watchExpiry,
} from "../../src/access/mod.ts";
import {
  epochSeconds,
  generateSigningKey,
  hs256,
  mintToken,
  signWith,
  unsigned,
} from "../support/jwt_mint.ts";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const rooms = { subscribe: ["room-*"], publish: ["room-1"] };
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: "alice",
  exp: epochSeconds(600),
  relay: rooms,
  ...extra,
});

function permissionsOf(result: AuthResult): Permissions {
  if (!result.ok) assert.fail(`expected the token to be accepted, got: ${result.reason}`);
  return result.permissions;
}

/** Refused, with a reason that does not leak the token or any part of it. */
function assertRefused(result: AuthResult, token: string | null, pattern?: RegExp): void {
  assert.equal(result.ok, false);
  if (result.ok) return;
  if (pattern) assert.match(result.reason, pattern);
  if (token !== null) {
    for (const part of token.split(".").filter((p) => p.length > 8)) {
      assert.ok(!result.reason.includes(part), "the reason must not contain the token");
    }
  }
}

describe("extractToken", () => {
  it("takes a Bearer token from Authorization, case-insensitively", () => {
    assert.equal(extractToken("Bearer abc.def.ghi", undefined), "abc.def.ghi");
    assert.equal(extractToken("bearer   abc.def.ghi ", undefined), "abc.def.ghi");
  });

  it("falls back to the token query parameter, and prefers the header", () => {
    assert.equal(extractToken(undefined, "q.q.q"), "q.q.q");
    assert.equal(extractToken("Bearer h.h.h", "q.q.q"), "h.h.h");
    assert.equal(extractToken("Basic dXNlcjpwYXNz", "q.q.q"), "q.q.q");
  });

  it("finds nothing in an empty or non-Bearer header without a query token", () => {
    assert.equal(extractToken(undefined, undefined), null);
    assert.equal(extractToken("", ""), null);
    assert.equal(extractToken("Basic dXNlcjpwYXNz", undefined), null);
    assert.equal(extractToken("Bearer", undefined), null);
    assert.equal(extractToken("Bearer a b", undefined), null);
  });
});

describe("TokenVerifier with an HS256 secret", () => {
  it("accepts a valid token and grants exactly its relay patterns", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    const p = permissionsOf(await verifier.authenticate(await hs256(claims(), SECRET)));
    assert.equal(p.subject, "alice");
    assert.equal(p.canSubscribe("room-7"), true);
    assert.equal(p.canSubscribe("hall"), false);
    assert.equal(p.canPublish("room-1"), true);
    assert.equal(p.canPublish("room-2"), false);
  });

  it("refuses a missing token, a malformed one and one signed with another secret", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    assertRefused(await verifier.authenticate(null), null, /required/);
    assertRefused(await verifier.authenticate("not-a-jwt"), "not-a-jwt", /malformed/);
    const forged = await hs256(claims(), SECRET + "x");
    assertRefused(await verifier.authenticate(forged), forged, /signature/);
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    const [header, , signature] = (await hs256(claims(), SECRET)).split(".");
    const greedy = new TextEncoder().encode(JSON.stringify(claims({ relay: { publish: ["*"] } })));
    const tampered = `${header}.${
      greedy.toBase64({ alphabet: "base64url", omitPadding: true })
    }.${signature}`;
    assertRefused(await verifier.authenticate(tampered), tampered, /signature/);
  });

  it("refuses alg:none, and tokens of algorithms no configured key has", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    const none = await unsigned(claims());
    assertRefused(await verifier.authenticate(none), none, /HS256/);
    const es256 = await signWith(await generateSigningKey("ES256"), claims());
    assertRefused(await verifier.authenticate(es256), es256, /HS256/);
    // HS512 with the right secret: still not the configured algorithm.
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-512" },
      false,
      ["sign"],
    );
    const hs512 = await mintToken(
      { alg: "HS512", typ: "JWT" },
      claims(),
      (d) => crypto.subtle.sign("HMAC", key, d as BufferSource),
    );
    assertRefused(await verifier.authenticate(hs512), hs512, /HS256/);
  });

  it("refuses a header with an unknown typ or a crit parameter", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    const weirdTyp = await hs256(claims(), SECRET, { alg: "HS256", typ: "at+jwt" });
    assertRefused(await verifier.authenticate(weirdTyp), weirdTyp);
    const crit = await hs256(claims(), SECRET, { alg: "HS256", crit: ["exp"] });
    assertRefused(await verifier.authenticate(crit), crit);
  });
});

describe("TokenVerifier claims", () => {
  const at = (now: number) => TokenVerifier.create({ secret: SECRET, publicKeyPem: null, now: () => now });

  it("requires exp and refuses a token past its exp, with no skew", async () => {
    const now = Date.now();
    const verifier = await at(now);
    const noExp = await hs256({ sub: "a", relay: rooms }, SECRET);
    assertRefused(await verifier.authenticate(noExp), noExp, /exp/);
    const justExpired = await hs256(claims({ exp: Math.floor(now / 1000) - 1 }), SECRET);
    assertRefused(await verifier.authenticate(justExpired), justExpired, /expired/);
  });

  it("expires the permissions at exp exactly", async () => {
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 10;
    const p = permissionsOf(await (await at(now)).authenticate(await hs256(claims({ exp }), SECRET)));
    assert.equal(p.expiresAt, exp * 1000);
  });

  it("honours nbf with a 30 s clock skew", async () => {
    const now = Date.now();
    const verifier = await at(now);
    const later = await hs256(claims({ nbf: Math.floor(now / 1000) + 60 }), SECRET);
    assertRefused(await verifier.authenticate(later), later, /not valid yet/);
    const soon = await hs256(claims({ nbf: Math.floor(now / 1000) + 20 }), SECRET);
    assert.equal((await verifier.authenticate(soon)).ok, true);
    const badNbf = await hs256(claims({ nbf: "tomorrow" }), SECRET);
    assertRefused(await verifier.authenticate(badNbf), badNbf, /nbf/);
  });

  it("grants nothing to a token without a relay claim, and refuses a malformed one", async () => {
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: null });
    const bare = permissionsOf(
      await verifier.authenticate(await hs256({ sub: "b", exp: epochSeconds(60) }, SECRET)),
    );
    assert.equal(bare.canSubscribe("room-1"), false);
    assert.equal(bare.canPublish("room-1"), false);
    for (const relay of [["room-*"], { subscribe: "room-*" }, { publish: [1] }, { subscribe: [""] }, null]) {
      const token = await hs256(claims({ relay }), SECRET);
      assertRefused(await verifier.authenticate(token), token, /relay claim/);
    }
    const badSub = await hs256(claims({ sub: 42 }), SECRET);
    assertRefused(await verifier.authenticate(badSub), badSub, /sub/);
  });
});

describe("TokenVerifier with a public key", () => {
  for (const alg of ["ES256", "RS256"] as const) {
    it(`accepts ${alg} tokens signed by the key's owner and refuses another key's`, async () => {
      const key = await generateSigningKey(alg);
      const verifier = await TokenVerifier.create({ secret: null, publicKeyPem: key.publicPem });
      assert.deepEqual(verifier.algorithms, [alg]);
      const p = permissionsOf(await verifier.authenticate(await signWith(key, claims())));
      assert.equal(p.canPublish("room-1"), true);
      const stranger = await signWith(await generateSigningKey(alg), claims());
      assertRefused(await verifier.authenticate(stranger), stranger, /signature/);
    });
  }

  it("refuses HS256 tokens that use the public key as the HMAC secret (alg confusion)", async () => {
    const key = await generateSigningKey("ES256");
    const verifier = await TokenVerifier.create({ secret: null, publicKeyPem: key.publicPem });
    const confused = await hs256(claims(), key.publicPem);
    assertRefused(await verifier.authenticate(confused), confused, /ES256/);
    // With a secret configured too, HS256 is checked against that secret only.
    const both = await TokenVerifier.create({ secret: SECRET, publicKeyPem: key.publicPem });
    assertRefused(await both.authenticate(confused), confused, /signature/);
    assert.equal((await both.authenticate(await hs256(claims(), SECRET))).ok, true);
    assert.equal((await both.authenticate(await signWith(key, claims()))).ok, true);
  });

  it("refuses a token whose header claims ES256 but which is signed with the secret", async () => {
    const key = await generateSigningKey("ES256");
    const verifier = await TokenVerifier.create({ secret: SECRET, publicKeyPem: key.publicPem });
    const liar = await hs256(claims(), SECRET, { alg: "ES256", typ: "JWT" });
    assertRefused(await verifier.authenticate(liar), liar, /signature/);
  });

  it("fails to start on a PEM that is not a P-256 or RSA public key", async () => {
    await assert.rejects(
      TokenVerifier.create({ secret: null, publicKeyPem: "not a pem" }),
      /BEGIN PUBLIC KEY/,
    );
    const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, [
      "sign",
      "verify",
    ]);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", p384.publicKey)).toBase64();
    await assert.rejects(
      TokenVerifier.create({
        secret: null,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${spki}\n-----END PUBLIC KEY-----`,
      }),
      /P-256/,
    );
    await assert.rejects(
      TokenVerifier.create({ secret: null, publicKeyPem: null }),
      /secret or a public key/,
    );
  });
});

describe("watchExpiry", () => {
  const expiringIn = (ms: number): Permissions => ({ ...OPEN_ACCESS, expiresAt: Date.now() + ms });

  it("calls back when the permissions expire", async () => {
    let fired = 0;
    watchExpiry(expiringIn(30), () => fired++);
    assert.equal(fired, 0);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(fired, 1);
  });

  it("calls back at once for permissions already expired, never for open access, not after cancel", async () => {
    let fired = 0;
    watchExpiry(expiringIn(-1), () => fired++);
    assert.equal(fired, 1);
    watchExpiry(OPEN_ACCESS, () => fired++)();
    const cancel = watchExpiry(expiringIn(20), () => fired++);
    cancel();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(fired, 1);
  });

  it("re-arms instead of overflowing setTimeout for expiries weeks away", async () => {
    const now = Date.now();
    let fired = 0;
    const cancel = watchExpiry(
      { ...OPEN_ACCESS, expiresAt: now + 30 * 24 * 3600_000 },
      () => fired++,
      () => now,
    );
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(fired, 0, "a 30-day timer must not fire at once");
    cancel();
  });
});
