import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BrokerFullError,
  type BrokerListener,
  type ChannelMessage,
  MemoryBroker,
  recover,
} from "../../src/pubsub/mod.ts";
import { MESSAGE_OVERHEAD_BYTES } from "../../src/pubsub/history_ring.ts";

/** A listener that records what reaches it. */
function recorder(): BrokerListener & { messages: ChannelMessage[] } {
  const messages: ChannelMessage[] = [];
  return { messages, message: (m) => void messages.push(m), epochChanged() {} };
}

/** A clock tests move by hand. */
function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

describe("MemoryBroker publish", () => {
  it("numbers each channel's messages from 1, independently", () => {
    const broker = new MemoryBroker();
    assert.deepEqual(
      ["a", "a", "b", "a", "b"].map((c) => broker.publish(c, "x").seq),
      [1, 2, 1, 3, 2],
    );
    assert.equal(broker.state("a").seq, 3);
    assert.equal(broker.state("b").seq, 2);
  });

  it("keeps text as text and binary as the same bytes, stamped with the clock and the channel's epoch", () => {
    const t = clock(5000);
    const broker = new MemoryBroker({ now: t.read });
    const bytes = new Uint8Array([0, 1, 255]);
    const text = broker.publish("c", "héllo");
    const binary = broker.publish("c", bytes);
    assert.equal(text.data, "héllo");
    assert.equal(binary.data, bytes);
    assert.equal(text.publishedAt, 5000);
    assert.equal(text.epoch, broker.state("c").epoch);
    assert.equal(binary.epoch, text.epoch);
  });

  it("delivers synchronously, before publish returns, the same object to every listener", () => {
    const broker = new MemoryBroker();
    const first = recorder();
    const second = recorder();
    broker.subscribe("c", first);
    broker.subscribe("c", second);
    const message = broker.publish("c", "hi");
    assert.equal(first.messages.length, 1);
    assert.equal(first.messages[0], message);
    assert.equal(second.messages[0], message);
  });

  it("delivers nothing to listeners of other channels or after unsubscribe", () => {
    const broker = new MemoryBroker();
    const listener = recorder();
    broker.subscribe("a", listener);
    broker.publish("b", "x");
    broker.unsubscribe("a", listener);
    broker.publish("a", "y");
    assert.deepEqual(listener.messages, []);
  });

  it("delivers a publish made from inside a delivery after the current one, keeping seq order for everyone", () => {
    const broker = new MemoryBroker();
    const echo: BrokerListener = {
      message: (m) => void (m.data === "ping" && broker.publish("c", "pong")),
      epochChanged() {},
    };
    const later = recorder();
    broker.subscribe("c", echo);
    broker.subscribe("c", later);
    broker.publish("c", "ping");
    assert.deepEqual(later.messages.map((m) => [m.seq, m.data]), [[1, "ping"], [2, "pong"]]);
  });

  it("keeps delivering to the other listeners when one throws, and reports the error", () => {
    const errors: unknown[] = [];
    const broker = new MemoryBroker({ onError: (e) => void errors.push(e) });
    broker.subscribe("c", {
      message: () => {
        throw new Error("boom");
      },
      epochChanged() {},
    });
    const listener = recorder();
    broker.subscribe("c", listener);
    const message = broker.publish("c", "x");
    assert.equal(message.seq, 1);
    assert.equal(listener.messages.length, 1);
    assert.equal(errors.length, 1);
  });

  it("refuses to publish once closed and reports not ready", () => {
    const broker = new MemoryBroker();
    assert.equal(broker.ready(), true);
    broker.close();
    assert.equal(broker.ready(), false);
    assert.throws(() => broker.publish("c", "x"), /closed/);
  });
});

describe("MemoryBroker epochs", () => {
  it("gives the same channel a different epoch in two broker instances (a restart)", () => {
    const one = new MemoryBroker();
    const two = new MemoryBroker();
    one.publish("c", "x");
    two.publish("c", "x");
    assert.notEqual(one.state("c").epoch, two.state("c").epoch);
    assert.notEqual(one.nodeId, two.nodeId);
  });

  it("gives different channels different epochs", () => {
    const broker = new MemoryBroker();
    broker.publish("a", "x");
    broker.publish("b", "x");
    assert.notEqual(broker.state("a").epoch, broker.state("b").epoch);
  });

  it("reads an unknown channel as seq 0 without creating it", () => {
    const broker = new MemoryBroker();
    const state = broker.state("nothing");
    assert.equal(state.seq, 0);
    assert.equal(typeof state.epoch, "string");
    const history = broker.history("nothing");
    assert.deepEqual(history.messages, []);
    assert.equal(history.contiguous, true);
    assert.equal(broker.stats().channels, 0);
  });
});

describe("MemoryBroker history", () => {
  it("keeps only the last historySize messages", () => {
    const broker = new MemoryBroker({ historySize: 3 });
    for (let i = 1; i <= 5; i++) broker.publish("c", `m${i}`);
    const history = broker.history("c");
    assert.deepEqual(history.messages.map((m) => m.data), ["m3", "m4", "m5"]);
    assert.equal(history.seq, 5);
    assert.equal(history.contiguous, false, "seq 1 and 2 are gone");
  });

  it("drops messages older than historyTtlMs when read", () => {
    const t = clock();
    const broker = new MemoryBroker({ historyTtlMs: 1000, now: t.read });
    broker.publish("c", "old");
    t.now += 600;
    broker.publish("c", "newer");
    t.now += 400; // "old" is exactly 1000 ms old: kept
    assert.deepEqual(broker.history("c").messages.map((m) => m.data), ["old", "newer"]);
    t.now += 1; // now older than the TTL
    assert.deepEqual(broker.history("c").messages.map((m) => m.data), ["newer"]);
    t.now += 600;
    assert.deepEqual(broker.history("c").messages, []);
    assert.equal(broker.stats().retained, 0);
  });

  it("returns messages after since, at most limit, oldest first", () => {
    const broker = new MemoryBroker();
    for (let i = 1; i <= 6; i++) broker.publish("c", `m${i}`);
    const { epoch } = broker.state("c");
    const page = broker.history("c", { since: 2, limit: 3, epoch });
    assert.deepEqual(page.messages.map((m) => m.seq), [3, 4, 5]);
    assert.equal(page.contiguous, true);
    assert.equal(page.seq, 6);
  });

  it("marks history not contiguous for another epoch, a future since, or since > 0 without an epoch", () => {
    const broker = new MemoryBroker();
    for (let i = 1; i <= 3; i++) broker.publish("c", "x");
    const { epoch } = broker.state("c");
    assert.equal(broker.history("c", { since: 1, epoch }).contiguous, true);
    assert.equal(broker.history("c", { since: 1, epoch: "other" }).contiguous, false);
    assert.equal(broker.history("c", { since: 1 }).contiguous, false);
    assert.equal(broker.history("c", { since: 4, epoch }).contiguous, false);
    assert.equal(
      broker.history("c", { since: 0, epoch: "other" }).contiguous,
      true,
      "since 0 needs no epoch",
    );
  });

  it("rejects a negative or fractional since and a zero limit with RangeError", () => {
    const broker = new MemoryBroker();
    assert.throws(() => broker.history("c", { since: -1 }), RangeError);
    assert.throws(() => broker.history("c", { since: 1.5 }), RangeError);
    assert.throws(() => broker.history("c", { limit: 0 }), RangeError);
  });

  it("rejects invalid options at construction", () => {
    assert.throws(() => new MemoryBroker({ historySize: -1 }), RangeError);
    assert.throws(() => new MemoryBroker({ historySize: 2.5 }), RangeError);
    assert.throws(() => new MemoryBroker({ historyTtlMs: Number.NaN }), RangeError);
  });
});

describe("MemoryBroker channel reclamation", () => {
  it("reclaims a channel when its last listener leaves and it has no history", () => {
    const broker = new MemoryBroker();
    const listener = recorder();
    broker.subscribe("c", listener);
    const before = broker.state("c").epoch;
    assert.equal(broker.stats().channels, 1);
    broker.unsubscribe("c", listener);
    assert.equal(broker.stats().channels, 0);
    broker.subscribe("c", listener);
    assert.notEqual(broker.state("c").epoch, before, "a recreated channel is a new epoch");
  });

  it("keeps a channel without listeners while its history is unexpired", () => {
    const t = clock();
    const broker = new MemoryBroker({ historyTtlMs: 1000, now: t.read });
    const listener = recorder();
    broker.subscribe("c", listener);
    broker.publish("c", "x");
    broker.unsubscribe("c", listener);
    assert.equal(broker.sweep(), 0);
    assert.equal(broker.state("c").seq, 1);
  });

  it("reclaims idle channels whose history expired on sweep, and restarts them at seq 1 in a new epoch", () => {
    const t = clock();
    const broker = new MemoryBroker({ historyTtlMs: 1000, now: t.read });
    broker.publish("idle", "x");
    broker.publish("idle", "y");
    const listener = recorder();
    broker.subscribe("busy", listener);
    broker.publish("busy", "z");
    const oldEpoch = broker.state("idle").epoch;
    t.now += 1001;
    assert.equal(broker.sweep(), 1);
    assert.equal(broker.stats().channels, 1, "a channel with a listener stays");
    assert.equal(broker.state("busy").seq, 1);
    const again = broker.publish("idle", "w");
    assert.equal(again.seq, 1);
    assert.notEqual(again.epoch, oldEpoch);
  });

  it("sweeps automatically when a channel is created after sweepIntervalMs", () => {
    const t = clock();
    const broker = new MemoryBroker({ historyTtlMs: 1000, sweepIntervalMs: 5000, now: t.read });
    for (let i = 0; i < 10; i++) broker.publish(`c${i}`, "x");
    t.now += 2000;
    broker.publish("fresh", "x"); // expired channels remain: the interval has not passed
    assert.equal(broker.stats().channels, 11);
    t.now += 3000;
    broker.publish("fresher", "x");
    assert.equal(broker.stats().channels, 1, "only the channel just created is left");
  });
});

describe("MemoryBroker stats", () => {
  it("counts published messages, channels and retained history", () => {
    const broker = new MemoryBroker({ historySize: 2 });
    for (let i = 0; i < 3; i++) broker.publish("a", "x");
    broker.publish("b", "x");
    assert.deepEqual(broker.stats(), {
      channels: 2,
      published: 4,
      retained: 3,
      retainedBytes: 3 * (MESSAGE_OVERHEAD_BYTES + 2),
    });
  });
});

/** Bytes a one-character text message is charged. */
const SMALL = MESSAGE_OVERHEAD_BYTES + 2;

describe("MemoryBroker history budget", () => {
  it("evicts the least recently active idle channel's oldest messages first, then reclaims it", () => {
    const broker = new MemoryBroker({ maxHistoryBytes: 4 * SMALL });
    broker.publish("old", "a");
    broker.publish("old", "b");
    broker.publish("new", "c");
    broker.publish("new", "d");
    broker.publish("new", "e"); // over by one message: the oldest of "old" goes
    assert.deepEqual(broker.history("old").messages.map((m) => m.data), ["b"]);
    assert.equal(broker.stats().retainedBytes, 4 * SMALL);
    broker.publish("new", "f"); // "old" is emptied and reclaimed
    assert.equal(broker.state("old").seq, 0);
    assert.deepEqual(broker.stats(), { channels: 1, published: 6, retained: 4, retainedBytes: 4 * SMALL });
  });

  it("spares channels with listeners while idle history can be evicted, then trims them from the front", () => {
    const broker = new MemoryBroker({ maxHistoryBytes: 3 * SMALL });
    broker.subscribe("watched", recorder());
    broker.publish("watched", "w");
    broker.publish("watched", "v");
    broker.publish("idle", "i");
    broker.publish("other", "o"); // evicts "idle", not the watched channel's older messages
    assert.equal(broker.state("idle").seq, 0);
    assert.equal(broker.history("watched").messages.length, 2);
    broker.publish("other", "p"); // no idle history left but "other"'s own: the watched channel is trimmed
    assert.deepEqual(broker.history("watched").messages.map((m) => m.seq), [2]);
  });

  it("makes a resume from before the evicted range unrecoverable, and one after it recoverable", async () => {
    const broker = new MemoryBroker({ maxHistoryBytes: 3 * SMALL });
    for (let i = 1; i <= 5; i++) broker.publish("c", "x");
    const epoch = broker.state("c").epoch;
    assert.equal((await recover(broker, "c", 1, epoch)).recovered, false);
    const recovery = await recover(broker, "c", 2, epoch);
    assert.equal(recovery.recovered, true);
    assert.deepEqual(recovery.messages.map((m) => m.seq), [3, 4, 5]);
  });

  it("counts binary by length and text by UTF-16 units, keeping the total within the budget", () => {
    const budget = 64 * 1024;
    const broker = new MemoryBroker({ maxHistoryBytes: budget });
    for (let i = 0; i < 200; i++) {
      broker.publish(`t${i}`, "é".repeat(1000));
      broker.publish(`b${i}`, new Uint8Array(3000));
      assert.ok(broker.stats().retainedBytes <= budget);
    }
    assert.ok(broker.stats().retainedBytes > budget - 3000 - MESSAGE_OVERHEAD_BYTES);
  });

  it("refuses a message larger than the whole budget with BrokerFullError, creating nothing", () => {
    const broker = new MemoryBroker({ maxHistoryBytes: 1000 });
    assert.throws(
      () => broker.publish("big", new Uint8Array(1000)),
      (e) => e instanceof BrokerFullError && e.limit === "maxHistoryBytes",
    );
    assert.equal(broker.stats().channels, 0);
    assert.equal(broker.publish("big", "fits").seq, 1);
  });

  it("charges nothing when historySize is 0", () => {
    const broker = new MemoryBroker({ historySize: 0, maxHistoryBytes: 1 });
    assert.equal(broker.publish("c", "x".repeat(100)).seq, 1);
    assert.equal(broker.stats().retainedBytes, 0);
  });
});

describe("MemoryBroker channel cap", () => {
  it("reclaims the least recently active channel without listeners to make room for a new one", () => {
    const broker = new MemoryBroker({ maxChannels: 2 });
    broker.publish("a", "x");
    broker.publish("b", "x");
    broker.publish("a", "y"); // a is now the more recent
    broker.publish("c", "x");
    assert.equal(broker.stats().channels, 2);
    assert.equal(broker.state("b").seq, 0, "b was reclaimed");
    assert.equal(broker.state("a").seq, 2);
    assert.equal(broker.stats().retainedBytes, 3 * SMALL);
  });

  it("refuses a new channel with BrokerFullError when every channel has listeners, and serves existing ones", () => {
    const broker = new MemoryBroker({ maxChannels: 2 });
    broker.subscribe("a", recorder());
    broker.subscribe("b", recorder());
    for (const create of [() => broker.publish("c", "x"), () => broker.subscribe("c", recorder())]) {
      assert.throws(create, (e) => e instanceof BrokerFullError && e.limit === "maxChannels");
    }
    assert.equal(broker.publish("a", "x").seq, 1);
    assert.equal(broker.stats().channels, 2);
  });

  it("rejects a channel cap below 1 or a negative budget at construction", () => {
    assert.throws(() => new MemoryBroker({ maxChannels: 0 }), RangeError);
    assert.throws(() => new MemoryBroker({ maxHistoryBytes: -1 }), RangeError);
  });

  it("publishes to 100,000 channels under a small cap and budget in linear time", () => {
    const broker = new MemoryBroker({ maxChannels: 1000, maxHistoryBytes: 100 * SMALL });
    const start = performance.now();
    for (let i = 0; i < 100_000; i++) broker.publish(`c${i}`, "x");
    const ms = performance.now() - start;
    assert.deepEqual(broker.stats(), {
      channels: 100,
      published: 100_000,
      retained: 100,
      retainedBytes: 100 * SMALL,
    });
    assert.ok(ms < 5000, `${ms} ms`);
  });
});
