/**
 * LongPolls on the real relay core with the memory broker (and the asynchronous test broker): one registry
 * subscription per channel whatever the number of polls, the timer wheel, the cap, the shutdown, and the
 * windows between opening a poll, reading history and holding it.
 * @module
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Broker, MemoryBroker } from "../../src/pubsub/mod.ts";
import { Relay } from "../../src/relay/mod.ts";
import { type HeldPoll, LongPolls, POLL_END } from "../../src/transports/mod.ts";
import { AsyncBroker } from "../support/fake_broker.ts";

const RELAY_OPTIONS = { maxQueuedBytes: 1 << 20, maxChannelsPerConnection: 16 };
let cleanup: (() => void)[] = [];

function setup(broker: Broker = new MemoryBroker(), options = {}): { relay: Relay; polls: LongPolls } {
  const relay = new Relay(broker, RELAY_OPTIONS);
  const polls = new LongPolls(relay, options);
  cleanup.push(() => polls.shutdown());
  return { relay, polls };
}

/** Opens a poll and holds it after `since` in the channel's current epoch, as the route does. */
async function hold(
  relay: Relay,
  polls: LongPolls,
  channel: string,
  since: number,
  waitMs = 10_000,
): Promise<{ poll: HeldPoll; ended: Promise<HeldPoll> }> {
  const poll = polls.open(channel, waitMs)!;
  await poll.ready;
  const history = await relay.broker.history(channel, { since });
  return { poll, ended: poll.wait(since, history.epoch) };
}

afterEach(() => {
  for (const stop of cleanup) stop();
  cleanup = [];
});

describe("LongPolls", () => {
  it("holds 1000 polls of one channel on a single registry subscription and wakes them all with one publish", async () => {
    const { relay, polls } = setup();
    const held = [];
    for (let i = 0; i < 1000; i++) held.push(await hold(relay, polls, "news", 0));
    assert.equal(relay.registry.subscriberCount("news"), 1);
    assert.equal(polls.held, 1000);
    assert.equal(relay.counters.connections, 1000, "held polls count as open sessions");
    const message = relay.publish("news", "hi");
    const ended = await Promise.all(held.map((h) => h.ended));
    for (const poll of ended) {
      assert.equal(poll.end, POLL_END.Message);
      assert.equal(poll.message, message, "every poll gets the very message object (encoded once)");
    }
    assert.equal(polls.held, 0);
    assert.equal(relay.counters.connections, 0);
  });

  it("ignores messages at or below since and answers the first one after it", async () => {
    const { relay, polls } = setup();
    relay.publish("c", "1");
    // A client ahead of the channel (it has seen 3 in this epoch): 2 and 3 do not wake it, 4 does.
    const poll = polls.open("c", 10_000)!;
    const { epoch } = await relay.broker.state("c");
    const ended = poll.wait(3, epoch);
    relay.publish("c", "2");
    relay.publish("c", "3");
    assert.equal(poll.end, POLL_END.Open);
    relay.publish("c", "4");
    assert.equal((await ended).message?.seq, 4);
  });

  it("answers a poll at once when a message arrived while it read history", async () => {
    const { relay, polls } = setup();
    const poll = polls.open("c", 10_000)!;
    const { epoch } = await relay.broker.state("c");
    relay.publish("c", "in the window");
    const ended = await poll.wait(0, epoch);
    assert.equal(ended.end, POLL_END.Message);
    assert.equal(ended.message?.seq, 1);
  });

  it("times out on the wheel: never before wait, at most about a tick after it", async () => {
    const { relay, polls } = setup();
    const started = performance.now();
    const { ended } = await hold(relay, polls, "quiet", 0, 1000);
    const poll = await ended;
    const elapsed = performance.now() - started;
    assert.equal(poll.end, POLL_END.Timeout);
    assert.ok(elapsed >= 1000 && elapsed < 2500, `answered after ${elapsed.toFixed(0)} ms`);
  });

  it("shortens a wait past maxWaitMs to it", async () => {
    const { relay, polls } = setup(new MemoryBroker(), { maxWaitMs: 1000 });
    const started = performance.now();
    const { ended } = await hold(relay, polls, "quiet", 0, 3_600_000);
    assert.equal((await ended).end, POLL_END.Timeout);
    assert.ok(performance.now() - started < 2500);
  });

  it("refuses a poll past maxHeldPolls and takes one again once a place is free", async () => {
    const { relay, polls } = setup(new MemoryBroker(), { maxHeldPolls: 3 });
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await hold(relay, polls, `c${i}`, 0));
    assert.equal(polls.open("c9", 10_000), null);
    relay.publish("c0", "free one");
    await held[0].ended;
    assert.notEqual(polls.open("c9", 10_000), null);
  });

  it("a cancelled poll gives its place back and leaves no timer entry behind", () => {
    const { polls } = setup(new MemoryBroker(), { maxHeldPolls: 1 });
    const poll = polls.open("c", 10_000)!;
    poll.cancel();
    poll.cancel();
    assert.equal(polls.held, 0);
    assert.notEqual(polls.open("c", 10_000), null);
  });

  it("the relay's shutdown answers held polls and polls still reading history, and later polls at once", async () => {
    const { relay, polls } = setup();
    const { ended } = await hold(relay, polls, "a", 0);
    const reading = polls.open("b", 10_000)!;
    relay.shutdown();
    assert.equal((await ended).end, POLL_END.Shutdown);
    assert.equal((await reading.wait(0, "any")).end, POLL_END.Shutdown);
    const late = polls.open("c", 10_000)!;
    assert.equal((await late.wait(0, "any")).end, POLL_END.Shutdown);
  });

  it("an epoch change answers held polls (and polls reading) as a reset", async () => {
    const broker = new AsyncBroker();
    const { relay, polls } = setup(broker);
    const { ended } = await hold(relay, polls, "r", 0);
    const reading = polls.open("r", 10_000)!;
    await reading.ready;
    broker.announceEpoch("r", { seq: 7, epoch: "new-lineage" });
    assert.equal((await ended).end, POLL_END.Reset);
    assert.equal((await reading.wait(0, "old")).end, POLL_END.Reset);
  });

  it("a message of another epoch than the poll's answers it as a reset", async () => {
    const { relay, polls } = setup();
    const poll = polls.open("e", 10_000)!;
    const ended = poll.wait(0, "an epoch the client saw before the channel was recreated");
    relay.publish("e", "x");
    assert.equal((await ended).end, POLL_END.Reset);
  });

  it("gives a channel's registry subscription back two ticks after its last poll, not at once", async () => {
    const { relay, polls } = setup();
    const { poll, ended } = await hold(relay, polls, "idle", 0);
    relay.publish("idle", "x");
    await ended;
    assert.equal(poll.end, POLL_END.Message);
    assert.equal(relay.registry.subscriberCount("idle"), 1, "kept for the client's next poll");
    await new Promise((resolve) => setTimeout(resolve, 2300));
    assert.equal(relay.registry.subscriberCount("idle"), 0);
    assert.equal(polls.channels, 0);
  });

  it("a channel the broker cannot subscribe is reported to the poll's ready, and its place given back", async () => {
    const broker = new AsyncBroker();
    const { polls } = setup(broker);
    broker.failSubscribe = true;
    const poll = polls.open("f", 10_000)!;
    await assert.rejects(Promise.resolve(poll.ready));
    poll.cancel();
    assert.equal(polls.held, 0);
    assert.equal(polls.channels, 0);
  });
});
