/**
 * The first hour (issue 14, item 5), black-box on the relay's runtime: `--version`; `--help` defaults in the
 * units the flags take; errors that name the flag, the file or the port; the start-up policy line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { parseDuration } from "../../src/config.ts";
import { runtimeCommand, startRelay } from "../support/relay_process.ts";

function runRelay(args: string[]) {
  const [cmd, ...rest] = runtimeCommand();
  return spawnSync(cmd, [...rest, ...args], { env: process.env, encoding: "utf8", timeout: 20_000 });
}

describe("the first hour", () => {
  it("prints the version and the runtime with --version", () => {
    const result = runRelay(["--version"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^edge-relay \d+\.\d+\.\d+ \((deno|bun) [\d.]+\)\n$/);
  });

  it("prints each duration default with a unit that means the same when copied back", () => {
    const result = runRelay(["--help"]);
    assert.equal(result.status, 0);
    for (
      const [flag, ms] of [["history-ttl", 300_000], ["ping-interval", 30_000], ["drain-timeout", 10_000]]
    ) {
      const line = result.stdout.split("\n").find((l) => l.includes(`--${flag} `))!;
      const shown = /\(default ([^;]+);/.exec(line)![1];
      assert.equal(parseDuration(shown), ms, `--${flag} shows ${shown}`);
    }
    assert.match(result.stdout, /--max-history-bytes .*\(default 64MiB;/);
    assert.match(result.stdout, /--allowed-origins .*\(default empty;/);
    assert.match(result.stdout, /durations: a unit \(500ms, 30s/);
  });

  it("names the address and the flags when the port is taken, and exits 1", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const result = runRelay(["--host", "127.0.0.1", "--port", String(port)]);
      assert.equal(result.status, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(--host, --port\\): .*in use`),
      );
    } finally {
      server.close();
    }
  });

  it("names the flag and the file of a missing certificate, and exits 1", () => {
    const result = runRelay([
      "--port",
      "0",
      "--tls-cert",
      "/nonexistent/cert.pem",
      "--tls-key",
      "/nonexistent/key.pem",
    ]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /--tls-cert: cannot read \/nonexistent\/cert\.pem/);
  });

  it("says at start which policy is in force: origins, auth, broker and the limits changed", async () => {
    const relay = await startRelay([
      "--allowed-origins",
      "http://localhost:3000",
      "--max-queued-bytes",
      "64KiB",
    ]);
    try {
      const line = relay.output().split("\n").find((l) => l.includes("edge-relay: policy"));
      assert.ok(line, relay.output());
      assert.match(line, /origins=http:\/\/localhost:3000/);
      assert.match(line, /auth=off/);
      assert.match(line, /broker=memory/);
      assert.match(line, /max-queued-bytes=64KiB/);
      assert.doesNotMatch(line, /max-message-bytes/, "a default is not repeated");
    } finally {
      await relay.stop();
    }
  });
});
