import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, configFromOptions, FLAGS, optionName, parseConfig } from "../src/config.ts";

/** The message of what `run` throws (a ConfigError), or null. */
function errorOf(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
}

describe("configFromOptions validates every option exactly as its flag", () => {
  it("gives the flags' defaults without options (and reads no RELAY_* variable)", () => {
    assert.deepEqual(configFromOptions({}), parseConfig([], {}));
  });

  it("takes flag text, numbers, booleans and arrays to the same config as the flags", () => {
    const options = configFromOptions({
      port: 0,
      hostname: "127.0.0.1",
      maxQueuedBytes: "256KiB",
      maxMessageBytes: 4096,
      historyTtl: 30,
      pingInterval: "500ms",
      requireOrigin: true,
      allowedOrigins: ["https://a.example", "https://b.example"],
      hookTimeout: "2s",
    });
    const flags = parseConfig([
      "--port=0",
      "--host=127.0.0.1",
      "--max-queued-bytes=256KiB",
      "--max-message-bytes=4096",
      "--history-ttl=30",
      "--ping-interval=500ms",
      "--require-origin",
      "--allowed-origins=https://a.example,https://b.example",
      "--hook-timeout=2s",
    ], {});
    assert.deepEqual(options, flags);
    assert.equal(options.historyTtlMs, 30_000);
  });

  it("refuses each invalid value with the flag's message, naming the option", () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [{ maxQueuedBytes: "lots" }, ["--max-queued-bytes=lots"]],
      [{ port: 70000 }, ["--port=70000"]],
      [{ deflateLevel: 12 }, ["--deflate-level=12"]],
      [{ historyTtl: "soon" }, ["--history-ttl=soon"]],
      [{ requireOrigin: "maybe" }, ["--require-origin=maybe"]],
      [{ host: "a b" }, ["--host=a b"]],
      [{ jwtSecret: "short" }, ["--jwt-secret=short"]],
      [{ broker: "mongodb://x" }, ["--broker=mongodb://x"]],
      [{ allowedOrigins: ["https://A.example/"] }, ["--allowed-origins=https://A.example/"]],
      [{ tlsCert: "c.pem" }, ["--tls-cert=c.pem"]],
    ];
    for (const [options, args] of cases) {
      const fromOptions = errorOf(() => configFromOptions(options));
      const fromFlags = errorOf(() => parseConfig(args, {}));
      assert.ok(fromOptions !== null && fromFlags !== null, JSON.stringify(options));
      // The same message, with the option's name where the flag's was.
      const toOptionNames = (text: string) =>
        text.replace(/--([a-z-]+)/g, (_, flag: string) => optionName(flag));
      assert.equal(fromOptions, toOptionNames(fromFlags), JSON.stringify(options));
    }
  });

  it("refuses an unknown option, both host and hostname, and a value of the wrong type", () => {
    assert.match(errorOf(() => configFromOptions({ maxQueueBytes: 1 }))!, /^unknown option maxQueueBytes/);
    assert.equal(
      errorOf(() => configFromOptions({ host: "::1", hostname: "::1" })),
      "give host or hostname, not both",
    );
    assert.match(errorOf(() => configFromOptions({ port: {} }))!, /^port: expected a string, number/);
  });

  it("has an option for every flag", () => {
    const config = configFromOptions({});
    for (const [flag, spec] of Object.entries(FLAGS)) {
      assert.ok(spec.key in config, flag);
      assert.equal(errorOf(() => configFromOptions({ [optionName(flag)]: undefined })), null, flag);
    }
  });
});
