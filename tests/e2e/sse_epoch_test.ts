/**
 * An epoch change while event streams are open (issue 11), black box: a relay on a private Redis, a
 * one-channel and a many-channel server-sent events stream and an envelope WebSocket on the same channels;
 * Redis is killed and started again empty (its history and epochs are gone). Every subscriber must get a fresh
 * `subscribed` with the new epoch and `recovered: false`, then exactly the new epoch's messages in order, and
 * the streams' ids must name the new epoch (a reconnect with them resumes, one with the old id does not).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { publishText, type RelayProcess, startRelay } from "../support/relay_process.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { TestSocket } from "../support/ws_client.ts";
import { SseClient } from "../support/sse_client.ts";

let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every wait of this file gives up after this long, so a lost event fails the test instead of hanging it. */
const WAIT_MS = 10_000;

async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const publish = publishText;

/** An envelope as a subscriber saw it: `subscribed` or `message`, with the stream id when it came by SSE. */
interface Seen {
  type: string;
  channel: string;
  seq: number;
  epoch?: string;
  recovered?: boolean;
  text?: string;
  id?: string;
}

function fromStream(stream: SseClient): Seen[] {
  return stream.events.map((e) => ({ ...JSON.parse(e.data), id: e.id }));
}

function fromSocket(socket: TestSocket): Seen[] {
  return socket.messages
    .map((m) => JSON.parse(m.type === "text" ? m.data : "{}") as Seen)
    .filter((m) => m.type === "subscribed" || m.type === "message");
}

/**
 * What one channel's subscriber saw, split at its `subscribed` envelopes: each part is a `subscribed` and the
 * messages after it, which must follow its seq with no gap and no repeat.
 */
function lineages(seen: Seen[], channel: string): { subscribed: Seen; texts: string[] }[] {
  const parts: { subscribed: Seen; texts: string[]; last: number }[] = [];
  for (const item of seen.filter((s) => s.channel === channel)) {
    if (item.type === "subscribed") {
      parts.push({ subscribed: item, texts: [], last: item.seq });
      continue;
    }
    const part = parts.at(-1);
    assert.ok(part, `a message before any subscribed: ${JSON.stringify(item)}`);
    assert.equal(item.seq, part.last + 1, `gap or repeat at ${JSON.stringify(item)} after seq ${part.last}`);
    part.last = item.seq;
    part.texts.push(item.text!);
  }
  return parts;
}

describe("an epoch change while streams are open (Redis restarted empty)", () => {
  let redis: RedisServer;
  let relay: RelayProcess;

  before(async () => {
    redis = await startRedis();
    relay = await startRelay(["--broker", redis.url, "--sse-keepalive", "0"]);
    await eventually("relay ready", async () => (await fetch(`${relay.url}/readyz`)).status === 200);
  });
  after(async () => {
    await relay?.stop();
    await redis?.stop();
  });

  it("one-channel, many-channel SSE and envelope WebSocket each get subscribed recovered:false, then the new epoch's messages", async () => {
    const a = channelName("epoch-a");
    const b = channelName("epoch-b");
    const single = await SseClient.open(relay.port, `/channels/${a}/events`);
    const many = await SseClient.open(relay.port, `/events?channel=${a}&channel=${b}`);
    const envelope = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    try {
      envelope.sendJson({ type: "subscribe", channel: a });
      envelope.sendJson({ type: "subscribe", channel: b });
      await single.waitFor(1);
      await many.waitFor(2);
      await envelope.waitFor(2);

      // The old epoch: two messages on a, one on b, seen by everyone.
      const oldTexts = { a: ["old a1", "old a2"], b: ["old b1"] };
      for (const text of oldTexts.a) await publish(relay, a, text);
      for (const text of oldTexts.b) await publish(relay, b, text);
      await single.waitFor(3, WAIT_MS);
      await many.waitFor(5, WAIT_MS);
      await envelope.waitFor(5, WAIT_MS);
      const oldEpoch = {
        a: fromStream(single)[0].epoch!,
        b: lineages(fromStream(many), b)[0].subscribed.epoch!,
      };
      const oldSingleId = single.lastEventId;
      const oldManyId = many.lastEventId;
      assert.equal(oldSingleId, `${oldEpoch.a}:2`);
      assert.equal(oldManyId, `${oldEpoch.a}:2,${oldEpoch.b}:1`);

      // Redis loses everything: history, seq and epoch of both channels.
      await redis.stop("SIGKILL");
      await redis.start();
      await eventually("relay ready again", async () => (await fetch(`${relay.url}/readyz`)).status === 200);

      const newTexts = { a: ["new a1", "new a2", "new a3"], b: ["new b1", "new b2"] };
      const acked = { a: [] as number[], b: [] as number[] };
      for (const text of newTexts.a) acked.a.push(await publish(relay, a, text));
      for (const text of newTexts.b) acked.b.push(await publish(relay, b, text));
      assert.deepEqual(acked, { a: [1, 2, 3], b: [1, 2] }, "Redis came back empty: seq starts over");

      const lastOf = (seen: Seen[], channel: string, text: string) =>
        seen.some((s) => s.channel === channel && s.text === text);
      await eventually(
        "the new epoch's messages on every subscriber",
        () =>
          lastOf(fromStream(single), a, "new a3") &&
          lastOf(fromStream(many), a, "new a3") && lastOf(fromStream(many), b, "new b2") &&
          lastOf(fromSocket(envelope), a, "new a3") && lastOf(fromSocket(envelope), b, "new b2"),
      );
      await sleep(100); // anything that would come after (a repeat, a second announcement) shows up too

      const subscribers: [string, Seen[], string[]][] = [
        ["one-channel SSE", fromStream(single), [a]],
        ["many-channel SSE", fromStream(many), [a, b]],
        ["envelope WebSocket", fromSocket(envelope), [a, b]],
      ];
      const newEpoch: Record<string, string> = {};
      for (const [who, seen, channels] of subscribers) {
        for (const channel of channels) {
          const key = channel === a ? "a" : "b";
          const parts = lineages(seen, channel);
          assert.equal(
            parts.length,
            2,
            `${who} ${key}: one subscribed per epoch, got ${JSON.stringify(seen)}`,
          );
          const [first, second] = parts;
          assert.equal(first.subscribed.recovered, false);
          assert.equal(first.subscribed.epoch, oldEpoch[key]);
          assert.deepEqual(first.texts, oldTexts[key], `${who} ${key}: the old epoch's messages`);
          assert.equal(second.subscribed.recovered, false, `${who} ${key}: the lost history is announced`);
          assert.notEqual(second.subscribed.epoch, oldEpoch[key], `${who} ${key}: a new epoch`);
          newEpoch[key] ??= second.subscribed.epoch!;
          assert.equal(
            second.subscribed.epoch,
            newEpoch[key],
            `${who} ${key}: the same new epoch everywhere`,
          );
          // Announced before the first message of the new epoch, which follows it with no gap: whichever
          // seq the announcement carries, the messages after it are exactly the new epoch's from there on.
          const from = second.subscribed.seq;
          assert.deepEqual(
            second.texts,
            newTexts[key].slice(from),
            `${who} ${key}: the new epoch's messages after seq ${from}`,
          );
        }
      }

      // The streams' ids now name the new epoch; every message of the new epoch on the one-channel stream
      // carries its own `<epoch>:<seq>`.
      const singleNew = fromStream(single).slice(
        fromStream(single).findLastIndex((s) => s.type === "subscribed"),
      );
      assert.equal(singleNew[0].id, `${newEpoch.a}:${singleNew[0].seq}`);
      for (const m of singleNew.slice(1)) assert.equal(m.id, `${newEpoch.a}:${m.seq}`);
      assert.equal(single.lastEventId, `${newEpoch.a}:3`);
      await eventually(
        "the many-channel id block after the last turn",
        () => many.lastEventId === `${newEpoch.a}:3,${newEpoch.b}:2`,
      );

      // Resuming with an id of the new epoch recovers; with an id of the lost epoch it cannot.
      const resumed = await SseClient.open(relay.port, `/events?channel=${a}&channel=${b}`, {
        "last-event-id": many.lastEventId,
      });
      const stale = await SseClient.open(relay.port, `/channels/${a}/events`, {
        "last-event-id": oldSingleId,
      });
      try {
        await resumed.waitFor(2);
        assert.deepEqual(
          fromStream(resumed).map((s) => [s.type, s.channel, s.epoch, s.seq, s.recovered]),
          [["subscribed", a, newEpoch.a, 3, true], ["subscribed", b, newEpoch.b, 2, true]],
        );
        const answer = await stale.nextJson("subscribed");
        assert.deepEqual(
          [answer.epoch, answer.seq, answer.recovered, answer.id],
          [newEpoch.a, 3, false, `${newEpoch.a}:3`],
        );
      } finally {
        resumed.close();
        stale.close();
      }
    } finally {
      single.close();
      many.close();
      envelope.close();
    }
  });
});
