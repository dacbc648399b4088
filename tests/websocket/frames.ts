/**
 * Test helpers: hex frames, an independent (byte-by-byte) client masker, a seeded PRNG, and a harness that
 * feeds the same bytes to a FrameParser whole, byte by byte and in random splits.
 * @module
 */
import { seededRandom } from "../support/random.ts";
import assert from "node:assert/strict";
import { FrameParser } from "../../src/websocket/frame_parser.ts";
import type { FrameParserLimits } from "../../src/websocket/frame_parser.ts";

/** Bytes from hex, spaces allowed: `hex("81 85 37fa")`. */
export function hex(text: string): Uint8Array {
  return Uint8Array.fromHex(text.replace(/\s+/g, ""));
}

/** Lower-case hex of bytes, for readable assertions. */
export function toHex(bytes: Uint8Array): string {
  return bytes.toHex();
}

/** Joins byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A seeded PRNG (see `tests/support/random.ts`), so random splits are reproducible. */
export const prng = seededRandom;

/** Deterministic pseudo-random bytes. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

export interface ClientFrameOptions {
  fin?: boolean;
  /** RSV bits as a 3-bit number (RSV1 = 4). */
  rsv?: number;
  /** Masking key (4 bytes); null sends the frame unmasked. */
  mask?: Uint8Array | null;
  /** Force the 16-bit or 64-bit length form even for short payloads. */
  lengthForm?: 7 | 16 | 64;
}

const DEFAULT_MASK = hex("37 fa 21 3d");

/**
 * A client frame. Masking here is a plain per-byte loop, independent of the code under test.
 */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  options: ClientFrameOptions = {},
): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const mask = options.mask === undefined ? DEFAULT_MASK : options.mask;
  const form = options.lengthForm ?? (body.length < 126 ? 7 : body.length < 65536 ? 16 : 64);
  const header: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (form === 7) {
    header.push(maskBit | body.length);
  } else if (form === 16) {
    header.push(maskBit | 126, body.length >> 8, body.length & 0xff);
  } else {
    header.push(maskBit | 127);
    const high = Math.floor(body.length / 2 ** 32);
    const low = body.length >>> 0;
    header.push(high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff);
    header.push(low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff);
  }
  const masked = body.slice();
  if (mask !== null) {
    header.push(...mask);
    for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i % 4];
  }
  return concat(new Uint8Array(header), masked);
}

/** One recorded parser event, in a form `deepEqual` can compare. */
export type ParserEvent =
  | ["text", string]
  | ["binary", string]
  | ["ping", string]
  | ["pong", string]
  | ["close", number, string]
  | ["error", number, string];

/**
 * Feeds `chunks` to a new parser and records its events (binary payloads as hex). Each chunk is lent like a
 * runtime adapter lends its read buffer: a copy is pushed and then overwritten, so a parser that kept a
 * reference to borrowed memory would report garbage.
 */
export function record(
  chunks: Iterable<Uint8Array>,
  limits: Partial<FrameParserLimits> = {},
  perMessageDeflate = false,
): ParserEvent[] {
  const events: ParserEvent[] = [];
  const parser = new FrameParser(
    {
      message: (data) => events.push(typeof data === "string" ? ["text", data] : ["binary", toHex(data)]),
      ping: (payload) => events.push(["ping", toHex(payload)]),
      pong: (payload) => events.push(["pong", toHex(payload)]),
      close: (code, reason) => events.push(["close", code, reason]),
      error: (error) => events.push(["error", error.code, error.kind]),
    },
    limits,
    perMessageDeflate,
  );
  for (const chunk of chunks) {
    const lent = chunk.slice();
    parser.push(lent);
    lent.fill(0xee);
  }
  return events;
}

/** The ways every input is fed: whole, byte by byte, and random splits from a few seeds. */
export function* splits(bytes: Uint8Array): Generator<[string, Uint8Array[]]> {
  yield ["whole", [bytes]];
  yield ["byte by byte", Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))];
  for (const seed of [1, 2, 3, 42]) {
    const next = prng(seed);
    const chunks: Uint8Array[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const size = 1 + Math.floor(next() * Math.min(64, bytes.length));
      chunks.push(bytes.subarray(offset, offset + size));
      offset += size;
    }
    yield [`random split (seed ${seed})`, chunks];
  }
}

/**
 * Parses `bytes` fed every way of {@link splits}, asserts all give the same events, and returns them.
 */
export function parse(
  bytes: Uint8Array,
  limits: Partial<FrameParserLimits> = {},
  perMessageDeflate = false,
): ParserEvent[] {
  let expected: ParserEvent[] | undefined;
  for (const [name, chunks] of splits(bytes)) {
    const events = record(chunks, limits, perMessageDeflate);
    if (expected === undefined) expected = events;
    else assert.deepEqual(events, expected, `events differ when fed ${name}`);
  }
  return expected!;
}
