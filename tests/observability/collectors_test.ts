import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBroker } from "../../src/pubsub/mod.ts";
import { Relay } from "../../src/relay/mod.ts";
import { EventLoopLag, RejectionCounter, relayMetrics } from "../../src/observability/mod.ts";
import { promtoolCheck } from "./promtool.ts";

/** The value of one series of an exposition (`name` or `name{labels}`), or undefined. */
function value(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe("relayMetrics", () => {
  it("reads the relay's counters at scrape time, names them per the contract, and passes promtool", () => {
    const relay = new Relay(new MemoryBroker(), { maxQueuedBytes: 1 << 20, maxChannelsPerConnection: 8 });
    const rejections = new RejectionCounter();
    const lag = new EventLoopLag();
    try {
      const metrics = relayMetrics({
        relay,
        http: { connections: 3, inFlight: 1 },
        limiter: { total: 4, refused: 2 },
        transports: () => ({ sse: 0, longPoll: 1 }),
        rejections,
        lag,
        draining: () => false,
        build: { version: "0.0.0-test", runtime: "deno" },
      });
      relay.publish("c", "hello");
      rejections.count("origin");
      const text = metrics.render();
      assert.equal(value(text, "edge_relay_messages_published_total"), 1);
      assert.equal(value(text, "edge_relay_received_bytes_total"), 5);
      assert.equal(value(text, 'edge_relay_handshake_rejections_total{reason="origin"}'), 1);
      assert.equal(value(text, 'edge_relay_handshake_rejections_total{reason="auth"}'), 0);
      assert.equal(value(text, 'edge_relay_connections{transport="long_poll"}'), 1);
      assert.equal(value(text, 'edge_relay_resumes_total{recovered="true"}'), 0);
      assert.equal(value(text, "edge_relay_broker_up"), 1);
      assert.equal(value(text, "edge_relay_history_messages"), 1);
      assert.equal(value(text, "edge_relay_tcp_connections"), 4);
      assert.equal(value(text, "edge_relay_connections_refused_total"), 2);
      assert.ok(value(text, "process_resident_memory_bytes")! > 0);
      assert.ok(value(text, "process_cpu_seconds_total")! > 0);
      assert.ok(text.includes("edge_relay_event_loop_lag_seconds_bucket"));
      assert.ok(!text.includes('channel="'), "no per-channel label");
      const complaints = promtoolCheck(text);
      if (complaints !== null) assert.equal(complaints, "");
    } finally {
      lag.stop();
    }
  });
});
