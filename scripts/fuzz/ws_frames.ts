/**
 * The WebSocket frame fuzzer's cases: seeded sequences of client frames, valid and not (fragmented messages
 * with interleaved pings and pongs, oversize and fragmented control frames, close codes and reasons, invalid
 * UTF-8 split across fragments, RSV bits, reserved opcodes, unmasked frames, 64-bit lengths, non-minimal
 * length encodings, zero masks, data after a Close), described as specs the model reads and encoded to bytes.
 * @module
 */
import type { Rng } from "./rng.ts";

/** One client frame as the case means it; `declaredLength` may differ from the payload sent (huge lengths). */
export interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
  /** The length in the header; more than `payload.length` only for frames whose payload never comes. */
  declaredLength: bigint;
  /** Encode the length in a longer form than needed (RFC 6455 §5.2 says minimal, receivers accept both). */
  nonMinimal: boolean;
  /** The masking key; all zeros sometimes. */
  key: Uint8Array;
}

export const OPCODE = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;
/** Opcodes RFC 6455 §5.2 reserves. */
const RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15];
/** Byte sequences that are never valid UTF-8 (overlong, surrogate, above U+10FFFF, stray continuation). */
const INVALID_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [
  0xf8,
  0x88,
  0x80,
]];
/** A code point cut in half: invalid at the end of a message, fine when the next fragment completes it. */
const TRUNCATED_UTF8 = [[0xe2, 0x82], [0xc3], [0xf0, 0x9f, 0x98]];
const TEXT_ALPHABET = ["a", "z", " ", "é", "€", "😀"];
/** Close codes across the valid, reserved and out-of-range space (RFC 6455 §7.4). */
const CLOSE_CODES = [
  1000,
  1001,
  1002,
  1003,
  1004,
  1005,
  1006,
  1007,
  1011,
  1012,
  1014,
  1015,
  1016,
  2000,
  2999,
  3000,
  3999,
  4000,
  4999,
  5000,
  65535,
  0,
  999,
];
/** Declared lengths for frames whose payload never comes: top bit set, 2^63−1, 4 GiB, past the limit. */
const HUGE_LENGTHS = [1n << 63n, (1n << 64n) - 1n, (1n << 63n) - 1n, 1n << 32n, 2n * 1024n * 1024n];

function spec(rng: Rng, opcode: number, payload: Uint8Array, fin = true, masked = true): FrameSpec {
  return {
    fin,
    rsv: 0,
    opcode,
    masked,
    payload,
    declaredLength: BigInt(payload.length),
    nonMinimal: false,
    key: rng.chance(0.1) ? new Uint8Array(4) : rng.bytes(4),
  };
}

function textBytes(rng: Rng, n: number): Uint8Array {
  let s = "";
  while (new TextEncoder().encode(s).length < n) s += rng.pick(TEXT_ALPHABET);
  const bytes = [...new TextEncoder().encode(s)];
  if (rng.chance(0.15)) bytes.splice(rng.int(0, bytes.length), 0, ...rng.pick(INVALID_UTF8));
  else if (rng.chance(0.1)) bytes.push(...rng.pick(TRUNCATED_UTF8));
  return new Uint8Array(bytes);
}

function closePayload(rng: Rng): Uint8Array {
  const r = rng.next();
  if (r < 0.15) return new Uint8Array(0);
  if (r < 0.25) return new Uint8Array([0x03]);
  const code = rng.pick(CLOSE_CODES);
  const reasons = [[], [...new TextEncoder().encode("bye")], [...new TextEncoder().encode("é".repeat(61))], [
    0xff,
  ], [
    0x6f,
    0x6b,
    0xed,
    0xa0,
    0x80,
  ], [0xe2, 0x82]];
  return new Uint8Array([code >> 8, code & 0xff, ...rng.pick(reasons)]);
}

/** One case: 1–8 steps, ending at the first Close (sometimes followed by data the relay must ignore). */
export function generateFrames(rng: Rng): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (let steps = rng.int(1, 8); steps > 0; steps--) {
    const r = rng.next();
    const masked = !rng.chance(0.03);
    if (r < 0.35) {
      // A message in 1–5 fragments, pings and pongs between them, sometimes a wrong FIN.
      const opcode = rng.pick([OPCODE.Text, OPCODE.Binary]);
      const count = rng.pick([1, 1, 2, 3, 5]);
      for (let i = 0; i < count; i++) {
        const n = rng.pick([0, 1, 3, 40, 130]);
        const payload = opcode === OPCODE.Text ? textBytes(rng, n) : rng.bytes(n);
        let fin = i === count - 1;
        if (rng.chance(0.05)) fin = !fin;
        frames.push(spec(rng, i === 0 ? opcode : OPCODE.Continuation, payload, fin, masked));
        if (rng.chance(0.25)) {
          frames.push(spec(rng, rng.pick([OPCODE.Ping, OPCODE.Pong]), rng.bytes(rng.pick([0, 5, 125]))));
        }
      }
    } else if (r < 0.5) {
      frames.push(
        spec(rng, OPCODE.Ping, rng.bytes(rng.pick([0, 1, 125, 125, 126])), !rng.chance(0.05), masked),
      );
    } else if (r < 0.58) {
      frames.push(spec(rng, OPCODE.Pong, rng.bytes(rng.pick([0, 7, 125])), true, masked));
    } else if (r < 0.63) {
      frames.push(spec(rng, OPCODE.Continuation, rng.bytes(3), rng.chance(0.5), masked));
    } else if (r < 0.68) {
      frames.push(spec(rng, rng.pick(RESERVED_OPCODES), new TextEncoder().encode("abc"), true, masked));
    } else if (r < 0.72) {
      const f = spec(
        rng,
        rng.pick([OPCODE.Text, OPCODE.Binary, OPCODE.Ping]),
        new TextEncoder().encode("abc"),
        true,
        masked,
      );
      f.rsv = rng.pick([1, 2, 4]);
      frames.push(f);
    } else if (r < 0.76) {
      const f = spec(rng, OPCODE.Binary, rng.bytes(10));
      f.declaredLength = rng.pick(HUGE_LENGTHS);
      frames.push(f);
      break; // nothing after it can be framed
    } else if (r < 0.8) {
      const f = spec(rng, OPCODE.Text, new TextEncoder().encode("hi"));
      f.nonMinimal = true;
      frames.push(f);
    } else {
      frames.push(spec(rng, OPCODE.Close, closePayload(rng), !rng.chance(0.03), masked));
      if (rng.chance(0.5)) frames.push(spec(rng, OPCODE.Text, new TextEncoder().encode("after close")));
      break;
    }
  }
  return frames;
}

/** The frame's bytes (RFC 6455 §5.2). */
export function encodeFrame(f: FrameSpec): Uint8Array {
  const n = f.declaredLength;
  const form = n > 0xffffn || (f.nonMinimal && n > 125n) ? 8 : n > 125n || f.nonMinimal ? 2 : 0;
  const header = 2 + form + (f.masked ? 4 : 0);
  const out = new Uint8Array(header + f.payload.length);
  const view = new DataView(out.buffer);
  out[0] = (f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode;
  const maskBit = f.masked ? 0x80 : 0;
  if (form === 0) out[1] = maskBit | Number(n);
  else if (form === 2) {
    out[1] = maskBit | 126;
    view.setUint16(2, Number(n));
  } else {
    out[1] = maskBit | 127;
    view.setBigUint64(2, n);
  }
  if (f.masked) out.set(f.key, 2 + form);
  for (let i = 0; i < f.payload.length; i++) {
    out[header + i] = f.masked ? f.payload[i] ^ f.key[i & 3] : f.payload[i];
  }
  return out;
}
