/**
 * A short cross-node benchmark of the Redis broker, and the cost of a Redis restart.
 *
 * 1. Latency and CPU: one publisher (raw WebSocket) on node A at a fixed rate, subscribers on A and B. The same
 *    load against a single node with the memory broker is the baseline. Latency is publish-to-receive measured
 *    in this process (one clock); CPU per delivery is each server's user+system time from /proc/<pid>/stat
 *    divided by the messages it delivered.
 * 2. Restart: HTTP publishes to A at a fixed rate, an envelope subscriber on B; Redis is killed (SIGKILL),
 *    left down for a moment, and started again empty. Reports the publishes refused (503), how long delivery
 *    stopped, and whether the subscriber was told of the lost history (`subscribed` with `recovered: false`).
 *
 * Usage: `deno run --allow-all scripts/bench_redis.ts [--rate 500] [--seconds 4] [--subscribers 10]`
 * @module
 */
import process from "node:process";
import { clockTicksPerSecond, cpuTicks } from "./bench/processes.ts";
import { type RelayProcess, startRelay } from "../tests/support/relay_process.ts";
import { type RedisServer, startRedis } from "../tests/support/redis_server.ts";
import { TestSocket } from "../tests/support/ws_client.ts";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const RATE = flag("rate", 500);
const SECONDS = flag("seconds", 4);
const SUBSCRIBERS = flag("subscribers", 10);
const DOWN_MS = flag("down-ms", 1000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

interface Group {
  label: string;
  node: RelayProcess;
  sockets: TestSocket[];
  latencies: number[];
}

/** Opens `count` raw subscribers on `node` that record publish-to-receive latency from the message text. */
async function subscribers(
  label: string,
  node: RelayProcess,
  channel: string,
  count: number,
): Promise<Group> {
  const group: Group = { label, node, sockets: [], latencies: [] };
  for (let i = 0; i < count; i++) {
    const socket = await TestSocket.open(`${node.wsUrl}/ws/${channel}`);
    socket.ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") group.latencies.push(performance.now() - Number(e.data.split(" ")[0]));
    });
    group.sockets.push(socket);
  }
  return group;
}

/** Publishes `RATE` messages a second for `SECONDS` on a raw socket of `node`; each carries its send time. */
async function publishAtRate(node: RelayProcess, channel: string): Promise<number> {
  const publisher = await TestSocket.open(`${node.wsUrl}/ws/${channel}`);
  const total = RATE * SECONDS;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    publisher.ws.send(`${performance.now()} ${"x".repeat(64)}`);
  }
  await sleep(500); // let the tail arrive
  publisher.close();
  return total;
}

interface Row {
  setup: string;
  group: string;
  received: number;
  p50: number;
  p99: number;
}

/** One load run over `groups`, with CPU sampled on `servers` (pid → label). */
async function run(
  setup: string,
  publishOn: RelayProcess,
  channel: string,
  groups: Group[],
  servers: Map<number, string>,
) {
  await sleep(200); // subscriptions reach Redis
  const ticks = await clockTicksPerSecond();
  const before = new Map([...servers.keys()].map((pid) => [pid, cpuTicks(pid)]));
  const sent = await publishAtRate(publishOn, channel);
  const rows: Row[] = groups.map((g) => {
    const sorted = g.latencies.slice().sort((x, y) => x - y);
    return {
      setup,
      group: g.label,
      received: g.latencies.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
    };
  });
  const cpu = [...servers].map(([pid, label]) => {
    const seconds = (cpuTicks(pid) - before.get(pid)!) / ticks;
    const delivered = groups.filter((g) => g.node.pid === pid).reduce((n, g) => n + g.latencies.length, 0);
    return {
      setup,
      server: label,
      cpuSeconds: seconds,
      perMessageUs: (seconds / sent) * 1e6,
      perDeliveryUs: delivered ? (seconds / delivered) * 1e6 : NaN,
    };
  });
  for (const g of groups) for (const s of g.sockets) s.close();
  return { sent, rows, cpu };
}

async function latencyAndCpu(redis: RedisServer) {
  const single = await startRelay([]);
  const a = await startRelay(["--broker", redis.url]);
  const b = await startRelay(["--broker", redis.url]);
  try {
    for (const node of [a, b]) {
      while ((await fetch(`${node.url}/readyz`)).status !== 200) await sleep(50);
    }
    const half = Math.max(1, Math.floor(SUBSCRIBERS / 2));
    const base = await run("single node (memory)", single, "bench-single", [
      await subscribers("on the node", single, "bench-single", SUBSCRIBERS),
    ], new Map([[single.pid, "node"]]));
    const redisPid = Number((await redis.cli(["INFO", "server"])).match(/process_id:(\d+)/)![1]);
    const multi = await run("two nodes (redis)", a, "bench-multi", [
      await subscribers("on A (publisher's node)", a, "bench-multi", half),
      await subscribers("on B", b, "bench-multi", half),
    ], new Map([[a.pid, "node A"], [b.pid, "node B"], [redisPid, "redis-server"]]));
    console.log(`\n## Latency (${RATE} msg/s for ${SECONDS} s, 64-byte text, ${SUBSCRIBERS} subscribers)\n`);
    console.log("| setup | subscribers | received | p50 ms | p99 ms |\n|---|---|---|---|---|");
    for (const r of [...base.rows, ...multi.rows]) {
      console.log(`| ${r.setup} | ${r.group} | ${r.received} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
    }
    console.log("\n## CPU\n\n| setup | process | CPU s | µs per message | µs per local delivery |");
    console.log("|---|---|---|---|---|");
    for (const c of [...base.cpu, ...multi.cpu]) {
      const per = Number.isNaN(c.perDeliveryUs) ? "–" : c.perDeliveryUs.toFixed(1);
      const perMessage = c.perMessageUs.toFixed(1);
      console.log(`| ${c.setup} | ${c.server} | ${c.cpuSeconds.toFixed(2)} | ${perMessage} | ${per} |`);
    }
  } finally {
    await Promise.all([single.stop(), a.stop(), b.stop()]);
  }
}

async function restartCost(redis: RedisServer) {
  const a = await startRelay(["--broker", redis.url]);
  const b = await startRelay(["--broker", redis.url]);
  try {
    for (const node of [a, b]) {
      while ((await fetch(`${node.url}/readyz`)).status !== 200) await sleep(50);
    }
    const subscriber = await TestSocket.open(`${b.wsUrl}/ws`, "relay.v1");
    subscriber.sendJson({ type: "subscribe", channel: "bench-restart" });
    await subscriber.nextJson();
    const arrivals: number[] = [];
    let resets = 0;
    subscriber.ws.addEventListener("message", (e) => {
      const frame = JSON.parse(e.data as string);
      if (frame.type === "message") arrivals.push(performance.now());
      if (frame.type === "subscribed" && frame.recovered === false) resets++;
    });
    let refused = 0;
    let stored = 0;
    let stop = false;
    let firstStoredAfter = NaN;
    let killedAt = NaN;
    const publisher = (async () => {
      while (!stop) {
        const response = await fetch(`${a.url}/channels/bench-restart/messages`, {
          method: "POST",
          body: "x",
        });
        await response.body?.cancel();
        if (response.status === 200) {
          stored++;
          if (!Number.isNaN(killedAt) && Number.isNaN(firstStoredAfter)) firstStoredAfter = performance.now();
        } else refused++;
        await sleep(10);
      }
    })();
    await sleep(1000);
    killedAt = performance.now();
    await redis.stop("SIGKILL");
    await sleep(DOWN_MS);
    const restartedAt = performance.now();
    await redis.start();
    while (Number.isNaN(firstStoredAfter) && performance.now() - restartedAt < 10_000) await sleep(20);
    await sleep(1000);
    stop = true;
    await publisher;
    const lastBefore = Math.max(...arrivals.filter((t) => t < killedAt));
    const firstAfter = Math.min(...arrivals.filter((t) => t > killedAt));
    console.log(`\n## Redis restart (HTTP publishes to A every ~10 ms, envelope subscriber on B)\n`);
    console.log("| measure | value |\n|---|---|");
    console.log(`| Redis down (imposed) | ${(DOWN_MS / 1000).toFixed(2)} s |`);
    console.log(`| publishes refused (503) | ${refused} |`);
    console.log(`| publishes stored | ${stored} |`);
    console.log(`| kill → first stored publish | ${((firstStoredAfter - killedAt) / 1000).toFixed(2)} s |`);
    console.log(
      `| restart → first stored publish | ${((firstStoredAfter - restartedAt) / 1000).toFixed(2)} s |`,
    );
    console.log(
      `| longest time without delivery on B | ${((firstAfter - lastBefore) / 1000).toFixed(2)} s |`,
    );
    console.log(`| fresh subscribed with recovered:false on B | ${resets} |`);
    subscriber.close();
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

const redis = await startRedis();
try {
  await latencyAndCpu(redis);
  await restartCost(redis);
} finally {
  await redis.stop();
}
process.exit(0);
