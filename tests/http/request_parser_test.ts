import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/errors.ts";
import { type HttpLimits, resolveLimits } from "../../src/http/limits.ts";
import { PARSE, RequestParser } from "../../src/http/request_parser.ts";
import type { RequestHead } from "../../src/http/request_head.ts";
import { bytes, latin1, type Split, split, SPLITS } from "./support.ts";

interface Parsed {
  messages: { head: RequestHead; body: string | null; headEnd: number }[];
  error: HttpError | null;
  parser: RequestParser;
}

function parse(input: string, how: Split, limits?: Partial<HttpLimits>): Parsed {
  const parser = new RequestParser(resolveLimits(limits));
  const messages: Parsed["messages"] = [];
  let head: RequestHead | null = null;
  let headEnd = -1;
  try {
    for (const part of split(bytes(input), how)) {
      parser.feed(part);
      for (;;) {
        const event = parser.next();
        if (event === PARSE.NeedMore) break;
        if (event === PARSE.Head) {
          head = parser.head;
          headEnd = parser.offset;
        } else {
          messages.push({ head: head!, body: parser.body === null ? null : latin1(parser.body), headEnd });
        }
      }
    }
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { messages, error, parser };
  }
  return { messages, error: null, parser };
}

/** Parses `input` under every split and checks all of them agree; returns the whole-input result. */
function parseEverySplit(input: string, limits?: Partial<HttpLimits>): Parsed {
  const results = SPLITS.map((how) => parse(input, how, limits));
  const summary = (r: Parsed) =>
    JSON.stringify({ m: r.messages, e: r.error && [r.error.status, r.error.code] });
  for (let i = 1; i < results.length; i++) {
    assert.equal(summary(results[i]), summary(results[0]), `split ${SPLITS[i]} differs from whole input`);
  }
  return results[0];
}

function expectOne(input: string, limits?: Partial<HttpLimits>) {
  const result = parseEverySplit(input, limits);
  assert.equal(result.error, null, `unexpected ${result.error?.code}`);
  assert.equal(result.messages.length, 1);
  return result.messages[0];
}

function expectError(input: string, status: number, code: string, limits?: Partial<HttpLimits>): void {
  const result = parseEverySplit(input, limits);
  assert.ok(result.error, `expected ${status} ${code}, parsed fine`);
  assert.deepEqual([result.error.status, result.error.code], [status, code]);
}

const GET = "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\n";

describe("RequestParser valid input", () => {
  it("parses a GET head into method, target, version, lowercased headers and no body", () => {
    const { head, body, headEnd } = expectOne(`${GET}User-Agent: t/1\r\nAccept: */*\r\n\r\n`);
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/path?q=1");
    assert.equal(head.path, "/path?q=1");
    assert.equal(head.minorVersion, 1);
    assert.equal(head.host, "example.com");
    assert.deepEqual(head.headers, [["host", "example.com"], ["user-agent", "t/1"], ["accept", "*/*"]]);
    assert.equal(head.keepAlive, true);
    assert.equal(body, null);
    assert.equal(headEnd, `${GET}User-Agent: t/1\r\nAccept: */*\r\n\r\n`.length);
  });

  it("ignores empty lines before the request line (RFC 9112 §2.2)", () => {
    const { head } = expectOne(`\r\n\r\n${GET}\r\n`);
    assert.equal(head.method, "GET");
  });

  it("trims optional whitespace around values and keeps tabs and obs-text inside them", () => {
    const { head } = expectOne(`${GET}X-A: \t a\tb \t\r\nX-B: caf\xe9 \x80\xff\r\n\r\n`);
    assert.deepEqual(head.headers.slice(1), [["x-a", "a\tb"], ["x-b", "caf\xe9 \x80\xff"]]);
  });

  it("keeps a header named __proto__ as plain data", () => {
    const { head } = expectOne(`${GET}__proto__: x\r\nconstructor: y\r\n\r\n`);
    assert.deepEqual(head.headers.slice(1), [["__proto__", "x"], ["constructor", "y"]]);
    assert.equal(Object.getPrototypeOf(head.headers), Array.prototype);
  });

  it("reads a Content-Length body", () => {
    const { head, body } = expectOne("POST /m HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
    assert.equal(head.contentLength, 11);
    assert.equal(body, "hello world");
  });

  it("accepts repeated identical Content-Length values", () => {
    const { body } = expectOne(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert.equal(body, "abc");
  });

  it("decodes a chunked body with chunk extensions, dropping trailers", () => {
    const input = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n" +
      '5;name=value\r\nhello\r\n1 ; x="y"\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n';
    const { head, body } = expectOne(input);
    assert.equal(head.chunked, true);
    assert.equal(body, "hello 0123456789");
    assert.equal(head.headers.some(([name]) => name === "x-trailer"), false);
  });

  it("accepts chunk extensions of the RFC 9112 §7.1.1 grammar, BWS around ';' and '=' included", () => {
    const valid = [
      "5;a=b",
      '5;a="q\\"x"',
      '5;a=""',
      '5;a="\xff\t "',
      "5;a;b=c;d",
      "5 ;a",
      "5\t;a",
      "5 ; a = b",
      '5;a = "b c" ;d',
    ];
    for (const line of valid) {
      const input = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
        `${line}\r\nhello\r\n0\r\n\r\n`;
      const { body } = expectOne(input);
      assert.equal(body, "hello", JSON.stringify(line));
    }
  });

  it("parses pipelined requests in order and reports where each head ended", () => {
    const a = `GET /a HTTP/1.1\r\nHost: h\r\n\r\n`;
    const b = `POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi`;
    const c = `GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`;
    const result = parseEverySplit(a + b + c);
    assert.deepEqual(result.messages.map((m) => [m.head.path, m.body, m.headEnd, m.head.keepAlive]), [
      ["/a", null, a.length, true],
      ["/b", "hi", a.length + b.length - 2, true],
      ["/c", null, a.length + b.length + c.length, false],
    ]);
  });

  it("keeps bytes after a head buffered for an upgrade handler", () => {
    const head = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    const parser = new RequestParser(resolveLimits());
    parser.feed(bytes(head + "\x81\x85abcd"));
    assert.equal(parser.next(), PARSE.Head);
    assert.equal(parser.head!.upgrade, true);
    assert.equal(parser.offset, head.length);
    assert.equal(latin1(parser.takeBuffered()), "\x81\x85abcd");
    assert.equal(parser.buffered, 0);
  });

  it("applies HTTP/1.0 and HTTP/1.1 keep-alive rules with case-insensitive Connection token lists", () => {
    const keepAlive = (version: string, connection: string | null) =>
      expectOne(
        `GET / ${version}\r\nHost: a\r\n${connection === null ? "" : `Connection: ${connection}\r\n`}\r\n`,
      )
        .head.keepAlive;
    assert.equal(keepAlive("HTTP/1.1", null), true);
    assert.equal(keepAlive("HTTP/1.1", "foo, CLOSE"), false);
    assert.equal(keepAlive("HTTP/1.1", "closed"), true);
    assert.equal(keepAlive("HTTP/1.0", null), false);
    assert.equal(keepAlive("HTTP/1.0", " Keep-Alive "), true);
    assert.equal(keepAlive("HTTP/1.0", "keep-alive, close"), false);
  });

  it("accepts HTTP/1.0 without Host", () => {
    assert.equal(expectOne("GET / HTTP/1.0\r\n\r\n").head.host, null);
  });

  it("takes only path and query from an absolute-form target and keeps //host paths as paths", () => {
    assert.equal(expectOne("GET http://evil.example/x?y HTTP/1.1\r\nHost: a\r\n\r\n").head.path, "/x?y");
    assert.equal(expectOne("GET HTTPS://evil.example?y HTTP/1.1\r\nHost: a\r\n\r\n").head.path, "/?y");
    assert.equal(expectOne("GET http://evil.example HTTP/1.1\r\nHost: a\r\n\r\n").head.path, "/");
    assert.equal(expectOne("GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n").head.path, "//evil.example/x");
    assert.equal(expectOne("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").head.path, "*");
  });

  it("flags Expect: 100-continue on a request with a body, and Upgrade", () => {
    const head =
      expectOne("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx").head;
    assert.equal(head.expectContinue, true);
    assert.equal(head.upgrade, false);
  });

  it("accepts IPv6 and port forms of Host, and GET with Content-Length: 0", () => {
    assert.equal(expectOne("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").head.host, "[::1]:8080");
    assert.equal(
      expectOne("GET / HTTP/1.1\r\nHost: a.b-c_d:1\r\nContent-Length: 0\r\n\r\n").head.contentLength,
      0,
    );
  });

  it("scans a large head fed byte by byte in linear time", () => {
    const headers = Array.from({ length: 90 }, (_, i) => `X-H${i}: ${"v".repeat(150)}\r\n`).join("");
    const input = `${GET}${headers}\r\n`;
    const started = performance.now();
    const result = parse(input, "bytes");
    assert.equal(result.messages[0].head.headers.length, 91);
    assert.ok(performance.now() - started < 2000);
  });
});

describe("RequestParser bad input", () => {
  const cases: [string, string, number, string, Partial<HttpLimits>?][] = [
    ["bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare_lf"],
    ["bare LF ending a header", `${GET}X: y\n\r\n`, 400, "bare_lf"],
    ["bare LF ending the head", `${GET}\n`, 400, "bare_lf"],
    ["obs-fold", `${GET}X: a\r\n b\r\n\r\n`, 400, "obs_fold"],
    ["whitespace before the colon", `${GET}X-A : b\r\n\r\n`, 400, "whitespace_before_colon"],
    ["an empty header name", `${GET}: b\r\n\r\n`, 400, "empty_header_name"],
    ["a non-token header name", `${GET}X(a): b\r\n\r\n`, 400, "invalid_header_name"],
    ["a header line without colon", `${GET}Xab\r\n\r\n`, 400, "invalid_header_line"],
    ["NUL in a value", `${GET}X: a\x00b\r\n\r\n`, 400, "invalid_header_value"],
    ["a control byte in a value", `${GET}X: a\x01b\r\n\r\n`, 400, "invalid_header_value"],
    ["DEL in a value", `${GET}X: a\x7fb\r\n\r\n`, 400, "invalid_header_value"],
    ["a bare CR in a value", `${GET}X: a\rb\r\n\r\n`, 400, "invalid_header_value"],
    [
      "Content-Length with Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
      "content_length_with_transfer_encoding",
    ],
    [
      "gzip Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
      400,
      "unsupported_transfer_encoding",
    ],
    [
      "a coding list ending in chunked",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      400,
      "unsupported_transfer_encoding",
    ],
    [
      "chunked twice",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
      "unsupported_transfer_encoding",
    ],
    [
      "Transfer-Encoding in HTTP/1.0",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
      "transfer_encoding_http10",
    ],
    [
      "differing Content-Length headers",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      400,
      "conflicting_content_length",
    ],
    [
      "a differing Content-Length list",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
      400,
      "conflicting_content_length",
    ],
    [
      "a signed Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n",
      400,
      "invalid_content_length",
    ],
    [
      "a non-numeric Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\n",
      400,
      "invalid_content_length",
    ],
    [
      "an empty Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
      400,
      "invalid_content_length",
    ],
    [
      "a non-hex chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      400,
      "invalid_chunk_size",
    ],
    [
      "a missing chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
      400,
      "invalid_chunk_size",
    ],
    [
      "a signed chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
      400,
      "invalid_chunk_size",
    ],
    [
      "chunk data without CRLF",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
      400,
      "invalid_chunk",
    ],
    [
      "a control byte in a chunk extension",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "a bare LF after a chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\n",
      400,
      "bare_lf",
    ],
    ["a control byte in the target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["a fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["non-ASCII in the target", "GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["a relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["asterisk-form on GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_target"],
    ["a non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_method"],
    ["a lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "invalid_version"],
    ["a version with junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, "invalid_version"],
    ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "missing_host"],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "duplicate_host"],
    ["a Host with a path", "GET / HTTP/1.1\r\nHost: evil.example/x\r\n\r\n", 400, "invalid_host"],
    ["a Host with userinfo", "GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n", 400, "invalid_host"],
    ["an empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "invalid_host"],
    ["a Host port over 65535", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400, "invalid_host"],
    ["an unclosed IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid_host"],
    ["GET with a body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", 400, "body_not_allowed"],
    [
      "HEAD with a chunked body",
      "HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
      "body_not_allowed",
    ],
    ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version_not_supported"],
    ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "version_not_supported"],
    ["HTTP/0.9-style version 0.9", "GET / HTTP/0.9\r\n\r\n", 505, "version_not_supported"],
    [
      "an unknown expectation",
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
      417,
      "unsupported_expectation",
    ],
    [
      "a request line over the limit",
      `GET /${"a".repeat(100)} HTTP/1.1\r\nHost: a\r\n\r\n`,
      414,
      "request_line_too_long",
      { maxRequestLineBytes: 64 },
    ],
    [
      "an unterminated request line over the limit",
      `GET /${"a".repeat(100)}`,
      414,
      "request_line_too_long",
      { maxRequestLineBytes: 64 },
    ],
    ["too many headers", `${GET}${"X: y\r\n".repeat(5)}\r\n`, 431, "headers_too_large", {
      maxHeaderCount: 5,
    }],
    ["a header block over the limit", `${GET}X: ${"y".repeat(80)}\r\n\r\n`, 431, "headers_too_large", {
      maxHeaderBytes: 64,
    }],
    ["an unterminated header block over the limit", `${GET}X: ${"y".repeat(80)}`, 431, "headers_too_large", {
      maxHeaderBytes: 64,
    }],
    [
      "a declared body over the limit",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n",
      413,
      "body_too_large",
      { maxBodyBytes: 10 },
    ],
    [
      "a huge declared body",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      413,
      "body_too_large",
    ],
    [
      "chunks adding up over the limit",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n",
      413,
      "body_too_large",
      { maxBodyBytes: 10 },
    ],
    [
      "a huge chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
      413,
      "body_too_large",
    ],
    [
      "a trailer section over the header limit",
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${"y".repeat(80)}\r\n\r\n`,
      431,
      "headers_too_large",
      { maxHeaderBytes: 64 },
    ],
    [
      "an invalid trailer line",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n",
      400,
      "whitespace_before_colon",
    ],
    [
      "whitespace after the chunk size, before CRLF",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_size",
    ],
    [
      "whitespace after a chunk extension",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a \r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "an empty chunk extension",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "an unterminated quoted chunk extension value",
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a="x\r\nhello\r\n0\r\n\r\n',
      400,
      "invalid_chunk_extension",
    ],
    [
      "a non-token byte in a chunk extension value",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\xff\r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "junk in a chunk extension",
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a b c "" () <>@\r\nhello\r\n0\r\n\r\n',
      400,
      "invalid_chunk_extension",
    ],
    [
      "a chunk extension without a value after '='",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "a chunk extension name that is not a token",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a@b\r\nhello\r\n0\r\n\r\n",
      400,
      "invalid_chunk_extension",
    ],
    [
      "a control byte in a quoted chunk extension value",
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a="\x01"\r\nhello\r\n0\r\n\r\n',
      400,
      "invalid_chunk_extension",
    ],
  ];
  for (const [what, input, status, code, limits] of cases) {
    it(`refuses ${what} with ${status} ${code}, whatever the split`, () => {
      expectError(input, status, code, limits);
    });
  }

  it("keeps failing with the same error after the first one", () => {
    const parser = new RequestParser(resolveLimits());
    parser.feed(bytes("GET / HTTP/1.1\nHost: a\r\n\r\n"));
    assert.throws(() => parser.next(), (e: HttpError) => e.code === "bare_lf");
    parser.feed(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert.throws(() => parser.next(), (e: HttpError) => e.code === "bare_lf");
  });
});
