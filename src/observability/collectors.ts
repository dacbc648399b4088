/**
 * The relay's metrics: every value read at scrape time from what the layers already count (`Relay.counters`,
 * `ChannelRegistry.stats()`, `Broker.stats()`, the HTTP server's and the connection limiter's counts), plus
 * the process's CPU and memory and the event-loop lag. The sources are typed by shape, so this folder depends
 * on no other layer and a scrape costs a few property reads: nothing here runs per message.
 *
 * Names follow Prometheus conventions: the `edge_relay_` prefix, base units (`_seconds`, `_bytes`), `_total`
 * on counters, no per-channel labels (channels are unbounded; their sum is what an operator graphs).
 * @module
 */
import process from "node:process";
import type { EventLoopLag } from "./event_loop_lag.ts";
import { MetricsRegistry } from "./metrics.ts";
import { REJECTION_REASONS, type RejectionCounter } from "./rejections.ts";

/** What the metrics read, by shape (the real `Relay`, `HttpServer`, `ConnectionLimiter` fit). */
export interface MetricSources {
  readonly relay: {
    readonly counters: {
      readonly connections: number;
      readonly messagesIn: number;
      readonly messagesOut: number;
      readonly bytesIn: number;
      readonly bytesOut: number;
      readonly slowConsumerCloses: number;
    };
    readonly registry: {
      stats(): {
        channels: number;
        subscribers: number;
        resumesRecovered?: number;
        resumesUnrecovered?: number;
      };
    };
    readonly broker: {
      ready(): boolean;
      stats(): { channels: number; retained: number; retainedBytes: number };
    };
  };
  readonly http?: { readonly connections: number; readonly inFlight: number };
  readonly limiter?: { readonly total: number; readonly refused: number };
  /** Sessions of the relay that are server-sent event streams (the rest are WebSockets), and held long polls. */
  readonly transports?: () => { sse: number; longPoll: number };
  readonly rejections?: RejectionCounter;
  readonly lag?: EventLoopLag;
  /** True from the first stop signal. */
  readonly draining?: () => boolean;
  readonly build: { readonly version: string; readonly runtime: string };
}

/** A registry with every relay metric; render it per scrape. */
export function relayMetrics(sources: MetricSources): MetricsRegistry {
  const m = new MetricsRegistry();
  const { relay } = sources;
  const c = relay.counters;

  m.gauge("edge_relay_build_info", "Version and runtime of the relay; always 1.", () => [
    { labels: { version: sources.build.version, runtime: sources.build.runtime }, value: 1 },
  ]);
  m.gauge("edge_relay_connections", "Client connections open, by transport.", () => {
    const t = sources.transports?.() ?? { sse: 0, longPoll: 0 };
    return [
      { labels: { transport: "websocket" }, value: Math.max(0, c.connections - t.sse) },
      { labels: { transport: "sse" }, value: t.sse },
      { labels: { transport: "long_poll" }, value: t.longPoll },
    ];
  });
  if (sources.limiter !== undefined) {
    const limiter = sources.limiter;
    m.gauge(
      "edge_relay_tcp_connections",
      "TCP (and TLS) connections open, counted from accept.",
      () => limiter.total,
    );
    m.counter(
      "edge_relay_connections_refused_total",
      "Connections refused at accept by --max-connections or --max-connections-per-ip.",
      () => limiter.refused,
    );
  }
  if (sources.http !== undefined) {
    const http = sources.http;
    m.gauge(
      "edge_relay_http_connections",
      "Connections speaking HTTP (not upgraded).",
      () => http.connections,
    );
    m.gauge("edge_relay_http_requests_in_flight", "HTTP requests being answered.", () => http.inFlight);
  }
  m.counter(
    "edge_relay_messages_published_total",
    "Messages received from clients and HTTP publishes.",
    () => c.messagesIn,
  );
  m.counter("edge_relay_received_bytes_total", "Bytes of those messages.", () => c.bytesIn);
  m.counter(
    "edge_relay_messages_delivered_total",
    "Messages written to subscribers (one per subscriber per message, replays included).",
    () => c.messagesOut,
  );
  m.counter("edge_relay_sent_bytes_total", "Bytes of those messages, framing included.", () => c.bytesOut);
  m.counter(
    "edge_relay_slow_consumer_closes_total",
    "Connections closed because their send queue passed --max-queued-bytes.",
    () => c.slowConsumerCloses,
  );
  if (sources.rejections !== undefined) {
    const rejections = sources.rejections;
    m.counter(
      "edge_relay_handshake_rejections_total",
      "Upgrades and streams refused, by reason.",
      () => REJECTION_REASONS.map((reason) => ({ labels: { reason }, value: rejections.get(reason) })),
    );
  }
  m.counter("edge_relay_resumes_total", "Subscriptions resumed with since, by outcome.", () => {
    const s = relay.registry.stats();
    return [
      { labels: { recovered: "true" }, value: s.resumesRecovered ?? 0 },
      { labels: { recovered: "false" }, value: s.resumesUnrecovered ?? 0 },
    ];
  });
  m.gauge("edge_relay_channels", "Channels with local subscribers.", () => relay.registry.stats().channels);
  m.gauge(
    "edge_relay_subscriptions",
    "Local subscriptions, summed over channels.",
    () => relay.registry.stats().subscribers,
  );
  m.gauge(
    "edge_relay_broker_up",
    "1 while the broker can store messages, else 0.",
    () => relay.broker.ready() ? 1 : 0,
  );
  m.gauge(
    "edge_relay_broker_channels",
    "Channels the broker holds state for.",
    () => relay.broker.stats().channels,
  );
  m.gauge("edge_relay_history_messages", "Messages kept in history.", () => relay.broker.stats().retained);
  m.gauge(
    "edge_relay_history_bytes",
    "Bytes of history charged against --max-history-bytes (0 when history lives in Redis).",
    () => relay.broker.stats().retainedBytes,
  );
  if (sources.draining !== undefined) {
    const draining = sources.draining;
    m.gauge("edge_relay_draining", "1 once the relay is shutting down.", () => draining() ? 1 : 0);
  }
  if (sources.lag !== undefined) {
    m.histogram("edge_relay_event_loop_lag_seconds", "How late a 100 ms timer fires.", sources.lag.histogram);
  }
  addProcessMetrics(m);
  return m;
}

/** The standard `process_*` metrics (Prometheus client conventions), from `node:process` on both runtimes. */
function addProcessMetrics(m: MetricsRegistry): void {
  const startSeconds = Date.now() / 1000 - process.uptime();
  m.counter(
    "process_cpu_user_seconds_total",
    "User CPU time spent, in seconds.",
    () => process.cpuUsage().user / 1e6,
  );
  m.counter(
    "process_cpu_system_seconds_total",
    "System CPU time spent, in seconds.",
    () => process.cpuUsage().system / 1e6,
  );
  m.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  });
  m.gauge(
    "process_resident_memory_bytes",
    "Resident memory size, in bytes.",
    () => process.memoryUsage().rss,
  );
  m.gauge(
    "process_heap_used_bytes",
    "JavaScript heap in use, in bytes.",
    () => process.memoryUsage().heapUsed,
  );
  m.gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch, in seconds.",
    () => startSeconds,
  );
}
