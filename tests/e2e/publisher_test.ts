/**
 * Sender identity (issue 15, item 4), black box: the real relay with `--jwt-secret` and `--expose-publisher
 * 'room:*'`. A message published by a token's holder carries `"publisher":"<sub>"` for every reader (envelope
 * WebSocket, server-sent events, history, long poll), whatever transport published it; a client naming a
 * publisher itself is refused; a channel outside the patterns carries no field; the field survives a restart on
 * the same SQLite file and crosses nodes over Redis. Runs the relay on Deno or on Bun (`RELAY_RUNTIME=bun`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { type RelayProcess, runtimeCommand, startRelay } from "../support/relay_process.ts";
import { TestSocket } from "../support/ws_client.ts";
import { SseClient } from "../support/sse_client.ts";
import { epochSeconds, hs256 } from "../support/jwt_mint.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";

const SECRET = "publisher-e2e-secret-with-more-than-32-bytes";
const ALL = { subscribe: ["*"], publish: ["*"] };
const dir = mkdtempSync(join(tmpdir(), "relay-publisher-e2e-"));
const dbPath = join(dir, "relay.db");
let unique = 0;
const room = () => `room:${Date.now().toString(36)}-${unique++}`;

const token = (sub: string | undefined) =>
  hs256(
    sub === undefined ? { exp: epochSeconds(600), relay: ALL } : { sub, exp: epochSeconds(600), relay: ALL },
    SECRET,
  );

/** The relay command, with write access to the test directory on Deno (node:sqlite checks it there). */
function command(): string[] {
  const [cmd, ...args] = runtimeCommand();
  if (process.env.RELAY_RUNTIME === "bun") return [cmd, ...args];
  return [cmd, args[0], `--allow-write=${dir}`, ...args.slice(1)];
}

const FLAGS = ["--jwt-secret", SECRET, "--expose-publisher", "room:*", "--max-messages-per-second", "0"];

function startOnFile(): Promise<RelayProcess> {
  return startRelay([...FLAGS, "--broker", `sqlite:${dbPath}`], { command: command() });
}

async function envelope(relay: RelayProcess, t: string): Promise<TestSocket> {
  return await TestSocket.open(`${relay.wsUrl}/ws?token=${encodeURIComponent(t)}`, "relay.v1");
}

async function subscribe(socket: TestSocket, channel: string): Promise<void> {
  socket.sendJson({ type: "subscribe", channel });
  const reply = await socket.nextJson();
  assert.equal(reply.type, "subscribed", JSON.stringify(reply));
}

async function history(relay: RelayProcess, channel: string, t: string) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages?since=0`, {
    headers: { authorization: `Bearer ${t}` },
  });
  assert.equal(response.status, 200);
  return (await response.json() as { messages: Record<string, unknown>[] }).messages;
}

async function httpPublish(relay: RelayProcess, channel: string, t: string, body: string) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain", authorization: `Bearer ${t}` },
    body,
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

describe("sender identity (--expose-publisher), one node on SQLite", () => {
  let relay: RelayProcess;
  let alice: string;
  let bob: string;
  const kept = room();

  before(async () => {
    [alice, bob] = await Promise.all([token("alice"), token("bob")]);
    relay = await startOnFile();
  });
  after(async () => {
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every reader sees the token's sub as publisher; a client naming one is refused", async () => {
    const channel = kept;
    const reader = await envelope(relay, bob);
    const writer = await envelope(relay, alice);
    const sse = await SseClient.open(
      relay.port,
      `/channels/${channel}/events?token=${encodeURIComponent(bob)}`,
    );
    try {
      await subscribe(reader, channel);
      assert.equal((await sse.nextJson("subscribed")).channel, channel);
      // A held long poll, woken by the publish below.
      const poll = fetch(`${relay.url}/channels/${channel}/messages?since=0&wait=5s`, {
        headers: { authorization: `Bearer ${bob}` },
      }).then((r) => r.json() as Promise<{ messages: Record<string, unknown>[] }>);
      await new Promise((r) => setTimeout(r, 100));

      writer.sendJson({ type: "publish", channel, id: "spoof", text: "I am bob", publisher: "bob" });
      const refusal = await writer.nextJson();
      assert.equal(refusal.type, "error");
      assert.equal(refusal.code, "bad_command");
      assert.equal(refusal.id, "spoof");

      writer.sendJson({ type: "publish", channel, id: "1", text: "hi" });
      assert.equal((await writer.nextJson()).type, "ack");

      const message = await reader.nextJson();
      assert.deepEqual(message, { type: "message", channel, seq: 1, publisher: "alice", text: "hi" });
      const event = await sse.nextJson("message");
      assert.equal(event.publisher, "alice");
      assert.equal(event.text, "hi");
      const woken = await poll;
      assert.deepEqual(woken.messages, [{ seq: 1, publisher: "alice", text: "hi" }]);

      // An HTTP publish and a raw WebSocket publish are named the same way.
      assert.equal((await httpPublish(relay, channel, bob, "from http")).status, 200);
      const raw = await TestSocket.open(`${relay.wsUrl}/ws/${channel}?token=${encodeURIComponent(alice)}`);
      raw.ws.send("from raw");
      const [second, third] = [await reader.nextJson(), await reader.nextJson()];
      raw.close();
      assert.equal(second.publisher, "bob");
      assert.equal(second.text, "from http");
      assert.equal(third.publisher, "alice");
      assert.equal(third.text, "from raw");

      assert.deepEqual(await history(relay, channel, bob), [
        { seq: 1, publisher: "alice", text: "hi" },
        { seq: 2, publisher: "bob", text: "from http" },
        { seq: 3, publisher: "alice", text: "from raw" },
      ]);
    } finally {
      reader.close();
      writer.close();
      sse.close();
    }
  });

  it("a channel outside the patterns, or a token without sub, carries no publisher", async () => {
    const lobby = `lobby-${unique++}`;
    const reader = await envelope(relay, bob);
    try {
      await subscribe(reader, lobby);
      assert.equal((await httpPublish(relay, lobby, alice, "plain")).status, 200);
      assert.deepEqual(await reader.nextJson(), { type: "message", channel: lobby, seq: 1, text: "plain" });
      assert.deepEqual(await history(relay, lobby, bob), [{ seq: 1, text: "plain" }]);

      const channel = room();
      await subscribe(reader, channel);
      assert.equal((await httpPublish(relay, channel, await token(undefined), "anonymous")).status, 200);
      assert.deepEqual(await reader.nextJson(), { type: "message", channel, seq: 1, text: "anonymous" });
    } finally {
      reader.close();
    }
  });

  it("a sub longer than 128 characters may not publish where publishers are shown", async () => {
    const long = await token("x".repeat(129));
    const refused = await httpPublish(relay, room(), long, "too long a name");
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, "forbidden");
    assert.equal((await httpPublish(relay, `lobby-${unique++}`, long, "not shown here")).status, 200);
  });

  it("the publisher survives a restart on the same SQLite file", async () => {
    await relay.stop();
    relay = await startOnFile();
    const messages = await history(relay, kept, bob);
    assert.deepEqual(messages.map((m) => m.publisher), ["alice", "bob", "alice"]);
  });
});

describe("sender identity across two nodes over Redis", () => {
  const haveRedis = spawnSync("redis-server", ["--version"]).status === 0;
  let redis: RedisServer;
  let a: RelayProcess;
  let b: RelayProcess;

  before(async () => {
    if (!haveRedis) return;
    redis = await startRedis();
    [a, b] = await Promise.all([
      startRelay([...FLAGS, "--broker", redis.url]),
      startRelay([...FLAGS, "--broker", redis.url]),
    ]);
    for (const node of [a, b]) {
      for (let i = 0; i < 100 && (await fetch(`${node.url}/readyz`)).status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it("a message published on one node names its publisher on the other, live and in history", {
    skip: haveRedis ? false : "redis-server is not installed",
  }, async () => {
    const [alice, bob] = await Promise.all([token("alice"), token("bob")]);
    const channel = room();
    const reader = await envelope(b, bob);
    const writer = await envelope(a, alice);
    try {
      await subscribe(reader, channel);
      writer.sendJson({ type: "publish", channel, id: "1", text: "über" });
      assert.equal((await writer.nextJson()).type, "ack");
      assert.deepEqual(await reader.nextJson(), {
        type: "message",
        channel,
        seq: 1,
        publisher: "alice",
        text: "über",
      });
      assert.equal((await httpPublish(b, `lobby-${unique++}`, bob, "unnamed")).status, 200);
      assert.deepEqual(await history(b, channel, bob), [{ seq: 1, publisher: "alice", text: "über" }]);
    } finally {
      reader.close();
      writer.close();
    }
  });
});
