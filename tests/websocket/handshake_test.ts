import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { acceptKey, validateHandshake } from "../../src/websocket/handshake.ts";
import type { HandshakeOptions } from "../../src/websocket/handshake.ts";

const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** The RFC 6455 §1.3 sample request, with `changes` applied (null removes a header). */
function request(changes: Record<string, string | null> = {}): Headers {
  const headers = new Headers({
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": SAMPLE_KEY,
    "Sec-WebSocket-Version": "13",
  });
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return headers;
}

const NONE: HandshakeOptions = { protocols: [] };

function refusal(method: string, headers: Headers, options = NONE) {
  const result = validateHandshake(method, headers, options);
  assert.equal(result.ok, false);
  return result as Extract<typeof result, { ok: false }>;
}

function accepted(headers: Headers, options = NONE) {
  const result = validateHandshake("GET", headers, options);
  assert.equal(result.ok, true, result.ok ? "" : result.reason);
  return result as Extract<typeof result, { ok: true }>;
}

describe("handshake §4.2.2 accept key", () => {
  it("acceptKey turns the RFC sample key into the RFC sample accept value", () => {
    assert.equal(acceptKey(SAMPLE_KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("validateHandshake answers the RFC sample request with the 101 headers", () => {
    const result = accepted(request());
    assert.equal(result.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(result.protocol, null);
    assert.deepEqual(result.headers, [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
    ]);
  });
});

describe("handshake §4.2.1 request validation", () => {
  it("validateHandshake refuses a method other than GET with 400", () => {
    assert.equal(refusal("POST", request()).status, 400);
  });

  const missing: [string, Record<string, string | null>][] = [
    ["a missing Host", { Host: null }],
    ["an empty Host", { Host: "" }],
    ["a missing Upgrade", { Upgrade: null }],
    ["an Upgrade without websocket", { Upgrade: "h2c" }],
    ["a missing Connection", { Connection: null }],
    ["a Connection without upgrade", { Connection: "keep-alive" }],
    ["a missing Sec-WebSocket-Key", { "Sec-WebSocket-Key": null }],
  ];
  for (const [name, changes] of missing) {
    it(`validateHandshake refuses ${name} with 400 and a reason`, () => {
      const result = refusal("GET", request(changes));
      assert.equal(result.status, 400);
      assert.ok(result.reason.length > 0);
      assert.deepEqual(result.headers, []);
    });
  }

  it("validateHandshake refuses a missing or wrong version with 426 and Sec-WebSocket-Version: 13", () => {
    for (const version of [null, "8", "14", "13, 8", ""]) {
      const result = refusal("GET", request({ "Sec-WebSocket-Version": version }));
      assert.equal(result.status, 426, `version ${version}`);
      assert.deepEqual(result.headers, [["Sec-WebSocket-Version", "13"]]);
    }
  });

  it("validateHandshake refuses keys that are not base64 of exactly 16 bytes", () => {
    const bad = [
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25j", // 15 bytes
      "dGhlIHNhbXBsZSBub25jZQ==dGhl", // longer
      "dGhlIHNhbXBsZSBub25jZXM=", // 17 bytes
      "dGhlIHNhbXBsZSBub25jZ-==", // URL-safe alphabet
      "dGhlIHNhbXBsZSBub2 5jZQ=", // space inside
    ];
    for (const key of bad) {
      assert.equal(refusal("GET", request({ "Sec-WebSocket-Key": key })).status, 400, key);
    }
  });

  it("validateHandshake accepts Upgrade and Connection tokens in any case and inside lists", () => {
    accepted(request({ Upgrade: "WebSocket", Connection: "keep-alive, Upgrade" }));
    accepted(request({ Upgrade: "foo/2, websocket", Connection: "UPGRADE" }));
  });

  it("validateHandshake validates headers with 10,000 commas in well under 100 ms", () => {
    const commas = ",".repeat(10000);
    const started = performance.now();
    accepted(request({
      Connection: `${commas}keep-alive${commas}, Upgrade`,
      Upgrade: `${commas}websocket`,
      "Sec-WebSocket-Protocol": `${commas}a${commas}`,
      "Sec-WebSocket-Extensions": `${commas}x;${";".repeat(10000)}`,
    }));
    refusal("GET", request({ Connection: commas, Upgrade: commas }));
    assert.ok(performance.now() - started < 100, `took ${performance.now() - started} ms`);
  });

  it("validateHandshake treats __proto__ and constructor tokens as ordinary strings", () => {
    const result = accepted(
      request({ Connection: "__proto__, Upgrade", "Sec-WebSocket-Protocol": "__proto__, constructor" }),
      { protocols: ["relay.v1"] },
    );
    assert.equal(result.protocol, null);
    assert.deepEqual(result.offeredProtocols, ["__proto__", "constructor"]);
    assert.equal(refusal("GET", request({ Connection: "__proto__", Upgrade: "constructor" })).status, 400);
  });

  it("validateHandshake ignores extension offers", () => {
    const result = accepted(
      request({ "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" }),
    );
    assert.ok(result.headers.every(([name]) => name !== "Sec-WebSocket-Extensions"));
  });
});

describe("handshake subprotocol selection", () => {
  const options = { protocols: ["relay.v1", "chat"] };

  it("validateHandshake selects the client's first offered protocol that the server supports", () => {
    const result = accepted(request({ "Sec-WebSocket-Protocol": "mqtt, chat, relay.v1" }), options);
    assert.equal(result.protocol, "chat");
    assert.deepEqual(result.headers.at(-1), ["Sec-WebSocket-Protocol", "chat"]);
  });

  it("validateHandshake compares subprotocol names case-sensitively", () => {
    assert.equal(accepted(request({ "Sec-WebSocket-Protocol": "Relay.V1" }), options).protocol, null);
  });

  it("validateHandshake leaves the protocol null when nothing matches, unless a known one is required", () => {
    const result = accepted(request({ "Sec-WebSocket-Protocol": "mqtt" }), options);
    assert.equal(result.protocol, null);
    assert.ok(result.headers.every(([name]) => name !== "Sec-WebSocket-Protocol"));
    const strict = { ...options, requireKnownProtocol: true };
    const refused = refusal("GET", request({ "Sec-WebSocket-Protocol": "mqtt" }), strict);
    assert.equal(refused.status, 400);
    assert.match(refused.reason, /supported: relay\.v1, chat/);
  });

  it("validateHandshake with requireKnownProtocol serves a client that offers no subprotocol, without one", () => {
    const result = accepted(request(), { ...options, requireKnownProtocol: true });
    assert.equal(result.protocol, null);
    assert.ok(result.headers.every(([name]) => name !== "Sec-WebSocket-Protocol"));
  });
});

describe("handshake RFC 7692 permessage-deflate", () => {
  const deflate = { thresholdBytes: 1024, level: 1 };
  const extensionsHeader = (headers: [string, string][]) =>
    headers.find(([name]) => name === "Sec-WebSocket-Extensions")?.[1];

  it("answers an acceptable offer with Sec-WebSocket-Extensions when deflate is on", () => {
    const result = accepted(
      request({ "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" }),
      {
        ...NONE,
        deflate,
      },
    );
    assert.equal(
      extensionsHeader(result.headers),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    assert.equal(result.deflate?.response, extensionsHeader(result.headers));
  });

  it("ignores every offer when deflate is off", () => {
    const result = accepted(request({ "Sec-WebSocket-Extensions": "permessage-deflate" }));
    assert.equal(result.deflate, null);
    assert.equal(extensionsHeader(result.headers), undefined);
  });

  it("declines a bad offer without failing the handshake", () => {
    const result = accepted(
      request({ "Sec-WebSocket-Extensions": "permessage-deflate; server_max_window_bits=99" }),
      {
        ...NONE,
        deflate,
      },
    );
    assert.equal(result.deflate, null);
    assert.equal(extensionsHeader(result.headers), undefined);
  });
});
