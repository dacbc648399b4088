/**
 * `RawSession` on a fake outbound and a memory broker: what the client sends is published unchanged and comes
 * back to every subscriber of the channel as it was; a client without publish permission, or text too big once
 * JSON-escaped, is failed; shutdown ends it as going away.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { type ChannelMessage, MemoryBroker } from "../../src/pubsub/mod.ts";
import { END_REASON, EnvelopeSession, RawSession, Relay, type SessionPolicy } from "../../src/relay/mod.ts";
import {
  ENVELOPE_TEST_WIRE,
  fakeClient,
  grant,
  RAW_TEST_WIRE,
  testPolicy,
} from "../support/fake_outbound.ts";
import { AsyncBroker } from "../support/fake_broker.ts";

const MAX_MESSAGE_BYTES = 100;

function relay(): Relay {
  return new Relay(new MemoryBroker(), { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
}

function rawClient(r: Relay, channel = "room", policy: SessionPolicy = testPolicy()) {
  return fakeClient((out) => new RawSession(r, out, RAW_TEST_WIRE, channel, policy));
}

function stored(r: Relay, channel: string): ChannelMessage[] {
  return (r.broker.history(channel, { since: 0 }) as { messages: ChannelMessage[] }).messages;
}

describe("RawSession", () => {
  it("publishes text and binary unchanged and delivers them to every subscriber, the sender included", () => {
    const r = relay();
    const alice = rawClient(r);
    const bob = rawClient(r);
    const bytes = new Uint8Array([0, 255, 1, 254]);
    alice.session.receive("héllo \u{1f600}");
    alice.session.receive(bytes);
    assert.deepEqual(stored(r, "room").map((m) => m.data), ["héllo \u{1f600}", bytes]);
    for (const { out } of [alice, bob]) {
      assert.equal(out.writes.length, 2);
      assert.equal(new TextDecoder().decode(out.writes[0]), "héllo \u{1f600}");
      assert.deepEqual(out.writes[1], bytes);
    }
    assert.equal(alice.out.writes[0], bob.out.writes[0], "one encoding shared by every subscriber");
  });

  it("gets no subscribed reply, only messages, including those published in envelope mode", () => {
    const r = relay();
    const raw = rawClient(r);
    const envelope = fakeClient((out) => new EnvelopeSession(r, out, ENVELOPE_TEST_WIRE, testPolicy()));
    envelope.session.receive(JSON.stringify({ type: "publish", channel: "room", text: "from envelope" }));
    assert.deepEqual(raw.out.texts(), ["from envelope"]);
  });

  it("is failed with END_REASON.Policy when its token does not allow publishing, and publishes nothing", () => {
    const r = relay();
    const { out, session } = rawClient(
      r,
      "room",
      testPolicy({ permissions: grant({ subscribe: ["room"] }) }),
    );
    session.receive("hello");
    session.receive("again");
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["fail", END_REASON.Policy]]);
    assert.deepEqual(stored(r, "room"), []);
  });

  it("takes text of exactly maxMessageBytes once JSON-escaped", () => {
    const r = relay();
    const { out, session } = rawClient(r, "room", testPolicy({ maxMessageBytes: MAX_MESSAGE_BYTES }));
    session.receive("a".repeat(MAX_MESSAGE_BYTES));
    session.receive('"'.repeat(MAX_MESSAGE_BYTES / 2)); // each escaped as \" (2 bytes)
    assert.equal(out.endings.length, 0);
    assert.equal(stored(r, "room").length, 2);
  });

  const tooBig: [string, string][] = [
    ["quotes", '"'.repeat(MAX_MESSAGE_BYTES / 2 + 1)],
    ["control characters", "\u0001".repeat(MAX_MESSAGE_BYTES / 6 + 1)],
    ["plain text", "a".repeat(MAX_MESSAGE_BYTES + 1)],
  ];
  for (const [what, text] of tooBig) {
    it(`fails with END_REASON.TooBig on ${what} past maxMessageBytes once JSON-escaped, publishing nothing`, () => {
      const r = relay();
      const { out, session } = rawClient(r, "room", testPolicy({ maxMessageBytes: MAX_MESSAGE_BYTES }));
      session.receive(text);
      assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["fail", END_REASON.TooBig]]);
      assert.deepEqual(stored(r, "room"), []);
    });
  }

  it("ends with END_REASON.GoingAway on shutdown", () => {
    const r = relay();
    const { out, session } = rawClient(r);
    session.shutdown();
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["end", END_REASON.GoingAway]]);
  });

  it("leaves its channel once closed", async () => {
    const r = relay();
    const { out, session } = rawClient(r);
    assert.equal(r.registry.has("room", session), true);
    session.shutdown();
    await Promise.resolve(); // the transport reports the close in a microtask
    assert.equal(r.registry.has("room", session), false);
    r.publish("room", "after");
    assert.equal(out.writes.length + out.writesAfterEnd, 0);
  });

  it("ends with END_REASON.Unavailable when the broker cannot serve its channel", async () => {
    const broker = new AsyncBroker();
    broker.failSubscribe = true;
    const r = new Relay(broker, { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
    const quiet = console.error;
    console.error = () => {};
    try {
      const { out } = rawClient(r);
      await sleep(30);
      assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["end", END_REASON.Unavailable]]);
      assert.equal(r.counters.connections, 0);
    } finally {
      console.error = quiet;
    }
  });
});
