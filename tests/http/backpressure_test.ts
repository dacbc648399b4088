/**
 * Output backpressure of one HTTP connection, on an in-memory conn: the next pipelined request waits for the
 * previous response to drain, the keep-alive timer starts after the drain, and a peer that takes no bytes
 * for `sendTimeoutMs` is dropped while one that keeps reading is not.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { serveHttp } from "../../src/http/server.ts";
import type { HttpHandler, HttpServerOptions } from "../../src/http/types.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { readResponses, settle, until } from "./support.ts";

/** A conn whose queue size the test sets, to play a peer that reads (the queue shrinks) or does not. */
class QueueConn extends FakeConn {
  queued = 0;
  override get bufferedAmount(): number {
    return this.queued;
  }
}

const open: FakeConn[] = [];
afterEach(() => {
  for (const conn of open) conn.close();
  open.length = 0;
});

function serve(handler: HttpHandler, options: HttpServerOptions = {}): QueueConn {
  const conn = new QueueConn();
  open.push(conn);
  serveHttp(conn, handler, options);
  return conn;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: relay.test\r\n\r\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("HTTP output backpressure", () => {
  it("parses the next pipelined request only once the previous response drained", async () => {
    const seen: string[] = [];
    const conn = serve((request) => {
      seen.push(new URL(request.url).pathname);
      return new Response("x".repeat(100));
    });
    conn.full = true;
    conn.push(get("/a") + get("/b") + get("/c"));
    await settle();
    assert.deepEqual(seen, ["/a"], "a request was answered while the previous response was not out");
    conn.full = false;
    conn.handler.drain();
    await until(() => seen.length === 3);
    assert.deepEqual(readResponses(conn.text()).map((r) => r.status), [200, 200, 200]);
  });

  it("starts the keep-alive timer only after the response drained", async () => {
    const conn = serve(() => new Response("big"), { limits: { keepAliveTimeoutMs: 20 } });
    conn.full = true;
    conn.push(get("/"));
    await sleep(100);
    assert.equal(conn.ended, false, "closed as idle while the response was still being delivered");
    conn.full = false;
    conn.handler.drain();
    await until(() => conn.ended, 1000);
  });

  it("closes a connection whose peer takes no bytes for sendTimeoutMs", async () => {
    const conn = serve(() => new Response("big"), { limits: { sendTimeoutMs: 80 } });
    conn.full = true;
    conn.queued = 1_000_000;
    conn.push(get("/"));
    const start = Date.now();
    await until(() => conn.closed, 1000);
    assert.ok(Date.now() - start >= 70, `closed after ${Date.now() - start} ms`);
  });

  it("keeps a connection whose peer keeps taking bytes, however slowly", async () => {
    const conn = serve(() => new Response("big"), { limits: { sendTimeoutMs: 80 } });
    conn.full = true;
    conn.queued = 1_000_000;
    conn.push(get("/"));
    for (let i = 0; i < 15; i++) {
      await sleep(20);
      conn.queued -= 1000;
    }
    assert.equal(conn.closed, false, "a slow reader was dropped");
    conn.full = false;
    conn.queued = 0;
    conn.handler.drain();
    conn.push(get("/next"));
    await until(() => readResponses(conn.text()).length === 2);
  });

  it("answers what was pipelined before a FIN that came while a response drained, then ends", async () => {
    const conn = serve(() => new Response("big"));
    conn.full = true;
    conn.push(get("/") + get("/never"));
    await settle();
    conn.handler.end();
    assert.equal(conn.ended, false);
    conn.full = false;
    conn.handler.drain();
    await settle();
    await until(() => conn.ended, 1000);
    assert.equal(readResponses(conn.text()).length, 2);
  });
});
