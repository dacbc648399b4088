/**
 * Delivery conservation on the Redis broker, black-box: two relay processes on a private Redis, publishers on
 * every path, subscribers that drop and resume on either node, Redis stalled and restarted, one relay killed.
 * The workload and its checks live in `scripts/conservation.ts` (which also runs for longer on its own).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runConservation } from "../../scripts/conservation.ts";

/** Short enough for the test command, long enough for every fault of the schedule (16 s minimum). */
const SECONDS = 22;

describe("delivery conservation over Redis with faults", () => {
  it("loses nothing silently, repeats and reorders nothing, and delivers every ack under its seq", {
    timeout: 90_000,
  }, async () => {
    const report = await runConservation({ seconds: SECONDS, subscribers: 5, publishEveryMs: 25 });
    const detail = JSON.stringify({ ...report, finals: undefined }, null, 1);
    const t = report.totals;
    assert.equal(t.duplicates, 0, detail);
    assert.equal(t.reorders, 0, detail);
    assert.equal(t.silentGaps, 0, detail);
    assert.equal(t.crossEpochRecoveries, 0, detail);
    assert.equal(t.payloadConflicts, 0, detail);
    assert.equal(t.ackSeqMismatches, 0, detail);
    assert.equal(t.acksMissed, 0, detail);
    assert.deepEqual(report.notCaughtUp, [], detail);
    assert.equal(report.faults.length, 5, detail);
    assert.ok(t.acks > 100 && t.delivered > 1000, `too little traffic to mean anything: ${detail}`);
    // The Redis restart loses the lineage: every subscriber must have been told (recovered:false).
    assert.ok(t.announcedGaps >= 5, detail);
    assert.ok(report.ok, detail);
  });
});
