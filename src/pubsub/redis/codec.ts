/**
 * Turns channel messages into Redis arguments and Redis replies back into {@link ChannelMessage}s, byte-exact
 * (layout in `scripts.ts`: a body is `<seq>:<publishedAt>:<t|b><data>`, a pub/sub payload is
 * `<epoch>:<body>`).
 * @module
 */
import { Buffer } from "node:buffer";
import type { ChannelMessage } from "../message.ts";

const COLON = 0x3a;
const TEXT = 0x74; // "t"
const BINARY = 0x62; // "b"

/** The type flag and data of a publish as script arguments; bytes go as a Buffer view, not a copy. */
export function encodeData(data: string | Uint8Array): ["t" | "b", string | Buffer] {
  return typeof data === "string"
    ? ["t", data]
    : ["b", Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

function decimal(bytes: Buffer, from: number, to: number, what: string): number {
  const value = Number(bytes.toString("latin1", from, to));
  if (to <= from || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`malformed redis message: bad ${what}`);
  }
  return value;
}

/**
 * Decodes the body starting at `start` of `bytes`. Text is decoded as UTF-8; bytes are copied into a plain
 * `Uint8Array`, so the message holds no reference to the client's receive buffer.
 * @throws {TypeError} on a value that is not a body (something else wrote under the key prefix)
 */
export function decodeBody(channel: string, epoch: string, bytes: Buffer, start = 0): ChannelMessage {
  const seqEnd = bytes.indexOf(COLON, start);
  const timeEnd = seqEnd === -1 ? -1 : bytes.indexOf(COLON, seqEnd + 1);
  if (timeEnd === -1 || timeEnd + 1 >= bytes.length) throw new TypeError("malformed redis message");
  const seq = decimal(bytes, start, seqEnd, "seq");
  const publishedAt = decimal(bytes, seqEnd + 1, timeEnd, "time");
  const flag = bytes[timeEnd + 1];
  const from = timeEnd + 2;
  let data: string | Uint8Array;
  if (flag === TEXT) data = bytes.toString("utf8", from);
  else if (flag === BINARY) data = new Uint8Array(bytes.subarray(from));
  else throw new TypeError("malformed redis message: bad type flag");
  return { channel, seq, epoch, data, publishedAt };
}

/** Decodes a pub/sub payload `<epoch>:<body>`. @throws {TypeError} when malformed */
export function decodePayload(channel: string, payload: Buffer): ChannelMessage {
  const epochEnd = payload.indexOf(COLON);
  if (epochEnd <= 0) throw new TypeError("malformed redis message: no epoch");
  return decodeBody(channel, payload.toString("latin1", 0, epochEnd), payload, epochEnd + 1);
}
