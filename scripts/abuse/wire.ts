/**
 * Bytes on the wire: requests built byte by byte (any byte, any header), one request/response exchange on a
 * fresh connection with its timings, and WebSocket connections opened with the conformance suite's own
 * handshake and frame code (nothing here trusts the relay's implementation).
 * @module
 */
import {
  encodeRequest,
  randomKey,
  readResponseHead,
  type ResponseHead,
  upgradeHeaders,
} from "../conformance/http.ts";
import { RawSocket, type Target } from "../conformance/raw_socket.ts";
import { WsClient } from "../conformance/ws_client.ts";
import type { AttackContext } from "./types.ts";

/** ISO-8859-1 text to bytes, one byte per character, so requests can carry NUL, CR and 0x80–0xFF anywhere. */
export function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** The header lines of a valid upgrade request (RFC 6455 §4.1), as `name: value` strings. */
export function upgradeLines(ctx: AttackContext, replace: Record<string, string | null> = {}): string[] {
  const headers: Record<string, string | null> = { ...upgradeHeaders(ctx.host, randomKey()), ...replace };
  return Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`);
}

/** A request head (and optional body) as latin1 bytes; `lines` are sent exactly as given. */
export function rawRequest(requestLine: string, lines: readonly string[], body = ""): Uint8Array {
  return latin1(`${requestLine}\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n${body}`);
}

/** What one exchange saw, timed from the first byte written. */
export interface Exchange {
  /** Complete response heads, in order (reading stops after a 101). */
  heads: ResponseHead[];
  /** Status of each response. */
  statuses: number[];
  msToResponse: number | null;
  /** When the relay closed the connection (FIN or reset); null if it was still open at the end. */
  msToClose: number | null;
  /** The first write error (the relay may close while a long request is still being written). */
  writeError: string | undefined;
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** Give up waiting after this long. @default 3000 */
  timeoutMs?: number;
  /** Read until the relay closes (true) or stop after the first response (false). @default true */
  untilClose?: boolean;
}

/**
 * Sends `bytes` on a fresh connection and reads every response until the relay closes, a 101, or the
 * timeout. Response bodies are skipped by their Content-Length (the relay frames every body it sends).
 */
export async function exchange(
  target: Target,
  bytes: Uint8Array,
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const { timeoutMs = 3000, untilClose = true } = options;
  const socket = await RawSocket.connect(target);
  const start = performance.now();
  const deadline = Date.now() + timeoutMs;
  const elapsed = () => Math.round(performance.now() - start);
  const writing = socket.write(bytes);
  const heads: ResponseHead[] = [];
  let msToResponse: number | null = null;
  let msToClose: number | null = null;
  try {
    for (;;) {
      const head = await readResponseHead(socket, deadline);
      if (typeof head === "string") break;
      msToResponse ??= elapsed();
      heads.push(head);
      if (head.status === 101 || !untilClose) break;
      const length = Number(head.headers.get("content-length") ?? "0");
      while (socket.queue.length < length && !socket.eof && await socket.waitForData(deadline));
      socket.queue.take(Math.min(length, socket.queue.length));
    }
    if (untilClose && heads.at(-1)?.status !== 101) {
      while (!socket.eof && await socket.waitForData(deadline)) socket.queue.take(socket.queue.length);
    }
    if (socket.eof) msToClose = elapsed();
  } finally {
    socket.close();
  }
  await writing;
  return {
    heads,
    statuses: heads.map((h) => h.status),
    msToResponse,
    msToClose,
    writeError: socket.writeError,
  };
}

/** `403, closed after 2 ms` and the like. */
export function describeExchange(x: Exchange): string {
  const answer = x.statuses.length === 0 ? "no response" : x.statuses.join(" + ");
  const when = x.msToResponse === null ? "" : ` in ${x.msToResponse} ms`;
  const close = x.msToClose === null ? ", connection kept open" : `, closed after ${x.msToClose} ms`;
  return answer + when + close;
}

/** A WebSocket opened by the suite's own handshake. */
export interface OpenSocket {
  ws: WsClient;
  head: ResponseHead;
}

/** Throws on the first thing a relay gets wrong in a frame (the suite only measures, it does not grade). */
function unreadable(reason: string): never {
  throw new Error(reason);
}

/**
 * Opens a WebSocket to `path` with the suite's own handshake; throws unless the relay answers 101.
 * `headers` replace or remove (null) the standard ones.
 */
export async function openWebSocket(
  ctx: Pick<AttackContext, "target" | "host">,
  path: string,
  headers: Record<string, string | null> = {},
  timeoutMs = 3000,
): Promise<OpenSocket> {
  const socket = await RawSocket.connect(ctx.target);
  await socket.write(
    encodeRequest({ path, headers: { ...upgradeHeaders(ctx.host, randomKey()), ...headers } }),
  );
  const head = await readResponseHead(socket, Date.now() + timeoutMs);
  if (typeof head === "string" || head.status !== 101) {
    socket.close();
    throw new Error(`GET ${path}: ${typeof head === "string" ? head : `status ${head.status}`}, not 101`);
  }
  return { ws: new WsClient(socket, unreadable), head };
}

/** How a WebSocket ended after an attack: the relay's close code and when it came. */
export interface Ending {
  /** The relay's close code; null when it sent no Close frame (or an empty one). */
  code: number | null;
  reason: string;
  /** From `start` to the relay's Close frame and to its TCP close; null if they did not come in time. */
  msToCloseFrame: number | null;
  msToEof: number | null;
  /** Data messages received before the close. */
  messages: number;
}

/**
 * Reads until the relay's Close frame and TCP close (or `deadline`), timing both from `start`;
 * `onCloseFrame` is called as soon as the Close frame arrives.
 */
export async function awaitEnding(
  ws: WsClient,
  start: number,
  deadline: number,
  onCloseFrame?: () => void,
): Promise<Ending> {
  const ending: Ending = { code: null, reason: "", msToCloseFrame: null, msToEof: null, messages: 0 };
  for (;;) {
    const event = await ws.next(deadline);
    const ms = Math.round(performance.now() - start);
    if (event.type === "message") ending.messages++;
    else if (event.type === "close") {
      ending.code = event.code;
      ending.reason = event.reason;
      ending.msToCloseFrame = ms;
      onCloseFrame?.();
    } else if (event.type === "eof") {
      ending.msToEof = ms;
      return ending;
    } else if (event.type === "timeout") return ending;
  }
}

/** `close 1009 after 3 ms, TCP closed after 4 ms`. */
export function describeEnding(e: Ending): string {
  const frame = e.msToCloseFrame === null
    ? "no Close frame"
    : `close ${e.code ?? "(empty)"} after ${e.msToCloseFrame} ms`;
  const tcp = e.msToEof === null ? "TCP still open" : `TCP closed after ${e.msToEof} ms`;
  return `${frame}, ${tcp}`;
}
