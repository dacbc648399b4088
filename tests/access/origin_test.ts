import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { originPolicy } from "../../src/access/mod.ts";

const OWN = "http://relay.example:8080";

describe("originPolicy", () => {
  it("allows only the relay's own origin when no list is configured", () => {
    const check = originPolicy({ allowedOrigins: [], requireOrigin: false });
    assert.equal(check(OWN, OWN).ok, true);
    for (
      const evil of [
        "http://evil.example",
        "https://relay.example:8080",
        "http://relay.example:8081",
        "http://relay.example",
      ]
    ) {
      assert.equal(check(evil, OWN).ok, false, evil);
    }
  });

  it("matches allow-list entries exactly, never by substring, suffix or prefix", () => {
    const check = originPolicy({ allowedOrigins: ["https://app.example.com"], requireOrigin: false });
    assert.equal(check("https://app.example.com", OWN).ok, true);
    for (
      const evil of [
        "https://app.example.com.evil.net",
        "https://evilapp.example.com",
        "https://app.example.com:444",
        "http://app.example.com",
        "https://APP.example.com",
        OWN,
      ]
    ) {
      assert.equal(check(evil, OWN).ok, false, evil);
    }
  });

  it("rejects the origin 'null', even with '*'", () => {
    assert.equal(originPolicy({ allowedOrigins: [], requireOrigin: false })("null", OWN).ok, false);
    assert.equal(originPolicy({ allowedOrigins: ["*"], requireOrigin: false })("null", OWN).ok, false);
    assert.equal(
      originPolicy({ allowedOrigins: ["*"], requireOrigin: false })("https://any.example", OWN).ok,
      true,
    );
  });

  it("allows a missing Origin unless required", () => {
    assert.equal(originPolicy({ allowedOrigins: [], requireOrigin: false })(null, OWN).ok, true);
    assert.equal(originPolicy({ allowedOrigins: [], requireOrigin: true })(null, OWN).ok, false);
  });
});
