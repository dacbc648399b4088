import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseStreamId, positionId, sseEvent, sseIdBlock, streamId } from "../../src/protocol/mod.ts";

describe("server-sent events encoding", () => {
  it("sseEvent writes event, id and one data line, then the blank line", () => {
    assert.equal(sseEvent("message", '{"a":1}', "e:1"), 'event: message\nid: e:1\ndata: {"a":1}\n\n');
    assert.equal(sseEvent("subscribed", "x"), "event: subscribed\ndata: x\n\n");
  });

  it("sseEvent splits data with line breaks into data lines (no field injection)", () => {
    assert.equal(
      sseEvent("m", "a\r\nid: evil\rb\nc"),
      "event: m\ndata: a\ndata: id: evil\ndata: b\ndata: c\n\n",
    );
  });

  it("stream ids round-trip, with empty entries for channels not yet subscribed", () => {
    const id = streamId([{ epoch: "ab12", seq: 7 }, null, { epoch: "cd", seq: 0 }]);
    assert.equal(id, "ab12:7,,cd:0");
    assert.deepEqual(parseStreamId(id, 3), [{ epoch: "ab12", seq: 7 }, null, { epoch: "cd", seq: 0 }]);
    assert.equal(positionId("ab", 3), "ab:3");
    assert.equal(sseIdBlock("ab:3"), "id: ab:3\n\n");
  });

  it("parseStreamId refuses what the relay could not have sent", () => {
    for (
      const [id, n] of [
        ["ab:1", 2],
        ["ab", 1],
        [":1", 1],
        ["ab:-1", 1],
        ["ab:1x", 1],
        ["a b:1", 1],
        ["ab:1,cd:2", 1],
        [`${"a".repeat(65)}:1`, 1],
        ["ab:99999999999999999", 1],
      ] as const
    ) {
      assert.equal(parseStreamId(id, n), null, id);
    }
    assert.equal(parseStreamId("x".repeat(200), 1), null);
  });
});
