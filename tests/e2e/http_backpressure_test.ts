/**
 * Output backpressure of the relay's HTTP server, black box: the real relay as a subprocess, attacked with raw
 * `node:net` sockets that pipeline requests and never read the answers, measured from `/proc/<pid>` (RSS and
 * CPU time) and by a bystander on another connection (docs/security.md, "HTTP output backpressure").
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { sleep } from "./http_support.ts";

/** How long the no-read pipeline runs. */
const ATTACK_MS = 3000;
/** RSS the relay may gain meanwhile (without backpressure it gains 150–800 MiB in 3 s). */
const MAX_RSS_GROWTH_MIB = 64;
/** CPU the relay may spend per second once the attacker's buffers are full (without backpressure: ~1 s/s). */
const MAX_CPU_PER_SECOND = 0.15;
/** A bystander's `GET /healthz` during an attack must be answered within this. */
const HEALTHZ_MS = 1000;
/** History read by the big pipelined GETs: messages × bytes (each response ~2.6 MB of JSON). */
const BIG_MESSAGES = 40;
const BIG_MESSAGE_BYTES = 64 * 1024;

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line!.split(/\s+/)[1]) / 1024;
}

/** User + system CPU seconds the process used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15 of stat(5); after "pid (comm) " the list starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A TCP connection that never reads what the relay sends. */
function openNonReader(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.pause();
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

/** `GET /healthz` on a fresh connection: ms to the status line, or Infinity when not within `timeoutMs`. */
function healthzMs(port: number, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const socket = connect({ port, host: "127.0.0.1" });
    const done = (ms: number) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ms);
    };
    const timer = setTimeout(() => done(Infinity), timeoutMs);
    socket.on("error", () => done(Infinity));
    socket.once("data", () => done(performance.now() - start));
    socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  });
}

describe("HTTP output backpressure (a client that pipelines and never reads)", () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay();
    const body = "x".repeat(BIG_MESSAGE_BYTES);
    for (let i = 0; i < BIG_MESSAGES; i++) {
      const response = await fetch(`${relay.url}/channels/big/messages`, {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body,
      });
      assert.equal(response.status, 200, await response.text());
    }
  });

  after(async () => {
    await relay?.stop();
  });

  it("holds the relay's memory and CPU flat while requests keep arriving unread", async () => {
    const socket = await openNonReader(relay.port);
    const batch = Buffer.from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(2000));
    const rssBefore = rssMiB(relay.pid);
    let sent = 0;
    let writable = true;
    socket.on("drain", () => writable = true);
    const start = Date.now();
    let cpuMark = 0;
    let bystanderMs = 0;
    try {
      while (Date.now() - start < ATTACK_MS) {
        // Keep the client's own queue short: what matters is what the relay accepts.
        if (writable) {
          writable = socket.write(batch);
          sent += batch.length;
        }
        if (cpuMark === 0 && Date.now() - start >= ATTACK_MS / 3) {
          cpuMark = cpuSeconds(relay.pid);
          bystanderMs = await healthzMs(relay.port);
        }
        await sleep(5);
      }
      const cpuLate = cpuSeconds(relay.pid) - cpuMark;
      const rssGrowth = rssMiB(relay.pid) - rssBefore;
      const lateSeconds = (Date.now() - start) / 1000 - ATTACK_MS / 3000;
      const what = `sent ${(sent / 1e6).toFixed(1)} MB; RSS +${rssGrowth.toFixed(0)} MiB; ` +
        `CPU ${cpuLate.toFixed(2)} s in the last ${lateSeconds.toFixed(1)} s; /healthz ${
          bystanderMs.toFixed(0)
        } ms`;
      assert.ok(rssGrowth < MAX_RSS_GROWTH_MIB, `RSS grew too much: ${what}`);
      assert.ok(cpuLate < MAX_CPU_PER_SECOND * lateSeconds, `the relay kept working: ${what}`);
      assert.ok(bystanderMs < HEALTHZ_MS, `a bystander waited: ${what}`);
    } finally {
      socket.destroy();
    }
  });

  it("stops building responses as soon as the client closes", async () => {
    const socket = await openNonReader(relay.port);
    socket.write("GET /channels/big/messages?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(150));
    await sleep(200);
    socket.destroy();
    // Let the relay notice the close (its pending write fails), then measure the work it still does.
    await sleep(300);
    const cpuAfterClose = cpuSeconds(relay.pid);
    const bystanderMs = await healthzMs(relay.port);
    await sleep(1000);
    const cpu = cpuSeconds(relay.pid) - cpuAfterClose;
    const what =
      `CPU ${cpu.toFixed(2)} s in the ${((bystanderMs + 1000) / 1000).toFixed(1)} s after the close; ` +
      `/healthz ${bystanderMs.toFixed(0)} ms`;
    // Without backpressure the relay built all 150 responses (~390 MB of JSON) for a client that was gone.
    assert.ok(cpu < 0.3, `the relay kept answering a client that left: ${what}`);
    assert.ok(bystanderMs < HEALTHZ_MS, `a bystander waited: ${what}`);
  });
});
