import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectionLimiter,
  hostPolicy,
  originPolicy,
  ownOriginOf,
  TrustedProxies,
} from "../../src/access/mod.ts";
import { HttpServer, type RequestInfo } from "../../src/http/mod.ts";
import { FakeConn } from "../support/fake_conn.ts";

const info = (remoteAddress: string): RequestInfo => ({
  remoteAddress,
  remotePort: 40000,
  secure: false,
  httpVersion: "1.1",
  upgrade() {},
  onClose() {},
  stream() {},
});

describe("TrustedProxies", () => {
  const proxies = new TrustedProxies(["127.0.0.1", "10.0.0.2"]);

  it("takes the right-most X-Forwarded-For entry that is not a trusted proxy", () => {
    assert.equal(proxies.clientAddress("127.0.0.1", "198.51.100.7"), "198.51.100.7");
    assert.equal(proxies.clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2"), "198.51.100.7");
    assert.equal(proxies.clientAddress("127.0.0.1", "10.0.0.2"), "10.0.0.2");
  });

  it("ignores X-Forwarded-For from an untrusted peer and a garbled chain", () => {
    assert.equal(proxies.clientAddress("192.0.2.9", "198.51.100.7"), "192.0.2.9");
    assert.equal(proxies.clientAddress("127.0.0.1", "not-an-address"), "127.0.0.1");
    assert.equal(proxies.clientAddress("::ffff:127.0.0.1", "2001:db8::1"), "2001:db8::1");
  });

  it("gives the app the client's address and the forwarded origin, and the same info when nothing changes", () => {
    const headers = new Headers({
      "x-forwarded-for": "198.51.100.7",
      "x-forwarded-proto": "https",
      "x-forwarded-host": "relay.example.com",
    });
    const resolved = proxies.resolve(info("127.0.0.1"), headers);
    assert.equal(resolved.remoteAddress, "198.51.100.7");
    assert.equal(ownOriginOf(resolved, "http://127.0.0.1:8080/ws"), "https://relay.example.com");
    const plain = info("127.0.0.1");
    assert.equal(proxies.resolve(plain, new Headers()), plain);
    const stranger = info("192.0.2.9");
    assert.equal(proxies.resolve(stranger, headers), stranger);
    assert.equal(ownOriginOf(stranger, "http://127.0.0.1:8080/ws"), "http://127.0.0.1:8080");
  });

  it("refuses a forwarded host that is more than an authority", () => {
    const headers = new Headers({ "x-forwarded-proto": "https", "x-forwarded-host": "evil.com/x@y" });
    const resolved = proxies.resolve(info("127.0.0.1"), headers);
    assert.equal(ownOriginOf(resolved, "http://127.0.0.1:8080/ws"), "http://127.0.0.1:8080");
  });

  it("trusts nobody when the list is empty", () => {
    const none = new TrustedProxies([]);
    assert.equal(none.clientAddress("127.0.0.1", "198.51.100.7"), "127.0.0.1");
  });
});

describe("hostPolicy", () => {
  it("answers only the listed names, whatever the port; null for an empty list", () => {
    const allowed = hostPolicy(["relay.example.com", "[::1]", "127.0.0.1"])!;
    assert.equal(allowed("relay.example.com:8443"), true);
    assert.equal(allowed("RELAY.example.com"), true);
    assert.equal(allowed("[::1]:80"), true);
    assert.equal(allowed("127.0.0.1:8080"), true);
    assert.equal(allowed("attacker.example"), false);
    assert.equal(allowed(null), false);
    assert.equal(hostPolicy([]), null);
  });
});

describe("originPolicy messages and the null opt-in", () => {
  it("says which origin it expected", () => {
    const verdict = originPolicy({ allowedOrigins: [], requireOrigin: false })(
      "http://localhost:3000",
      "http://relay.test:8880",
    );
    assert.equal(verdict.ok, false);
    assert.match((verdict as { reason: string }).reason, /own origin http:\/\/relay\.test:8880/);
  });

  it("allows null only when listed on its own, not with *", () => {
    assert.equal(originPolicy({ allowedOrigins: ["*"], requireOrigin: false })("null", "x").ok, false);
    assert.equal(originPolicy({ allowedOrigins: ["*", "null"], requireOrigin: false })("null", "x").ok, true);
    assert.equal(originPolicy({ allowedOrigins: ["null"], requireOrigin: false })("null", "x").ok, true);
  });
});

describe("ConnectionLimiter behind a trusted proxy", () => {
  it("counts a proxy's connections per forwarded client, not per proxy, and gives the place back on close", () => {
    const http = new HttpServer(() => new Response("never called"));
    const limiter = new ConnectionLimiter(100, 2, http, (address) => address === "127.0.0.1");
    const conns = Array.from({ length: 4 }, (_, i) => {
      const conn = new FakeConn();
      conn.remoteAddress = "127.0.0.1";
      conn.remotePort = 50000 + i;
      assert.equal(limiter.admit(conn), true, "the proxy itself is not capped per address");
      return conn;
    });
    assert.equal(limiter.attribute("127.0.0.1", 50000, "198.51.100.1"), true);
    assert.equal(limiter.attribute("127.0.0.1", 50000, "198.51.100.1"), true, "counted once per connection");
    assert.equal(limiter.attribute("127.0.0.1", 50001, "198.51.100.1"), true);
    assert.equal(limiter.attribute("127.0.0.1", 50002, "198.51.100.1"), false, "the client is at its cap");
    assert.equal(limiter.attribute("127.0.0.1", 50002, "198.51.100.2"), true, "another client is not");
    limiter.release(conns[0]);
    assert.equal(
      limiter.attribute("127.0.0.1", 50003, "198.51.100.1"),
      true,
      "the closed one gave its place back",
    );
    assert.equal(limiter.total, 3);
  });
});
