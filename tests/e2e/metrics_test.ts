/**
 * `--internal-port` (issue 14, item 1), black-box on the relay's runtime (`RELAY_RUNTIME=bun` for Bun): the
 * operators' listener prints its line and serves `/metrics` that passes `promtool check metrics` and moves
 * with traffic; the public port serves no `/metrics`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type RelayProcess, startRelay } from "../support/relay_process.ts";
import { RawWebSocket } from "../support/raw_ws.ts";
import { TestSocket } from "../support/ws_client.ts";
import { promtoolCheck } from "../observability/promtool.ts";

const INTERNAL_RE = /edge-relay internal listening on (http:\/\/127\.0\.0\.1:\d+)\n/;

/** The value of one series (`name` or `name{labels}`) in an exposition. */
function value(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  throw new Error(`no series ${series} in:\n${text}`);
}

describe("metrics on the internal listener", () => {
  let relay: RelayProcess;
  let internal: string;
  const scrape = async () => {
    const response = await fetch(`${internal}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return await response.text();
  };

  before(async () => {
    relay = await startRelay(["--internal-port", "0"]);
    const m = INTERNAL_RE.exec(relay.output());
    assert.ok(m, `no internal listening line in:\n${relay.output()}`);
    internal = m[1];
  });
  after(async () => {
    await relay?.stop();
  });

  it("serves /healthz and /readyz there, and no /metrics on the public port", async () => {
    assert.equal((await fetch(`${internal}/healthz`)).status, 200);
    assert.equal((await fetch(`${internal}/readyz`)).status, 200);
    const pub = await fetch(`${relay.url}/metrics`);
    await pub.body?.cancel();
    assert.equal(pub.status, 404);
  });

  it("passes promtool check metrics, with the contract's names", async () => {
    const text = await scrape();
    const complaints = promtoolCheck(text);
    if (complaints !== null) assert.equal(complaints, "", text);
    for (
      const name of [
        'edge_relay_connections{transport="websocket"}',
        "edge_relay_messages_published_total",
        "edge_relay_messages_delivered_total",
        "edge_relay_slow_consumer_closes_total",
        'edge_relay_handshake_rejections_total{reason="origin"}',
        'edge_relay_resumes_total{recovered="true"}',
        "edge_relay_broker_up",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "edge_relay_event_loop_lag_seconds_count",
      ]
    ) value(text, name);
  });

  it("moves with traffic: connections, publishes, deliveries, resumes and refused origins", async () => {
    const before = await scrape();
    const socket = await TestSocket.open(`${relay.wsUrl}/ws`, "relay.v1");
    socket.sendJson({ type: "subscribe", channel: "m", since: 0 });
    assert.equal((await socket.nextJson()).type, "subscribed");
    const published = await fetch(`${relay.url}/channels/m/messages`, { method: "POST", body: "hi" });
    assert.equal(published.status, 200);
    await published.body?.cancel();
    assert.equal((await socket.nextJson()).type, "message");
    const refused = await RawWebSocket.connect(relay.port, "/ws/m", { origin: "https://evil.example" });
    assert.equal(refused.status, 403);
    refused.destroy();
    const during = await scrape();
    assert.equal(value(during, 'edge_relay_connections{transport="websocket"}'), 1);
    assert.equal(
      value(during, "edge_relay_messages_published_total") -
        value(before, "edge_relay_messages_published_total"),
      1,
    );
    assert.ok(
      value(during, "edge_relay_messages_delivered_total") >
        value(before, "edge_relay_messages_delivered_total"),
    );
    assert.equal(
      value(during, 'edge_relay_handshake_rejections_total{reason="origin"}') -
        value(before, 'edge_relay_handshake_rejections_total{reason="origin"}'),
      1,
    );
    assert.equal(
      value(during, 'edge_relay_resumes_total{recovered="true"}') -
        value(before, 'edge_relay_resumes_total{recovered="true"}'),
      1,
    );
    socket.close();
    await socket.closed;
  });
});
