/**
 * The HTTP differential fuzzer's cases: 1–3 pipelined requests built to confuse framing (CL.TE, TE.CL, TE.TE,
 * obfuscated `Transfer-Encoding` and `Content-Length`, odd `Host`, request-line mutations, chunked-body
 * shapes), then a plain GET whose fate shows whether something was smuggled, optionally with a few random byte
 * mutations. Every request carries an id `q<N>` in its target so each parser's split can be compared.
 * Bodies go to `POST /channels/<prefix>q<N>/messages`, where the relay stores them for the harness to read.
 * @module
 */
import type { Rng } from "./rng.ts";

/** `Transfer-Encoding` values: the real one, its case and whitespace variants, lists and near-misses. */
// deno-fmt-ignore
const TE_VALUES = [
  "chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked", "chunked\t", "chunked, chunked",
  "identity, chunked", "chunked, identity", "xchunked", "chunked;q=1", '"chunked"', "chunk", "chunked\x0b",
  "\x0bchunked", "chunked\x00", "ch\xffunked", "", "gzip, chunked", "cHuNkEd", ",chunked", "chunked,",
];
/** Header names that are, or look like, `Transfer-Encoding`. */
// deno-fmt-ignore
const TE_NAMES = [
  "Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING", "Transfer-Encoding ", " Transfer-Encoding",
  "Transfer_Encoding", "Transfer-Encoding\t", "X-Transfer-Encoding", "Transfer-\xffEncoding",
];
/** `Content-Length` values: valid, list forms, signs, whitespace, other bases, overflow. */
// deno-fmt-ignore
const CL_VALUES = [
  "5", "05", "+5", "-5", "5, 5", "5,5", "5, 6", " 5", "5 ", "0x5", "5.0", "", "1e1", "5\x0b",
  "00000000000000000005", "99999999999999999999", "5,", ",5", "5 5",
];
/** Chunked bodies of "hello": extensions, trailers, bare LF, leading zeros, huge sizes, smuggled requests. */
// deno-fmt-ignore
const CHUNKED_BODIES = [
  "5\r\nhello\r\n0\r\n\r\n", "5;ext=1\r\nhello\r\n0\r\n\r\n", "0\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n",
  "005\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", '5;a="b;c"\r\nhello\r\n0\r\n\r\n',
  "5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\n\n", "5\r\nhelloXX0\r\n\r\n",
  `5;${"x".repeat(5000)}\r\nhello\r\n0\r\n\r\n`, `5\r\nhello\r\n0;${"e".repeat(100)}\r\n\r\n`,
  "0x5\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nContent-Length: 100\r\n\r\n",
  "5\r\nhello\r\n00000000000000000000000\r\n\r\n", "1;a\r\nh\r\n1;a=\r\ni\r\n0\r\n\r\n",
  "5 ; a = b\r\nhello\r\n0\r\n\r\n", "5\t;a\r\nhello\r\n0\r\n\r\n", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n",
  "5\r\nhello\r\n0\r\nbad header\r\n\r\n", "5\r\nhello\r\n0\r\n :x\r\n\r\n", "5;\r\nhello\r\n0\r\n\r\n",
  '5;a="x\r\nhello\r\n0\r\n\r\n', "5;a=\xff\r\nhello\r\n0\r\n\r\n", '5;a b c "" () <>@\r\nhello\r\n0\r\n\r\n',
  "5;a=b;c\r\nhello\r\n0\r\n\r\n", '5;a="\\"q"\r\nhello\r\n0\r\n\r\n', "5;=\r\nhello\r\n0\r\n\r\n",
];
/** `Host` header sets: duplicates, empty, ports, IPv6, characters a host cannot have. */
// deno-fmt-ignore
const HOSTS: readonly (readonly [string, string])[][] = [
  [["Host", "h"], ["Host", "h"]], [["Host", "h"], ["host", "i"]], [], [["Host", ""]], [["Host", "h:80:80"]],
  [["Host", "[::1]"]], [["Host", "[::1]:9400"]], [["Host", "h h"]], [["Host", "h@i"]], [["Host", "h/x"]],
  [["Host", "h\\x"]], [["Host", "%68"]], [["Host", "h:"]], [["Host", "h:99999"]], [[" Host", "h"]],
  [["Host ", "h"]],
];
/** Request lines; `%s` is the request's target. */
// deno-fmt-ignore
const REQUEST_LINES = [
  "GET  %s HTTP/1.1", "GET %s  HTTP/1.1", "GET\t%s HTTP/1.1", "GET %s HTTP/1.1 ", "GET %s HTTP/1.0",
  "GET %s HTTP/1.2", "GET %s HTTP/2.0", "GET %s http/1.1", "GET http://h%s HTTP/1.1", "GET http://other%s HTTP/1.1",
  "GET //h%s HTTP/1.1", "GET %s?a=b#frag HTTP/1.1", "get %s HTTP/1.1", "GET %s\x00 HTTP/1.1", "GET %s\xff HTTP/1.1",
  "GET %s HTTP/1.1\r", " GET %s HTTP/1.1", "GET %s", "GET %s HTTP/01.1", "G\xc3\x89T %s HTTP/1.1",
  'GET %s?"<>{}|\\^` HTTP/1.1', "OPTIONS * HTTP/1.1", "GET %s HTTP/1.1\r\n",
];
/** Odd header lines: folding, whitespace before the colon, control bytes, Expect, Upgrade, Connection. */
// deno-fmt-ignore
const ODD_HEADER_LINES = [
  "X: a\r\n b", "X : a", "X:\x00a", "X: a\rb", "X: a\nY: b", "X\x7f: a", ": a", "X", "X: \x80\xff", "X:a",
  "X:\ta\t", "X: a\r\n\tb", "Content-Length : 5", "Content-Length:\t5", "Connection: close",
  "Connection: keep-alive, close", "Expect: 100-continue", "Expect: 100-continue\r\nContent-Length: 5",
  "Upgrade: h2c\r\nConnection: Upgrade", "Content-Length: 5\r\nContent-Length: 5",
];
/**
 * Chunk lines (of a 5-byte chunk) around RFC 9112 §7.1.1's grammar, `chunk-size *( ";" token [ "=" ( token /
 * quoted-string ) ] )`: what it allows and what strict parsers such as llhttp refuse.
 */
// deno-fmt-ignore
const TARGETED_CHUNK_LINES = [
  "5", "5;a", "5;a=b", '5;a="b;c"', "5;a=b;c=d", "5 ", "5\t;a", "5 ; a = b", "5;", "5;=", '5;a="x',
  "5;a=\xff", '5;a b c "" () <>@', '5;a="\\"q"', "005",
];
/** Bytes a mutation inserts or writes: line ends, whitespace, separators, NUL, obs-text. */
const MUTATION_BYTES = [
  "\r",
  "\n",
  " ",
  "\t",
  "\x00",
  "\xff",
  ":",
  ",",
  "0",
  "a",
  "\r\n",
  ";",
  "\x0b",
  "\x0c",
];

/** The request kinds the generator mixes. */
const KINDS = ["get", "post_cl", "post_te", "te_cl", "cl_cl", "te_te", "host", "line", "odd_header"] as const;

/** Options of {@link HttpCaseGenerator}. */
export interface HttpCaseOptions {
  /** Channel-name prefix of POST targets, so a run's channels never collide with another run's. */
  channelPrefix: string;
  /** Share of cases that get 1–3 random byte mutations. @default 0.3 */
  mutationRate?: number;
}

/** Makes the cases of one seeded run. */
export class HttpCaseGenerator {
  #rng!: Rng;
  #next = 0;
  #prefix: string;
  #mutationRate: number;

  constructor(options: HttpCaseOptions) {
    this.#prefix = options.channelPrefix;
    this.#mutationRate = options.mutationRate ?? 0.3;
  }

  /**
   * One case drawn from `rng`: the bytes of one connection, as a latin1 string (one character per byte).
   * Ids keep counting across cases, so no two requests of a run share one.
   */
  next(rng: Rng): string {
    this.#rng = rng;
    let text = "";
    for (let n = rng.pick([1, 2, 2, 3]); n > 0; n--) text += this.#request(rng.pick(KINDS));
    text += `GET ${this.#getTarget()} HTTP/1.1\r\nHost: h\r\n\r\n`;
    return rng.chance(this.#mutationRate) ? this.#mutate(text) : text;
  }

  /**
   * The targeted cases every run starts with: one known-hard shape each (chunk-line grammar, list and
   * duplicate Content-Length, bare LF, trailers, absolute-form, HTTP/1.0 with Transfer-Encoding, bodies on
   * GET), each followed by a plain GET.
   */
  targeted(): string[] {
    const chunkedPost = (body: string) =>
      `POST ${this.#postTarget()} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
    const clPost = (lines: string, body = "hello") =>
      `POST ${this.#postTarget()} HTTP/1.1\r\nHost: h\r\n${lines}\r\n${body}`;
    const get = (line: string, lines = "Host: h\r\n") =>
      `${line.replace("%s", this.#getTarget())}\r\n${lines}\r\n`;
    const cases = [
      ...TARGETED_CHUNK_LINES.map((line) => chunkedPost(`${line}\r\nhello\r\n0\r\n\r\n`)),
      chunkedPost("5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n"),
      chunkedPost("5\r\nhello\r\n0\r\nA: b\r\n c\r\n\r\n"),
      chunkedPost("5\r\nhello\r\n0;x=y\r\n\r\n"),
      clPost("Content-Length: 5, 5\r\n"),
      clPost("Content-Length: 5\r\nContent-Length: 5\r\n"),
      clPost("Content-Length: 00000000000000000005\r\n"),
      clPost("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"),
      `POST ${this.#postTarget()} HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      "\r\n\r\n" + get("GET %s HTTP/1.1"),
      get("GET %s HTTP/1.1\nHost: h\n"),
      get("GET http://other.example%s HTTP/1.1"),
      get("GET http://u@other%s HTTP/1.1"),
      get("GET %s HTTP/1.1", "Host: h\r\nContent-Length: 0\r\n"),
      get("GET %s HTTP/1.1", "Host: h\r\nContent-Length: 5\r\n\r\nhello"),
      get('GET %s?"{}|\\^` HTTP/1.1'),
      get("FOO %s HTTP/1.1"),
    ];
    return cases.map((c) => `${c}GET ${this.#getTarget()} HTTP/1.1\r\nHost: h\r\n\r\n`);
  }

  #id(): string {
    return `q${++this.#next}`;
  }

  #getTarget(): string {
    return `/x/${this.#id()}`;
  }

  #postTarget(): string {
    return `/channels/${this.#prefix}${this.#id()}/messages`;
  }

  #request(kind: typeof KINDS[number]): string {
    const rng = this.#rng;
    const post = (fields: string, body: string) =>
      `POST ${this.#postTarget()} HTTP/1.1\r\nHost: h\r\n${fields}\r\n${body}`;
    const chunked = () => rng.pick(CHUNKED_BODIES);
    switch (kind) {
      case "get":
        return `GET ${this.#getTarget()} HTTP/1.1\r\nHost: h\r\n\r\n`;
      case "post_cl":
        return post(`Content-Length: ${rng.pick(CL_VALUES)}\r\n`, "hello");
      case "post_te":
        return post(`${rng.pick(TE_NAMES)}: ${rng.pick(TE_VALUES)}\r\n`, chunked());
      case "te_cl": {
        const fields = [
          `Transfer-Encoding: ${rng.pick(TE_VALUES)}`,
          `Content-Length: ${rng.pick(CL_VALUES)}`,
        ];
        if (rng.chance(0.5)) fields.reverse();
        return post(fields.map((f) => `${f}\r\n`).join(""), rng.chance(0.5) ? chunked() : "hello");
      }
      case "cl_cl":
        return post(
          `Content-Length: ${rng.pick(CL_VALUES)}\r\nContent-Length: ${rng.pick(CL_VALUES)}\r\n`,
          "hellohello",
        );
      case "te_te":
        return post(
          `Transfer-Encoding: ${rng.pick(TE_VALUES)}\r\n${rng.pick(TE_NAMES)}: ${rng.pick(TE_VALUES)}\r\n`,
          chunked(),
        );
      case "host": {
        const fields = rng.pick(HOSTS).map(([name, value]) => `${name}: ${value}\r\n`).join("");
        return `GET ${this.#getTarget()} HTTP/1.1\r\n${fields}\r\n`;
      }
      case "line": {
        // RFC 9112 §2.2 lets a server skip empty lines before a request line.
        const lead = "\r\n".repeat(rng.pick([0, 0, 1, 2]));
        return `${lead}${rng.pick(REQUEST_LINES).replace("%s", this.#getTarget())}\r\nHost: h\r\n\r\n`;
      }
      case "odd_header": {
        const line = rng.pick(ODD_HEADER_LINES);
        if (line.includes("Length")) return post(`${line}\r\n`, "hello");
        return `GET ${this.#getTarget()} HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`;
      }
    }
  }

  /** 1–3 random insertions, deletions or overwrites of one byte (or CRLF). */
  #mutate(text: string): string {
    const rng = this.#rng;
    for (let n = rng.int(1, 3); n > 0; n--) {
      const at = rng.int(0, text.length);
      const bytes = rng.pick(MUTATION_BYTES);
      const op = rng.next();
      if (op < 0.4) text = text.slice(0, at) + bytes + text.slice(at);
      else if (op < 0.7 && text.length > 1) text = text.slice(0, at) + text.slice(at + 1);
      else if (text.length > 0) text = text.slice(0, at) + bytes[0] + text.slice(at + 1);
    }
    return text;
  }
}

/** A latin1 string as bytes, one byte per character. */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** Bytes as a printable string for reports: JSON escapes for everything but printable ASCII. */
export function showBytes(text: string): string {
  return JSON.stringify(text).replace(/[\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}
