import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ENVELOPE_OVERHEAD_BYTES,
  envelopeTextBytes,
  messageEnvelope,
  parseCommand,
  PUBLISHER_OVERHEAD_BYTES,
  textFitsEnvelope,
} from "../../src/protocol/mod.ts";

const utf8 = (text: string) => new TextEncoder().encode(text).length;

describe("envelope text size", () => {
  it("envelopeTextBytes is the UTF-8 length of the text as JSON.stringify escapes it", () => {
    const samples = [
      "",
      "plain ascii",
      'quote " and backslash \\',
      "\n\r\t\b\f",
      "\x00\x01\x1f\x7f",
      'é€😀 mixed \x02 with " escapes',
      "\u2028\u2029",
    ];
    for (const text of samples) {
      assert.equal(envelopeTextBytes(text), utf8(JSON.stringify(text)) - 2, JSON.stringify(text));
    }
  });

  it("textFitsEnvelope refuses text whose escaped form passes the limit, and keeps the message frame in bound", () => {
    const max = 1000;
    assert.equal(textFitsEnvelope("x".repeat(1000), max), true);
    assert.equal(textFitsEnvelope("x".repeat(1001), max), false);
    assert.equal(textFitsEnvelope("\x01".repeat(166), max), true); // 996 bytes escaped
    assert.equal(textFitsEnvelope("\x01".repeat(167), max), false); // 1002
    assert.equal(textFitsEnvelope("€".repeat(333), max), true); // 999 bytes of UTF-8
    assert.equal(textFitsEnvelope("€".repeat(334), max), false);
    assert.equal(textFitsEnvelope("€".repeat(334), max, 1002), false);
    const fitting = "\x01".repeat(166);
    const frame = messageEnvelope("c".repeat(128), Number.MAX_SAFE_INTEGER, fitting);
    assert.ok(utf8(frame) <= max + ENVELOPE_OVERHEAD_BYTES, `${utf8(frame)} bytes`);
  });
});

describe("parseCommand", () => {
  it("refuses publish text with a lone surrogate as bad_command and accepts a pair", () => {
    const lone = parseCommand('{"type":"publish","channel":"c","text":"a\\ud800b"}');
    assert.ok("error" in lone && lone.error === "bad_command");
    const pair = parseCommand('{"type":"publish","channel":"c","text":"a\\ud83d\\ude00b"}');
    assert.ok(!("error" in pair) && pair.type === "publish" && pair.data === "a\u{1F600}b");
  });
});

describe("publisher in envelopes", () => {
  it("messageEnvelope adds the publisher only when the message has one", () => {
    assert.deepEqual(JSON.parse(messageEnvelope("room", 2, "hi", 'al"ice')), {
      type: "message",
      channel: "room",
      seq: 2,
      publisher: 'al"ice',
      text: "hi",
    });
    assert.equal(messageEnvelope("room", 2, "hi"), '{"type":"message","channel":"room","seq":2,"text":"hi"}');
    const binary = JSON.parse(messageEnvelope("room", 3, new Uint8Array([1]), "bob"));
    assert.equal(binary.publisher, "bob");
    assert.equal(binary.binary, "AQ==");
  });

  it("a publish naming a publisher is refused as bad_command, never passed on", () => {
    const parsed = parseCommand(
      JSON.stringify({ type: "publish", channel: "room", id: "7", text: "x", publisher: "bob" }),
    );
    assert.equal((parsed as { error: string }).error, "bad_command");
    assert.equal((parsed as { id: string }).id, "7");
  });

  it("PUBLISHER_OVERHEAD_BYTES bounds the field for the longest publisher of control characters", () => {
    const worst = "\u0001".repeat(128);
    const added = messageEnvelope("room", 1, "x", worst).length - messageEnvelope("room", 1, "x").length;
    assert.ok(added <= PUBLISHER_OVERHEAD_BYTES, `${added}`);
  });
});
