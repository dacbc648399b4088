/**
 * Edge Relay's WebSocket conformance suite (Autobahn-style), run against the raw mode (`/ws/:channel`) of a
 * relay with raw TCP sockets and the suite's own frame writer and reader.
 *
 * ```sh
 * deno run -A scripts/conformance.ts ws://127.0.0.1:8080 [--json] [--group NAME]... [--filter TEXT]
 *   [--max-message-bytes N] [--timeout MS]
 * ```
 * Start the relay with `--max-message-bytes 20000000` (or pass the limit it runs with). Exits 1 when a case
 * fails, 2 on bad usage.
 * @module
 */
import { parseArgs } from "node:util";
import { formatResult, formatSummary } from "./conformance/report.ts";
import {
  CONFORMANCE_DEFAULTS,
  DEFLATE_GROUP_NAMES,
  GROUP_NAMES,
  runConformance,
} from "./conformance/runner.ts";

export type { CaseResult, Verdict } from "./conformance/context.ts";
export {
  CONFORMANCE_DEFAULTS,
  type ConformanceOptions,
  type ConformanceReport,
  DEFLATE_GROUP_NAMES,
  GROUP_NAMES,
  runConformance,
  type Totals,
} from "./conformance/runner.ts";
export { formatResult, formatSummary } from "./conformance/report.ts";

const USAGE =
  `usage: deno run -A scripts/conformance.ts ws://HOST:PORT [--json] [--group NAME]... [--filter TEXT]
       [--max-message-bytes N (default ${CONFORMANCE_DEFAULTS.maxMessageBytes})] [--timeout MS (default ${CONFORMANCE_DEFAULTS.caseTimeoutMs})]
groups: ${GROUP_NAMES.join(", ")}
RFC 7692 groups (relay started with --deflate; only when named): ${DEFLATE_GROUP_NAMES.join(", ")}`;

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        group: { type: "string", multiple: true },
        filter: { type: "string" },
        "max-message-bytes": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const json = values.json;
  try {
    const report = await runConformance(positionals[0], {
      groups: values.group?.flatMap((g) => g.split(",")),
      filter: values.filter,
      maxMessageBytes: values["max-message-bytes"] ? Number(values["max-message-bytes"]) : undefined,
      caseTimeoutMs: values.timeout ? Number(values.timeout) : undefined,
      onResult: json ? undefined : (r) => r.verdict !== "pass" && console.log(formatResult(r)),
    });
    console.log(json ? JSON.stringify(report, null, 2) : `\n${formatSummary(report)}`);
    return report.totals.fail > 0 ? 1 : 0;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
