/**
 * Turning load generator results into figures (CPU µs per delivery, KiB per connection), checking them
 * against the targets, and printing one table per scenario.
 * @module
 */
import { HTTP_CONNECTIONS, type HttpResult } from "./http_bench.ts";
import type { LoadgenResult } from "./loadgen.ts";
import type { HeldPollResult } from "./long_poll_memory.ts";
import type { Scenario } from "./scenarios.ts";
import type { ServerName } from "./servers.ts";

/** The targets the relay is held to (issue figures). */
export const TARGETS = Object.freeze({
  /** relay on Deno at least this many times cheaper per delivery than Deno.upgradeWebSocket. */
  cheaperThanDenoNative: 15,
  /** relay on Deno at most this many times the corked raw-TCP bound's cost per delivery. */
  withinDenoRaw: 1.5,
  /** idle memory per connection on Deno, KiB. */
  idleKiBPerConn: 14,
  /** p99 latency at 64k deliveries/s, ms. */
  p99Ms: 5,
  /** HTTP keep-alive requests per CPU-second, as a fraction of Deno.serve's. */
  httpVsDenoServe: 0.5,
  /** relay with the SQLite broker at most this many times the memory broker's CPU per delivery (issue 17). */
  sqliteVsMemory: 1.3,
  /** SSE fan-out at most this many times the WebSocket fan-out's CPU per delivery, same server (issue 11). */
  sseVsWebSocket: 1.5,
  /** Compressed fan-out at most this many times the uncompressed one's CPU per delivery (issue 13). */
  deflateVsPlain: 1.3,
});

/** Compressing server → the same server without compression (the deflate target's pairs). */
const DEFLATE_PAIRS: readonly (readonly [ServerName, ServerName])[] = [
  ["relay-deflate", "relay"],
  ["relay-bun-deflate", "relay-bun"],
];

/** Below this server CPU share a closed-loop run did not saturate the server. */
const SATURATED_CPU_PCT = 80;
/** Above this the load generator itself may have been the bottleneck. */
const LOADGEN_BOUND_PCT = 90;
/** Above this share of a core used by other processes, the run shared its core. */
const CONTENDED_PCT = 15;

/** One scenario run against one server. */
export interface RunRecord {
  scenario: string;
  server: ServerName;
  ok: boolean;
  error?: string;
  deliveriesPerS?: number;
  /** Server CPU time (all threads) over the window divided by deliveries in the window. */
  cpuUsPerDelivery?: number;
  serverCpuPct?: number;
  loadgenCpuPct?: number;
  latencyMs?: { p50: number; p99: number; p999: number; max: number };
  /** CPU share other processes took on the server's core and on the load generator's core. */
  otherServerCorePct?: number;
  otherClientCorePct?: number;
  rssBeforeKiB?: number;
  rssAfterKiB?: number;
  /** Cold: a fresh server, RSS before and after the first 1,000 connections. */
  kibPerConn?: number;
  /** Warm: the same server after those closed, a second 1,000 (one-time growth excluded). */
  kibPerConnWarm?: number;
  /** Bytes the load generator read per delivery (headers, framing and compression included). */
  wireBytesPerDelivery?: number;
  /** Connections on which permessage-deflate was agreed (scenarios that offer it). */
  deflateAgreed?: number;
  /** Anything that makes the figures doubtful: lost messages, closed connections, unsaturated server. */
  issues: string[];
  raw?: LoadgenResult;
}

/** The held long polls of one server. */
export interface HeldPollRecord extends Partial<HeldPollResult> {
  server: ServerName;
  ok: boolean;
  error?: string;
}

/** One HTTP run against one server. */
export interface HttpRecord extends Partial<HttpResult> {
  server: ServerName;
  ok: boolean;
  error?: string;
}

/** A target check. */
export interface TargetCheck {
  what: string;
  value: number | null;
  target: string;
  pass: boolean | null;
}

/**
 * Derives the figures of a run from the load generator's raw result (`warm`: the idle scenario's second
 * round against the same server).
 */
export function summarize(
  s: Scenario,
  server: ServerName,
  r: LoadgenResult,
  warm?: LoadgenResult,
): RunRecord {
  const rec: RunRecord = { scenario: s.name, server, ok: true, issues: [], raw: r };
  if (s.deflate) {
    // A compressing server must agree on every connection, the others on none: else the row compares nothing.
    rec.deflateAgreed = r.deflate_agreed;
    const compresses = server.endsWith("-deflate");
    if (compresses ? r.deflate_agreed < r.connections : r.deflate_agreed > 0) {
      rec.issues.push(`deflate agreed on ${r.deflate_agreed}/${r.connections}`);
    }
    if (compresses && s.kind === "closed" && r.compressed < r.deliveries) {
      rec.issues.push(`${r.deliveries - r.compressed} deliveries not compressed`);
    }
  }
  if (s.kind === "idle") {
    rec.rssBeforeKiB = r.rss_before_kib;
    rec.rssAfterKiB = r.rss_after_kib;
    rec.kibPerConn = (r.rss_after_kib - r.rss_before_kib) / r.connections;
    if (warm) rec.kibPerConnWarm = (warm.rss_after_kib - warm.rss_before_kib) / warm.connections;
  } else {
    const cpuUs = r.server_cpu_ticks * 1e6 / r.clk_tck;
    rec.deliveriesPerS = r.deliveries_per_s;
    rec.cpuUsPerDelivery = r.deliveries > 0 ? cpuUs / r.deliveries : NaN;
    rec.wireBytesPerDelivery = r.deliveries > 0 ? r.rx_bytes / r.deliveries : NaN;
    rec.serverCpuPct = cpuUs / 1e4 / r.seconds;
    rec.loadgenCpuPct = r.loadgen_cpu_us / 1e4 / r.seconds;
    const ms = (us: number) => us / 1000;
    rec.latencyMs = {
      p50: ms(r.latency_us.p50),
      p99: ms(r.latency_us.p99),
      p999: ms(r.latency_us.p999),
      max: ms(r.latency_us.max),
    };
    const pct = (ticks: number) => 100 * Math.max(0, ticks) / r.clk_tck / r.seconds;
    if (r.server_core_busy_ticks >= 0) {
      rec.otherServerCorePct = pct(r.server_core_busy_ticks - r.server_cpu_ticks);
      rec.otherClientCorePct = pct(r.client_core_busy_ticks - r.loadgen_cpu_us * r.clk_tck / 1e6);
      if (rec.otherServerCorePct > CONTENDED_PCT) {
        rec.issues.push(`server core shared (${rec.otherServerCorePct.toFixed(0)}%)`);
      }
      if (rec.otherClientCorePct > CONTENDED_PCT) {
        rec.issues.push(`loadgen core shared (${rec.otherClientCorePct.toFixed(0)}%)`);
      }
    }
    if (s.kind === "closed" && rec.serverCpuPct < SATURATED_CPU_PCT) rec.issues.push("server not saturated");
    if (rec.loadgenCpuPct > LOADGEN_BOUND_PCT) rec.issues.push("load generator busy");
    if (s.kind === "rate" && r.deliveries_per_s < 0.95 * s.rate!) rec.issues.push("below target rate");
  }
  if (r.gaps) rec.issues.push(`${r.gaps} lost`);
  if (r.reorders) rec.issues.push(`${r.reorders} out of order`);
  if (r.bad) rec.issues.push(`${r.bad} malformed`);
  if (r.closes || r.open_at_end < r.connections) {
    const code = r.close_code >= 0
      ? ` (close ${r.close_code}${r.close_reason ? ` ${r.close_reason}` : ""})`
      : "";
    rec.issues.push(`${r.connections - r.open_at_end} closed${code}`);
  }
  return rec;
}

const find = <T extends { server: ServerName; ok: boolean }>(rows: T[], server: ServerName) =>
  rows.find((r) => r.server === server && r.ok);

/** The target checks for everything measured so far (null = not measured). */
export function checkTargets(
  runs: RunRecord[],
  http: HttpRecord[],
  scenarios: readonly Scenario[],
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const s of scenarios.filter((x) => x.kind === "closed")) {
    const rows = runs.filter((r) => r.scenario === s.name);
    const relay = find(rows, "relay")?.cpuUsPerDelivery;
    const native = find(rows, "deno-native")?.cpuUsPerDelivery;
    const raw = find(rows, "deno-raw")?.cpuUsPerDelivery;
    if (relay && native) {
      const v = native / relay;
      checks.push({
        what: `${s.name}: relay ${fmt(v)}× cheaper per delivery than deno-native`,
        value: v,
        target: `≥ ${TARGETS.cheaperThanDenoNative}×`,
        pass: v >= TARGETS.cheaperThanDenoNative,
      });
    }
    if (relay && raw) {
      const v = relay / raw;
      checks.push({
        what: `${s.name}: relay costs ${fmt(v)}× deno-raw per delivery`,
        value: v,
        target: `≤ ${TARGETS.withinDenoRaw}×`,
        pass: v <= TARGETS.withinDenoRaw,
      });
    }
  }
  // The SQLite target is per delivery under fan-out; with one client (publish-1) the figure is the publish rate.
  for (const s of scenarios.filter((x) => x.kind === "closed" && x.clients > 1)) {
    const rows = runs.filter((r) => r.scenario === s.name);
    for (const [sqlite, memory] of [["relay-sqlite", "relay"], ["relay-bun-sqlite", "relay-bun"]] as const) {
      const a = find(rows, sqlite)?.cpuUsPerDelivery;
      const b = find(rows, memory)?.cpuUsPerDelivery;
      if (!a || !b) continue;
      checks.push({
        what: `${s.name}: ${sqlite} costs ${fmt(a / b)}× ${memory} per delivery`,
        value: a / b,
        target: `≤ ${TARGETS.sqliteVsMemory}×`,
        pass: a / b <= TARGETS.sqliteVsMemory,
      });
    }
  }
  // SSE against the WebSocket fan-out of the same size, on the same server, in the same run.
  for (const s of scenarios.filter((x) => x.kind === "closed" && x.sse && x.baseline)) {
    for (const server of ["relay", "relay-bun"] as const) {
      const a = find(runs.filter((r) => r.scenario === s.name), server)?.cpuUsPerDelivery;
      const b = find(runs.filter((r) => r.scenario === s.baseline), server)?.cpuUsPerDelivery;
      if (!a || !b) continue;
      checks.push({
        what: `${s.name}: ${server} SSE costs ${
          fmt(a / b)
        }× its WebSocket fan-out (${s.baseline}) per delivery`,
        value: a / b,
        target: `≤ ${TARGETS.sseVsWebSocket}×`,
        pass: a / b <= TARGETS.sseVsWebSocket,
      });
    }
  }
  for (const s of scenarios.filter((x) => x.kind === "closed" && x.deflate)) {
    const rows = runs.filter((r) => r.scenario === s.name);
    for (const [compressed, plain] of DEFLATE_PAIRS) {
      const a = find(rows, compressed)?.cpuUsPerDelivery;
      const b = find(rows, plain)?.cpuUsPerDelivery;
      if (!a || !b) continue;
      checks.push({
        what: `${s.name}: ${compressed} costs ${fmt(a / b)}× ${plain} (uncompressed) per delivery`,
        value: a / b,
        target: `≤ ${TARGETS.deflateVsPlain}×`,
        pass: a / b <= TARGETS.deflateVsPlain,
      });
    }
  }
  for (const s of scenarios.filter((x) => x.kind === "idle" && !x.deflate)) {
    const v = find(runs.filter((r) => r.scenario === s.name), "relay")?.kibPerConn;
    if (v !== undefined) {
      checks.push({
        what: `${s.name}: relay idle memory ${fmt(v)} KiB per connection`,
        value: v,
        target: `≤ ${TARGETS.idleKiBPerConn} KiB`,
        pass: v <= TARGETS.idleKiBPerConn,
      });
    }
  }
  for (const s of scenarios.filter((x) => x.kind === "rate")) {
    const v = find(runs.filter((r) => r.scenario === s.name), "relay")?.latencyMs?.p99;
    if (v !== undefined) {
      checks.push({
        what: `${s.name}: relay p99 ${fmt(v)} ms`,
        value: v,
        target: `≤ ${TARGETS.p99Ms} ms`,
        pass: v <= TARGETS.p99Ms,
      });
    }
  }
  const relayHttp = find(http, "relay")?.requestsPerCpuS;
  const denoHttp = find(http, "deno-native")?.requestsPerCpuS;
  if (relayHttp && denoHttp) {
    const v = relayHttp / denoHttp;
    checks.push({
      what: `healthz: relay serves ${fmt(v)}× Deno.serve's requests per CPU-second`,
      value: v,
      target: `≥ ${TARGETS.httpVsDenoServe}×`,
      pass: v >= TARGETS.httpVsDenoServe,
    });
  }
  return checks;
}

/**
 * Ratios printed under a scenario table: the relay against each reference of its runtime, compressing
 * servers against their plain selves, SSE against its WebSocket baseline (`all`: every run so far).
 */
function ratioLines(rows: RunRecord[], s: Scenario, all: RunRecord[]): string[] {
  const sqliteTarget = s.clients > 1
    ? `target ≤ ${TARGETS.sqliteVsMemory}× the cost`
    : "publish rate, no target";
  const lines: string[] = [];
  const pairs: [ServerName, ServerName, string][] = [
    ["relay", "deno-native", `target ≥ ${TARGETS.cheaperThanDenoNative}× cheaper`],
    ["relay", "deno-raw", `target ≤ ${TARGETS.withinDenoRaw}× the cost`],
    ["relay-bun", "bun-native", "no target"],
    ["relay-bun", "bun-raw", "no target"],
    ["relay-sqlite", "relay", sqliteTarget],
    ["relay-bun-sqlite", "relay-bun", sqliteTarget],
    ...DEFLATE_PAIRS.map(([a, b]): [ServerName, ServerName, string] => [
      a,
      b,
      `target ≤ ${TARGETS.deflateVsPlain}× the cost`,
    ]),
    ["relay-deflate", "bun-native-deflate", "no target"],
    ["relay-bun-deflate", "bun-native-deflate", "no target"],
    ["bun-native-deflate", "bun-native", "no target"],
  ];
  for (const [ours, ref, target] of pairs) {
    const a = find(rows, ours)?.cpuUsPerDelivery;
    const b = find(rows, ref)?.cpuUsPerDelivery;
    if (!a || !b) continue;
    const text = a <= b ? `${fmt(b / a)}× cheaper than` : `${fmt(a / b)}× the cost of`;
    lines.push(`  ${ours} per delivery: ${text} ${ref} (${target})`);
  }
  if (s.baseline) {
    const base = all.filter((r) => r.scenario === s.baseline);
    for (const server of ["relay", "relay-bun"] as const) {
      const a = find(rows, server)?.cpuUsPerDelivery;
      const b = find(base, server)?.cpuUsPerDelivery;
      if (!a || !b) continue;
      lines.push(
        `  ${server} per delivery: ${fmt(a / b)}× the cost of its ${s.baseline} ` +
          `(target ≤ ${TARGETS.sseVsWebSocket}×)`,
      );
    }
  }
  return lines;
}

/** The table of one scenario (`all`: every run so far, for comparisons with a baseline scenario). */
export function scenarioTable(s: Scenario, rows: RunRecord[], all: RunRecord[] = rows): string {
  const head = `\n== ${s.name}: ${s.description}`;
  let table: string;
  if (s.kind === "idle") {
    table = render(
      ["server", "RSS before", "RSS after", "KiB/conn", "warm KiB/conn", "issues"],
      rows.map((r) =>
        r.ok
          ? [
            r.server,
            mib(r.rssBeforeKiB!),
            mib(r.rssAfterKiB!),
            fmt(r.kibPerConn!),
            fmt(r.kibPerConnWarm ?? NaN),
            r.issues.join(", ") || "-",
          ]
          : [r.server, "-", "-", "-", "-", `FAILED: ${r.error}`]
      ),
    );
    if (s.deflate) {
      const lines = DEFLATE_PAIRS.flatMap(([compressed, plain]) => {
        const a = find(rows, compressed)?.kibPerConn;
        const b = find(rows, plain)?.kibPerConn;
        return a === undefined || b === undefined
          ? []
          : [`  ${compressed} − ${plain}: ${fmt(a - b)} KiB per connection (cold; no target)`];
      });
      return [head, table, ...lines].join("\n");
    }
    return `${head}\n${table}\n  target: relay ≤ ${TARGETS.idleKiBPerConn} KiB per connection on Deno (the cold figure)`;
  }
  table = render(
    [
      "server",
      "deliveries/s",
      "CPU µs/deliv",
      "server CPU",
      "loadgen CPU",
      "p50 ms",
      "p99 ms",
      "p99.9 ms",
      "wire B/deliv",
      "issues",
    ],
    rows.map((r) =>
      r.ok
        ? [
          r.server,
          count(r.deliveriesPerS!),
          fmt(r.cpuUsPerDelivery!),
          `${r.serverCpuPct!.toFixed(0)}%`,
          `${r.loadgenCpuPct!.toFixed(0)}%`,
          fmt(r.latencyMs!.p50),
          fmt(r.latencyMs!.p99),
          fmt(r.latencyMs!.p999),
          fmt(r.wireBytesPerDelivery!),
          r.issues.join(", ") || "-",
        ]
        : [r.server, "-", "-", "-", "-", "-", "-", "-", "-", `FAILED: ${r.error}`]
    ),
  );
  const extra = s.kind === "rate" ? [`  target: relay p99 ≤ ${TARGETS.p99Ms} ms`] : ratioLines(rows, s, all);
  return [head, table, ...extra].join("\n");
}

/** The HTTP table. */
export function httpTable(rows: HttpRecord[]): string {
  const deno = find(rows, "deno-native")?.requestsPerCpuS;
  const bun = find(rows, "bun-native")?.requestsPerCpuS;
  const table = render(
    ["server", "requests/s", "server CPU", "requests/CPU-s", "vs Deno.serve", "vs Bun.serve", "failures"],
    rows.map((r) =>
      r.ok
        ? [
          r.server,
          count(r.requestsPerS!),
          `${(100 * r.serverCpuS! / r.seconds!).toFixed(0)}%`,
          count(r.requestsPerCpuS!),
          deno ? `${fmt(r.requestsPerCpuS! / deno)}×` : "-",
          bun ? `${fmt(r.requestsPerCpuS! / bun)}×` : "-",
          String(r.failures),
        ]
        : [r.server, "-", "-", "-", "-", "-", `FAILED: ${r.error}`]
    ),
  );
  return `\n== http-healthz: keep-alive GET /healthz, wrk -t1 -c${HTTP_CONNECTIONS}\n${table}\n` +
    `  target: relay ≥ ${TARGETS.httpVsDenoServe}× Deno.serve's requests per CPU-second`;
}

/** The held long polls' table. */
export function heldPollTable(name: string, rows: HeldPollRecord[]): string {
  const polls = rows.find((r) => r.ok)?.polls ?? 0;
  const table = render(
    ["server", "RSS before", "RSS held", "KiB/poll", "/healthz ms", "wake-up ms", "answered"],
    rows.map((r) =>
      r.ok
        ? [
          r.server,
          mib(r.rssBeforeKiB!),
          mib(r.rssHeldKiB!),
          fmt(r.kibPerPoll!),
          fmt(r.healthzMs!),
          fmt(r.wakeMs!),
          `${r.answered}/${r.polls}`,
        ]
        : [r.server, "-", "-", "-", "-", "-", `FAILED: ${r.error}`]
    ),
  );
  return `\n== ${name}: ${
    polls.toLocaleString("en-US")
  } held long polls (GET …/messages?since=0&wait=50s, one connection each, ` +
    `10 channels); RSS growth per held poll, its connection included\n${table}`;
}

/** The closing list of target checks. */
export function targetsTable(checks: TargetCheck[]): string {
  if (checks.length === 0) return "\n== targets: nothing to compare (run the relay and the Deno references)";
  const lines = checks.map((c) => `  ${c.pass ? "PASS" : "FAIL"}  ${c.what} (target ${c.target})`);
  return `\n== targets\n${lines.join("\n")}`;
}

/** Three significant digits, no exponent. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function count(v: number): string {
  if (!Number.isFinite(v)) return "-";
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

/** A plain-text table: first column left-aligned, the others right-aligned, the last left-aligned. */
function render(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const last = headers.length - 1;
  const line = (cells: string[]) =>
    "  " + cells.map((c, i) => i === 0 || i === last ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}
