/**
 * The process contract: flags, the `listening on` line, exit codes, graceful shutdown.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runtimeCommand, startRelay } from "../support/relay_process.ts";
import { TestSocket, within } from "../support/ws_client.ts";
import { spawnSync } from "node:child_process";

function runRelay(args: string[], env: Record<string, string> = {}) {
  const [cmd, ...rest] = runtimeCommand();
  return spawnSync(cmd, [...rest, ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
}

describe("the relay process", () => {
  it("exits 2 with one line naming an invalid flag or value", () => {
    for (
      const [args, env, flag] of [
        [["--port", "http"], {}, "--port"],
        [["--no-such-flag"], {}, "--no-such-flag"],
        [["--max-message-bytes", "lots"], {}, "--max-message-bytes"],
        [[], { RELAY_PING_INTERVAL: "often" }, "RELAY_PING_INTERVAL"],
      ] as [string[], Record<string, string>, string][]
    ) {
      const result = runRelay(args, env);
      assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.ok(lines[0].includes(flag), lines[0]);
    }
  });

  it("prints the real port for --port 0 and serves on it", async () => {
    const relay = await startRelay();
    assert.notEqual(relay.port, 0);
    assert.match(
      relay.output(),
      new RegExp(`edge-relay listening on http://127\\.0\\.0\\.1:${relay.port}\\n`),
    );
    assert.equal((await fetch(`${relay.url}/healthz`)).status, 200);
    await relay.stop();
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} closes WebSockets with 1001, finishes an in-flight upload, and exits 0`, async () => {
      const relay = await startRelay();
      const socket = await TestSocket.open(`${relay.wsUrl}/ws/shutdown`);
      // An HTTP request whose body is still arriving when the signal comes.
      const { connect } = await import("node:net");
      const client = connect({ host: "127.0.0.1", port: relay.port });
      await new Promise((resolve) => client.once("connect", resolve));
      let response = "";
      client.on("data", (chunk) => response += chunk.toString());
      const closed = new Promise((resolve) => client.on("close", resolve));
      client.write(
        "POST /channels/shutdown/messages HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" +
          "Content-Length: 10\r\n\r\nhello",
      );
      await new Promise((r) => setTimeout(r, 100));
      const stopped = relay.stop(signal);
      const close = await within(5000, "close", socket.closed);
      assert.equal(close.code, 1001);
      client.write("world");
      assert.equal(await within(10_000, "exit", stopped), 0);
      await within(5000, "client close", closed);
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.match(response, /connection: close/i);
    });
  }
});

describe("--ping-interval", () => {
  it("drops a peer that stops answering pings and keeps one that answers", async () => {
    const relay = await startRelay(["--ping-interval", "500ms"]);
    try {
      const { RawWebSocket } = await import("../support/raw_ws.ts");
      const silent = await RawWebSocket.connect(relay.port, "/ws/heartbeat");
      assert.equal(silent.status, 101);
      const polite = await TestSocket.open(`${relay.wsUrl}/ws/heartbeat`);
      const dropped = new Promise<void>((resolve) => silent.socket.once("close", () => resolve()));
      await within(5000, "the silent peer dropped", dropped);
      // The built-in client answered every ping: still connected and served.
      polite.ws.send("alive");
      assert.deepEqual(await polite.next(), { type: "text", data: "alive" });
      polite.close();
    } finally {
      await relay.stop();
    }
  });
});
