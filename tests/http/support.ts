/**
 * Helpers for the HTTP tests: deterministic input splitting, a tiny response reader for what a server wrote,
 * and bounded waiting.
 * @module
 */
import { seededRandom } from "../support/random.ts";

/** Bytes of a latin1 string (one byte per char), so tests can write any byte. */
export function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

export function latin1(data: Uint8Array): string {
  let text = "";
  for (const b of data) text += String.fromCharCode(b);
  return text;
}

/** The ways every parser input is fed: whole, byte by byte, and random splits from three seeds. */
export const SPLITS = ["whole", "bytes", "random:1", "random:7", "random:42"] as const;
export type Split = typeof SPLITS[number];

export function split(data: Uint8Array, how: Split): Uint8Array[] {
  if (how === "whole") return [data];
  if (how === "bytes") return Array.from(data, (_, i) => data.subarray(i, i + 1));
  const random = seededRandom(Number(how.slice(7)));
  const parts: Uint8Array[] = [];
  let i = 0;
  while (i < data.length) {
    const n = 1 + Math.floor(random() * 24);
    parts.push(data.subarray(i, i + n));
    i += n;
  }
  return parts;
}

/** One response as read back from the wire. */
export interface WireResponse {
  status: number;
  reason: string;
  /** Lowercased names, in order, repeated names kept. */
  headers: [string, string][];
  body: string;
  get(name: string): string | undefined;
}

/**
 * Reads every complete response in `text` (framing by Content-Length, chunked, or none for 1xx/204/304 and
 * for HEAD when `headRequests` says so).
 */
export function readResponses(text: string, headRequests: boolean[] = []): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  let index = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end === -1) break;
    const lines = text.slice(at, end).split("\r\n");
    const [, code, ...reason] = lines[0].split(" ");
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    const get = (name: string) => headers.find(([n]) => n === name)?.[1];
    const status = Number(code);
    at = end + 4;
    let body = "";
    const informational = status < 200;
    if (!informational && !headRequests[index] && status !== 204 && status !== 304 && status !== 101) {
      if (get("transfer-encoding") === "chunked") {
        for (;;) {
          const lineEnd = text.indexOf("\r\n", at);
          const size = parseInt(text.slice(at, lineEnd), 16);
          at = lineEnd + 2;
          if (size === 0) {
            at += 2;
            break;
          }
          body += text.slice(at, at + size);
          at += size + 2;
        }
      } else {
        const length = Number(get("content-length") ?? 0);
        body = text.slice(at, at + length);
        at += length;
      }
    }
    if (!informational) index++;
    out.push({ status, reason: reason.join(" "), headers, body, get });
  }
  return out;
}

/** Waits (bounded) until `check` is true, letting timers and promises run. */
export async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets pending promise callbacks and zero-delay timers run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A response body stream the test feeds by hand through `controller`. */
export function controlledStream(): {
  stream: ReadableStream<Uint8Array>;
  controller: ReadableStreamDefaultController<Uint8Array>;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return { stream, controller };
}
