/**
 * `EnvelopeSession` command handling on a fake outbound and a real memory broker: the replies of subscribe,
 * unsubscribe and publish, every error code a session answers, the end of a session that sends binary, and the
 * error budget that fails a client flooding invalid commands.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { END_REASON, EnvelopeSession, Relay, type SessionPolicy } from "../../src/relay/mod.ts";
import { ENVELOPE_TEST_WIRE, fakeClient, grant, testPolicy } from "../support/fake_outbound.ts";

const MAX_CHANNELS = 3;

function relay(): Relay {
  return new Relay(new MemoryBroker(), {
    maxQueuedBytes: 1024 * 1024,
    maxChannelsPerConnection: MAX_CHANNELS,
  });
}

function envelopeClient(r: Relay, policy: SessionPolicy = testPolicy()) {
  return fakeClient((out) => new EnvelopeSession(r, out, ENVELOPE_TEST_WIRE, policy));
}

function send(session: EnvelopeSession, command: Record<string, unknown>): void {
  session.receive(JSON.stringify(command));
}

describe("EnvelopeSession commands", () => {
  it("answers subscribe with subscribed (seq and epoch of the channel, recovered false)", () => {
    const r = relay();
    r.publish("news", "before");
    const { out, session } = envelopeClient(r);
    send(session, { type: "subscribe", channel: "news" });
    const epoch = r.broker.state("news");
    assert.deepEqual(out.json(), [
      {
        type: "subscribed",
        channel: "news",
        seq: 1,
        epoch: (epoch as { epoch: string }).epoch,
        recovered: false,
      },
    ]);
  });

  it("delivers messages of a subscribed channel as message envelopes", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    send(session, { type: "subscribe", channel: "news" });
    out.clearWrites();
    r.publish("news", "hello");
    r.publish("news", new Uint8Array([1, 2, 3]));
    r.publish("other", "not for us");
    assert.deepEqual(out.json(), [
      { type: "message", channel: "news", seq: 1, text: "hello" },
      { type: "message", channel: "news", seq: 2, binary: "AQID" },
    ]);
  });

  it("answers publish with an ack carrying the client's id and the message's seq", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    send(session, { type: "publish", channel: "news", text: "one", id: "p1" });
    send(session, { type: "publish", channel: "news", binary: "AQID" });
    assert.deepEqual(out.json(), [
      { type: "ack", id: "p1", channel: "news", seq: 1 },
      { type: "ack", channel: "news", seq: 2 },
    ]);
    const stored = r.broker.history("news", { since: 0 });
    assert.deepEqual(
      (stored as { messages: { data: unknown }[] }).messages.map((m) => m.data),
      ["one", new Uint8Array([1, 2, 3])],
    );
  });

  it("answers unsubscribe with unsubscribed and stops delivering that channel", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    send(session, { type: "subscribe", channel: "news" });
    out.clearWrites();
    send(session, { type: "unsubscribe", channel: "news" });
    r.publish("news", "after");
    assert.deepEqual(out.json(), [{ type: "unsubscribed", channel: "news" }]);
    assert.equal(r.registry.has("news", session), false);
  });

  const errors: [string, string, string][] = [
    ["bad_json", "text that is not JSON", "{"],
    ["bad_command", "a JSON value that is not an object", "[1]"],
    ["bad_command", "a subscribe without a channel", '{"type":"subscribe"}'],
    ["bad_command", "a negative since", '{"type":"subscribe","channel":"a","since":-1}'],
    [
      "bad_command",
      "a publish with both text and binary",
      '{"type":"publish","channel":"a","text":"","binary":""}',
    ],
    [
      "bad_command",
      "a publish of text with a lone surrogate",
      '{"type":"publish","channel":"a","text":"x\\ud800"}',
    ],
    ["unknown_type", "an unknown type", '{"type":"shout","channel":"a"}'],
    ["bad_channel", "a channel name with a slash", '{"type":"subscribe","channel":"a/b"}'],
    ["bad_channel", "an empty channel name", '{"type":"publish","channel":"","text":"x"}'],
    ["not_subscribed", "unsubscribe from a channel never joined", '{"type":"unsubscribe","channel":"a"}'],
  ];
  for (const [code, what, text] of errors) {
    it(`answers ${what} with an error ${code} and stays open`, () => {
      const r = relay();
      const { out, session } = envelopeClient(r);
      session.receive(text);
      const replies = out.json();
      assert.equal(replies.length, 1);
      assert.equal(replies[0].type, "error");
      assert.equal(replies[0].code, code);
      assert.equal(typeof replies[0].message, "string");
      assert.equal(out.endings.length, 0);
    });
  }

  it("stores nothing for a publish of text with a lone surrogate", () => {
    const r = relay();
    const { session } = envelopeClient(r);
    session.receive('{"type":"publish","channel":"a","text":"\\udc00"}');
    assert.equal(r.counters.messagesIn, 0);
    assert.equal((r.broker.state("a") as { seq: number }).seq, 0);
  });

  it("echoes a publish's id in its error", () => {
    const r = relay();
    const { out, session } = envelopeClient(r, testPolicy({ permissions: grant({}) }));
    send(session, { type: "publish", channel: "news", text: "x", id: "p9" });
    assert.equal(out.json()[0].id, "p9");
    assert.equal(out.json()[0].code, "forbidden");
  });

  it("answers a subscribe past maxChannelsPerConnection with too_many_channels and joins nothing more", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    for (let i = 0; i < MAX_CHANNELS; i++) send(session, { type: "subscribe", channel: `c${i}` });
    send(session, { type: "subscribe", channel: "one-too-many" });
    send(session, { type: "subscribe", channel: "c0" }); // a resync of a joined channel is not a new one
    const replies = out.json();
    assert.deepEqual(replies.map((m) => m.type), [
      "subscribed",
      "subscribed",
      "subscribed",
      "error",
      "subscribed",
    ]);
    assert.equal(replies[3].code, "too_many_channels");
    assert.equal(r.registry.has("one-too-many", session), false);
  });

  it("answers a forbidden subscribe or publish with an error forbidden and keeps the connection", () => {
    const r = relay();
    const permissions = grant({ subscribe: ["open"], publish: ["open"] });
    const { out, session } = envelopeClient(r, testPolicy({ permissions }));
    send(session, { type: "subscribe", channel: "secret" });
    send(session, { type: "publish", channel: "secret", text: "x" });
    send(session, { type: "subscribe", channel: "open" });
    const replies = out.json();
    assert.deepEqual(replies.map((m) => m.code ?? m.type), ["forbidden", "forbidden", "subscribed"]);
    assert.equal(r.registry.has("secret", session), false);
    assert.equal((r.broker.state("secret") as { seq: number }).seq, 0, "nothing was published");
    assert.equal(out.endings.length, 0);
  });

  it("ends the session with END_REASON.Unsupported on a binary frame", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    session.receive(new TextEncoder().encode('{"type":"subscribe","channel":"news"}'));
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["end", END_REASON.Unsupported]]);
    assert.deepEqual(out.writes, [], "the binary frame was not taken as a command");
  });

  it("fails the session with END_REASON.Policy at the 21st invalid command of a burst", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    for (let i = 0; i < 20; i++) session.receive("not json");
    assert.equal(out.json().length, 20, "every invalid command got its error");
    assert.equal(out.endings.length, 0, "20 invalid commands are within the budget");
    session.receive("not json");
    assert.deepEqual(out.endings.map((e) => [e.kind, e.reason]), [["fail", END_REASON.Policy]]);
    assert.match(out.endings[0].detail, /invalid commands/);
  });

  it("counts refused commands (forbidden, bad_channel) against the error budget too", () => {
    const r = relay();
    const { out, session } = envelopeClient(r, testPolicy({ permissions: grant({}) }));
    for (let i = 0; i < 10; i++) send(session, { type: "subscribe", channel: "secret" });
    for (let i = 0; i < 10; i++) send(session, { type: "subscribe", channel: "bad/name" });
    assert.equal(out.endings.length, 0);
    send(session, { type: "publish", channel: "secret", text: "x" });
    assert.deepEqual(out.endings.map((e) => e.kind), ["fail"]);
  });

  it("does not count valid commands against the error budget", () => {
    const r = relay();
    const { out, session } = envelopeClient(r);
    for (let i = 0; i < 19; i++) session.receive("not json");
    for (let i = 0; i < 50; i++) send(session, { type: "publish", channel: "news", text: `${i}` });
    session.receive("not json");
    assert.equal(out.endings.length, 0);
  });
});
