import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type Broker,
  type BrokerListener,
  type BrokerStats,
  type ChannelMessage,
  ChannelRegistry,
  type ChannelState,
  type HistoryOptions,
  type HistoryResult,
  MemoryBroker,
  type Subscriber,
} from "../../src/pubsub/mod.ts";
import { AsyncBroker, RecordingSubscriber } from "../support/fake_broker.ts";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("ChannelRegistry with the memory broker", () => {
  it("tells a subscriber it is subscribed, then fans each message out to every subscriber in order", () => {
    const broker = new MemoryBroker();
    const registry = new ChannelRegistry(broker);
    const a = new RecordingSubscriber();
    const b = new RecordingSubscriber();
    registry.join("c", a);
    registry.join("c", b);
    const first = broker.publish("c", "one");
    broker.publish("c", "two");
    broker.publish("other", "not for them");
    assert.deepEqual(a.states, [{ channel: "c", seq: 0, epoch: first.epoch, recovered: false }]);
    assert.equal(a.events[0] !== undefined && "subscribed" in a.events[0], true);
    assert.deepEqual(a.seqs, [1, 2]);
    assert.deepEqual(b.seqs, [1, 2]);
    assert.equal((a.events[1] as { message: ChannelMessage }).message, first, "one object shared by all");
  });

  it("joins synchronously: replay and subscription are in place when join returns", () => {
    const broker = new MemoryBroker();
    const registry = new ChannelRegistry(broker);
    for (let i = 0; i < 4; i++) broker.publish("c", `m${i}`);
    const s = new RecordingSubscriber();
    const result = registry.join("c", s, { since: 1, epoch: broker.state("c").epoch });
    assert.equal(result, undefined);
    assert.deepEqual(s.states.map((x) => [x.seq, x.recovered]), [[4, true]]);
    assert.deepEqual(s.seqs, [2, 3, 4]);
    broker.publish("c", "live");
    assert.deepEqual(s.seqs, [2, 3, 4, 5]);
  });

  it("replays nothing and says recovered false when history no longer reaches since + 1", () => {
    const broker = new MemoryBroker({ historySize: 2 });
    for (let i = 0; i < 5; i++) broker.publish("c", "x");
    const s = new RecordingSubscriber();
    registry(broker).join("c", s, { since: 1, epoch: broker.state("c").epoch });
    assert.deepEqual(s.states.map((x) => [x.seq, x.recovered]), [[5, false]]);
    broker.publish("c", "x");
    assert.deepEqual(s.seqs, [6]);
  });

  it("lists channels with local subscribers by name, with counts and the latest seq", () => {
    const broker = new MemoryBroker();
    const reg = new ChannelRegistry(broker);
    const [s1, s2, s3] = [new RecordingSubscriber(), new RecordingSubscriber(), new RecordingSubscriber()];
    broker.publish("zeta", "x");
    reg.join("zeta", s1);
    reg.join("alpha", s1);
    reg.join("alpha", s2);
    reg.join("alpha", s3);
    broker.publish("alpha", "x");
    broker.publish("alpha", "y");
    broker.publish("nobody-here", "x");
    assert.deepEqual(reg.list(), [
      { channel: "alpha", subscribers: 3, seq: 2 },
      { channel: "zeta", subscribers: 1, seq: 1 },
    ]);
    reg.leave("alpha", s2);
    reg.leave("zeta", s1);
    assert.deepEqual(reg.list(), [{ channel: "alpha", subscribers: 2, seq: 2 }]);
    assert.equal(reg.subscriberCount("alpha"), 2);
    assert.equal(reg.has("alpha", s2), false);
    assert.equal(reg.has("alpha", s3), true);
  });

  it("releases the broker subscription with the last local subscriber", () => {
    const broker = new MemoryBroker();
    const reg = new ChannelRegistry(broker);
    const s = new RecordingSubscriber();
    reg.join("c", s);
    assert.equal(broker.stats().channels, 1);
    assert.equal(reg.leave("c", s), true);
    assert.equal(reg.leave("c", s), false);
    assert.equal(broker.stats().channels, 0, "the broker reclaimed the unused, empty channel");
    broker.publish("c", "x");
    assert.deepEqual(s.seqs, []);
    assert.equal(reg.stats().channels, 0);
  });

  it("refuses a second join of the same subscriber to the same channel", () => {
    const reg = registry(new MemoryBroker());
    const s = new RecordingSubscriber();
    reg.join("c", s);
    assert.throws(() => reg.join("c", s), TypeError);
  });

  it("refuses a join from inside the channel's own delivery (it would duplicate that message)", () => {
    const broker = new MemoryBroker();
    const reg = new ChannelRegistry(broker);
    const late = new RecordingSubscriber();
    let error: unknown;
    const joiner: Subscriber = {
      subscribed() {},
      deliver() {
        try {
          reg.join("c", late);
        } catch (e) {
          error = e;
        }
      },
    };
    reg.join("c", joiner);
    broker.publish("c", "x");
    assert.ok(error instanceof Error);
    assert.deepEqual(late.events, []);
  });

  it("keeps delivering when a subscriber throws or leaves during the fan-out", () => {
    const broker = new MemoryBroker();
    const errors: unknown[] = [];
    const reg = new ChannelRegistry(broker, { onError: (e) => void errors.push(e) });
    const thrower: Subscriber = {
      subscribed() {},
      deliver() {
        throw new Error("boom");
      },
    };
    const leaver: Subscriber = { subscribed() {}, deliver: () => void reg.leave("c", leaver) };
    const last = new RecordingSubscriber();
    reg.join("c", thrower);
    reg.join("c", leaver);
    reg.join("c", last);
    broker.publish("c", "1");
    broker.publish("c", "2");
    assert.deepEqual(last.seqs, [1, 2]);
    assert.equal(errors.length, 2);
    assert.equal(reg.subscriberCount("c"), 2);
  });

  it("counts subscriptions and deliveries, replays included", () => {
    const broker = new MemoryBroker();
    const reg = new ChannelRegistry(broker);
    broker.publish("c", "x");
    reg.join("c", new RecordingSubscriber(), { since: 0 });
    reg.join("c", new RecordingSubscriber());
    broker.publish("c", "y");
    assert.deepEqual(reg.stats(), {
      channels: 1,
      subscribers: 2,
      delivered: 3,
      resumesRecovered: 1,
      resumesUnrecovered: 0,
    });
  });

  it("counts resumes by outcome: a join with since is recovered or not, a plain join is no resume", () => {
    const broker = new MemoryBroker({ historySize: 2 });
    const reg = new ChannelRegistry(broker);
    const { epoch } = broker.publish("c", "1");
    broker.publish("c", "2");
    broker.publish("c", "3");
    reg.join("c", new RecordingSubscriber(), { since: 1, epoch }); // 2 and 3 kept: recovered
    reg.join("c", new RecordingSubscriber(), { since: 0 }); // 1 evicted: not recovered
    reg.join("c", new RecordingSubscriber(), { since: 2, epoch: "other" }); // another epoch: not recovered
    reg.join("c", new RecordingSubscriber());
    const { resumesRecovered, resumesUnrecovered } = reg.stats();
    assert.deepEqual({ resumesRecovered, resumesUnrecovered }, {
      resumesRecovered: 1,
      resumesUnrecovered: 2,
    });
  });
});

function registry(broker: MemoryBroker): ChannelRegistry {
  return new ChannelRegistry(broker);
}

describe("ChannelRegistry with an asynchronous broker", () => {
  it("loses and repeats nothing published before, during and after a join with replay", async () => {
    const broker = new AsyncBroker();
    const reg = new ChannelRegistry(broker);
    for (let i = 0; i < 5; i++) broker.inner.publish("c", "before");
    const { epoch } = broker.inner.state("c");
    // Published after the attach but before the history read: in both the read and the live stream.
    broker.beforeRead = () => [1, 2].forEach(() => broker.inner.publish("c", "overlap"));
    // Published after the read: only live.
    broker.afterRead = () => [1, 2].forEach(() => broker.inner.publish("c", "after"));
    const s = new RecordingSubscriber();
    let publishing = true;
    const publisher = (async () => {
      while (publishing) await broker.publish("c", "concurrent");
    })();
    await reg.join("c", s, { since: 2, epoch });
    for (let i = 0; i < 3; i++) await broker.publish("c", "later");
    publishing = false;
    await publisher;
    const latest = broker.inner.state("c").seq;
    assert.equal(s.states.length, 1);
    assert.equal(s.states[0].recovered, true);
    assert.ok("subscribed" in s.events[0], "subscribed comes first");
    assert.deepEqual(s.seqs, range(3, latest));
  });

  it("delivers every message after the state read to a join without resume, none twice", async () => {
    const broker = new AsyncBroker();
    const reg = new ChannelRegistry(broker);
    const existing = new RecordingSubscriber();
    await reg.join("c", existing); // a second join finds the channel already attached
    broker.beforeRead = () => broker.inner.publish("c", "x");
    broker.afterRead = () => broker.inner.publish("c", "y");
    const s = new RecordingSubscriber();
    await reg.join("c", s);
    broker.inner.publish("c", "z");
    const [state] = s.states;
    assert.equal(state.recovered, false);
    assert.deepEqual(s.seqs, range(state.seq + 1, 3));
    assert.deepEqual(existing.seqs, [1, 2, 3]);
  });

  it("cancels a join when the subscriber leaves before it completes, releasing the broker", async () => {
    const broker = new AsyncBroker();
    const reg = new ChannelRegistry(broker);
    const s = new RecordingSubscriber();
    const joining = reg.join("c", s);
    assert.equal(reg.leave("c", s), true);
    await joining;
    await new Promise((resolve) => setTimeout(resolve, 5));
    broker.inner.publish("c", "x");
    assert.deepEqual(s.events, []);
    assert.equal(reg.stats().channels, 0);
    assert.equal(broker.listeners.get("c")?.size ?? 0, 0);
  });

  it("rejects a join when the broker cannot subscribe, leaves nothing behind, and a retry works", async () => {
    const broker = new AsyncBroker();
    const reg = new ChannelRegistry(broker);
    const s = new RecordingSubscriber();
    broker.failSubscribe = true;
    await assert.rejects(async () => await reg.join("c", s), /subscribe failed/);
    assert.equal(reg.stats().channels, 0);
    await reg.join("c", s);
    broker.inner.publish("c", "x");
    assert.deepEqual(s.seqs, [1]);
  });

  it("tells subscribers when the channel's history is lost, before any message of the new epoch", async () => {
    const broker = new AsyncBroker();
    const reg = new ChannelRegistry(broker);
    const s = new RecordingSubscriber();
    await reg.join("c", s);
    broker.announceEpoch("c", { seq: 0, epoch: "fresh" });
    assert.deepEqual(s.states.at(-1), { channel: "c", seq: 0, epoch: "fresh", recovered: false });
    assert.deepEqual(reg.list(), [{ channel: "c", subscribers: 1, seq: 0 }]);
  });
});

const lagTick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * A remote broker whose live stream lags behind its store, the way a Redis node's pub/sub connection can trail
 * reads made on its command connection: `store` numbers messages, `live` hands stored ones to the listener.
 */
class LaggingBroker implements Broker {
  readonly nodeId = "lagging";
  epoch = "e1";
  stored: ChannelMessage[] = [];
  listener: BrokerListener | undefined;
  readonly #idle = new MemoryBroker();

  /** Stores messages up to `seq` without delivering them. */
  store(seq: number): void {
    while (this.stored.length < seq) {
      const next = this.stored.length + 1;
      this.stored.push({ channel: "c", seq: next, epoch: this.epoch, data: `m${next}`, publishedAt: 0 });
    }
  }

  /** Delivers stored messages `from`..`to` live. */
  live(from: number, to: number): void {
    for (let seq = from; seq <= to; seq++) this.listener!.message(this.stored[seq - 1]);
  }

  /** History lost: a new lineage starts empty. */
  restart(epoch: string): void {
    this.epoch = epoch;
    this.stored = [];
  }

  publish(): Promise<ChannelMessage> {
    return Promise.reject(new Error("not used"));
  }
  async subscribe(_channel: string, listener: BrokerListener): Promise<void> {
    await lagTick();
    this.listener = listener;
  }
  async unsubscribe(): Promise<void> {
    await lagTick();
    this.listener = undefined;
  }
  async history(_channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    await lagTick();
    const since = options.since ?? 0;
    const seq = this.stored.length;
    return {
      seq,
      epoch: this.epoch,
      messages: this.stored.slice(since),
      contiguous: since <= seq && (since === 0 || options.epoch === this.epoch),
    };
  }
  async state(): Promise<ChannelState> {
    await lagTick();
    return { seq: this.stored.length, epoch: this.epoch };
  }
  ready(): boolean {
    return true;
  }
  stats(): BrokerStats {
    return this.#idle.stats(); // counters are not what these tests are about
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe("ChannelRegistry when the history read is ahead of the node's live stream", () => {
  it("delivers each replayed message once when live delivery catches up after the join", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    broker.store(6);
    const s = new RecordingSubscriber();
    await reg.join("c", s, { since: 2, epoch: "e1" });
    assert.deepEqual(s.seqs, [3, 4, 5, 6], "the replay");
    broker.live(3, 6); // the node's pub/sub catches up with what the read already returned
    broker.store(8);
    broker.live(7, 8);
    assert.deepEqual(s.seqs, [3, 4, 5, 6, 7, 8]);
    assert.equal(s.states.length, 1);
    assert.equal(reg.subscriberCount("c"), 1);
    assert.deepEqual(reg.stats().delivered, 6);
  });

  it("delivers nothing at or below the state a join without resume was told", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    const early = new RecordingSubscriber();
    await reg.join("c", early);
    broker.store(5);
    broker.live(1, 2);
    const s = new RecordingSubscriber();
    await reg.join("c", s);
    assert.deepEqual(s.states.map((x) => [x.seq, x.recovered]), [[5, false]]);
    broker.live(3, 5);
    broker.store(6);
    broker.live(6, 6);
    assert.deepEqual(s.seqs, [6]);
    assert.deepEqual(early.seqs, [1, 2, 3, 4, 5, 6]);
  });

  it("keeps quiet about a hole the subscriber's replay already covers, and announces one past it", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    broker.store(6);
    const s = new RecordingSubscriber();
    await reg.join("c", s, { since: 0 });
    broker.listener!.epochChanged("c", { epoch: "e1", seq: 4 }); // the node skipped 1..4
    broker.live(5, 6);
    assert.deepEqual(s.states.length, 1, "no recovered:false for a hole below the replay");
    broker.store(9);
    broker.listener!.epochChanged("c", { epoch: "e1", seq: 8 }); // the node skipped 7..8
    broker.live(9, 9);
    assert.deepEqual(s.seqs, [1, 2, 3, 4, 5, 6, 9]);
    assert.deepEqual(s.states.map((x) => [x.seq, x.recovered]), [[6, true], [8, false]]);
  });

  it("after a read in a new lineage, drops the old lineage's late messages and the new one's replayed ones", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    const early = new RecordingSubscriber();
    await reg.join("c", early);
    broker.store(3);
    broker.restart("e2"); // the node's live stream still has e1 messages 1..3 to deliver
    broker.store(2);
    const s = new RecordingSubscriber();
    await reg.join("c", s, { since: 0 });
    assert.deepEqual(s.states.map((x) => [x.epoch, x.seq, x.recovered]), [["e2", 2, true]]);
    broker.live(1, 2); // e2 1..2 are in the store; first deliver the old lineage's stragglers
    const stale = { channel: "c", seq: 3, epoch: "e1", data: "old", publishedAt: 0 };
    broker.listener!.message(stale);
    assert.deepEqual(s.seqs, [1, 2], "nothing live yet: e2 1..2 were replayed, e1 is not its lineage");
    broker.listener!.epochChanged("c", { epoch: "e2", seq: 0 }); // the node starts the new lineage at 0
    broker.live(1, 2);
    broker.store(3);
    broker.live(3, 3);
    assert.deepEqual(s.seqs, [1, 2, 3]);
    assert.equal(s.states.length, 1, "the lineage it was told about did not change");
  });

  it("announces a lineage change that happens before the node catches up with the replay", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    broker.store(4);
    const s = new RecordingSubscriber();
    await reg.join("c", s, { since: 0 });
    broker.listener!.epochChanged("c", { epoch: "e3", seq: 0 });
    broker.restart("e3");
    broker.store(1);
    broker.live(1, 1);
    assert.deepEqual(s.states.map((x) => [x.epoch, x.seq, x.recovered]), [["e1", 4, true], ["e3", 0, false]]);
    assert.deepEqual(s.seqs, [1, 2, 3, 4, 1]);
  });

  it("counts a subscriber waiting for the node to catch up, and lets it leave", async () => {
    const broker = new LaggingBroker();
    const reg = new ChannelRegistry(broker);
    broker.store(3);
    const s = new RecordingSubscriber();
    await reg.join("c", s, { since: 0 });
    assert.equal(reg.has("c", s), true);
    assert.equal(reg.subscriberCount("c"), 1);
    assert.deepEqual(reg.list(), [{ channel: "c", subscribers: 1, seq: 3 }]);
    assert.throws(() => reg.join("c", s), TypeError);
    assert.equal(reg.leave("c", s), true);
    assert.equal(reg.stats().subscribers, 0);
    assert.equal(reg.stats().channels, 0);
  });
});
