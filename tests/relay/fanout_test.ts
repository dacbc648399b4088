/**
 * The slow-consumer rule of `Relay` on a fake outbound: backlog left from earlier turns is bounded by
 * `maxQueuedBytes`, one turn may add that much plus its largest frame on top, a history replay is exempt in its
 * own turn only, and replies count like messages.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { Relay, type SendAccount } from "../../src/relay/mod.ts";
import { FakeOutbound, nextTurn, RAW_TEST_WIRE } from "../support/fake_outbound.ts";

const MAX = 1000;

function relay(): Relay {
  return new Relay(new MemoryBroker(), { maxQueuedBytes: MAX, maxChannelsPerConnection: 8 });
}

/** A send account as a session holds it, on a fake outbound that keeps everything queued. */
function account(): SendAccount & { out: FakeOutbound } {
  return {
    out: new FakeOutbound(),
    wire: RAW_TEST_WIRE,
    turn: -1,
    turnBytes: 0,
    turnLargestFrame: 0,
    turnReplayBytes: 0,
  };
}

function frame(bytes: number): Uint8Array {
  return new Uint8Array(bytes);
}

/** Delivers `total` bytes as frames of `size` (the last one shorter when it does not divide). */
function deliverBytes(r: Relay, to: SendAccount, total: number, size = 100): void {
  for (let sent = 0; sent < total; sent += size) r.deliver(to, frame(Math.min(size, total - sent)));
}

describe("Relay slow-consumer rule", () => {
  it("Relay.deliver closes a consumer as slow once its backlog from earlier turns passes maxQueuedBytes", async () => {
    const r = relay();
    const a = account();
    deliverBytes(r, a, MAX + 1);
    assert.equal(a.out.open, true, "one turn's burst is within its allowance");
    await nextTurn();
    r.deliver(a, frame(1));
    assert.deepEqual(a.out.endings.map((e) => e.kind), ["slow"]);
    assert.equal(r.counters.slowConsumerCloses, 1);
  });

  it("Relay.deliver keeps a consumer whose backlog from earlier turns is exactly maxQueuedBytes", async () => {
    const r = relay();
    const a = account();
    deliverBytes(r, a, MAX);
    await nextTurn();
    r.deliver(a, frame(1));
    await nextTurn();
    a.out.bufferedAmount = MAX;
    r.deliver(a, frame(MAX));
    assert.equal(a.out.open, true);
    assert.equal(r.counters.slowConsumerCloses, 0);
  });

  it("Relay.deliver counts a slow close once, however many frames follow it", async () => {
    const r = relay();
    const a = account();
    a.out.bufferedAmount = MAX + 1;
    r.deliver(a, frame(1));
    assert.equal(a.out.open, false);
    // The transport answers closeSlow() with false once the connection is no longer open.
    a.out.bufferedAmount = 10 * MAX;
    for (let i = 0; i < 5; i++) r.deliver(a, frame(1));
    await nextTurn();
    r.deliver(a, frame(1));
    assert.equal(r.counters.slowConsumerCloses, 1);
    assert.equal(a.out.endings.length, 1);
  });

  it("Relay.deliver allows one turn's burst of maxQueuedBytes plus its largest frame on top of a full backlog", () => {
    const r = relay();
    const a = account();
    a.out.bufferedAmount = MAX; // left by earlier turns, at the bound
    deliverBytes(r, a, MAX); // 10 frames of 100
    r.deliver(a, frame(200)); // the largest frame: the allowance is MAX + 200
    assert.equal(a.out.bufferedAmount, 2 * MAX + 200);
    assert.equal(a.out.open, true);
  });

  it("Relay.deliver closes a burst that passes its allowance in one turn on top of a full backlog", () => {
    const r = relay();
    const a = account();
    a.out.bufferedAmount = MAX;
    deliverBytes(r, a, MAX);
    r.deliver(a, frame(200));
    r.deliver(a, frame(1));
    assert.deepEqual(a.out.endings.map((e) => e.kind), ["slow"]);
    assert.equal(r.counters.slowConsumerCloses, 1);
  });

  it("Relay.deliver closes within one turn once a burst passes twice maxQueuedBytes plus its largest frame", () => {
    const r = relay();
    const a = account();
    deliverBytes(r, a, 2 * MAX + 100);
    assert.equal(a.out.open, true, "2 × max + largest frame is the most one turn may leave queued");
    r.deliver(a, frame(1));
    assert.equal(a.out.open, false);
    assert.equal(r.counters.slowConsumerCloses, 1);
  });

  it("Relay.deliver always lets a single frame larger than maxQueuedBytes through to an empty queue", () => {
    const r = relay();
    const a = account();
    r.deliver(a, frame(5 * MAX));
    assert.equal(a.out.open, true);
  });

  it("Relay.deliver never closes a reader that empties its queue between turns", async () => {
    const r = relay();
    const a = account();
    for (let turn = 0; turn < 5; turn++) {
      deliverBytes(r, a, 2 * MAX);
      a.out.drain();
      await nextTurn();
    }
    assert.equal(a.out.open, true);
    assert.equal(a.out.writes.length, 5 * 20);
  });

  it("Relay.replay lets a history replay past the bound in its turn, then counts it as backlog in the next", async () => {
    const r = relay();
    const a = account();
    for (let i = 0; i < 10; i++) r.replay(a, frame(MAX));
    r.deliver(a, frame(100)); // a live message in the same turn is within its own allowance
    assert.equal(a.out.open, true, "a replay goes out whole");
    assert.equal(r.counters.slowConsumerCloses, 0);
    await nextTurn();
    r.deliver(a, frame(1));
    assert.equal(a.out.open, false, "what the replay left queued is backlog now");
    assert.equal(r.counters.slowConsumerCloses, 1);
  });

  it("Relay.replay exempts only its own turn: a later turn's burst is bounded again", async () => {
    const r = relay();
    const a = account();
    for (let i = 0; i < 10; i++) r.replay(a, frame(MAX));
    await nextTurn();
    a.out.bufferedAmount = MAX / 2; // the client read most of the replay
    deliverBytes(r, a, MAX / 2 + MAX + 100); // backlog + burst - (MAX + largest frame) = MAX
    assert.equal(a.out.open, true);
    r.deliver(a, frame(1));
    assert.equal(a.out.open, false);
  });

  it("Relay.replay is not counted as backlog once the client read it", async () => {
    const r = relay();
    const a = account();
    for (let i = 0; i < 10; i++) r.replay(a, frame(MAX));
    a.out.drain();
    await nextTurn();
    r.deliver(a, frame(1));
    assert.equal(a.out.open, true);
  });

  it("Relay.reply counts replies against maxQueuedBytes", async () => {
    const r = relay();
    const a = account();
    const text = "x".repeat(143); // 7 × 143 = 1001 bytes
    for (let i = 0; i < 7; i++) r.reply(a, text);
    assert.equal(a.out.bufferedAmount, MAX + 1);
    assert.equal(a.out.open, true);
    await nextTurn();
    r.reply(a, "y");
    assert.equal(a.out.open, false, "a backlog of replies closes like a backlog of messages");
    assert.equal(r.counters.slowConsumerCloses, 1);
    assert.equal(r.counters.messagesOut, 0, "replies are not messages");
  });

  it("Relay.reply closes a slow consumer whose backlog is made of messages", () => {
    const r = relay();
    const a = account();
    a.out.bufferedAmount = MAX + 1;
    r.reply(a, "{}");
    assert.equal(a.out.open, false);
  });

  it("Relay counts messages and bytes in on publish and out on deliver and replay", () => {
    const r = relay();
    const a = account();
    r.publish("news", "hello");
    r.publish("news", new Uint8Array(3));
    r.deliver(a, frame(10));
    r.replay(a, frame(20));
    assert.equal(r.counters.messagesIn, 2);
    assert.equal(r.counters.bytesIn, 8);
    assert.equal(r.counters.messagesOut, 2);
    assert.equal(r.counters.bytesOut, 30);
  });
});
