/**
 * Attacks on the HTTP/1.1 layer and the upgrade decision: oversized and hostile heads, bytes that may not
 * appear in a head, request smuggling shapes, refused upgrades with a pipelined request behind them, and
 * targets that try to leave the route or borrow another origin.
 * @module
 */
import { requestAttack } from "./request_attack.ts";
import type { Attack, AttackContext } from "./types.ts";
import { rawRequest, upgradeLines } from "./wire.ts";

const EVIL = "http://evil.example";

/** A GET upgrade to `path` with the standard headers (some replaced or removed) plus extra lines. */
function upgrade(
  ctx: AttackContext,
  path: string,
  extra: readonly string[] = [],
  replace: Record<string, string | null> = {},
  method = "GET",
  body = "",
): Uint8Array {
  return rawRequest(`${method} ${path} HTTP/1.1`, [...upgradeLines(ctx, replace), ...extra], body);
}

/** A request for `GET /internal` pipelined behind another: it must never be answered. */
function internal(ctx: AttackContext): string {
  return `GET /internal HTTP/1.1\r\nHost: ${ctx.host}\r\n\r\n`;
}

const ws = (ctx: AttackContext) => `/ws/${ctx.channel("abuse")}`;

/** Oversized heads: the limits answer before anything is parsed further. */
const FLOODS: Attack[] = [
  requestAttack({
    id: "header-flood",
    attack: "upgrade request with 1000 extra header lines",
    expected: "431 (more than 100 header lines), connection closed",
    request: (ctx) => upgrade(ctx, ws(ctx), Array.from({ length: 1000 }, (_, i) => `X-Flood-${i}: ${i}`)),
    status: [431],
  }),
  requestAttack({
    id: "huge-header",
    attack: "upgrade request with one 100 KB header value",
    expected: "431 (header block over 16 KiB), connection closed",
    request: (ctx) => upgrade(ctx, ws(ctx), [`X-Big: ${"a".repeat(100_000)}`]),
    status: [431],
  }),
  requestAttack({
    id: "huge-request-line",
    attack: "GET with a 100 KB request target",
    expected: "414 (request line over 8 KiB), connection closed",
    request: (ctx) => rawRequest(`GET /ws/${"a".repeat(100_000)} HTTP/1.1`, [`Host: ${ctx.host}`]),
    status: [414],
  }),
];

/**
 * List headers shaped to make a backtracking parser explode. The relay's tokenizer is linear and regex-free,
 * so each is answered at once: 10k commas (empty list elements), "a," × 7000 (14 KB of tokens, under the
 * head limit, so the tokenizer really runs) and "a," × 50k (100 KB: the head limit answers first).
 */
const LIST_PAYLOADS = [
  { name: "commas", label: "10,000 commas", value: ",".repeat(10_000), over: false },
  { name: "tokens", label: '"a," × 7,000', value: "a,".repeat(7000), over: false },
  { name: "tokens-50k", label: '"a," × 50,000', value: "a,".repeat(50_000), over: true },
] as const;

const LIST_HEADERS: Attack[] = LIST_PAYLOADS.flatMap((p) => [
  requestAttack({
    id: `redos-protocol-${p.name}`,
    attack: `envelope upgrade with Sec-WebSocket-Protocol: ${p.label}`,
    expected: p.over
      ? "431 at once, connection closed"
      : p.name === "commas"
      ? "101 at once (an empty list offers nothing, so relay.v1 is served)"
      : "400 at once (only unknown subprotocols offered), connection closed",
    request: (ctx) => upgrade(ctx, "/ws", [`Sec-WebSocket-Protocol: ${p.value}`]),
    status: [p.over ? 431 : p.name === "commas" ? 101 : 400],
    closes: p.over || p.name !== "commas",
  }),
  requestAttack({
    id: `redos-connection-${p.name}`,
    attack: `upgrade with Connection: ${p.label}, Upgrade`,
    expected: p.over ? "431 at once, connection closed" : "101 at once (the upgrade token is found)",
    request: (ctx) => upgrade(ctx, ws(ctx), [], { Connection: `${p.value}Upgrade` }),
    status: [p.over ? 431 : 101],
    closes: p.over,
  }),
  requestAttack({
    id: `redos-extensions-${p.name}`,
    attack: `upgrade with Sec-WebSocket-Extensions: ${p.label}`,
    expected: p.over ? "431 at once, connection closed" : "101 at once, no extension negotiated",
    request: (ctx) => upgrade(ctx, ws(ctx), [`Sec-WebSocket-Extensions: ${p.value}`]),
    status: [p.over ? 431 : 101],
    closes: p.over,
    check: (x, checks) =>
      checks.ok(!x.heads[0].headers.has("sec-websocket-extensions"), "an extension was negotiated"),
  }),
]);

/** Object-prototype names where a naive implementation would use a plain object as a map. */
const PROTO_TOKENS = "__proto__, constructor, prototype, hasOwnProperty, toString";

const PROTO_HEADERS: Attack[] = [
  requestAttack({
    id: "proto-subprotocol",
    attack: `envelope upgrade offering Sec-WebSocket-Protocol: ${PROTO_TOKENS}, relay.v1`,
    expected: "101 selecting relay.v1",
    request: (ctx) => upgrade(ctx, "/ws", [`Sec-WebSocket-Protocol: ${PROTO_TOKENS}, relay.v1`]),
    status: [101],
    closes: false,
    check: (x, checks) =>
      checks.oneOf("selected subprotocol", x.heads[0].headers.get("sec-websocket-protocol"), ["relay.v1"]),
  }),
  requestAttack({
    id: "proto-subprotocol-only",
    attack: `envelope upgrade offering only Sec-WebSocket-Protocol: ${PROTO_TOKENS}`,
    expected: "400 (no supported subprotocol), connection closed",
    request: (ctx) => upgrade(ctx, "/ws", [`Sec-WebSocket-Protocol: ${PROTO_TOKENS}`]),
    status: [400],
  }),
  requestAttack({
    id: "proto-connection",
    attack: `upgrade with Connection: ${PROTO_TOKENS}, Upgrade`,
    expected: "101",
    request: (ctx) => upgrade(ctx, ws(ctx), [], { Connection: `${PROTO_TOKENS}, Upgrade` }),
    status: [101],
    closes: false,
  }),
  requestAttack({
    id: "proto-extensions",
    attack: 'upgrade with Sec-WebSocket-Extensions: __proto__; constructor=1, prototype; __proto__="x"',
    expected: "101, no extension negotiated",
    request: (ctx) =>
      upgrade(ctx, ws(ctx), ['Sec-WebSocket-Extensions: __proto__; constructor=1, prototype; __proto__="x"']),
    status: [101],
    closes: false,
    check: (x, checks) =>
      checks.ok(!x.heads[0].headers.has("sec-websocket-extensions"), "an extension was negotiated"),
  }),
  requestAttack({
    id: "proto-header-names",
    attack: "GET /healthz with headers named __proto__, constructor, prototype, hasOwnProperty",
    expected: "200, connection kept alive",
    request: (ctx) =>
      rawRequest("GET /healthz HTTP/1.1", [
        `Host: ${ctx.host}`,
        "__proto__: {}",
        "constructor: x",
        "prototype: y",
        "hasOwnProperty: z",
      ]),
    status: [200],
    closes: false,
  }),
];

/** Bytes a head may not carry (RFC 9110 §5.5, RFC 9112 §2.2), and obs-text, which it may. */
const HEAD_BYTES: Attack[] = [
  ...([
    ["cr-in-value", "CR inside a header value", ["X-Abuse: a\rb"]],
    ["lf-in-value", "bare LF inside a header value (a header injection)", ["X-Abuse: a\nX-Injected: 1"]],
    ["nul-in-value", "NUL inside a header value", ["X-Abuse: a\0b"]],
    ["cr-in-name", "CR inside a header name", ["X-Ab\ruse: a"]],
    ["nul-in-name", "NUL inside a header name", ["X-Ab\0use: a"]],
    ["high-bytes-in-name", "bytes 0x80-0xFF inside a header name", ["X-\x80\xc3\xa9\xff: a"]],
    ["high-bytes-in-key", "bytes 0x80-0xFF inside Sec-WebSocket-Key", [], {
      "Sec-WebSocket-Key": "\xff".repeat(24),
    }],
  ] as const).map(([id, what, extra, replace]) =>
    requestAttack({
      id,
      attack: `upgrade request with ${what}`,
      expected: "400, connection closed",
      request: (ctx) => upgrade(ctx, ws(ctx), extra, replace ?? {}),
      status: [400],
    })
  ),
  requestAttack({
    id: "high-bytes-in-value",
    attack: "GET /healthz with bytes 0x80-0xFF in a header value (obs-text)",
    expected: "200 (obs-text is allowed in values), connection kept alive",
    request: (ctx) => rawRequest("GET /healthz HTTP/1.1", [`Host: ${ctx.host}`, "X-Abuse: \x80\xc3\xa9\xff"]),
    status: [200],
    closes: false,
  }),
  requestAttack({
    id: "high-bytes-in-origin",
    attack: "upgrade whose Origin is the relay's own followed by byte 0xFF",
    expected: "403 (not exactly an allowed origin), connection closed",
    request: (ctx) => upgrade(ctx, ws(ctx), [`Origin: ${ctx.origin}\xff`]),
    status: [403],
  }),
  requestAttack({
    id: "high-bytes-in-subprotocol",
    attack: "envelope upgrade offering Sec-WebSocket-Protocol: relay.v1 followed by byte 0xFF",
    expected: "400 (not a token, no supported subprotocol), connection closed",
    request: (ctx) => upgrade(ctx, "/ws", ["Sec-WebSocket-Protocol: relay.v1\xff"]),
    status: [400],
  }),
];

/** Request smuggling shapes and upgrades that must not happen. */
const SMUGGLING: Attack[] = [
  requestAttack({
    id: "cl-te-post",
    attack: "POST with Content-Length and Transfer-Encoding, then GET /internal in the same write",
    expected: "400 only (GET /internal never answered), connection closed",
    request: (ctx) =>
      rawRequest(`POST /channels/${ctx.channel("abuse")}/messages HTTP/1.1`, [
        `Host: ${ctx.host}`,
        "Content-Type: text/plain",
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
      ], "0\r\n\r\n" + internal(ctx)),
    status: [400],
  }),
  requestAttack({
    id: "cl-te-upgrade",
    attack: "upgrade request with Content-Length and Transfer-Encoding",
    expected: "400, connection closed",
    request: (ctx) =>
      upgrade(ctx, ws(ctx), ["Content-Length: 5", "Transfer-Encoding: chunked"], {}, "GET", "0\r\n\r\n"),
    status: [400],
  }),
  requestAttack({
    id: "refused-403-then-internal",
    attack: "cross-origin upgrade (403) followed by GET /internal in the same write",
    expected: "403 only (GET /internal never answered), connection closed",
    request: (ctx) => {
      const head = upgrade(ctx, ws(ctx), [`Origin: ${EVIL}`]);
      return new Uint8Array([...head, ...new TextEncoder().encode(internal(ctx))]);
    },
    status: [403],
  }),
  requestAttack({
    id: "refused-426-then-internal",
    attack: "upgrade with Sec-WebSocket-Version: 8 (426) followed by GET /internal in the same write",
    expected: "426 with Sec-WebSocket-Version: 13 only (GET /internal never answered), connection closed",
    request: (ctx) => {
      const head = upgrade(ctx, ws(ctx), [], { "Sec-WebSocket-Version": "8" });
      return new Uint8Array([...head, ...new TextEncoder().encode(internal(ctx))]);
    },
    status: [426],
    check: (x, checks) =>
      checks.oneOf("Sec-WebSocket-Version", x.heads[0].headers.get("sec-websocket-version"), ["13"]),
  }),
  requestAttack({
    id: "post-upgrade",
    attack: "POST /ws/:channel with every upgrade header (Content-Length: 0)",
    expected: "no 101 (404: no such route), connection closed",
    request: (ctx) => upgrade(ctx, ws(ctx), ["Content-Length: 0"], {}, "POST"),
    status: [400, 404, 405],
  }),
  requestAttack({
    id: "upgrade-with-body",
    attack: "upgrade request carrying Content-Length: 5 and a body",
    expected: "400 (a GET has no body), connection closed",
    request: (ctx) => upgrade(ctx, ws(ctx), ["Content-Length: 5"], {}, "GET", "hello"),
    status: [400],
  }),
  requestAttack({
    id: "upgrade-with-chunked-body",
    attack: "upgrade request carrying a chunked body",
    expected: "400 (a GET has no body), connection closed",
    request: (ctx) =>
      upgrade(ctx, ws(ctx), ["Transfer-Encoding: chunked"], {}, "GET", "5\r\nhello\r\n0\r\n\r\n"),
    status: [400],
  }),
  requestAttack({
    id: "h2c-upgrade",
    attack: "GET /healthz with Upgrade: h2c and HTTP2-Settings",
    expected: "200 over HTTP/1.1 (h2c ignored, never 101), connection closed",
    request: (ctx) =>
      rawRequest("GET /healthz HTTP/1.1", [
        `Host: ${ctx.host}`,
        "Upgrade: h2c",
        "Connection: Upgrade, HTTP2-Settings",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
      ]),
    status: [200],
    check: (x, checks) => checks.oneOf("version", x.heads[0].version, ["HTTP/1.1"]),
  }),
  requestAttack({
    id: "h2c-on-websocket-route",
    attack: "GET /ws/:channel with Upgrade: h2c instead of websocket",
    expected: "400, connection closed",
    request: (ctx) =>
      upgrade(ctx, ws(ctx), ["HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"], {
        Upgrade: "h2c",
        Connection: "Upgrade, HTTP2-Settings",
      }),
    status: [400],
  }),
  requestAttack({
    id: "h2-prior-knowledge",
    attack: "the HTTP/2 connection preface (PRI * HTTP/2.0)",
    expected: "505 (HTTP/2 is not spoken), connection closed",
    request: () => new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    status: [400, 505],
  }),
];

/** Targets that try to leave `/ws/:channel` or to make another origin look like the relay's own. */
const TARGETS: Attack[] = [
  requestAttack({
    id: "absolute-form-evil-origin",
    attack: `upgrade to absolute-form http://evil.example/ws/:channel with Origin: ${EVIL}`,
    expected: "403 (the own origin comes from Host, never from the target), connection closed",
    request: (ctx) => upgrade(ctx, `${EVIL}${ws(ctx)}`, [`Origin: ${EVIL}`]),
    status: [403],
  }),
  requestAttack({
    id: "absolute-form-own-origin",
    attack: "upgrade to absolute-form http://evil.example/ws/:channel with the relay's own Origin",
    expected: "101 (only the target's path is used)",
    request: (ctx) => upgrade(ctx, `${EVIL}${ws(ctx)}`, [`Origin: ${ctx.origin}`]),
    status: [101],
    closes: false,
  }),
  requestAttack({
    id: "double-slash-target",
    attack: "upgrade to //evil.example/ws",
    expected: "404 (a path, not a host), connection closed",
    request: (ctx) => upgrade(ctx, "//evil.example/ws", [`Origin: ${EVIL}`]),
    status: [403, 404],
  }),
  requestAttack({
    id: "backslash-target",
    attack: "upgrade to /ws\\..\\x",
    expected: "404 (normalized like a browser would, to /x), connection closed",
    request: (ctx) => upgrade(ctx, "/ws\\..\\x"),
    status: [400, 404],
  }),
  requestAttack({
    id: "host-rebinding",
    attack: "upgrade with Host: evil.example and Origin: http://evil.example (DNS rebinding)",
    expected: "101 by contract when --allowed-origins is empty: the own origin follows Host (see docs)",
    request: (ctx) =>
      upgrade(ctx, ws(ctx), [`Origin: ${EVIL}:${ctx.target.port}`], {
        Host: `evil.example:${ctx.target.port}`,
      }),
    status: [101],
    closes: false,
  }),
];

/** Every HTTP-level attack, in run order. */
export const HTTP_ATTACKS: readonly Attack[] = [
  ...FLOODS,
  ...LIST_HEADERS,
  ...PROTO_HEADERS,
  ...HEAD_BYTES,
  ...SMUGGLING,
  ...TARGETS,
];
