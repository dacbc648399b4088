/**
 * The servers a bench run compares: the relay (on Deno, and on Bun; with the memory and the SQLite broker) and
 * the four reference servers, each
 * started fresh per scenario on 127.0.0.1 with a free port, pinned to the server core.
 * @module
 */
import { spawnTracked, type Tracked } from "./processes.ts";

/** Names accepted by `--only`. */
export const SERVER_NAMES = [
  "relay",
  "relay-bun",
  "relay-sqlite",
  "relay-bun-sqlite",
  "relay-deflate",
  "relay-bun-deflate",
  "deno-native",
  "deno-raw",
  "bun-native",
  "bun-raw",
  "bun-native-deflate",
] as const;
export type ServerName = typeof SERVER_NAMES[number];

/** Runtime binaries (resolved once: `npx` wrappers would hide the real pid whose CPU we read). */
export interface Binaries {
  deno: string;
  /** Null when Bun is unavailable: Bun servers are skipped. */
  bun: string | null;
}

/** Flags the relay gets in every scenario: limits high or off, so that the bench measures speed, not policy. */
export const RELAY_BENCH_FLAGS: readonly string[] = Object.freeze([
  "--max-queued-bytes",
  String(64 * 1024 * 1024),
  "--max-connections-per-ip",
  "100000",
  "--max-messages-per-second",
  "0",
]);

/**
 * `--broker sqlite:FILE` with a fresh file for every start (a restart must not read the last scenario's
 * history back), in one temporary directory per bench run. The files stay there for inspection; each holds at
 * most `--history-size` messages per channel.
 */
function sqliteBrokerFlags(): string[] {
  sqliteDir ??= Deno.makeTempDirSync({ prefix: "edge-relay-bench-" });
  return ["--broker", `sqlite:${sqliteDir}/relay-${sqliteFiles++}.db`];
}
let sqliteDir: string | undefined;
let sqliteFiles = 0;

/** One server under test. */
export interface ServerSpec {
  readonly name: ServerName;
  readonly runtime: "deno" | "bun";
  readonly description: string;
  /** Runs only in the scenarios that name it (compression variants: the others would only repeat a server). */
  readonly extra?: boolean;
  command(bins: Binaries): string[];
}

const LISTEN_ARGS = ["--port", "0", "--host", "127.0.0.1"];
const DENO_RUN = ["run", "--allow-net", "--allow-read", "--allow-env"];

function denoRef(file: string) {
  return (bins: Binaries) => [bins.deno, ...DENO_RUN, `scripts/bench/${file}`, ...LISTEN_ARGS];
}

function bunRef(file: string, ...extra: string[]) {
  return (bins: Binaries) => [bins.bun!, "run", `scripts/bench/${file}`, ...LISTEN_ARGS, ...extra];
}

/** Every server, in report order. */
export const SERVERS: readonly ServerSpec[] = Object.freeze([
  {
    name: "relay",
    runtime: "deno",
    description: "Edge Relay (src/main.ts) on Deno",
    command: (bins) => [bins.deno, ...DENO_RUN, "src/main.ts", ...LISTEN_ARGS, ...RELAY_BENCH_FLAGS],
  },
  {
    name: "relay-bun",
    runtime: "bun",
    description: "Edge Relay (src/main.ts) on Bun",
    command: (bins) => [bins.bun!, "run", "src/main.ts", ...LISTEN_ARGS, ...RELAY_BENCH_FLAGS],
  },
  {
    name: "relay-sqlite",
    runtime: "deno",
    description: "Edge Relay on Deno with the SQLite broker (every message committed before delivery)",
    command: (bins) => {
      const broker = sqliteBrokerFlags();
      const dir = broker[1].slice("sqlite:".length).replace(/\/[^/]*$/, "");
      return [
        bins.deno,
        ...DENO_RUN,
        `--allow-write=${dir}`,
        "src/main.ts",
        ...LISTEN_ARGS,
        ...RELAY_BENCH_FLAGS,
        ...broker,
      ];
    },
  },
  {
    name: "relay-bun-sqlite",
    runtime: "bun",
    description: "Edge Relay on Bun with the SQLite broker",
    command: (
      bins,
    ) => [bins.bun!, "run", "src/main.ts", ...LISTEN_ARGS, ...RELAY_BENCH_FLAGS, ...sqliteBrokerFlags()],
  },
  {
    name: "relay-deflate",
    runtime: "deno",
    description: "Edge Relay on Deno with --deflate (each message compressed once for every subscriber)",
    extra: true,
    command: (
      bins,
    ) => [bins.deno, ...DENO_RUN, "src/main.ts", ...LISTEN_ARGS, ...RELAY_BENCH_FLAGS, "--deflate"],
  },
  {
    name: "relay-bun-deflate",
    runtime: "bun",
    description: "Edge Relay on Bun with --deflate",
    extra: true,
    command: (bins) => [bins.bun!, "run", "src/main.ts", ...LISTEN_ARGS, ...RELAY_BENCH_FLAGS, "--deflate"],
  },
  {
    name: "deno-native",
    runtime: "deno",
    description: "Deno.serve + Deno.upgradeWebSocket, broadcast in a loop",
    command: denoRef("ref_deno_native.ts"),
  },
  {
    name: "deno-raw",
    runtime: "deno",
    description: "corked raw-TCP broadcast on Deno.listen (Deno's practical bound)",
    command: denoRef("ref_deno_raw.ts"),
  },
  {
    name: "bun-native",
    runtime: "bun",
    description: "Bun.serve + server.publish",
    command: bunRef("ref_bun_native.ts"),
  },
  {
    name: "bun-raw",
    runtime: "bun",
    description: "corked raw-TCP broadcast on Bun.listen (Bun's practical bound)",
    command: bunRef("ref_bun_raw.ts"),
  },
  {
    name: "bun-native-deflate",
    runtime: "bun",
    description: "Bun.serve with perMessageDeflate + server.publish(…, compress = true)",
    extra: true,
    command: bunRef("ref_bun_native.ts", "--deflate"),
  },
]);

/** CPU pinning: the server on one core, the load generator on another. */
export interface Pinning {
  /** Command prefix for servers (e.g. `taskset -c 0`), empty when pinning is off. */
  server: string[];
  /** Command prefix for the load generator and wrk. */
  client: string[];
  /** The cores used, for contention checks (null when pinning is off). */
  cores: { server: number; client: number } | null;
  /** For the report. */
  summary: string;
}

/** Pins server and client to different cores when `taskset` exists and there are at least 2 cores. */
export function pinning(taskset: string | null, cores: number): Pinning {
  if (!taskset || cores < 2) {
    return {
      server: [],
      client: [],
      cores: null,
      summary: "no CPU pinning (taskset missing or fewer than 2 cores)",
    };
  }
  return {
    server: [taskset, "-c", "0"],
    client: [taskset, "-c", "1"],
    cores: { server: 0, client: 1 },
    summary: "server pinned to CPU 0, load generator / wrk pinned to CPU 1 (taskset)",
  };
}

/** A started server. */
export interface RunningServer {
  readonly name: ServerName;
  readonly pid: number;
  readonly port: number;
  readonly process: Tracked;
}

const LISTENING_RE = /edge-relay listening on https?:\/\/\S+:(\d+)/;

/**
 * Starts a server and waits for its listening line. The open-files limit is raised to the hard limit in the
 * child's shell, which then `exec`s the runtime, so the pid we read `/proc` from is the server itself.
 */
export async function startServer(
  spec: ServerSpec,
  bins: Binaries,
  pin: Pinning,
  cwd: string,
  timeoutMs = 30_000,
): Promise<RunningServer> {
  const cmd = [
    ...pin.server,
    "sh",
    "-c",
    'ulimit -n "$(ulimit -Hn)"; exec "$@"',
    "sh",
    ...spec.command(bins),
  ];
  const child = spawnTracked(cmd, { cwd });
  try {
    const match = await child.waitFor(LISTENING_RE, timeoutMs);
    return { name: spec.name, pid: child.pid, port: Number(match[1]), process: child };
  } catch (error) {
    await child.stop();
    const tail = child.output().trim().split("\n").slice(-6).join("\n");
    throw new Error(`${spec.name} did not start: ${(error as Error).message}${tail ? `\n${tail}` : ""}`);
  }
}
