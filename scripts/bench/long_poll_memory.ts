/**
 * Held long polls: RSS per held poll (issue 11). Starts the relay, holds N long polls (one TCP connection
 * each, spread over a few channels), and reports the relay's RSS growth per held poll, `/healthz` latency while
 * they are held, and how long one publish per channel takes to answer them all.
 *
 *   deno run -A scripts/bench/long_poll_memory.ts [--polls 10000] [--channels 10] [--runtime deno|bun]
 *
 * The growth includes each poll's connection (socket, HTTP parser, request): that is what a held poll costs.
 * @module
 */
import { parseArgs } from "node:util";
import { spawnTracked, stopAll } from "./processes.ts";

/** How long the held polls wait (below the relay's 55 s cap): longer than the measurement. */
const WAIT = "50s";
/** Connections opened at once while ramping up (a kernel accept queue overflows past a few hundred). */
const RAMP_BATCH = 200;
/** Settle time before reading RSS, so the last requests are parsed and held. */
const SETTLE_MS = 2000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    polls: { type: "string", default: "10000" },
    channels: { type: "string", default: "10" },
    runtime: { type: "string", default: "deno" },
  },
});
const polls = Number(values.polls);
const channels = Number(values.channels);

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
}

const relayCmd = values.runtime === "bun"
  ? [Deno.env.get("BUN_BIN") ?? "bun", "run", "src/main.ts"]
  : [Deno.execPath(), "run", "--allow-net", "--allow-read", "--allow-env", "src/main.ts"];
// Every poll comes from 127.0.0.1: the per-address connection cap must let them all in.
const relay = spawnTracked([
  ...relayCmd,
  "--host",
  "127.0.0.1",
  "--port",
  "0",
  "--max-connections-per-ip",
  String(polls + 100),
]);
try {
  const port = Number((await relay.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 20_000))[1]);
  const base = `http://127.0.0.1:${port}`;
  // Warm the routes once so the baseline includes compiled code, not just a fresh heap.
  await (await fetch(`${base}/channels/warm/messages?since=0`)).text();
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(relay.pid);

  const encoder = new TextEncoder();
  const conns: Deno.TcpConn[] = [];
  const answered: Promise<number>[] = [];
  for (let i = 0; i < polls; i += RAMP_BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(polls, i + RAMP_BATCH); j++) {
      batch.push(
        Deno.connect({ hostname: "127.0.0.1", port }).then(async (conn) => {
          conns.push(conn);
          const path = `/channels/lp-${j % channels}/messages?since=0&wait=${WAIT}`;
          await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
          answered.push(firstRead(conn));
        }),
      );
    }
    await Promise.all(batch);
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const held = rssKiB(relay.pid);

  const started = performance.now();
  await (await fetch(`${base}/healthz`)).text();
  const healthMs = performance.now() - started;

  const wakeStarted = performance.now();
  for (let c = 0; c < channels; c++) {
    await (await fetch(`${base}/channels/lp-${c}/messages`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "wake",
    })).text();
  }
  const statuses = await Promise.all(answered);
  const wakeMs = performance.now() - wakeStarted;
  const ok = statuses.filter((s) => s === 200).length;
  for (const conn of conns) conn.close();

  const perPoll = (held - before) / polls;
  console.log(`runtime ${values.runtime}, ${polls} held polls over ${channels} channels`);
  console.log(`relay RSS before ${(before / 1024).toFixed(1)} MiB, holding ${(held / 1024).toFixed(1)} MiB`);
  console.log(`RSS per held poll (with its connection): ${perPoll.toFixed(2)} KiB`);
  console.log(`/healthz while held: ${healthMs.toFixed(1)} ms`);
  console.log(`one publish per channel answered ${ok}/${polls} polls with 200 in ${wakeMs.toFixed(0)} ms`);
} finally {
  await relay.stop();
  await stopAll();
}

/** The status code of the first answer bytes read from `conn`. */
async function firstRead(conn: Deno.TcpConn): Promise<number> {
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer).catch(() => null);
  if (n === null || n < 12) return 0;
  return Number(new TextDecoder().decode(buffer.subarray(9, 12)));
}
