/**
 * The presence stores: `MemoryPresence` (exact and immediate) and `RedisPresence` over a private Redis (every
 * store sees every store's users; entries of a store that stops refreshing expire and the sweeper publishes
 * their leaves).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryPresence, type PresenceChange, RedisPresence } from "../../src/pubsub/mod.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const show = (c: PresenceChange) => `${c.type}:${c.channel}:${c.user}`;

async function eventually(what: string, condition: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("MemoryPresence", () => {
  it("joins on a user's first connection, leaves on its last, synchronously", () => {
    const store = new MemoryPresence({ maxMembers: 2 });
    const changes: string[] = [];
    store.onChange((c) => changes.push(show(c)));
    assert.equal(store.add("r", "c1", "alice", '{"n":1}'), "joined");
    assert.equal(store.add("r", "c2", "alice", null), "present");
    assert.equal(store.add("r", "c2", "alice", null), "present", "the same connection twice is one");
    assert.equal(store.add("r", "c3", "bob", null), "joined");
    assert.equal(store.add("r", "c4", "carol", null), "full");
    assert.deepEqual(store.members("r"), {
      users: [{ user: "alice", info: '{"n":1}', connections: 2 }, {
        user: "bob",
        info: null,
        connections: 1,
      }],
      clients: 3,
    });
    store.remove("r", "c1");
    assert.deepEqual(changes, ["join:r:alice", "join:r:bob"]);
    store.remove("r", "c2");
    store.remove("r", "c4"); // refused earlier: nothing
    assert.deepEqual(changes, ["join:r:alice", "join:r:bob", "leave:r:alice"]);
    store.remove("r", "c3");
    assert.deepEqual(store.members("r"), { users: [], clients: 0 });
  });
});

describe("RedisPresence", { timeout: 30_000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it("shares users across stores, caps new users, and sweeps a dead node's entries with leaves", async () => {
    const ttlMs = 600;
    const a = new RedisPresence({ url: redis.url, ttlMs, maxMembers: 2 });
    const b = new RedisPresence({ url: redis.url, ttlMs, maxMembers: 2 });
    const seen: string[] = [];
    b.onChange((c) => seen.push(show(c)));
    await Promise.all([a.ready(), b.ready()]);
    try {
      assert.equal(await a.add("r", "a.1", "alice", '{"n":1}'), "joined");
      assert.equal(await b.add("r", "b.1", "alice", null), "present");
      assert.equal(await b.add("r", "b.2", "bob", null), "joined");
      assert.equal(await a.add("r", "a.2", "carol", null), "full");
      const members = await b.members("r");
      assert.deepEqual(members.users.map((u) => `${u.user}×${u.connections}`).sort(), ["alice×2", "bob×1"]);
      assert.equal(members.users.find((u) => u.user === "alice")!.info, '{"n":1}');
      assert.equal(members.clients, 3);
      await eventually("b hears both joins", () => seen.length === 2);

      // A dead node's entry: in the hashes, expiring now, and never refreshed again.
      const base = "relay:pres{r}";
      await redis.cli(["HSET", `${base}:conns`, "dead.1", "dave"]);
      await redis.cli(["ZADD", `${base}:exp`, "1", "dead.1"]);
      await redis.cli(["HINCRBY", `${base}:users`, "dave", "1"]);
      await redis.cli(["SADD", "relay:pres:channels", "r"]);
      assert.ok(
        !(await b.members("r")).users.some((u) => u.user === "dave"),
        "expired entries are not listed",
      );
      await eventually("the sweeper publishes dave's leave", () => seen.includes("leave:r:dave"), 3000);
      assert.equal(await redis.cli(["HEXISTS", `${base}:conns`, "dead.1"]), "0");

      // A store that closes removes its connections: alice keeps b's, bob leaves with b.
      await a.close();
      await b.remove("r", "b.1");
      await eventually("alice leaves with her last connection", () => seen.includes("leave:r:alice"));
      assert.deepEqual((await b.members("r")).users.map((u) => u.user), ["bob"]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
