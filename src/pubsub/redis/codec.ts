/**
 * Turns channel messages into Redis arguments and Redis replies back into {@link ChannelMessage}s, byte-exact
 * (layout in `scripts.ts`: a body is `<seq>:<publishedAt>:<t|b><data>`, or with a publisher
 * `<seq>:<publishedAt>:p<n>:<publisher><t|b><data>` where `n` is the publisher's UTF-8 length; a pub/sub
 * payload is `<epoch>:<body>`). Bodies without a publisher are the layout from before publishers existed, so
 * history stored by an older relay still reads; an older relay cannot read a body with one (it refuses the
 * unknown flag): upgrade every node before exposing publishers.
 * @module
 */
import { Buffer } from "node:buffer";
import { type ChannelMessage, channelMessage } from "../message.ts";

const COLON = 0x3a;
const TEXT = 0x74; // "t"
const BINARY = 0x62; // "b"
const PUBLISHER = 0x70; // "p"

/**
 * The type flag and data of a publish as script arguments; bytes go as a Buffer view, not a copy. With a
 * publisher, the flag argument carries it in front of the type (`p<n>:<publisher>t`), so the publish script
 * stores it without knowing about it.
 */
export function encodeData(
  data: string | Uint8Array,
  publisher?: string,
): [string, string | Buffer] {
  const type = typeof data === "string" ? "t" : "b";
  const flag = publisher === undefined
    ? type
    : `p${Buffer.byteLength(publisher, "utf8")}:${publisher}${type}`;
  return typeof data === "string"
    ? [flag, data]
    : [flag, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
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
  let at = timeEnd + 1;
  let publisher: string | undefined;
  if (bytes[at] === PUBLISHER) {
    const lengthEnd = bytes.indexOf(COLON, at + 1);
    if (lengthEnd === -1) throw new TypeError("malformed redis message: bad publisher");
    const length = decimal(bytes, at + 1, lengthEnd, "publisher length");
    if (lengthEnd + 1 + length >= bytes.length) throw new TypeError("malformed redis message: bad publisher");
    publisher = bytes.toString("utf8", lengthEnd + 1, lengthEnd + 1 + length);
    at = lengthEnd + 1 + length;
  }
  const flag = bytes[at];
  const from = at + 1;
  let data: string | Uint8Array;
  if (flag === TEXT) data = bytes.toString("utf8", from);
  else if (flag === BINARY) data = new Uint8Array(bytes.subarray(from));
  else throw new TypeError("malformed redis message: bad type flag");
  return channelMessage(channel, seq, epoch, data, publishedAt, publisher);
}

/** Decodes a pub/sub payload `<epoch>:<body>`. @throws {TypeError} when malformed */
export function decodePayload(channel: string, payload: Buffer): ChannelMessage {
  const epochEnd = payload.indexOf(COLON);
  if (epochEnd <= 0) throw new TypeError("malformed redis message: no epoch");
  return decodeBody(channel, payload.toString("latin1", 0, epochEnd), payload, epochEnd + 1);
}
