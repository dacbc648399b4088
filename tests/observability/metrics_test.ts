import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Histogram, MetricsRegistry } from "../../src/observability/mod.ts";
import { promtoolCheck } from "./promtool.ts";

describe("MetricsRegistry", () => {
  it("renders HELP, TYPE and samples read at render time", () => {
    const m = new MetricsRegistry();
    let n = 1;
    m.counter("x_events_total", "Events.", () => n);
    m.gauge("x_open", "Open things, by kind.", () => [
      { labels: { kind: "a" }, value: 2 },
      { labels: { kind: 'q"u\\o\nte' }, value: 0.5 },
    ]);
    n = 7;
    assert.equal(
      m.render(),
      [
        "# HELP x_events_total Events.",
        "# TYPE x_events_total counter",
        "x_events_total 7",
        "# HELP x_open Open things, by kind.",
        "# TYPE x_open gauge",
        'x_open{kind="a"} 2',
        'x_open{kind="q\\"u\\\\o\\nte"} 0.5',
        "",
      ].join("\n"),
    );
  });

  it("renders a histogram with cumulative buckets, +Inf, sum and count", () => {
    const h = new Histogram([0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    h.observe(3);
    const m = new MetricsRegistry();
    m.histogram("x_lag_seconds", "Lag.", h);
    assert.match(
      m.render(),
      /x_lag_seconds_bucket\{le="0.1"\} 1\nx_lag_seconds_bucket\{le="1"\} 2\nx_lag_seconds_bucket\{le="\+Inf"\} 3\nx_lag_seconds_sum 3.55\nx_lag_seconds_count 3\n/,
    );
  });

  it("refuses a counter without _total, a bad name and a name registered twice", () => {
    const m = new MetricsRegistry();
    assert.throws(() => m.counter("x_events", "h", () => 0), RangeError);
    assert.throws(() => m.gauge("x-bad", "h", () => 0), RangeError);
    m.gauge("x_ok", "h", () => 0);
    assert.throws(() => m.gauge("x_ok", "h", () => 0), RangeError);
  });

  it("passes promtool check metrics (when promtool is installed)", () => {
    const h = new Histogram([0.001, 0.01]);
    h.observe(0.002);
    const m = new MetricsRegistry();
    m.counter("x_events_total", "Events seen.", () => 3);
    m.gauge("x_open_connections", "Open connections.", () => [{ labels: { transport: "sse" }, value: 1 }]);
    m.histogram("x_lag_seconds", "Lag in seconds.", h);
    const complaints = promtoolCheck(m.render());
    if (complaints !== null) assert.equal(complaints, "");
  });
});
