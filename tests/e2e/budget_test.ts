/**
 * The relay-wide history budget, black box: a client that POSTs 1 MiB text messages to ever new channels must
 * neither grow the relay's memory past the budget (plus a fixed allowance) nor slow a bystander down, and a
 * channel whose history was evicted must answer a resume honestly with `recovered: false`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket } from "../support/ws_client.ts";

/** The budget the relay runs with in this test. */
const BUDGET_BYTES = 8 * 1024 * 1024;
/** How long the attacker publishes. */
const ATTACK_MS = 4000;
/** Concurrent keep-alive publishers. */
const PUBLISHERS = 4;
/** Text messages of 1 MiB: at the default `--max-message-bytes`. */
const MESSAGE = "x".repeat(1024 * 1024);
/**
 * RSS the relay may reach while attacked: the runtime's own footprint (60–130 MiB idle, more once the JIT
 * and the young generation warmed up), request bodies in flight, garbage not yet collected and the budget.
 * Without the budget the same run reached 600+ MiB on Deno.
 */
const RSS_BOUND_KIB = 300 * 1024;
/** `/healthz` on a new connection must answer within this, all along. */
const HEALTHZ_MS = 1000;

let relay: RelayProcess;

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** `GET /healthz` on a fresh TCP connection; resolves with the time to the status line, or rejects. */
function healthz(port: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`/healthz: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let text = "";
    socket.on(
      "connect",
      () => socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    );
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (!text.includes("\r\n")) return;
      clearTimeout(timer);
      socket.destroy();
      if (text.startsWith("HTTP/1.1 200")) resolve(performance.now() - start);
      else reject(new Error(`/healthz: ${text.split("\r\n")[0]}`));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function post(channel: string, body: string): Promise<number> {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

describe("relay-wide history budget", () => {
  before(async () =>
    relay = await startRelay([], { env: { RELAY_MAX_HISTORY_BYTES: String(BUDGET_BYTES) } })
  );
  after(async () => await relay.stop());

  it("keeps RSS bounded and /healthz fast under 1 MiB text POSTs to many channels, and evicted history resumes with recovered:false", async () => {
    // A channel someone follows, with history that the attack will push out of the budget.
    const watcher = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    watcher.sendJson({ type: "subscribe", channel: "victim" });
    const first = await watcher.nextJson();
    assert.equal(first.type, "subscribed");
    for (let i = 1; i <= 3; i++) assert.equal(await post("victim", `before ${i}`), 200);
    for (let i = 1; i <= 3; i++) assert.equal((await watcher.nextJson()).seq, i);
    watcher.close();
    await watcher.closed;

    const deadline = Date.now() + ATTACK_MS;
    const statuses = new Map<number, number>();
    let next = 0;
    const publishers = Array.from({ length: PUBLISHERS }, async () => {
      while (Date.now() < deadline) {
        const status = await post(`fill-${next++}`, MESSAGE).catch(() => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });
    let peakKiB = rssKiB(relay.pid);
    const slowest: number[] = [];
    const probes = (async () => {
      while (Date.now() < deadline) {
        slowest.push(await healthz(relay.port, HEALTHZ_MS));
        peakKiB = Math.max(peakKiB, rssKiB(relay.pid));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await Promise.all([...publishers, probes]);
    peakKiB = Math.max(peakKiB, rssKiB(relay.pid));

    const published = statuses.get(200) ?? 0;
    console.log(
      `budget: ${published} × 1 MiB accepted (${JSON.stringify(Object.fromEntries(statuses))}), ` +
        `peak RSS ${Math.round(peakKiB / 1024)} MiB, slowest /healthz ${Math.round(Math.max(...slowest))} ms`,
    );
    // The attack really exceeded the budget many times over, and every publish was stored (evicting) or
    // refused with 503: never a crash, never a hang.
    assert.ok(published * MESSAGE.length > 4 * BUDGET_BYTES, `only ${published} messages were published`);
    for (const status of statuses.keys()) assert.ok(status === 200 || status === 503, `status ${status}`);
    assert.ok(peakKiB < RSS_BOUND_KIB, `peak RSS ${peakKiB} KiB over ${RSS_BOUND_KIB} KiB`);
    assert.ok(slowest.length > 0);

    // The process lives and serves.
    assert.ok(await healthz(relay.port, HEALTHZ_MS) < HEALTHZ_MS);
    assert.equal(relay.output().includes("out of memory"), false);

    // The victim's history was evicted: resuming from where the watcher stopped is not recoverable, and says so.
    const resumer = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    resumer.sendJson({ type: "subscribe", channel: "victim", since: 1, epoch: first.epoch });
    const resumed = await resumer.nextJson();
    assert.equal(resumed.type, "subscribed");
    assert.equal(resumed.recovered, false);
    resumer.close();
    await resumer.closed;
  });
});
