/**
 * Long polling, black box (issue 11, item 3): `GET /channels/:channel/messages?since=&epoch=&wait=` on the real
 * relay. Plain polling keeps its answers; `wait` holds a client that is up to date until a message, `wait` or
 * the shutdown; `epoch` makes the answer all or nothing with `recovered`; held polls are bounded by the
 * connection caps, cost the event loop nothing while held, and are answered at once on SIGTERM.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createConnection, type Socket } from "node:net";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";

let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(relay: RelayProcess, channel: string, body: string) {
  const response = await fetch(`${relay.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body,
  });
  return await response.json();
}

async function getJson(relay: RelayProcess, path: string) {
  const response = await fetch(`${relay.url}${path}`);
  return { status: response.status, body: await response.json() };
}

/** Timed GET. */
async function timed(relay: RelayProcess, path: string) {
  const started = performance.now();
  const answer = await getJson(relay, path);
  return { ...answer, ms: performance.now() - started };
}

interface RawPoll {
  socket: Socket;
  /** Status and JSON body of the answer; rejects if the connection ends without one. */
  answer: Promise<{ status: number; body: Record<string, unknown> }>;
}

/** How many of `polls` were answered so far. */
function countAnswered(polls: RawPoll[]): () => number {
  let answered = 0;
  for (const p of polls) p.answer.then(() => answered++, () => {});
  return () => answered;
}

/** A poll on its own TCP connection (a browser tab of its own), read until its whole answer arrived. */
function rawPoll(relay: RelayProcess, path: string): Promise<RawPoll> {
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = createConnection({ host: relay.host, port: relay.port });
    let text = "";
    const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        text += chunk;
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = /content-length: (\d+)/i.exec(text.slice(0, end));
        if (length === null || text.length < end + 4 + Number(length[1])) return;
        const status = Number(text.slice(9, 12));
        resolve({ status, body: JSON.parse(text.slice(end + 4, end + 4 + Number(length[1]))) });
      });
      socket.on("error", reject);
      socket.on("close", () => reject(new Error(`closed before an answer: ${JSON.stringify(text)}`)));
    });
    answer.catch(() => {});
    socket.on("connect", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${relay.host}:${relay.port}\r\n\r\n`);
      resolveOpen({ socket, answer });
    });
    socket.on("error", rejectOpen);
  });
}

describe("long polling (default limits)", () => {
  let relay: RelayProcess;
  before(async () => relay = await startRelay());
  after(async () => await relay.stop());

  it("plain polling keeps its answer; with epoch it says recovered", async () => {
    const channel = channelName("plain");
    await post(relay, channel, "one");
    const plain = await getJson(relay, `/channels/${channel}/messages?since=0`);
    assert.equal(plain.status, 200);
    assert.deepEqual(Object.keys(plain.body), ["channel", "epoch", "seq", "messages", "more"]);
    const withEpoch = await getJson(relay, `/channels/${channel}/messages?since=0&epoch=${plain.body.epoch}`);
    assert.equal(withEpoch.body.recovered, true);
    assert.deepEqual(withEpoch.body.messages, [{ seq: 1, text: "one" }]);
  });

  it("holds an up-to-date client until the next publish, then answers it at once with that message", async () => {
    const channel = channelName("held");
    const { epoch } = (await getJson(relay, `/channels/${channel}/messages`)).body;
    await post(relay, channel, "first");
    const state = (await getJson(relay, `/channels/${channel}/messages?since=1`)).body;
    const poll = timed(relay, `/channels/${channel}/messages?since=1&epoch=${state.epoch}&wait=20s`);
    await sleep(500);
    const publishedAt = performance.now();
    await post(relay, channel, "line 1\r\nline 2");
    const answer = await poll;
    assert.equal(answer.status, 200);
    assert.ok(answer.ms >= 450, `held ${answer.ms.toFixed(0)} ms`);
    assert.ok(performance.now() - publishedAt < 1000);
    assert.equal(answer.body.recovered, true);
    assert.equal(answer.body.seq, 2);
    assert.equal(answer.body.epoch, state.epoch);
    assert.deepEqual(answer.body.messages, [{ seq: 2, text: "line 1\r\nline 2" }]);
    assert.equal(answer.body.more, false);
    assert.equal(typeof epoch, "string");
  });

  it("answers at once when messages after since exist, and with recovered:false and nothing for another epoch", async () => {
    const channel = channelName("behind");
    for (const text of ["a", "b", "c"]) await post(relay, channel, text);
    const { epoch } = (await getJson(relay, `/channels/${channel}/messages`)).body;
    const behind = await timed(relay, `/channels/${channel}/messages?since=1&epoch=${epoch}&wait=20s`);
    assert.ok(behind.ms < 1000);
    assert.deepEqual(behind.body.messages, [{ seq: 2, text: "b" }, { seq: 3, text: "c" }]);
    assert.equal(behind.body.recovered, true);
    const lost = await timed(relay, `/channels/${channel}/messages?since=1&epoch=0123abcd&wait=20s`);
    assert.ok(lost.ms < 1000);
    assert.equal(lost.body.recovered, false);
    assert.deepEqual(lost.body.messages, []);
    assert.equal(lost.body.seq, 3, "the channel's seq and epoch: the client resyncs from there");
    assert.equal(lost.body.epoch, epoch);
  });

  it("answers 200 with no messages once wait passed (never before, at most about a second after)", async () => {
    const channel = channelName("quiet");
    const answer = await timed(relay, `/channels/${channel}/messages?since=0&wait=1s`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.messages, []);
    assert.ok(answer.ms >= 990 && answer.ms < 2600, `answered after ${answer.ms.toFixed(0)} ms`);
  });

  it("refuses a bad since, epoch or wait with 400", async () => {
    const channel = channelName("bad");
    for (
      const query of [
        "since=-1",
        "since=x&wait=1s",
        "wait=soon",
        "wait=-5s",
        "wait=1h",
        "epoch=",
        "epoch=%22x",
      ]
    ) {
      const answer = await getJson(relay, `/channels/${channel}/messages?${query}`);
      assert.equal(answer.status, 400, query);
      assert.equal(answer.body.error, "bad_query", query);
    }
  });

  it("500 held polls of one channel leave the event loop free, and one publish answers them all", async () => {
    const channel = channelName("many");
    await post(relay, channel, "zero");
    const { epoch } = (await getJson(relay, `/channels/${channel}/messages`)).body;
    const polls: RawPoll[] = [];
    for (let i = 0; i < 500; i++) {
      polls.push(await rawPoll(relay, `/channels/${channel}/messages?since=1&epoch=${epoch}&wait=30s`));
    }
    await sleep(300);
    const health = await timed(relay, "/healthz");
    assert.ok(health.ms < 250, `/healthz took ${health.ms.toFixed(0)} ms with 500 polls held`);
    const channels = (await getJson(relay, "/channels?limit=1000")).body.channels as { channel: string }[];
    assert.equal(channels.filter((row) => row.channel === channel).length, 1);
    const started = performance.now();
    await post(relay, channel, "wake");
    const answers = await Promise.all(polls.map((p) => p.answer));
    const ms = performance.now() - started;
    for (const p of polls) p.socket.destroy();
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body.messages, [{ seq: 2, text: "wake" }]);
    }
    assert.ok(ms < 3000, `500 answers took ${ms.toFixed(0)} ms`);
  });
});

describe("long polling under --max-connections-per-ip", () => {
  let relay: RelayProcess;
  before(async () => relay = await startRelay(["--max-connections-per-ip", "4"]));
  after(async () => await relay.stop());

  it("a held poll holds its connection: past the per-address cap the next one gets 503, and places come back once the clients leave", async () => {
    const channel = channelName("capped");
    const polls: RawPoll[] = [];
    for (let i = 0; i < 4; i++) {
      polls.push(await rawPoll(relay, `/channels/${channel}/messages?since=0&wait=2s`));
    }
    const answered = countAnswered(polls);
    await sleep(200);
    const refused = await rawPoll(relay, `/channels/${channel}/messages?since=0&wait=2s`);
    assert.equal((await refused.answer).status, 503);
    assert.equal(answered(), 0, "the four polls are held");
    refused.socket.destroy();
    for (const p of polls) p.socket.destroy();
    await sleep(500);
    const again = await rawPoll(relay, `/channels/${channel}/messages?since=0&wait=1s`);
    assert.equal((await again.answer).status, 200);
    again.socket.destroy();
  });
});

describe("long polling, clients that leave", () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay?.stop();
  });

  it("a client that leaves releases its held poll at once, not when its wait passes", async () => {
    const channel = channelName("gone");
    const listed = async () => {
      const { body } = await getJson(relay, `/channels?limit=1000`);
      return (body.channels as { channel: string; subscribers: number }[]).find((row) =>
        row.channel === channel
      );
    };
    const polls: RawPoll[] = [];
    for (let i = 0; i < 3; i++) {
      polls.push(await rawPoll(relay, `/channels/${channel}/messages?since=0&wait=50s`));
    }
    await sleep(200);
    assert.equal((await listed())?.subscribers, 1, "the held polls share one subscription of the channel");
    for (const p of polls) p.socket.destroy();
    // The channel's one subscription is kept a second or two after its last poll, for a client polling again.
    const deadline = Date.now() + 6000;
    while ((await listed()) !== undefined && Date.now() < deadline) await sleep(250);
    assert.equal(await listed(), undefined, "the channel is still watched for clients that left");
  });
});

describe("long polling and shutdown", () => {
  it("SIGTERM answers held polls at once (200, no messages) and the relay exits 0", async () => {
    const relay = await startRelay();
    try {
      const channel = channelName("stop");
      const polls: RawPoll[] = [];
      for (let i = 0; i < 20; i++) {
        polls.push(await rawPoll(relay, `/channels/${channel}/messages?since=0&wait=50s`));
      }
      const answered = countAnswered(polls);
      await sleep(300);
      assert.equal(answered(), 0, "held before the signal");
      const started = performance.now();
      const exited = relay.stop();
      const answers = await Promise.all(polls.map((p) => p.answer));
      const ms = performance.now() - started;
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body.messages, []);
      }
      assert.ok(ms < 2000, `answered after ${ms.toFixed(0)} ms`);
      assert.equal(await exited, 0);
      for (const p of polls) p.socket.destroy();
    } finally {
      await relay.stop();
    }
  });
});
