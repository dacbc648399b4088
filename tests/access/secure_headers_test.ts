/**
 * Every kind of response the relay's stack writes carries exactly Hono's secure headers plus the API CSP
 * (HSTS only over TLS): the relay's Hono app served by our HTTP server, as `server.ts` wires them, over an
 * in-memory connection.
 * @module
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { HttpServer } from "../../src/http/mod.ts";
import { createApp } from "../../src/app/mod.ts";
import { API_CSP, securityHeaderList } from "../../src/access/mod.ts";
import { upgradeWebSocket } from "../../src/transports/mod.ts";
import { FakeConn } from "../support/fake_conn.ts";
import { readResponses, until, type WireResponse } from "../http/support.ts";

const WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** What Hono's own middleware sets with the relay's CSP, computed here independently of `security.ts`. */
async function honoSecureHeaders(tls: boolean): Promise<[string, string][]> {
  const app = new Hono();
  app.use(secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    ...(tls ? {} : { strictTransportSecurity: false }),
  }));
  app.get("/", (c) => c.text("x"));
  const response = await app.request("/");
  return [...response.headers].filter(([name]) => name !== "content-type");
}

const open: FakeConn[] = [];
const consoleError = console.error;
beforeEach(() => {
  // The app logs the failure of the throwing route; keep the test output clean.
  console.error = () => {};
});
afterEach(() => {
  console.error = consoleError;
  for (const conn of open) conn.close();
  open.length = 0;
});

/** The relay's app with test routes (a throwing one, upgrades) behind our HTTP server, as in server.ts. */
async function relayStack(secure: boolean): Promise<(input: string, headRequests?: boolean[]) => FakeConn> {
  const app = createApp({
    ready: () => true,
    routes(app) {
      app.get("/boom", () => {
        throw new Error("boom");
      });
      app.get("/ws", (c) => upgradeWebSocket(c, {}));
      app.get("/forbidden", (c) => c.json({ error: "forbidden_origin" }, 403, { connection: "close" }));
    },
  });
  const http = new HttpServer((request, info) => app.fetch(request, info), {
    defaultHeaders: await securityHeaderList(secure),
  });
  return (input) => {
    const conn = new FakeConn();
    conn.secure = secure;
    open.push(conn);
    http.serve(conn);
    conn.push(input);
    return conn;
  };
}

function assertSecureHeaders(response: WireResponse, expected: [string, string][], what: string): void {
  for (const [name, value] of expected) {
    const lines = response.headers.filter(([n]) => n === name);
    assert.deepEqual(lines.map(([, v]) => v), [value], `${what}: ${name}`);
  }
  assert.equal(response.get("content-security-policy"), API_CSP, `${what}: CSP`);
}

const get = (path: string, ...lines: string[]) =>
  [`GET ${path} HTTP/1.1`, "Host: relay.test", ...lines, "", ""].join("\r\n");
const upgrade = (path: string, ...lines: string[]) =>
  get(path, "Upgrade: websocket", "Connection: Upgrade", ...lines);

describe("relay secure headers", () => {
  for (const tls of [false, true]) {
    const transport = tls ? "TLS" : "plain HTTP";

    it(`every response kind carries Hono's secure headers and the CSP once (${transport})`, async () => {
      const expected = await honoSecureHeaders(tls);
      assert.equal(
        expected.some(([name]) => name === "strict-transport-security"),
        tls,
        "HSTS only over TLS",
      );
      const serve = await relayStack(tls);
      const cases: [string, string, number, boolean?][] = [
        ["GET /healthz", get("/healthz"), 200],
        ["HEAD /healthz", get("/healthz").replace("GET", "HEAD"), 200, true],
        ["unknown route (notFound)", get("/nowhere"), 404],
        ["throwing route (onError)", get("/boom"), 500],
        ["handshake without a key", upgrade("/ws", "Sec-WebSocket-Version: 13"), 400],
        [
          "unsupported version",
          upgrade("/ws", `Sec-WebSocket-Key: ${WS_KEY}`, "Sec-WebSocket-Version: 8"),
          426,
        ],
        ["refused origin", upgrade("/forbidden", "Origin: http://evil.example"), 403],
        ["upgrade", upgrade("/ws", `Sec-WebSocket-Key: ${WS_KEY}`, "Sec-WebSocket-Version: 13"), 101],
        ["malformed request (HTTP layer)", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400],
      ];
      for (const [what, input, status, headRequest] of cases) {
        const conn = serve(input);
        await until(() => readResponses(conn.text(), [headRequest === true]).length === 1);
        const [response] = readResponses(conn.text(), [headRequest === true]);
        assert.equal(response.status, status, what);
        assertSecureHeaders(response, expected, what);
      }
    });
  }

  it("answers HEAD /healthz with the GET's Content-Length and content-type, without a body", async () => {
    const serve = await relayStack(false);
    const conn = serve(get("/healthz").replace("GET", "HEAD") + get("/healthz"));
    await until(() => readResponses(conn.text(), [true]).length === 2);
    const [head, full] = readResponses(conn.text(), [true]);
    assert.equal(full.body, '{"status":"ok"}');
    assert.equal(head.get("content-length"), String(full.body.length));
    assert.equal(head.get("content-type"), full.get("content-type"));
    assert.equal(head.body, "");
  });
});
