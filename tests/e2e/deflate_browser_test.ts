/**
 * permessage-deflate with a real browser: headless Chromium (Debian's, driven by playwright-core) opens two
 * WebSockets from a page of the relay's own origin to a relay started with `--deflate`. Its real offer
 * (`permessage-deflate; client_max_window_bits`) is accepted, `ws.extensions` shows the agreement, and a chat
 * of compressible messages above the threshold (compressed by Chromium on the way in and by the relay on the
 * way out) arrives intact at the other socket.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { browserUnavailable, type ChromiumContext, launchChromiumContext } from "../support/chromium.ts";

const STEP_MS = 15_000;

const skip = browserUnavailable();

/** Runs in the page: two sockets on one channel; `a` sends the chat, `b` collects it. */
const CHAT = `async (url) => {
  const open = (u) => new Promise((resolve, reject) => {
    const ws = new WebSocket(u);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("websocket error"));
  });
  const a = await open(url);
  const b = await open(url);
  const lines = Array.from({ length: 20 }, (_, i) =>
    JSON.stringify({ user: "user" + i, text: "a chat message that compresses well ".repeat(40 + i), i }));
  const received = [];
  const done = new Promise((resolve) => {
    b.onmessage = (e) => { received.push(e.data); if (received.length === lines.length) resolve(); };
  });
  for (const line of lines) a.send(line);
  await done;
  const result = { a: a.extensions, b: b.extensions, same: received.every((r, i) => r === lines[i]), n: received.length };
  a.close(1000);
  b.close(1000);
  return result;
}`;

describe("permessage-deflate in headless Chromium", { skip }, () => {
  let relay: RelayProcess;
  let chromium: ChromiumContext;

  before(async () => {
    relay = await startRelay(["--deflate"]);
    chromium = await launchChromiumContext(STEP_MS, {
      profilePrefix: "edge-relay-chromium-deflate-",
      // The relay's own /healthz stands in for a page of its origin; its `default-src 'none'` CSP would
      // forbid the WebSocket, and CSP is not what is under test.
      bypassCSP: true,
    });
  });

  after(async () => {
    await chromium?.close();
    await relay?.stop();
  });

  it("negotiates permessage-deflate with Chromium's own offer and carries a compressed chat intact", async () => {
    const page = await chromium.context.newPage();
    try {
      await page.goto(`${relay.url}/healthz`);
      const result = await page.evaluate(`(${CHAT})(${JSON.stringify(`${relay.wsUrl}/ws/browser-chat`)})`);
      const agreed = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
      assert.deepEqual(result, { a: agreed, b: agreed, same: true, n: 20 });
    } finally {
      await page.close();
    }
  });
});
