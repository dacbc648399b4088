/**
 * What every session shares, on fake outbounds: the relay counts open sessions, and `Relay.shutdown()` ends
 * every open one as going away, whatever its mode.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { END_REASON, EnvelopeSession, RawSession, Relay } from "../../src/relay/mod.ts";
import {
  ENVELOPE_TEST_WIRE,
  fakeClient,
  type FakeOutbound,
  RAW_TEST_WIRE,
  testPolicy,
} from "../support/fake_outbound.ts";
import { AsyncBroker } from "../support/fake_broker.ts";

function relay(): Relay {
  return new Relay(new MemoryBroker(), { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
}

const envelope = (r: Relay) =>
  fakeClient((out) => new EnvelopeSession(r, out, ENVELOPE_TEST_WIRE, testPolicy()));
const raw = (r: Relay, channel: string) =>
  fakeClient((out) => new RawSession(r, out, RAW_TEST_WIRE, channel, testPolicy()));

/** Lets the fake transports report their closes (queued as microtasks). */
const closesReported = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("Session and Relay lifecycle", () => {
  it("counts connections up as sessions open and down as they close, once per session", () => {
    const r = relay();
    const a = envelope(r);
    const b = raw(r, "room");
    const c = raw(r, "room");
    assert.equal(r.counters.connections, 3);
    b.session.closed();
    b.session.closed();
    r.closed(b.session); // a transport reporting the same close twice
    assert.equal(r.counters.connections, 2);
    a.session.closed();
    c.session.closed();
    assert.equal(r.counters.connections, 0);
  });

  it("Relay.shutdown ends every open session with END_REASON.GoingAway", async () => {
    const r = relay();
    const clients = [envelope(r), raw(r, "a"), raw(r, "b"), envelope(r)];
    r.shutdown();
    for (const { out } of clients) {
      assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["end", END_REASON.GoingAway]]);
    }
    await closesReported();
    assert.equal(r.counters.connections, 0);
    assert.equal(r.registry.stats().channels, 0, "every channel was left");
  });

  it("Relay.shutdown leaves sessions that already closed alone", async () => {
    const r = relay();
    const gone = raw(r, "room");
    const open = raw(r, "room");
    gone.session.closed();
    r.shutdown();
    const endings = (out: FakeOutbound) => out.endings.map((e) => e.reason);
    assert.deepEqual(endings(gone.out), []);
    assert.deepEqual(endings(open.out), [END_REASON.GoingAway]);
    await closesReported();
    assert.equal(r.counters.connections, 0);
  });

  it("ignores a command that arrives after the session closed", async () => {
    const r = relay();
    const { out, session } = envelope(r);
    session.closed();
    session.receive(JSON.stringify({ type: "publish", channel: "news", text: "late" }));
    await closesReported();
    assert.equal(out.writes.length, 0);
    assert.equal(r.counters.messagesIn, 0);
  });

  it("drops the ack of a publish stored after its session closed (asynchronous broker)", async () => {
    const broker = new AsyncBroker();
    const r = new Relay(broker, { maxQueuedBytes: 1024 * 1024, maxChannelsPerConnection: 8 });
    const { out, session } = envelope(r);
    session.receive(JSON.stringify({ type: "publish", channel: "news", text: "in flight", id: "p1" }));
    session.closed();
    await sleep(20);
    assert.equal(broker.inner.state("news").seq, 1, "the message was stored");
    assert.equal(out.writes.length, 0, "no ack to a closed session");
  });
});
