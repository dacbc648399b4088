import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Conn, ConnHandler } from "../../src/runtime/conn.ts";
import { serveHttp } from "../../src/http/server.ts";
import { streamResponse } from "../../src/http/body_reader.ts";
import type { HttpHandler, HttpServerOptions, RequestInfo } from "../../src/http/types.ts";
import { API_ERROR, type ApiErrorCode } from "../../src/protocol/mod.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { bytes, controlledStream, latin1, readResponses, settle, until } from "./support.ts";

const open: FakeConn[] = [];
afterEach(() => {
  for (const conn of open) conn.close();
  open.length = 0;
});

const DEFAULTS: HttpServerOptions = { defaultHeaders: [["content-security-policy", "default-src 'none'"]] };

function serve(handler: HttpHandler, options: HttpServerOptions = DEFAULTS): FakeConn {
  const conn = new FakeConn();
  open.push(conn);
  serveHttp(conn, handler, options);
  return conn;
}

const text = (body: string, init?: ResponseInit) => new Response(new TextEncoder().encode(body), init);
const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: relay.test\r\n${extra}\r\n`;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("serveHttp responses", () => {
  it("answers a GET with status line, date, default content-type and Content-Length in one write", async () => {
    const conn = serve(() => text("hello"));
    conn.push(get("/"));
    await until(() => conn.writes.length > 0);
    await settle();
    assert.equal(conn.writes.length, 1);
    const [res] = readResponses(conn.text());
    assert.equal(res.status, 200);
    assert.equal(res.reason, "OK");
    assert.equal(res.get("content-length"), "5");
    assert.equal(res.get("content-type"), "text/plain; charset=utf-8");
    assert.match(res.get("date") ?? "", /GMT$/);
    assert.equal(res.body, "hello");
    assert.equal(conn.ended, false);
  });

  it("builds the request URL from the Host header, never from the target", async () => {
    const urls: string[] = [];
    const conn = serve((req) => {
      urls.push(req.url);
      return text("");
    });
    conn.push(
      get("//evil.example/x?a=1") + "GET http://evil.example/y HTTP/1.1\r\nHost: relay.test:8080\r\n\r\n",
    );
    await until(() => urls.length === 2);
    assert.deepEqual(urls, ["http://relay.test//evil.example/x?a=1", "http://relay.test:8080/y"]);
  });

  it("uses https:// on secure connections and passes the peer address in info", async () => {
    let seen: [string, RequestInfo] | null = null;
    const conn = new FakeConn();
    open.push(conn);
    conn.secure = true;
    serveHttp(conn, (req, info) => {
      seen = [req.url, info];
      return text("");
    });
    conn.push(get("/p"));
    await until(() => seen !== null);
    const [url, info] = seen!;
    assert.equal(url, "https://relay.test/p");
    assert.deepEqual([info.remoteAddress, info.remotePort, info.secure], ["127.0.0.1", 40000, true]);
  });

  it("passes a Content-Length body and a chunked body to the handler as bytes", async () => {
    const bodies: string[] = [];
    const conn = serve(async (req) => {
      bodies.push(await req.text());
      return text("ok");
    });
    conn.push("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhel");
    conn.push("lo");
    conn.push("POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n");
    conn.push("2\r\nde\r\n0\r\nTrailer: z\r\n\r\n");
    await until(() => readResponses(conn.text()).length === 2);
    assert.deepEqual(bodies, ["hello", "abcde"]);
  });

  it("answers HEAD with the GET's Content-Length and no body", async () => {
    const conn = serve(() => text("twelve bytes"));
    conn.push(`HEAD / HTTP/1.1\r\nHost: h\r\n\r\n${get("/next")}`);
    await until(() => readResponses(conn.text(), [true]).length === 2);
    const [head, next] = readResponses(conn.text(), [true]);
    assert.equal(head.get("content-length"), "12");
    assert.equal(next.body, "twelve bytes");
    assert.ok(conn.text().startsWith("HTTP/1.1 200 OK\r\n"));
    assert.equal(conn.text().split("twelve bytes").length, 2);
  });

  it("sends 204 and 304 without a body or Content-Length on 204", async () => {
    let n = 0;
    const conn = serve(() =>
      n++ === 0
        ? new Response(null, { status: 204 })
        : new Response(null, { status: 304, headers: { etag: '"v1"', "content-length": "7" } })
    );
    conn.push(get("/a") + get("/b") + get("/c"));
    await until(() => readResponses(conn.text()).length === 3);
    const [a, b] = readResponses(conn.text());
    assert.deepEqual([a.status, a.get("content-length"), a.get("content-type")], [204, undefined, undefined]);
    assert.deepEqual([b.status, b.get("etag"), b.get("content-length")], [304, '"v1"', "7"]);
    assert.ok(conn.text().endsWith("\r\n\r\n"));
  });

  it("writes each Set-Cookie on its own line and keeps the app's content-type", async () => {
    const conn = serve(() => {
      const headers = new Headers({ "content-type": "application/json" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2, c");
      return new Response("{}", { headers });
    });
    conn.push(get("/"));
    await until(() => readResponses(conn.text()).length === 1);
    const [res] = readResponses(conn.text());
    assert.deepEqual(res.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v), [
      "a=1; Path=/",
      "b=2, c",
    ]);
    assert.equal(res.get("content-type"), "application/json");
  });
});

describe("serveHttp keep-alive and pipelining", () => {
  it("answers pipelined requests strictly in order, one handler at a time", async () => {
    let running = 0;
    let maxRunning = 0;
    const conn = serve(async (req) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const path = new URL(req.url).pathname;
      await delay(path === "/1" ? 20 : path === "/2" ? 5 : 0);
      running--;
      return text(path);
    });
    conn.push(get("/1") + get("/2") + get("/3"));
    await until(() => readResponses(conn.text()).length === 3);
    assert.deepEqual(readResponses(conn.text()).map((r) => r.body), ["/1", "/2", "/3"]);
    assert.equal(maxRunning, 1);
  });

  it("keeps an HTTP/1.1 connection open and closes HTTP/1.0 unless keep-alive", async () => {
    const conn = serve(() => text("x"));
    conn.push("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    await until(() => readResponses(conn.text()).length === 1);
    assert.equal(readResponses(conn.text())[0].get("connection"), "keep-alive");
    assert.equal(conn.ended, false);
    conn.push("GET / HTTP/1.0\r\n\r\n");
    await until(() => conn.ended);
    assert.equal(readResponses(conn.text())[1].get("connection"), "close");
  });

  it("closes after a response to Connection: close without answering later requests", async () => {
    let calls = 0;
    const conn = serve(() => (calls++, text("x")));
    conn.push(get("/a", "Connection: close\r\n") + get("/b"));
    await until(() => conn.closed);
    assert.equal(calls, 1);
    assert.equal(readResponses(conn.text()).length, 1);
  });

  it("pauses reading while more than 64 KiB of pipelined bytes wait, and resumes after", async () => {
    let release = () => {};
    const conn = serve((req) =>
      new URL(req.url).pathname === "/slow"
        ? new Promise((r) => release = () => r(text("slow")))
        : text("fast")
    );
    conn.push(get("/slow"));
    await settle();
    const filler = get("/x", `X-Pad: ${"p".repeat(8000)}\r\n`);
    for (let i = 0; i < 9; i++) conn.push(filler);
    assert.equal(conn.paused, true);
    release();
    await until(() => readResponses(conn.text()).length === 10);
    assert.equal(conn.paused, false);
  });
});

describe("serveHttp 100-continue", () => {
  it("sends 100 Continue before reading the body", async () => {
    const conn = serve(async (req) => text(await req.text()));
    conn.push("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    await settle();
    assert.equal(conn.text(), "HTTP/1.1 100 Continue\r\n\r\n");
    conn.push("data");
    await until(() => readResponses(conn.text()).length === 2);
    assert.equal(readResponses(conn.text())[1].body, "data");
  });

  it("answers 413 without 100 Continue when the declared length is over the limit", async () => {
    const conn = serve(() => text("never"), { limits: { maxBodyBytes: 10 } });
    conn.push("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n");
    await until(() => conn.ended);
    assert.ok(conn.text().startsWith("HTTP/1.1 413 Content Too Large\r\n"));
    assert.ok(!conn.text().includes("100 Continue"));
  });
});

describe("serveHttp streaming responses", () => {
  it("streams a body that keeps producing with chunked encoding, one write per chunk as it is read", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() => new Response(stream, { headers: { "content-type": "text/event-stream" } }));
    conn.push(get("/events"));
    await settle();
    controller.enqueue(bytes("data: 1\n\n"));
    await until(() => conn.text().includes("data: 1"));
    assert.match(conn.text(), /transfer-encoding: chunked\r\n/);
    assert.ok(conn.text().endsWith("9\r\ndata: 1\n\n\r\n"));
    const writes = conn.writes.length;
    controller.enqueue(bytes("data: 2\n\n"));
    await until(() => conn.writes.length === writes + 1);
    assert.ok(conn.text().endsWith("9\r\ndata: 2\n\n\r\n"));
    controller.close();
    await until(() => conn.text().endsWith("0\r\n\r\n"));
    assert.equal(readResponses(conn.text())[0].body, "data: 1\n\ndata: 2\n\n");
    assert.equal(conn.ended, false);
  });

  it("sends a body that ends at once with Content-Length, even in several chunks", async () => {
    const conn = serve(() =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(bytes("ab"));
            c.enqueue(bytes("cd"));
            c.close();
          },
        }),
      )
    );
    conn.push(get("/"));
    await until(() => readResponses(conn.text()).length === 1);
    const [res] = readResponses(conn.text());
    assert.deepEqual([res.get("content-length"), res.get("transfer-encoding"), res.body], [
      "4",
      undefined,
      "abcd",
    ]);
  });

  it("honours a Content-Length the app set on a streamed body", async () => {
    const { stream, controller } = controlledStream();
    const conn = serve(() => streamResponse(new Response(stream, { headers: { "content-length": "6" } })));
    conn.push(get("/"));
    await settle();
    controller.enqueue(bytes("abc"));
    await until(() => conn.text().endsWith("abc"));
    controller.enqueue(bytes("def"));
    controller.close();
    await until(() => readResponses(conn.text()).length === 1);
    const [res] = readResponses(conn.text());
    assert.deepEqual([res.get("content-length"), res.get("transfer-encoding"), res.body], [
      "6",
      undefined,
      "abcdef",
    ]);
  });

  it("waits for drain when the connection reports backpressure", async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      pull: () => void pulls++,
    }, { highWaterMark: 0 });
    const conn = serve(() => streamResponse(new Response(stream)));
    conn.full = true;
    conn.push(get("/"));
    await settle();
    controller.enqueue(bytes("one"));
    await until(() => conn.text().includes("one"));
    await settle();
    const pullsWhileFull = pulls;
    controller.enqueue(bytes("two"));
    await settle();
    assert.ok(!conn.text().includes("two"), "wrote while the connection was full");
    conn.full = false;
    conn.handler.drain();
    await until(() => conn.text().includes("two"));
    assert.ok(pulls >= pullsWhileFull);
    controller.close();
  });

  it("cancels the body stream when the client disconnects mid-stream", async () => {
    let cancelled = false;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      cancel: () => void (cancelled = true),
    });
    const conn = serve(() => streamResponse(new Response(stream)));
    conn.push(get("/"));
    await settle();
    controller.enqueue(bytes("first"));
    await until(() => conn.text().includes("first"));
    conn.close();
    await until(() => cancelled);
  });
});

describe("serveHttp upgrade hand-off", () => {
  const upgradeHead = get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n");

  it("writes 101 with the response headers and hands over the conn with every byte read after the head", async () => {
    let handed: { conn: Conn; head: string } | null = null;
    const later: string[] = [];
    const conn = serve(async (_req, info) => {
      info.upgrade((c, head) => {
        handed = { conn: c, head: latin1(head) };
        const handler: ConnHandler = {
          data: (d) => void later.push(latin1(d)),
          end() {},
          drain() {},
          close() {},
        };
        c.setHandler(handler);
      });
      await delay(5);
      return text("ignored", {
        headers: {
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-accept": "abc=",
          "x-extra": "1",
        },
      });
    });
    conn.push(bytes(upgradeHead + "\x81\x85first"));
    conn.push("second");
    await until(() => handed !== null);
    const out = conn.text();
    assert.ok(out.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
    const [res] = readResponses(out);
    assert.deepEqual(
      [res.get("upgrade"), res.get("connection"), res.get("sec-websocket-accept"), res.get("x-extra")],
      ["websocket", "Upgrade", "abc=", "1"],
    );
    assert.equal(res.get("content-length"), undefined);
    assert.equal(res.get("content-type"), undefined);
    assert.ok(out.endsWith("\r\n\r\n") && !out.includes("ignored"));
    assert.equal(handed!.conn, conn);
    assert.equal(handed!.head, "\x81\x85firstsecond");
    conn.push("third");
    assert.deepEqual(later, ["third"]);
  });

  it("refuses an upgrade with Connection: close and never answers the request pipelined behind it", async () => {
    const paths: string[] = [];
    const conn = serve((req) => {
      paths.push(new URL(req.url).pathname);
      return text("forbidden", { status: 403 });
    });
    conn.push(upgradeHead + get("/internal"));
    await until(() => conn.closed);
    await settle();
    assert.deepEqual(paths, ["/ws"]);
    const responses = readResponses(conn.text());
    assert.equal(responses.length, 1);
    assert.deepEqual([responses[0].status, responses[0].get("connection")], [403, "close"]);
  });

  it("does not switch protocols when the handler registered an upgrade but answered an error status", async () => {
    let called = false;
    const conn = serve((_req, info) => {
      info.upgrade(() => void (called = true));
      return text("no", { status: 401 });
    });
    conn.push(upgradeHead);
    await until(() => conn.closed);
    assert.equal(called, false);
    assert.equal(readResponses(conn.text())[0].status, 401);
  });
});

describe("serveHttp errors", () => {
  it("answers a throwing handler with a JSON 500 and keeps serving the connection", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const conn = serve(() => {
      if (n++ === 0) throw new Error("boom");
      if (n === 2) return Promise.reject(new Error("async boom"));
      return text("fine");
    }, { ...DEFAULTS, onError: (e) => errors.push(e) });
    conn.push(get("/a") + get("/b") + get("/c"));
    await until(() => readResponses(conn.text()).length === 3);
    const [a, b, c] = readResponses(conn.text());
    assert.deepEqual([a.status, b.status, c.status], [500, 500, 200]);
    assert.deepEqual(JSON.parse(a.body), { error: "internal", message: "Internal server error" });
    // One code for one 500, wherever it comes from: the app's table answers a 500 with the same code.
    assert.equal(API_ERROR[JSON.parse(a.body).error as ApiErrorCode], 500);
    assert.equal(a.get("content-type"), "application/json");
    assert.equal(a.get("content-security-policy"), "default-src 'none'");
    assert.equal(c.body, "fine");
    assert.equal(errors.length, 2);
    assert.equal(conn.ended, false);
  });

  const limits = { maxRequestLineBytes: 64, maxHeaderBytes: 128, maxHeaderCount: 4, maxBodyBytes: 8 };
  const cases: [string, string, number, string][] = [
    ["a bare LF", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare_lf"],
    [
      "a long request line",
      `GET /${"a".repeat(80)} HTTP/1.1\r\nHost: h\r\n\r\n`,
      414,
      "request_line_too_long",
    ],
    ["too many headers", get("/", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), 431, "headers_too_large"],
    [
      "a large body",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n123456789",
      413,
      "body_too_large",
    ],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "version_not_supported"],
    ["a GET with a body", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", 400, "body_not_allowed"],
    ["TRACE", "TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", 501, "method_not_supported"],
    [
      "a lower-case get (methods are case-sensitive)",
      "get / HTTP/1.1\r\nHost: h\r\n\r\n",
      501,
      "method_not_supported",
    ],
    [
      "a lower-case head (not served as HEAD)",
      "head / HTTP/1.1\r\nHost: h\r\n\r\n",
      501,
      "method_not_supported",
    ],
    [
      "a method the server does not know (Bun's Request would turn it into GET)",
      "FOO / HTTP/1.1\r\nHost: h\r\n\r\n",
      501,
      "method_not_supported",
    ],
    [
      "a mixed-case Head",
      "Head / HTTP/1.1\r\nHost: h\r\n\r\n",
      501,
      "method_not_supported",
    ],
  ];
  for (const [what, input, status, code] of cases) {
    it(`answers ${what} with ${status} JSON, default headers and close, without reading further`, async () => {
      let calls = 0;
      const conn = serve(() => (calls++, text("x")), { ...DEFAULTS, limits });
      conn.push(input + get("/after"));
      await until(() => conn.closed);
      const responses = readResponses(conn.text());
      assert.equal(responses.length, 1);
      const [res] = responses;
      assert.equal(res.status, status);
      assert.deepEqual(JSON.parse(res.body).error, code);
      assert.equal(res.get("connection"), "close");
      assert.equal(res.get("content-security-policy"), "default-src 'none'");
      assert.equal(calls, 0);
    });
  }

  it("refuses a malformed request after a good one, answering the good one first", async () => {
    const conn = serve(() => text("ok"));
    conn.push(get("/good") + "BAD\r\n\r\n");
    await until(() => conn.closed);
    assert.deepEqual(readResponses(conn.text()).map((r) => r.status), [200, 400]);
  });
});

describe("serveHttp timeouts", () => {
  const limits = { headTimeoutMs: 40, keepAliveTimeoutMs: 30, bodyTimeoutMs: 40 };

  it("answers 408 and closes when a started head does not complete in time", async () => {
    const conn = serve(() => text("x"), { limits });
    conn.push("GET / HTTP/1.1\r\nHo");
    await until(() => conn.closed);
    const [res] = readResponses(conn.text());
    assert.deepEqual([res.status, JSON.parse(res.body).error], [408, "head_timeout"]);
  });

  it("closes silently a connection that never sends anything", async () => {
    const conn = serve(() => text("x"), { limits });
    await until(() => conn.closed);
    assert.equal(conn.writes.length, 0);
  });

  it("closes an idle keep-alive connection silently after the keep-alive timeout", async () => {
    const conn = serve(() => text("x"), { limits });
    conn.push(get("/"));
    await until(() => readResponses(conn.text()).length === 1);
    const written = conn.text();
    await until(() => conn.closed);
    assert.equal(conn.text(), written);
  });

  it("answers 408 when body bytes stop arriving", async () => {
    const conn = serve(() => text("x"), { limits });
    conn.push("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    await delay(20);
    conn.push("de");
    assert.equal(conn.closed, false);
    await until(() => conn.closed);
    assert.equal(JSON.parse(readResponses(conn.text())[0].body).error, "body_timeout");
  });
});
