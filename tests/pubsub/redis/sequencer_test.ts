import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChannelMessage, ChannelState } from "../../../src/pubsub/mod.ts";
import { ChannelSequencer, type FetchResult } from "../../../src/pubsub/redis/sequencer.ts";

const msg = (seq: number, epoch = "e1"): ChannelMessage => ({
  channel: "c",
  seq,
  epoch,
  data: `m${seq}`,
  publishedAt: 0,
});

/** A fake channel stream: `stored` is what Redis still has, `seq`/`epoch` its state; fetches wait for `answer`. */
class FakeStream {
  epoch = "e1";
  seq = 0;
  stored = new Map<number, ChannelMessage>();
  fetches: { from: number; to: number | undefined }[] = [];
  fail = false;
  events: string[] = [];
  #waiting: (() => void)[] = [];

  store(...seqs: number[]): void {
    for (const seq of seqs) {
      this.stored.set(seq, msg(seq, this.epoch));
      this.seq = Math.max(this.seq, seq);
    }
  }

  sequencer(maxHeldMessages = 100): ChannelSequencer {
    return new ChannelSequencer({
      deliver: (m) => this.events.push(`${m.epoch}:${m.seq}`),
      reset: (s: ChannelState) => this.events.push(`reset ${s.epoch}:${s.seq}`),
      fetch: (from, to) => {
        this.fetches.push({ from, to });
        return new Promise<FetchResult>((resolve, reject) =>
          this.#waiting.push(() => {
            if (this.fail) return reject(new Error("down"));
            const end = Math.min(to ?? this.seq, this.seq);
            const messages: ChannelMessage[] = [];
            for (let s = from; s <= end; s++) {
              const m = this.stored.get(s);
              if (m !== undefined) messages.push(m);
            }
            resolve({ state: { epoch: this.epoch, seq: this.seq }, messages });
          })
        );
      },
      onError: () => this.events.push("error"),
    }, { maxHeldMessages, retryMs: 5 });
  }

  /** Answers the pending fetches and lets their continuations run. */
  async answer(): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const go of waiting) go();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

describe("ChannelSequencer", () => {
  it("delivers in seq order from the start state and drops duplicates", () => {
    const stream = new FakeStream();
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 3 });
    for (const s of [4, 4, 5, 3, 6]) seq.accept(msg(s));
    assert.deepEqual(stream.events, ["e1:4", "e1:5", "e1:6"]);
    assert.deepEqual(stream.fetches, []);
  });

  it("holds messages that arrive before the start state and delivers only those after it", () => {
    const stream = new FakeStream();
    const seq = stream.sequencer();
    for (const s of [2, 3, 4]) seq.accept(msg(s));
    assert.deepEqual(stream.events, []);
    seq.start({ epoch: "e1", seq: 2 });
    assert.deepEqual(stream.events, ["e1:3", "e1:4"]);
  });

  it("fills a hole from the stream and delivers everything in order", async () => {
    const stream = new FakeStream();
    stream.store(1, 2, 3, 4, 5);
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 0 });
    seq.accept(msg(1));
    seq.accept(msg(4)); // 2 and 3 were lost by pub/sub
    seq.accept(msg(5));
    assert.deepEqual(stream.events, ["e1:1"]);
    assert.deepEqual(stream.fetches, [{ from: 2, to: 3 }]);
    await stream.answer();
    assert.deepEqual(stream.events, ["e1:1", "e1:2", "e1:3", "e1:4", "e1:5"]);
  });

  it("announces a hole the stream no longer has with a reset in the same epoch, then goes on", async () => {
    const stream = new FakeStream();
    stream.store(1, 5, 6); // 2..4 were trimmed
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 1 });
    seq.accept(msg(5));
    seq.accept(msg(6));
    await stream.answer();
    assert.deepEqual(stream.events, ["reset e1:4", "e1:5", "e1:6"]);
    seq.accept(msg(7));
    assert.deepEqual(stream.events.at(-1), "e1:7");
  });

  it("skips a hole it cannot read when the fetch fails, announcing it", async () => {
    const stream = new FakeStream();
    stream.fail = true;
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 0 });
    seq.accept(msg(3));
    await stream.answer();
    assert.deepEqual(stream.events, ["error", "reset e1:2", "e1:3"]);
  });

  it("resets to a new epoch when a message of another epoch arrives, before delivering it", () => {
    const stream = new FakeStream();
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 7 });
    seq.accept(msg(8));
    seq.accept(msg(1, "e2"));
    seq.accept(msg(2, "e2"));
    assert.deepEqual(stream.events, ["e1:8", "reset e2:0", "e2:1", "e2:2"]);
  });

  it("check after a reconnect delivers what was missed, from the stream", async () => {
    const stream = new FakeStream();
    stream.store(1, 2, 3);
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 1 });
    seq.check();
    assert.deepEqual(stream.fetches, [{ from: 2, to: undefined }]);
    await stream.answer();
    assert.deepEqual(stream.events, ["e1:2", "e1:3"]);
    seq.accept(msg(3)); // the live copy arriving late is a duplicate
    assert.deepEqual(stream.events, ["e1:2", "e1:3"]);
  });

  it("check resets to the new epoch when the channel's lineage was lost (Redis restarted empty)", async () => {
    const stream = new FakeStream();
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 9 });
    stream.epoch = "e2";
    stream.seq = 0;
    stream.store(1);
    seq.check();
    await stream.answer();
    // The new lineage is announced from its start and read from its stream: nothing of it is skipped.
    assert.deepEqual(stream.events, ["reset e2:0"]);
    await stream.answer();
    assert.deepEqual(stream.events, ["reset e2:0", "e2:1"]);
    seq.accept(msg(1, "e2")); // the live copy arriving late is a duplicate
    seq.accept(msg(2, "e2"));
    assert.deepEqual(stream.events, ["reset e2:0", "e2:1", "e2:2"]);
  });

  it("a message of a new lineage that is not its first fetches the lineage's earlier messages first", async () => {
    const stream = new FakeStream();
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 4 });
    stream.epoch = "e2";
    stream.seq = 0;
    stream.store(1, 2, 3);
    seq.accept(msg(3, "e2"));
    assert.deepEqual(stream.events, ["reset e2:0"]);
    assert.deepEqual(stream.fetches.at(-1), { from: 1, to: 2 });
    await stream.answer();
    assert.deepEqual(stream.events, ["reset e2:0", "e2:1", "e2:2", "e2:3"]);
  });

  it("retries a check that got no answer", async () => {
    const stream = new FakeStream();
    stream.store(1, 2);
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 0 });
    stream.fail = true;
    seq.check();
    await stream.answer();
    assert.deepEqual(stream.events, ["error"]);
    stream.fail = false;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await stream.answer();
    assert.deepEqual(stream.events, ["error", "e1:1", "e1:2"]);
    seq.close();
  });

  it("ignores a fetch that answers after a reset made it stale", async () => {
    const stream = new FakeStream();
    stream.store(1, 2, 3);
    const seq = stream.sequencer();
    seq.start({ epoch: "e1", seq: 0 });
    seq.accept(msg(3)); // fetch of 1..2 starts
    seq.accept(msg(1, "e2")); // the lineage changed meanwhile
    await stream.answer();
    assert.deepEqual(stream.events, ["reset e2:0", "e2:1"]);
  });

  it("gives up holding past maxHeldMessages: announces the hole and delivers what it holds", () => {
    const stream = new FakeStream();
    const seq = stream.sequencer(3);
    seq.start({ epoch: "e1", seq: 0 });
    for (const s of [2, 3, 4, 5]) seq.accept(msg(s));
    assert.deepEqual(stream.events, ["reset e1:1", "e1:2", "e1:3", "e1:4", "e1:5"]);
  });

  it("never leaves a silent gap: every delivery follows the previous seq or a reset just before it", async () => {
    // Random pub/sub losses and reorderings over a stream that keeps only the last 5 messages.
    let rng = 7;
    const random = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      const stream = new FakeStream();
      const seq = stream.sequencer(8);
      seq.start({ epoch: "e1", seq: 0 });
      const live: number[] = [];
      for (let s = 1; s <= 60; s++) {
        stream.store(s);
        stream.stored.delete(s - 5);
        if (random() > 0.3) live.push(s);
        if (random() > 0.7 && live.length > 1) live.splice(live.length - 2, 2, live.at(-1)!, live.at(-2)!);
      }
      for (const s of live) {
        seq.accept(msg(s));
        if (random() > 0.5) await stream.answer();
      }
      for (let i = 0; i < 10; i++) await stream.answer();
      let last = 0;
      for (const event of stream.events) {
        const value = Number(event.split(":")[1]);
        if (event.startsWith("reset")) last = value;
        else if (event !== "error") {
          assert.equal(value, last + 1, `round ${round}: ${stream.events.join(", ")}`);
          last = value;
        }
      }
      assert.equal(last, live.length === 0 ? 0 : Math.max(...live), `round ${round} ends at the latest`);
    }
  });
});
