/**
 * Large answers over a real socket (the runtime adapter we run on): a slow but live reader gets the whole
 * response and a keep-alive connection that is still usable after it, however long past the keep-alive
 * timeout the delivery took; a peer that stops reading is dropped after `sendTimeoutMs`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { HttpServer } from "../../src/http/server.ts";
import type { Listener } from "../../src/runtime/conn.ts";
import { loadRuntime } from "../../src/runtime/mod.ts";
import { until } from "./support.ts";

/** Far more than loopback's kernel buffers hold, so most of it waits in the conn's queue. */
const BIG_BYTES = 40 * 1024 * 1024;
/** The slow reader's pace: BIG_BYTES take about 2.5 s, longer than the keep-alive timeout. */
const READ_BYTES_PER_SECOND = 16 * 1024 * 1024;
/**
 * Longer than reading what loopback's kernel buffers hold (a few MiB) takes: the keep-alive timer starts when
 * the last byte left the server's queue, not when the client read it.
 */
const KEEP_ALIVE_MS = 1500;
const SEND_TIMEOUT_MS = 600;

const runtime = await loadRuntime().catch(() => null);

/** Reads from `socket` at about `rate` bytes/s until `total` bytes arrived (or the server closed). */
function readSlowly(socket: Socket, total: number, rate: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    let windowStart = Date.now();
    let windowBytes = 0;
    const timer = setTimeout(
      () => finish(new Error(`read ${got} of ${total} bytes in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.removeAllListeners("close");
      socket.pause();
      if (error) reject(error);
      else resolve(got);
    };
    socket.on("data", (chunk: Buffer) => {
      got += chunk.length;
      windowBytes += chunk.length;
      if (got >= total) return finish();
      // Stop reading until this window's share of the rate has passed.
      const due = windowStart + (windowBytes / rate) * 1000 - Date.now();
      if (due > 5) {
        socket.pause();
        setTimeout(() => {
          windowStart = Date.now();
          windowBytes = 0;
          socket.resume();
        }, due);
      }
    });
    socket.on("close", () => finish(new Error(`the server closed after ${got} of ${total} bytes`)));
    socket.resume();
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.pause();
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

describe("large responses over a real socket", { skip: runtime === null }, () => {
  let listener: Listener | null = null;
  let server: HttpServer;
  let port = 0;
  const big = new Uint8Array(BIG_BYTES).fill(0x61);

  before(() => {
    server = new HttpServer(
      (request) => new URL(request.url).pathname === "/big" ? new Response(big) : new Response("small"),
      { limits: { keepAliveTimeoutMs: KEEP_ALIVE_MS, sendTimeoutMs: SEND_TIMEOUT_MS } },
    );
    listener = runtime!.listen({ hostname: "127.0.0.1", port: 0, onConn: (conn) => server.serve(conn) });
    port = listener.port;
  });

  after(() => {
    listener?.close();
    server.closeIdle();
  });

  it("a slow reader gets the whole response, and the connection then serves its next request", async () => {
    const socket = await openSocket(port);
    try {
      socket.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
      const started = Date.now();
      const got = await readSlowly(socket, BIG_BYTES + 100, READ_BYTES_PER_SECOND, 10_000);
      assert.ok(got >= BIG_BYTES, `got ${got} bytes`);
      assert.ok(Date.now() - started > 1.5 * KEEP_ALIVE_MS, "the read was not slow: the test proves nothing");
      // Without the fix the keep-alive timer ran from when the response was queued: the connection was gone.
      let text = "";
      socket.setEncoding("latin1");
      const answered = new Promise<string>((resolve, reject) => {
        socket.on("data", (chunk: string) => {
          text += chunk;
          if (text.includes("small")) resolve(text);
        });
        socket.on("close", () => reject(new Error(`closed; got ${JSON.stringify(text.slice(-200))}`)));
        setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(text.slice(-200))}`)), 2000);
      });
      socket.write("GET /small HTTP/1.1\r\nHost: h\r\n\r\n");
      socket.resume();
      assert.match(await answered, /HTTP\/1\.1 200 OK[\s\S]*small$/);
    } finally {
      socket.destroy();
    }
  });

  it("a peer that stops reading is dropped after sendTimeoutMs", async () => {
    // The first test's connection must be gone first: the server's count is what this test watches.
    await until(() => server.connections === 0, 2000);
    const socket = await openSocket(port);
    try {
      socket.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
      const started = Date.now();
      await until(() => server.connections === 1, 2000);
      // A paused socket does not see the reset: the server's own count of connections shows the drop.
      await until(() => server.connections === 0, 5000);
      const ms = Date.now() - started;
      assert.ok(ms >= SEND_TIMEOUT_MS, `dropped after ${ms} ms`);
    } finally {
      socket.destroy();
    }
  });
});
