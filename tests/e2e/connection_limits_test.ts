/**
 * `--max-connections` and `--max-connections-per-ip`: past them a new connection gets 503 with `Retry-After`
 * and is closed, while the connections already open keep working.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { startRelay } from "../support/relay_process.ts";
import { TestSocket, within } from "../support/ws_client.ts";

/** Opens a TCP connection and collects what the server sends until it closes. */
async function open(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let received = "";
  socket.on("data", (chunk: Uint8Array) => received += new TextDecoder().decode(chunk));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { socket, text: () => received, closed };
}

for (const flag of ["--max-connections-per-ip", "--max-connections"]) {
  describe(`${flag} 3`, () => {
    it("refuses the fourth connection with 503 and Retry-After, and serves again once one closes", async () => {
      const relay = await startRelay([flag, "3"]);
      try {
        // Three connections held: one WebSocket, two idle TCP connections.
        const ws = await TestSocket.open(`${relay.wsUrl}/ws/limits`);
        const idle = [await open(relay.port), await open(relay.port)];
        const fourth = await open(relay.port);
        fourth.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        await within(5000, "the refusal", fourth.closed);
        assert.match(fourth.text(), /^HTTP\/1\.1 503 /);
        assert.match(fourth.text(), /\r\nretry-after: \d+\r\n/i);
        assert.match(fourth.text(), /\r\nconnection: close\r\n/i);
        // The WebSocket already open still works.
        ws.ws.send("still here");
        assert.deepEqual(await ws.next(), { type: "text", data: "still here" });
        // One leaves: a new connection is served.
        idle[0].socket.destroy();
        await idle[0].closed;
        await new Promise((r) => setTimeout(r, 100));
        const response = await fetch(`${relay.url}/healthz`, { headers: { connection: "close" } });
        assert.equal(response.status, 200);
        await response.body?.cancel();
        ws.close();
        idle[1].socket.destroy();
      } finally {
        await relay.stop();
      }
    });
  });
}

describe("--max-connections-per-ip 2", () => {
  it("holds exactly 2 connections from a client that keeps reconnecting (12 tries), refused ones not released twice", async () => {
    const relay = await startRelay(["--max-connections-per-ip", "2"]);
    const sockets: Awaited<ReturnType<typeof open>>[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const attempt = await open(relay.port);
        sockets.push(attempt);
        // Let the relay answer (503 and close) before the next try, as a reconnecting client would.
        await Promise.race([attempt.closed, new Promise((r) => setTimeout(r, 100))]);
      }
      await new Promise((r) => setTimeout(r, 200));
      const held = sockets.filter((s) => !s.socket.destroyed && s.text() === "");
      assert.equal(held.length, 2, `held ${held.length} of 12`);
      for (const refused of sockets.filter((s) => !held.includes(s))) {
        await within(2000, "a refused connection to close", refused.closed);
        assert.match(refused.text(), /^HTTP\/1\.1 503 /);
      }
    } finally {
      for (const s of sockets) s.socket.destroy();
      await relay.stop();
    }
  });
});
