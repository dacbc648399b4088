import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { HttpServer } from "../../src/http/server.ts";
import type { Listener } from "../../src/runtime/conn.ts";
import { loadRuntime } from "../../src/runtime/mod.ts";
import { readResponses } from "./support.ts";

/** Sends raw bytes on a fresh socket and collects everything until the server closes (bounded). */
function rawExchange(port: number, request: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => received += chunk);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(request);
  });
}

/** The adapter of the runtime running these tests (Deno and Bun both have one). */
const runtime = await loadRuntime();

describe("serveHttp over a real TCP socket", () => {
  let listener: Listener | undefined;
  let server: HttpServer;
  let port = 0;

  before(() => {
    server = new HttpServer(async (req) => {
      const url = new URL(req.url);
      if (req.method === "POST") return new Response(`echo:${await req.text()}`);
      return Response.json({ path: url.pathname, host: url.host });
    }, { limits: { keepAliveTimeoutMs: 500 } });
    listener = runtime.listen({ hostname: "127.0.0.1", port: 0, onConn: (conn) => server.serve(conn) });
    port = listener.port;
  });

  after(async () => {
    listener?.close();
    await server?.shutdown();
  });

  it("answers fetch requests, GET and POST, on a keep-alive connection", async () => {
    const base = `http://127.0.0.1:${port}`;
    const first = await fetch(`${base}/hello?x=1`);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { path: "/hello", host: `127.0.0.1:${port}` });
    const posted = await fetch(`${base}/p`, { method: "POST", body: "payload" });
    assert.equal(await posted.text(), "echo:payload");
  });

  it("answers pipelined raw requests in order and closes on Connection: close", async () => {
    const text = await rawExchange(
      port,
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    const responses = readResponses(text);
    assert.deepEqual(responses.map((r) => [r.status, JSON.parse(r.body).path]), [[200, "/a"], [200, "/b"]]);
    assert.equal(responses[1].get("connection"), "close");
  });

  it("answers a malformed raw request with 400 and closes", async () => {
    const text = await rawExchange(port, "GET / HTTP/1.1\nHost: h\n\n");
    assert.ok(text.startsWith("HTTP/1.1 400 Bad Request\r\n"), text);
    assert.ok(text.includes('"error":"bare_lf"'));
  });
});
