/**
 * Resume through `EnvelopeSession` on a memory broker with history: a `subscribe` with `since` and `epoch`
 * replays what the client missed, in order, then live messages; a wrong epoch or trimmed history replays
 * nothing (`recovered: false`); a replay is exempt from the slow-consumer rule in its turn only; and repeated
 * resyncs while the send queue is over the bound wait and merge into one replay.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { type ChannelState, MemoryBroker } from "../../src/pubsub/mod.ts";
import { EnvelopeSession, Relay } from "../../src/relay/mod.ts";
import { AsyncBroker } from "../support/fake_broker.ts";
import { ENVELOPE_TEST_WIRE, fakeClient, nextTurn, testPolicy } from "../support/fake_outbound.ts";

function relay(maxQueuedBytes = 1024 * 1024, historySize = 100): Relay {
  return new Relay(new MemoryBroker({ historySize }), { maxQueuedBytes, maxChannelsPerConnection: 8 });
}

function envelopeClient(r: Relay) {
  return fakeClient((out) => new EnvelopeSession(r, out, ENVELOPE_TEST_WIRE, testPolicy()));
}

function publishMany(r: Relay, channel: string, count: number, text = (i: number) => `m${i}`): void {
  for (let i = 1; i <= count; i++) r.publish(channel, text(i));
}

function epochOf(r: Relay, channel: string): string {
  return (r.broker.state(channel) as ChannelState).epoch;
}

function subscribe(session: EnvelopeSession, channel: string, since?: number, epoch?: string): void {
  session.receive(JSON.stringify({ type: "subscribe", channel, since, epoch }));
}

describe("EnvelopeSession resume", () => {
  it("replays the missed messages in order with recovered true, then delivers live ones", () => {
    const r = relay();
    publishMany(r, "news", 5);
    const epoch = epochOf(r, "news");
    const { out, session } = envelopeClient(r);
    subscribe(session, "news", 2, epoch);
    r.publish("news", "live");
    assert.deepEqual(out.json(), [
      { type: "subscribed", channel: "news", seq: 5, epoch, recovered: true },
      { type: "message", channel: "news", seq: 3, text: "m3" },
      { type: "message", channel: "news", seq: 4, text: "m4" },
      { type: "message", channel: "news", seq: 5, text: "m5" },
      { type: "message", channel: "news", seq: 6, text: "live" },
    ]);
  });

  it("replays nothing and says recovered true when the client is up to date", () => {
    const r = relay();
    publishMany(r, "news", 3);
    const { out, session } = envelopeClient(r);
    subscribe(session, "news", 3, epochOf(r, "news"));
    assert.deepEqual(out.json().map((m) => [m.type, m.recovered]), [["subscribed", true]]);
  });

  it("replays nothing with recovered false for a wrong epoch, then delivers live messages", () => {
    const r = relay();
    publishMany(r, "news", 5);
    const { out, session } = envelopeClient(r);
    subscribe(session, "news", 2, "an-epoch-of-another-life");
    r.publish("news", "live");
    const replies = out.json();
    assert.deepEqual(replies.map((m) => [m.type, m.seq, m.recovered]), [
      ["subscribed", 5, false],
      ["message", 6, undefined],
    ]);
    assert.equal(replies[0].epoch, epochOf(r, "news"), "the client learns the epoch to resync in");
  });

  it("replays nothing with recovered false when history no longer reaches since + 1", () => {
    const r = relay(1024 * 1024, 3);
    publishMany(r, "news", 5); // history keeps 3..5
    const { out, session } = envelopeClient(r);
    subscribe(session, "news", 1, epochOf(r, "news"));
    assert.deepEqual(out.json().map((m) => [m.type, m.seq, m.recovered]), [["subscribed", 5, false]]);
  });

  it("sends a replay past maxQueuedBytes whole, then closes as slow the backlog it leaves in a later turn", async () => {
    const r = relay(300);
    publishMany(r, "news", 10, (i) => `${i}`.padEnd(60, "."));
    const { out, session } = envelopeClient(r);
    subscribe(session, "news", 0);
    assert.equal(out.json().filter((m) => m.type === "message").length, 10);
    assert.ok(out.bufferedAmount > 2 * 300, `replayed ${out.bufferedAmount} bytes`);
    assert.equal(out.open, true, "a replay is exempt in its own turn");
    await nextTurn();
    r.publish("news", "live");
    assert.deepEqual(out.endings.map((e) => e.kind), ["slow"]);
    assert.equal(r.counters.slowConsumerCloses, 1);
  });

  it("makes repeated subscribes with since 0 wait while the send queue is over the bound, then replays once", async () => {
    const r = relay(300);
    publishMany(r, "news", 10, (i) => `${i}`.padEnd(60, "."));
    const { out, session } = envelopeClient(r);
    try {
      subscribe(session, "news", 0);
      await nextTurn();
      out.clearWrites();
      for (let i = 0; i < 5; i++) subscribe(session, "news", 0); // the client resyncs again and again
      await sleep(120);
      assert.deepEqual(out.writes, [], "nothing is replayed while the previous replay is unread");
      out.drain();
      await sleep(120);
      const replies = out.json();
      assert.equal(replies.filter((m) => m.type === "subscribed").length, 1, "one replay, not five");
      assert.deepEqual(
        replies.filter((m) => m.type === "message").map((m) => m.seq),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal(out.open, true);
      r.publish("news", "live");
      assert.equal(out.json().at(-1).seq, 11, "the merged resync is subscribed to live messages");
    } finally {
      session.closed();
    }
  });

  it("replaces a waiting resync by a later one of the same channel (the last since wins)", async () => {
    const r = relay(300);
    publishMany(r, "news", 10, (i) => `${i}`.padEnd(60, "."));
    const epoch = epochOf(r, "news");
    const { out, session } = envelopeClient(r);
    try {
      subscribe(session, "news", 0);
      await nextTurn();
      out.clearWrites();
      subscribe(session, "news", 0);
      subscribe(session, "news", 8, epoch);
      out.drain();
      await sleep(120);
      assert.deepEqual(out.json().map((m) => m.seq), [10, 9, 10], "subscribed at 10, then 9 and 10 replayed");
    } finally {
      session.closed();
    }
  });

  it("exempts a replay that arrives in a later turn from an asynchronous broker, as one read in one turn", async () => {
    const broker = new AsyncBroker();
    const r = new Relay(broker, { maxQueuedBytes: 300, maxChannelsPerConnection: 8 });
    for (let i = 1; i <= 10; i++) broker.inner.publish("news", `${i}`.padEnd(60, "."));
    const { out, session } = fakeClient((o) => new EnvelopeSession(r, o, ENVELOPE_TEST_WIRE, testPolicy()));
    try {
      subscribe(session, "news", 0);
      assert.equal(out.writes.length, 0, "the history is read asynchronously");
      await sleep(30);
      const replies = out.json();
      assert.deepEqual(replies.map((m) => m.seq), [10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(replies[0].recovered, true);
      assert.equal(out.open, true);
    } finally {
      session.closed();
    }
  });

  it("answers a subscribe the broker cannot serve with an error unavailable and forgets the channel", async () => {
    const broker = new AsyncBroker();
    const r = new Relay(broker, { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 1 });
    const { out, session } = fakeClient((o) => new EnvelopeSession(r, o, ENVELOPE_TEST_WIRE, testPolicy()));
    const quiet = console.error;
    console.error = () => {};
    try {
      broker.failSubscribe = true;
      subscribe(session, "news");
      await sleep(30);
      subscribe(session, "other"); // the failed channel does not hold the only place
      await sleep(30);
      assert.deepEqual(out.json().map((m) => m.code ?? m.type), ["unavailable", "subscribed"]);
      assert.equal(out.endings.length, 0);
    } finally {
      console.error = quiet;
      session.closed();
    }
  });

  // When a resync replaces a join still in flight on an asynchronous broker (Redis), the replaced join still
  // settles (ChannelRegistry.join resolves for a join that `leave` cancelled); its outcome must not clear the
  // newer join's replay state (it did: the replay lost its exemption and the client was closed as slow after
  // 7 of 10 messages).
  it("keeps the replay exemption of a resync sent while the previous join is still reading history", async () => {
    const broker = new AsyncBroker();
    const r = new Relay(broker, { maxQueuedBytes: 300, maxChannelsPerConnection: 8 });
    for (let i = 1; i <= 10; i++) broker.inner.publish("news", `${i}`.padEnd(60, "."));
    const { out, session } = fakeClient((o) => new EnvelopeSession(r, o, ENVELOPE_TEST_WIRE, testPolicy()));
    try {
      subscribe(session, "news", 0);
      subscribe(session, "news", 0); // in the same read: the first join is still in flight
      await sleep(30);
      assert.equal(out.open, true, "a resync is a replay, exempt in its turn");
      assert.deepEqual(out.json().map((m) => m.seq), [10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      session.closed();
    }
  });

  // Same cause: the replaced join's failure must not forget the channel the newer join subscribed (it did: the
  // client got both `error unavailable` and `subscribed`, and the closed session stayed a subscriber).
  it("leaves every joined channel on close after a resync whose replaced join failed", async () => {
    const broker = new AsyncBroker();
    const r = new Relay(broker, { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
    const { out, session } = fakeClient((o) => new EnvelopeSession(r, o, ENVELOPE_TEST_WIRE, testPolicy()));
    const quiet = console.error;
    console.error = () => {};
    try {
      broker.failSubscribe = true;
      subscribe(session, "news");
      subscribe(session, "news"); // replaces the first join, which then fails
      await sleep(30);
      assert.deepEqual(out.json().map((m) => m.code ?? m.type), ["subscribed"]);
    } finally {
      console.error = quiet;
      session.closed();
    }
    assert.equal(r.registry.has("news", session), false, "a closed session is no subscriber");
  });
});
