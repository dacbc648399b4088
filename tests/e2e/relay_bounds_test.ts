/**
 * The relay layer's bounds, black box (issue 16): every byte queued for a client counts against
 * `--max-queued-bytes` (replies too), a repeated resync does not multiply a replay, history and channel
 * listings come in bounded pages, envelope frames stay within what the relay promises, envelope text is
 * well-formed Unicode, and HTTP publishes are rate-limited per client address.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket, within } from "../support/ws_client.ts";
import { RawWebSocket } from "../support/raw_ws.ts";

let relay: RelayProcess;
let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(channel: string, body: string, type = "text/plain") {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function getJson(path: string) {
  const response = await fetch(`${relay.url}${path}`);
  return { status: response.status, body: await response.json() };
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

const TEXT = 0x1;

describe("HTTP and envelope bounds (default limits)", () => {
  before(async () => relay = await startRelay());
  after(async () => await relay.stop());

  it("GET /channels/:c/messages?limit=0 is a bad query (400), not a broker failure (503)", async () => {
    const channel = channelName("limit0");
    assert.equal((await post(channel, "one")).status, 200);
    const answer = await getJson(`/channels/${channel}/messages?limit=0`);
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, "bad_query");
  });

  it("a history answer stops near 4 MiB with more:true, and paging with since gets the rest", async () => {
    const channel = channelName("pages");
    const message = "y".repeat(1024 * 1024 - 8);
    for (let i = 0; i < 6; i++) assert.equal((await post(channel, `${i}`.padEnd(8) + message)).status, 200);
    const first = await getJson(`/channels/${channel}/messages?since=0`);
    assert.equal(first.status, 200);
    assert.equal(first.body.seq, 6);
    assert.equal(first.body.more, true);
    assert.ok(first.body.messages.length >= 1 && first.body.messages.length <= 4, first.body.messages.length);
    const seen = first.body.messages.map((m: { seq: number }) => m.seq);
    let since = seen[seen.length - 1];
    for (let pages = 0; pages < 6; pages++) {
      const page = await getJson(`/channels/${channel}/messages?since=${since}`);
      seen.push(...page.body.messages.map((m: { seq: number }) => m.seq));
      since = seen[seen.length - 1];
      if (!page.body.more) break;
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  });

  it("text that would pass --max-message-bytes once JSON-escaped is refused: HTTP 413, raw close 1009", async () => {
    const channel = channelName("escape");
    // 200 KiB of U+0001: valid UTF-8, but 1.2 MiB as a JSON string ("\u0001" per byte).
    const controls = "\x01".repeat(200 * 1024);
    const refused = await post(channel, controls);
    assert.equal(refused.status, 413);
    assert.equal(refused.body.error, "too_large");
    // The same characters in a size that fits once escaped are accepted.
    assert.equal((await post(channel, "\x01".repeat(100 * 1024))).status, 200);
    const raw = await RawWebSocket.connect(relay.port, `/ws/${channel}`);
    assert.equal(raw.status, 101);
    raw.send(TEXT, new TextEncoder().encode(controls));
    assert.equal((await within(5000, "close frame", raw.closeFrame())).code, 1009);
    raw.destroy();
  });

  it("an envelope publish with a lone surrogate is a bad_command, and nothing is stored", async () => {
    const channel = channelName("surrogate");
    const ws = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    // Sent as raw JSON text: "\ud800" is valid JSON but not well-formed Unicode.
    ws.ws.send(`{"type":"publish","channel":"${channel}","id":"s1","text":"a\\ud800b"}`);
    const reply = await ws.nextJson();
    assert.equal(reply.type, "error");
    assert.equal(reply.code, "bad_command");
    assert.equal(reply.id, "s1");
    ws.sendJson({ type: "publish", channel, id: "s2", text: "a\u{1F600}b" });
    const ack = await ws.nextJson();
    assert.equal(ack.type, "ack");
    assert.equal(ack.seq, 1);
    ws.close();
  });

  it("GET /channels pages with ?after= and ?limit=, with a next cursor", async () => {
    const prefix = channelName("list");
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    const ws = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    for (const channel of names) ws.sendJson({ type: "subscribe", channel });
    for (let i = 0; i < names.length; i++) assert.equal((await ws.nextJson()).type, "subscribed");
    const first = await getJson(`/channels?after=${prefix}&limit=2`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.channels.map((r: { channel: string }) => r.channel), names.slice(0, 2));
    assert.equal(first.body.next, names[1]);
    const second = await getJson(`/channels?after=${first.body.next}&limit=2`);
    assert.equal(second.body.channels[0].channel, names[2]);
    assert.equal((await getJson(`/channels?limit=0`)).status, 400);
    assert.equal((await getJson(`/channels?limit=1001`)).body.channels.length <= 1000, true);
    ws.close();
  });
});

describe("HTTP publishes are rate-limited per client address", () => {
  before(async () => relay = await startRelay(["--max-messages-per-second", "5"]));
  after(async () => await relay.stop());

  it("answers 429 with Retry-After past --max-messages-per-second, and serves again a second later", async () => {
    const channel = channelName("rate");
    for (let i = 0; i < 5; i++) assert.equal((await post(channel, `m${i}`)).status, 200);
    const refused = await post(channel, "one too many");
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, "rate_limited");
    assert.equal(refused.headers.get("retry-after"), "1");
    await sleep(1100);
    assert.equal((await post(channel, "again")).status, 200);
  });
});

describe("every byte queued for a client counts against --max-queued-bytes", () => {
  before(async () =>
    relay = await startRelay(["--max-queued-bytes", "65536", "--max-messages-per-second", "0"])
  );
  after(async () => await relay.stop());

  it("closes a publisher that never reads its acks with 1013", async () => {
    const client = await RawWebSocket.connect(relay.port, "/ws", { "sec-websocket-protocol": "relay.v1" });
    assert.equal(client.status, 101);
    client.pauseReading();
    // ~330-byte acks: 80,000 of them are 26 MB, far past what loopback socket buffers hold.
    const channel = channelName("acks").padEnd(128, "x");
    const frame = new TextEncoder().encode(
      JSON.stringify({ type: "publish", channel, id: "i".repeat(128), text: "x" }),
    );
    for (let i = 0; i < 80; i++) {
      for (let j = 0; j < 1000; j++) client.send(TEXT, frame);
      await sleep(5);
    }
    client.resumeReading();
    const close = await within(20_000, "close frame", client.closeFrame(20_000));
    assert.equal(close.code, 1013);
    assert.ok(client.dataFrames < 80_000, `${client.dataFrames} acks arrived`);
    client.destroy();
  });

  it("runs one replay at a time: 50 resyncs with since:0 from a client that does not read are not 50 replays", async () => {
    const channel = channelName("replay");
    const message = "r".repeat(32 * 1024);
    for (let i = 0; i < 100; i++) assert.equal((await post(channel, message)).status, 200);
    const rssBefore = rssKiB(relay.pid);
    const client = await RawWebSocket.connect(relay.port, "/ws", { "sec-websocket-protocol": "relay.v1" });
    assert.equal(client.status, 101);
    client.pauseReading();
    const subscribe = new TextEncoder().encode(JSON.stringify({ type: "subscribe", channel, since: 0 }));
    for (let i = 0; i < 50; i++) client.send(TEXT, subscribe);
    await sleep(1500);
    const rssGrowth = rssKiB(relay.pid) - rssBefore;
    client.resumeReading();
    // Read until nothing more arrives for a while.
    let seen = -1;
    while (seen !== client.dataFrames) {
      seen = client.dataFrames;
      await sleep(700);
    }
    // Each replay is 100 messages (3.2 MB) plus its `subscribed`: what loopback buffers held while the client
    // did not read, and one merged resync after it, not 50 (5,050 frames, 160 MB queued in the relay).
    assert.ok(
      client.dataFrames <= 6 * 101,
      `${client.dataFrames} frames: ${Math.round(client.dataFrames / 101)} replays`,
    );
    assert.ok(rssGrowth < 100 * 1024, `relay RSS grew by ${rssGrowth} KiB`);
    client.destroy();
  });

  it("still replays a history larger than the bound, whole, to a client that reads", async () => {
    const channel = channelName("bigreplay");
    const message = "b".repeat(32 * 1024);
    for (let i = 0; i < 60; i++) assert.equal((await post(channel, message)).status, 200);
    const ws = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    ws.sendJson({ type: "subscribe", channel, since: 0 });
    await ws.waitFor(61, 10_000);
    assert.equal(JSON.parse(ws.messages[0].data as string).type, "subscribed");
    assert.equal(JSON.parse(ws.messages[60].data as string).seq, 60);
    ws.close();
  });
});
