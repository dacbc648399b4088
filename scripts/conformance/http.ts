/**
 * The opening handshake from the client side (RFC 6455 §4.1): building requests, good or deliberately broken,
 * and reading the response head off a {@link RawSocket}.
 * @module
 */
import { createHash } from "node:crypto";
import type { RawSocket } from "./raw_socket.ts";

/** The GUID every server appends to the key (RFC 6455 §1.3). */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const HEAD_END = new TextEncoder().encode("\r\n\r\n");
/** A response head larger than this is not one the suite expects from a relay. */
const MAX_HEAD_BYTES = 16 * 1024;

/** A parsed response head. Header names are lower-case; repeated headers are joined with ", ". */
export interface ResponseHead {
  version: string;
  status: number;
  headers: Map<string, string>;
}

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2 step 5.4). */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (RFC 6455 §4.1). */
export function randomKey(): string {
  return crypto.getRandomValues(new Uint8Array(16)).toBase64();
}

/** Parts of a handshake request; a header set to `null` is left out. */
export interface RequestParts {
  method?: string;
  path: string;
  httpVersion?: string;
  headers: Record<string, string | null>;
}

/** The headers of a valid upgrade request for `host` with `key`. */
export function upgradeHeaders(host: string, key: string): Record<string, string> {
  return {
    "Host": host,
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": key,
    "Sec-WebSocket-Version": "13",
  };
}

/** Serializes a request head. */
export function encodeRequest(parts: RequestParts): Uint8Array {
  let text = `${parts.method ?? "GET"} ${parts.path} ${parts.httpVersion ?? "HTTP/1.1"}\r\n`;
  for (const [name, value] of Object.entries(parts.headers)) {
    if (value !== null) text += `${name}: ${value}\r\n`;
  }
  return new TextEncoder().encode(text + "\r\n");
}

/**
 * Reads the response head; bytes after it stay queued (the first frames may arrive in the same segment).
 * Returns a string describing the problem when no head arrives before `deadline`.
 */
export async function readResponseHead(socket: RawSocket, deadline: number): Promise<ResponseHead | string> {
  for (;;) {
    const end = socket.queue.indexOf(HEAD_END, MAX_HEAD_BYTES);
    if (end >= 0) {
      const text = new TextDecoder().decode(socket.queue.take(end + HEAD_END.length));
      return parseHead(text);
    }
    if (socket.queue.length > MAX_HEAD_BYTES) return `response head longer than ${MAX_HEAD_BYTES} bytes`;
    if (socket.eof) {
      return socket.queue.length === 0
        ? "connection closed without a response"
        : "connection closed inside the response head";
    }
    if (!await socket.waitForData(deadline)) return "no response head in time";
  }
}

function parseHead(text: string): ResponseHead | string {
  const lines = text.split("\r\n");
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) return `malformed status line ${JSON.stringify(lines[0])}`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `malformed header line ${JSON.stringify(line)}`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { version: m[1], status: Number(m[2]), headers };
}

/** True when a comma-separated header value contains `token` (case-insensitive, RFC 9110 §5.6.1). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  return value.split(",").some((t) => t.trim().toLowerCase() === token.toLowerCase());
}

/**
 * Why a response does not complete a handshake for `key`, or null when it does (RFC 6455 §4.1).
 * @param extensionsOffered the request offered extensions: the server may then select one (its answer is
 * checked by the caller)
 */
export function checkSwitchingProtocols(
  head: ResponseHead,
  key: string,
  extensionsOffered = false,
): string | null {
  if (head.status !== 101) return `expected status 101, got ${head.status}`;
  const upgrade = head.headers.get("upgrade");
  if (upgrade?.toLowerCase() !== "websocket") {
    return `expected "Upgrade: websocket", got ${JSON.stringify(upgrade)}`;
  }
  if (!hasToken(head.headers.get("connection"), "upgrade")) {
    return `expected a Connection header with "upgrade", got ${
      JSON.stringify(head.headers.get("connection"))
    }`;
  }
  const accept = head.headers.get("sec-websocket-accept");
  if (accept !== acceptFor(key)) {
    return `expected Sec-WebSocket-Accept ${acceptFor(key)}, got ${JSON.stringify(accept)}`;
  }
  // §4.1 step 5/6: an extension or subprotocol that was not offered may not be selected.
  if (!extensionsOffered && head.headers.has("sec-websocket-extensions")) {
    return "server selected an extension that was not offered";
  }
  if (head.headers.has("sec-websocket-protocol")) return "server selected a subprotocol that was not offered";
  return null;
}
