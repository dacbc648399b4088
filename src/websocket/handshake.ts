/**
 * The server side of the opening handshake (RFC 6455 §4.2): validate the client's request and build the
 * 101 response headers. No I/O: the HTTP layer reads the request and writes what this returns.
 * @module
 */
import { createHash } from "node:crypto";
import { WEBSOCKET_GUID, WEBSOCKET_VERSION } from "./constants.ts";
import { type DeflateAgreement, type DeflateOptions, negotiateDeflate } from "./permessage_deflate.ts";
import { parseTokenList } from "./tokens.ts";

/** What the server accepts. */
export interface HandshakeOptions {
  /** Subprotocols the server speaks, in no particular order; the client's order decides (§4.2.2). */
  protocols: readonly string[];
  /**
   * Refuse (400) when the client offers subprotocols and none of them is in `protocols`: such a client expects
   * a protocol we do not speak and would misread our messages. A client that offers none is served without
   * one (§4.2.2 allows answering without `Sec-WebSocket-Protocol`).
   * @default false
   */
  requireKnownProtocol?: boolean;
  /**
   * Offer permessage-deflate (RFC 7692) with these settings; null or absent: extension offers are ignored.
   * @default null
   */
  deflate?: DeflateOptions | null;
}

/** A valid upgrade request: send `101 Switching Protocols` with `headers`. */
export interface HandshakeAccepted {
  ok: true;
  /** The `Sec-WebSocket-Accept` value. */
  accept: string;
  /** The selected subprotocol, or null when none of the offered ones is supported. */
  protocol: string | null;
  /** Subprotocols the client offered, in its order. */
  offeredProtocols: string[];
  /** The permessage-deflate agreement, or null when it is off or no offer was acceptable. */
  deflate: DeflateAgreement | null;
  /** The 101 response headers. */
  headers: [string, string][];
}

/** An invalid upgrade request: answer with `status`, `headers`, and stop (§4.2.1). */
export interface HandshakeRefused {
  ok: false;
  /** 426 for a missing or unsupported version (with `Sec-WebSocket-Version: 13`, §4.4), else 400. */
  status: 400 | 426;
  headers: [string, string][];
  /** Short, stable explanation for the response body and logs. */
  reason: string;
}

/** The outcome of {@link validateHandshake}. */
export type HandshakeResult = HandshakeAccepted | HandshakeRefused;

function refuse(reason: string): HandshakeRefused {
  return { ok: false, status: 400, headers: [], reason };
}

/** True for one character of the base64 alphabet (RFC 4648 §4; not the URL-safe variant). */
function isBase64Char(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b ||
    c === 0x2f;
}

/** §4.1: the key is base64 of 16 bytes, so exactly 22 alphabet characters followed by `==`. */
function isValidKey(key: string): boolean {
  if (key.length !== 24 || !key.endsWith("==")) return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * The `Sec-WebSocket-Accept` value for a client key (RFC 6455 §4.2.2 item 5.4): base64 of the SHA-1 of the key
 * followed by {@link WEBSOCKET_GUID}.
 * @example
 * ```ts
 * acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); // "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 */
export function acceptKey(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/**
 * Checks an upgrade request against RFC 6455 §4.2.1 and selects a subprotocol and, when enabled,
 * permessage-deflate (any other extension offer is ignored).
 * @param method the request method
 * @param headers the request headers (repeated fields joined by commas, as `Headers` does)
 * @example
 * ```ts
 * const result = validateHandshake(request.method, request.headers, { protocols: ["relay.v1"] });
 * if (!result.ok) return new Response(result.reason, { status: result.status, headers: result.headers });
 * ```
 */
export function validateHandshake(
  method: string,
  headers: Headers,
  options: HandshakeOptions,
): HandshakeResult {
  if (method !== "GET") return refuse("WebSocket upgrade requires GET");
  if ((headers.get("host") ?? "").trim() === "") return refuse("missing Host header");
  if (!parseTokenList(headers.get("upgrade"), true).includes("websocket")) {
    return refuse("Upgrade header must include websocket");
  }
  if (!parseTokenList(headers.get("connection"), true).includes("upgrade")) {
    return refuse("Connection header must include Upgrade");
  }
  // §4.2.2 / §4.4: an unsupported version gets 426 and the versions we speak.
  if (headers.get("sec-websocket-version")?.trim() !== WEBSOCKET_VERSION) {
    return {
      ok: false,
      status: 426,
      headers: [["Sec-WebSocket-Version", WEBSOCKET_VERSION]],
      reason: `Sec-WebSocket-Version must be ${WEBSOCKET_VERSION}`,
    };
  }
  const key = headers.get("sec-websocket-key")?.trim() ?? "";
  if (!isValidKey(key)) return refuse("Sec-WebSocket-Key must be base64 of 16 bytes");

  // §4.2.2 item 5.4: the first offered subprotocol the server supports (names compare case-sensitively).
  const offeredProtocols = parseTokenList(headers.get("sec-websocket-protocol"));
  const protocol = offeredProtocols.find((name) => options.protocols.includes(name)) ?? null;
  if (protocol === null && offeredProtocols.length > 0 && options.requireKnownProtocol) {
    return refuse(
      `none of the offered subprotocols is supported (supported: ${options.protocols.join(", ")})`,
    );
  }

  const accept = acceptKey(key);
  const responseHeaders: [string, string][] = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", accept],
  ];
  if (protocol !== null) responseHeaders.push(["Sec-WebSocket-Protocol", protocol]);
  // An unacceptable offer is declined by not answering it (RFC 7692 §5.1), never by refusing the handshake.
  const deflate = options.deflate
    ? negotiateDeflate(headers.get("sec-websocket-extensions"), options.deflate)
    : null;
  if (deflate !== null) responseHeaders.push(["Sec-WebSocket-Extensions", deflate.response]);
  return { ok: true, accept, protocol, offeredProtocols, deflate, headers: responseHeaders };
}
