import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { Relay } from "../../src/relay/mod.ts";

const OPTIONS = { maxQueuedBytes: 1 << 20, maxChannelsPerConnection: 8 };

describe("Relay.counters", () => {
  it("bytesIn counts text by its UTF-8 length and binary by its byte length", async () => {
    const broker = new MemoryBroker();
    try {
      const relay = new Relay(broker, OPTIONS);
      await relay.publish("c", "abc"); // 3 bytes
      await relay.publish("c", "é€😀"); // 2 + 3 + 4 bytes, 4 UTF-16 units
      await relay.publish("c", "x".repeat(1000) + "é"); // the ASCII run, then 2 bytes
      await relay.publish("c", new Uint8Array([1, 2, 3, 4, 5]));
      assert.equal(relay.counters.messagesIn, 4);
      assert.equal(relay.counters.bytesIn, 3 + 9 + 1002 + 5);
    } finally {
      await broker.close();
    }
  });
});
