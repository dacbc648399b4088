/**
 * The abuse suite (scripts/abuse.ts) against the real relay with its default limits: one test per attack,
 * each asserting the relay's measured response against the contract (status or close code, connection
 * closed, time to answer, memory and descriptors).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { type AbuseReport, ATTACK_LIST, formatResult, runAbuse } from "../../scripts/abuse.ts";
import { FLAT_RSS_KIB } from "../../scripts/abuse/frame_attacks.ts";

/** The suite's clients are raw `Deno.connect` sockets. */
const skip = typeof Deno === "undefined"
  ? "the abuse client needs Deno.connect; run it under deno test"
  : false;

describe("the relay under abuse (default limits)", { skip }, () => {
  let relay: RelayProcess | undefined;
  let report: AbuseReport | undefined;
  let runError: Error | undefined;

  before(async () => {
    relay = await startRelay();
    try {
      report = await runAbuse(relay.url, { pid: relay.pid });
    } catch (error) {
      runError = error as Error;
    }
  });

  after(async () => {
    await relay?.stop();
  });

  function resultOf(id: string) {
    if (runError) throw runError;
    const result = report?.results.find((r) => r.id === id);
    assert.ok(result, `the run reported nothing for ${id}`);
    return result;
  }

  it("measures the relay's memory and descriptors (its pid is readable in /proc)", () => {
    if (runError) throw runError;
    assert.ok(report?.baseline, "no baseline: /proc/<pid> of the relay could not be read");
    assert.ok(report.baseline.rssKiB > 0 && report.baseline.fds > 0);
  });

  for (const attack of ATTACK_LIST) {
    it(`${attack.id}: ${attack.attack} → ${attack.expected}`, () => {
      const result = resultOf(attack.id);
      assert.deepEqual(result.problems, [], formatResult(result));
    });
  }

  it("host-rebinding is accepted on the default configuration, as documented in docs/security.md", () => {
    // The own origin follows the Host header when --allowed-origins is empty; only the list prevents it.
    assert.equal(resultOf("host-rebinding").metrics.status, 101);
  });

  it(`the 2^63-byte frame header grew the relay's peak RSS by at most ${FLAT_RSS_KIB / 1024} MiB (nothing allocated from the length)`, () => {
    const result = resultOf("length-2^63");
    const growth = result.metrics.peakRssGrowthKiB;
    assert.equal(typeof growth, "number", `peak RSS not measured: ${formatResult(result)}`);
    assert.ok((growth as number) <= FLAT_RSS_KIB, formatResult(result));
  });
});
