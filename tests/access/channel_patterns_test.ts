import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ChannelPatterns } from "../../src/access/mod.ts";

const matches = (patterns: string[], channel: string) => new ChannelPatterns(patterns).matches(channel);

describe("ChannelPatterns", () => {
  it("matches a pattern without * only against the same name", () => {
    assert.equal(matches(["room-1"], "room-1"), true);
    assert.equal(matches(["room-1"], "room-10"), false);
    assert.equal(matches(["room-1"], "xroom-1"), false);
  });

  it("lets * match any run of characters, the empty one included", () => {
    assert.equal(matches(["room-*"], "room-1"), true);
    assert.equal(matches(["room-*"], "room-"), true);
    assert.equal(matches(["room-*"], "room"), false);
    assert.equal(matches(["*-chat"], "team:a-chat"), true);
    assert.equal(matches(["*-chat"], "team:a-chats"), false);
    assert.equal(matches(["team:*:chat"], "team:blue:chat"), true);
    assert.equal(matches(["team:*:chat"], "team::chat"), true);
    assert.equal(matches(["team:*:chat"], "team:blue:chatter"), false);
    assert.equal(matches(["a*b*c"], "a--b--b--c"), true);
    assert.equal(matches(["a*b*c"], "a--c--b"), false);
  });

  it("does not let a prefix and a suffix share characters", () => {
    assert.equal(matches(["ab*ba"], "aba"), false);
    assert.equal(matches(["ab*ba"], "abba"), true);
    assert.equal(matches(["x*x*x"], "xx"), false);
    assert.equal(matches(["x*x*x"], "xxx"), true);
  });

  it("treats * (and **) as every channel and an empty list as none", () => {
    assert.equal(matches(["*"], "anything.at:all"), true);
    assert.equal(matches(["**"], "a"), true);
    assert.equal(matches([], "room-1"), false);
  });

  it("gives regular-expression characters no meaning", () => {
    assert.equal(matches(["room.1"], "roomx1"), false);
    assert.equal(matches(["room.1"], "room.1"), true);
    assert.equal(matches(["a+"], "aa"), false);
    assert.equal(matches(["(.*)"], "abc"), false);
    assert.equal(matches(["[a-z]*"], "[a-z]x"), true);
  });

  it("matches when any one pattern of the list matches", () => {
    assert.equal(matches(["lobby", "room-*"], "room-7"), true);
    assert.equal(matches(["lobby", "room-*"], "lobby"), true);
    assert.equal(matches(["lobby", "room-*"], "hall"), false);
  });

  it("answers adversarial patterns on long names quickly (no backtracking blow-up)", () => {
    const pattern = "*a".repeat(100) + "*b";
    const channel = "a".repeat(128);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) assert.equal(matches([pattern], channel), false);
    assert.ok(performance.now() - started < 1000, "1000 adversarial matches took over a second");
  });
});
