/**
 * `SessionGuard` through the sessions that use it, on a fake outbound: the message rate (a burst of one
 * second's worth, then a policy failure), the channel permissions of a token, and the end of a session whose
 * token expires.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { END_REASON, EnvelopeSession, RawSession, Relay, SessionGuard } from "../../src/relay/mod.ts";
import type { SessionPolicy } from "../../src/relay/mod.ts";
import {
  ENVELOPE_TEST_WIRE,
  fakeClient,
  FakeOutbound,
  grant,
  RAW_TEST_WIRE,
  testPolicy,
} from "../support/fake_outbound.ts";

function relay(): Relay {
  return new Relay(new MemoryBroker(), { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
}

function envelopeClient(r: Relay, policy: SessionPolicy) {
  return fakeClient((out) => new EnvelopeSession(r, out, ENVELOPE_TEST_WIRE, policy));
}

function rawClient(r: Relay, channel: string, policy: SessionPolicy) {
  return fakeClient((out) => new RawSession(r, out, RAW_TEST_WIRE, channel, policy));
}

const publish = (text: string) => JSON.stringify({ type: "publish", channel: "news", text });

describe("SessionGuard rate limit", () => {
  it("lets an envelope client burst maxMessagesPerSecond commands, then fails it with END_REASON.Policy", () => {
    const r = relay();
    const { out, session } = envelopeClient(r, testPolicy({ maxMessagesPerSecond: 5 }));
    for (let i = 0; i < 5; i++) session.receive(publish(`${i}`));
    assert.equal(out.json().filter((m) => m.type === "ack").length, 5);
    assert.equal(out.endings.length, 0);
    session.receive(publish("one too many"));
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason, e.detail]), [[
      "fail",
      END_REASON.Policy,
      "rate limit",
    ]]);
    assert.equal(r.counters.messagesIn, 5, "the message past the rate was not published");
  });

  it("ignores whatever a client sends once it was failed for its rate", () => {
    const r = relay();
    const { out, session } = rawClient(r, "news", testPolicy({ maxMessagesPerSecond: 2 }));
    for (let i = 0; i < 10; i++) session.receive(`${i}`);
    assert.equal(r.counters.messagesIn, 2);
    assert.equal(out.endings.length, 1, "failed once, not once per message");
    assert.equal(out.endings[0].reason, END_REASON.Policy);
  });

  it("counts invalid commands against the rate too", () => {
    const r = relay();
    const { out, session } = envelopeClient(r, testPolicy({ maxMessagesPerSecond: 3 }));
    for (let i = 0; i < 4; i++) session.receive("not json");
    assert.deepEqual(out.endings.map((e) => [e.kind, e.detail]), [["fail", "rate limit"]]);
  });

  it("refills the rate over time", async () => {
    const r = relay();
    const { out, session } = rawClient(r, "news", testPolicy({ maxMessagesPerSecond: 5 }));
    for (let i = 0; i < 5; i++) session.receive(`${i}`);
    await sleep(450); // 5 per second: at least 2 tokens back
    session.receive("a");
    session.receive("b");
    assert.equal(out.endings.length, 0);
    assert.equal(r.counters.messagesIn, 7);
  });

  it("takes any number of messages with maxMessagesPerSecond 0", () => {
    const r = relay();
    const { out, session } = rawClient(r, "news", testPolicy({ maxMessagesPerSecond: 0 }));
    for (let i = 0; i < 5000; i++) session.receive("x");
    assert.equal(out.endings.length, 0);
    assert.equal(r.counters.messagesIn, 5000);
  });
});

describe("SessionGuard permissions", () => {
  it("answers a channel the token does not grant with forbidden, and serves the ones it grants", () => {
    const r = relay();
    const permissions = grant({ subscribe: ["news"], publish: ["chat"] });
    const { out, session } = envelopeClient(r, testPolicy({ permissions }));
    session.receive(JSON.stringify({ type: "subscribe", channel: "chat" }));
    session.receive(JSON.stringify({ type: "publish", channel: "news", text: "x" }));
    session.receive(JSON.stringify({ type: "subscribe", channel: "news" }));
    session.receive(JSON.stringify({ type: "publish", channel: "chat", text: "y" }));
    assert.deepEqual(out.json().map((m) => m.code ?? m.type), [
      "forbidden",
      "forbidden",
      "subscribed",
      "ack",
    ]);
    assert.equal(out.endings.length, 0);
  });

  it("fails a raw client that publishes without publish permission with END_REASON.Policy", () => {
    const r = relay();
    const { out, session } = rawClient(
      r,
      "news",
      testPolicy({ permissions: grant({ subscribe: ["news"] }) }),
    );
    session.receive("hello");
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["fail", END_REASON.Policy]]);
    assert.equal(r.counters.messagesIn, 0);
  });

  it("SessionGuard.refuse fails the connection once and admits nothing after it", () => {
    const out = new FakeOutbound();
    const guard = new SessionGuard(out, testPolicy());
    assert.equal(guard.admit(), true);
    guard.refuse("no");
    guard.refuse("no again");
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason, e.detail]), [[
      "fail",
      END_REASON.Policy,
      "no",
    ]]);
    assert.equal(guard.admit(), false);
  });
});

describe("SessionGuard token expiry", () => {
  it("ends an envelope session with END_REASON.Policy 'token expired' when its token expires", async () => {
    const r = relay();
    const permissions = grant({ subscribe: ["news"], expiresAt: Date.now() + 40 });
    const { out } = envelopeClient(r, testPolicy({ permissions }));
    assert.equal(out.endings.length, 0);
    await sleep(120);
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason, e.detail]), [[
      "end",
      END_REASON.Policy,
      "token expired",
    ]]);
    assert.equal(r.counters.connections, 0, "the transport reported the close");
  });

  it("ends a raw session when its token expires", async () => {
    const r = relay();
    const permissions = grant({ subscribe: ["news"], publish: ["news"], expiresAt: Date.now() + 40 });
    const { out } = rawClient(r, "news", testPolicy({ permissions }));
    await sleep(120);
    assert.deepEqual(out.endings.map((e) => [e.kind, e.detail]), [["end", "token expired"]]);
  });

  it("ends a session at once when its token expired before it started", async () => {
    const r = relay();
    const { out } = envelopeClient(r, testPolicy({ permissions: grant({ expiresAt: Date.now() - 1 }) }));
    assert.deepEqual(out.endings.map((e) => e.detail), ["token expired"]);
    await sleep(0);
    assert.equal(r.counters.connections, 0);
  });

  it("stops watching the token once the session closed", async () => {
    const r = relay();
    const permissions = grant({ subscribe: ["news"], expiresAt: Date.now() + 40 });
    const { out, session } = envelopeClient(r, testPolicy({ permissions }));
    session.closed();
    await sleep(120);
    assert.equal(out.endings.length, 0);
  });
});
