/**
 * `deno task bench`: the relay against reference servers, same load generator, same run.
 *
 *     deno task bench                      # every scenario, every server (about 8 minutes)
 *     deno task bench --quick              # a smoke subset with short windows (about a minute)
 *     deno task bench --scenario chat-64 --only relay,deno-raw
 *     deno task bench --json > bench.json  # machine-readable results on stdout
 *
 * Each scenario starts each server fresh (127.0.0.1, free port, pinned to CPU 0), drives it with the C load
 * generator (pinned to CPU 1), reads the server's CPU time and RSS from /proc, and stops it. See
 * docs/benchmarks.md for what each figure means.
 * @module
 */
import { parseArgs } from "node:util";
import { benchHealthz } from "./bench/http_bench.ts";
import { buildLoadgen, loadgenArgs, runLoadgen } from "./bench/loadgen.ts";
import { measureHeldPolls } from "./bench/long_poll_memory.ts";
import { clockTicksPerSecond, runQuiet, stopAll, which } from "./bench/processes.ts";
import {
  checkTargets,
  type HeldPollRecord,
  heldPollTable,
  type HttpRecord,
  httpTable,
  type RunRecord,
  scenarioTable,
  summarize,
  targetsTable,
} from "./bench/report.ts";
import { FULL_TIMING, QUICK_TIMING, type Scenario, SCENARIOS } from "./bench/scenarios.ts";
import {
  type Binaries,
  pinning,
  SERVER_NAMES,
  type ServerName,
  SERVERS,
  type ServerSpec,
  startServer,
} from "./bench/servers.ts";

/** The pinned Bun release the project uses (fetched from npm). */
const BUN_PACKAGE = "bun@1.4.4";
/** Name of the HTTP part for `--scenario`. */
const HTTP_SCENARIO = "http-healthz";
/** Servers the HTTP part compares. */
const HTTP_SERVERS: readonly ServerName[] = ["relay", "deno-native", "relay-bun", "bun-native"];
/** Name of the held long polls part for `--scenario` (issue 11), the servers it runs on and its size. */
const POLLS_SCENARIO = "long-poll-10k";
const POLLS_SERVERS: readonly ServerName[] = ["relay", "relay-bun"];
const HELD_POLLS = 10_000;
const HELD_POLL_CHANNELS = 10;
/** Pause between the idle scenario's two rounds, so the server has let the first connections go. */
const IDLE_SETTLE_MS = 500;
/** Extra time the load generator gets beyond its windows (connecting, start-up). */
const LOADGEN_SLACK_MS = 45_000;

const USAGE = `usage: deno task bench [--quick] [--scenario NAME[,NAME…]] [--only SERVER[,SERVER…]] [--json]
  scenarios: ${[...SCENARIOS.map((s) => s.name), HTTP_SCENARIO, POLLS_SCENARIO].join(", ")}
  servers:   ${SERVER_NAMES.join(", ")}`;

function list(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    scenario: { type: "string", multiple: true },
    only: { type: "string", multiple: true },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const timing = flags.quick ? QUICK_TIMING : FULL_TIMING;
const wanted = list(flags.scenario);
const only = list(flags.only);
for (const name of wanted) {
  if (name !== HTTP_SCENARIO && name !== POLLS_SCENARIO && !SCENARIOS.some((s) => s.name === name)) {
    fail(`unknown scenario: ${name}\n${USAGE}`);
  }
}
for (const name of only) {
  if (!(SERVER_NAMES as readonly string[]).includes(name)) fail(`unknown server: ${name}\n${USAGE}`);
}
// A scenario compared with a baseline scenario (SSE against WebSocket) brings its baseline along.
const withBaselines = [
  ...wanted,
  ...SCENARIOS.filter((s) => wanted.includes(s.name) && s.baseline)
    .map((s) => s.baseline!),
];
const scenarios: Scenario[] = SCENARIOS.filter((s) =>
  wanted.length ? withBaselines.includes(s.name) : !flags.quick || s.quick
);
const runHttp = wanted.length ? wanted.includes(HTTP_SCENARIO) : true;
const runPolls = wanted.length ? wanted.includes(POLLS_SCENARIO) : !flags.quick;
const servers: ServerSpec[] = SERVERS.filter((s) => only.length === 0 || only.includes(s.name));

/** Progress goes to stderr; tables to stdout (unless --json). */
function progress(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text + "\n"));
}

function print(text: string): void {
  if (flags.json) progress(text);
  else console.log(text);
}

function fail(message: string): never {
  console.error(message);
  Deno.exit(2);
}

/** The real Bun binary (`BUN_BIN`, else the one `npx -y bun@…` runs) and its version, or null. */
async function resolveBun(): Promise<{ path: string; version: string } | null> {
  try {
    const path = Deno.env.get("BUN_BIN") ??
      (await runQuiet(["npx", "-y", BUN_PACKAGE, "-e", "console.log(process.execPath)"])).trim();
    return { path, version: (await runQuiet([path, "--version"])).trim() };
  } catch {
    return null;
  }
}

/** Why a server cannot run here, or null. */
function unavailable(spec: ServerSpec, bins: Binaries): string | null {
  if (spec.runtime === "bun" && !bins.bun) return `Bun unavailable (npx ${BUN_PACKAGE} failed; set BUN_BIN)`;
  if (spec.name.startsWith("relay")) {
    try {
      Deno.statSync(`${root}/src/main.ts`);
    } catch {
      return "src/main.ts not found";
    }
  }
  return null;
}

let interrupted = false;
const onSignal = () => {
  if (interrupted) return;
  interrupted = true;
  progress("\ninterrupted: stopping every process started by the bench…");
  stopAll().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const runs: RunRecord[] = [];
const http: HttpRecord[] = [];
const polls: HeldPollRecord[] = [];
let exitCode = 0;
const meta = {
  date: new Date().toISOString(),
  quick: flags.quick,
  timing,
  deno: Deno.version.deno,
  bun: null as string | null,
  cores: navigator.hardwareConcurrency,
  pinning: "",
  clkTck: 0,
  /** 1-minute load average when the run started: other work on the machine makes figures noisy. */
  loadAverage: loadAverage(),
};

try {
  const needBun = servers.some((s) => s.runtime === "bun");
  const bun = needBun ? await resolveBun() : null;
  const bins: Binaries = { deno: Deno.execPath(), bun: bun?.path ?? null };
  meta.bun = bun?.version ?? null;
  const pin = pinning(await which("taskset"), navigator.hardwareConcurrency);
  meta.pinning = pin.summary;
  meta.clkTck = await clockTicksPerSecond();
  const loadgen = await buildLoadgen(root);
  progress(
    `bench: Deno ${meta.deno}, Bun ${
      meta.bun ?? (needBun ? "unavailable" : "not used")
    }, ${meta.cores} cores, ${pin.summary}`,
  );
  progress(
    `bench: warm-up ${timing.warmupS} s, window ${timing.measureS} s per run${
      flags.quick ? " (--quick)" : ""
    }`,
  );

  for (const scenario of scenarios) {
    if (interrupted) break;
    const rows: RunRecord[] = [];
    const chosen = servers.filter((spec) =>
      scenario.servers ? scenario.servers.includes(spec.name) : !spec.extra
    );
    for (const spec of chosen) {
      if (interrupted) break;
      const why = unavailable(spec, bins);
      if (why) {
        rows.push({ scenario: scenario.name, server: spec.name, ok: false, error: why, issues: [] });
        continue;
      }
      let rec: RunRecord;
      try {
        const server = await startServer(spec, bins, pin, root);
        try {
          const args = loadgenArgs(scenario, server.port, server.pid, timing, pin.cores);
          const budgetMs = (timing.warmupS + timing.measureS + timing.holdS) * 1000 + LOADGEN_SLACK_MS;
          const first = await runLoadgen(loadgen, args, pin.client, budgetMs);
          let warm;
          if (scenario.kind === "idle") {
            // Second round on the same server once the first connections are gone: one-time growth excluded.
            await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
            warm = await runLoadgen(loadgen, args, pin.client, budgetMs);
          }
          rec = summarize(scenario, spec.name, first, warm);
        } finally {
          await server.process.stop();
        }
      } catch (error) {
        rec = { scenario: scenario.name, server: spec.name, ok: false, error: firstLine(error), issues: [] };
        exitCode = 1;
      }
      if (interrupted) break;
      progress(`  ${scenario.name} ${spec.name}: ${describe(rec)}`);
      rows.push(rec);
    }
    if (interrupted) break;
    runs.push(...rows);
    print(scenarioTable(scenario, rows, runs));
  }

  const wrk = runHttp && !interrupted ? await which("wrk") : null;
  if (runHttp && !interrupted && !wrk) {
    progress("\nhttp-healthz skipped: wrk not found (Debian: apt-get install -y wrk)");
  }
  if (wrk) {
    for (const spec of servers.filter((s) => HTTP_SERVERS.includes(s.name))) {
      if (interrupted) break;
      const why = unavailable(spec, bins);
      if (why) {
        http.push({ server: spec.name, ok: false, error: why });
        continue;
      }
      try {
        const server = await startServer(spec, bins, pin, root);
        try {
          const r = await benchHealthz(
            wrk,
            pin.client,
            server.port,
            server.pid,
            meta.clkTck,
            timing.httpWarmupS,
            timing.httpMeasureS,
          );
          http.push({ server: spec.name, ok: true, ...r });
          progress(
            `  ${HTTP_SCENARIO} ${spec.name}: ${Math.round(r.requestsPerS)} requests/s, ${
              Math.round(r.requestsPerCpuS)
            } per CPU-s`,
          );
        } finally {
          await server.process.stop();
        }
      } catch (error) {
        http.push({ server: spec.name, ok: false, error: firstLine(error) });
        exitCode = 1;
      }
    }
    if (!interrupted) print(httpTable(http));
  }

  if (runPolls && !interrupted) {
    for (const spec of servers.filter((s) => POLLS_SERVERS.includes(s.name))) {
      if (interrupted) break;
      const why = unavailable(spec, bins);
      if (why) {
        polls.push({ server: spec.name, ok: false, error: why });
        continue;
      }
      try {
        const server = await startServer(spec, bins, pin, root);
        try {
          const r = await measureHeldPolls(server.port, server.pid, HELD_POLLS, HELD_POLL_CHANNELS);
          polls.push({ server: spec.name, ok: true, ...r });
          progress(
            `  ${POLLS_SCENARIO} ${spec.name}: ${r.kibPerPoll.toFixed(1)} KiB per held poll, ` +
              `${r.answered}/${r.polls} answered in ${r.wakeMs.toFixed(0)} ms`,
          );
        } finally {
          await server.process.stop();
        }
      } catch (error) {
        polls.push({ server: spec.name, ok: false, error: firstLine(error) });
        exitCode = 1;
      }
    }
    if (!interrupted && polls.length) print(heldPollTable(POLLS_SCENARIO, polls));
  }

  const targets = checkTargets(runs, http, scenarios);
  if (!interrupted) print(targetsTable(targets));
  if (flags.json && !interrupted) {
    const stripped = runs.map(({ raw, ...rest }) => ({ ...rest, loadgen: raw }));
    console.log(JSON.stringify({ meta, runs: stripped, http, polls, targets }, null, 2));
  }
} catch (error) {
  console.error(`bench failed: ${(error as Error).stack ?? error}`);
  exitCode = 1;
} finally {
  await stopAll();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
Deno.exit(interrupted ? 130 : exitCode);

function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").slice(0, 3).join(" | ");
}

function describe(r: RunRecord): string {
  if (!r.ok) return `FAILED: ${r.error}`;
  if (r.kibPerConn !== undefined) {
    return `${r.kibPerConn.toFixed(1)} KiB per connection (warm ${r.kibPerConnWarm?.toFixed(1) ?? "-"})`;
  }
  const issues = r.issues.length ? ` [${r.issues.join(", ")}]` : "";
  return `${Math.round(r.deliveriesPerS!)} deliveries/s, ${
    r.cpuUsPerDelivery!.toFixed(3)
  } µs CPU/delivery, ` +
    `server ${r.serverCpuPct!.toFixed(0)}%, p99 ${r.latencyMs!.p99.toFixed(2)} ms${issues}`;
}
