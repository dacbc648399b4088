import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isValidChannelName, MAX_CHANNEL_NAME_LENGTH } from "../../src/pubsub/mod.ts";

describe("isValidChannelName", () => {
  it("accepts letters, digits and . _ : -", () => {
    for (const name of ["c", "news", "Room-42", "a.b_c:d-e", "0", "ABCxyz019._:-"]) {
      assert.equal(isValidChannelName(name), true, name);
    }
  });

  it("accepts 128 characters and rejects 129", () => {
    assert.equal(MAX_CHANNEL_NAME_LENGTH, 128);
    assert.equal(isValidChannelName("x".repeat(128)), true);
    assert.equal(isValidChannelName("x".repeat(129)), false);
  });

  it("rejects the empty name", () => {
    assert.equal(isValidChannelName(""), false);
  });

  it("rejects every character outside the set, including neighbours of the allowed ranges", () => {
    for (
      const bad of [" ", "/", "@", "[", "`", "{", "*", "?", "#", "%", "+", ",", ";", "é", "\u0000", "\n"]
    ) {
      assert.equal(isValidChannelName(`ok${bad}ok`), false, JSON.stringify(bad));
    }
  });

  it("rejects names with a surrogate pair", () => {
    assert.equal(isValidChannelName("room😀"), false);
  });
});
