/**
 * The publisher of a message in the pub/sub layer: the memory and SQLite brokers keep it with the message and
 * hand it back from history (SQLite: across a restart, and from a version 1 file written before the field
 * existed, which is upgraded in place); the Redis body codec round-trips it and still reads bodies without one.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import { MemoryBroker, SqliteBroker } from "../../src/pubsub/mod.ts";
import { decodeBody, decodePayload, encodeData } from "../../src/pubsub/redis/codec.ts";
import { retainedBytes } from "../../src/pubsub/history_ring.ts";

const dir = mkdtempSync(join(tmpdir(), "relay-publisher-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("MemoryBroker publisher", () => {
  it("keeps the publisher on the message and in history, and adds no field without one", () => {
    const broker = new MemoryBroker();
    const named = broker.publish("room", "hi", "alice");
    const plain = broker.publish("room", "ho");
    assert.equal(named.publisher, "alice");
    assert.equal("publisher" in plain, false);
    const history = broker.history("room") as { messages: { publisher?: string }[] };
    assert.deepEqual(history.messages.map((m) => m.publisher), ["alice", undefined]);
    broker.close();
  });

  it("charges the publisher against the history budget", () => {
    const base = { channel: "c", seq: 1, epoch: "e", data: "x", publishedAt: 0 };
    assert.equal(retainedBytes({ ...base, publisher: "abcd" }) - retainedBytes(base), 8);
  });
});

describe("Redis body codec publisher", () => {
  /** A body as the publish script writes it: `<seq>:<publishedAt>:` then the type argument and the data. */
  const body = (seq: number, data: string | Uint8Array, publisher?: string) => {
    const [flag, value] = encodeData(data, publisher);
    return Buffer.concat([
      Buffer.from(`${seq}:1700000000000:${flag}`),
      Buffer.from(value as string | Buffer),
    ]);
  };

  it("round-trips text and bytes with a publisher, UTF-8 and colons included", () => {
    const text = decodeBody("room", "ep", body(3, "a:b", "ünï:côde"));
    assert.deepEqual(text, {
      channel: "room",
      seq: 3,
      epoch: "ep",
      data: "a:b",
      publishedAt: 1700000000000,
      publisher: "ünï:côde",
    });
    const bytes = decodePayload(
      "room",
      Buffer.concat([Buffer.from("ep:"), body(4, new Uint8Array([0x70, 0x3a]), "bob")]),
    );
    assert.deepEqual(bytes.data, new Uint8Array([0x70, 0x3a]));
    assert.equal(bytes.publisher, "bob");
  });

  it("reads bodies stored without a publisher (the earlier layout) with no field", () => {
    const old = decodeBody("room", "ep", Buffer.from("7:1700000000000:tplain"));
    assert.equal(old.data, "plain");
    assert.equal("publisher" in old, false);
    // Text starting with "p" is still text: the flag is the first byte after the time only.
    assert.equal(decodeBody("room", "ep", body(8, "p5:hello")).data, "p5:hello");
  });

  it("refuses a publisher length that runs past the body", () => {
    assert.throws(() => decodeBody("room", "ep", Buffer.from("1:1:p99:bobtx")), TypeError);
    assert.throws(() => decodeBody("room", "ep", Buffer.from("1:1:px:bobtx")), TypeError);
  });
});

describe("SqliteBroker publisher", () => {
  it("keeps the publisher across a restart", async () => {
    const path = join(dir, "restart.db");
    const first = new SqliteBroker({ path });
    await first.publish("room", "hi", "alice");
    await first.publish("room", new Uint8Array([1, 2]));
    await first.close();
    const second = new SqliteBroker({ path });
    const { messages } = await second.history("room");
    assert.deepEqual(messages.map((m) => m.publisher), ["alice", undefined]);
    assert.equal("publisher" in messages[1], false);
    await second.close();
  });

  it("upgrades a version 1 file in place: its messages read without a publisher, new ones keep theirs", async () => {
    const path = join(dir, "v1.db");
    // A file as a relay before publishers wrote it (schema version 1: messages without the column).
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      CREATE TABLE channels (name TEXT PRIMARY KEY, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
        active_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE messages (channel TEXT NOT NULL, seq INTEGER NOT NULL, published_at INTEGER NOT NULL,
        data NOT NULL);
      CREATE UNIQUE INDEX messages_by_channel ON messages (channel, seq);
      INSERT INTO meta (key, value) VALUES ('schema', 1);
    `);
    const now = Date.now();
    db.prepare("INSERT INTO channels VALUES ('room', 'old-epoch', 1, ?)").run(now);
    db.prepare("INSERT INTO messages VALUES ('room', 1, ?, 'from before')").run(now);
    db.close();

    const broker = new SqliteBroker({ path });
    await broker.publish("room", "after", "alice");
    const { epoch, messages } = await broker.history("room");
    assert.equal(epoch, "old-epoch");
    assert.deepEqual(messages.map((m) => [m.seq, m.data, m.publisher]), [
      [1, "from before", undefined],
      [2, "after", "alice"],
    ]);
    await broker.close();
    const check = new DatabaseSync(path);
    assert.deepEqual({ ...check.prepare("SELECT value FROM meta WHERE key = 'schema'").get() }, { value: 2 });
    check.close();
  });
});
