/**
 * Which response bodies are streamed, and how a streamed body starts.
 *
 * A body is buffered whole (`response.bytes()`, the cheap path for the common static body) unless the
 * response is meant to stream: its Content-Type is `text/event-stream`, the app set a Transfer-Encoding, or
 * the app marked it with {@link streamResponse}. A streamed body is read until a read does not complete at
 * once (race against a zero-delay timer): if it ended within that burst it still gets a Content-Length;
 * otherwise it goes out chunked, each later chunk written as soon as it is read.
 * @module
 */

const marked = new WeakSet<Response>();

/**
 * Marks `response` as streaming: the server writes its body chunk by chunk as the app produces it, instead
 * of buffering it whole. Needed for a `ReadableStream` body that is not server-sent events
 * (`text/event-stream`) and sets no Transfer-Encoding; an unmarked stream is sent once it has ended.
 * @returns `response`, so a handler can `return streamResponse(new Response(stream))`.
 * @example
 * ```ts
 * app.get("/ticks", () => streamResponse(new Response(ticks(), { headers: { "content-type": "text/plain" } })));
 * ```
 */
export function streamResponse(response: Response): Response {
  marked.add(response);
  return response;
}

/** True when `response` was marked with {@link streamResponse}. */
export function isMarkedStream(response: Response): boolean {
  return marked.has(response);
}

/** Collected-at-once bytes beyond which the body is streamed instead of buffered. */
const IMMEDIATE_BODY_BYTES = 64 * 1024;

const TIMED_OUT = Symbol("timed out");
let tick: Promise<typeof TIMED_OUT> | null = null;

/** Resolves after one zero-delay timer; shared by every caller within the same turn, so one timer per turn. */
function zeroDelay(): Promise<typeof TIMED_OUT> {
  if (tick === null) {
    tick = new Promise((resolve) =>
      setTimeout(() => {
        tick = null;
        resolve(TIMED_OUT);
      }, 0)
    );
  }
  return tick;
}

/**
 * The read's result if it completes within a zero-delay timer. A read that is already settled (the usual end
 * of a static body) is seen after one microtask, without creating a timer.
 */
async function settleSoon<T>(read: Promise<T>): Promise<T | typeof TIMED_OUT> {
  let result: T | typeof TIMED_OUT = TIMED_OUT;
  // The rejection handler also keeps an abandoned read from becoming an unhandled rejection.
  read.then((value) => result = value, () => {});
  // Deno settles a finished read after one microtask, Bun after two.
  for (let tick = 0; tick < 3 && result === TIMED_OUT; tick++) await undefined;
  if (result !== TIMED_OUT) return result;
  return await Promise.race([read, zeroDelay()]);
}

/** The start of a response body. */
export interface BodyStart {
  reader: ReadableStreamDefaultReader<unknown>;
  /** Chunks read so far, in order. */
  chunks: Uint8Array[];
  bytes: number;
  /** True when the body ended: `chunks` is all of it. */
  done: boolean;
  /** The read still running when `done` is false. */
  pending: Promise<ReadableStreamReadResult<unknown>> | null;
}

/** Reads the first chunk (however long it takes), then every chunk that is already available. */
export async function startBody(stream: ReadableStream<unknown>): Promise<BodyStart> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let result = await reader.read();
  for (;;) {
    if (result.done) return { reader, chunks, bytes, done: true, pending: null };
    const chunk = toBytes(result.value);
    if (chunk.length > 0) {
      chunks.push(chunk);
      bytes += chunk.length;
    }
    const next = reader.read();
    if (bytes >= IMMEDIATE_BODY_BYTES) {
      // The pending read may be abandoned (client gone); its failure must not become an unhandled rejection.
      next.catch(() => {});
      return { reader, chunks, bytes, done: false, pending: next };
    }
    const settled = await settleSoon(next);
    if (settled === TIMED_OUT) {
      if (chunks.length === 0) {
        result = await next;
        continue;
      }
      return { reader, chunks, bytes, done: false, pending: next };
    }
    result = settled;
  }
}

const encoder = new TextEncoder();

/** A body chunk as bytes: Uint8Array as is, other views and buffers wrapped, strings UTF-8 encoded. */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof value === "string") return encoder.encode(value);
  throw new TypeError("Response body chunk is not bytes");
}
