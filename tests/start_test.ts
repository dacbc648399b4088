import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../src/config.ts";
import { loadRuntime } from "../src/runtime/mod.ts";
import { startRelay } from "../src/start.ts";

const runtime = await loadRuntime();
const base = parseConfig(["--host", "127.0.0.1", "--port", "0"], {});

/** Files as a map, so no test touches the disk. */
const files = (entries: Record<string, string>) => (path: string) =>
  path in entries ? Promise.resolve(entries[path]) : Promise.reject(new Error(`no such file ${path}`));

describe("startRelay refuses a key it cannot use, naming the flag that configured it", () => {
  it("names --jwt-secret when only the secret is configured", async () => {
    // The flags refuse a short secret before this point; startRelay is also an API, so it must say it too.
    await assert.rejects(
      startRelay({ ...base, jwtSecret: "" }, runtime, files({})),
      /^Error: --jwt-secret: /,
    );
  });

  it("names --jwt-public-key when only the public key is configured", async () => {
    const config = { ...base, jwtPublicKey: "key.pem" };
    await assert.rejects(
      startRelay(config, runtime, files({ "key.pem": "not a PEM" })),
      /^Error: --jwt-public-key: /,
    );
    await assert.rejects(
      startRelay(config, runtime, files({})),
      /^Error: --jwt-public-key: cannot read key\.pem/,
    );
  });
});
