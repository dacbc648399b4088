/**
 * Server-sent events with a real browser (issue 11): headless Chromium (Debian's, driven by playwright-core)
 * loads a page from a second loopback server (another origin, listed in `--allowed-origins`) whose script opens
 * `new EventSource(relay + "/channels/c/events")`. The relay is stopped (SIGTERM ends the stream with a
 * `retry:` line), messages are published while no relay listens on its port (by a second node on the same
 * Redis, which keeps seq, epoch and history), then a new relay starts on the same port. `EventSource` must
 * reconnect by itself, send the last id it saw as `Last-Event-ID`, be answered `recovered: true` and receive
 * exactly the missed messages (by seq: no gap, no repeat), then live ones. Once on a one-channel stream (each
 * event carries its id) and once on a many-channel stream (`GET /events?channel=x&channel=y`, whose id-only
 * blocks must set the browser's last event id: one `Last-Event-ID` resumes both channels).
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { BrowserContext, Page } from "playwright-core";
import { publishText, type RelayProcess, startReadyRelay } from "../support/relay_process.ts";
import { type RedisServer, startRedis } from "../support/redis_server.ts";
import {
  browserUnavailable,
  type ChromiumContext,
  launchChromiumContext,
  servePage,
} from "../support/chromium.ts";

/** Every browser step (launch, navigation, waiting for the page's events) is bounded by this. */
const STEP_MS = 15_000;
/** The whole scenario's budget: a reconnect that does not come fails the test well before a suite timeout. */
const SCENARIO_MS = 30_000;

/** Tries to start the replacement relay on the dropped relay's port this many times. */

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

describe("EventSource in headless Chromium reconnects by itself and resumes", { skip }, () => {
  let redis: RedisServer;
  let pages: Server;
  let pageOrigin: string;
  /** The node the page reads from (stopped and replaced on the same port by the test). */
  let reader: RelayProcess | undefined;
  /** A second node on the same Redis that publishes while the reader's port is closed. */
  let publisher: RelayProcess;
  let chromium: ChromiumContext;
  let context: BrowserContext;

  /** A node on the shared Redis, ready; on a fixed port (the replacement of a stopped node) retried a few times. */
  const startNode = (port = 0) =>
    startReadyRelay(["--broker", redis.url, "--allowed-origins", pageOrigin], port);

  before(async () => {
    redis = await startRedis();
    pages = await servePage(PAGE);
    pageOrigin = `http://127.0.0.1:${(pages.address() as { port: number }).port}`;
    [reader, publisher] = await Promise.all([startNode(), startNode()]);
    chromium = await launchChromiumContext(STEP_MS, { profilePrefix: "edge-relay-chromium-sse-" });
    context = chromium.context;
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([reader?.stop(), publisher?.stop()]);
    await new Promise((resolve) => pages ? pages.close(resolve) : resolve(undefined));
    await redis?.stop();
  });

  const publish = (channel: string, text: string) => publishText(publisher, channel, text);

  const seen = (page: Page) => page.evaluate(() => (globalThis as unknown as { seen: PageEvent[] }).seen);

  /** Waits until the page reported `count` events of `type`; on timeout, says what the page did see. */
  async function pageSaw(page: Page, type: string, count: number): Promise<void> {
    try {
      await page.waitForFunction(
        ([type, count]) =>
          (globalThis as unknown as { seen: PageEvent[] }).seen.filter((e) => e.type === type).length >=
            (count as number),
        [type, count] as const,
      );
    } catch (error) {
      const kinds = (await seen(page)).map((e) =>
        e.data === undefined
          ? e.type
          : `${e.type}(${e.data.channel} ${e.data.seq}${
            e.data.recovered === undefined ? "" : ` recovered:${e.data.recovered}`
          })`
      );
      throw new Error(`the page saw ${kinds.join(", ")}; expected ${count} × ${type}`, { cause: error });
    }
  }

  /** The texts of one phase of the scenario, per channel: `<phase><i>` for channel i. */
  const phaseTexts = (phase: string, channels: string[]) => channels.map((_, i) => `${phase}${i}`);

  /**
   * The scenario on `path` (an event stream of `channels`): three messages per channel while the page reads,
   * the relay stopped, three more per channel while nothing listens on its port, a new relay on the port,
   * one live message per channel. Returns what the page saw and the headers of each stream request.
   */
  async function dropAndResume(path: string, channels: string[]) {
    const started = Date.now();
    const port = reader!.port;
    const eventsUrl = `http://127.0.0.1:${port}${path}`;
    const page = await context.newPage();
    // What Chromium really sent: the headers of each request of the event stream.
    const requests: Record<string, string>[] = [];
    page.on("request", (request) => {
      if (request.url() === eventsUrl) request.allHeaders().then((headers) => requests.push(headers));
    });
    const publishRound = async (phase: string) => {
      for (const [i, text] of phaseTexts(phase, channels).entries()) await publish(channels[i], text);
    };
    const n = channels.length;
    try {
      await page.goto(`${pageOrigin}/page?events=${encodeURIComponent(eventsUrl)}`);
      await pageSaw(page, "subscribed", n);
      for (const phase of ["a", "b", "c"]) await publishRound(phase);
      await pageSaw(page, "message", 3 * n);

      // The relay goes away: SIGTERM ends the stream (a last retry:, then the end of the body).
      assert.equal(await reader!.stop(), 0);
      reader = undefined;
      await pageSaw(page, "error", 1);
      // Published while nothing listens on the page's port: only a resume can bring these.
      for (const phase of ["d", "e", "f"]) await publishRound(phase);
      // A new relay on the same port and the same Redis (the same seq, epoch and history).
      reader = await startNode(port);
      await pageSaw(page, "subscribed", 2 * n);
      await pageSaw(page, "message", 6 * n);
      await publishRound("g");
      await pageSaw(page, "message", 7 * n);
      await sleep(100); // a repeat would show up now
      const events = await seen(page);
      await eventually("request headers", () => requests.length >= 2);
      assert.ok(events.every((e) => e.state !== 2), "EventSource never gave up");
      assert.ok(Date.now() - started < SCENARIO_MS, `took ${Date.now() - started} ms`);
      return { events, requests };
    } finally {
      await page.close();
    }
  }

  /**
   * Per channel: a first `subscribed` (seq 0, not recovered), the three first messages, a second `subscribed`
   * (recovered, seq 6) and the six others, each once and in order. Returns each channel's epoch.
   */
  function assertResumed(events: PageEvent[], channels: string[]): string[] {
    return channels.map((channel, i) => {
      const mine = events.filter((e) => e.data?.channel === channel);
      const epoch = mine[0].data!.epoch!;
      assert.deepEqual(
        mine.map((e) => [e.type, e.data!.seq, e.data!.epoch, e.data!.recovered, e.data!.text]),
        [
          ["subscribed", 0, epoch, false, undefined],
          ...["a", "b", "c"].map((phase, k) => ["message", k + 1, undefined, undefined, `${phase}${i}`]),
          ["subscribed", 6, epoch, true, undefined],
          ...["d", "e", "f", "g"].map((phase, k) => ["message", k + 4, undefined, undefined, `${phase}${i}`]),
        ],
        `${channel}: resumed from seq 3 and recovered, every message once, in order: no gap, no repeat`,
      );
      return epoch;
    });
  }

  it("one channel: after the relay drops the stream, EventSource reconnects with Last-Event-ID and gets exactly the missed messages", async () => {
    const channel = `browser-${Date.now().toString(36)}`;
    const { events, requests } = await dropAndResume(`/channels/${channel}/events`, [channel]);
    const [epoch] = assertResumed(events, [channel]);
    // Each event's lastEventId is its own id; the reconnected stream's subscribed says where it resumed.
    assert.deepEqual(
      events.filter((e) => e.id !== undefined).map((e) => e.id),
      [0, 1, 2, 3, 3, 4, 5, 6, 7].map((seq) => `${epoch}:${seq}`),
    );
    // The order the page saw: the first stream, its end, the reconnected stream with the replay, live.
    const kinds = events.map((e) => e.type === "message" ? `m${e.data!.seq}` : e.type);
    const reconnect = kinds.indexOf("subscribed", 2);
    assert.deepEqual(kinds.slice(0, 5), ["open", "subscribed", "m1", "m2", "m3"]);
    assert.ok(kinds.slice(5, reconnect).every((k) => k === "error" || k === "open"), kinds.join(" "));
    assert.deepEqual(kinds.slice(reconnect), ["subscribed", "m4", "m5", "m6", "m7"]);
    // Chromium sent the id itself: nothing on the first request, `<epoch>:3` on the one that was answered.
    assert.equal(requests[0]["last-event-id"], undefined);
    assert.equal(requests.at(-1)!["last-event-id"], `${epoch}:3`);
  });

  it("many channels: the id-only blocks set Chromium's last event id, and one Last-Event-ID resumes every channel", async () => {
    const base = `browser-many-${Date.now().toString(36)}`;
    const channels = [`${base}-x`, `${base}-y`];
    const { events, requests } = await dropAndResume(
      `/events?channel=${channels[0]}&channel=${channels[1]}`,
      channels,
    );
    const epochs = assertResumed(events, channels);
    assert.equal(requests[0]["last-event-id"], undefined);
    assert.equal(requests.at(-1)!["last-event-id"], epochs.map((epoch) => `${epoch}:3`).join(","));
  });
});
