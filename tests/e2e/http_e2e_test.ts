/**
 * Black-box tests of the relay's own HTTP/1.1 server: the real relay as a subprocess, talked to only by
 * independent clients (`fetch`, `curl`, raw `node:net` sockets for bytes no client library would send).
 * Limits, statuses and error codes follow docs/http.md (RFC 9110, RFC 9112).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { curl, exchange, parseResponses, RawClient, sleep, type WireResponse } from "./http_support.ts";

/** The CSP every API response carries (README, "The protocol"). */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";
/** The server's default head timeout (`HTTP_LIMITS.headTimeoutMs`); no flag shortens it. */
const HEAD_TIMEOUT_MS = 10_000;
/** The server's default keep-alive idle timeout (`HTTP_LIMITS.keepAliveTimeoutMs`). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

type HeaderGetter = (name: string) => string | null | undefined;

/** The secure headers of every response over plain HTTP, and a current `date`. */
function assertSecureHeaders(get: HeaderGetter, what: string): void {
  assert.equal(get("content-security-policy"), API_CSP, `${what}: CSP`);
  assert.equal(get("x-content-type-options"), "nosniff", `${what}: x-content-type-options`);
  assert.match(get("x-frame-options") ?? "", /^(DENY|SAMEORIGIN)$/i, `${what}: x-frame-options`);
  assert.ok(get("referrer-policy"), `${what}: referrer-policy`);
  assert.equal(get("strict-transport-security") ?? null, null, `${what}: no HSTS over plain HTTP`);
  const date = Date.parse(get("date") ?? "");
  assert.ok(Math.abs(date - Date.now()) < 60_000, `${what}: date header ${get("date")}`);
}

/** A request head with CRLF line ends; `lines` are header lines after the request line. */
function head(requestLine: string, ...lines: string[]): string {
  return [requestLine, ...lines, "", ""].join("\r\n");
}

/** A fresh connection gets 200 from /healthz: the server still serves others. */
async function assertStillServing(port: number): Promise<void> {
  const { responses, closed } = await exchange(
    port,
    head("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "Connection: close"),
  );
  assert.equal(responses[0]?.status, 200, "a new connection is still answered");
  assert.equal(responses[0].body, '{"status":"ok"}');
  assert.ok(closed);
}

/**
 * Sends `request` on its own connection; expects exactly one response with `status`, `connection: close`,
 * a JSON error body and the secure headers, then the server closing the connection.
 */
async function assertRefused(port: number, request: string, status: number): Promise<WireResponse> {
  const { text, responses, closed } = await exchange(port, request);
  assert.equal(responses.length, 1, `one response, got ${JSON.stringify(text.slice(0, 500))}`);
  const response = responses[0];
  assert.equal(response.status, status, `status; body ${response.body}`);
  assert.equal(response.get("connection")?.toLowerCase(), "close");
  assert.equal(typeof JSON.parse(response.body).error, "string", "JSON error body");
  assertSecureHeaders(response.get, `${status} response`);
  assert.ok(closed, "the server closes the connection");
  return response;
}

describe("the relay's HTTP/1.1 server, with independent clients", () => {
  let relay: RelayProcess;
  let port: number;
  /** Sends half a head in `before`, so the head timeout runs while the other tests do. */
  let slowClient: RawClient;
  let slowSentAt: number;
  /** Gets one answer in `before`, then stays idle: the keep-alive timeout runs while the other tests do. */
  let idleClient: RawClient;
  let idleSince: number;

  before(async () => {
    relay = await startRelay();
    port = relay.port;
    slowClient = await RawClient.connect(port);
    slowClient.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half");
    slowSentAt = Date.now();
    idleClient = await RawClient.connect(port);
    idleClient.write(head("GET /healthz HTTP/1.1", "Host: 127.0.0.1"));
    await idleClient.readResponses(1);
    idleSince = Date.now();
  });

  after(async () => {
    slowClient?.close();
    idleClient?.close();
    await relay?.stop();
  });

  describe("routes and headers", () => {
    it("GET /healthz answers 200 {status: ok} with the secure headers (fetch)", async () => {
      const response = await fetch(`${relay.url}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: "ok" });
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      assertSecureHeaders((name) => response.headers.get(name), "fetch /healthz");
    });

    it("GET /healthz answers 200 {status: ok} with the secure headers (curl)", async () => {
      const response = await curl([`${relay.url}/healthz`]);
      assert.equal(response.status, 200);
      assert.equal(response.body, '{"status":"ok"}');
      assertSecureHeaders(response.get, "curl /healthz");
    });

    it("an unknown route answers 404 JSON with the secure headers", async () => {
      const response = await fetch(`${relay.url}/no/such/route`);
      assert.equal(response.status, 404);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      assert.equal((await response.json()).error, "not_found");
      assertSecureHeaders((name) => response.headers.get(name), "fetch 404");
    });

    it("HEAD /healthz answers the GET's headers and no body", async () => {
      const client = await RawClient.connect(port);
      try {
        // A GET after the HEAD on the same connection: any stray body bytes would corrupt its status line.
        client.write(head("HEAD /healthz HTTP/1.1", "Host: 127.0.0.1"));
        client.write(head("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "Connection: close"));
        await client.readToEnd();
        const { responses, rest } = parseResponses(client.received, {
          headRequests: [true, false],
          eof: true,
        });
        assert.deepEqual(responses.map((r) => r.status), [200, 200]);
        assert.equal(rest, "", "nothing after the GET's body");
        assert.equal(responses[0].body, "");
        assert.equal(responses[1].body, '{"status":"ok"}');
        assertSecureHeaders(responses[0].get, "HEAD /healthz");
      } finally {
        client.close();
      }
    });

    // RFC 9110 §9.3.2: HEAD carries the GET's Content-Length (the HTTP layer answers HEAD as the GET it stands for).
    it("HEAD /healthz carries the content-length a GET would have", async () => {
      const { text, closed } = await exchange(
        port,
        head("HEAD /healthz HTTP/1.1", "Host: 127.0.0.1", "Connection: close"),
      );
      assert.ok(closed);
      const [response] = parseResponses(text, { headRequests: [true], eof: true }).responses;
      assert.equal(response.get("content-length"), "15");
    });
  });

  describe("connections", () => {
    it("answers three requests on one keep-alive connection, each in turn", async () => {
      const client = await RawClient.connect(port);
      try {
        const targets = ["/healthz", "/channels", "/missing-route"];
        for (const [i, target] of targets.entries()) {
          client.write(head(`GET ${target} HTTP/1.1`, "Host: 127.0.0.1"));
          const responses = await client.readResponses(i + 1);
          const response = responses[i];
          assert.equal(response.status, target === "/missing-route" ? 404 : 200, target);
          assert.notEqual(response.get("connection")?.toLowerCase(), "close");
        }
        assert.equal(client.ended, false, "the connection stays open");
      } finally {
        client.close();
      }
    });

    it("answers three pipelined requests sent in one write, in order", async () => {
      const client = await RawClient.connect(port);
      try {
        client.write(
          head("GET /pipelined-1 HTTP/1.1", "Host: 127.0.0.1") +
            head("GET /healthz HTTP/1.1", "Host: 127.0.0.1") +
            head("GET /pipelined-3 HTTP/1.1", "Host: 127.0.0.1"),
        );
        const responses = await client.readResponses(3);
        assert.deepEqual(responses.map((r) => r.status), [404, 200, 404]);
        assert.match(JSON.parse(responses[0].body).message, /\/pipelined-1$/);
        assert.equal(responses[1].body, '{"status":"ok"}');
        assert.match(JSON.parse(responses[2].body).message, /\/pipelined-3$/);
      } finally {
        client.close();
      }
    });

    it("Connection: close gets its response, then the server closes", async () => {
      const { responses, closed } = await exchange(
        port,
        head("GET /healthz HTTP/1.1", "Host: 127.0.0.1", "Connection: close"),
      );
      assert.equal(responses.length, 1);
      assert.equal(responses[0].status, 200);
      assert.equal(responses[0].get("connection")?.toLowerCase(), "close");
      assert.ok(closed, "closed after the response");
    });

    it("an HTTP/1.0 request without keep-alive is closed after its response", async () => {
      const { responses, closed } = await exchange(port, head("GET /healthz HTTP/1.0", "Host: 127.0.0.1"));
      assert.equal(responses.length, 1);
      assert.equal(responses[0].status, 200);
      assert.equal(responses[0].body, '{"status":"ok"}');
      assert.ok(closed, "closed after the response");
    });

    it("an HTTP/1.0 request with Connection: keep-alive stays open and says keep-alive", async () => {
      const client = await RawClient.connect(port);
      try {
        for (let i = 1; i <= 2; i++) {
          client.write(head("GET /healthz HTTP/1.0", "Host: 127.0.0.1", "Connection: keep-alive"));
          const responses = await client.readResponses(i);
          assert.equal(responses[i - 1].status, 200);
          assert.equal(responses[i - 1].get("connection")?.toLowerCase(), "keep-alive");
        }
        assert.equal(client.ended, false);
      } finally {
        client.close();
      }
    });

    it("a client that half-closes (FIN) after its request still gets the response", async () => {
      const client = await RawClient.connect(port);
      try {
        client.write(head("GET /healthz HTTP/1.1", "Host: 127.0.0.1"));
        client.endWrite();
        const text = await client.readToEnd();
        const { responses } = parseResponses(text, { eof: true });
        assert.equal(responses[0]?.status, 200, JSON.stringify(text));
        assert.equal(responses[0].body, '{"status":"ok"}');
      } finally {
        client.close();
      }
    });

    it("2000 pipelined requests in one write (past the 64 KiB read-ahead) are all answered in order", async () => {
      const COUNT = 2000;
      const client = await RawClient.connect(port);
      try {
        let requests = "";
        for (let i = 0; i < COUNT; i++) requests += head(`GET /deep-${i} HTTP/1.1`, "Host: 127.0.0.1");
        assert.ok(requests.length > 64 * 1024);
        client.write(requests);
        const responses = await client.readResponses(COUNT, 10_000);
        assert.equal(responses.length, COUNT);
        for (let i = 0; i < COUNT; i++) {
          assert.equal(responses[i].status, 404);
          assert.equal(JSON.parse(responses[i].body).message, `no route for GET /deep-${i}`);
        }
      } finally {
        client.close();
      }
    });
  });

  describe("request bodies", () => {
    it("reassembles a chunked upload written with pauses and publishes it as text", async () => {
      const client = await RawClient.connect(port);
      try {
        client.write(
          head(
            "POST /channels/e2e/messages HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: text/plain",
            "Transfer-Encoding: chunked",
          ),
        );
        for (const piece of ["7\r\nhello, \r\n", "8\r\nchunked \r\n", "5;ext=1\r\nworld\r\n", "0\r\n\r\n"]) {
          await sleep(50);
          client.write(piece);
        }
        const [response] = await client.readResponses(1);
        assert.equal(response.status, 200, response.body);
        const published = JSON.parse(response.body);
        assert.equal(published.channel, "e2e");
        assert.ok(Number.isInteger(published.seq) && published.seq > 0, `seq ${published.seq}`);

        const history = await (await fetch(`${relay.url}/channels/e2e/messages?since=0`)).json();
        assert.equal(history.channel, "e2e");
        const message = history.messages.find((m: { seq: number }) => m.seq === published.seq);
        assert.deepEqual(message, { seq: published.seq, text: "hello, chunked world" });
      } finally {
        client.close();
      }
    });

    it("Expect: 100-continue gets 100 Continue before the body, then the final answer", async () => {
      const client = await RawClient.connect(port);
      try {
        client.write(
          head(
            "POST /channels/e2e-continue/messages HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: text/plain",
            "Content-Length: 5",
            "Expect: 100-continue",
          ),
        );
        await client.waitFor("100 Continue", () => client.received.includes("\r\n\r\n") || undefined);
        assert.equal(client.received, "HTTP/1.1 100 Continue\r\n\r\n", "only the interim response so far");
        client.write("hello");
        const responses = await client.readResponses(1);
        assert.deepEqual(responses.map((r) => r.status), [100, 200]);
        assert.equal(JSON.parse(responses[1].body).channel, "e2e-continue");
      } finally {
        client.close();
      }
    });
  });

  describe("malformed requests get a status, connection: close, and a closed connection", () => {
    const bigHeaders = Array.from({ length: 20 }, (_, i) => `X-Big-${i}: ${"a".repeat(1000)}`);
    const manyHeaders = Array.from({ length: 101 }, (_, i) => `X-H-${i}: v`);
    const get = (...lines: string[]) => head("GET /healthz HTTP/1.1", ...lines);
    const post = (...lines: string[]) =>
      head("POST /channels/e2e/messages HTTP/1.1", "Host: 127.0.0.1", ...lines);
    /** [what, request bytes, status, error code (docs/http.md, "Error responses")]. */
    const cases: [string, string, number, string][] = [
      ["bare LF line ends", "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n", 400, "bare_lf"],
      ["obs-fold", get("Host: 127.0.0.1", "X-A: a", " folded"), 400, "obs_fold"],
      ["whitespace before a colon", get("Host: 127.0.0.1", "X-A : a"), 400, "whitespace_before_colon"],
      ["an empty header name", get("Host: 127.0.0.1", ": a"), 400, "empty_header_name"],
      ["invalid header name characters", get("Host: 127.0.0.1", "X@A: a"), 400, "invalid_header_name"],
      ["NUL in a header value", get("Host: 127.0.0.1", "X-A: a\0b"), 400, "invalid_header_value"],
      ["CR in a header value", get("Host: 127.0.0.1", "X-A: a\rb"), 400, "invalid_header_value"],
      ["0x01 in a header value", get("Host: 127.0.0.1", "X-A: a\x01b"), 400, "invalid_header_value"],
      [
        "Content-Length with Transfer-Encoding",
        post("Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n",
        400,
        "content_length_with_transfer_encoding",
      ],
      [
        "differing duplicate Content-Length",
        post("Content-Length: 5", "Content-Length: 6") + "hello!",
        400,
        "conflicting_content_length",
      ],
      ["a signed Content-Length", post("Content-Length: +5") + "hello", 400, "invalid_content_length"],
      [
        "Transfer-Encoding other than exactly chunked",
        post("Transfer-Encoding: chunked, identity") + "0\r\n\r\n",
        400,
        "unsupported_transfer_encoding",
      ],
      [
        "an invalid chunk size",
        post("Transfer-Encoding: chunked") + "zz\r\nhello\r\n0\r\n\r\n",
        400,
        "invalid_chunk_size",
      ],
      [
        "chunk data not followed by CRLF",
        post("Transfer-Encoding: chunked") + "5\r\nhelloXX0\r\n\r\n",
        400,
        "invalid_chunk",
      ],
      ["two Host headers", get("Host: 127.0.0.1", "Host: evil.example"), 400, "duplicate_host"],
      ["an invalid Host", get("Host: a b/c"), 400, "invalid_host"],
      ["HTTP/1.1 without Host", get(), 400, "missing_host"],
      [
        "two spaces in the request line",
        head("GET  /healthz HTTP/1.1", "Host: 127.0.0.1"),
        400,
        "invalid_target",
      ],
      [
        "a request line over 8 KiB",
        head(`GET /${"a".repeat(9000)} HTTP/1.1`, "Host: 127.0.0.1"),
        414,
        "request_line_too_long",
      ],
      ["more than 100 headers", get("Host: 127.0.0.1", ...manyHeaders), 431, "headers_too_large"],
      ["a header block over 16 KiB", get("Host: 127.0.0.1", ...bigHeaders), 431, "headers_too_large"],
      ["HTTP/2.0", head("GET /healthz HTTP/2.0", "Host: 127.0.0.1"), 505, "version_not_supported"],
      // docs/http.md: 505 for any well-formed version but 1.0 and 1.1; 400 for what is not HTTP-version.
      ["HTTP/1.2", head("GET /healthz HTTP/1.2", "Host: 127.0.0.1"), 505, "version_not_supported"],
      ["FOO/1.1", head("GET /healthz FOO/1.1", "Host: 127.0.0.1"), 400, "invalid_version"],
    ];
    for (const [name, request, status, code] of cases) {
      it(`${name} → ${status} ${code}, and a new connection is still served`, async () => {
        const response = await assertRefused(port, request, status);
        assert.equal(JSON.parse(response.body).error, code);
        await assertStillServing(port);
      });
    }

    it("a refused upgrade (426) is the last answer: a request pipelined after it is never answered", async () => {
      const { text, responses, closed } = await exchange(
        port,
        head(
          "GET /ws/e2e HTTP/1.1",
          "Host: 127.0.0.1",
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Key: ${WS_KEY}`,
          "Sec-WebSocket-Version: 8",
        ) + head("GET /healthz HTTP/1.1", "Host: 127.0.0.1"),
      );
      assert.ok(closed, "the server closes the connection");
      assert.equal(responses.length, 1, `exactly one response, got ${JSON.stringify(text)}`);
      assert.equal(responses[0].status, 426);
      assert.equal(responses[0].get("sec-websocket-version"), "13");
      assert.equal(responses[0].get("connection")?.toLowerCase(), "close");
      assert.equal(text.split("HTTP/1.1 ").length - 1, 1, "no second status line");
      await assertStillServing(port);
    });
  });

  describe("request targets", () => {
    it("an absolute-form target is served from its path", async () => {
      const { responses } = await exchange(
        port,
        head("GET http://evil.example/healthz HTTP/1.1", `Host: 127.0.0.1:${port}`, "Connection: close"),
      );
      assert.equal(responses[0]?.status, 200);
      assert.equal(responses[0].body, '{"status":"ok"}');
    });

    it("an absolute-form target's host never becomes the request's origin (the Host header does)", async () => {
      // The Origin check compares with the relay's own origin, built from the request URL: if the target's
      // authority leaked into the URL, an Origin naming it would be accepted.
      const upgrade = (origin: string) =>
        head(
          "GET http://evil.example/ws/e2e-origin HTTP/1.1",
          `Host: 127.0.0.1:${port}`,
          `Origin: ${origin}`,
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Key: ${WS_KEY}`,
          "Sec-WebSocket-Version: 13",
        );
      const evil = await exchange(port, upgrade("http://evil.example"));
      assert.equal(evil.responses[0]?.status, 403, `got ${JSON.stringify(evil.text.slice(0, 300))}`);
      assert.ok(evil.closed);

      const own = await RawClient.connect(port);
      try {
        own.write(upgrade(`http://127.0.0.1:${port}`));
        const [response] = await own.readResponses(1);
        assert.equal(response.status, 101, "the Host's origin is the relay's own");
      } finally {
        own.close();
      }

      const { responses } = await exchange(
        port,
        head("GET http://evil.example/nowhere HTTP/1.1", `Host: 127.0.0.1:${port}`, "Connection: close"),
      );
      assert.equal(responses[0]?.status, 404);
      assert.doesNotMatch(responses[0].body, /evil\.example/);
    });

    it("GET //evil.example/healthz is a path, not a host: 404", async () => {
      const { responses } = await exchange(
        port,
        head("GET //evil.example/healthz HTTP/1.1", `Host: 127.0.0.1:${port}`, "Connection: close"),
      );
      assert.equal(responses[0]?.status, 404);
      assert.match(JSON.parse(responses[0].body).message, /\/\/evil\.example\/healthz/);
    });
  });

  describe("load and timeouts", () => {
    it("200 concurrent keep-alive connections, 5 requests each: all 1000 answered 200", async () => {
      const CONNECTIONS = 200;
      const REQUESTS = 5;
      const clients = await Promise.all(
        Array.from({ length: CONNECTIONS }, () => RawClient.connect(port, "127.0.0.1", 5000)),
      );
      try {
        const statuses = await Promise.all(clients.map(async (client) => {
          const seen: number[] = [];
          for (let i = 0; i < REQUESTS; i++) {
            client.write(head("GET /healthz HTTP/1.1", "Host: 127.0.0.1"));
            const responses = await client.readResponses(i + 1, 10_000);
            seen.push(responses[i].status);
          }
          return seen;
        }));
        const ok = statuses.flat().filter((s) => s === 200).length;
        assert.equal(ok, CONNECTIONS * REQUESTS);
      } finally {
        for (const client of clients) client.close();
      }
    });

    it("an idle keep-alive connection is closed silently after the keep-alive timeout", async () => {
      // Answered in `before`, then left idle while the earlier tests ran.
      const left = KEEP_ALIVE_TIMEOUT_MS + 3000 - (Date.now() - idleSince);
      const text = await idleClient.readToEnd(Math.max(left, 100));
      const elapsed = idleClient.endedAt - idleSince;
      assert.ok(
        elapsed >= KEEP_ALIVE_TIMEOUT_MS - 1000,
        `closed after ${elapsed} ms, before the idle timeout`,
      );
      const { responses, rest } = parseResponses(text, { eof: true });
      assert.equal(responses.length, 1, "nothing after the one answer");
      assert.equal(rest, "");
    });

    it("a client that sends half a request head is answered 408 (or closed) after the head timeout", async () => {
      // No flag shortens the head timeout, so this waits for the default (10 s); the half head was sent in
      // `before`, and the earlier tests ran while the timer did.
      const left = HEAD_TIMEOUT_MS + 3000 - (Date.now() - slowSentAt);
      const text = await slowClient.readToEnd(Math.max(left, 100));
      const elapsed = slowClient.endedAt - slowSentAt;
      assert.ok(elapsed >= HEAD_TIMEOUT_MS - 1000, `closed after ${elapsed} ms, before the head timeout`);
      if (text !== "") {
        const { responses } = parseResponses(text, { eof: true });
        assert.equal(responses.length, 1, JSON.stringify(text));
        assert.equal(responses[0].status, 408);
        assert.equal(JSON.parse(responses[0].body).error, "head_timeout");
        assert.equal(responses[0].get("connection")?.toLowerCase(), "close");
      }
      await assertStillServing(port);
    });
  });
});

describe("the relay's HTTP/1.1 server with --max-message-bytes 1000", () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay(["--max-message-bytes", "1000"]);
  });

  after(async () => {
    await relay?.stop();
  });

  it("a 2000-byte body with Content-Length → 413, and a new connection is still served", async () => {
    const response = await assertRefused(
      relay.port,
      head(
        "POST /channels/e2e/messages HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: text/plain",
        "Content-Length: 2000",
      ) + "x".repeat(2000),
      413,
    );
    assert.equal(JSON.parse(response.body).error, "body_too_large");
    await assertStillServing(relay.port);
  });

  it("a 2000-byte chunked body → 413, and a new connection is still served", async () => {
    const response = await assertRefused(
      relay.port,
      head(
        "POST /channels/e2e/messages HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: text/plain",
        "Transfer-Encoding: chunked",
      ) + `3e8\r\n${"x".repeat(1000)}\r\n3e8\r\n${"x".repeat(1000)}\r\n0\r\n\r\n`,
      413,
    );
    assert.equal(JSON.parse(response.body).error, "body_too_large");
    await assertStillServing(relay.port);
  });

  it("a body of exactly the limit is published", async () => {
    const response = await fetch(`${relay.url}/channels/e2e/messages`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "y".repeat(1000),
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).channel, "e2e");
  });
});
