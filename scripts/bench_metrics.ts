/**
 * Is the delivery path unchanged by metrics? chat-64 (the bench's scenario) on the relay without the internal
 * listener and with it (`--internal-port 0`, `/metrics` scraped every second during the run, the scrape's CPU
 * counted in the server's), alternated A/B/A/B in one run so drift and noise hit both alike.
 *
 *     deno run --allow-all scripts/bench_metrics.ts [--rounds 3] [--runtime deno|bun]
 *
 * Prints µs of server CPU per delivered message and deliveries per second for each run, and the median ratio.
 * @module
 */
import { parseArgs } from "node:util";
import { buildLoadgen, loadgenArgs, runLoadgen } from "./bench/loadgen.ts";
import { stopAll, which } from "./bench/processes.ts";
import { summarize } from "./bench/report.ts";
import { FULL_TIMING, SCENARIOS } from "./bench/scenarios.ts";
import { pinning, RELAY_BENCH_FLAGS, type ServerSpec, startServer } from "./bench/servers.ts";

/** How often the scraper reads `/metrics` while the load runs, in ms (Prometheus' usual interval is 15 s). */
const SCRAPE_INTERVAL_MS = 1000;
const INTERNAL_RE = /edge-relay internal listening on (http:\/\/\S+)/;

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" }, runtime: { type: "string", default: "deno" } },
});
const rounds = Number(values.rounds);
const root = new URL("..", import.meta.url).pathname;
const scenario = SCENARIOS.find((s) => s.name === "chat-64")!;
const bun = values.runtime === "bun" ? Deno.env.get("BUN_BIN") ?? await which("bun") : null;
if (values.runtime === "bun" && bun === null) throw new Error("set BUN_BIN to a Bun 1.4.4 binary");

function spec(metrics: boolean): ServerSpec {
  const flags = [...RELAY_BENCH_FLAGS, ...(metrics ? ["--internal-port", "0"] : [])];
  const listen = ["--port", "0", "--host", "127.0.0.1"];
  return {
    name: values.runtime === "bun" ? "relay-bun" : "relay",
    runtime: values.runtime === "bun" ? "bun" : "deno",
    description: metrics ? "with metrics" : "without metrics",
    command: (bins) =>
      values.runtime === "bun" ? [bins.bun!, "run", "src/main.ts", ...listen, ...flags] : [
        bins.deno,
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "src/main.ts",
        ...listen,
        ...flags,
      ],
  };
}

const pin = pinning(await which("taskset"), navigator.hardwareConcurrency);
const loadgen = await buildLoadgen(root);
const bins = { deno: Deno.execPath(), bun };
const results: { metrics: boolean; cpuUs: number; perS: number; scrapes: number }[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const metrics of [false, true]) {
      const server = await startServer(spec(metrics), bins, pin, root);
      let scrapes = 0;
      let timer: ReturnType<typeof setInterval> | undefined;
      try {
        const internal = metrics ? INTERNAL_RE.exec(server.process.output())?.[1] : undefined;
        if (metrics && internal === undefined) throw new Error("no internal listening line");
        if (internal !== undefined) {
          timer = setInterval(async () => {
            const response = await fetch(`${internal}/metrics`);
            if ((await response.text()).includes("edge_relay_messages_delivered_total")) scrapes++;
          }, SCRAPE_INTERVAL_MS);
        }
        const args = loadgenArgs(scenario, server.port, server.pid, FULL_TIMING, pin.cores);
        const result = await runLoadgen(loadgen, args, pin.client, 60_000);
        const rec = summarize(scenario, server.name, result);
        results.push({ metrics, cpuUs: rec.cpuUsPerDelivery!, perS: rec.deliveriesPerS!, scrapes });
        console.log(
          `round ${round + 1} ${metrics ? "with metrics   " : "without metrics"}: ${
            rec.cpuUsPerDelivery!.toFixed(3)
          } µs CPU/delivery, ${Math.round(rec.deliveriesPerS!)} deliveries/s${
            metrics ? `, ${scrapes} scrapes` : ""
          }`,
        );
      } finally {
        clearInterval(timer);
        await server.process.stop();
      }
    }
  }
} finally {
  await stopAll();
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const off = median(results.filter((r) => !r.metrics).map((r) => r.cpuUs));
const on = median(results.filter((r) => r.metrics).map((r) => r.cpuUs));
console.log(
  `median µs CPU/delivery: without ${off.toFixed(3)}, with ${on.toFixed(3)} (ratio ${(on / off).toFixed(3)})`,
);
