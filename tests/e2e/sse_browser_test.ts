/**
 * Server-sent events with a real browser (issue 11): headless Chromium (Debian's, driven by playwright-core)
 * loads a page from a second loopback server (another origin, listed in `--allowed-origins`) whose script opens
 * `new EventSource(relay + "/channels/c/events")`. The relay is stopped (SIGTERM ends the stream with a
 * `retry:` line), messages are published while no relay listens on its port (by a second node on the same
 * Redis, which keeps seq, epoch and history), then a new relay starts on the same port. `EventSource` must
 * reconnect by itself, send the last id it saw as `Last-Event-ID`, be answered `recovered: true` and receive
 * exactly the missed messages (by seq: no gap, no repeat), then live ones.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Every browser step (launch, navigation, waiting for the page's events) is bounded by this. */
const STEP_MS = 15_000;
/** The whole scenario's budget: a reconnect that does not come fails the test well before a suite timeout. */
const SCENARIO_MS = 30_000;

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what: string, condition: () => boolean | Promise<boolean>, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** What the page's `EventSource` reported, in order. */
interface PageEvent {
  /** `open`, `error`, `subscribed` or `message`. */
  type: string;
  /** The event's `lastEventId` (`<epoch>:<seq>`), for `subscribed` and `message`. */
  id?: string;
  /** The event's data, parsed. */
  data?: { type: string; channel: string; seq: number; epoch?: string; recovered?: boolean; text?: string };
  /** `EventSource.readyState` when the event fired (0 connecting, 1 open, 2 closed). */
  state: number;
}

/**
 * The other origin's page: opens an `EventSource` on `?events=` and appends everything it reports to
 * `window.seen`. `EventSource` does the reconnecting itself; the page never reopens it.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>events</title><script>
window.seen = [];
const source = new EventSource(new URLSearchParams(location.search).get("events"));
const record = (type) => (e) => window.seen.push({
  type,
  id: e.lastEventId,
  data: e.data === undefined ? undefined : JSON.parse(e.data),
  state: source.readyState,
});
source.onopen = () => window.seen.push({ type: "open", state: source.readyState });
source.onerror = () => window.seen.push({ type: "error", state: source.readyState });
source.addEventListener("subscribed", record("subscribed"));
source.addEventListener("message", record("message"));
</script>`;

function startPageServer(): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url?.startsWith("/page")) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("EventSource in headless Chromium reconnects by itself and resumes", { skip }, () => {
  let redis: RedisServer;
  let pages: Server;
  let pageOrigin: string;
  /** The node the page reads from (stopped and replaced on the same port by the test). */
  let reader: RelayProcess | undefined;
  /** A second node on the same Redis that publishes while the reader's port is closed. */
  let publisher: RelayProcess;
  let context: BrowserContext;
  let profile: string;

  /** Starts a node on the shared Redis, on `port` (0: any), and waits until its broker is connected. */
  async function startNode(port = 0): Promise<RelayProcess> {
    const node = await startRelay([
      "--broker",
      redis.url,
      "--allowed-origins",
      pageOrigin,
      "--port",
      String(port),
    ]);
    await eventually("node ready", async () => (await fetch(`${node.url}/readyz`)).status === 200);
    return node;
  }

  before(async () => {
    redis = await startRedis();
    pages = await startPageServer();
    pageOrigin = `http://127.0.0.1:${(pages.address() as { port: number }).port}`;
    [reader, publisher] = await Promise.all([startNode(), startNode()]);
    profile = await mkdtemp(join(tmpdir(), "edge-relay-chromium-sse-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_MS,
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
    await Promise.all([reader?.stop(), publisher?.stop()]);
    await new Promise((resolve) => pages ? pages.close(resolve) : resolve(undefined));
    await redis?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function publish(channel: string, text: string): Promise<number> {
    const response = await fetch(`${publisher.url}/channels/${channel}/messages`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: text,
    });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    return body.seq;
  }

  const seen = (page: Page) => page.evaluate(() => (globalThis as unknown as { seen: PageEvent[] }).seen);

  /** Waits until the page reported `count` events of `type`. */
  async function pageSaw(page: Page, type: string, count: number): Promise<void> {
    await page.waitForFunction(
      ([type, count]) =>
        (globalThis as unknown as { seen: PageEvent[] }).seen.filter((e) => e.type === type).length >=
          (count as number),
      [type, count] as const,
    );
  }

  it("after the relay drops the stream, EventSource reconnects with Last-Event-ID and gets exactly the missed messages", async () => {
    const started = Date.now();
    const channel = `browser-${Date.now().toString(36)}`;
    const port = reader!.port;
    const eventsUrl = `http://127.0.0.1:${port}/channels/${channel}/events`;
    const page = await context.newPage();
    // What Chromium really sent: the headers of each request of the event stream.
    const requests: Record<string, string>[] = [];
    page.on("request", (request) => {
      if (request.url() === eventsUrl) request.allHeaders().then((headers) => requests.push(headers));
    });
    try {
      await page.goto(`${pageOrigin}/page?events=${encodeURIComponent(eventsUrl)}`);
      await pageSaw(page, "subscribed", 1);
      const before = [
        await publish(channel, "one"),
        await publish(channel, "two"),
        await publish(channel, "three"),
      ];
      assert.deepEqual(before, [1, 2, 3]);
      await pageSaw(page, "message", 3);

      // The relay goes away: SIGTERM ends the stream (a last retry:, then the end of the body).
      assert.equal(await reader!.stop(), 0);
      reader = undefined;
      await pageSaw(page, "error", 1);
      // Published while nothing listens on the page's port: only a resume can bring these.
      const missed = [
        await publish(channel, "four"),
        await publish(channel, "five"),
        await publish(channel, "six"),
      ];
      assert.deepEqual(missed, [4, 5, 6]);
      // A new relay on the same port and the same Redis (the same seq, epoch and history).
      reader = await startNode(port);
      await pageSaw(page, "subscribed", 2);
      await pageSaw(page, "message", 6);
      assert.equal(await publish(channel, "seven"), 7);
      await pageSaw(page, "message", 7);
      await sleep(100); // a repeat would show up now

      const events = await seen(page);
      const subscribed = events.filter((e) => e.type === "subscribed");
      const messages = events.filter((e) => e.type === "message");
      const epoch = subscribed[0].data!.epoch!;
      assert.deepEqual(
        subscribed.map((e) => [e.data!.seq, e.data!.epoch, e.data!.recovered, e.id]),
        [[0, epoch, false, `${epoch}:0`], [6, epoch, true, `${epoch}:3`]],
        "the reconnect resumed from the last id the page saw (seq 3) and was recovered",
      );
      assert.deepEqual(
        messages.map((e) => [e.data!.seq, e.data!.text, e.id]),
        ["one", "two", "three", "four", "five", "six", "seven"].map((
          text,
          i,
        ) => [i + 1, text, `${epoch}:${i + 1}`]),
        "every message once, in order: no gap, no repeat",
      );
      // The order the page saw: the first stream, its end, the reconnected stream with the replay, live.
      const kinds = events.map((e) => e.type === "message" ? `m${e.data!.seq}` : e.type);
      const reconnect = kinds.indexOf("subscribed", 2);
      assert.deepEqual(kinds.slice(0, 5), ["open", "subscribed", "m1", "m2", "m3"]);
      assert.ok(kinds.slice(5, reconnect).every((k) => k === "error" || k === "open"), kinds.join(" "));
      assert.deepEqual(kinds.slice(reconnect), ["subscribed", "m4", "m5", "m6", "m7"]);
      assert.ok(events.every((e) => e.state !== 2), "EventSource never gave up");

      // Chromium sent the id itself: nothing on the first request, `<epoch>:3` on the one that was answered.
      await eventually("request headers", () => requests.length >= 2);
      assert.equal(requests[0]["last-event-id"], undefined);
      assert.equal(requests.at(-1)!["last-event-id"], `${epoch}:3`);
      assert.ok(Date.now() - started < SCENARIO_MS, `took ${Date.now() - started} ms`);
    } finally {
      await page.close();
    }
  });
});
