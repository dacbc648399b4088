import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpServer, serveHttp, streamResponse } from "../../src/http/mod.ts";
import type { HttpHandler, HttpServerOptions } from "../../src/http/types.ts";
import { defaultLinesWithout, resolveDefaultHeaders } from "../../src/http/default_headers.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { bytes, controlledStream, readResponses, settle, until, type WireResponse } from "./support.ts";

const open: FakeConn[] = [];
afterEach(() => {
  for (const conn of open) conn.close();
  open.length = 0;
});

const DEFAULTS: HttpServerOptions = {
  defaultHeaders: [
    ["Content-Security-Policy", "default-src 'none'"],
    ["x-frame-options", "DENY"],
    ["x-content-type-options", "nosniff"],
  ],
};

function serve(handler: HttpHandler, options: HttpServerOptions = DEFAULTS): FakeConn {
  const conn = new FakeConn();
  open.push(conn);
  serveHttp(conn, handler, options);
  return conn;
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: relay.test\r\n${extra}\r\n`;
const values = (res: WireResponse, name: string) => res.headers.filter(([n]) => n === name).map(([, v]) => v);

function assertDefaults(res: WireResponse, what: string, frameOptions = "DENY"): void {
  assert.deepEqual(values(res, "content-security-policy"), ["default-src 'none'"], `${what}: CSP`);
  assert.deepEqual(values(res, "x-frame-options"), [frameOptions], `${what}: x-frame-options`);
  assert.deepEqual(values(res, "x-content-type-options"), ["nosniff"], `${what}: nosniff`);
}

describe("default headers", () => {
  it("are added once to every response kind: 200, 204, 304, streamed, a handler's 500, and a 101", async () => {
    let n = 0;
    const conn = serve((_req, info) => {
      switch (n++) {
        case 0:
          return Response.json({ a: 1 });
        case 1:
          return new Response(null, { status: 204 });
        case 2:
          return new Response(null, { status: 304 });
        case 3:
          return new Response("data: x\n\n", { headers: { "content-type": "text/event-stream" } });
        case 4:
          throw new Error("boom");
        default:
          info.upgrade(() => {});
          return new Response(null, { headers: { upgrade: "websocket", connection: "Upgrade" } });
      }
    }, { ...DEFAULTS, onError: () => {} });
    conn.push(
      get("/0") + get("/1") + get("/2") + get("/3") + get("/4") + get("/ws", "Upgrade: websocket\r\n"),
    );
    await until(() => readResponses(conn.text()).length === 6);
    const responses = readResponses(conn.text());
    assert.deepEqual(responses.map((r) => r.status), [200, 204, 304, 200, 500, 101]);
    responses.forEach((res) => assertDefaults(res, `${res.status}`));
  });

  it("give way to a header of the same name that the app set (case-insensitively)", async () => {
    const conn = serve(() =>
      new Response("x", { headers: { "X-Frame-Options": "SAMEORIGIN", "x-other": "1" } })
    );
    conn.push(get("/"));
    await until(() => readResponses(conn.text()).length === 1);
    const [res] = readResponses(conn.text());
    assertDefaults(res, "overridden", "SAMEORIGIN");
    assert.deepEqual(values(res, "x-other"), ["1"]);
  });

  it("are validated once, lowercased, and limited to 30 names", () => {
    const defaults = resolveDefaultHeaders([["A", "1"], ["b", "2"], ["a", "3"]]);
    assert.equal(defaults.lines, "a: 1\r\nb: 2\r\na: 3\r\n");
    assert.equal(defaultLinesWithout(defaults, 1 << defaults.bits.get("a")!), "b: 2\r\n");
    const many = Array.from({ length: 31 }, (_, i): [string, string] => [`x-h${i}`, "1"]);
    assert.throws(() => new HttpServer(() => new Response(), { defaultHeaders: many }), RangeError);
    assert.throws(() => new HttpServer(() => new Response(), { defaultHeaders: [["a b", "1"]] }), TypeError);
  });
});

describe("which bodies are streamed", () => {
  it("sends a static JSON response with Content-Length, head and body in one write", async () => {
    const conn = serve(() => Response.json({ status: "ok" }));
    conn.push(get("/healthz"));
    await until(() => conn.writes.length > 0);
    await settle();
    assert.equal(conn.writes.length, 1);
    const [res] = readResponses(conn.text());
    assert.equal(res.body, '{"status":"ok"}');
    assert.equal(res.get("content-length"), String(res.body.length));
    assert.equal(res.get("transfer-encoding"), undefined);
  });

  it("streams server-sent events chunked, each event written as soon as it is produced", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() =>
      new Response(stream, { headers: { "content-type": "Text/Event-Stream; charset=utf-8" } })
    );
    conn.push(get("/events"));
    await settle();
    for (const event of ["data: 1\n\n", "data: 2\n\n"]) {
      controller.enqueue(bytes(event));
      await until(() => conn.text().endsWith(`9\r\n${event}\r\n`));
    }
    assert.match(conn.text(), /transfer-encoding: chunked\r\n/);
    controller.close();
    await until(() => conn.text().endsWith("0\r\n\r\n"));
    assert.equal(readResponses(conn.text())[0].body, "data: 1\n\ndata: 2\n\n");
  });

  it("streams a body whose app set Transfer-Encoding, with the server's framing only", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() => new Response(stream, { headers: { "transfer-encoding": "chunked" } }));
    conn.push(get("/text"));
    await settle();
    controller.enqueue(bytes("part"));
    await until(() => conn.text().endsWith("4\r\npart\r\n"));
    assert.equal(conn.text().match(/transfer-encoding/g)?.length, 1);
    controller.close();
  });

  it("streams a body marked with streamResponse()", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() => streamResponse(new Response(stream)));
    conn.push(get("/"));
    await settle();
    controller.enqueue(bytes("tick"));
    await until(() => conn.text().endsWith("4\r\ntick\r\n"));
    controller.close();
  });

  it("sends an unmarked stream once it has ended, with Content-Length", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() => new Response(stream));
    conn.push(get("/"));
    await settle();
    controller.enqueue(bytes("ab"));
    await settle();
    assert.equal(conn.writes.length, 0, "nothing is sent before the body ends");
    controller.enqueue(bytes("cd"));
    controller.close();
    await until(() => readResponses(conn.text()).length === 1);
    const [res] = readResponses(conn.text());
    assert.deepEqual([res.get("content-length"), res.get("transfer-encoding"), res.body], [
      "4",
      undefined,
      "abcd",
    ]);
  });
});

describe("HEAD", () => {
  it("is handled as the GET it stands for: same headers and Content-Length, no body", async () => {
    const methods: string[] = [];
    const conn = serve((req) => {
      methods.push(req.method);
      return Response.json({ status: "ok" }, { headers: { etag: '"1"' } });
    });
    conn.push(get("/healthz").replace("GET", "HEAD") + get("/healthz"));
    await until(() => readResponses(conn.text(), [true]).length === 2);
    const [head, full] = readResponses(conn.text(), [true]);
    assert.deepEqual(methods, ["GET", "GET"]);
    assert.equal(head.get("content-length"), String(full.body.length));
    assert.deepEqual([head.get("content-type"), head.get("etag")], [full.get("content-type"), '"1"']);
    assert.equal(conn.text().split('{"status":"ok"}').length, 2, "one body on the wire");
  });

  it("of a streamed response sends the GET's head and cancels the stream unread", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    const conn = serve(() => new Response(stream, { headers: { "content-type": "text/event-stream" } }));
    conn.push(`HEAD /events HTTP/1.1\r\nHost: h\r\n\r\n`);
    await until(() => readResponses(conn.text(), [true]).length === 1);
    const [res] = readResponses(conn.text(), [true]);
    assert.equal(res.get("transfer-encoding"), "chunked");
    assert.ok(conn.text().endsWith("\r\n\r\n"));
    await until(() => cancelled);
    assert.equal(conn.ended, false);
  });

  it("is never upgraded, even when the handler registers an upgrade", async () => {
    let upgraded = false;
    const conn = serve((_req, info) => {
      info.upgrade(() => void (upgraded = true));
      return new Response(null, { headers: { upgrade: "websocket", connection: "Upgrade" } });
    });
    conn.push(`HEAD /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
    await until(() => conn.closed);
    assert.equal(upgraded, false);
    assert.equal(readResponses(conn.text(), [true])[0].status, 200);
  });
});
