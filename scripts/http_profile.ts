/**
 * Quick HTTP throughput check of our HTTP/1.1 server against `Deno.serve`: keep-alive `GET /healthz` with
 * `wrk -t1 -c50`, the server pinned to core 0 and wrk to core 1, the server's CPU time read from `/proc`.
 * Prints requests per second and requests per server CPU-second for each target, and the ratio to `Deno.serve`.
 *
 *     deno run -A scripts/http_profile.ts [--seconds 10] [--warmup 2] [--rounds 1] [--targets deno,relay,bare]
 *       [--cpu-prof DIR] [--v8-flags F]
 *
 * Targets: `deno` (the `Deno.serve` reference server), `relay` (`src/main.ts`, the full Hono app), `bare` (our
 * `HttpServer` with a one-line handler, run by this script with `--serve-bare`), `raw` (the runtime adapter
 * writing a constant response, no HTTP server: the floor). `name@DIR` runs a target from another checkout
 * (a baseline). With `--rounds N` the targets run N times, interleaved, and the medians are reported.
 * `--cpu-prof DIR` writes a V8 CPU profile of each of our servers into DIR when it stops; `--v8-flags F`
 * passes V8 flags to them.
 *
 *     deno run -A scripts/http_profile.ts --in-process bare|relay
 *
 * measures our HTTP layer (and the relay's Hono app) without sockets: wall time per request over in-memory
 * connections.
 * @module
 */
import { type HttpHandler, HttpServer, serveHttp } from "../src/http/mod.ts";
import { createApp } from "../src/app/mod.ts";
import { securityHeaderList } from "../src/access/mod.ts";
import type { Conn, ConnHandler } from "../src/runtime/mod.ts";
import { loadRuntime } from "../src/runtime/mod.ts";
import { benchHealthz } from "./bench/http_bench.ts";
import { clockTicksPerSecond, spawnTracked, stopAll, which } from "./bench/processes.ts";

const HEALTHZ_BODY = '{"status":"ok"}';
const READY_TIMEOUT_MS = 30_000;

/** The `bare` target: our server with a handler that returns a constant JSON response. */
async function serveBare(): Promise<void> {
  const runtime = await loadRuntime();
  const http = new HttpServer(
    () => new Response(HEALTHZ_BODY, { headers: { "content-type": "application/json" } }),
  );
  const listener = runtime.listen({ hostname: "127.0.0.1", port: 0, onConn: (conn) => http.serve(conn) });
  console.log(`edge-relay listening on http://127.0.0.1:${listener.port}`);
  // Exit normally on SIGTERM so that --cpu-prof writes its profile.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}

/**
 * The `raw` target: the runtime adapter alone, answering every request head (found by its blank line) with
 * a constant response; the floor under any HTTP server on this adapter.
 */
async function serveRaw(): Promise<void> {
  const runtime = await loadRuntime();
  const body = new TextEncoder().encode(HEALTHZ_BODY);
  const response = new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${HEALTHZ_BODY}`,
  );
  const listener = runtime.listen({
    hostname: "127.0.0.1",
    port: 0,
    onConn: (conn) => {
      let matched = 0;
      conn.setHandler({
        data(chunk) {
          for (const byte of chunk) {
            matched = byte === (matched % 2 === 0 ? 0x0d : 0x0a) ? matched + 1 : byte === 0x0d ? 1 : 0;
            if (matched === 4) {
              matched = 0;
              conn.write(response);
            }
          }
        },
        end: () => conn.end(),
        drain() {},
        close() {},
      });
    },
  });
  console.log(`edge-relay listening on http://127.0.0.1:${listener.port}`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}

/** A connection that only counts writes: the in-process measure sees our HTTP layer without any I/O. */
class CountingConn implements Conn {
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 40000;
  readonly secure = false;
  readonly bufferedAmount = 0;
  readonly closed = false;
  handler: ConnHandler | null = null;
  constructor(readonly onWrite: () => void) {}
  setHandler(handler: ConnHandler): void {
    this.handler = handler;
  }
  write(): boolean {
    this.onWrite();
    return true;
  }
  discardQueued(): number {
    return 0;
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  close(): void {}
}

/**
 * `--in-process bare|relay`: 50 in-memory connections each sent one keep-alive `GET /healthz` per round, as
 * wrk would, and the wall time per request printed: the cost of our HTTP layer (and the Hono app) alone.
 */
async function inProcess(kind: string): Promise<void> {
  const app = createApp({ ready: () => true });
  const handler: HttpHandler = kind === "relay"
    ? (request, info) => app.fetch(request, info)
    : () => new Response(HEALTHZ_BODY, { headers: { "content-type": "application/json" } });
  const options = { defaultHeaders: await securityHeaderList(false) };
  let writes = 0;
  let wake: (() => void) | null = null;
  const onWrite = () => {
    writes++;
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const conns = Array.from({ length: 50 }, () => new CountingConn(onWrite));
  for (const conn of conns) serveHttp(conn, handler, options);
  const request = new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
  const rounds = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const target = writes + conns.length;
      for (const conn of conns) conn.handler!.data(request);
      while (writes < target) await new Promise<void>((resolve) => wake = resolve);
    }
  };
  await rounds(2000);
  const runs: number[] = [];
  for (let run = 0; run < 15; run++) {
    const start = performance.now();
    await rounds(1000);
    runs.push((performance.now() - start) * 1000 / (1000 * conns.length));
  }
  runs.sort((a, b) => a - b);
  // The fastest run is the one least disturbed by other processes; the median shows the spread.
  console.log(`${kind} in-process: best ${runs[0].toFixed(2)} µs/request, median ${runs[7].toFixed(2)}`);
}

function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

async function compare(): Promise<void> {
  const seconds = Number(option("--seconds", "10"));
  const warmup = Number(option("--warmup", "2"));
  const rounds = Number(option("--rounds", "1"));
  const targets = option("--targets", "deno,relay,bare").split(",");
  const profileDir = option("--cpu-prof", "");
  const wrkPath = await which("wrk");
  if (wrkPath === null) throw new Error("wrk is not installed (apt-get install -y wrk)");
  const clkTck = await clockTicksPerSecond();
  const deno = Deno.execPath();
  const root = new URL("..", import.meta.url).pathname;
  const v8Flags = option("--v8-flags", "");
  const prof = (name: string) => [
    ...(v8Flags === "" ? [] : [`--v8-flags=${v8Flags}`]),
    ...(profileDir === ""
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]),
  ];
  const commands: Record<string, string[]> = {
    deno: [deno, "run", "-A", "scripts/bench/ref_deno_native.ts", "--port", "0"],
    relay: [deno, "run", "-A", ...prof("relay"), "src/main.ts", "--port", "0", "--host", "127.0.0.1"],
    bare: [deno, "run", "-A", ...prof("bare"), "scripts/http_profile.ts", "--serve-bare"],
    raw: [deno, "run", "-A", ...prof("raw"), "scripts/http_profile.ts", "--serve-raw"],
  };
  const results = new Map<string, number[]>(targets.map((target) => [target, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const target of targets) {
        // `name@DIR` runs the target from another checkout (a baseline), with this script's commands.
        const [name, dir = root] = target.split("@");
        const cmd = commands[name];
        if (cmd === undefined) throw new Error(`unknown target ${name}`);
        const server = spawnTracked(["taskset", "-c", "0", ...cmd], { cwd: dir });
        try {
          const match = await server.waitFor(/listening on https?:\/\/[^\s]+:(\d+)/, READY_TIMEOUT_MS);
          const result = await benchHealthz(
            wrkPath,
            ["taskset", "-c", "1"],
            Number(match[1]),
            server.pid,
            clkTck,
            warmup,
            seconds,
          );
          results.get(target)!.push(result.requestsPerCpuS);
          console.log(
            `${target.padEnd(6)} ${Math.round(result.requestsPerS).toString().padStart(7)} req/s  ` +
              `${Math.round(result.requestsPerCpuS).toString().padStart(7)} req/CPU-s  ` +
              `cpu ${result.serverCpuS.toFixed(2)} s  failures ${result.failures}`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await stopAll();
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const reference = results.get("deno");
  for (const [target, values] of results) {
    let line = `${target}: median ${Math.round(median(values))} req/CPU-s over ${values.length} run(s)`;
    if (reference !== undefined && target !== "deno") {
      // Ratios per round (the same minutes of machine load), then their median.
      const ratios = values.map((value, i) => value / reference[i]);
      line += `, ${(median(ratios)).toFixed(2)}x Deno.serve (per round: ${
        ratios.map((r) => r.toFixed(2)).join(" ")
      })`;
    }
    console.log(line);
  }
}

if (Deno.args.includes("--serve-bare")) {
  await serveBare();
} else if (Deno.args.includes("--serve-raw")) {
  await serveRaw();
} else if (Deno.args.includes("--in-process")) {
  await inProcess(option("--in-process", "bare"));
} else {
  await compare();
}
