/**
 * What an operator sees of the relay: the logger every layer is handed, the Prometheus exporter and the
 * relay's metrics read at scrape time, the event-loop lag probe and the count of refused handshakes.
 * @module
 */
export {
  createLogger,
  isLogLevel,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFields,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  type LogWrite,
  REDACTED_FIELDS,
  SILENT_LOGGER,
} from "./log.ts";
export {
  formatValue,
  Histogram,
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
  type Read,
  type Sample,
} from "./metrics.ts";
export { EventLoopLag, LAG_BUCKETS_SECONDS, LAG_PROBE_INTERVAL_MS } from "./event_loop_lag.ts";
export { REJECTION_REASONS, RejectionCounter, type RejectionReason } from "./rejections.ts";
export { type MetricSources, relayMetrics } from "./collectors.ts";
