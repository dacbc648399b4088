/**
 * `ConnectionLimiter` on in-memory connections: the caps hold however often a refused client comes back, and
 * only admitted connections give their place back when they close.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConnectionLimiter } from "../../src/access/mod.ts";
import { HttpServer } from "../../src/http/mod.ts";
import { FakeConn } from "../support/fake_conn.ts";

const HEADERS: [string, string][] = [["x-content-type-options", "nosniff"]];
/** The relay refuses through its HTTP server, which adds the default headers. */
const HTTP = new HttpServer(() => new Response("never called"), { defaultHeaders: HEADERS });

function connFrom(address: string, secure = false): FakeConn {
  const conn = new FakeConn();
  conn.remoteAddress = address;
  conn.secure = secure;
  return conn;
}

/** What a runtime adapter does: `admit` on accept, `release` when the connection closes, refused or not. */
function tryConnect(limiter: ConnectionLimiter, address: string, secure = false): FakeConn {
  const conn = connFrom(address, secure);
  limiter.admit(conn);
  return conn;
}

describe("ConnectionLimiter", () => {
  it("keeps a per-address cap of 2 after 12 tries while 2 are held, refused ones released as they close", () => {
    const limiter = new ConnectionLimiter(100, 2, HTTP);
    const held: FakeConn[] = [];
    for (let i = 0; i < 12; i++) {
      const conn = tryConnect(limiter, "10.0.0.1");
      if (conn.ended || conn.closed) limiter.release(conn); // the adapter reports every close
      else held.push(conn);
    }
    assert.equal(held.length, 2);
    assert.equal(limiter.total, 2);
    assert.equal(limiter.refused, 10);
  });

  it("keeps the total cap after refused connections close", () => {
    const limiter = new ConnectionLimiter(3, 100, HTTP);
    const held = [
      tryConnect(limiter, "10.0.0.1"),
      tryConnect(limiter, "10.0.0.2"),
      tryConnect(limiter, "10.0.0.3"),
    ];
    for (let i = 0; i < 5; i++) limiter.release(tryConnect(limiter, `10.0.0.${1 + i % 3}`));
    assert.equal(limiter.total, 3);
    assert.equal(tryConnect(limiter, "10.0.2.1").ended, true);
    for (const conn of held) limiter.release(conn);
    assert.equal(limiter.total, 0);
    assert.equal(tryConnect(limiter, "10.0.2.2").ended, false);
  });

  it("releases an admitted connection once, however often its close is reported", () => {
    const limiter = new ConnectionLimiter(100, 1, HTTP);
    const first = tryConnect(limiter, "10.0.0.1");
    limiter.release(first);
    limiter.release(first);
    assert.equal(limiter.total, 0);
    const second = tryConnect(limiter, "10.0.0.1");
    assert.equal(second.ended, false);
    assert.equal(tryConnect(limiter, "10.0.0.1").ended, true, "the second one holds the only place");
  });

  it("answers a refused plain connection with 503, Retry-After and the default headers, then ends it", () => {
    const limiter = new ConnectionLimiter(100, 1, HTTP);
    tryConnect(limiter, "10.0.0.1");
    const refused = tryConnect(limiter, "10.0.0.1");
    assert.equal(refused.ended, true);
    assert.match(refused.text(), /^HTTP\/1\.1 503 /);
    assert.match(refused.text(), /\r\nretry-after: \d+\r\n/i);
    assert.match(refused.text(), /\r\nconnection: close\r\n/i);
    assert.match(refused.text(), /\r\nx-content-type-options: nosniff\r\n/i);
  });

  it("closes a refused TLS connection without writing (no handshake yet: a plaintext 503 would be garbage)", () => {
    const limiter = new ConnectionLimiter(100, 1, HTTP);
    tryConnect(limiter, "10.0.0.1", true);
    const refused = tryConnect(limiter, "10.0.0.1", true);
    assert.equal(refused.closed, true);
    assert.equal(refused.writes.length, 0);
    assert.equal(limiter.refused, 1);
  });

  it("gives no place back when a refused TLS connection closes", () => {
    const limiter = new ConnectionLimiter(100, 1, HTTP);
    const held = connFrom("10.0.0.1", true);
    assert.equal(limiter.admit(held), true);
    for (let i = 0; i < 5; i++) {
      const refused = connFrom("10.0.0.1", true);
      assert.equal(limiter.admit(refused), false);
      limiter.release(refused); // the adapter reports the close of every accepted connection
    }
    assert.equal(limiter.total, 1);
    assert.equal(
      limiter.admit(connFrom("10.0.0.1", true)),
      false,
      "the held connection still has the only place",
    );
    limiter.release(held);
    assert.equal(limiter.admit(connFrom("10.0.0.1", true)), true);
  });

  it("counts each address on its own under the per-address cap, and all of them under the total cap", () => {
    const limiter = new ConnectionLimiter(3, 1, HTTP);
    assert.equal(limiter.admit(connFrom("10.0.0.1")), true);
    assert.equal(limiter.admit(connFrom("10.0.0.1")), false);
    assert.equal(limiter.admit(connFrom("10.0.0.2")), true, "another address has its own place");
    assert.equal(limiter.admit(connFrom("10.0.0.3")), true);
    const refused = connFrom("10.0.0.4");
    assert.equal(limiter.admit(refused), false, "a new address is refused at the total cap");
    assert.match(refused.text(), /^HTTP\/1\.1 503 /);
    assert.match(refused.text(), /too many connections/);
    assert.doesNotMatch(refused.text(), /from your address/, "the total cap is not the client's fault");
    assert.equal(limiter.refused, 2);
  });
});
