/**
 * The runtime-independent half of the corked raw-TCP reference servers (`ref_deno_raw.ts`, `ref_bun_raw.ts`):
 * the least work a raw-mode relay can do per message, as a bound to measure the relay against.
 *
 * - a minimal HTTP upgrade (request line, `Sec-WebSocket-Key`, accept key per RFC 6455 section 4.2.2);
 * - client frames parsed and unmasked straight into the outgoing server frame (one copy), which is encoded
 *   once per message and shared by every subscriber;
 * - no fragmentation, no UTF-8 validation, no limits beyond the 64-bit length: this is a bound, not a server.
 *
 * The runtime half supplies a {@link RawSink} whose writes are corked per event-loop turn.
 * @module
 */
import { createHash } from "node:crypto";
import { channelOf } from "./ref_args.ts";

/** RFC 6455 section 1.3. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B11";
/** RFC 6455 section 5.2. */
const OPCODE = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;
/** A request head larger than this is refused. */
const MAX_HEAD_BYTES = 8192;

const HEAD_END = [13, 10, 13, 10];
const latin1 = new TextDecoder("latin1");
const utf8 = new TextEncoder();

/** Where a peer's bytes go: queued writes flushed together once per event-loop turn. */
export interface RawSink {
  write(bytes: Uint8Array): void;
  /** Flushes what is queued, then closes. */
  end(): void;
}

const channels = new Map<string, Set<RawPeer>>();

/** One client connection: handshake, then frames. */
export class RawPeer {
  #sink: RawSink;
  #channel: string | null = null;
  #members: Set<RawPeer> | null = null;
  #pending: Uint8Array | null = null;
  #open = false;
  #done = false;

  constructor(sink: RawSink) {
    this.#sink = sink;
  }

  /** Bytes from the client; the chunk is borrowed (only valid during the call). */
  data(chunk: Uint8Array): void {
    if (this.#done) return;
    let buf = chunk;
    if (this.#pending) {
      buf = new Uint8Array(this.#pending.length + chunk.length);
      buf.set(this.#pending);
      buf.set(chunk, this.#pending.length);
      this.#pending = null;
    }
    const used = this.#open ? this.#frames(buf) : this.#handshake(buf);
    if (!this.#done && used < buf.length) this.#pending = buf.slice(used);
  }

  /** The connection is gone. */
  closed(): void {
    this.#done = true;
    const members = this.#members;
    if (!members) return;
    members.delete(this);
    if (members.size === 0 && channels.get(this.#channel!) === members) channels.delete(this.#channel!);
    this.#members = null;
  }

  #fail(): void {
    this.#sink.end();
    this.closed();
  }

  /** Returns how many bytes were consumed. */
  #handshake(buf: Uint8Array): number {
    const end = indexOf(buf, HEAD_END);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) this.#fail();
      return 0;
    }
    const head = latin1.decode(buf.subarray(0, end));
    const path = /^GET (\S+) HTTP\/1\.1\r\n/.exec(head)?.[1];
    const key = /\r\nsec-websocket-key:[ \t]*([^\r\n]+?)[ \t]*(?:\r\n|$)/i.exec(head)?.[1];
    const channel = path ? channelOf(path.split("?")[0]) : null;
    if (!channel || !key) {
      this.#sink.write(
        utf8.encode("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
      );
      this.#fail();
      return buf.length;
    }
    const accept = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
    this.#sink.write(utf8.encode(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    this.#open = true;
    this.#channel = channel;
    let members = channels.get(channel);
    if (!members) channels.set(channel, members = new Set());
    members.add(this);
    this.#members = members;
    return end + 4 + this.#frames(buf.subarray(end + 4));
  }

  /** Parses whole frames; returns how many bytes were consumed. */
  #frames(buf: Uint8Array): number {
    let off = 0;
    while (!this.#done) {
      const avail = buf.length - off;
      if (avail < 2) break;
      const b0 = buf[off], b1 = buf[off + 1];
      if ((b1 & 0x80) === 0) { // clients must mask (section 5.1)
        this.#fail();
        break;
      }
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (avail < 4) break;
        len = (buf[off + 2] << 8) | buf[off + 3];
        hdr = 4;
      } else if (len === 127) {
        if (avail < 10) break;
        len = new DataView(buf.buffer, buf.byteOffset + off + 2, 8).getUint32(4);
        hdr = 10;
      }
      const total = hdr + 4 + len;
      if (avail < total) break;
      const opcode = b0 & 0x0f;
      const frame = unmaskInto(opcode === OPCODE.Ping ? OPCODE.Pong : opcode, buf, off + hdr, len);
      off += total;
      if ((b0 & 0x80) !== 0 && (opcode === OPCODE.Text || opcode === OPCODE.Binary)) {
        for (const peer of this.#members!) peer.#sink.write(frame);
      } else if (opcode === OPCODE.Ping) {
        this.#sink.write(frame);
      } else if (opcode === OPCODE.Close) {
        this.#sink.write(frame);
        this.#fail();
      } else if (opcode !== OPCODE.Pong) {
        this.#fail(); // fragmented messages are out of scope for the bound
      }
    }
    return off;
  }
}

/** Encodes an unmasked server frame whose payload is the client's masked payload at `maskAt + 4`. */
function unmaskInto(opcode: number, buf: Uint8Array, maskAt: number, len: number): Uint8Array {
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(hdr + len);
  out[0] = 0x80 | opcode;
  if (hdr === 2) out[1] = len;
  else if (hdr === 4) {
    out[1] = 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setUint32(6, len);
  }
  const m0 = buf[maskAt], m1 = buf[maskAt + 1], m2 = buf[maskAt + 2], m3 = buf[maskAt + 3];
  const src = maskAt + 4;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    out[hdr + i] = buf[src + i] ^ m0;
    out[hdr + i + 1] = buf[src + i + 1] ^ m1;
    out[hdr + i + 2] = buf[src + i + 2] ^ m2;
    out[hdr + i + 3] = buf[src + i + 3] ^ m3;
  }
  const mask = [m0, m1, m2, m3];
  for (; i < len; i++) out[hdr + i] = buf[src + i] ^ mask[i & 3];
  return out;
}

function indexOf(buf: Uint8Array, needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= buf.length; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Joins queued chunks into one buffer (one write call per turn). */
export function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
