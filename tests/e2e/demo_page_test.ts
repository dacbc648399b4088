/**
 * The demo chat page (`GET /`) in headless Chromium against the real relay: two pages chat over WebSocket; a
 * third, whose WebSocket is refused (`page.routeWebSocket` closes it), falls back to server-sent events and
 * chats with them; `publish()` resolves with each message's seq; markup published by another client shows as
 * text; no console error, uncaught error or CSP violation. A restart of a memory-broker relay (a new epoch)
 * shows the page's "could not be recovered" notice. `--demo off` answers 404 at `/` and still serves
 * `/client.js`. The page also works when served by the compiled binary (`bun build --compile`).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { browserUnavailable, launchChromium, type PageProblems, watchPage } from "../support/chromium.ts";

/** Every browser step (navigation, waiting for the page) is bounded by this. */
const STEP_MS = 15_000;
/** Tries to start a replacement relay on the same port this many times. */
const PORT_ATTEMPTS = 5;

const skip = browserUnavailable();

/**
 * The page's `document`, inside functions that playwright runs in the page (a function, not a string: the
 * page's CSP refuses `eval`, which string predicates use). The tests type-check without the DOM library.
 */
// deno-lint-ignore no-explicit-any
declare const document: any;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the page shows: each message's seq and text, in order. */
function shown(page: Page): Promise<[number, string][]> {
  return page.evaluate(
    `[...document.querySelectorAll("#messages li")].map((li) => [Number(li.dataset.seq), li.childNodes[1]?.textContent ?? ""])`,
  );
}

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? "";
}

/** Types `text` into the page's send box and returns the "sent as #N" seq the page shows. */
async function send(page: Page, text: string): Promise<number> {
  await page.evaluate(() => document.getElementById("sent").textContent = "");
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.waitForFunction(() => document.getElementById("sent").textContent.startsWith("sent as #"));
  return Number((await textOf(page, "#sent")).slice("sent as #".length));
}

async function waitShown(page: Page, count: number): Promise<void> {
  await page.waitForFunction((count) => document.querySelectorAll("#messages li").length >= count, count);
}

async function waitConnected(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById("state").textContent === "connected");
}

async function startOnPort(flags: string[], port: number, command?: string[]): Promise<RelayProcess> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startRelay([...flags, "--port", String(port)], command ? { command } : {});
    } catch (error) {
      if (attempt === PORT_ATTEMPTS) throw error;
      await sleep(200);
    }
  }
}

describe("the demo chat page in headless Chromium", { skip }, () => {
  let browser: Browser;
  const relays: RelayProcess[] = [];

  before(async () => {
    browser = await launchChromium(STEP_MS);
  });

  after(async () => {
    await browser?.close();
    await Promise.all(relays.map((relay) => relay.stop()));
  });

  /** A page in its own context (its own connections), watched for problems. */
  async function openPage(url: string, blockWebSocket = false): Promise<{ page: Page; watch: PageProblems }> {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
    const page = await context.newPage();
    const watch = await watchPage(page);
    if (blockWebSocket) await page.routeWebSocket(/\/ws/, (ws) => ws.close());
    await page.goto(url);
    return { page, watch };
  }

  it("two pages chat over WebSocket, a third over SSE, markup stays text, no CSP violation", async () => {
    const relay = await startRelay([]);
    relays.push(relay);
    const url = `${relay.url}/?channel=room`;
    const head = await fetch(url);
    const csp = head.headers.get("content-security-policy")!;
    await head.body?.cancel();
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce, csp);
    assert.equal(
      csp,
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
        `connect-src 'self' ws://127.0.0.1:${relay.port}; base-uri 'none'; form-action 'none'; ` +
        `frame-ancestors 'none'`,
    );

    const a = await openPage(url);
    const b = await openPage(url);
    const c = await openPage(url, true);
    for (const { page } of [a, b, c]) await waitConnected(page);
    assert.equal(await textOf(a.page, "#transport"), "websocket");
    assert.equal(await textOf(b.page, "#transport"), "websocket");
    assert.equal(await textOf(c.page, "#transport"), "sse");
    assert.equal(await textOf(a.page, "#channel"), "room");

    const markup = '<img src=x onerror="globalThis.pwned=1"><b>bold</b>';
    const seqs = [
      await send(a.page, "hello from A"),
      await send(c.page, "hello from C over SSE"),
      await send(b.page, markup),
    ];
    assert.deepEqual(seqs, [1, 2, 3]);
    const expected: [number, string][] = [[1, "hello from A"], [2, "hello from C over SSE"], [3, markup]];
    for (const { page } of [a, b, c]) {
      await waitShown(page, 3);
      assert.deepEqual(await shown(page), expected);
      assert.equal(await page.evaluate(`document.querySelectorAll("#messages img, #messages b").length`), 0);
      assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);
      assert.equal(await page.isHidden("#notice"), true);
    }
    for (const { watch } of [a, b, c]) assert.deepEqual(watch.problems, []);
  });

  it("shows the recovered:false notice after a memory-broker relay restarts", async () => {
    let relay = await startRelay([]);
    const url = `${relay.url}/?channel=restart`;
    const { page, watch } = await openPage(url);
    try {
      await waitConnected(page);
      assert.equal(await send(page, "before the restart"), 1);
      await waitShown(page, 1);
      const port = relay.port;
      assert.equal(await relay.stop(), 0);
      await page.waitForFunction(() => document.getElementById("state").textContent !== "connected");
      relay = await startOnPort([], port);
      await page.waitForFunction(() => !document.getElementById("notice").hidden);
      assert.match(await textOf(page, "#notice"), /could not be recovered/);
      await waitConnected(page);
      // The new epoch's messages arrive after the notice: seq 1 again, a new history.
      assert.equal(await send(page, "after the restart"), 1);
      await waitShown(page, 2);
      assert.deepEqual(await shown(page), [[1, "before the restart"], [1, "after the restart"]]);
      // Only the browser's own report of the refused reconnects may show up (net::ERR_CONNECTION_REFUSED).
      assert.deepEqual(
        watch.problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket connection/.test(p)),
        [],
      );
    } finally {
      relays.push(relay);
    }
  });

  it("--demo off: / answers 404, /client.js is still served", async () => {
    const relay = await startRelay(["--demo", "off"]);
    relays.push(relay);
    const page = await fetch(`${relay.url}/`);
    assert.equal(page.status, 404);
    await page.body?.cancel();
    const client = await fetch(`${relay.url}/client.js`);
    assert.equal(client.status, 200);
    assert.equal(client.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(await client.text(), /export\{/);
  });

  it("the page works from the compiled binary", {
    skip: process.env.RELAY_RUNTIME === "bun" && "once is enough",
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "edge-relay-demo-bin-"));
    try {
      const binary = join(dir, "edge-relay");
      execFileSync("bash", ["scripts/compile.sh"], { env: { ...process.env, OUT: binary }, stdio: "ignore" });
      const relay = await startRelay([], { command: [binary] });
      relays.push(relay);
      const a = await openPage(`${relay.url}/?channel=bin`);
      const b = await openPage(`${relay.url}/?channel=bin`, true);
      await waitConnected(a.page);
      await waitConnected(b.page);
      assert.equal(await textOf(b.page, "#transport"), "sse");
      assert.equal(await send(b.page, "from the binary"), 1);
      for (const { page } of [a, b]) {
        await waitShown(page, 1);
        assert.deepEqual(await shown(page), [[1, "from the binary"]]);
      }
      for (const { watch } of [a, b]) assert.deepEqual(watch.problems, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
