import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChannelMessage } from "../../src/pubsub/mod.ts";
import { HistoryRing, MESSAGE_OVERHEAD_BYTES, retainedBytes } from "../../src/pubsub/history_ring.ts";

const message = (seq: number, publishedAt = 0): ChannelMessage => ({
  channel: "c",
  seq,
  epoch: "e",
  data: `m${seq}`,
  publishedAt,
});

describe("HistoryRing", () => {
  it("keeps the last `capacity` messages after wrapping several times", () => {
    const ring = new HistoryRing(3);
    for (let seq = 1; seq <= 10; seq++) ring.push(message(seq));
    assert.equal(ring.length, 3);
    assert.equal(ring.oldestSeq, 8);
    assert.deepEqual(ring.after(0).map((m) => m.seq), [8, 9, 10]);
  });

  it("returns the messages after `since`, at most `limit`, oldest first", () => {
    const ring = new HistoryRing(5);
    for (let seq = 1; seq <= 7; seq++) ring.push(message(seq));
    assert.deepEqual(ring.after(4).map((m) => m.seq), [5, 6, 7]);
    assert.deepEqual(ring.after(3, 2).map((m) => m.seq), [4, 5]);
    assert.deepEqual(ring.after(7), []);
    assert.deepEqual(ring.after(100), []);
  });

  it("drops messages published before the cutoff from the oldest end only", () => {
    const ring = new HistoryRing(4);
    ring.push(message(1, 10));
    ring.push(message(2, 20));
    ring.push(message(3, 30));
    assert.equal(ring.dropPublishedBefore(25), 2);
    assert.deepEqual(ring.after(0).map((m) => m.seq), [3]);
    ring.push(message(4, 40));
    ring.push(message(5, 50));
    ring.push(message(6, 60));
    ring.push(message(7, 70));
    assert.deepEqual(ring.after(0).map((m) => m.seq), [4, 5, 6, 7]);
    assert.equal(ring.dropPublishedBefore(1000), 4);
    assert.equal(ring.length, 0);
    assert.equal(ring.oldestSeq, undefined);
  });

  it("keeps nothing with capacity 0", () => {
    const ring = new HistoryRing(0);
    ring.push(message(1));
    assert.equal(ring.length, 0);
    assert.deepEqual(ring.after(0), []);
  });

  it("charges text 2 bytes per UTF-16 unit and binary its length, plus the per-message overhead", () => {
    assert.equal(retainedBytes({ ...message(1), data: "héllo" }), MESSAGE_OVERHEAD_BYTES + 10);
    assert.equal(retainedBytes({ ...message(1), data: new Uint8Array(7) }), MESSAGE_OVERHEAD_BYTES + 7);
  });

  it("keeps its byte total through pushes, wrap-around evictions, dropOldest and expiry", () => {
    const ring = new HistoryRing(2);
    const each = retainedBytes(message(1));
    ring.push(message(1, 10));
    ring.push(message(2, 20));
    ring.push(message(3, 30)); // evicts 1
    assert.equal(ring.bytes, 2 * each);
    assert.equal(ring.dropOldest(), each);
    assert.equal(ring.oldestSeq, 3);
    assert.equal(ring.bytes, each);
    assert.equal(ring.dropPublishedBefore(31), 1);
    assert.equal(ring.bytes, 0);
    assert.equal(ring.dropOldest(), 0, "nothing left to drop");
  });
});
