/**
 * The single binary (`bun build --compile`, as `deno task compile` builds it): built into a temp folder and
 * smoke-tested as a user would run it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { TestSocket } from "../support/ws_client.ts";

// The binary does not depend on the runtime the suite drives the relay with: test it once.
const skip = process.env.RELAY_RUNTIME === "bun" && "the binary is tested in the Deno phase";

describe("the compiled single binary", { skip }, () => {
  let dir: string;
  let relay: RelayProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "edge-relay-bin-"));
    const binary = join(dir, "edge-relay");
    execFileSync("bash", ["scripts/compile.sh"], {
      env: { ...process.env, OUT: binary },
      stdio: "pipe",
      timeout: 120_000,
    });
    relay = await startRelay([], { command: [binary] });
  });

  after(async () => {
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers /healthz", async () => {
    const response = await fetch(`${relay.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok" });
    assert.equal(
      response.headers.get("content-security-policy"),
      "default-src 'none'; frame-ancestors 'none'",
    );
  });

  it("echoes in raw mode and delivers an HTTP publish to a subscriber", async () => {
    const socket = await TestSocket.open(`${relay.wsUrl}/ws/binary-smoke`);
    socket.ws.send("echo me");
    assert.deepEqual(await socket.next(), { type: "text", data: "echo me" });
    const published = await fetch(`${relay.url}/channels/binary-smoke/messages`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "from http",
    });
    assert.equal(published.status, 200);
    assert.deepEqual(await socket.next(), { type: "text", data: "from http" });
    socket.close();
  });

  it("exits 0 on SIGTERM", async () => {
    assert.equal(await relay.stop("SIGTERM"), 0);
  });
});
