import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChannelMessage, Recovery } from "../../src/pubsub/mod.ts";
import { ReplayBuffer } from "../../src/pubsub/replay_buffer.ts";

const message = (seq: number, epoch = "e1"): ChannelMessage => ({
  channel: "c",
  seq,
  epoch,
  data: `m${seq}`,
  publishedAt: 0,
});
const recovered = (since: number, last: number, epoch = "e1"): Recovery => ({
  seq: last,
  epoch,
  recovered: true,
  messages: Array.from({ length: last - since }, (_, i) => message(since + 1 + i, epoch)),
});

describe("ReplayBuffer", () => {
  it("delivers the replay, then only the held messages newer than it (overlap dropped, none lost)", () => {
    const buffer = new ReplayBuffer("c");
    // Live 5, 6, 7 arrived after the attach; the history read saw up to 6.
    for (const seq of [5, 6, 7]) buffer.push(message(seq));
    const { state, messages } = buffer.settle(recovered(3, 6));
    assert.deepEqual(messages.map((m) => m.seq), [4, 5, 6, 7]);
    assert.deepEqual(state, { channel: "c", seq: 6, epoch: "e1", recovered: true });
  });

  it("without recovery, delivers held messages newer than the state read", () => {
    const buffer = new ReplayBuffer("c");
    for (const seq of [9, 10, 11]) buffer.push(message(seq));
    const { state, messages } = buffer.settle({ seq: 10, epoch: "e1", recovered: false, messages: [] });
    assert.deepEqual(messages.map((m) => m.seq), [11]);
    assert.equal(state.recovered, false);
    assert.equal(state.seq, 10);
  });

  it("voids a replay read before an epoch change and starts unrecovered in the new epoch", () => {
    const buffer = new ReplayBuffer("c");
    buffer.push(message(7, "e1"));
    buffer.epochChanged({ seq: 0, epoch: "e2" });
    buffer.push(message(1, "e2"));
    buffer.push(message(2, "e2"));
    const { state, messages } = buffer.settle(recovered(5, 6, "e1"));
    assert.deepEqual(state, { channel: "c", seq: 0, epoch: "e2", recovered: false });
    assert.deepEqual(messages.map((m) => [m.epoch, m.seq]), [["e2", 1], ["e2", 2]]);
  });

  it("keeps a replay read after the epoch change, dropping held messages of the old epoch", () => {
    const buffer = new ReplayBuffer("c");
    buffer.push(message(7, "e1"));
    buffer.epochChanged({ seq: 0, epoch: "e2" });
    buffer.push(message(1, "e2"));
    buffer.push(message(2, "e2"));
    const { state, messages } = buffer.settle(recovered(0, 1, "e2"));
    assert.equal(state.recovered, true);
    assert.deepEqual(messages.map((m) => [m.epoch, m.seq]), [["e2", 1], ["e2", 2]]);
  });

  it("voids a replay when a hole past it is announced in the same epoch, so no gap is called recovered", () => {
    const buffer = new ReplayBuffer("c");
    // The read covered up to 6; the broker then lost 7..150 and announced the hole at 150.
    buffer.epochChanged({ seq: 150, epoch: "e1" });
    buffer.push(message(151));
    const { state, messages } = buffer.settle(recovered(3, 6));
    assert.deepEqual(state, { channel: "c", seq: 150, epoch: "e1", recovered: false });
    assert.deepEqual(messages.map((m) => m.seq), [151]);
  });
});
