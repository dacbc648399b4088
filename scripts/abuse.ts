/**
 * Edge Relay's abuse suite: attacks a live relay (hostile heads, smuggling shapes, refused upgrades with a
 * pipelined request, lying frame lengths, fragment floods, connection floods, a publish flood, prototype
 * names) and reports the relay's measured response to each, then checks that a normal client is still
 * served and that the relay's memory and descriptors stayed bounded.
 *
 * ```sh
 * deno run -A scripts/abuse.ts http://127.0.0.1:8080 [--pid PID] [--json] [--only ID,ID]
 *   [--connections N] [--head-timeout MS] [--flood-ms MS]
 * ```
 * `--pid` (the relay's process id, Linux) turns on the RSS and file-descriptor checks. Exits 1 when an
 * attack was not answered as expected, 2 on bad usage. Bound: about 30 s with the defaults.
 * @module
 */
import { parseArgs } from "node:util";
import { formatResult, formatSummary } from "./abuse/report.ts";
import { ATTACK_LIST, runAbuse } from "./abuse/runner.ts";
import { ABUSE_DEFAULTS } from "./abuse/types.ts";

export { ABUSE_DEFAULTS, type AbuseOptions, type AttackResult, type Metrics } from "./abuse/types.ts";
export { type AbuseReport, ATTACK_LIST, ATTACKS, type Baseline, runAbuse } from "./abuse/runner.ts";
export { formatResult, formatSummary } from "./abuse/report.ts";

const USAGE = `usage: deno run -A scripts/abuse.ts http://HOST:PORT [--pid PID] [--json] [--only ID,ID]
       [--connections N (default ${ABUSE_DEFAULTS.floodConnections})] [--head-timeout MS (default ${ABUSE_DEFAULTS.headTimeoutMs})]
       [--flood-ms MS (default ${ABUSE_DEFAULTS.publishFloodMs})]
attacks: ${ATTACK_LIST.map((a) => a.id).join(", ")}`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new TypeError(`--${name}: expected a positive integer, got '${value}'`);
  }
  return n;
}

async function main(args: string[]): Promise<number> {
  let options;
  let url;
  let json;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        pid: { type: "string" },
        json: { type: "boolean", default: false },
        only: { type: "string", multiple: true },
        connections: { type: "string" },
        "head-timeout": { type: "string" },
        "flood-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new TypeError("expected one URL");
    url = positionals[0];
    json = values.json;
    const only = values.only?.flatMap((o) => o.split(",")) ?? [];
    const unknown = only.filter((id) => !ATTACK_LIST.some((a) => a.id === id));
    if (unknown.length > 0) throw new TypeError(`unknown attack ${unknown.join(", ")}`);
    options = {
      pid: values.pid === undefined ? null : positiveInt("pid", values.pid, 0),
      only,
      floodConnections: positiveInt("connections", values.connections, ABUSE_DEFAULTS.floodConnections),
      headTimeoutMs: positiveInt("head-timeout", values["head-timeout"], ABUSE_DEFAULTS.headTimeoutMs),
      publishFloodMs: positiveInt("flood-ms", values["flood-ms"], ABUSE_DEFAULTS.publishFloodMs),
    };
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const report = await runAbuse(url, {
    ...options,
    onResult: json ? undefined : (r) => console.log(formatResult(r)),
  });
  console.log(json ? JSON.stringify(report, null, 2) : `\n${formatSummary(report)}`);
  return report.failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
