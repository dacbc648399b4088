/**
 * Reads the relay's answer to one fuzz connection: checks every response is well-formed and that a refusal
 * is exactly one error response, last, with `connection: close`, followed by the close; and works out the
 * relay's split (which requests it answered, in order) from the responses.
 * @module
 */
import type { Split, SplitRequest } from "./http_split.ts";
import { requestId } from "./http_split.ts";

/** One response as read off the wire. */
interface Response {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** An accepted POST the relay stored: the harness reads the body back from the channel's history. */
export interface StoredBody {
  request: SplitRequest;
  channel: string;
  seq: number;
}

/** The relay's answer to one connection. */
export interface RelayAnswer {
  split: Split;
  /** Bodies to read back from history to complete `split`. */
  stored: StoredBody[];
  /** Everything malformed or out of contract in the answer. */
  problems: string[];
}

/**
 * Error codes of the relay's own routes: an answer carrying one means the HTTP layer accepted the request and
 * the app answered it. Any other error is a refusal of the HTTP layer.
 */
const APP_ERRORS = new Set([
  "not_found",
  "bad_channel",
  "bad_text",
  "too_large",
  "unavailable",
  "bad_query",
  "forbidden",
  "unauthorized",
  "rate_limited",
]);
const STATUS_LINE = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/;
/** "no route for GET /x/q1" */
const NO_ROUTE = /^no route for (\S+) (.*)$/;

function decodeLatin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

function parseResponses(raw: string, problems: string[]): Response[] {
  const responses: Response[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) {
      problems.push(`truncated response head ${JSON.stringify(rest.slice(0, 60))}`);
      break;
    }
    const [statusLine, ...lines] = rest.slice(0, end).split("\r\n");
    rest = rest.slice(end + 4);
    const m = STATUS_LINE.exec(statusLine);
    if (!m) {
      problems.push(`bad status line ${JSON.stringify(statusLine)}`);
      break;
    }
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      if (colon <= 0 || /[^!#$%&'*+\-.^_`|~0-9a-z]/.test(name)) {
        problems.push(`bad header line ${JSON.stringify(line)}`);
      }
      if (headers.has(name)) problems.push(`duplicate header ${name}`);
      headers.set(name, line.slice(colon + 1).trim());
    }
    const status = Number(m[1]);
    if (status >= 100 && status < 200) continue; // interim (100 Continue): no body, the real answer follows
    const length = headers.get("content-length");
    if (length === undefined || !/^\d+$/.test(length)) {
      problems.push(`status ${status} without a valid content-length`);
      break;
    }
    if (rest.length < Number(length)) {
      problems.push(`status ${status}: body shorter than its content-length`);
      break;
    }
    responses.push({ status, headers, body: rest.slice(0, Number(length)) });
    rest = rest.slice(Number(length));
  }
  return responses;
}

function jsonOf(body: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(body);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

/** Reads the relay's bytes for one connection; `closed` says whether it closed the connection in time. */
export function readRelayAnswer(received: Uint8Array, closed: boolean): RelayAnswer {
  const problems: string[] = [];
  const responses = parseResponses(decodeLatin1(received), problems);
  const requests: SplitRequest[] = [];
  const stored: StoredBody[] = [];
  let end = "eof" as Split["end"];
  let reason: string | null = null;
  for (const [i, response] of responses.entries()) {
    if (end !== "eof") problems.push(`a response after connection: close (${response.status})`);
    const json = jsonOf(response.body);
    const error = typeof json?.error === "string" ? json.error : null;
    const closes = response.headers.get("connection")?.toLowerCase() === "close";
    if (
      response.status === 200 && typeof json?.channel === "string" && typeof json.seq === "number" &&
      !("messages" in json)
    ) {
      const request: SplitRequest = { method: "POST", id: requestId(json.channel), body: null };
      requests.push(request);
      stored.push({ request, channel: json.channel, seq: json.seq });
    } else if (response.status === 200 && typeof json?.channel === "string" && "messages" in json) {
      // A history answer: the request was routed as GET /channels/:channel/messages.
      requests.push({ method: "GET", id: requestId(json.channel), body: null });
    } else if (response.status < 300 && json !== null && error === null) {
      requests.push({ method: null, id: null, body: null });
    } else if (error !== null && APP_ERRORS.has(error)) {
      const route = NO_ROUTE.exec(String(json?.message ?? ""));
      requests.push(
        route
          ? { method: route[1], id: requestId(route[2]), body: null }
          : { method: null, id: null, body: null },
      );
    } else {
      // A refusal of the HTTP layer: exactly one error response, the last, then the close (issue 16).
      end = "refused";
      reason = `${response.status} ${error ?? "(no error code)"}`;
      if (response.status < 400) {
        problems.push(`unexpected status ${response.status}: ${response.body.slice(0, 80)}`);
      }
      if (!closes) problems.push(`refusal ${reason} without connection: close`);
      if (i !== responses.length - 1) problems.push(`a response after the refusal ${reason}`);
      if (!closed) problems.push(`connection still open after the refusal ${reason}`);
      continue;
    }
    if (closes && end === "eof") end = "closed";
  }
  if (end === "closed" && !closed) problems.push("connection still open after connection: close");
  return { split: { requests, end, reason }, stored, problems };
}
