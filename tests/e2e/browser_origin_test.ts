/**
 * The Origin policy as a real browser meets it: headless Chromium (Debian's, driven by playwright-core)
 * opens `new WebSocket("ws://127.0.0.1:RELAY/ws/…")` from a page served by a second local server (another
 * origin) and from the relay's own origin. Cross-origin is refused (the page sees close 1006, Chromium
 * reports the 403) unless the page's origin is listed in `--allowed-origins`; the own origin is accepted
 * when the list is empty.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { BrowserContext, Page } from "playwright-core";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import {
  browserUnavailable,
  type ChromiumContext,
  launchChromiumContext,
  servePage,
} from "../support/chromium.ts";

/** Every browser step (launch, navigation, a WebSocket attempt) is bounded by this. */
const STEP_MS = 15_000;

const skip = browserUnavailable();

/** What the page saw, in order: `open`, `message:<data>`, `error`, `close:<code>`, or `timeout`. */
type Attempt = string[];

/**
 * Runs in the page: opens a WebSocket, sends `message`, and resolves with the events once it closes. Kept as
 * source text so the served page and `page.evaluate` run the very same code.
 */
const TRY_WEBSOCKET = `function tryWebSocket(url, message, timeoutMs) {
  return new Promise((resolve) => {
    const events = [];
    const ws = new WebSocket(url);
    const timer = setTimeout(() => { events.push("timeout"); resolve(events); ws.close(); }, timeoutMs);
    ws.onopen = () => { events.push("open"); ws.send(message); };
    ws.onmessage = (e) => { events.push("message:" + e.data); ws.close(1000); };
    ws.onerror = () => events.push("error");
    ws.onclose = (e) => { events.push("close:" + e.code); clearTimeout(timer); resolve(events); };
  });
}`;

/** The other origin's page: reads the relay URL from `?ws=` and stores the attempt in `window.attempt`. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>other origin</title><script>
${TRY_WEBSOCKET}
const params = new URLSearchParams(location.search);
tryWebSocket(params.get("ws"), params.get("message"), ${
  STEP_MS - 5000
}).then((events) => window.attempt = events);
</script>`;

describe("Origin policy in headless Chromium", { skip }, () => {
  let pages: Server;
  let pagePort: number;
  let open: RelayProcess;
  let listed: RelayProcess;
  let chromium: ChromiumContext;
  let context: BrowserContext;
  let channel = 0;
  /** Messages Chromium printed to the page console (its WebSocket handshake errors land there). */
  const consoleLines: string[] = [];

  before(async () => {
    pages = await servePage(PAGE);
    pagePort = (pages.address() as { port: number }).port;
    [open, listed] = await Promise.all([
      startRelay(),
      startRelay(["--allowed-origins", `http://127.0.0.1:${pagePort}`]),
    ]);
    chromium = await launchChromiumContext(STEP_MS, {
      profilePrefix: "edge-relay-chromium-",
      // The relay's responses carry `default-src 'none'` (they are data, never documents), which would also
      // forbid the WebSocket from the /healthz "page" that stands in for a same-origin page; the Origin
      // policy, not CSP, is under test here.
      bypassCSP: true,
      args: ["--disable-quic"],
    });
    context = chromium.context;
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([open?.stop(), listed?.stop()]);
    await new Promise((resolve) => pages ? pages.close(resolve) : resolve(undefined));
  });

  async function newPage(): Promise<Page> {
    const page = await context.newPage();
    page.on("console", (message) => consoleLines.push(message.text()));
    return page;
  }

  /** Loads the other origin's page (`pageHost` names it) and returns what its WebSocket attempt saw. */
  async function fromOtherOrigin(
    relay: RelayProcess,
    message: string,
    pageHost = "127.0.0.1",
  ): Promise<Attempt> {
    const page = await newPage();
    try {
      const ws = `ws://127.0.0.1:${relay.port}/ws/browser-${channel++}`;
      await page.goto(
        `http://${pageHost}:${pagePort}/page?ws=${encodeURIComponent(ws)}&message=${
          encodeURIComponent(message)
        }`,
      );
      await page.waitForFunction(() => "attempt" in globalThis);
      return await page.evaluate(() => (globalThis as unknown as { attempt: Attempt }).attempt);
    } finally {
      await page.close();
    }
  }

  /** Navigates to the relay's own `/healthz` (its origin; it serves no HTML) and tries from there. */
  async function fromOwnOrigin(relay: RelayProcess, message: string): Promise<Attempt> {
    const page = await newPage();
    try {
      await page.goto(`${relay.url}/healthz`);
      const ws = `ws://127.0.0.1:${relay.port}/ws/browser-${channel++}`;
      return await page.evaluate(
        `(${TRY_WEBSOCKET})(${JSON.stringify(ws)}, ${JSON.stringify(message)}, ${STEP_MS - 5000})`,
      ) as Attempt;
    } finally {
      await page.close();
    }
  }

  /** A refusal as the page sees it (error, then close 1006) and as Chromium logs it (the 403 status). */
  async function assertRefused(attempt: () => Promise<Attempt>): Promise<void> {
    const before = consoleLines.length;
    assert.deepEqual(await attempt(), ["error", "close:1006"]);
    const logged = consoleLines.slice(before).join("\n");
    assert.match(logged, /\b403\b/, `Chromium did not report a 403: ${logged}`);
  }

  it("refuses a page on another origin when --allowed-origins is empty: close 1006 in the page, 403 from the relay", async () => {
    await assertRefused(() => fromOtherOrigin(open, "cross"));
  });

  it("accepts a page on an origin listed in --allowed-origins and echoes its message", async () => {
    assert.deepEqual(await fromOtherOrigin(listed, "listed"), ["open", "message:listed", "close:1000"]);
  });

  it("compares listed origins exactly: the same page as http://localhost:PORT is refused", async () => {
    await assertRefused(() => fromOtherOrigin(listed, "by another name", "localhost"));
  });

  it("accepts a page on the relay's own origin when --allowed-origins is empty", async () => {
    assert.deepEqual(await fromOwnOrigin(open, "same origin"), ["open", "message:same origin", "close:1000"]);
  });

  it("refuses the relay's own origin when --allowed-origins lists only others", async () => {
    await assertRefused(() => fromOwnOrigin(listed, "own but unlisted"));
  });
});
