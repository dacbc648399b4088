import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpServer } from "../../src/http/server.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { readResponses, settle, until } from "./support.ts";

const open: FakeConn[] = [];
afterEach(() => {
  for (const conn of open) conn.close();
  open.length = 0;
});

function connect(server: HttpServer): FakeConn {
  const conn = new FakeConn();
  open.push(conn);
  server.serve(conn);
  return conn;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: relay.test\r\n\r\n`;

describe("HttpServer", () => {
  it("counts connections and in-flight requests", async () => {
    let release = () => {};
    const server = new HttpServer(() =>
      new Promise((resolve) => release = () => resolve(new Response("done")))
    );
    const a = connect(server);
    connect(server);
    assert.equal(server.connections, 2);
    assert.equal(server.inFlight, 0);
    a.push(get("/"));
    await settle();
    assert.equal(server.inFlight, 1);
    release();
    await until(() => readResponses(a.text()).length === 1);
    assert.equal(server.inFlight, 0);
  });

  it("closeIdle closes connections between requests and leaves busy ones alone", async () => {
    let release = () => {};
    const server = new HttpServer(() =>
      new Promise((resolve) => release = () => resolve(new Response("done")))
    );
    const idle = connect(server);
    const busy = connect(server);
    busy.push(get("/"));
    await settle();
    server.closeIdle();
    await settle();
    assert.equal(idle.closed, true);
    assert.equal(busy.closed, false);
    release();
    await until(() => readResponses(busy.text()).length === 1);
    assert.equal(busy.closed, false);
  });

  it("shutdown closes idle connections at once and the others after their response, with connection: close", async () => {
    let release = () => {};
    const server = new HttpServer(() =>
      new Promise((resolve) => release = () => resolve(new Response("done")))
    );
    const idle = connect(server);
    const busy = connect(server);
    busy.push(get("/") + get("/second"));
    await settle();
    let finished = false;
    const stopped = server.shutdown().then(() => finished = true);
    await settle();
    assert.equal(idle.closed, true);
    assert.equal(finished, false);
    const late = new FakeConn();
    server.serve(late);
    assert.equal(late.closed, true);
    release();
    await stopped;
    const responses = readResponses(busy.text());
    assert.equal(responses.length, 1);
    assert.equal(responses[0].get("connection"), "close");
    assert.equal(server.connections, 0);
  });

  it("stops tracking a connection once it is upgraded", async () => {
    const server = new HttpServer((_req, info) => {
      info.upgrade((conn) => conn.setHandler({ data() {}, end() {}, drain() {}, close() {} }));
      return new Response(null, { headers: { upgrade: "websocket", connection: "Upgrade" } });
    });
    const conn = connect(server);
    conn.push("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    await until(() => conn.text().startsWith("HTTP/1.1 101 "));
    assert.equal(server.connections, 0);
    await server.shutdown();
    assert.equal(conn.closed, false);
  });

  it("refuses invalid default headers when constructed", () => {
    assert.throws(() =>
      new HttpServer(() => new Response(), { defaultHeaders: [["x-a", "b\r\nx-injected: 1"]] })
    );
    assert.throws(() => new HttpServer(() => new Response(), { limits: { maxBodyBytes: -1 } }), RangeError);
  });
});
