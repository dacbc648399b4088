/**
 * The library's hooks on every transport, black-box: a user's program (`tests/support/hooks_relay.ts`) runs the
 * relay through `mod.ts` with hooks that accept, refuse, transform, throw or hang as the request asks, and
 * independent clients see the answers. A hook that throws or hangs (past `hookTimeout`, 300 ms here) refuses
 * that request only: the same connection, and everyone else, carry on.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket, within } from "../support/ws_client.ts";
import { SseClient } from "../support/sse_client.ts";

const ENVELOPE = "relay.v1";

function hooksRelay(options: Record<string, unknown> = {}): Promise<RelayProcess> {
  const command = process.env.RELAY_RUNTIME === "bun"
    ? [process.env.BUN_BIN ?? "bun", "run", "tests/support/hooks_relay.ts"]
    : [process.execPath, "run", "--allow-all", "tests/support/hooks_relay.ts"];
  return startRelay([], { command, env: { HOOKS_RELAY_OPTIONS: JSON.stringify(options) } });
}

async function post(relay: RelayProcess, channel: string, text: string, query = "") {
  const response = await fetch(`${relay.url}/channels/${channel}/messages${query}`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: text,
  });
  return { status: response.status, body: await response.json() };
}

async function status(relay: RelayProcess, path: string) {
  const response = await fetch(relay.url + path);
  return { status: response.status, body: await response.text() };
}

async function history(relay: RelayProcess, channel: string): Promise<string[]> {
  const body = await (await fetch(`${relay.url}/channels/${channel}/messages?since=0`)).json();
  return body.messages.map((m: { text: string }) => m.text);
}

/** An envelope socket's next reply of `type` (skipping `message`s of other channels is not needed here). */
async function envelope(relay: RelayProcess, query = ""): Promise<TestSocket> {
  return await TestSocket.open(`${relay.wsUrl}/ws${query}`, ENVELOPE);
}

describe("hooks on every transport", () => {
  let relay: RelayProcess;
  before(async () => relay = await hooksRelay());
  after(async () => {
    await relay.stop();
  });

  describe("authorize, on every route before anything starts", () => {
    for (
      const [name, path] of [
        ["raw WebSocket", "/ws/room"],
        ["envelope WebSocket", "/ws"],
        ["one-channel SSE", "/channels/room/events"],
        ["many-channel SSE", "/events?channel=room&channel=other"],
        ["history / long poll", "/channels/room/messages"],
      ]
    ) {
      it(`${name}: a refusal with its status and reason, a throw 500, a hang 503 after the timeout`, async () => {
        const sep = path.includes("?") ? "&" : "?";
        const denied = await status(relay, `${path}${sep}who=deny`);
        assert.equal(denied.status, 451);
        assert.deepEqual(JSON.parse(denied.body), { error: "forbidden", message: "go away" });
        assert.equal((await status(relay, `${path}${sep}who=false`)).status, 403);
        const threw = await status(relay, `${path}${sep}who=throw`);
        assert.equal(threw.status, 500);
        assert.equal(JSON.parse(threw.body).error, "internal");
        const started = Date.now();
        const slow = await status(relay, `${path}${sep}who=slow`);
        assert.equal(slow.status, 503);
        assert.ok(Date.now() - started >= 250, "answered when the hook timed out");
        assert.match(JSON.parse(slow.body).message, /authorize hook timed out/);
      });
    }

    it("HTTP publish: refused before the body is published", async () => {
      assert.equal((await post(relay, "auth-pub", "hello", "?who=deny")).status, 451);
      assert.equal((await post(relay, "auth-pub", "hello", "?who=throw")).status, 500);
      assert.equal((await post(relay, "auth-pub", "hello", "?who=slow")).status, 503);
      assert.deepEqual(await history(relay, "auth-pub"), []);
    });

    it("a real WebSocket refused by authorize never opens; an accepted one with an async verdict does", async () => {
      await assert.rejects(TestSocket.open(`${relay.wsUrl}/ws/room?who=deny`));
      const ws = await TestSocket.open(`${relay.wsUrl}/ws/room?who=async`);
      ws.ws.send("hi");
      assert.deepEqual(await ws.next(), { type: "text", data: "hi" });
      ws.close();
    });
  });

  describe("onSubscribe", () => {
    it("raw WebSocket, SSE (one and many channels), long poll: refused channels get 403 with the reason", async () => {
      for (
        const path of [
          "/ws/secret",
          "/channels/secret/events",
          "/events?channel=room&channel=secret",
          "/channels/secret/messages",
          "/channels/secret/messages?since=0&wait=1s",
        ]
      ) {
        const answer = await status(relay, path);
        assert.equal(answer.status, 403, path);
        assert.deepEqual(JSON.parse(answer.body), { error: "forbidden", message: "secret is closed" }, path);
        assert.equal((await status(relay, path.replace("secret", "sub-throws"))).status, 500, path);
        assert.equal((await status(relay, path.replace("secret", "sub-slow"))).status, 503, path);
      }
      // Allowed channels are served.
      assert.equal((await status(relay, "/channels/room/messages")).status, 200);
      const sse = await SseClient.open(relay.port, "/events?channel=room&channel=other");
      assert.equal(sse.status, 200);
      assert.equal((await sse.next()).event, "subscribed");
      sse.close();
    });

    it("envelope: a refused subscribe is an error for that channel only; the connection carries on", async () => {
      const ws = await envelope(relay);
      ws.sendJson({ type: "subscribe", channel: "secret" });
      assert.deepEqual(await ws.nextJson(), {
        type: "error",
        code: "forbidden",
        message: "secret is closed",
      });
      ws.sendJson({ type: "subscribe", channel: "sub-throws" });
      assert.deepEqual(await ws.nextJson(), {
        type: "error",
        code: "unavailable",
        message: "the onSubscribe hook failed",
      });
      ws.sendJson({ type: "subscribe", channel: "sub-slow" });
      ws.sendJson({ type: "subscribe", channel: "env-ok" });
      // The slow verdict does not hold the next subscribe back.
      assert.equal((await ws.nextJson()).type, "subscribed");
      assert.deepEqual(await ws.nextJson(1000), {
        type: "error",
        code: "unavailable",
        message: "the onSubscribe hook timed out",
      });
      ws.sendJson({ type: "publish", channel: "env-ok", text: "still here", id: "1" });
      const replies = [await ws.nextJson(), await ws.nextJson()].map((r) => r.type).sort();
      assert.deepEqual(replies, ["ack", "message"]);
      ws.close();
    });

    it("envelope: an unsubscribe while the verdict is pending cancels the subscribe", async () => {
      const ws = await envelope(relay);
      ws.sendJson({ type: "subscribe", channel: "sub-slow" });
      ws.sendJson({ type: "unsubscribe", channel: "sub-slow" });
      assert.deepEqual(await ws.nextJson(), { type: "unsubscribed", channel: "sub-slow" });
      // The late timeout of the cancelled verdict says nothing.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(ws.messages.length, 1);
      ws.close();
    });
  });

  describe("onPublish", () => {
    it("HTTP publish: refused (403 with the reason), transformed, thrown (500), hung (503)", async () => {
      assert.deepEqual(await post(relay, "http-pub", "buy spam"), {
        status: 403,
        body: { error: "forbidden", message: "message rejected" },
      });
      assert.deepEqual(await post(relay, "http-pub", "reject-me"), {
        status: 403,
        body: { error: "forbidden", message: "no thanks" },
      });
      assert.equal((await post(relay, "http-pub", "pub-throws")).status, 500);
      assert.equal((await post(relay, "http-pub", "pub-slow")).status, 503);
      assert.equal((await post(relay, "http-pub", "shout:hello")).status, 200);
      assert.deepEqual(await history(relay, "http-pub"), ["SHOUT:HELLO"]);
    });

    it("envelope: refusals and failures are errors with the publish's id; order holds across slow verdicts", async () => {
      const ws = await envelope(relay);
      const sub = await envelope(relay);
      sub.sendJson({ type: "subscribe", channel: "env-pub" });
      assert.equal((await sub.nextJson()).type, "subscribed");
      ws.sendJson({ type: "publish", channel: "env-pub", text: "spam", id: "a" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "reject-me", id: "b" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "pub-throws", id: "c" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "delay-150 first", id: "d" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "second", id: "e" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "shout:third", id: "f" });
      ws.sendJson({ type: "publish", channel: "env-pub", text: "pub-slow", id: "g" });
      const replies = [];
      for (let i = 0; i < 7; i++) replies.push(await ws.nextJson(2000));
      assert.deepEqual(replies.slice(0, 3), [
        { type: "error", code: "forbidden", message: "message rejected", id: "a" },
        { type: "error", code: "forbidden", message: "no thanks", id: "b" },
        { type: "error", code: "unavailable", message: "the onPublish hook failed", id: "c" },
      ]);
      assert.deepEqual(replies.slice(3).map((r) => [r.type, r.id, r.seq]), [
        ["ack", "d", 1],
        ["ack", "e", 2],
        ["ack", "f", 3],
        ["error", "g", undefined],
      ]);
      const seen = [];
      for (let i = 0; i < 3; i++) seen.push((await sub.nextJson()).text);
      assert.deepEqual(seen, ["delay-150 first", "second", "SHOUT:THIRD"]);
      ws.close();
      sub.close();
    });

    it("raw WebSocket: a transformed message goes out; a refusal closes 1008 with the reason; a failure 1013", async () => {
      const ws = await TestSocket.open(`${relay.wsUrl}/ws/raw-pub`);
      ws.ws.send("shout:hey");
      assert.deepEqual(await ws.next(), { type: "text", data: "SHOUT:HEY" });
      ws.ws.send("reject-me");
      assert.deepEqual(await within(2000, "close", ws.closed), { code: 1008, reason: "no thanks" });
      const other = await TestSocket.open(`${relay.wsUrl}/ws/raw-pub`);
      other.ws.send("pub-throws");
      assert.deepEqual(await within(2000, "close", other.closed), {
        code: 1013,
        reason: "the onPublish hook failed",
      });
      assert.deepEqual(await history(relay, "raw-pub"), ["SHOUT:HEY"]);
    });
  });

  it("onConnect / onDisconnect see every session with the user authorize attached; a throwing observer is harmless", async () => {
    const raw = await TestSocket.open(`${relay.wsUrl}/ws/obs?who=alice`);
    const env = await envelope(relay, "?who=bob");
    const sse = await SseClient.open(relay.port, "/channels/obs/events?who=carol");
    await sse.next();
    raw.close();
    env.close();
    await raw.closed;
    await env.closed;
    sse.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const events: string[] = await (await fetch(`${relay.url}/test/events`)).json();
    for (
      const expected of [
        "connect websocket alice",
        "disconnect websocket alice",
        "connect envelope bob",
        "disconnect envelope bob",
        "connect sse carol",
        "disconnect sse carol",
      ]
    ) assert.ok(events.includes(expected), `${expected} in ${JSON.stringify(events)}`);
    assert.equal((await status(relay, "/healthz")).status, 200);
  });
});

describe("the bound of publishes waiting for a slow onPublish hook", () => {
  let relay: RelayProcess;
  before(async () => relay = await hooksRelay({ hookTimeout: "2s" }));
  after(async () => {
    await relay.stop();
  });

  it("envelope: past 64 waiting publishes the next get unavailable, and a flood is cut off by the error budget", async () => {
    const ws = await envelope(relay);
    for (let i = 0; i < 100; i++) {
      ws.sendJson({ type: "publish", channel: "flood", text: "pub-slow", id: `${i}` });
    }
    const first = await ws.nextJson();
    assert.deepEqual(first, {
      type: "error",
      code: "unavailable",
      message: "too many messages wait for the onPublish hook",
      id: "64",
    });
    // 20 refusals spend the error budget (docs/protocol.md): the flooding client is closed with 1008.
    const closed = await within(2000, "close", ws.closed);
    assert.equal(closed.code, 1008);
    assert.equal((await status(relay, "/healthz")).status, 200);
  });

  it("raw WebSocket: past the bound the connection is closed with 1013", async () => {
    const ws = await TestSocket.open(`${relay.wsUrl}/ws/flood-raw`);
    for (let i = 0; i < 100; i++) ws.ws.send("pub-slow");
    assert.deepEqual(await within(2000, "close", ws.closed), {
      code: 1013,
      reason: "too many messages wait for the onPublish hook",
    });
  });

  it("bytes: with 64 KiB messages, the bytes bound (--max-queued-bytes) comes first", async () => {
    const own = await hooksRelay({ hookTimeout: "2s", maxQueuedBytes: "256KiB" });
    try {
      const ws = await TestSocket.open(`${own.wsUrl}/ws/flood-bytes`);
      // "delay-" messages wait 1.5 s for their verdict; each holds 128 KiB (64 Ki UTF-16 units): the first waits,
      // the second would take what waits past 256 KiB, long before the 64-message bound.
      const big = "delay-1500 " + "x".repeat(64 * 1024);
      for (let i = 0; i < 3; i++) ws.ws.send(big);
      assert.equal((await within(2000, "close", ws.closed)).code, 1013);
    } finally {
      await own.stop();
    }
  });
});
