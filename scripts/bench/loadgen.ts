/**
 * The C load generator (`loadgen.c`): compiled with `cc -O2` into `dist/bench/` on first use (never
 * committed), run once per scenario and server, its one-line JSON result parsed.
 * @module
 */
import type { Scenario, Timing } from "./scenarios.ts";
import { runQuiet, spawnTracked } from "./processes.ts";

/** What `loadgen` prints (one JSON line). */
export interface LoadgenResult {
  ok: boolean;
  error?: string;
  mode: "closed" | "rate" | "idle";
  connections: number;
  open_at_end: number;
  connect_ms: number;
  /** Length of the measurement window. */
  seconds: number;
  /** Whole messages received by clients inside the window. */
  deliveries: number;
  /** Messages published inside the window. */
  sent: number;
  deliveries_per_s: number;
  clk_tck: number;
  /** Server utime + stime over the window, in clock ticks; -1 if unreadable. */
  server_cpu_ticks: number;
  loadgen_cpu_us: number;
  /** Busy ticks of the server's and the load generator's cores over the window (-1 when not pinned). */
  server_core_busy_ticks: number;
  client_core_busy_ticks: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number; count: number };
  /** Messages a client never got (sequence numbers skipped). */
  gaps: number;
  reorders: number;
  /** Deliveries with a stamp that was not ours or on the wrong channel. */
  bad: number;
  /** Connections the server closed. */
  closes: number;
  errors: number;
  rss_before_kib: number;
  rss_after_kib: number;
  /** The first close frame the server sent: code (-1: none) and reason. */
  close_code: number;
  close_reason: string;
  /** Bytes read from the server inside the window (every connection, frame or chunk headers included). */
  rx_bytes: number;
  /** Deliveries inside the window that arrived compressed (permessage-deflate). */
  compressed: number;
  /** Connections on which the server agreed to permessage-deflate. */
  deflate_agreed: number;
}

/** Compiles `loadgen.c` unless an up-to-date binary exists; returns its path. */
export async function buildLoadgen(root: string): Promise<string> {
  const source = `${root}/scripts/bench/loadgen.c`;
  const binary = `${root}/dist/bench/loadgen`;
  const mtime = (path: string) => {
    try {
      return Deno.statSync(path).mtime?.getTime() ?? 0;
    } catch {
      return 0;
    }
  };
  if (mtime(binary) > mtime(source)) return binary;
  await Deno.mkdir(`${root}/dist/bench`, { recursive: true });
  // zlib inflates compressed messages (the permessage-deflate scenarios).
  await runQuiet(["cc", "-O2", "-Wall", "-o", binary, source, "-lz"]).catch((error: Error) => {
    if (!/zlib\.h|-lz/.test(error.message)) throw error;
    throw new Error(
      "the load generator needs zlib's headers (Debian: apt-get install -y zlib1g-dev, or " +
        `SETUP_BENCH=1 bash scripts/setup.sh)\n${error.message}`,
    );
  });
  return binary;
}

/** Load generator arguments for a scenario. */
export function loadgenArgs(
  s: Scenario,
  port: number,
  serverPid: number,
  t: Timing,
  cores: { server: number; client: number } | null,
): string[] {
  const args = [
    "--port",
    String(port),
    "--server-pid",
    String(serverPid),
    "--channels",
    String(s.channels),
    "--clients",
    String(s.clients),
    "--publishers",
    String(s.publishers),
    "--size",
    String(s.sizeBytes),
    "--window",
    String(s.window),
    "--warmup",
    String(s.kind === "idle" ? 0 : t.warmupS),
    "--duration",
    String(s.kind === "idle" ? t.holdS : t.measureS),
  ];
  if (s.kind === "rate") args.push("--rate", String(s.rate));
  if (s.payload === "text") args.push("--text");
  if (s.payload === "json") args.push("--json");
  if (s.sse) args.push("--sse");
  if (s.deflate) args.push("--deflate");
  if (s.kind === "idle") args.push("--idle");
  if (cores) args.push("--server-core", String(cores.server), "--client-core", String(cores.client));
  return args;
}

/** Runs the load generator to completion and parses its result. */
export async function runLoadgen(
  binary: string,
  args: string[],
  prefix: string[],
  timeoutMs: number,
): Promise<LoadgenResult> {
  const child = spawnTracked([...prefix, binary, ...args]);
  const timer = setTimeout(() => child.stop(), timeoutMs);
  await child.status;
  clearTimeout(timer);
  const line = child.output().split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`load generator printed no result:\n${child.output().slice(-2000)}`);
  const result = JSON.parse(line) as LoadgenResult;
  if (!result.ok) {
    const detail = child.output().split("\n").filter((l) => l.startsWith("loadgen:")).join("; ");
    throw new Error(`load generator: ${result.error ?? "interrupted"}${detail ? ` (${detail})` : ""}`);
  }
  return result;
}
