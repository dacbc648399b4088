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
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";

const CHROMIUM = "/usr/bin/chromium";
const STEP_MS = 15_000;

/** Installs Chromium when missing; the reason to skip when it cannot be. */
function browserUnavailable(): string | false {
  const script = fileURLToPath(new URL("../../scripts/setup_browser.sh", import.meta.url));
  const setup = spawnSync("bash", [script], { encoding: "utf8", timeout: 600_000 });
  if (setup.status === 0) return false;
  return `Chromium cannot be installed: ${
    (setup.stderr || setup.error?.message || "").trim().split("\n").at(-1)
  }`;
}
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
  let context: BrowserContext;
  let profile: string;

  before(async () => {
    relay = await startRelay(["--deflate"]);
    profile = await mkdtemp(join(tmpdir(), "edge-relay-chromium-deflate-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_MS,
      // The relay's own /healthz stands in for a page of its origin; its `default-src 'none'` CSP would
      // forbid the WebSocket, and CSP is not what is under test.
      bypassCSP: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context.setDefaultTimeout(STEP_MS);
  });

  after(async () => {
    await context?.close();
    await relay?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("negotiates permessage-deflate with Chromium's own offer and carries a compressed chat intact", async () => {
    const page = await context.newPage();
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
