/**
 * A small Prometheus text exporter (exposition format 0.0.4): counters and gauges read from a callback at
 * scrape time, and histograms. Hand-written because `prom-client`'s default output fails `promtool check
 * metrics` and because every value here is read from counters the layers already keep: nothing is added to
 * the delivery path, the cost is paid when Prometheus scrapes.
 * @module
 */

/** The content type of {@link MetricsRegistry.render}'s text. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Metric types of the text format that this exporter writes. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One value of a metric; `labels` tell the series of one family apart. */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A value read at scrape time: one number (no labels) or one sample per label set. */
export type Read = () => number | readonly Sample[];

/** Prometheus metric and label names (data model: `[a-zA-Z_:][a-zA-Z0-9_:]*`, labels without `:`). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  render(lines: string[]): void;
}

/**
 * Buckets of a distribution: counts per upper bound (`le`), their sum and count. `observe` is a loop over a
 * dozen bounds: meant for samples taken off the delivery path (the event-loop lag probe).
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /** @param bounds upper bounds in the metric's base unit, ascending; `+Inf` is implied. */
  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) throw new RangeError("histogram bounds must ascend");
    }
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) this.#counts[i]++;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per bound (each includes the ones below), as the text format wants them. */
  cumulative(): readonly number[] {
    return this.#counts;
  }
}

/**
 * The families of one exposition, rendered in registration order.
 * @example
 * ```ts
 * const metrics = new MetricsRegistry();
 * metrics.counter("edge_relay_messages_published_total", "Messages published.", () => relay.counters.messagesIn);
 * metrics.gauge("edge_relay_connections", "Client connections open.", () => [
 *   { labels: { transport: "websocket" }, value: ws }, { labels: { transport: "sse" }, value: sse },
 * ]);
 * const text = metrics.render();
 * ```
 */
export class MetricsRegistry {
  readonly #families: Family[] = [];
  readonly #names = new Set<string>();

  /** A counter: a value that only grows while the process lives. Its name must end in `_total`. */
  counter(name: string, help: string, read: Read): void {
    if (!name.endsWith("_total")) throw new RangeError(`counter ${name} must end in _total`);
    this.#add(name, help, "counter", read);
  }

  /** A gauge: a value that goes up and down. */
  gauge(name: string, help: string, read: Read): void {
    this.#add(name, help, "gauge", read);
  }

  /** A histogram kept by the caller. */
  histogram(name: string, help: string, histogram: Histogram): void {
    this.#register(name, help, "histogram", (lines) => {
      const counts = histogram.cumulative();
      for (let i = 0; i < histogram.bounds.length; i++) {
        lines.push(`${name}_bucket{le="${formatValue(histogram.bounds[i])}"} ${counts[i]}`);
      }
      lines.push(`${name}_bucket{le="+Inf"} ${histogram.count}`);
      lines.push(`${name}_sum ${formatValue(histogram.sum)}`);
      lines.push(`${name}_count ${histogram.count}`);
    });
  }

  /** The exposition: `# HELP`, `# TYPE` and the samples of every family, ending with a line break. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) {
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      family.render(lines);
    }
    return lines.join("\n") + "\n";
  }

  #add(name: string, help: string, type: MetricType, read: Read): void {
    this.#register(name, help, type, (lines) => {
      const value = read();
      if (typeof value === "number") {
        lines.push(`${name} ${formatValue(value)}`);
        return;
      }
      for (const sample of value) {
        lines.push(`${name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
      }
    });
  }

  #register(name: string, help: string, type: MetricType, render: (lines: string[]) => void): void {
    if (!METRIC_NAME.test(name)) throw new RangeError(`invalid metric name ${name}`);
    if (this.#names.has(name)) throw new RangeError(`metric ${name} registered twice`);
    this.#names.add(name);
    this.#families.push({ name, help, type, render });
  }
}

/** `{a="x",b="y"}` with the text format's escapes; nothing without labels. */
function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return "";
  const parts: string[] = [];
  for (const key in labels) {
    if (!LABEL_NAME.test(key) || key.startsWith("__")) throw new RangeError(`invalid label name ${key}`);
    parts.push(`${key}="${labels[key].replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Numbers as the text format spells them (`+Inf`, `-Inf`, `NaN`, else JavaScript's shortest form). */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
