/**
 * The client against fake WebSocket / EventSource / fetch (no relay): reconnect delays and their reset, the
 * resume parameters of every resubscription, duplicate and loss handling, acks and their timeout, close codes,
 * the SSE fallback and the dead-connection probe. Timers are real and short.
 * @module
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  backoffDelay,
  connect,
  type ConnectOptions,
  type RelayClient,
  type StateEvent,
} from "../../client/mod.ts";
import { FakeEventSource, fakeFetch, fakes, FakeWebSocket, sleep, until } from "./fakes.ts";

const BASE = "http://relay.test:8080";
let clients: RelayClient[] = [];

/** Connects with the fakes; the first attempt starts on the next microtask (awaited here). */
async function start(options: ConnectOptions = {}): Promise<{ relay: RelayClient; states: StateEvent[] }> {
  const relay = connect(BASE, {
    ...fakes(),
    minReconnectDelayMs: 5,
    maxReconnectDelayMs: 40,
    timeoutMs: 1000,
    ...options,
  });
  clients.push(relay);
  const states: StateEvent[] = [];
  relay.on("state", (event) => states.push(event));
  await Promise.resolve();
  return { relay, states };
}

afterEach(() => {
  for (const relay of clients) relay.close();
  clients = [];
});

describe("backoffDelay", () => {
  it("stays within [min, max] and its ceiling doubles per attempt (full jitter)", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      assert.equal(backoffDelay(attempt, 500, 20_000, () => 0), 500);
      const top = backoffDelay(attempt, 500, 20_000, () => 0.999999);
      assert.ok(top <= 20_000, `attempt ${attempt}: ${top}`);
      assert.equal(top, Math.min(20_000, 500 + Math.floor(0.999999 * Math.min(20_000, 500 * 2 ** attempt))));
    }
    assert.equal(backoffDelay(0, 500, 20_000, () => 0.5), 750);
    assert.equal(backoffDelay(3, 500, 20_000, () => 0.5), 2500);
    assert.equal(backoffDelay(10, 500, 20_000, () => 0.5), 10_500);
  });
});

describe("the client", () => {
  it("connects over WebSocket in envelope mode and is connected once the relay answers its ping", async () => {
    const { relay, states } = await start({ token: "t0k" });
    const ws = FakeWebSocket.last();
    assert.equal(ws.url, "ws://relay.test:8080/ws?token=t0k");
    assert.equal(ws.protocol, "relay.v1");
    assert.equal(relay.state, "connecting");
    ws.open();
    assert.deepEqual(ws.sent, [{ type: "ping" }]);
    assert.equal(relay.state, "connecting", "an open socket alone is not a working link");
    ws.receive({ type: "pong" });
    assert.equal(relay.state, "connected");
    assert.equal(relay.transport, "websocket");
    assert.deepEqual(states.map((s) => s.state), ["connecting", "connected"]);
  });

  it("resubscribes with the last seq and epoch, drops repeats, and restarts the position on recovered:false", async () => {
    const { relay } = await start();
    const sub = relay.subscribe("room");
    const events: unknown[] = [];
    sub.on("subscribed", (e) => events.push(e));
    sub.on("message", (e) => events.push([e.seq, e.text]));
    FakeWebSocket.last().accept();
    assert.deepEqual(FakeWebSocket.last().sent.at(-1), { type: "subscribe", channel: "room" });
    FakeWebSocket.last().receive({
      type: "subscribed",
      channel: "room",
      seq: 5,
      epoch: "E1",
      recovered: false,
    });
    FakeWebSocket.last().receive({ type: "message", channel: "room", seq: 6, text: "six" });
    FakeWebSocket.last().receive({ type: "message", channel: "room", seq: 7, text: "seven" });
    FakeWebSocket.last().serverClose(1001, "restart");
    assert.equal(relay.state, "disconnected");
    await until("a reconnect", () => FakeWebSocket.instances.length === 2);
    const second = FakeWebSocket.last();
    second.accept();
    assert.deepEqual(second.sent.at(-1), { type: "subscribe", channel: "room", since: 7, epoch: "E1" });
    second.receive({ type: "subscribed", channel: "room", seq: 8, epoch: "E1", recovered: true });
    second.receive({ type: "message", channel: "room", seq: 7, text: "seven again" });
    second.receive({ type: "message", channel: "room", seq: 8, text: "eight" });
    // The relay lost the channel's history: a new epoch, seq 2; what follows is 3.
    second.receive({ type: "subscribed", channel: "room", seq: 2, epoch: "E2", recovered: false });
    second.receive({ type: "message", channel: "room", seq: 3, text: "three" });
    assert.deepEqual(events, [
      { channel: "room", seq: 5, epoch: "E1", recovered: false, resumed: false },
      [6, "six"],
      [7, "seven"],
      { channel: "room", seq: 8, epoch: "E1", recovered: true, resumed: true },
      [8, "eight"],
      { channel: "room", seq: 2, epoch: "E2", recovered: false, resumed: true },
      [3, "three"],
    ]);
    assert.deepEqual([sub.seq, sub.epoch], [3, "E2"]);
  });

  it("starts from since/epoch given to subscribe, and unsubscribes", async () => {
    const { relay } = await start();
    const sub = relay.subscribe("news", { since: 41, epoch: "abc" });
    const ws = FakeWebSocket.last();
    ws.accept();
    assert.deepEqual(ws.sent.at(-1), { type: "subscribe", channel: "news", since: 41, epoch: "abc" });
    sub.unsubscribe();
    assert.deepEqual(ws.sent.at(-1), { type: "unsubscribe", channel: "news" });
    assert.equal(relay.subscriptions.size, 0);
  });

  it("publish resolves with the ack's seq, rejects on the relay's error and on timeout", async () => {
    const { relay } = await start({ publishTimeoutMs: 50 });
    const ws = FakeWebSocket.last();
    const early = relay.publish("room", "sent once connected");
    ws.accept();
    const first = ws.sent.find((c) => c.type === "publish")!;
    assert.deepEqual({ ...first, id: undefined }, {
      type: "publish",
      channel: "room",
      id: undefined,
      text: "sent once connected",
    });
    ws.receive({ type: "ack", id: first.id, channel: "room", seq: 12 });
    assert.deepEqual(await early, { seq: 12 });

    const bytes = relay.publish("room", new Uint8Array([0, 1, 255]));
    const second = ws.sent.at(-1)!;
    assert.equal(second.binary, "AAH/");
    ws.receive({
      type: "error",
      id: second.id,
      code: "forbidden",
      message: "not allowed to publish to room",
    });
    await assert.rejects(bytes, { name: "PublishError", code: "forbidden" });

    const started = Date.now();
    await assert.rejects(relay.publish("room", "never acked"), { code: "timeout" });
    assert.ok(Date.now() - started >= 45);
  });

  it("rejects publishes in flight when the connection is lost; resends none", async () => {
    const { relay } = await start();
    FakeWebSocket.last().accept();
    const lost = relay.publish("room", "in flight");
    FakeWebSocket.last().serverClose(1006);
    await assert.rejects(lost, { code: "disconnected" });
  });

  it("stops on 1009, 1003 and 1007 (the client sent what the relay refuses)", async () => {
    for (const code of [1009, 1003, 1007]) {
      const { relay, states } = await start();
      FakeWebSocket.last().accept();
      const pending = relay.publish("room", "x");
      FakeWebSocket.last().serverClose(code, "bug");
      await assert.rejects(pending, { code: "disconnected" });
      await sleep(60);
      assert.equal(FakeWebSocket.instances.length, 1, `no reconnect after ${code}`);
      assert.deepEqual(states.at(-1), {
        state: "disconnected",
        transport: null,
        code,
        reason: "bug",
        final: true,
      });
    }
  });

  it("1008 asks getToken once and reconnects with the new token, then stops on a second 1008", async () => {
    let asked = 0;
    const { states } = await start({ token: "old", getToken: () => `new${++asked}` });
    FakeWebSocket.last().accept();
    FakeWebSocket.last().serverClose(1008, "token expired");
    await until("a reconnect", () => FakeWebSocket.instances.length === 2);
    assert.equal(asked, 1);
    assert.equal(FakeWebSocket.last().url, "ws://relay.test:8080/ws?token=new1");
    FakeWebSocket.last().accept();
    FakeWebSocket.last().serverClose(1008, "token expired");
    await sleep(60);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(asked, 1);
    assert.equal(states.at(-1)!.final, true);
  });

  it("1008 without getToken stops; 1013 and 1006 reconnect", async () => {
    await start();
    FakeWebSocket.last().accept();
    FakeWebSocket.last().serverClose(1008, "rate");
    await sleep(60);
    assert.equal(FakeWebSocket.instances.length, 1);
    for (const code of [1013, 1006, 1001, 1011]) {
      await start();
      FakeWebSocket.last().accept();
      FakeWebSocket.last().serverClose(code);
      await until(`a reconnect after ${code}`, () => FakeWebSocket.instances.length === 2);
    }
  });

  it("backs off with growing delays while the relay is down, and resets after a stable connection", async () => {
    const random = Math.random;
    Math.random = () => 0.999;
    try {
      await start({
        minReconnectDelayMs: 20,
        maxReconnectDelayMs: 2000,
        stableAfterMs: 100,
        transports: ["websocket"],
      });
      const gaps: number[] = [];
      FakeWebSocket.last().accept();
      for (let i = 0; i < 4; i++) {
        // A connection that dies at once (the relay refuses it): the next delay doubles.
        const closedAt = Date.now();
        FakeWebSocket.last().serverClose(1006);
        await until("a reconnect", () => FakeWebSocket.instances.length === i + 2);
        gaps.push(Date.now() - closedAt);
      }
      // Full jitter with random 0.999: min + 0.999 · min(max, min · 2^n) = 39, 59, 99, 179 ms.
      [39, 59, 99, 179].forEach((least, i) => assert.ok(gaps[i] >= least, `gap ${i}: ${gaps[i]} < ${least}`));
      FakeWebSocket.last().accept();
      await sleep(120); // stayed up past stableAfterMs
      const closedAt = Date.now();
      FakeWebSocket.last().serverClose(1006);
      await until("a reconnect", () => FakeWebSocket.instances.length === 6);
      const reset = Date.now() - closedAt;
      assert.ok(reset >= 39 && reset < 179, `after a stable connection the delay starts over: ${reset} ms`);
    } finally {
      Math.random = random;
    }
  });

  it("falls back to SSE when the WebSocket fails, keeps it, and publishes over HTTP", async () => {
    const http = fakeFetch(() => Response.json({ channel: "room", seq: 9 }));
    const { relay } = await start({ fetch: http.fetch, token: "tk" });
    const sub = relay.subscribe("room", { since: 3, epoch: "E" });
    const texts: string[] = [];
    sub.on("message", (m) => texts.push(m.text!));
    FakeWebSocket.last().serverClose(1006); // the upgrade failed: no open
    const source = FakeEventSource.last();
    assert.equal(source.url, "http://relay.test:8080/events?channel=room&lastEventId=E%3A3&token=tk");
    source.open();
    assert.equal(relay.state, "connected");
    assert.equal(relay.transport, "sse");
    source.emit("subscribed", { type: "subscribed", channel: "room", seq: 4, epoch: "E", recovered: true });
    source.emit("message", { type: "message", channel: "room", seq: 4, text: "four" });
    assert.deepEqual(texts, ["four"]);

    assert.deepEqual(await relay.publish("room", "hi"), { seq: 9 });
    assert.equal(http.requests[0].url, "http://relay.test:8080/channels/room/messages");
    assert.equal(http.requests[0].init.method, "POST");
    assert.equal((http.requests[0].init.headers as Record<string, string>).authorization, "Bearer tk");

    // A second channel reopens the stream with both, each resuming from where it stands.
    relay.subscribe("other");
    await until("a reopened stream", () => FakeEventSource.instances.length === 2);
    assert.ok(source.closed);
    assert.equal(
      FakeEventSource.last().url,
      "http://relay.test:8080/events?channel=room&channel=other&lastEventId=E%3A4%2C&token=tk",
    );
    // The stream fails: the client reconnects over SSE again, never back to WebSocket.
    FakeEventSource.last().fail();
    await until("a reconnect", () => FakeEventSource.instances.length === 3);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  it("an SSE publish the relay refuses rejects with its error code", async () => {
    const http = fakeFetch(() => Response.json({ error: "too_large", message: "too big" }, { status: 413 }));
    const { relay } = await start({ fetch: http.fetch, transports: ["sse"] });
    await until("connected", () => relay.state === "connected");
    await assert.rejects(relay.publish("room", "x"), { code: "too_large", message: "too big" });
  });

  it("tries SSE when the WebSocket does not answer within timeoutMs", async () => {
    const { relay } = await start({ timeoutMs: 30 });
    relay.subscribe("room");
    FakeWebSocket.last().open(); // opened, but nothing answers the ping
    await until("the fallback", () => FakeEventSource.instances.length === 1);
    assert.equal(FakeWebSocket.instances[0].closedWith, 1000);
  });

  it("probes a quiet WebSocket with ping and reconnects when nothing answers", async () => {
    await start({ pingAfterMs: 20, pongTimeoutMs: 20 });
    const ws = FakeWebSocket.last();
    ws.accept();
    await until("a ping", () => ws.sent.filter((c) => c.type === "ping").length === 2, 500);
    await until("a reconnect", () => FakeWebSocket.instances.length === 2, 500);
    assert.equal(ws.closedWith, 4000);
  });
});
