/**
 * Presence (`--presence`), black-box: real relay processes, the runtime's WebSocket client and fetch. One node
 * (memory: exact and immediate), and two nodes over a private Redis: users on either node see each other, two
 * tabs of one user are one join and one leave, and a node killed with `-9` has its users leave on the other
 * node within the stated bound (`--presence-ttl` × 4/3).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import { TestSocket } from "../support/ws_client.ts";
import { hs256 } from "../support/jwt_mint.ts";

const SECRET = "presence-test-secret-of-at-least-32-bytes!";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let unique = 0;
const room = () => `room:${Date.now().toString(36)}-${unique++}`;

const token = (sub: string) =>
  hs256(
    { sub, relay: { subscribe: ["*"], publish: ["*"] }, exp: Math.floor(Date.now() / 1000) + 600 },
    SECRET,
  );

async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** An envelope client of `sub`, subscribed to `channel`; every frame it gets is kept, parsed. */
class Tab {
  readonly socket: TestSocket;
  constructor(socket: TestSocket) {
    this.socket = socket;
  }
  static async open(node: RelayProcess, sub: string): Promise<Tab> {
    const url = `${node.wsUrl}/ws?token=${encodeURIComponent(await token(sub))}`;
    return new Tab(await TestSocket.open(url, "relay.v1"));
  }
  get frames(): Record<string, unknown>[] {
    return this.socket.messages.map((m) => JSON.parse(m.type === "text" ? m.data : "{}"));
  }
  /** The `join`/`leave` pushes of `channel` so far, as `join:user` / `leave:user`. */
  changes(channel: string): string[] {
    return this.frames.filter((f) => (f.type === "join" || f.type === "leave") && f.channel === channel)
      .map((f) => `${f.type}:${f.user}`);
  }
  async subscribe(channel: string): Promise<Record<string, unknown>> {
    const before = this.frames.length;
    this.socket.sendJson({ type: "subscribe", channel });
    let answer: Record<string, unknown> | undefined;
    await eventually(`an answer to subscribe ${channel}`, () => {
      answer = this.frames.slice(before).find((f) =>
        (f.type === "subscribed" && f.channel === channel) || f.type === "error"
      );
      return answer !== undefined;
    });
    return answer!;
  }
  async presence(channel: string): Promise<Record<string, unknown>> {
    const before = this.frames.length;
    this.socket.sendJson({ type: "presence", channel });
    let answer: Record<string, unknown> | undefined;
    await eventually(`presence of ${channel}`, () => {
      answer = this.frames.slice(before).find((f) => f.type === "presence" || f.type === "error");
      return answer !== undefined;
    });
    return answer!;
  }
  async close(): Promise<void> {
    this.socket.close();
    await this.socket.closed;
  }
}

/** Users and their connection counts, sorted: `alice×2`. */
function roster(presence: Record<string, unknown>): string[] {
  return (presence.users as { user: string; connections: number }[]).map((u) => `${u.user}×${u.connections}`)
    .sort();
}

async function httpPresence(node: RelayProcess, channel: string, sub = "reader") {
  const response = await fetch(`${node.url}/channels/${channel}/presence`, {
    headers: { authorization: `Bearer ${await token(sub)}` },
  });
  return { status: response.status, body: await response.json() as Record<string, unknown> };
}

describe("presence on one node (memory)", { timeout: 30_000 }, () => {
  let node: RelayProcess;
  before(async () => {
    node = await startRelay([
      "--jwt-secret",
      SECRET,
      "--presence",
      "room:*",
      "--presence-max-members",
      "3",
    ]);
  });
  after(async () => {
    await node?.stop();
  });

  it("two tabs of one user: one join, one leave after both close; presence lists users and connections", async () => {
    const channel = room();
    const bob = await Tab.open(node, "bob");
    assert.equal((await bob.subscribe(channel)).type, "subscribed");
    const alice1 = await Tab.open(node, "alice");
    const alice2 = await Tab.open(node, "alice");
    assert.equal((await alice1.subscribe(channel)).type, "subscribed");
    assert.equal((await alice2.subscribe(channel)).type, "subscribed");
    await eventually("bob sees alice join", () => bob.changes(channel).includes("join:alice"));

    const presence = await bob.presence(channel);
    assert.deepEqual(roster(presence), ["alice×2", "bob×1"]);
    assert.equal(presence.clients, 3);
    const http = await httpPresence(node, channel);
    assert.equal(http.status, 200);
    assert.deepEqual(roster(http.body), ["alice×2", "bob×1"]);
    assert.equal(http.body.clients, 3);

    await alice1.close();
    await sleep(100);
    assert.deepEqual(bob.changes(channel), ["join:bob", "join:alice"], "one tab closing is no leave");
    await alice2.close();
    await eventually("bob sees alice leave", () => bob.changes(channel).includes("leave:alice"), 2000);
    assert.deepEqual(bob.changes(channel), ["join:bob", "join:alice", "leave:alice"]);
    assert.deepEqual(roster(await bob.presence(channel)), ["bob×1"]);
    await bob.close();
  });

  it("an unsubscribe leaves; the member cap refuses a new user with presence_full, not a member's tab", async () => {
    const channel = room();
    const tabs = await Promise.all(["u1", "u2", "u3"].map((sub) => Tab.open(node, sub)));
    for (const tab of tabs) assert.equal((await tab.subscribe(channel)).type, "subscribed");
    const u4 = await Tab.open(node, "u4");
    const refused = await u4.subscribe(channel);
    assert.equal(refused.type, "error");
    assert.equal(refused.code, "presence_full");
    assert.match(String(refused.message), /3 users/);
    const u1again = await Tab.open(node, "u1");
    assert.equal(
      (await u1again.subscribe(channel)).type,
      "subscribed",
      "a member's second tab passes the cap",
    );
    assert.equal((await httpPresence(node, channel)).body.clients, 4);

    tabs[2].socket.sendJson({ type: "unsubscribe", channel });
    await eventually("u3 leaves", () => tabs[0].changes(channel).includes("leave:u3"), 2000);
    assert.equal((await u4.subscribe(channel)).type, "subscribed", "room again once a user left");
    for (const tab of [...tabs, u4, u1again]) await tab.close();
  });

  it("a channel outside --presence: presence_off (envelope) and 404 (HTTP); no pushes there", async () => {
    const tab = await Tab.open(node, "alice");
    assert.equal((await tab.subscribe("plain")).type, "subscribed");
    const answer = await tab.presence("plain");
    assert.equal(answer.type, "error");
    assert.equal(answer.code, "presence_off");
    const http = await httpPresence(node, "plain");
    assert.equal(http.status, 404);
    assert.equal(http.body.error, "presence_off");
    assert.deepEqual(tab.changes("plain"), []);
    await tab.close();
  });
});

describe("presence on two nodes over Redis", { timeout: 60_000 }, () => {
  const TTL_MS = 3000;
  /** The stated bound: TTL plus one sweep interval (TTL / 3). */
  const BOUND_MS = TTL_MS + TTL_MS / 3;
  let redis: RedisServer;
  let a: RelayProcess;
  let b: RelayProcess;
  const flags = () => [
    "--broker",
    redis.url,
    "--jwt-secret",
    SECRET,
    "--presence",
    "room:*",
    "--presence-ttl",
    `${TTL_MS}ms`,
  ];
  const ready = async (node: RelayProcess) =>
    await eventually("node ready", async () => (await fetch(`${node.url}/readyz`)).status === 200);

  before(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startRelay(flags()), startRelay(flags())]);
    await Promise.all([ready(a), ready(b)]);
  });
  after(async () => {
    await Promise.all([a?.stop("SIGKILL"), b?.stop()]);
    await redis?.stop();
  });

  it("every node sees every node's users; two tabs on two nodes are one user; kill -9 leaves within the bound", async () => {
    const channel = room();
    const bob = await Tab.open(b, "bob");
    assert.equal((await bob.subscribe(channel)).type, "subscribed");
    // The subscriber of presence events may still be connecting just after /readyz: wait for bob's own join.
    await eventually("bob's own join", () => bob.changes(channel).includes("join:bob"));
    const aliceOnA = await Tab.open(a, "alice");
    const aliceOnB = await Tab.open(b, "alice");
    const carol = await Tab.open(a, "carol");
    for (const tab of [aliceOnA, aliceOnB, carol]) {
      assert.equal((await tab.subscribe(channel)).type, "subscribed");
    }
    await eventually("bob sees alice and carol", () => bob.changes(channel).length === 3);
    assert.deepEqual(bob.changes(channel).sort(), ["join:alice", "join:bob", "join:carol"]);
    await eventually("carol on A sees bob (a user of B) in presence", async () => {
      const p = await carol.presence(channel);
      return roster(p).join() === "alice×2,bob×1,carol×1";
    });
    for (const node of [a, b]) {
      const http = await httpPresence(node, channel);
      assert.deepEqual(roster(http.body), ["alice×2", "bob×1", "carol×1"], `as node ${node.port} lists it`);
      assert.equal(http.body.clients, 4);
    }

    // Node A dies without a word: carol (only on A) must leave; alice keeps her tab on B and stays.
    const killedAt = Date.now();
    await a.stop("SIGKILL");
    await eventually(
      "carol's leave on B",
      () => bob.changes(channel).includes("leave:carol"),
      BOUND_MS + 3000,
    );
    const elapsed = Date.now() - killedAt;
    console.log(`presence: leave ${elapsed} ms after kill -9 (ttl ${TTL_MS} ms, bound ${BOUND_MS} ms)`);
    assert.ok(elapsed <= BOUND_MS + 1000, `left after ${elapsed} ms, bound ${BOUND_MS} ms`);
    assert.ok(!bob.changes(channel).includes("leave:alice"), "alice still has a tab on B");
    const after = await httpPresence(b, channel);
    assert.deepEqual(roster(after.body), ["alice×1", "bob×1"]);

    await aliceOnB.close();
    await eventually(
      "alice leaves with her last tab",
      () => bob.changes(channel).includes("leave:alice"),
      2000,
    );
    await bob.close();
  });
});
