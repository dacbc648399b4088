/**
 * SqliteBroker on real files in a temporary directory: the broker contract as the memory broker keeps it,
 * acknowledgement after commit, what survives a restart (seq, epoch, history, trimming), and the faults
 * (full database, locked, corrupt or unopenable file).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  BrokerFullError,
  type BrokerListener,
  type ChannelMessage,
  ChannelRegistry,
  recover,
  SqliteBroker,
  type SqliteBrokerOptions,
  SqliteOpenError,
} from "../../../src/pubsub/mod.ts";
import { RecordingSubscriber } from "../../support/fake_broker.ts";

const dir = mkdtempSync(join(tmpdir(), "sqlite-broker-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `relay-${files++}.db`);
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A listener that records what reaches it. */
function recorder(): BrokerListener & { messages: ChannelMessage[] } {
  const messages: ChannelMessage[] = [];
  return { messages, message: (m) => void messages.push(m), epochChanged() {} };
}

/** A clock tests move by hand. */
function clock(start = 1_000_000) {
  const c = { now: start, read: () => c.now };
  return c;
}

function open(path: string, options: Omit<SqliteBrokerOptions, "path"> = {}): SqliteBroker {
  return new SqliteBroker({ path, ...options });
}

/** Rows of the file as another reader sees them (after the broker closed). */
function rowsOf(path: string): { channel: string; seq: number }[] {
  const db = new DatabaseSync(path);
  try {
    return (db.prepare("SELECT channel, seq FROM messages ORDER BY channel, seq").all() as {
      channel: string;
      seq: number;
    }[]).map(({ channel, seq }) => ({ channel, seq }));
  } finally {
    db.close();
  }
}

describe("SqliteBroker publish", () => {
  it("numbers each channel from 1 and acknowledges only once the batch is committed", async () => {
    const broker = open(freshPath());
    const acks = ["a", "a", "b", "a", "b"].map((c) => broker.publish(c, "x"));
    // Nothing is visible before the commit: neither state nor history report an unstored message.
    assert.equal(broker.state("a").seq, 0);
    assert.deepEqual(broker.history("a").messages, []);
    assert.deepEqual((await Promise.all(acks)).map((m) => m.seq), [1, 2, 1, 3, 2]);
    assert.equal(broker.state("a").seq, 3);
    assert.equal(broker.state("b").seq, 2);
    broker.close();
  });

  it("delivers after the commit, in seq order, the same object every listener gets and the ack resolves to", async () => {
    const broker = open(freshPath());
    const first = recorder();
    const second = recorder();
    broker.subscribe("c", first);
    broker.subscribe("c", second);
    const pending = [broker.publish("c", "one"), broker.publish("c", new Uint8Array([0, 255]))];
    assert.equal(first.messages.length, 0, "not delivered before it is stored");
    const [one, two] = await Promise.all(pending);
    assert.deepEqual(first.messages, [one, two]);
    assert.equal(second.messages[0], one);
    assert.deepEqual(two.data, new Uint8Array([0, 255]));
    broker.close();
  });

  it("gives a publish made from inside a delivery the next seq, delivered after the current one", async () => {
    const broker = open(freshPath());
    let pong: Promise<ChannelMessage> | undefined;
    broker.subscribe("c", {
      message: (m) => void (m.data === "ping" && (pong = broker.publish("c", "pong"))),
      epochChanged() {},
    });
    const later = recorder();
    broker.subscribe("c", later);
    await broker.publish("c", "ping");
    assert.equal((await pong!).seq, 2);
    assert.deepEqual(later.messages.map((m) => [m.seq, m.data]), [[1, "ping"], [2, "pong"]]);
    broker.close();
  });

  it("serves a registry join with replay like any broker", async () => {
    const broker = open(freshPath());
    await Promise.all([1, 2, 3].map((i) => broker.publish("c", `m${i}`)));
    const registry = new ChannelRegistry(broker);
    const subscriber = new RecordingSubscriber();
    const { epoch } = broker.state("c");
    await registry.join("c", subscriber, { since: 1, epoch });
    await broker.publish("c", "m4");
    assert.equal(subscriber.states[0].recovered, true);
    assert.deepEqual(subscriber.seqs, [2, 3, 4]);
    broker.close();
  });

  it("refuses a message larger than the history budget and a new channel past the cap, storing nothing", async () => {
    const broker = open(freshPath(), { maxHistoryBytes: 1000, maxChannels: 1 });
    await assert.rejects(broker.publish("a", "x".repeat(1000)), BrokerFullError);
    broker.subscribe("a", recorder());
    await assert.rejects(
      broker.publish("b", "x"),
      (e: unknown) => e instanceof BrokerFullError && e.limit === "maxChannels",
    );
    assert.equal((await broker.publish("a", "fits")).seq, 1);
    broker.close();
  });
});

describe("SqliteBroker across a restart", () => {
  it("keeps seq, epoch and history: a resume gets exactly what it missed and the next publish the next seq", async () => {
    const path = freshPath();
    const before = open(path);
    for (const text of ["a", "b", "c", "d"]) await before.publish("news", text);
    const epoch = before.state("news").epoch;
    before.close();

    const after = open(path);
    assert.deepEqual(after.state("news"), { seq: 4, epoch });
    const resumed = await recover(after, "news", 2, epoch);
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.messages.map((m) => [m.seq, m.data, m.epoch]), [[3, "c", epoch], [
      4,
      "d",
      epoch,
    ]]);
    assert.equal((await after.publish("news", "e")).seq, 5);
    after.close();
  });

  it("keeps binary as bytes and text as text", async () => {
    const path = freshPath();
    const before = open(path);
    await before.publish("c", new Uint8Array([1, 2, 3]));
    await before.publish("c", "héllo 🙂");
    before.close();
    const after = open(path);
    assert.deepEqual(after.history("c").messages.map((m) => m.data), [new Uint8Array([1, 2, 3]), "héllo 🙂"]);
    after.close();
  });

  it("trims by size in the file too, and applies a smaller history size to what was stored", async () => {
    const path = freshPath();
    const before = open(path, { historySize: 3 });
    for (let i = 1; i <= 5; i++) await before.publish("c", `m${i}`);
    before.close();
    assert.deepEqual(rowsOf(path).map((r) => r.seq), [3, 4, 5]);

    const smaller = open(path, { historySize: 2 });
    assert.deepEqual(smaller.history("c").messages.map((m) => m.seq), [4, 5]);
    assert.equal((await recover(smaller, "c", 3, smaller.state("c").epoch)).recovered, true);
    assert.equal((await recover(smaller, "c", 2, smaller.state("c").epoch)).recovered, false);
    smaller.close();
    assert.deepEqual(rowsOf(path).map((r) => r.seq), [4, 5]);
  });

  it("expires history by TTL across the restart, keeping the seq", async () => {
    const path = freshPath();
    const t = clock();
    const before = open(path, { historyTtlMs: 10_000, now: t.read });
    await before.publish("c", "old");
    t.now += 6_000;
    await before.publish("c", "new");
    before.close();

    t.now += 5_000; // "old" is 11 s old, "new" 5 s
    const after = open(path, { historyTtlMs: 10_000, now: t.read });
    assert.deepEqual(after.history("c").messages.map((m) => m.data), ["new"]);
    assert.equal(after.state("c").seq, 2);
    after.close();
    assert.deepEqual(rowsOf(path).map((r) => r.seq), [2]);
  });

  it("keeps the history budget across the restart, evicting the least recently active channel first", async () => {
    const path = freshPath();
    const before = open(path, { maxHistoryBytes: 100_000 });
    await before.publish("old", "x".repeat(10_000));
    await before.publish("new", "y".repeat(10_000));
    before.close();
    // Each message is charged 20,160 bytes; a budget for one keeps the newer channel's.
    const after = open(path, { maxHistoryBytes: 30_000 });
    assert.equal(after.history("old").messages.length, 0);
    assert.equal(after.history("new").messages.length, 1);
    assert.ok(after.stats().retainedBytes <= 30_000);
    after.close();
  });

  it("forgets a reclaimed channel in the file: it comes back in a new epoch from seq 1", async () => {
    const path = freshPath();
    const t = clock();
    const before = open(path, { historyTtlMs: 1_000, now: t.read });
    await before.publish("c", "x");
    const epoch = before.state("c").epoch;
    t.now += 2_000;
    assert.equal(before.sweep(), 1);
    await turn();
    before.close();
    assert.deepEqual(rowsOf(path), []);
    const after = open(path, { historyTtlMs: 1_000, now: t.read });
    assert.equal(after.state("c").seq, 0);
    const again = await after.publish("c", "y");
    assert.equal(again.seq, 1);
    assert.notEqual(again.epoch, epoch);
    after.close();
  });

  it("acknowledges what is queued when closed", async () => {
    const path = freshPath();
    const broker = open(path);
    const pending = broker.publish("c", "last words");
    broker.close();
    assert.equal((await pending).seq, 1);
    assert.deepEqual(rowsOf(path), [{ channel: "c", seq: 1 }]);
  });
});

describe("SqliteBroker faults", () => {
  it("on a full database refuses the whole batch, delivers none of it, and is not ready", async () => {
    const changes: boolean[] = [];
    const broker = open(freshPath(), {
      maxDatabaseBytes: 64 * 1024,
      onReadyChange: (ready) => void changes.push(ready),
    });
    const listener = recorder();
    broker.subscribe("c", listener);
    let acked = 0;
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        await broker.publish("c", "x".repeat(4000));
        acked++;
      } catch (error) {
        refused = error;
      }
    }
    assert.ok(refused instanceof Error && /not stored/.test(refused.message), String(refused));
    assert.ok(acked > 0);
    assert.equal(broker.ready(), false);
    assert.deepEqual(changes, [false]);
    // Nothing unacknowledged was delivered or numbered: the next seq is handed out again.
    assert.equal(listener.messages.length, acked);
    assert.equal(broker.state("c").seq, acked);
    broker.close();
  });

  it("refuses a second broker on a file another one holds, naming the path", () => {
    const path = freshPath();
    const holder = open(path);
    assert.throws(
      () => open(path),
      (e: unknown) => e instanceof SqliteOpenError && e.message.includes(path) && /in use/.test(e.message),
    );
    holder.close();
    open(path).close(); // free again once closed
  });

  it("refuses a file that is not a SQLite database, naming the path", () => {
    const path = freshPath();
    writeFileSync(path, "this is not a database ".repeat(100));
    assert.throws(
      () => open(path),
      (e: unknown) =>
        e instanceof SqliteOpenError && e.message.includes(path) && /not a usable/.test(e.message),
    );
  });

  it("refuses a path it cannot create, naming it", () => {
    const path = join(dir, "missing-directory", "relay.db");
    assert.throws(() => open(path), (e: unknown) => e instanceof SqliteOpenError && e.message.includes(path));
  });
});
