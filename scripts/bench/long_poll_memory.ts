/**
 * Held long polls: RSS per held poll (issue 11). Holds N long polls against a running relay (one TCP
 * connection each, spread over a few channels) and reports the relay's RSS growth per held poll, `/healthz`
 * latency while they are held, and how long one publish per channel takes to answer them all. `deno task bench`
 * runs it as the `long-poll-10k` part on the relay on Deno and on Bun; on its own it starts the relay itself:
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

/** What {@link measureHeldPolls} found. */
export interface HeldPollResult {
  polls: number;
  channels: number;
  rssBeforeKiB: number;
  rssHeldKiB: number;
  /** RSS growth per held poll, its connection included. */
  kibPerPoll: number;
  /** One `GET /healthz` while every poll is held. */
  healthzMs: number;
  /** From the first wake-up publish until every held poll was answered. */
  wakeMs: number;
  /** Polls answered 200 by the wake-up publishes. */
  answered: number;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
}

/**
 * Holds `polls` long polls on a relay listening on 127.0.0.1:`port` (process `pid`), then wakes them with one
 * publish per channel. Every connection it opens is closed before it returns. The relay's per-address cap
 * must let them all in (the bench's relay flags do).
 */
export async function measureHeldPolls(
  port: number,
  pid: number,
  polls: number,
  channels: number,
): Promise<HeldPollResult> {
  const base = `http://127.0.0.1:${port}`;
  // Warm the routes once so the baseline includes compiled code, not just a fresh heap.
  await (await fetch(`${base}/channels/warm/messages?since=0`)).text();
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKiB(pid);

  const encoder = new TextEncoder();
  const conns: Deno.TcpConn[] = [];
  const answered: Promise<number>[] = [];
  try {
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
    const held = rssKiB(pid);

    const started = performance.now();
    await (await fetch(`${base}/healthz`)).text();
    const healthzMs = performance.now() - started;

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
    return {
      polls,
      channels,
      rssBeforeKiB: before,
      rssHeldKiB: held,
      kibPerPoll: (held - before) / polls,
      healthzMs,
      wakeMs,
      answered: statuses.filter((s) => s === 200).length,
    };
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed by the relay
      }
    }
  }
}

/** The status code of the first answer bytes read from `conn`. */
async function firstRead(conn: Deno.TcpConn): Promise<number> {
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer).catch(() => null);
  if (n === null || n < 12) return 0;
  return Number(new TextDecoder().decode(buffer.subarray(9, 12)));
}

if (import.meta.main) {
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
    const r = await measureHeldPolls(port, relay.pid, polls, channels);
    console.log(`runtime ${values.runtime}, ${polls} held polls over ${channels} channels`);
    console.log(
      `relay RSS before ${(r.rssBeforeKiB / 1024).toFixed(1)} MiB, holding ${
        (r.rssHeldKiB / 1024).toFixed(1)
      } MiB`,
    );
    console.log(`RSS per held poll (with its connection): ${r.kibPerPoll.toFixed(2)} KiB`);
    console.log(`/healthz while held: ${r.healthzMs.toFixed(1)} ms`);
    console.log(
      `one publish per channel answered ${r.answered}/${polls} polls with 200 in ${r.wakeMs.toFixed(0)} ms`,
    );
  } finally {
    await relay.stop();
    await stopAll();
  }
}
