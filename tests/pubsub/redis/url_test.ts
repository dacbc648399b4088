import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseRedisUrl } from "../../../src/pubsub/mod.ts";

describe("parseRedisUrl", () => {
  it("reads host, port, TLS, credentials and database from a redis:// or rediss:// URL", () => {
    assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6380"), {
      host: "127.0.0.1",
      port: 6380,
      tls: false,
      db: 0,
    });
    assert.deepEqual(parseRedisUrl("redis://cache.internal"), {
      host: "cache.internal",
      port: 6379,
      tls: false,
      db: 0,
    });
    assert.deepEqual(parseRedisUrl("rediss://relay:p%40ss@[::1]:6390/2"), {
      host: "::1",
      port: 6390,
      tls: true,
      db: 2,
      username: "relay",
      password: "p@ss",
    });
  });

  it("rejects what is not a Redis address, saying why", () => {
    const cases: [string, RegExp][] = [
      ["memory2", /not a URL/],
      ["http://127.0.0.1:6379", /scheme/],
      ["nats://127.0.0.1:4222", /scheme/],
      ["redis://", /no host/],
      ["redis://127.0.0.1:6379/cache", /database number/],
      ["redis://127.0.0.1:6379?db=1", /query/],
      ["redis://127.0.0.1:99999", /not a URL/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parseRedisUrl(text), pattern, text);
  });
});
