import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, envName, parseConfig, parseDuration, parseSize } from "../src/config.ts";

describe("parseConfig", () => {
  it("uses the contract's defaults", () => {
    const c = parseConfig([], {});
    assert.equal(c.port, 8080);
    assert.equal(c.host, "0.0.0.0");
    assert.equal(c.maxMessageBytes, 1048576);
    assert.equal(c.maxQueuedBytes, 1048576);
    assert.equal(c.historySize, 100);
    assert.equal(c.historyTtlMs, 300_000);
    assert.equal(c.pingIntervalMs, 30_000);
    assert.equal(c.maxChannelsPerConnection, 128);
    assert.equal(c.maxConnections, 100_000);
    assert.equal(c.maxConnectionsPerIp, 1024);
    assert.deepEqual(c.allowedOrigins, []);
    assert.equal(c.requireOrigin, false);
    assert.equal(c.broker, "memory");
    assert.equal(c.maxHistoryBytes, 64 * 1024 * 1024);
    assert.equal(c.maxChannels, 100_000);
  });

  it("reads --max-history-bytes as a size and --max-channels as a count, from flags or RELAY_*", () => {
    const c = parseConfig(["--max-history-bytes", "8MiB", "--max-channels=500"], {});
    assert.equal(c.maxHistoryBytes, 8 * 1024 * 1024);
    assert.equal(c.maxChannels, 500);
    const e = parseConfig([], { RELAY_MAX_HISTORY_BYTES: "1000000", RELAY_MAX_CHANNELS: "7" });
    assert.equal(e.maxHistoryBytes, 1_000_000);
    assert.equal(e.maxChannels, 7);
  });

  it("refuses a zero or malformed history budget or channel cap, naming the flag", () => {
    for (
      const [args, flag] of [
        [["--max-history-bytes", "0"], "--max-history-bytes"],
        [["--max-history-bytes", "lots"], "--max-history-bytes"],
        [["--max-channels", "0"], "--max-channels"],
        [["--max-channels", "1.5"], "--max-channels"],
      ] as const
    ) {
      assert.throws(
        () => parseConfig(args, {}),
        (e) => e instanceof ConfigError && e.message.startsWith(flag),
      );
    }
    assert.throws(
      () => parseConfig([], { RELAY_MAX_CHANNELS: "-1" }),
      (e) => e instanceof ConfigError && e.message.startsWith("RELAY_MAX_CHANNELS"),
    );
  });

  it("reads --flag value, --flag=value and bare booleans", () => {
    const c = parseConfig(["--port", "0", "--host=127.0.0.1", "--require-origin", "--history-ttl", "5m"], {});
    assert.equal(c.port, 0);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.requireOrigin, true);
    assert.equal(c.historyTtlMs, 300_000);
  });

  it("ignores a bare -- separator", () => {
    assert.equal(parseConfig(["--", "--port", "9"], {}).port, 9);
  });

  it("reads RELAY_* variables, and a flag wins over its variable", () => {
    assert.equal(envName("max-message-bytes"), "RELAY_MAX_MESSAGE_BYTES");
    const env = {
      RELAY_PORT: "9000",
      RELAY_MAX_MESSAGE_BYTES: "20MB",
      RELAY_ALLOWED_ORIGINS: "https://a.example, http://b.example:8080",
    };
    const c = parseConfig([], env);
    assert.equal(c.port, 9000);
    assert.equal(c.maxMessageBytes, 20_000_000);
    assert.deepEqual(c.allowedOrigins, ["https://a.example", "http://b.example:8080"]);
    assert.equal(parseConfig(["--port", "1234"], env).port, 1234);
  });

  it("names the flag of an invalid value or unknown flag", () => {
    const cases: [string[], RegExp][] = [
      [["--port", "70000"], /--port/],
      [["--port", "abc"], /--port/],
      [["--max-message-bytes", "-1"], /--max-message-bytes/],
      [["--ping-interval", "soon"], /--ping-interval/],
      [["--bogus", "1"], /--bogus/],
      [["--port"], /--port needs a value/],
      [["--tls-cert", "c.pem"], /--tls-cert and --tls-key/],
      [["--allowed-origins", "https://a.example/path"], /--allowed-origins/],
      [["--broker", "nats://127.0.0.1:4222"], /--broker/],
      [["--jwt-secret", "s"], /--jwt-secret/],
      [["stray"], /stray/],
    ];
    for (const [args, pattern] of cases) {
      assert.throws(
        () => parseConfig(args, {}),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
        args.join(" "),
      );
    }
    assert.throws(() => parseConfig([], { RELAY_PORT: "x" }), /RELAY_PORT/);
  });

  it("does not treat inherited object keys as flags", () => {
    assert.throws(() => parseConfig(["--__proto__", "1"], {}), /unknown flag/);
    assert.throws(() => parseConfig(["--constructor", "1"], {}), /unknown flag/);
  });
});

describe("sizes and durations", () => {
  it("parses sizes with units", () => {
    assert.equal(parseSize("1048576"), 1048576);
    assert.equal(parseSize("64KiB"), 65536);
    assert.equal(parseSize("1MiB"), 1048576);
    assert.equal(parseSize("20MB"), 20_000_000);
    assert.equal(parseSize("1.5MB"), null);
    assert.equal(parseSize("12parsecs"), null);
  });

  it("parses durations, a bare number being seconds", () => {
    assert.equal(parseDuration("30"), 30_000);
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("5m"), 300_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("-1s"), null);
  });
});
