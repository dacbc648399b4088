/**
 * The compressed wire of the WebSocket transport (RFC 7692): one compression per published message shared by
 * every compressing subscriber, plain frames for small or incompressible messages and for connections that
 * cannot be sent compressed frames, and the same send-queue bound as plain subscribers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { constants, inflateRawSync } from "node:zlib";
import type { WSContext } from "hono/ws";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { Relay, type SessionPolicy } from "../../src/relay/mod.ts";
import { OPEN_ACCESS } from "../../src/access/mod.ts";
import { envelopeWebSocketEvents, rawWebSocketEvents } from "../../src/transports/websocket.ts";
import {
  DEFLATE_TRAILER,
  type DeflateOptions,
  negotiateDeflate,
  payloadOffset,
  type WebSocketConnection,
} from "../../src/websocket/mod.ts";

const POLICY: SessionPolicy = { permissions: OPEN_ACCESS, maxMessagesPerSecond: 0, maxMessageBytes: 1 << 20 };
const OPTIONS: DeflateOptions = { thresholdBytes: 1024, level: 1 };
const RSV1 = 0x40;

/** A 3 KiB JSON-like text, as chat traffic looks. */
const CHAT = JSON.stringify(
  Array.from(
    { length: 40 },
    (_, i) => ({ id: i, user: `user${i * 7919 % 1000}`, text: `message ${i} words` }),
  ),
).slice(0, 3072);

/** What the link needs of a WebSocketConnection: frames are recorded, the queue size is settable. */
class FakeSocket {
  readonly frames: Uint8Array[] = [];
  bufferedAmount = 0;
  closedSlow = false;
  readonly perMessageDeflate;
  constructor(offer: string | null) {
    this.perMessageDeflate = negotiateDeflate(offer, OPTIONS);
  }
  sendFrame(frame: Uint8Array): boolean {
    this.frames.push(frame);
    this.bufferedAmount += frame.length;
    return true;
  }
  close(): void {}
  fail(): void {}
  closeDiscarding(): boolean {
    this.closedSlow = true;
    return true;
  }
}

function relay(maxQueuedBytes = 1 << 20): Relay {
  return new Relay(new MemoryBroker(), { maxQueuedBytes, maxChannelsPerConnection: 8 });
}

/** A raw-mode subscriber of `channel` whose handshake carried `offer`. */
function rawClient(r: Relay, channel: string, offer: string | null): FakeSocket {
  const socket = new FakeSocket(offer);
  const events = rawWebSocketEvents(r, channel, POLICY);
  events.onOpen!(new Event("open"), { raw: socket } as unknown as WSContext<WebSocketConnection>);
  return socket;
}

/** The message a server frame carries, inflated when RSV1 is set. */
function payloadOf(frame: Uint8Array): string {
  const payload = frame.subarray(payloadOffset(frame));
  if ((frame[0] & RSV1) === 0) return new TextDecoder().decode(payload);
  const whole = new Uint8Array(payload.length + 4);
  whole.set(payload);
  whole.set(DEFLATE_TRAILER, payload.length);
  return new TextDecoder().decode(inflateRawSync(whole, { finishFlush: constants.Z_SYNC_FLUSH }));
}

describe("WebSocket transport, compressed wire", () => {
  it("sends every compressing subscriber the same compressed frame, computed once, and plain ones the plain frame", () => {
    const r = relay();
    const a = rawClient(r, "room", "permessage-deflate; client_max_window_bits");
    const plain = rawClient(r, "room", null);
    const b = rawClient(r, "room", "permessage-deflate");
    r.publish("room", CHAT);
    assert.equal(a.frames.length, 1);
    // The same object: one compression for every compressing subscriber.
    assert.equal(a.frames[0], b.frames[0]);
    assert.equal(a.frames[0][0], 0x80 | RSV1 | 0x1);
    assert.ok(a.frames[0].length < CHAT.length / 2, `${a.frames[0].length} bytes for ${CHAT.length}`);
    assert.equal(payloadOf(a.frames[0]), CHAT);
    assert.equal(plain.frames[0][0], 0x81);
    assert.equal(payloadOf(plain.frames[0]), CHAT);
  });

  it("sends the plain frame itself for a message under the threshold", () => {
    const r = relay();
    const compressing = rawClient(r, "room", "permessage-deflate");
    const plain = rawClient(r, "room", null);
    r.publish("room", "x".repeat(OPTIONS.thresholdBytes - 1));
    assert.equal(compressing.frames[0], plain.frames[0]);
    r.publish("room", "x".repeat(OPTIONS.thresholdBytes));
    assert.notEqual(compressing.frames[1], plain.frames[1]);
    assert.equal(compressing.frames[1][0] & RSV1, RSV1);
  });

  it("sends the plain frame when deflate does not make a message smaller", () => {
    const r = relay();
    const compressing = rawClient(r, "room", "permessage-deflate");
    const plain = rawClient(r, "room", null);
    r.publish("room", crypto.getRandomValues(new Uint8Array(4096)));
    assert.equal(compressing.frames[0], plain.frames[0]);
  });

  it("never compresses for a client that asked for an 8-bit window", () => {
    const r = relay();
    const eight = rawClient(r, "room", "permessage-deflate; server_max_window_bits=8");
    assert.notEqual(eight.perMessageDeflate, null);
    r.publish("room", CHAT);
    assert.equal(eight.frames[0][0], 0x81);
  });

  it("compresses with the window a client asked for (a frame of its own)", () => {
    const r = relay();
    const nine = rawClient(r, "room", "permessage-deflate; server_max_window_bits=9");
    const full = rawClient(r, "room", "permessage-deflate");
    r.publish("room", CHAT);
    assert.notEqual(nine.frames[0], full.frames[0]);
    assert.equal(payloadOf(nine.frames[0]), CHAT);
  });

  it("compresses envelope-mode messages, and keeps replies plain", () => {
    const r = relay();
    const socket = new FakeSocket("permessage-deflate");
    const events = envelopeWebSocketEvents(r, POLICY);
    events.onOpen!(new Event("open"), { raw: socket } as unknown as WSContext<WebSocketConnection>);
    events.onMessage!(
      { data: JSON.stringify({ type: "subscribe", channel: "room" }) } as MessageEvent,
      {} as WSContext<WebSocketConnection>,
    );
    r.publish("room", CHAT);
    assert.equal(socket.frames.length, 2);
    assert.equal(socket.frames[0][0] & RSV1, 0);
    assert.equal(JSON.parse(payloadOf(socket.frames[0])).type, "subscribed");
    assert.equal(socket.frames[1][0] & RSV1, RSV1);
    assert.equal(JSON.parse(payloadOf(socket.frames[1])).text, CHAT);
  });

  it("holds a compressing subscriber to --max-queued-bytes like any other", () => {
    const r = relay(10_000);
    const slow = rawClient(r, "room", "permessage-deflate");
    slow.bufferedAmount = 50_000;
    r.publish("room", CHAT);
    assert.equal(slow.closedSlow, true);
    assert.equal(r.counters.slowConsumerCloses, 1);
  });
});
