/**
 * RedisBroker against a real `redis-server` (a private one per describe block, see tests/support/redis_server.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BrokerFullError,
  type BrokerListener,
  BrokerUnavailableError,
  type ChannelMessage,
  ChannelRegistry,
  type ChannelState,
  recover,
  RedisBroker,
  type RedisBrokerOptions,
} from "../../../src/pubsub/mod.ts";
import { freePort, type RedisServer, startRedis } from "../../support/redis_server.ts";
import { RecordingSubscriber } from "../../support/fake_broker.ts";

let unique = 0;
const channelName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${unique++}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms until true; fails after `ms`. */
async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Everything a listener heard, in order: `seq`, or `reset:<seq>` for an epochChanged. */
class Recorder implements BrokerListener {
  messages: ChannelMessage[] = [];
  resets: ChannelState[] = [];
  log: string[] = [];
  message(message: ChannelMessage): void {
    this.messages.push(message);
    this.log.push(String(message.seq));
  }
  epochChanged(_channel: string, state: ChannelState): void {
    this.resets.push(state);
    this.log.push(`reset:${state.seq}`);
  }
  get seqs(): number[] {
    return this.messages.map((m) => m.seq);
  }
}

/** Asserts the log has no silent gap: each seq follows the previous one or a reset just before it. */
function assertNoSilentGap(log: string[]): void {
  let last: number | undefined;
  for (const entry of log) {
    if (entry.startsWith("reset:")) last = Number(entry.slice(6));
    else {
      if (last !== undefined) assert.equal(Number(entry), last + 1, `gap in ${log.join(" ")}`);
      last = Number(entry);
    }
  }
}

const brokers: RedisBroker[] = [];
async function connect(redis: RedisServer, options: Partial<RedisBrokerOptions> = {}): Promise<RedisBroker> {
  const broker = new RedisBroker({ url: redis.url, reconnectMaxDelayMs: 100, ...options });
  brokers.push(broker);
  await eventually("broker ready", () => broker.ready());
  return broker;
}
after(async () => {
  for (const broker of brokers) await broker.close();
});

describe("RedisBroker on one shared Redis", () => {
  let redis: RedisServer;
  before(async () => redis = await startRedis());
  after(async () => await redis.stop());

  it("numbers messages once across two nodes and delivers them to both in the same order", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("order");
    const [onA, onB] = [new Recorder(), new Recorder()];
    await a.subscribe(channel, onA);
    await b.subscribe(channel, onB);
    const published = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).publish(channel, `m${i}`)),
    );
    assert.deepEqual(
      published.map((m) => m.seq).sort((x, y) => x - y),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.equal(new Set(published.map((m) => m.epoch)).size, 1);
    await eventually("both nodes got all", () => onA.messages.length === 200 && onB.messages.length === 200);
    assert.deepEqual(onA.seqs, onB.seqs);
    assert.deepEqual(onA.seqs, Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(onA.messages.map((m) => m.data), onB.messages.map((m) => m.data));
    // Each publish's acknowledged seq names exactly the message delivered with that seq.
    for (const p of published) assert.equal(onA.messages[p.seq - 1].data, p.data);
    assert.deepEqual(onA.resets, []);
  });

  it("serves history and resume from any node", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("history");
    for (let i = 1; i <= 5; i++) await a.publish(channel, `m${i}`);
    const state = await b.state(channel);
    assert.equal(state.seq, 5);
    const history = await b.history(channel, { since: 2, epoch: state.epoch });
    assert.deepEqual(history.messages.map((m) => [m.seq, m.data]), [[3, "m3"], [4, "m4"], [5, "m5"]]);
    assert.equal(history.contiguous, true);
    assert.deepEqual((await b.history(channel, { since: 1, limit: 2 })).messages.map((m) => m.seq), [2, 3]);
    const resumed = await recover(b, channel, 3, state.epoch);
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.messages.map((m) => m.data), ["m4", "m5"]);
    assert.equal((await recover(b, channel, 3, "another-epoch")).recovered, false);
  });

  it("keeps only historySize messages: resuming from before them is not recovered", async () => {
    const broker = await connect(redis, { historySize: 3 });
    const channel = channelName("size");
    for (let i = 1; i <= 6; i++) await broker.publish(channel, `m${i}`);
    const history = await broker.history(channel);
    assert.deepEqual(history.messages.map((m) => m.seq), [4, 5, 6]);
    const epoch = history.epoch;
    assert.equal((await recover(broker, channel, 2, epoch)).recovered, false);
    assert.equal((await recover(broker, channel, 3, epoch)).recovered, true);
  });

  it("ignores history older than historyTtlMs", async () => {
    const broker = await connect(redis, { historyTtlMs: 150 });
    const channel = channelName("ttl");
    await broker.publish(channel, "old");
    await sleep(250);
    await broker.publish(channel, "new");
    const history = await broker.history(channel);
    assert.deepEqual(history.messages.map((m) => m.data), ["new"]);
    assert.equal(history.contiguous, false, "message 1 expired, so since 0 is not covered");
  });

  it("round-trips binary and text data exactly, live and from history", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("bytes");
    const listener = new Recorder();
    await b.subscribe(channel, listener);
    const every = new Uint8Array(256).map((_, i) => i);
    const view = new Uint8Array([9, 9, 0x3a, 0, 0xff, 9]).subarray(2, 5); // an offset view: only [: \0 ÿ]
    const text = "a:b\u0000ü€😀\r\n";
    await a.publish(channel, every);
    await a.publish(channel, view);
    await a.publish(channel, text);
    await a.publish(channel, new Uint8Array(0));
    await a.publish(channel, "");
    await eventually("delivery", () => listener.messages.length === 5);
    const expected = [every, new Uint8Array([0x3a, 0, 0xff]), text, new Uint8Array(0), ""];
    const plain = (data: string | Uint8Array) => typeof data === "string" ? data : [...data];
    assert.deepEqual(listener.messages.map((m) => plain(m.data)), expected.map(plain));
    for (const m of listener.messages) {
      if (typeof m.data !== "string") assert.equal(Object.getPrototypeOf(m.data), Uint8Array.prototype);
    }
    const history = await b.history(channel);
    assert.deepEqual(history.messages.map((m) => plain(m.data)), expected.map(plain));
  });

  it("delivers through a ChannelRegistry with replay on join, no loss or duplicates", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("registry");
    for (let i = 1; i <= 3; i++) await a.publish(channel, `m${i}`);
    const epoch = (await a.state(channel)).epoch;
    const registry = new ChannelRegistry(b);
    const subscriber = new RecordingSubscriber();
    const joining = registry.join(channel, subscriber, { since: 1, epoch });
    const during = a.publish(channel, "m4"); // lands while the join is in flight
    await joining;
    await during;
    await a.publish(channel, "m5");
    await eventually("live delivery", () => subscriber.seqs.includes(5));
    assert.deepEqual(subscriber.states.map((s) => [s.epoch, s.recovered]), [[epoch, true]]);
    assert.deepEqual(subscriber.seqs, [2, 3, 4, 5]);
    registry.leave(channel, subscriber);
    await eventually("unsubscribed", () => b.stats().channels === 0);
  });

  it("refuses publishes past maxInFlight at once, without storing them", async () => {
    const broker = await connect(redis, { maxInFlight: 4 });
    const channel = channelName("inflight");
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => broker.publish(channel, `${i}`)),
    );
    const stored = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(stored.length, 4);
    for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof BrokerUnavailableError);
    assert.equal((await broker.state(channel)).seq, 4);
  });

  it("fails a command Redis does not answer within commandTimeoutMs, and recovers when it answers again", async () => {
    const broker = await connect(redis, { commandTimeoutMs: 200, maxInFlight: 2 });
    const channel = channelName("stall");
    redis.pause();
    try {
      const started = Date.now();
      const stalled = [broker.publish(channel, "a"), broker.publish(channel, "b")];
      await assert.rejects(stalled[0], BrokerUnavailableError);
      await assert.rejects(stalled[1], BrokerUnavailableError);
      assert.ok(Date.now() - started < 1500);
      // Both still await Redis: the in-flight bound refuses more instead of queueing them.
      await assert.rejects(broker.publish(channel, "c"), /in flight/);
    } finally {
      redis.resume();
    }
    await sleep(100);
    assert.equal((await broker.publish(channel, "d")).data, "d");
  });
});

describe("RedisBroker channel cap and key lifetimes", () => {
  let redis: RedisServer;
  before(async () => redis = await startRedis());
  after(async () => await redis.stop());

  it("keeps a channel's meta key for channelTtlMs, one hour by default, not a day", async () => {
    const broker = await connect(redis);
    const channel = channelName("meta-ttl");
    await broker.publish(channel, "x");
    const pttl = Number(await redis.cli(["PTTL", `relay:{${channel}}:meta`]));
    assert.ok(pttl > 3_590_000 && pttl <= 3_600_000, `PTTL ${pttl}`);
  });

  it("past maxChannels, evicts the oldest channel it created that nobody used for historyTtlMs", async () => {
    const broker = await connect(redis, { maxChannels: 2, historyTtlMs: 150, channelTtlMs: 60_000 });
    const [a, b, c] = [channelName("cap-a"), channelName("cap-b"), channelName("cap-c")];
    const first = await broker.publish(a, "1");
    await broker.publish(b, "1");
    await sleep(250);
    assert.equal((await broker.publish(c, "1")).seq, 1);
    assert.equal((await broker.state(a)).seq, 0, "a's keys were deleted");
    assert.equal(await redis.cli(["EXISTS", `relay:{${a}}:meta`, `relay:{${a}}:log`]), "0");
    assert.equal((await broker.state(b)).seq, 1);
    // Publishing to it again starts a new lineage: a resume from the old one is not recovered.
    const again = await broker.publish(a, "2");
    assert.equal(again.seq, 1);
    assert.notEqual(again.epoch, first.epoch);
    assert.equal((await recover(broker, a, 1, first.epoch)).recovered, false);
  });

  it("refuses a new channel with BrokerFullError while the channels it created are in use, and serves the rest", async () => {
    const broker = await connect(redis, { maxChannels: 2 });
    const other = await connect(redis);
    const [a, b, c, shared] = ["a", "b", "c", "shared"].map((p) => channelName(`full-${p}`));
    await broker.publish(a, "1");
    await broker.publish(b, "1");
    await assert.rejects(
      broker.publish(c, "1"),
      (e) => e instanceof BrokerFullError && e.limit === "maxChannels",
    );
    assert.equal(await redis.cli(["EXISTS", `relay:{${c}}:meta`]), "0", "nothing was created");
    assert.equal((await broker.publish(a, "2")).seq, 2);
    // A channel another node created costs this node nothing: publishing to it is allowed.
    await other.publish(shared, "1");
    assert.equal((await broker.publish(shared, "2")).seq, 2);
  });
});

describe("RedisBroker when Redis fails", () => {
  let redis: RedisServer;
  before(async () => redis = await startRedis());
  after(async () => await redis.stop());

  it("tells listeners of a new epoch after FLUSHALL before the first message of it", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("flush");
    const listener = new Recorder();
    await b.subscribe(channel, listener);
    await a.publish(channel, "one");
    const old = await a.publish(channel, "two");
    await redis.cli(["FLUSHALL"]);
    const fresh = await a.publish(channel, "three");
    assert.equal(fresh.seq, 1);
    assert.notEqual(fresh.epoch, old.epoch);
    await eventually("delivery", () => listener.messages.length === 3);
    assert.deepEqual(listener.log, ["1", "2", "reset:0", "1"]);
    assert.equal(listener.resets[0].epoch, fresh.epoch);
    assert.equal((await recover(a, channel, 2, old.epoch)).recovered, false);
  });

  it("refuses publishes while Redis is down, then reconnects, re-subscribes and announces the lost history", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("restart");
    const listener = new Recorder();
    const readiness: boolean[] = [];
    const c = new RedisBroker({
      url: redis.url,
      reconnectMaxDelayMs: 100,
      onReadyChange: (ready) => readiness.push(ready),
    });
    brokers.push(c);
    await eventually("third ready", () => c.ready());
    await b.subscribe(channel, listener);
    const before = await a.publish(channel, "before");
    // Delivered before the kill: otherwise it is lost with the lineage (and announced by the reset alone).
    await eventually("before delivered", () => listener.messages.length === 1);
    await redis.stop("SIGKILL");
    await eventually("not ready", () => !a.ready() && !b.ready() && !c.ready());
    const started = Date.now();
    await assert.rejects(a.publish(channel, "lost"), BrokerUnavailableError);
    assert.ok(Date.now() - started < 500, "refused at once, not queued");
    await assert.rejects(a.subscribe(channelName("other"), new Recorder()), BrokerUnavailableError);
    await redis.start();
    await eventually("ready again", () => a.ready() && b.ready() && c.ready());
    assert.deepEqual(readiness, [true, false, true]);
    // b learns of the new lineage by itself (re-subscribe, then a check against the stream)...
    await eventually("reset announced", () => listener.resets.length === 1);
    assert.notEqual(listener.resets[0].epoch, before.epoch);
    // ...and gets what is published after it.
    const after = await a.publish(channel, "after");
    assert.equal(after.epoch, listener.resets[0].epoch);
    await eventually("delivery resumed", () => listener.messages.length === 2);
    assert.deepEqual(listener.log, ["1", "reset:0", "1"]);
  });

  it("fetches what a node missed while its subscription was down, in order", async () => {
    const [a, b] = [await connect(redis), await connect(redis)];
    const channel = channelName("missed");
    const listener = new Recorder();
    await b.subscribe(channel, listener);
    await a.publish(channel, "m1");
    await eventually("first", () => listener.messages.length === 1);
    await redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"]);
    for (let i = 2; i <= 30; i++) await a.publish(channel, `m${i}`);
    await eventually("caught up", () => listener.messages.length === 30);
    assert.deepEqual(listener.seqs, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(listener.messages.map((m) => m.data), listener.seqs.map((s) => `m${s}`));
    assert.deepEqual(listener.resets, [], "the stream had all of them: no gap to announce");
  });

  it("announces what a node missed that history no longer has, never a silent gap", async () => {
    const a = await connect(redis, { historySize: 2 });
    const b = await connect(redis, { historySize: 2 });
    const channel = channelName("trimmed");
    const listener = new Recorder();
    await b.subscribe(channel, listener);
    await a.publish(channel, "m1");
    await eventually("first", () => listener.messages.length === 1);
    await redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"]);
    for (let i = 2; i <= 20; i++) await a.publish(channel, `m${i}`);
    await eventually("caught up", () => listener.seqs.at(-1) === 20);
    assertNoSilentGap(listener.log);
    assert.ok(listener.resets.length >= 1, `a gap was announced: ${listener.log.join(" ")}`);
    assert.equal(listener.resets[0].epoch, (await a.state(channel)).epoch, "same lineage, only a hole");
  });
});

describe("RedisBroker started before its Redis", () => {
  it("is not ready and refuses publishes until Redis comes up, then works", async () => {
    const port = await freePort();
    const redis = await startRedis({ port, running: false });
    const broker = new RedisBroker({ url: redis.url, reconnectMaxDelayMs: 100 });
    brokers.push(broker);
    try {
      await sleep(150);
      assert.equal(broker.ready(), false);
      await assert.rejects(broker.publish("early", "x"), BrokerUnavailableError);
      await assert.rejects(broker.state("early"), BrokerUnavailableError);
      await redis.start();
      await eventually("ready", () => broker.ready());
      assert.equal((await broker.publish("early", "x")).seq, 1);
    } finally {
      await broker.close();
      await redis.stop();
    }
  });
});
