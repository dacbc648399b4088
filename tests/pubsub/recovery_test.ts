import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Broker, type HistoryResult, MemoryBroker, recover } from "../../src/pubsub/mod.ts";

function publishN(broker: MemoryBroker, channel: string, n: number): void {
  for (let i = 1; i <= n; i++) broker.publish(channel, `m${i}`);
}

describe("recover (all or nothing)", () => {
  it("returns exactly the missed messages, in order, ending at the latest seq", async () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 8);
    const { epoch } = broker.state("c");
    const r = await recover(broker, "c", 5, epoch);
    assert.equal(r.recovered, true);
    assert.deepEqual(r.messages.map((m) => [m.seq, m.data]), [[6, "m6"], [7, "m7"], [8, "m8"]]);
    assert.equal(r.seq, 8);
    assert.equal(r.epoch, epoch);
  });

  it("answers synchronously with the memory broker", () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 2);
    const r = recover(broker, "c", 1, broker.state("c").epoch);
    assert.ok(!(r instanceof Promise));
    assert.deepEqual(r.messages.map((m) => m.seq), [2]);
  });

  it("recovers with nothing to replay when the client is up to date", async () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 3);
    const r = await recover(broker, "c", 3, broker.state("c").epoch);
    assert.deepEqual([r.recovered, r.messages.length, r.seq], [true, 0, 3]);
  });

  it("recovers from since 0 while history still holds seq 1, whatever epoch the client names", async () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 2);
    const r = await recover(broker, "c", 0, "an-epoch-from-elsewhere");
    assert.equal(r.recovered, true);
    assert.deepEqual(r.messages.map((m) => m.seq), [1, 2]);
  });

  it("replays nothing when history was trimmed by size past since + 1", async () => {
    const broker = new MemoryBroker({ historySize: 3 });
    publishN(broker, "c", 6);
    const { epoch } = broker.state("c");
    const trimmed = await recover(broker, "c", 2, epoch); // seq 3 is gone
    assert.deepEqual([trimmed.recovered, trimmed.messages, trimmed.seq], [false, [], 6]);
    const edge = await recover(broker, "c", 3, epoch); // 4, 5, 6 are all there
    assert.deepEqual(edge.messages.map((m) => m.seq), [4, 5, 6]);
  });

  it("replays nothing when the TTL expired the next message", async () => {
    let now = 0;
    const broker = new MemoryBroker({ historyTtlMs: 100, now: () => now });
    publishN(broker, "c", 2);
    now = 50;
    broker.publish("c", "m3");
    const { epoch } = broker.state("c");
    now = 120; // seq 1 and 2 expired, seq 3 not
    assert.equal((await recover(broker, "c", 1, epoch)).recovered, false);
    assert.deepEqual((await recover(broker, "c", 2, epoch)).messages.map((m) => m.seq), [3]);
  });

  it("replays nothing when the epoch changed (another broker instance, same seqs)", async () => {
    const before = new MemoryBroker();
    publishN(before, "c", 5);
    const oldEpoch = before.state("c").epoch;
    const after = new MemoryBroker(); // a restart
    publishN(after, "c", 5);
    const r = await recover(after, "c", 2, oldEpoch);
    assert.equal(r.recovered, false);
    assert.deepEqual(r.messages, []);
    assert.equal(r.epoch, after.state("c").epoch);
  });

  it("replays nothing for a since in the future", async () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 2);
    const r = await recover(broker, "c", 9, broker.state("c").epoch);
    assert.deepEqual([r.recovered, r.messages, r.seq], [false, [], 2]);
  });

  it("replays nothing for since > 0 without an epoch (its lineage cannot be checked)", async () => {
    const broker = new MemoryBroker();
    publishN(broker, "c", 4);
    assert.equal((await recover(broker, "c", 2)).recovered, false);
  });

  it("replays nothing when a broker claims contiguous history that has a hole", async () => {
    const inner = new MemoryBroker();
    publishN(inner, "c", 4);
    const full = inner.history("c", { since: 0 });
    const lying: HistoryResult = {
      ...full,
      messages: full.messages.filter((m) => m.seq !== 2),
      contiguous: true,
    };
    const broker = { history: () => lying } as unknown as Broker;
    assert.equal((await recover(broker, "c", 0)).recovered, false);
  });
});
