import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { drainEvenly } from "../../src/relay/drain.ts";

describe("drainEvenly", () => {
  it("ends 300 items spread over the drain time, no tick ending more than its share", async () => {
    const start = performance.now();
    const ended: number[] = [];
    const items = Array.from(
      { length: 300 },
      () => ({ shutdown: () => ended.push(performance.now() - start) }),
    );
    await drainEvenly(items, { durationMs: 600, tickMs: 20 });
    const elapsed = performance.now() - start;
    assert.equal(ended.length, 300);
    assert.ok(elapsed >= 500 && elapsed < 1500, `took ${elapsed} ms`);
    // Per 100 ms window: about a sixth each, never a burst of most of them.
    const windows = new Array(Math.ceil(elapsed / 100)).fill(0);
    for (const t of ended) windows[Math.floor(t / 100)]++;
    assert.ok(Math.max(...windows) <= 100, `windows ${windows}`);
    assert.ok(ended[150] > 150, `half were ended by ${ended[150]} ms`);
  });

  it("ends everything at once with a zero duration, and goes on past an item that throws", async () => {
    let ended = 0;
    const items = [
      { shutdown: () => ended++ },
      {
        shutdown: () => {
          throw new Error("x");
        },
      },
      { shutdown: () => ended++ },
    ];
    await drainEvenly(items, { durationMs: 0 });
    assert.equal(ended, 2);
    await drainEvenly(items, { durationMs: 100, tickMs: 10 });
    assert.equal(ended, 4);
  });
});
