import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, type LogLevel } from "../../src/observability/mod.ts";

function capture(options: { format?: "json" | "text"; level?: LogLevel } = {}) {
  const lines: string[] = [];
  const log = createLogger({
    ...options,
    write: (line) => lines.push(line),
    now: () => Date.UTC(2026, 0, 2),
  });
  return { log, lines };
}

describe("createLogger", () => {
  it("writes one JSON object per line with time, level, message and the fields", () => {
    const { log, lines } = capture({ format: "json" });
    log.warn("upgrade refused", { reason: "origin", remote: "203.0.113.9", port: 8080 });
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]), {
      time: "2026-01-02T00:00:00.000Z",
      level: "warn",
      message: "upgrade refused",
      reason: "origin",
      remote: "203.0.113.9",
      port: 8080,
    });
  });

  it("drops lines below the level, and says which levels are on", () => {
    const { log, lines } = capture({ level: "warn" });
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    assert.equal(lines.length, 2);
    assert.equal(log.enabled("info"), false);
    assert.equal(log.enabled("error"), true);
  });

  it("writes text lines with the edge-relay prefix after a timestamp, fields as key=value", () => {
    const { log, lines } = capture();
    log.info("listening", { url: "http://127.0.0.1:1" });
    log.warn("no --jwt-secret", { detail: "anyone can publish" });
    assert.deepEqual(lines, [
      "2026-01-02T00:00:00.000Z edge-relay: listening url=http://127.0.0.1:1",
      '2026-01-02T00:00:00.000Z edge-relay: warning: no --jwt-secret detail="anyone can publish"',
    ]);
  });

  it("never writes a field named like a credential, and reduces an error to its name and message", () => {
    const { log, lines } = capture({ format: "json" });
    log.error("failed", { token: "eyJ.secret.sig", Authorization: "Bearer x", error: new TypeError("boom") });
    const line = JSON.parse(lines[0]);
    assert.equal(line.token, "[redacted]");
    assert.equal(line.Authorization, "[redacted]");
    assert.equal(line.error, "TypeError: boom");
    assert.ok(!lines[0].includes("eyJ.secret.sig"));
  });

  it("keeps time, level and message from being overridden by a field", () => {
    const { log, lines } = capture({ format: "json" });
    log.info("real", { message: "fake", level: "error", time: "then" });
    assert.deepEqual(JSON.parse(lines[0]), {
      time: "2026-01-02T00:00:00.000Z",
      level: "info",
      message: "real",
    });
  });

  it("adds a child's fields to each of its lines", () => {
    const { log, lines } = capture({ format: "json" });
    log.child({ component: "broker" }).warn("down", { detail: "x" });
    assert.deepEqual(JSON.parse(lines[0]).component, "broker");
  });
});
