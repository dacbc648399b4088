/**
 * The conformance suite (scripts/conformance.ts) against the real relay's raw mode, one test per group so
 * the counts stay visible. `non-strict` results are allowed; any `fail` fails the group, with every failing
 * case, what it expected and what it got in the message.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { formatResult, GROUP_NAMES, runConformance } from "../../scripts/conformance.ts";

/** The main run's limit (the framing group sends 16 MiB messages). */
const MAX_MESSAGE_BYTES = 20_000_000;

/** The suite's client is a raw `Deno.connect` socket. */
const skip = typeof Deno === "undefined"
  ? "the conformance client needs Deno.connect; run it under deno test"
  : false;

describe("RFC 6455 conformance of the raw mode", { skip }, () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay(["--max-message-bytes", String(MAX_MESSAGE_BYTES)]);
  });

  after(async () => {
    await relay?.stop();
  });

  for (const group of GROUP_NAMES) {
    it(`the relay passes every ${group} case (non-strict allowed, no failure)`, async () => {
      const report = await runConformance(relay.wsUrl, {
        groups: [group],
        maxMessageBytes: MAX_MESSAGE_BYTES,
      });
      assert.ok(report.results.length > 0, `group ${group} ran no case`);
      const failures = report.results.filter((r) => r.verdict === "fail");
      assert.equal(
        failures.length,
        0,
        `${failures.length} failing case(s):\n${failures.map(formatResult).join("\n")}`,
      );
    });
  }
});
