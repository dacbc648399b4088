/**
 * Several relay nodes over one Redis (`--broker redis://…`), black-box: real relay processes, a private
 * `redis-server`, the runtime's built-in WebSocket client and fetch.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { freePort, type RedisServer, startRedis } from "../support/redis_server.ts";
import { type Received, TestSocket, within } from "../support/ws_client.ts";

let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(
  node: RelayProcess,
  channel: string,
  body: string | Uint8Array<ArrayBuffer>,
  type = "text/plain",
) {
  const response = await fetch(`${node.url}/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Starts a node on `redis` and waits until it is ready (its broker connects in the background). */
async function startNode(redis: RedisServer, flags: string[] = []): Promise<RelayProcess> {
  const node = await startRelay(["--broker", redis.url, ...flags]);
  await eventually("node ready", async () => (await fetch(`${node.url}/readyz`)).status === 200);
  return node;
}

/** A message as both modes describe it: `t:<text>` or `b:<hex>`. */
const describeRaw = (m: Received) => m.type === "text" ? `t:${m.data}` : `b:${m.data.toHex()}`;
const describeEnvelope = (m: Record<string, unknown>) =>
  typeof m.text === "string" ? `t:${m.text}` : `b:${Uint8Array.fromBase64(m.binary as string).toHex()}`;

/** The JSON frames an envelope socket received so far. */
const envelopes = (socket: TestSocket) =>
  socket.messages.map((m) => JSON.parse(m.type === "text" ? m.data : "{}") as Record<string, unknown>);

async function subscribeEnvelope(node: RelayProcess, channel: string, extra: Record<string, unknown> = {}) {
  const socket = await TestSocket.open(`${node.wsUrl}/ws`, "relay.v1");
  socket.sendJson({ type: "subscribe", channel, ...extra });
  const subscribed = await socket.nextJson();
  assert.equal(subscribed.type, "subscribed", JSON.stringify(subscribed));
  return { socket, subscribed };
}

/**
 * Checks an envelope subscriber never saw a silent gap: every `message` follows the previous one's seq, or the
 * seq of the `subscribed` just before it. Returns the texts it received.
 */
function assertEnvelopeInOrder(socket: TestSocket): string[] {
  let last: number | undefined;
  const texts: string[] = [];
  for (const frame of envelopes(socket)) {
    if (frame.type === "subscribed") last = frame.seq as number;
    else if (frame.type === "message") {
      assert.equal(frame.seq, (last ?? 0) + 1, `silent gap before ${JSON.stringify(frame)}`);
      last = frame.seq as number;
      texts.push(describeEnvelope(frame));
    }
  }
  return texts;
}

describe("two relay nodes over one Redis", () => {
  let redis: RedisServer;
  let a: RelayProcess;
  let b: RelayProcess;
  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([
      startNode(redis, ["--history-size", "500"]),
      startNode(redis, ["--history-size", "500"]),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it("answers /readyz 200 on both nodes while Redis is up", async () => {
    for (const node of [a, b]) assert.equal((await fetch(`${node.url}/readyz`)).status, 200);
  });

  it("delivers every message from publishers on both nodes to every subscriber on both, in one order", async () => {
    const channel = channelName("multi");
    const raws = await Promise.all(
      [a, a, b, b].map((node) => TestSocket.open(`${node.wsUrl}/ws/${channel}`)),
    );
    const envs = await Promise.all([a, a, b, b].map((node) => subscribeEnvelope(node, channel)));
    const rawPublisher = raws[0]; // a raw subscriber on node A that also publishes (text and binary)
    const envelopePublisher = envs[3].socket; // an envelope subscriber on node B that also publishes
    await sleep(100); // raw sockets have no `subscribed`: let their subscriptions reach Redis
    const sent = new Set<string>();
    const perSource = 60;
    await Promise.all([
      (async () => {
        for (let i = 0; i < perSource; i++) {
          if (i % 3 === 0) {
            const bytes = new Uint8Array([i, 0, 0x3a, 255]);
            rawPublisher.ws.send(bytes);
            sent.add(`b:${bytes.toHex()}`);
          } else {
            rawPublisher.ws.send(`raw ${i}`);
            sent.add(`t:raw ${i}`);
          }
          if (i % 10 === 0) await sleep(1);
        }
      })(),
      (async () => {
        for (let i = 0; i < perSource; i++) {
          envelopePublisher.sendJson({ type: "publish", channel, text: `env ${i}`, id: `p${i}` });
          sent.add(`t:env ${i}`);
          if (i % 10 === 0) await sleep(1);
        }
      })(),
      ...[a, b].map(async (node) => {
        for (let i = 0; i < perSource; i++) {
          const text = `http ${node === a ? "A" : "B"} ${i}`;
          assert.equal((await post(node, channel, text)).status, 200);
          sent.add(`t:${text}`);
        }
      }),
    ]);
    const total = perSource * 4;
    await Promise.all(raws.map((s) => s.waitFor(total, 15_000)));
    // Envelope sockets: `subscribed`, the messages, and for the publisher one ack per publish.
    const frames = (socket: TestSocket) => 1 + total + (socket === envelopePublisher ? perSource : 0);
    await Promise.all(envs.map(({ socket }) => socket.waitFor(frames(socket), 15_000)));
    const order = raws[0].messages.map(describeRaw);
    assert.equal(new Set(order).size, total, "no duplicates");
    assert.deepEqual(new Set(order), sent, "nothing lost, nothing extra");
    for (const socket of raws) assert.deepEqual(socket.messages.map(describeRaw), order);
    for (const { socket, subscribed } of envs) {
      assert.deepEqual(assertEnvelopeInOrder(socket), order);
      const seqs = envelopes(socket).filter((f) => f.type === "message").map((f) => f.seq);
      assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => (subscribed.seq as number) + i + 1));
    }
    for (const socket of [...raws, ...envs.map((e) => e.socket)]) socket.close();
  });

  it("resumes on node B exactly where a client left node A", async () => {
    const channel = channelName("resume");
    const first = await subscribeEnvelope(a, channel);
    for (let i = 1; i <= 5; i++) assert.equal((await post(a, channel, `m${i}`)).status, 200);
    await first.socket.waitFor(6);
    const seen = envelopes(first.socket).at(-1)!;
    assert.equal(seen.seq, 5);
    first.socket.close();
    for (let i = 6; i <= 8; i++) assert.equal((await post(b, channel, `m${i}`)).status, 200);
    const resumed = await subscribeEnvelope(b, channel, { since: 5, epoch: first.subscribed.epoch });
    assert.equal(resumed.subscribed.recovered, true);
    assert.equal(resumed.subscribed.epoch, first.subscribed.epoch);
    await resumed.socket.waitFor(4);
    assert.deepEqual(envelopes(resumed.socket).slice(1).map((f) => [f.seq, f.text]), [[6, "m6"], [7, "m7"], [
      8,
      "m8",
    ]]);
    const wrongEpoch = await subscribeEnvelope(a, channel, { since: 5, epoch: "not-the-epoch" });
    assert.equal(wrongEpoch.subscribed.recovered, false);
    const history = await (await fetch(`${b.url}/channels/${channel}/messages?since=6`)).json();
    assert.deepEqual(history.messages, [{ seq: 7, text: "m7" }, { seq: 8, text: "m8" }]);
    assert.equal(history.epoch, first.subscribed.epoch);
    resumed.socket.close();
    wrongEpoch.socket.close();
  });
});

describe("two relay nodes when Redis is killed and restarted mid-stream", () => {
  let redis: RedisServer;
  let a: RelayProcess;
  let b: RelayProcess;
  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startNode(redis), startNode(redis)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it("refuses publishes while down, resumes delivery after, loses no acknowledged message silently", async () => {
    const channel = channelName("restart");
    const envs = await Promise.all([a, b].map((node) => subscribeEnvelope(node, channel)));
    const raw = await TestSocket.open(`${b.wsUrl}/ws/${channel}`);
    await sleep(100);
    const acked: string[] = [];
    const ackedAfterRestart: string[] = [];
    let refused = 0;
    let restarted = false;
    let stop = false;
    const publisher = (async () => {
      for (let i = 0; !stop; i++) {
        const text = `m${i}`;
        const { status } = await post(i % 2 === 0 ? a : b, channel, text);
        if (status === 200) (restarted ? ackedAfterRestart : acked).push(`t:${text}`);
        else {
          assert.equal(status, 503, "a refused publish is a 503");
          refused++;
        }
        await sleep(5);
      }
    })();
    await eventually("some traffic", () => acked.length >= 20);
    await redis.stop("SIGKILL");
    await eventually("refusals while down", () => refused >= 3);
    assert.equal((await fetch(`${a.url}/readyz`)).status, 503);
    await redis.start();
    restarted = true;
    await eventually("delivery after restart", () => ackedAfterRestart.length >= 20);
    stop = true;
    await publisher;
    const everyAck = [...acked, ...ackedAfterRestart];
    await eventually("subscribers got the new epoch's messages", () => {
      const lastAck = ackedAfterRestart.at(-1)!;
      return envs.every(({ socket }) =>
        socket.messages.some((m) => m.type === "text" && m.data.includes(`"${lastAck.slice(2)}"`))
      ) &&
        raw.messages.some((m) => describeRaw(m) === lastAck);
    });
    for (const { socket, subscribed } of envs) {
      const received = new Set(assertEnvelopeInOrder(socket));
      const states = envelopes(socket).filter((f) => f.type === "subscribed");
      assert.ok(states.length >= 2, "told of the lost history with a fresh subscribed");
      assert.equal(states.at(-1)!.recovered, false);
      assert.notEqual(states.at(-1)!.epoch, subscribed.epoch, "a new epoch after Redis came back empty");
      // Anything acknowledged but not received belongs to the lost lineage, announced above.
      for (const text of ackedAfterRestart) {
        assert.ok(received.has(text), `${text} was acknowledged after the restart`);
      }
      const missing = everyAck.filter((t) => !received.has(t));
      for (const text of missing) assert.ok(acked.includes(text));
    }
    const rawReceived = raw.messages.map(describeRaw);
    assert.deepEqual(
      rawReceived.slice(-ackedAfterRestart.length),
      ackedAfterRestart,
      "raw delivery resumed in order",
    );
    assert.equal((await fetch(`${b.url}/readyz`)).status, 200);
    for (const socket of [raw, ...envs.map((e) => e.socket)]) socket.close();
  });
});

describe("a relay node started before its Redis", () => {
  it("answers /readyz and publishes with 503 until Redis is up, then 200", async () => {
    const redis = await startRedis({ port: await freePort(), running: false });
    const node = await startRelay(["--broker", redis.url]);
    try {
      assert.equal((await fetch(`${node.url}/readyz`)).status, 503);
      assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
      const refused = await post(node, "early", "x");
      assert.equal(refused.status, 503);
      await redis.start();
      await within(
        10_000,
        "readyz 200",
        eventually("ready", async () => (await fetch(`${node.url}/readyz`)).status === 200),
      );
      const stored = await post(node, "early", "x");
      assert.deepEqual([stored.status, stored.body.seq], [200, 1]);
    } finally {
      await node.stop();
      await redis.stop();
    }
  });
});
