import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isSqliteSpec, parseSqliteSpec } from "../../../src/pubsub/mod.ts";

describe("parseSqliteSpec", () => {
  it("takes the rest of sqlite:PATH as a file path, relative or absolute", () => {
    assert.equal(parseSqliteSpec("sqlite:relay.db"), "relay.db");
    assert.equal(parseSqliteSpec("sqlite:/var/lib/edge-relay/relay.db"), "/var/lib/edge-relay/relay.db");
  });

  it("refuses an empty path and SQLite's in-memory names, which would keep nothing across a restart", () => {
    for (const spec of ["sqlite:", "sqlite::memory:", "sqlite:file::memory:?cache=shared"]) {
      assert.throws(() => parseSqliteSpec(spec), TypeError, spec);
    }
  });

  it("tells sqlite: specs from the other brokers", () => {
    assert.equal(isSqliteSpec("sqlite:x.db"), true);
    assert.equal(isSqliteSpec("memory"), false);
    assert.equal(isSqliteSpec("redis://127.0.0.1:6379"), false);
  });
});
