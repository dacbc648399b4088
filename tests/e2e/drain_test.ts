/**
 * The drain (issue 14, item 3), black-box with two relays on one Redis: on SIGTERM the first node's `/readyz`
 * answers 503 at once, new upgrades get 503 with `Retry-After`, its few hundred WebSockets are closed with
 * 1001 spread over `--drain-timeout` (no burst), each client resumes on the second node and loses nothing,
 * and the node exits 0. A second signal exits at once; SIGHUP does not stop the relay.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { RawWebSocket } from "../support/raw_ws.ts";
import { TestSocket, within } from "../support/ws_client.ts";

const CLIENTS = 300;
const DRAIN_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One envelope client of channel `drain`: what it saw, by seq, across its reconnect. */
class Client {
  seqs: number[] = [];
  epoch = "";
  closedAt = 0;
  closeCode = 0;
  recovered: boolean | undefined;
  socket!: TestSocket;

  async connect(node: RelayProcess, resume: boolean): Promise<void> {
    const socket = await TestSocket.open(`${node.wsUrl}/ws`, "relay.v1");
    this.socket = socket;
    const last = this.seqs.at(-1) ?? 0;
    socket.sendJson(
      resume
        ? { type: "subscribe", channel: "drain", since: last, epoch: this.epoch }
        : { type: "subscribe", channel: "drain" },
    );
    socket.ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data as string);
      if (m.type === "subscribed") {
        this.epoch = m.epoch;
        if (resume) this.recovered = m.recovered;
      } else if (m.type === "message") this.seqs.push(m.seq);
    });
  }
}

describe("drain", () => {
  let redis: RedisServer;
  let a: RelayProcess;
  let b: RelayProcess;

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([
      startRelay(["--broker", redis.url, "--drain-timeout", `${DRAIN_MS}ms`]),
      startRelay(["--broker", redis.url]),
    ]);
    for (const node of [a, b]) {
      await eventually("node ready", async () => (await fetch(`${node.url}/readyz`)).status === 200);
    }
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it(`closes ${CLIENTS} WebSockets with 1001 spread over the drain time; they resume on another node losing nothing`, async () => {
    const clients = Array.from({ length: CLIENTS }, () => new Client());
    for (let i = 0; i < CLIENTS; i += 50) {
      await Promise.all(clients.slice(i, i + 50).map((c) => c.connect(a, false)));
    }
    await eventually("every client subscribed", () => clients.every((c) => c.epoch !== ""));
    // Publishes on the other node all along: a client must get every one, before or after its move.
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const response = await fetch(`${b.url}/channels/drain/messages`, {
          method: "POST",
          body: `m${published}`,
        });
        assert.equal(response.status, 200);
        await response.body?.cancel();
        published++;
        await sleep(20);
      }
    })();
    await eventually("first publishes seen", () => clients.every((c) => c.seqs.length >= 2));

    const sentAt = performance.now();
    for (const c of clients) {
      c.socket.closed.then(({ code }) => {
        c.closedAt = performance.now() - sentAt;
        c.closeCode = code;
        return c.connect(b, true);
      });
    }
    process.kill(a.pid, "SIGTERM");
    // At once: not ready, and new upgrades are sent elsewhere.
    await eventually("readyz 503", async () => (await fetch(`${a.url}/readyz`)).status === 503, 1000);
    const late = await RawWebSocket.connect(a.port, "/ws/late");
    assert.equal(late.status, 503);
    assert.ok(late.headers.has("retry-after"));
    late.destroy();

    await eventually(
      "every client closed and resumed",
      () => clients.every((c) => c.recovered !== undefined),
      15_000,
    );
    publishing = false;
    await publisher;
    await eventually(
      "every client has every message",
      () => clients.every((c) => c.seqs.length >= published),
      10_000,
    );

    assert.deepEqual(new Set(clients.map((c) => c.closeCode)), new Set([1001]));
    assert.ok(clients.every((c) => c.recovered === true), "every resume on the other node recovered");
    for (const c of clients) {
      const first = c.seqs[0];
      assert.deepEqual(
        c.seqs,
        Array.from({ length: c.seqs.length }, (_, i) => first + i),
        "a gap or a repeat",
      );
    }
    // Spread: the closes span most of the drain, and no quarter second holds more than a fifth of them.
    const times = clients.map((c) => c.closedAt).sort((x, y) => x - y);
    const span = times.at(-1)! - times[0];
    assert.ok(
      span >= DRAIN_MS * 0.6 && times.at(-1)! <= DRAIN_MS + 1500,
      `closes from ${times[0]} to ${times.at(-1)} ms`,
    );
    const windows = new Map<number, number>();
    for (const t of times) windows.set(Math.floor(t / 250), (windows.get(Math.floor(t / 250)) ?? 0) + 1);
    assert.ok(Math.max(...windows.values()) <= CLIENTS / 5, `per 250 ms: ${[...windows.values()]}`);

    // The SIGTERM above started the drain: wait for the exit (a second signal would exit at once, with 1).
    assert.equal(await within(5000, "exit after the drain", a.exited), 0);
    for (const c of clients) c.socket.close();
  });
});

describe("signals", () => {
  it("a second SIGTERM exits at once, mid-drain", async () => {
    // 300 sessions: a drain of 3 s at the slowest pace (100 a second), well past the second signal.
    const relay = await startRelay(["--drain-timeout", "30s"]);
    const sockets: TestSocket[] = [];
    for (let i = 0; i < 300; i += 50) {
      sockets.push(
        ...await Promise.all(Array.from({ length: 50 }, () => TestSocket.open(`${relay.wsUrl}/ws/s`))),
      );
    }
    process.kill(relay.pid, "SIGTERM");
    await sleep(300);
    const start = performance.now();
    process.kill(relay.pid, "SIGTERM");
    assert.equal(await within(2000, "exit after the second signal", relay.stop()), 1);
    assert.ok(performance.now() - start < 2000);
    for (const s of sockets) s.close();
  });

  it("SIGHUP does not stop the relay", async () => {
    const relay = await startRelay();
    process.kill(relay.pid, "SIGHUP");
    await sleep(300);
    assert.equal((await fetch(`${relay.url}/healthz`)).status, 200);
    assert.match(relay.output(), /SIGHUP/);
    assert.equal(await relay.stop(), 0);
  });
});
