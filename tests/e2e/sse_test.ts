/**
 * Server-sent events, black box (issue 11): `GET /channels/:channel/events` and `GET /events?channel=…` on the
 * real relay, read by an independent client on raw sockets. One publish stream seen identically by WebSocket
 * and SSE subscribers, resume across transports and from `Last-Event-ID`, CR/LF intact, bad input answered
 * (never a hang), auth, a stalled reader cut off by `--max-queued-bytes` while others get everything,
 * keep-alive comments, the end of every stream on shutdown, and the per-address connection cap.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket } from "../support/ws_client.ts";
import { SseClient } from "../support/sse_client.ts";
import { hs256 } from "../support/jwt_mint.ts";

let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(
  relay: RelayProcess,
  channel: string,
  body: string,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain", ...headers },
    body,
  });
  return { status: response.status, body: await response.json() };
}

describe("server-sent events (default limits)", () => {
  let relay: RelayProcess;
  before(async () => relay = await startRelay(["--sse-keepalive", "300ms"]));
  after(async () => await relay.stop());

  it("answers 200 text/event-stream, no caching, no proxy buffering; retry first, then subscribed", async () => {
    const channel = channelName("head");
    const sse = await SseClient.open(relay.port, `/channels/${channel}/events`);
    try {
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get("content-type")!, /^text\/event-stream/);
      assert.match(sse.headers.get("cache-control")!, /no-cache/);
      assert.equal(sse.headers.get("x-accel-buffering"), "no");
      assert.equal(sse.headers.get("transfer-encoding"), "chunked");
      const subscribed = await sse.nextJson("subscribed");
      assert.equal(sse.retries.length, 1, "a retry: line comes before the first event");
      assert.deepEqual(
        {
          type: subscribed.type,
          channel: subscribed.channel,
          seq: subscribed.seq,
          recovered: subscribed.recovered,
        },
        { type: "subscribed", channel, seq: 0, recovered: false },
      );
      assert.equal(subscribed.id, `${subscribed.epoch}:0`);
    } finally {
      sse.close();
    }
  });

  it("keeps a quiet stream alive with a comment at least every --sse-keepalive", async () => {
    const sse = await SseClient.open(relay.port, `/channels/${channelName("quiet")}/events`);
    try {
      await sse.nextJson("subscribed");
      await sleep(1000);
      assert.ok(sse.comments >= 2, `${sse.comments} comments in 1 s at a 300 ms keep-alive`);
    } finally {
      sse.close();
    }
  });

  it("one publish stream (raw WS, envelope WS, HTTP) is seen identically by envelope WS, SSE, many-channel SSE and a long poll", async () => {
    const channel = channelName("same");
    // A long-poll subscriber: held from the start, it polls on from the last seq it got until it has three.
    const fromPoll = new Map<number, string>();
    const polling = (async () => {
      let since = 0;
      while (fromPoll.size < 3) {
        const response = await fetch(`${relay.url}/channels/${channel}/messages?since=${since}&wait=10s`);
        assert.equal(response.status, 200);
        const body = await response.json() as { messages: { seq: number; text: string }[] };
        for (const m of body.messages) {
          assert.ok(!fromPoll.has(m.seq), `seq ${m.seq} polled twice`);
          fromPoll.set(m.seq, m.text);
          since = m.seq;
        }
      }
    })();
    const other = channelName("other");
    const envelope = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    envelope.sendJson({ type: "subscribe", channel });
    assert.equal((await envelope.nextJson()).type, "subscribed");
    const single = await SseClient.open(relay.port, `/channels/${channel}/events`);
    const many = await SseClient.open(relay.port, `/events?channel=${other}&channel=${channel}`);
    const raw = await TestSocket.open(`${relay.wsUrl}/ws/${channel}`);
    try {
      await single.nextJson("subscribed");
      await many.nextJson("subscribed");
      await many.nextJson("subscribed");
      const texts = ["raw one", 'line\r\nbreak\nand "quotes" \u2028 ünï', "http three"];
      raw.ws.send(texts[0]);
      await sleep(50);
      envelope.sendJson({ type: "publish", channel, text: texts[1], id: "p" });
      await sleep(50);
      assert.equal((await post(relay, channel, texts[2])).status, 200);
      const fromEnvelope = new Map<number, unknown>();
      while (fromEnvelope.size < 3) {
        const m = await envelope.nextJson();
        if (m.type === "message") fromEnvelope.set(m.seq as number, m);
      }
      const fromSingle = new Map<number, unknown>();
      for (let i = 0; i < 3; i++) {
        const { id, ...m } = await single.nextJson("message");
        assert.equal(id, `${single.events[0] && JSON.parse(single.events[0].data).epoch}:${m.seq}`);
        fromSingle.set(m.seq as number, m);
      }
      const fromMany = new Map<number, unknown>();
      for (let i = 0; i < 3; i++) {
        const { id: _id, ...m } = await many.nextJson("message");
        fromMany.set(m.seq as number, m);
      }
      assert.deepEqual(fromSingle, fromEnvelope);
      assert.deepEqual(fromMany, fromEnvelope);
      assert.deepEqual([...fromEnvelope.values()].map((m) => (m as { text: string }).text), texts);
      await polling;
      assert.deepEqual(
        fromPoll,
        new Map([...fromEnvelope].map(([seq, m]) => [seq, (m as { text: string }).text])),
        "the long poll saw the same seqs and payloads",
      );
      // The many-channel stream's id describes both channels, in the order of the query.
      const [otherPart, channelPart] = many.lastEventId.split(",");
      assert.match(otherPart, /^[0-9a-f]+:0$/);
      assert.match(channelPart, /^[0-9a-f]+:3$/);
    } finally {
      envelope.close();
      raw.close();
      single.close();
      many.close();
    }
  });

  it("resumes across transports: WS subscriber drops, resumes by SSE with since/epoch, gets exactly what it missed", async () => {
    const channel = channelName("cross");
    const ws = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    ws.sendJson({ type: "subscribe", channel });
    const subscribed = await ws.nextJson();
    await post(relay, channel, "one");
    await post(relay, channel, "two");
    assert.equal((await ws.nextJson()).seq, 1);
    assert.equal((await ws.nextJson()).seq, 2);
    ws.close();
    await post(relay, channel, "three");
    await post(relay, channel, "four");
    const sse = await SseClient.open(
      relay.port,
      `/channels/${channel}/events?since=2&epoch=${subscribed.epoch}`,
    );
    try {
      const again = await sse.nextJson("subscribed");
      assert.equal(again.recovered, true);
      assert.equal(again.epoch, subscribed.epoch);
      assert.equal(again.id, `${subscribed.epoch}:2`);
      const missed = [await sse.nextJson("message"), await sse.nextJson("message")];
      assert.deepEqual(missed.map((m) => [m.seq, m.text]), [[3, "three"], [4, "four"]]);
      await post(relay, channel, "five");
      assert.equal((await sse.nextJson("message")).text, "five");
    } finally {
      sse.close();
    }
    // A wrong epoch replays nothing and says so.
    const wrong = await SseClient.open(relay.port, `/channels/${channel}/events?since=2&epoch=feedface`);
    try {
      const answer = await wrong.nextJson("subscribed");
      assert.equal(answer.recovered, false);
      assert.equal(answer.seq, 5);
      assert.equal(answer.id, `${subscribed.epoch}:5`);
    } finally {
      wrong.close();
    }
  });

  it("a many-channel stream resumes every channel from one Last-Event-ID", async () => {
    const a = channelName("ma");
    const b = channelName("mb");
    const first = await SseClient.open(relay.port, `/events?channel=${a}&channel=${b}`);
    await first.nextJson("subscribed");
    await first.nextJson("subscribed");
    await post(relay, a, "a1");
    await post(relay, b, "b1");
    await first.waitFor(4);
    await sleep(50);
    const id = first.lastEventId;
    first.close();
    await post(relay, a, "a2");
    await post(relay, b, "b2");
    await post(relay, b, "b3");
    const second = await SseClient.open(relay.port, `/events?channel=${a}&channel=${b}`, {
      "last-event-id": id,
    });
    try {
      // Each channel: its subscribed, then its replay.
      await second.waitFor(5);
      const subscribed = second.events.filter((e) => e.event === "subscribed").map((e) => JSON.parse(e.data));
      assert.deepEqual(subscribed.map((s) => [s.channel, s.recovered]), [[a, true], [b, true]]);
      const missed = second.events.filter((e) => e.event === "message").map((e) => JSON.parse(e.data).text);
      assert.deepEqual(missed.sort(), ["a2", "b2", "b3"]);
    } finally {
      second.close();
    }
  });

  it("refuses bad input with a status, never a hang", async () => {
    const cases: [string, Record<string, string>, number, string][] = [
      ["/channels/bad%20name/events", {}, 400, "bad_channel"],
      ["/channels/c/events?since=-1", {}, 400, "bad_query"],
      ["/channels/c/events?since=x", {}, 400, "bad_query"],
      ["/channels/c/events?epoch=abc", {}, 400, "bad_query"],
      ["/channels/c/events?since=1&epoch=a%0Ab", {}, 400, "bad_query"],
      ["/channels/c/events", { "last-event-id": "no-colon" }, 400, "bad_query"],
      ["/channels/c/events", { "last-event-id": "e:1,e:2" }, 400, "bad_query"],
      ["/events", {}, 400, "bad_query"],
      ["/events?channel=a&channel=a", {}, 400, "bad_query"],
      ["/events?channel=a&channel=b%2F", {}, 400, "bad_channel"],
      [`/events?${Array.from({ length: 129 }, (_, i) => `channel=c${i}`).join("&")}`, {}, 400, "bad_query"],
    ];
    for (const [path, headers, status, code] of cases) {
      const sse = await SseClient.open(relay.port, path, headers);
      await sse.ended;
      assert.equal(sse.status, status, path);
      assert.equal(JSON.parse(sse.body.slice(sse.body.indexOf("{"))).error, code, path);
    }
  });

  it("ends every stream on shutdown: a retry: line, then the end of the body; exit 0", async () => {
    const own = await startRelay();
    const sse = await SseClient.open(own.port, `/channels/${channelName("bye")}/events`);
    await sse.nextJson("subscribed");
    const code = await own.stop();
    await sse.ended;
    assert.equal(code, 0);
    assert.equal(sse.retries.length, 2, "retry: at the start and again at the end");
    assert.equal(sse.cleanEnd, true, "the chunked body ends with its last chunk");
  });
});

describe("server-sent events: a stalled reader", () => {
  let relay: RelayProcess;
  before(async () => relay = await startRelay(["--max-queued-bytes", "256KiB"]));
  after(async () => await relay.stop());

  it("is cut off past --max-queued-bytes while another stream gets everything", async () => {
    const channel = channelName("stall");
    const stalled = await SseClient.open(relay.port, `/channels/${channel}/events`);
    const healthy = await SseClient.open(relay.port, `/channels/${channel}/events`);
    await stalled.nextJson("subscribed");
    await healthy.nextJson("subscribed");
    stalled.socket.pause();
    // 16 MiB in all: more than the loopback socket buffers hold, so the relay's own queue must grow.
    const body = "x".repeat(64 * 1024);
    const count = 256;
    for (let i = 0; i < count; i++) assert.equal((await post(relay, channel, body)).status, 200);
    await healthy.waitFor(1 + count, 20_000);
    assert.equal(healthy.events.filter((e) => e.event === "message").length, count);
    stalled.socket.resume();
    await stalled.ended;
    const got = stalled.events.filter((e) => e.event === "message").length;
    assert.ok(got < count, `the stalled reader got ${got} of ${count}: it was not cut off`);
    assert.equal(stalled.cleanEnd, false, "cut off, not ended politely");
  });
});

describe("server-sent events: auth and connection caps", () => {
  const secret = "s".repeat(40);
  let relay: RelayProcess;
  before(async () => relay = await startRelay(["--jwt-secret", secret, "--max-connections-per-ip", "3"]));
  after(async () => await relay.stop());

  it("401 without a token, 403 for a channel not granted, 200 with ?token= or Bearer", async () => {
    const token = await hs256({
      sub: "u",
      exp: Math.floor(Date.now() / 1000) + 60,
      relay: { subscribe: ["ok*"] },
    }, secret);
    const none = await SseClient.open(relay.port, "/channels/ok1/events");
    await none.ended;
    assert.equal(none.status, 401);
    const denied = await SseClient.open(relay.port, `/events?channel=ok1&channel=no&token=${token}`);
    await denied.ended;
    assert.equal(denied.status, 403);
    const query = await SseClient.open(relay.port, `/channels/ok1/events?token=${token}`);
    const bearer = await SseClient.open(relay.port, "/events?channel=ok1&channel=ok2", {
      authorization: `Bearer ${token}`,
    });
    try {
      assert.equal(query.status, 200);
      assert.equal(bearer.status, 200);
      await query.nextJson("subscribed");
      await bearer.nextJson("subscribed");
      // Streams hold their connection: the per-address cap counts them (3 here: the third is the last).
      const third = await SseClient.open(relay.port, `/channels/ok3/events?token=${token}`);
      const fourth = await SseClient.open(relay.port, `/channels/ok4/events?token=${token}`);
      await fourth.ended;
      assert.equal(fourth.status, 503);
      third.close();
    } finally {
      query.close();
      bearer.close();
    }
  });
});
